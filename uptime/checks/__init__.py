"""The checks, one module per type. Each is `async def check(spec) -> Result` and does network I/O
only (no ORM): the engine runs them concurrently on an event loop."""

from . import dnscheck, httpcheck, ping, tcp, tls
from .base import DOWN, UNAVAILABLE, UP, CheckSpec, Result

CHECKS = {"http": httpcheck.check, "tcp": tcp.check, "ping": ping.check, "tls": tls.check, "dns": dnscheck.check}

__all__ = ["CHECKS", "DOWN", "UNAVAILABLE", "UP", "CheckSpec", "Result", "run"]


async def run(spec: CheckSpec) -> Result:
    return await CHECKS[spec.check_type](spec)
