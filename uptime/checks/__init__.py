"""The check kinds, one module per kind, registered in KINDS by their `CheckType` value. A kind's
module holds everything about it:

- `OPTIONS`: the monitor fields the kind uses besides the common ones (the form shows them for it).
- `clean(values)`: validate and normalize the kind's options in a monitor's values (in place;
  DomainError names the field). The options every kind has (name, interval, timeout, retries,
  target, port) are checked before, in uptime/validation.py.
- `guarded(values)`: the (host, port, field) the check will connect to, for the outbound guard
  when a monitor is saved (each check runs the guard again on what it resolves).
- `async def check(spec) -> Result`: network I/O only (no ORM); the engine runs checks
  concurrently on an event loop.

docs/recipes/add-an-uptime-check.md says how to add one."""

from . import dnscheck, httpcheck, ping, tcp, tls
from .base import DOWN, UNAVAILABLE, UP, CheckSpec, Result

KINDS = {"http": httpcheck, "tcp": tcp, "ping": ping, "tls": tls, "dns": dnscheck}

__all__ = ["DOWN", "KINDS", "UNAVAILABLE", "UP", "CheckSpec", "Result", "run"]


async def run(spec: CheckSpec) -> Result:
    return await KINDS[spec.check_type].check(spec)
