"""Fake providers at the HTTP layer. The real twilio / firebase-admin libraries make their real
requests; these answer them like the providers do, and record what arrived.

FakeTwilio keeps the state (messages and calls created, every request) and can be mounted on the
`responses` library (unit tests) or served by a real HTTP server on 127.0.0.1 (end-to-end runs and
the benchmark). It serves its account and any added with `add_account` (an organisation's own
Twilio account). A request it does not know — another path, an account it does not serve — is
answered 404 and recorded in `unexpected`; the `twilio` fixture fails the test at teardown when
that list is not empty (and `responses` raises ConnectionError for any other unregistered URL).

It also answers what the ownership checks ask (notifications/twilio_ownership.py): fetching an
account and listing its incoming phone numbers, with the account's SID and auth token (HTTP basic
auth) checked like Twilio does — a wrong token or an unknown account is 401 (code 20003), an answer
the checks must handle, not an unexpected request. `outage` (an HTTP status) makes those answers
fail as a Twilio outage would.
"""

import base64
import json
import re
import secrets
import threading
import time
from collections import deque
from contextlib import contextmanager
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlencode, urlsplit

import requests
from django.utils import timezone

TWILIO_PATH = re.compile(r"^/2010-04-01/Accounts/(?P<sid>AC\w+)/(?P<kind>Messages|Calls)\.json$")
OWNERSHIP_PATH = re.compile(r"^/2010-04-01/Accounts/(?P<sid>AC\w+)(?:/(?P<kind>IncomingPhoneNumbers))?\.json$")


class Timeout(Exception):
    """Raised by a behaviour: the client must see a read timeout."""


