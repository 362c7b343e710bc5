"""TLS certificate: the chain is valid for the host name (unless verification is off) and the
certificate does not expire within `tls_expiry_days`."""

import asyncio
import math
import ssl
import time
from urllib.parse import urlsplit

from cryptography import x509

from ilert import clock
from ilert.errors import DomainError
from ilert.netguard import BlockedTarget

from . import options
from .base import down, os_error_text, refused, resolve, seconds, tls_context, up

# The monitor fields this kind uses besides the common ones (the dashboard form shows them for it).
OPTIONS = ("port", "verify_tls", "tls_expiry_days")


def clean(values):
    """A host name or IP address (a pasted URL gives its host and port), the port (443 unless
    given) and how many days before expiry the check fails."""
    target, port = values["target"], values.get("port")
    if "://" in target:  # people paste URLs: take the host and port
        parts = urlsplit(target)
        target, port = parts.hostname or "", port or parts.port
    values["target"] = options.host(target)
    days = values.get("tls_expiry_days")
    if not isinstance(days, int) or not 1 <= days <= 365:
        raise DomainError("Between 1 and 365 days.", field="tls_expiry_days")
    values["port"] = port or 443


def guarded(values):
    return [(values["target"], values["port"], "target")]


async def check(spec):
    port = spec.port or 443
    host = spec.target
    where = host if port == 443 else f"{host}:{port}"
    try:
        address = await resolve(host, port)
    except BlockedTarget as exc:
        return refused(exc)
    started = time.perf_counter()
    try:
        _reader, writer = await asyncio.wait_for(
            asyncio.open_connection(address, port, ssl=tls_context(spec.verify_tls), server_hostname=host),
            spec.timeout,
        )
    except TimeoutError:
        return down(f"No TLS handshake with {where} within {seconds(spec.timeout)}")
    except ssl.SSLCertVerificationError as exc:
        return down(f"Certificate of {where} is not valid: {exc.verify_message or exc.reason}")
    except (ssl.SSLError, OSError) as exc:
        return down(f"No TLS connection to {where}: {os_error_text(exc) or exc}")
    elapsed = round((time.perf_counter() - started) * 1000)
    try:
        der = writer.get_extra_info("ssl_object").getpeercert(binary_form=True)
    finally:
        writer.close()
    if not der:
        return down(f"{where} sent no certificate", elapsed)
    certificate = x509.load_der_x509_certificate(der)
    expires = certificate.not_valid_after_utc
    left = (expires - clock.now()).total_seconds() / 86400
    date = f"{expires:%Y-%m-%d %H:%M} UTC"
    if left < 0:
        ago = math.floor(-left)
        return down(f"Certificate of {where} expired {_days(ago)} ago ({date})", elapsed)
    if left < spec.tls_expiry_days:
        return down(f"Certificate of {where} expires in {_days(math.floor(left))} ({date})", elapsed)
    return up(f"Certificate of {where} is valid until {date} ({_days(math.floor(left))} left)", elapsed)


def _days(n):
    return "less than a day" if n < 1 else f"{n} day{'s' if n != 1 else ''}"
