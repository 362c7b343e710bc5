"""Outbound HTTP for connector targets, guarded against SSRF (ilert.netguard).

Every request is checked twice, both times after DNS resolution:
- before it is sent, `netguard.check_url` refuses a URL whose host resolves to a loopback,
  link-local, private or cloud-metadata address (unless ALLOW_PRIVATE_TARGETS);
- when the socket is opened, the httpx client of `netguard.client()` resolves the host again
  through `netguard.resolve_checked` and connects to one of the vetted addresses, not to the name,
  so a DNS answer that changes between the two (rebinding) is refused too. TLS still verifies the
  name.

Requests never follow redirects, never use proxies from the environment, time out, and read at
most MAX_BODY bytes of a response. A session can record a redacted summary of each exchange.
Network failures are httpx's exceptions (httpx.TimeoutException, httpx.TransportError).
"""

import json
from urllib.parse import urlsplit

import httpx
from django.conf import settings

from ilert import netguard
from ilert.logging import redact as redact_patterns

MAX_BODY = 1024 * 1024  # bytes read from any response
SUMMARY_BODY = 2000  # characters of a body kept in an invocation's summary
SENSITIVE_HEADERS = {"authorization", "x-functions-key", "proxy-authorization", "cookie", "set-cookie",
                     "webhook-signature", "x-api-key"}
SHOWN_HEADERS = {"content-type", "user-agent", "webhook-id", "webhook-timestamp", "retry-after", "location",
                 "x-request-id", "x-amz-invocation-type", "x-amzn-requestid"}


def timeout():
    return float(getattr(settings, "CONNECTOR_TIMEOUT_SECONDS", 10))


class Redactor:
    """Replaces known secret values (and the patterns of ilert.logging) in text."""

    def __init__(self, values=()):
        self.values = set()
        self.add(*values)

    def add(self, *values):
        for value in values:
            for leaf in _leaves(value):
                if len(leaf) >= 6:
                    self.values.add(leaf)

    def __call__(self, text):
        if text is None:
            return text
        text = str(text)
        for value in sorted(self.values, key=len, reverse=True):
            text = text.replace(value, "[redacted]")
        return redact_patterns(text)


def _leaves(value):
    if isinstance(value, dict):
        for item in value.values():
            yield from _leaves(item)
    elif isinstance(value, (list, tuple, set)):
        for item in value:
            yield from _leaves(item)
    elif isinstance(value, str):
        yield value
        stripped = value.strip()
        if stripped.startswith("{"):
            try:
                yield from _leaves(json.loads(stripped))
            except ValueError:
                pass
        for line in value.splitlines():
            if len(line) >= 16:
                yield line


def display_url(url):
    """scheme://host/… — for URLs that are secrets themselves (incoming-webhook URLs)."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.hostname}/…"


class GuardedSession:
    """An httpx client for one delivery (or one call), guarded by ilert.netguard. `request` takes
    httpx's arguments (content=, json=, params=, headers=, timeout=) and returns a response whose
    body is already read (at most MAX_BODY bytes). `exchanges` collects redacted request/response
    summaries when `record` is on. Close it (or use it as a context manager) when done."""

    def __init__(self, *, redactor=None, record=True):
        self.redactor = redactor or Redactor()
        self.record = record
        self.exchanges = []
        self._client = None

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()

    def close(self):
        if self._client is not None:
            self._client.close()
            self._client = None

    def post(self, url, **kwargs):
        return self.request("POST", url, **kwargs)

    def request(self, method, url, *, shown_url=None, **kwargs):
        netguard.check_url(url)
        kwargs["timeout"] = kwargs.get("timeout") or timeout()
        if self._client is None:
            self._client = netguard.client(timeout=timeout(), headers={"User-Agent": "ilert-connectors/1"})
        for name, value in (kwargs.get("headers") or {}).items():
            if name.lower() in SENSITIVE_HEADERS:
                self.redactor.add(value)
        try:
            request = self._client.build_request(method, url, **kwargs)
            response = _read_capped(self._client.send(request, stream=True))
        except httpx.HTTPError as exc:
            self._record(method, shown_url or url, kwargs, None, error=exc)
            raise
        self._record(method, shown_url or url, kwargs, response)
        return response

    def note(self, method, url, body=None, *, status=None, response_body=None, error=None):
        """Record an exchange made by a client library that does not go through this session."""
        if not self.record:
            return
        redact = self.redactor
        if body is not None and not isinstance(body, str):
            body = json.dumps(body)
        entry = {"request": {"method": method, "url": redact(url), "headers": {},
                             "body": redact((body or "")[:SUMMARY_BODY])}}
        if status is not None:
            if response_body is not None and not isinstance(response_body, str):
                response_body = json.dumps(response_body)
            entry["response"] = {"status": status, "headers": {}, "body": redact((response_body or "")[:SUMMARY_BODY])}
        if error is not None:
            entry["error"] = redact(str(error))[:500]
        self.exchanges.append(entry)

    def _record(self, method, url, kwargs, response, error=None):
        if not self.record:
            return
        redact = self.redactor
        sent = kwargs.get("content") if kwargs.get("content") is not None else kwargs.get("json")
        if isinstance(sent, (bytes, bytearray)):
            sent = sent.decode("utf-8", "replace")
        elif sent is not None and not isinstance(sent, str):
            sent = json.dumps(sent)
        request_headers = {k: v for k, v in (kwargs.get("headers") or {}).items() if k.lower() in SHOWN_HEADERS}
        entry = {"request": {"method": method.upper(), "url": redact(url),
                             "headers": {k: redact(v) for k, v in request_headers.items()},
                             "body": redact((sent or "")[:SUMMARY_BODY])}}
        if response is not None:
            headers = {k: redact(v) for k, v in response.headers.items() if k.lower() in SHOWN_HEADERS}
            entry["response"] = {"status": response.status_code, "headers": headers,
                                 "body": redact(response.text[:SUMMARY_BODY])}
        else:
            entry["error"] = redact(f"{type(error).__name__}: {error}")[:500]
        self.exchanges.append(entry)


def _read_capped(response, limit=MAX_BODY):
    """A copy of the streamed `response` holding at most `limit` bytes of its (decoded) body; a
    body cut short by the network keeps what arrived."""
    chunks, size = [], 0
    try:
        for chunk in response.iter_bytes(8192):
            chunks.append(chunk)
            size += len(chunk)
            if size >= limit:
                break
    except (httpx.HTTPError, OSError):
        pass
    finally:
        response.close()
    headers = [(k, v) for k, v in response.headers.multi_items()
               if k.lower() not in ("content-encoding", "content-length", "transfer-encoding")]
    return httpx.Response(response.status_code, headers=headers, content=b"".join(chunks)[:limit],
                          request=response.request, extensions={"reason_phrase": response.reason_phrase.encode()})


def session(*, redactor=None, record=True):
    return GuardedSession(redactor=redactor, record=record)
