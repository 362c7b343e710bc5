"""The HTTP client for vendor APIs (httpx): requests, pagination, and 429s.

- Every vendor answers 429 when its rate limit is hit; we wait as long as it says (`Retry-After`
  in seconds, or a reset header: PagerDuty's `ratelimit-reset`, Opsgenie's `X-RateLimit-Reset`)
  and try again, at most MAX_RETRIES times per request, never longer than MAX_WAIT_SECONDS each.
- The API key travels in a header only and is never logged, never in an error message (errors
  name the method, the path and the status).
- The base URL is user input (the dashboard takes it): it goes through ilert.netguard like any
  outbound URL, and every connection goes to a vetted address (netguard.client(): no DNS
  rebinding to a private address between the check and the request). No redirect is followed,
  no proxy or credentials are taken from the environment.
- The vendor may be hostile: an answer is read up to MAX_BODY bytes within DEADLINE_SECONDS (a
  server dripping bytes just inside the read timeout must not hold the worker), and must be a JSON
  object; anything else fails the job with a clear error. All requests of a job end after
  TOTAL_SECONDS (endless pages, each just inside the limits).
"""

import json
import logging
import time
from email.utils import parsedate_to_datetime
from urllib.parse import urljoin, urlsplit

import httpx

from ilert import netguard

log = logging.getLogger(__name__)

MAX_RETRIES = 5
MAX_WAIT_SECONDS = 60
TIMEOUT_SECONDS = 30
MAX_PAGES = 1000  # a server that keeps saying "more" must not keep us forever
MAX_BODY = 20 * 1024 * 1024  # bytes of one answer (a vendor page of 100 items is well under 1 MB)
DEADLINE_SECONDS = 120  # to read one whole answer
TOTAL_SECONDS = 3 * 3600  # for every request of one job: well inside the sweep's 6 h (importers.jobs.ABANDONED)


class VendorError(Exception):
    """The vendor refused or failed a request (the message never holds the key)."""


class Client:
    def __init__(self, base_url, headers, *, sleep=time.sleep, monotonic=time.monotonic):
        self.base_url = base_url.rstrip("/") + "/"
        netguard.check_url(self.base_url)
        self.session = netguard.client(timeout=TIMEOUT_SECONDS, headers=headers)
        self.sleep, self.monotonic = sleep, monotonic
        self.born = monotonic()
        self.retries_done = 0  # 429s waited out (tests and the report read it)

    def close(self):
        self.session.close()

    def url(self, path):
        return path if path.startswith(("http://", "https://")) else urljoin(self.base_url, path.lstrip("/"))

    def get(self, path, params=None):
        url = self.url(path)
        if urlsplit(url).netloc != urlsplit(self.base_url).netloc:
            raise VendorError(f"The vendor pointed to another host ({urlsplit(url).netloc}); refused.")
        shown = urlsplit(url).path
        if self.monotonic() - self.born > TOTAL_SECONDS:  # endless pages of slow answers end here
            raise VendorError(f"GET {shown}: the vendor took longer than {TOTAL_SECONDS // 3600} hours in all; "
                              "given up")
        for attempt in range(MAX_RETRIES + 1):
            started = self.monotonic()
            try:
                response = self.session.send(self.session.build_request("GET", url, params=params), stream=True)
            except netguard.BlockedTarget as exc:  # the name resolved to a private address when connecting
                raise VendorError(f"GET {shown}: {exc}") from None
            except httpx.HTTPError as exc:
                raise VendorError(f"GET {shown}: {exc.__class__.__name__}") from None
            try:
                body = self._read(response, shown, started) if response.status_code < 300 else b""
            except httpx.HTTPError as exc:
                raise VendorError(f"GET {shown}: {exc.__class__.__name__}") from None
            finally:
                response.close()
            if response.status_code == 429 and attempt < MAX_RETRIES:
                wait = retry_delay(response.headers)
                log.info("vendor rate limit on GET %s: waiting %.1f s (retry %s)", shown, wait, attempt + 1)
                self.retries_done += 1
                self.sleep(wait)
                continue
            if response.status_code == 429:
                break
            if response.status_code in (401, 403):
                raise VendorError(f"GET {shown}: {response.status_code}: the API key was refused or lacks a "
                                  "permission (see docs/migrating.md for the permissions needed).")
            if response.status_code >= 400:
                raise VendorError(f"GET {shown}: {response.status_code}")
            try:
                data = json.loads(body)
            except ValueError:
                raise VendorError(f"GET {shown}: the answer is not JSON") from None
            if not isinstance(data, dict):
                raise VendorError(f"GET {shown}: the answer is not a JSON object")
            return data
        raise VendorError(f"GET {shown}: still rate limited after {MAX_RETRIES} retries")


    def _read(self, response, shown, started):
        chunks, size = [], 0
        for chunk in response.iter_bytes(64 * 1024):
            size += len(chunk)
            if size > MAX_BODY:
                raise VendorError(f"GET {shown}: the answer is larger than {MAX_BODY // (1024 * 1024)} MB")
            if self.monotonic() - started > DEADLINE_SECONDS:
                raise VendorError(f"GET {shown}: the answer took longer than {DEADLINE_SECONDS} s")
            chunks.append(chunk)
        return b"".join(chunks)


def _items(body, key, path):
    items = body.get(key) or []
    if not isinstance(items, list):
        raise VendorError(f"GET {path}: `{key}` is not a list")
    return items


def retry_delay(headers, now=None):
    """Seconds to wait after a 429, from the headers the vendors send (bounded)."""
    value = headers.get("Retry-After")
    if value:
        try:
            seconds = float(value)
        except ValueError:
            try:
                seconds = parsedate_to_datetime(value).timestamp() - (now or time.time())
            except (TypeError, ValueError):
                seconds = 1.0
        return max(0.0, min(seconds, MAX_WAIT_SECONDS))
    for name in ("ratelimit-reset", "X-RateLimit-Reset"):
        reset = headers.get(name)
        if reset:
            try:
                seconds = float(reset)
            except ValueError:
                continue
            if seconds > 10**9:  # an epoch time, not a delay
                seconds -= now or time.time()
            return max(0.0, min(seconds, MAX_WAIT_SECONDS))
    return 1.0


def offset_pages(client, path, key, params=None, limit=100):
    """PagerDuty-style pages: ?offset&limit, `more` says whether another page follows."""
    params = dict(params or {})
    offset = 0
    for _ in range(MAX_PAGES):
        body = client.get(path, {**params, "offset": offset, "limit": limit})
        items = _items(body, key, path)
        yield from items
        if not body.get("more") or not items:
            return
        offset += len(items)
    raise VendorError(f"GET {path}: more than {MAX_PAGES} pages")


def next_link_pages(client, path, params=None, *, key="data", next_of=None):
    """Pages linked by a `next` URL (Opsgenie: paging.next; Grafana OnCall: next)."""
    next_of = next_of or (lambda body: (body.get("paging") or {}).get("next"))
    url, query = path, params
    for _ in range(MAX_PAGES):
        body = client.get(url, query)
        yield from _items(body, key, path)
        try:
            url, query = next_of(body), None
        except (AttributeError, TypeError):
            raise VendorError(f"GET {path}: the link to the next page is malformed") from None
        if url is not None and not isinstance(url, str):
            raise VendorError(f"GET {path}: the link to the next page is not a URL")
        if not url:
            return
    raise VendorError(f"GET {path}: more than {MAX_PAGES} pages")
