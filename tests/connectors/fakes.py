"""A small local HTTP server (a thread in the test process, bound to 127.0.0.1) that records what
it receives and answers with a function of the request: the far end for Slack's SDK (which speaks
urllib, not requests) and for end-to-end webhook deliveries."""

import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Received:
    method: str
    path: str
    headers: dict
    body: bytes

    def json(self):
        return json.loads(self.body)


@dataclass
class FakeServer:
    respond: object = None  # callable(Received) -> (status, body[, headers])
    received: list = field(default_factory=list)

    def start(self):
        server = self

        class Handler(BaseHTTPRequestHandler):
            def _handle(self):
                length = int(self.headers.get("Content-Length") or 0)
                request = Received(self.command, self.path, {k.lower(): v for k, v in self.headers.items()},
                                   self.rfile.read(length))
                server.received.append(request)
                answer = server.respond(request) if server.respond else (200, {"ok": True})
                status, body = answer[0], answer[1]
                headers = answer[2] if len(answer) > 2 else {}
                raw = body if isinstance(body, bytes) else (body.encode() if isinstance(body, str)
                                                            else json.dumps(body).encode())
                self.send_response(status)
                self.send_header("Content-Type", headers.pop("Content-Type", "application/json"))
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

            do_POST = do_GET = do_PUT = _handle

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
        self.thread.start()
        return self

    @property
    def url(self):
        return f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()
