"""HTTP(S): the status code is expected, the keyword appears (or not), the answer is fast enough.

Every hop (redirects are followed by hand, at most 5) goes through the outbound guard: the client of
`netguard.async_client()` resolves the name when it connects, vets the addresses and connects to a
vetted one, sending the Host header and TLS SNI of the URL's name.

The monitor's stored request headers are write-only secrets (any may be a credential), so they go
only to the target's own origin (scheme, host and port): a redirect elsewhere is followed without
them, and a redirect from https:// to http:// is not followed at all while headers are set."""

import re
import time
from urllib.parse import urljoin, urlsplit

import httpx

from ilert import netguard
from ilert.errors import DomainError
from ilert.netguard import BlockedTarget

from ..models import HttpMethod, KeywordMode
from . import options
from .base import down, os_error_text, refused, seconds, tls_context, up

MAX_REDIRECTS = 5
MAX_BODY = 1024 * 1024  # bytes searched for the keyword
USER_AGENT = "ilert-uptime/1.0 (+https://github.com/ilert)"
REDIRECTS = (301, 302, 303, 307, 308)
MAX_URL = 2048
MAX_HEADERS = 30
_HEADER_NAME = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,100}$")


# --- options -----------------------------------------------------------------------------------


# The monitor fields this kind uses besides the common ones (the dashboard form shows them for it).
OPTIONS = ("http_method", "expected_status", "http_headers", "http_body", "follow_redirects", "keyword",
           "keyword_mode", "max_response_ms", "verify_tls")


def clean(values):
    """An http(s) URL without credentials, the method, expected status codes, request headers, the
    keyword mode and a response time limit within the timeout."""
    _clean_url(values["target"])
    options.one_of(values, "http_method", HttpMethod.values)
    try:
        parse_status_spec(values.get("expected_status"))
    except ValueError:
        raise DomainError("Status codes and ranges between 100 and 599, e.g. 200-299,301.", field="expected_status")
    values["expected_status"] = values["expected_status"].replace(" ", "")
    values["http_headers"] = _clean_headers(values.get("http_headers") or {})
    options.one_of(values, "keyword_mode", KeywordMode.values, "Must be present or absent.")
    limit = values.get("max_response_ms")
    if limit is not None and not 1 <= limit <= values["timeout_seconds"] * 1000:
        raise DomainError("Between 1 ms and the timeout, or empty.", field="max_response_ms")


def _clean_url(target):
    if len(target) > MAX_URL:
        raise DomainError(f"At most {MAX_URL} characters.", field="target")
    parts = urlsplit(target)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise DomainError("Enter an http:// or https:// URL.", field="target")
    if parts.username or parts.password:
        raise DomainError("No credentials in the URL; send an Authorization header instead.", field="target")
    try:
        parts.port  # noqa: B018 - raises on a malformed port
    except ValueError:
        raise DomainError("The URL's port is not valid.", field="target")


def _clean_headers(headers):
    if not isinstance(headers, dict) or len(headers) > MAX_HEADERS:
        raise DomainError(f"A JSON object of at most {MAX_HEADERS} header names and values.", field="http_headers")
    for key, value in headers.items():
        if not _HEADER_NAME.match(str(key)) or not isinstance(value, str) or len(value) > 4000 \
                or any(c in value for c in "\r\n") or not value.isascii():
            raise DomainError(f"Header {key!r}: names are tokens, values single-line ASCII text.",
                              field="http_headers")
    return headers


def guarded(values):
    parts = urlsplit(values["target"])
    return [(parts.hostname, parts.port or _default_port(parts), "target")]


def _default_port(parts):
    return 443 if parts.scheme == "https" else 80


# --- the check ---------------------------------------------------------------------------------


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


async def check(spec):
    url, method, body = spec.target, spec.http_method, spec.http_body
    expected = parse_status_spec(spec.expected_status)
    started = time.perf_counter()
    home = _origin(urlsplit(spec.target))
    withheld = None  # the origin a redirect led to, where the stored headers were not sent
    for _hop in range(MAX_REDIRECTS + 1):
        try:
            parts = _checked(url)
            stored = spec.http_headers
            if stored and _origin(parts) != home:
                stored, withheld = {}, _origin_text(parts)
            status, location, text = await _exchange(spec, method, url, body, parts, stored)
        except BlockedTarget as exc:
            return refused(exc)
        except httpx.TimeoutException:
            return down(f"No answer from {spec.target} within {seconds(spec.timeout)}")
        except httpx.HTTPError as exc:
            return down(f"Cannot reach {spec.target}: {os_error_text(exc) or exc or type(exc).__name__}")
        if location is None:
            result = _judge(spec, url, status, text, _elapsed(started), expected)
            if withheld:
                result.message += (f" (redirected to {withheld}, another origin: the request headers were not "
                                   "sent there)")
            return result
        previous, url = url, urljoin(url, location)
        if spec.http_headers and parts.scheme == "https" and urlsplit(url).scheme == "http":
            return down(f"Refused: {previous} redirects to plain http:// ({url}); not followed, "
                        "so the monitor's request headers are never sent unencrypted", _elapsed(started), status)
        if status == 303 or (status in (301, 302) and method == "POST"):
            method, body = "GET", ""
    return down(f"More than {MAX_REDIRECTS} redirects from {spec.target}")


def _checked(url):
    """The URL's parts; BlockedTarget for a scheme or credentials the guard refuses (its addresses
    are vetted when the client connects)."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise BlockedTarget(f"Only http:// and https:// URLs are allowed: {url}")
    if parts.username or parts.password:
        raise BlockedTarget("Credentials in URLs are not allowed; send an Authorization header.")
    return parts


async def _exchange(spec, method, url, body, parts, stored):
    """One request, connected to a vetted address: (status, the redirect to follow or None, the
    body text). BlockedTarget when the name resolves to a refused address."""
    headers = {"User-Agent": USER_AGENT, **stored, "Host": parts.netloc}
    extensions = {"sni_hostname": parts.hostname} if parts.scheme == "https" else {}
    async with netguard.async_client(verify=tls_context(spec.verify_tls), timeout=httpx.Timeout(spec.timeout)) \
            as client:
        request = client.build_request(method, url, headers=headers,
                                       content=body.encode() if body else None, extensions=extensions)
        response = await client.send(request, stream=True)
        try:
            status = response.status_code
            location = response.headers.get("location")
            if spec.follow_redirects and status in REDIRECTS and location:
                return status, location, None
            # The body is read (up to 1 MiB) even without a keyword: it is part of the answer's
            # time, and closing with unread data would reset the connection.
            return status, None, await _read_text(response, decode=bool(spec.keyword))
        finally:
            await response.aclose()


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
