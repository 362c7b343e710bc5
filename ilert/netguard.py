"""Outbound request guard (SSRF): connectors and uptime checks must not reach loopback,
link-local, private or cloud-metadata addresses unless the deployment allows it
(ALLOW_PRIVATE_TARGETS=true, for self-hosters monitoring their own network). Cloud metadata
addresses are refused even then.

The check runs on the addresses the name resolves to, not on the name, so a public name that
resolves to 10.x is refused too. `resolve_checked` returns the vetted addresses; the clients below
connect to one of them, never to the name again, so a second DNS answer cannot differ.

Our own outbound HTTP goes through httpx with `client()` (sync) or `async_client()` (the uptime
check): a transport over an httpcore connection pool whose network backend resolves and vets the
name when it opens a socket, then connects to a vetted address; TLS still verifies the name (SNI
and certificate), since httpcore starts TLS with the URL's host after the TCP connect. Only public
httpx and httpcore interfaces are used. No proxies, no retries, no redirects followed.

Web Push reaches this client too: pywebpush sends through a requests session whose adapter hands
the request to `client()` (notifications/channels/webpush.py).
"""

import ipaddress
import socket
from contextlib import contextmanager
from urllib.parse import urlsplit

import anyio.to_thread
import httpcore
import httpx
from django.conf import settings

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


# --- httpx: a network backend that connects only to vetted addresses --------------------------


def _ipv4_first(addresses):
    return [a for a in addresses if ":" not in a] + [a for a in addresses if ":" in a]


class GuardedBackend(httpcore.NetworkBackend):
    """Resolve and vet the name at connect time, then open the socket to a vetted address."""

    def __init__(self):
        self._real = httpcore.SyncBackend()

    def connect_tcp(self, host, port, timeout=None, local_address=None, socket_options=None):
        last_error = None
        for address in _ipv4_first(resolve_checked(host, port)):
            try:
                return self._real.connect_tcp(address, port, timeout, local_address, socket_options)
            except httpcore.ConnectTimeout:
                raise
            except httpcore.ConnectError as exc:
                last_error = exc
        raise last_error

    def connect_unix_socket(self, path, timeout=None, socket_options=None):
        raise BlockedTarget("Unix sockets are not used for requests to checked targets.")

    def sleep(self, seconds):
        self._real.sleep(seconds)


class AsyncGuardedBackend(httpcore.AsyncNetworkBackend):
    """The same for async clients. The name is resolved in a worker thread that a cancelled task
    abandons, so a check cancelled at its timeout does not wait for a slow DNS answer."""

    def __init__(self):
        self._real = httpcore.AnyIOBackend()

    async def connect_tcp(self, host, port, timeout=None, local_address=None, socket_options=None):
        addresses = await anyio.to_thread.run_sync(resolve_checked, host, port, abandon_on_cancel=True)
        last_error = None
        for address in _ipv4_first(addresses):
            try:
                return await self._real.connect_tcp(address, port, timeout, local_address, socket_options)
            except httpcore.ConnectTimeout:
                raise
            except httpcore.ConnectError as exc:
                last_error = exc
        raise last_error

    async def connect_unix_socket(self, path, timeout=None, socket_options=None):
        raise BlockedTarget("Unix sockets are not used for requests to checked targets.")

    async def sleep(self, seconds):
        await self._real.sleep(seconds)


# httpcore's exceptions as httpx's (most specific first), as httpx's own transport raises them.
_ERRORS = (
    (httpcore.ConnectTimeout, httpx.ConnectTimeout), (httpcore.ReadTimeout, httpx.ReadTimeout),
    (httpcore.WriteTimeout, httpx.WriteTimeout), (httpcore.PoolTimeout, httpx.PoolTimeout),
    (httpcore.TimeoutException, httpx.TimeoutException), (httpcore.ConnectError, httpx.ConnectError),
    (httpcore.ReadError, httpx.ReadError), (httpcore.WriteError, httpx.WriteError),
    (httpcore.NetworkError, httpx.NetworkError), (httpcore.UnsupportedProtocol, httpx.UnsupportedProtocol),
    (httpcore.LocalProtocolError, httpx.LocalProtocolError),
    (httpcore.RemoteProtocolError, httpx.RemoteProtocolError), (httpcore.ProtocolError, httpx.ProtocolError),
)


@contextmanager
def _httpx_errors():
    try:
        yield
    except (httpcore.TimeoutException, httpcore.NetworkError, httpcore.ProtocolError,
            httpcore.UnsupportedProtocol) as exc:
        mapped = next(target for source, target in _ERRORS if isinstance(exc, source))
        raise mapped(str(exc)) from exc


def _core_request(request):
    url = httpcore.URL(scheme=request.url.raw_scheme, host=request.url.raw_host, port=request.url.port,
                       target=request.url.raw_path)
    return httpcore.Request(method=request.method, url=url, headers=request.headers.raw, content=request.stream,
                            extensions=request.extensions)


def _pool_options(verify, limits):
    limits = limits or httpx.Limits()
    return {"ssl_context": httpx.create_ssl_context(verify=verify, trust_env=False),
            "max_connections": limits.max_connections,
            "max_keepalive_connections": limits.max_keepalive_connections,
            "keepalive_expiry": limits.keepalive_expiry}


class _Stream(httpx.SyncByteStream):
    def __init__(self, stream):
        self._stream = stream

    def __iter__(self):
        with _httpx_errors():
            yield from self._stream

    def close(self):
        self._stream.close()


class _AsyncStream(httpx.AsyncByteStream):
    def __init__(self, stream):
        self._stream = stream

    async def __aiter__(self):
        with _httpx_errors():
            async for part in self._stream:
                yield part

    async def aclose(self):
        await self._stream.aclose()


class GuardedTransport(httpx.BaseTransport):
    def __init__(self, *, verify=True, limits=None):
        self._pool = httpcore.ConnectionPool(network_backend=GuardedBackend(), **_pool_options(verify, limits))

    def handle_request(self, request):
        with _httpx_errors():
            response = self._pool.handle_request(_core_request(request))
        return httpx.Response(status_code=response.status, headers=response.headers,
                              stream=_Stream(response.stream), extensions=response.extensions)

    def close(self):
        self._pool.close()


class AsyncGuardedTransport(httpx.AsyncBaseTransport):
    def __init__(self, *, verify=True, limits=None):
        self._pool = httpcore.AsyncConnectionPool(network_backend=AsyncGuardedBackend(),
                                                  **_pool_options(verify, limits))

    async def handle_async_request(self, request):
        with _httpx_errors():
            response = await self._pool.handle_async_request(_core_request(request))
        return httpx.Response(status_code=response.status, headers=response.headers,
                              stream=_AsyncStream(response.stream), extensions=response.extensions)

    async def aclose(self):
        await self._pool.aclose()


def client(*, timeout, verify=True, **kwargs):
    """An httpx.Client that connects only to vetted addresses, follows no redirect and takes no
    proxy or credentials from the environment. BlockedTarget comes out of a request as it is."""
    return httpx.Client(transport=GuardedTransport(verify=verify), timeout=timeout, follow_redirects=False,
                        trust_env=False, **kwargs)


def async_client(*, timeout, verify=True, **kwargs):
    return httpx.AsyncClient(transport=AsyncGuardedTransport(verify=verify), timeout=timeout,
                             follow_redirects=False, trust_env=False, **kwargs)
