"""Standard Webhooks signatures (https://www.standardwebhooks.com/).

signed content = f"{webhook-id}.{webhook-timestamp}.{body}"
signature      = base64(HMAC-SHA256(key, signed content)), sent as "v1,<signature>"
Secrets look like "whsec_<base64 key>"; with several active secrets (rotation) the
`webhook-signature` header carries one "v1,<sig>" per secret, separated by spaces.
"""

import base64
import hashlib
import hmac
import secrets as pysecrets

PREFIX = "whsec_"


def new_secret():
    return PREFIX + base64.b64encode(pysecrets.token_bytes(32)).decode()


def key_bytes(secret):
    secret = secret.strip()
    if secret.startswith(PREFIX):
        secret = secret[len(PREFIX):]
    return base64.b64decode(secret, validate=True)


def valid_secret(secret):
    try:
        return len(key_bytes(secret)) >= 16
    except ValueError:
        return False


def sign(secret, msg_id, timestamp, body):
    if isinstance(body, bytes):
        body = body.decode()
    content = f"{msg_id}.{int(timestamp)}.{body}".encode()
    digest = hmac.new(key_bytes(secret), content, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def headers(secrets, msg_id, timestamp, body):
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(timestamp)),
        "webhook-signature": " ".join(sign(secret, msg_id, timestamp, body) for secret in secrets),
    }
