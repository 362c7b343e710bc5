"""HTTP(S): the status code is expected, the keyword appears (or not), the answer is fast enough.

Every hop (redirects are followed by hand, at most 5) goes through the outbound guard and connects
to the vetted address, with the Host header and TLS SNI of the URL's name.

The monitor's stored request headers are write-only secrets (any may be a credential), so they go
only to the target's own origin (scheme, host and port): a redirect elsewhere is followed without
them, and a redirect from https:// to http:// is not followed at all while headers are set."""

import time
from urllib.parse import urljoin, urlsplit, urlunsplit

import httpx

from ilert.netguard import BlockedTarget

from .base import down, os_error_text, refused, resolve, seconds, tls_context, up

MAX_REDIRECTS = 5
MAX_BODY = 1024 * 1024  # bytes searched for the keyword
USER_AGENT = "ilert-uptime/1.0 (+https://github.com/ilert)"
REDIRECTS = (301, 302, 303, 307, 308)


def parse_status_spec(spec):
    """"200-299,301" → [(200, 299), (301, 301)]; ValueError when malformed."""
    ranges = []
    for part in (spec or "").replace(" ", "").split(","):
        if not part:
            continue
        low, _, high = part.partition("-")
        low, high = int(low), int(high or low)
        if not (100 <= low <= high <= 599):
            raise ValueError(part)
        ranges.append((low, high))
    if not ranges:
        raise ValueError("empty")
    return ranges


def _origin(parts):
    return parts.scheme, (parts.hostname or "").lower(), parts.port or (443 if parts.scheme == "https" else 80)


def _origin_text(parts):
    return f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}"


def _pinned(url, address):
    parts = urlsplit(url)
    host = f"[{address}]" if ":" in address else address
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urlunsplit((parts.scheme, netloc, parts.path or "/", parts.query, "")), parts


async def check(spec):
    url, method, body = spec.target, spec.http_method, spec.http_body
    expected = parse_status_spec(spec.expected_status)
    timeout = httpx.Timeout(spec.timeout)
    started = time.perf_counter()
    home = _origin(urlsplit(spec.target))
    withheld = None  # the origin a redirect led to, where the stored headers were not sent
    for _hop in range(MAX_REDIRECTS + 1):
        try:
            parts = urlsplit(url)
            if parts.scheme not in ("http", "https") or not parts.hostname:
                return refused(BlockedTarget(f"Only http:// and https:// URLs are allowed: {url}"))
            if parts.username or parts.password:
                return refused(BlockedTarget("Credentials in URLs are not allowed; send an Authorization header."))
            address = await resolve(parts.hostname, parts.port or (443 if parts.scheme == "https" else 80))
        except BlockedTarget as exc:
            return refused(exc)
        stored = spec.http_headers
        if stored and _origin(parts) != home:
            stored, withheld = {}, _origin_text(parts)
        request_url, parts = _pinned(url, address)
        headers = {"User-Agent": USER_AGENT, **stored, "Host": parts.netloc}
        extensions = {"sni_hostname": parts.hostname} if parts.scheme == "https" else {}
        try:
            async with httpx.AsyncClient(verify=tls_context(spec.verify_tls), timeout=timeout, trust_env=False,
                                         follow_redirects=False) as client:
                request = client.build_request(method, request_url, headers=headers,
                                               content=body.encode() if body else None, extensions=extensions)
                response = await client.send(request, stream=True)
                try:
                    status = response.status_code
                    location = response.headers.get("location")
                    if spec.follow_redirects and status in REDIRECTS and location:
                        previous, url = url, urljoin(url, location)
                        if spec.http_headers and parts.scheme == "https" and urlsplit(url).scheme == "http":
                            return down(f"Refused: {previous} redirects to plain http:// ({url}); not followed, "
                                        "so the monitor's request headers are never sent unencrypted",
                                        _elapsed(started), status)
                        if status == 303 or (status in (301, 302) and method == "POST"):
                            method, body = "GET", ""
                        continue
                    # The body is read (up to 1 MiB) even without a keyword: it is part of the answer's
                    # time, and closing with unread data would reset the connection.
                    text = await _read_text(response, decode=bool(spec.keyword))
                finally:
                    await response.aclose()
        except httpx.TimeoutException:
            return down(f"No answer from {spec.target} within {seconds(spec.timeout)}")
        except httpx.HTTPError as exc:
            return down(f"Cannot reach {spec.target}: {os_error_text(exc) or exc or type(exc).__name__}")
        result = _judge(spec, url, status, text, _elapsed(started), expected)
        if withheld:
            result.message += f" (redirected to {withheld}, another origin: the request headers were not sent there)"
        return result
    return down(f"More than {MAX_REDIRECTS} redirects from {spec.target}")


def _elapsed(started):
    return round((time.perf_counter() - started) * 1000)


async def _read_text(response, decode=True):
    chunks, size = [], 0
    async for chunk in response.aiter_bytes():
        if decode:
            chunks.append(chunk)
        size += len(chunk)
        if size >= MAX_BODY:
            break
    if not decode:
        return ""
    return b"".join(chunks)[:MAX_BODY].decode(response.encoding or "utf-8", errors="replace")


def _judge(spec, url, status, text, elapsed, expected):
    if not any(low <= status <= high for low, high in expected):
        return down(f"HTTP {status} from {url}", elapsed, status)
    if spec.keyword:
        found = spec.keyword in text
        if spec.keyword_mode == "present" and not found:
            return down(f"Keyword “{spec.keyword}” not found in the answer from {url}", elapsed, status)
        if spec.keyword_mode == "absent" and found:
            return down(f"Keyword “{spec.keyword}” found in the answer from {url}", elapsed, status)
    if spec.max_response_ms and elapsed > spec.max_response_ms:
        return down(f"{url} answered in {elapsed} ms, slower than the {spec.max_response_ms} ms allowed",
                    elapsed, status)
    return up(f"HTTP {status} in {elapsed} ms", elapsed, status)
