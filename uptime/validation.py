"""Validating a monitor's values before services store them: the options every kind has here, then
the kind's own (`clean` of its module in uptime/checks/), and in SaaS mode the outbound guard on
the addresses the check will connect to."""

import socket

from ilert import netguard
from ilert.errors import DomainError

from .checks import KINDS
from .models import CheckType

MIN_INTERVAL, MAX_INTERVAL = 30, 24 * 3600
MAX_TIMEOUT = 30
MAX_RETRIES = 10


def clean(values):
    """Normalize and check a full set of monitor values (a new monitor, or one merged with edits)."""
    name = (values.get("name") or "").strip()
    if not name:
        raise DomainError("A name is required.", field="name")
    values["name"] = name[:120]
    kind = values.get("check_type")
    if kind not in CheckType.values:
        raise DomainError(f"Must be one of {', '.join(CheckType.values)}.", field="check_type")
    _clean_timing(values)
    values["target"] = (values.get("target") or "").strip()
    if not values["target"]:
        raise DomainError("A target is required.", field="target")
    port = values.get("port")
    if port is not None and not 1 <= port <= 65535:
        raise DomainError("Between 1 and 65535.", field="port")
    KINDS[kind].clean(values)
    return values


def _clean_timing(values):
    interval = values.get("interval_seconds")
    if not isinstance(interval, int) or not MIN_INTERVAL <= interval <= MAX_INTERVAL:
        raise DomainError("Between 30 seconds and 1 day (86400 seconds).", field="interval_seconds")
    timeout = values.get("timeout_seconds")
    if not isinstance(timeout, int) or not 1 <= timeout <= min(MAX_TIMEOUT, interval // 2):
        raise DomainError(f"Between 1 and {min(MAX_TIMEOUT, interval // 2)} seconds (at most half the interval).",
                          field="timeout_seconds")
    retries = values.get("retries")
    if not isinstance(retries, int) or not 0 <= retries <= MAX_RETRIES:
        raise DomainError(f"Between 0 and {MAX_RETRIES}.", field="retries")


def guard(values):
    """SaaS mode: refuse targets that are (or resolve to) private, loopback, link-local or metadata
    addresses. A name that does not resolve (yet) is accepted: its checks say so."""
    for host, port, field in KINDS[values["check_type"]].guarded(values):
        _guard_host(host, port, field)


def _guard_host(host, port, field):
    try:
        socket.getaddrinfo(host, port or None, proto=socket.IPPROTO_TCP)
    except (OSError, UnicodeError):
        return  # unresolvable now: every check runs the guard again on what it resolves to
    try:
        netguard.resolve_checked(host, port)
    except netguard.BlockedTarget as exc:
        raise DomainError(str(exc), field=field)
