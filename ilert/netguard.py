"""Outbound request guard (SSRF): connectors and uptime checks must not reach loopback,
link-local, private or cloud-metadata addresses unless the deployment allows it
(ALLOW_PRIVATE_TARGETS=true, for self-hosters monitoring their own network). Cloud metadata
addresses are refused even then.

The check runs on the addresses the name resolves to, not on the name, so a public name that
resolves to 10.x is refused too. `resolve_checked` returns the vetted addresses: connect to one of
them (not to the name again) where the client allows it, so a second DNS answer cannot differ.
"""

import ipaddress
import socket
from urllib.parse import urlsplit

from django.conf import settings
from requests.adapters import HTTPAdapter
from urllib3 import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.exceptions import ConnectTimeoutError, NewConnectionError
from urllib3.util import connection as urllib3_connection

# Metadata endpoints that are not covered by the private/link-local ranges on some clouds.
_METADATA = {ipaddress.ip_address("169.254.169.254"), ipaddress.ip_address("fd00:ec2::254"),
             ipaddress.ip_address("100.100.100.200")}


class BlockedTarget(ValueError):
    """The target is not allowed (private, loopback, link-local, metadata, or unresolvable)."""


def _is_metadata(address):
    ip = ipaddress.ip_address(address)
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    return ip in _METADATA


def _allowed(address):
    ip = ipaddress.ip_address(address)
    if ip in _METADATA:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    return not (ip.is_private or ip.is_loopback or ip.is_link_local or ip.is_multicast or ip.is_reserved
                or ip.is_unspecified or (ip.version == 4 and ip in ipaddress.ip_network("100.64.0.0/10")))


def private_targets_allowed():
    return bool(getattr(settings, "ALLOW_PRIVATE_TARGETS", False))


def resolve_checked(host, port=443):
    """The addresses `host` resolves to, all of them allowed; BlockedTarget otherwise."""
    if not host:
        raise BlockedTarget("No host given.")
    host = host.strip("[]")
    try:
        infos = socket.getaddrinfo(host, port, proto=socket.IPPROTO_TCP)
    except (socket.gaierror, UnicodeError) as exc:
        raise BlockedTarget(f"Cannot resolve {host}: {exc}") from None
    addresses = sorted({info[4][0] for info in infos})
    metadata = [a for a in addresses if _is_metadata(a)]
    if metadata:  # never, not even with ALLOW_PRIVATE_TARGETS: it hands out cloud credentials
        raise BlockedTarget(f"{host} resolves to a cloud metadata address ({', '.join(metadata)}): refused.")
    if not private_targets_allowed():
        refused = [a for a in addresses if not _allowed(a)]
        if refused:
            raise BlockedTarget(
                f"{host} resolves to {', '.join(refused)}: private, loopback, link-local and metadata "
                "addresses are refused (set ALLOW_PRIVATE_TARGETS=true on a self-hosted deployment)."
            )
    return addresses


def check_url(url):
    """Refuse a URL whose scheme is not http(s) or whose host resolves to a refused address."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise BlockedTarget("Only http:// and https:// URLs are allowed.")
    if parts.username or parts.password:
        raise BlockedTarget("Credentials in URLs are not allowed; use the connector's credential fields.")
    port = parts.port or (443 if parts.scheme == "https" else 80)
    return resolve_checked(parts.hostname, port)


# --- a requests adapter that connects only to vetted addresses (connectors, web push) ---------------


class _Guarded:
    """Resolve, vet and connect to the vetted address (urllib3 2.x connection hook)."""

    def _new_conn(self):
        addresses = resolve_checked(self._dns_host, self.port)
        last_error = None
        for address in addresses:
            try:
                return urllib3_connection.create_connection(
                    (address, self.port), self.timeout, source_address=self.source_address,
                    socket_options=self.socket_options,
                )
            except TimeoutError as exc:
                raise ConnectTimeoutError(self, f"Connection to {self.host} timed out.") from exc
            except OSError as exc:
                last_error = exc
        raise NewConnectionError(self, f"Failed to establish a new connection: {last_error}")


class GuardedHTTPConnection(_Guarded, HTTPConnection):
    pass


class GuardedHTTPSConnection(_Guarded, HTTPSConnection):
    pass


class GuardedHTTPConnectionPool(HTTPConnectionPool):
    ConnectionCls = GuardedHTTPConnection


class GuardedHTTPSConnectionPool(HTTPSConnectionPool):
    ConnectionCls = GuardedHTTPSConnection


class GuardedAdapter(HTTPAdapter):
    def __init__(self):
        super().__init__(max_retries=0)

    def init_poolmanager(self, *args, **kwargs):
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {"http": GuardedHTTPConnectionPool,
                                                   "https": GuardedHTTPSConnectionPool}

    def proxy_manager_for(self, proxy, **proxy_kwargs):
        raise BlockedTarget("Proxies are not used for requests to checked targets.")
