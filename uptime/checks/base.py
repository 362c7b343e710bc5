"""What every check gets (a CheckSpec, a snapshot of the monitor) and gives back (a Result), and
the helpers they share: the SSRF guard on resolved addresses and the TLS contexts."""

import asyncio
import errno
import os
import ssl
from dataclasses import dataclass, field
from functools import lru_cache

from django.conf import settings

from ilert import netguard

UP, DOWN, UNAVAILABLE = "up", "down", "unavailable"


@dataclass(frozen=True)
class CheckSpec:
    """Everything a check needs, copied from the monitor so checks never touch the ORM."""

    check_type: str
    target: str
    timeout: float
    port: int | None = None
    http_method: str = "GET"
    http_headers: dict = field(default_factory=dict)
    http_body: str = ""
    expected_status: str = "200-299"
    follow_redirects: bool = True
    keyword: str = ""
    keyword_mode: str = "present"
    max_response_ms: int | None = None
    verify_tls: bool = True
    tls_expiry_days: int = 14
    dns_record_type: str = "A"
    dns_expected: str = ""
    dns_server: str = ""

    @classmethod
    def of(cls, monitor):
        return cls(
            check_type=monitor.check_type, target=monitor.target, timeout=float(monitor.timeout_seconds),
            port=monitor.port, http_method=monitor.http_method, http_headers=dict(monitor.http_headers or {}),
            http_body=monitor.http_body, expected_status=monitor.expected_status,
            follow_redirects=monitor.follow_redirects, keyword=monitor.keyword, keyword_mode=monitor.keyword_mode,
            max_response_ms=monitor.max_response_ms, verify_tls=monitor.verify_tls,
            tls_expiry_days=monitor.tls_expiry_days, dns_record_type=monitor.dns_record_type,
            dns_expected=monitor.dns_expected, dns_server=monitor.dns_server,
        )


@dataclass
class Result:
    outcome: str
    message: str
    response_ms: int | None = None
    status_code: int | None = None


def up(message, response_ms=None, status_code=None):
    return Result(UP, message, response_ms, status_code)


def down(message, response_ms=None, status_code=None):
    return Result(DOWN, message, response_ms, status_code)


def unavailable(message):
    return Result(UNAVAILABLE, message)


async def resolve(host, port):
    """The vetted address to connect to (IPv4 preferred): netguard runs on what the name resolves
    to, and the check connects to that address, never to the name again."""
    addresses = await asyncio.get_running_loop().run_in_executor(None, netguard.resolve_checked, host, port)
    return next((a for a in addresses if ":" not in a), addresses[0])


def refused(exc):
    return down(f"Refused: {exc}")


def os_error_text(exc):
    """'connection refused' rather than '[Errno 111] Connect call failed ('127.0.0.1', 9)'."""
    while exc is not None:
        if isinstance(exc, ssl.SSLCertVerificationError):
            return f"certificate not valid: {exc.verify_message or exc.reason}"
        if isinstance(exc, ssl.SSLError):
            return f"TLS error: {exc.reason or exc}"
        number = getattr(exc, "errno", None)
        if isinstance(number, int) and number in errno.errorcode:
            return os.strerror(number).lower()
        exc = exc.__cause__ or exc.__context__
    return None


@lru_cache(maxsize=4)
def _verifying_context(extra_ca_file):
    context = ssl.create_default_context()
    try:
        import certifi  # optional: without it the system's CA store alone is used

        context.load_verify_locations(certifi.where())
    except ImportError:  # pragma: no cover - certifi comes with httpx
        pass
    if extra_ca_file:
        context.load_verify_locations(extra_ca_file)
    return context


@lru_cache(maxsize=1)
def _lenient_context():
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


def tls_context(verify=True):
    """Shared TLS contexts (creating one costs milliseconds): the system and certifi roots plus
    UPTIME_CA_BUNDLE (a self-hosted deployment's internal CA), or one that verifies nothing."""
    if not verify:
        return _lenient_context()
    return _verifying_context(getattr(settings, "UPTIME_CA_BUNDLE", None) or None)


def seconds(value):
    return f"{value:g} s"