class FakeTwilio:
    def __init__(self, account_sid, auth_token="test-auth-token"):
        self.account_sid = account_sid
        self.account_sids = {account_sid}
        self.auth_token = auth_token
        self.tokens = {account_sid: auth_token}  # what the ownership checks authenticate with
        self.numbers = {account_sid: set()}  # incoming phone numbers per account
        self.account_status = {}  # sid -> "suspended"/"closed"; "active" otherwise
        self.outage = None  # an HTTP status the ownership endpoints answer with, e.g. 503
        self.messages, self.calls, self.requests, self.unexpected = [], [], [], []
        self.behaviours = deque()  # for the next creates: "ok", "timeout-after-create", "timeout", (status, code)
        self.arrivals = []  # (time.time(), params) of every create: what the benchmark measures
        # Called with (method, kind, params) before a request is handled, outside the lock: a slow or
        # hanging provider (advance a test clock, wait on an Event, run "another worker" meanwhile).
        self.before = []
        self.after = []  # called with (method, kind, params) once a request was answered
        self.lock = threading.Lock()

    # --- what tests look at ---
    @property
    def sms(self):
        return [m for m in self.messages if m["direction"] == "outbound-api"]

    def creates(self, kind="Messages"):
        return [r for r in self.requests if r["method"] == "POST" and r["kind"] == kind]

    def fail_next(self, *behaviours):
        self.behaviours.extend(behaviours)

    def add_account(self, account_sid, auth_token=None, numbers=()):
        """Serve another Twilio account too (an organisation's own), with its auth token and
        incoming numbers for the ownership checks."""
        self.account_sids.add(account_sid)
        self.tokens[account_sid] = auth_token
        self.numbers.setdefault(account_sid, set()).update(numbers)
        return self

    def add_number(self, number, account_sid=None):
        """An incoming phone number of an account (the platform's by default)."""
        self.numbers.setdefault(account_sid or self.account_sid, set()).add(number)
        return self

    def _ownership(self, method, sid, kind, params, auth):
        """GET /Accounts/{sid}.json and /Accounts/{sid}/IncomingPhoneNumbers.json, as Twilio answers."""
        self.requests.append({"method": method, "kind": kind or "Account", "account_sid": sid, "params": params,
                              "at": time.time()})
        if self.outage:
            return self.outage, {"code": 20500, "message": "Internal Server Error", "status": self.outage}
        if method != "GET" or sid not in self.tokens or self.tokens[sid] is None or auth != (sid, self.tokens[sid]):
            return 401, {"code": 20003, "message": "Authenticate", "status": 401,
                         "more_info": "https://www.twilio.com/docs/errors/20003"}
        if kind is None:
            return 200, {"sid": sid, "status": self.account_status.get(sid, "active"), "friendly_name": "Fake",
                         "type": "Full", "owner_account_sid": sid, "date_created": None, "date_updated": None,
                         "auth_token": "[redacted]", "uri": f"/2010-04-01/Accounts/{sid}.json"}
        wanted = params.get("PhoneNumber")
        rows = [{"sid": "PN" + secrets.token_hex(16), "account_sid": sid, "phone_number": number,
                 "friendly_name": number, "sms_url": "", "voice_url": ""}
                for number in sorted(self.numbers.get(sid, ())) if not wanted or number == wanted]
        size = int(params.get("PageSize", 50))
        return 200, {"incoming_phone_numbers": rows[:size], "end": len(rows[:size]), "first_page_uri": "/x",
                     "next_page_uri": None, "page": 0, "page_size": size, "previous_page_uri": None, "start": 0,
                     "uri": "/x"}

    # --- the API ---
    def handle(self, method, path, params, auth=None):
        match = TWILIO_PATH.match(path)
        ownership = OWNERSHIP_PATH.match(path)
        if ownership:
            with self.lock:
                return self._ownership(method, ownership["sid"], ownership["kind"], params, auth)
        for hook in list(self.before):
            hook(method, match["kind"] if match else "", params)
        with self.lock:
            if not match or match["sid"] not in self.account_sids:
                self.unexpected.append((method, path, params))
                return 404, {"code": 20404, "message": "The requested resource was not found", "status": 404}
            kind, sid = match["kind"], match["sid"]
            self.requests.append({"method": method, "kind": kind, "account_sid": sid, "params": params,
                                  "at": time.time()})
            if method == "GET":
                return 200, self._list(kind, sid, params)
            if method != "POST":
                return 405, {"code": 20004, "message": "Method not allowed", "status": 405}
            self.arrivals.append((time.time(), params))
            behaviour = self.behaviours.popleft() if self.behaviours else "ok"
            if isinstance(behaviour, tuple):
                status, code = behaviour
                return status, {"code": code, "message": f"fake error {code}", "status": status,
                                "more_info": f"https://www.twilio.com/docs/errors/{code}"}
            if behaviour == "timeout":
                raise Timeout()
            record = self._create(kind, sid, params)
            if behaviour == "timeout-after-create":
                raise Timeout()
            return 201, record

    def _create(self, kind, sid, params):
        now = timezone.now()
        prefix = "SM" if kind == "Messages" else "CA"
        record = {
            "sid": prefix + secrets.token_hex(16),
            "account_sid": sid,
            "to": params.get("To"),
            "from": params.get("From"),
            "status": "queued",
            "direction": "outbound-api",
            "date_created": format_datetime(now, usegmt=True),
            "date_updated": format_datetime(now, usegmt=True),
            "date_sent": None,
            "api_version": "2010-04-01",
            "uri": f"/2010-04-01/Accounts/{sid}/{kind}/x.json",
        }
        if kind == "Messages":
            record.update({"body": params.get("Body"), "num_segments": "1", "num_media": "0", "error_code": None,
                           "error_message": None, "price": None, "price_unit": "USD",
                           "status_callback": params.get("StatusCallback")})
            self.messages.append(record)
        else:
            record.update({"url": params.get("Url"), "status_callback": params.get("StatusCallback")})
            self.calls.append(record)
        return record

    def _list(self, kind, sid, params):
        rows = self.messages if kind == "Messages" else self.calls
        chosen = [r for r in reversed(rows)
                  if r["account_sid"] == sid and (not params.get("To") or r["to"] == params["To"]) and
                  (not params.get("From") or r["from"] == params["From"])]
        size, page = int(params.get("PageSize", 50)), int(params.get("Page", 0))
        key = "messages" if kind == "Messages" else "calls"
        start = page * size
        following = None
        if start + size < len(chosen):  # Twilio pages with Page and PageToken in next_page_uri
            query = {k: params[k] for k in ("To", "From") if params.get(k)}
            query.update(PageSize=size, Page=page + 1, PageToken=f"PA{page + 1}")
            following = f"/2010-04-01/Accounts/{sid}/{kind}.json?{urlencode(query)}"
        rows = chosen[start:start + size]
        return {key: rows, "end": start + len(rows), "first_page_uri": "/x", "next_page_uri": following,
                "page": page, "page_size": size, "previous_page_uri": None, "start": start, "uri": "/x"}

    def answered(self, method, path, params):
        match = TWILIO_PATH.match(path)
        for hook in list(self.after):
            hook(method, match["kind"] if match else "", params)

    # --- mounting ---
    def install(self, mock, base="https://api.twilio.com"):
        pattern = re.compile(re.escape(base) + r"/2010-04-01/.*")

        def callback(request):
            url = urlsplit(request.url)
            params = {k: v[-1] for k, v in parse_qs(url.query).items()}
            if request.body:
                body = request.body.decode() if isinstance(request.body, bytes) else request.body
                params.update({k: v[-1] for k, v in parse_qs(body).items()})
            try:
                status, payload = self.handle(request.method, url.path, params,
                                              basic_auth(request.headers.get("Authorization")))
            except Timeout:
                raise requests.exceptions.ReadTimeout("fake Twilio: read timed out") from None
            self.answered(request.method, url.path, params)
            return status, {"Content-Type": "application/json"}, json.dumps(payload)

        mock.add_callback("POST", pattern, callback=callback)
        mock.add_callback("GET", pattern, callback=callback)
        return self


