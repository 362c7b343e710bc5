"""A browser's side of Web Push, for tests: a subscriber that holds the subscription's private key
and auth secret (generated here, as a browser does) and decrypts what it receives with http_ece, a
VAPID (RFC 8292) verifier, and a push service on 127.0.0.1 that records every request pywebpush
really made and answers with the statuses a test queues."""

import base64
import json
import queue
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import http_ece
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, utils


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64url(text):
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class Subscriber:
    """What a browser keeps for one push subscription."""

    def __init__(self, endpoint):
        self.endpoint = endpoint
        self.private_key = ec.generate_private_key(ec.SECP256R1())
        self.auth = __import__("os").urandom(16)
        point = self.private_key.public_key().public_bytes(serialization.Encoding.X962,
                                                           serialization.PublicFormat.UncompressedPoint)
        self.keys = {"p256dh": b64url(point), "auth": b64url(self.auth)}

    def subscription(self, device_name="Test browser"):
        return {"endpoint": self.endpoint, "keys": self.keys, "device_name": device_name}

    def decrypt(self, body):
        return json.loads(http_ece.decrypt(body, private_key=self.private_key, auth_secret=self.auth,
                                           version="aes128gcm"))


def verify_vapid(authorization, *, audience, public_key=None):
    """The claims of a `vapid t=<JWT>, k=<key>` header whose ES256 signature checks out with k (and
    k is `public_key` when given). Raises AssertionError otherwise."""
    scheme, _, rest = authorization.partition(" ")
    assert scheme.lower() == "vapid", authorization
    parts = dict(item.strip().split("=", 1) for item in rest.split(","))
    if public_key is not None:
        assert parts["k"] == public_key, "signed with another key than the one browsers subscribe with"
    header_b64, claims_b64, signature_b64 = parts["t"].split(".")
    header = json.loads(unb64url(header_b64))
    assert header == {"typ": "JWT", "alg": "ES256"}, header
    signature = unb64url(signature_b64)
    assert len(signature) == 64
    der = utils.encode_dss_signature(int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big"))
    key = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), unb64url(parts["k"]))
    try:
        key.verify(der, f"{header_b64}.{claims_b64}".encode(), ec.ECDSA(hashes.SHA256()))
    except InvalidSignature:
        raise AssertionError("the VAPID JWT's signature does not verify") from None
    claims = json.loads(unb64url(claims_b64))
    assert claims["aud"] == audience, claims
    assert time.time() < claims["exp"] <= time.time() + 24 * 3600, claims  # RFC 8292 §2: at most 24 h
    assert claims["sub"].startswith(("mailto:", "https://")), claims
    return claims


class FakePushService:
    """POST /push/<id> → the queued status (default 201 with a Location), every request recorded."""

    def __init__(self):
        self.requests = []
        self.statuses = queue.Queue()
        self.received = threading.Event()
        self.hold = False  # answer nothing until `release` is set (a push service that hangs)
        self.release = threading.Event()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                fake.requests.append({"path": self.path, "headers": dict(self.headers.items()), "body": body})
                if fake.hold:
                    fake.release.wait(30)
                try:
                    status = fake.statuses.get_nowait()
                except queue.Empty:
                    status = 201
                self.send_response(status)
                if status == 201:
                    self.send_header("Location", f"{fake.origin}/message/{len(fake.requests)}")
                elif 300 <= status < 400:  # a redirect, which must never be followed
                    self.send_header("Location", f"{fake.origin}/elsewhere")
                self.send_header("Content-Length", "0")
                self.end_headers()
                fake.received.set()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.origin = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.release.set()
        self.server.shutdown()
        self.server.server_close()

    def endpoint(self, name="sub1"):
        return f"{self.origin}/push/{name}"

    def answer(self, *statuses):
        for status in statuses:
            self.statuses.put(status)
