"""A vendor API on 127.0.0.1 for the importer tests: a threaded HTTP server whose routes answer
with payloads shaped like the vendors' documented examples, in small pages, with a 429 on the
first request of chosen paths. It records every request (path, query, headers)."""

import json
import re
import threading
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit


class FakeVendor:
    def __init__(self, retry_after="7", throttle_header="Retry-After"):
        self.routes = []  # (regex, handler(match, query) -> body)
        self.throttled = set()  # paths answered 429 once
        self.retry_after, self.throttle_header = retry_after, throttle_header
        self.requests = []
        self._thrown = set()
        self._lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802
                parts = urlsplit(self.path)
                query = {k: v if len(v) > 1 else v[0] for k, v in parse_qs(parts.query).items()}
                with fake._lock:
                    fake.requests.append((parts.path, query, dict(self.headers)))
                    throw = parts.path in fake.throttled and parts.path not in fake._thrown
                    if throw:
                        fake._thrown.add(parts.path)
                if throw:
                    return self._send(429, {"error": {"message": "Rate Limit Exceeded", "code": 2020}},
                                      {fake.throttle_header: fake.retry_after})
                for pattern, handler in fake.routes:
                    match = re.fullmatch(pattern, parts.path)
                    if match:
                        return self._send(200, handler(match, query))
                return self._send(404, {"error": "not found"})

            def _send(self, status, body, headers=None):
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for key, value in (headers or {}).items():
                    self.send_header(key, value)
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def route(self, pattern, handler):
        self.routes.append((pattern, handler))

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()

    def paths(self):
        return [path for path, _query, _headers in self.requests]


def parse(text):
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


def sample(start, end, who_at, step=timedelta(minutes=30)):
    """A vendor's computed view by brute force: ask `who_at(t)` (a frozenset of vendor user ids)
    at every multiple of `step` and join equal neighbours into (start, end, who) pieces, clipped to
    [start, end). Written from the vendor's documented semantics, independently of
    schedules.resolution. (Every boundary in the test organisations is on a multiple of `step`.)"""
    epoch = datetime(2000, 1, 3, tzinfo=UTC)
    t = start - (start - epoch) % step
    pieces = []
    while t < end:
        who = who_at(t)
        a, b = max(t, start), min(t + step, end)
        if who:
            if pieces and pieces[-1][1] == a and pieces[-1][2] == who:
                pieces[-1] = (pieces[-1][0], b, who)
            else:
                pieces.append((a, b, who))
        t += step
    return pieces