class FakeTwilioServer:
    """FakeTwilio served over HTTP on 127.0.0.1 (set TWILIO_API_BASE_URL to `url`)."""

    def __init__(self, fake):
        self.fake = fake
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _serve(self):
                url = urlsplit(self.path)
                params = {k: v[-1] for k, v in parse_qs(url.query).items()}
                length = int(self.headers.get("Content-Length") or 0)
                if length:
                    params.update({k: v[-1] for k, v in parse_qs(self.rfile.read(length).decode()).items()})
                try:
                    status, payload = outer.fake.handle(self.command, url.path, params,
                                                        basic_auth(self.headers.get("Authorization")))
                except Timeout:
                    time.sleep(30)
                    return
                body = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                try:
                    self.end_headers()
                    self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):  # the client gave up (its timeout)
                    return
                outer.fake.answered(self.command, url.path, params)

            do_GET = do_POST = _serve

            def log_message(self, *args):
                pass

        class Server(ThreadingHTTPServer):
            request_queue_size = 128  # the default backlog (5) drops bursts of connections: SYN retries cost seconds

        self.server = Server(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()


def basic_auth(header):
    """(user, password) of an HTTP basic Authorization header, or None."""
    if not header or not header.startswith("Basic "):
        return None
    user, _, password = base64.b64decode(header[6:]).decode().partition(":")
    return user, password


@contextmanager
def platform_twilio(settings, *numbers, sid="AC" + "f" * 32, token="platform-token"):
    """The platform's Twilio account (settings) served over HTTP on 127.0.0.1 by a FakeTwilio that
    owns `numbers`; the real twilio client reaches it through TWILIO_API_BASE_URL."""
    from notifications import providers

    fake = FakeTwilio(sid, token)
    for number in numbers:
        fake.add_number(number)
    with FakeTwilioServer(fake) as server:
        settings.TWILIO_ACCOUNT_SID, settings.TWILIO_AUTH_TOKEN = sid, token
        settings.TWILIO_API_BASE_URL = server.url
        providers.reset_caches()
        try:
            yield fake
        finally:
            providers.reset_caches()


# --- Firebase ----------------------------------------------------------------------------------------

FCM_PROJECT = "ilert-test"
TOKEN_URI = "https://oauth2.fake.test/token"


def service_account():
    """A service-account JSON with a real RSA key (google-auth signs a JWT with it) whose token_uri
    points at our fake."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption()).decode()
    return json.dumps({
        "type": "service_account", "project_id": FCM_PROJECT, "private_key_id": "fake-key-1",
        "private_key": pem, "client_email": f"ilert@{FCM_PROJECT}.iam.gserviceaccount.com",
        "client_id": "1", "token_uri": TOKEN_URI,
    })


class FakeFcm:
    URL = f"https://fcm.googleapis.com/v1/projects/{FCM_PROJECT}/messages:send"

    def __init__(self):
        self.sent, self.behaviours, self.token_requests = [], deque(), 0

    def install(self, mock):
        def token(request):
            self.token_requests += 1
            return 200, {"Content-Type": "application/json"}, json.dumps(
                {"access_token": "ya29.fake", "expires_in": 3600, "token_type": "Bearer"})

        def send(request):
            payload = json.loads(request.body)
            self.sent.append({"payload": payload, "headers": request.headers})
            behaviour = self.behaviours.popleft() if self.behaviours else "ok"
            if behaviour == "timeout":
                raise requests.exceptions.ReadTimeout("fake FCM: read timed out")
            if behaviour == "unregistered":
                return 404, {"Content-Type": "application/json"}, json.dumps({"error": {
                    "code": 404, "message": "Requested entity was not found.", "status": "NOT_FOUND",
                    "details": [{"@type": "type.googleapis.com/google.firebase.fcm.v1.FcmError",
                                 "errorCode": "UNREGISTERED"}]}})
            return 200, {"Content-Type": "application/json"}, json.dumps(
                {"name": f"projects/{FCM_PROJECT}/messages/0:{len(self.sent)}"})

        mock.add_callback("POST", TOKEN_URI, callback=token)
        mock.add_callback("POST", self.URL, callback=send)
        return self
