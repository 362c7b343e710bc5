"""DNS: the name resolves (optionally to an expected value), through the system resolver or a
given nameserver (itself subject to the outbound guard)."""

import ipaddress
import time

import dns.asyncresolver
import dns.exception
import dns.resolver

from ilert.errors import DomainError
from ilert.netguard import BlockedTarget

from ..models import DnsRecordType
from . import options
from .base import down, refused, resolve, seconds, up


def parse_server(value):
    """"1.2.3.4", "1.2.3.4:5353", "[::1]:53" → (host, port)."""
    value = value.strip()
    if value.startswith("["):
        host, _, rest = value[1:].partition("]")
        return host, int(rest[1:]) if rest.startswith(":") else 53
    if value.count(":") == 1:
        host, port = value.split(":")
        return host, int(port)
    return value, 53


# The monitor fields this kind uses besides the common ones (the dashboard form shows them for it).
OPTIONS = ("dns_record_type", "dns_expected", "dns_server")


def clean(values):
    """The name to resolve, the record type and an optional nameserver (an IP address[:port])."""
    values["target"] = options.host(values["target"])
    options.one_of(values, "dns_record_type", DnsRecordType.values)
    server = (values.get("dns_server") or "").strip()
    if server:
        try:
            host, port = parse_server(server)
            ipaddress.ip_address(host)
            if not 1 <= port <= 65535:
                raise ValueError
        except ValueError:
            raise DomainError("An IP address, optionally with a port (9.9.9.9 or 9.9.9.9:53).", field="dns_server")
    values["dns_server"] = server


def guarded(values):
    """Only the nameserver is connected to (the system resolver is the operator's)."""
    if not values.get("dns_server"):
        return []
    host, port = parse_server(values["dns_server"])
    return [(host, port, "dns_server")]


def normalize(value):
    value = value.strip().strip('"').rstrip(".").lower()
    return value


async def check(spec):
    name, kind = spec.target, spec.dns_record_type
    resolver = dns.asyncresolver.Resolver(configure=not spec.dns_server)
    if spec.dns_server:
        host, port = parse_server(spec.dns_server)
        try:
            address = await resolve(host, port)
        except BlockedTarget as exc:
            return refused(exc)
        resolver.nameservers = [address]
        resolver.port = port
    resolver.lifetime = spec.timeout
    resolver.timeout = spec.timeout
    started = time.perf_counter()
    try:
        answer = await resolver.resolve(name, kind, search=False)
    except dns.resolver.NXDOMAIN:
        return down(f"{name} does not exist (NXDOMAIN)")
    except dns.resolver.NoAnswer:
        return down(f"{name} has no {kind} record")
    except dns.resolver.LifetimeTimeout:
        return down(f"No DNS answer for {name} within {seconds(spec.timeout)}")
    except dns.resolver.NoNameservers as exc:
        return down(f"No nameserver answered for {name}: {exc}")
    except dns.exception.DNSException as exc:
        return down(f"DNS lookup of {name} failed: {exc}")
    elapsed = round((time.perf_counter() - started) * 1000)
    values = [normalize(record.to_text()) for record in answer]
    shown = ", ".join(values[:5]) + ("…" if len(values) > 5 else "")
    if spec.dns_expected:
        expected = normalize(spec.dns_expected)
        # MX answers are "10 mail.example.com": the host alone matches too.
        if not any(v == expected or v.split(" ")[-1] == expected for v in values):
            return down(f"{kind} {name} resolves to {shown}, not {spec.dns_expected}", elapsed)
    return up(f"{kind} {name} → {shown}", elapsed)
