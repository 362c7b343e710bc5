"""The server's VAPID key pair (RFC 8292) for Web Push: the private key signs a short JWT on every
push so the push service knows the message comes from the server the browser subscribed to; the
public key is what the browser subscribes with (`applicationServerKey`).

Where the key comes from, in order:
- WEBPUSH_VAPID_PRIVATE_KEY (a PEM, or the raw 32-byte key in base64url as `vapid --gen` prints it);
- else `DATA_DIR/vapid_private_key.pem`, generated on first use (mode 0600, created exclusively, so
  two processes starting at once end up with the same key). Every process that sends pushes must
  see the same file or the same setting: a browser's subscription is bound to one public key.

The private key is never logged, shown or served; only `public_key()` leaves this module.
"""

import base64
import os
from functools import lru_cache
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from django.conf import settings
from py_vapid import Vapid

FILE_NAME = "vapid_private_key.pem"


def _b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def key_file():
    return Path(settings.DATA_DIR) / FILE_NAME


def _from_setting(value):
    value = value.strip()
    if value.startswith("-----BEGIN"):
        return serialization.load_pem_private_key(value.replace("\\n", "\n").encode(), password=None)
    raw = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
    if len(raw) == 32:
        return ec.derive_private_key(int.from_bytes(raw, "big"), ec.SECP256R1())
    return serialization.load_der_private_key(raw, password=None)


def _from_file(path):
    """Read the key file, creating it first if there is none. The key is written whole to a file of
    this process's own and then linked into place: the link fails if another process made the key
    first (then theirs is used), and nobody ever reads a half-written key."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        pem = ec.generate_private_key(ec.SECP256R1()).private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
        draft = path.with_name(f".{path.name}.{os.getpid()}")
        fd = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(pem)
        try:
            os.link(draft, path)
        except FileExistsError:
            pass  # another process made it first: use theirs
        finally:
            draft.unlink()
    return serialization.load_pem_private_key(path.read_bytes(), password=None)


@lru_cache(maxsize=1)
def private_key():
    configured = getattr(settings, "WEBPUSH_VAPID_PRIVATE_KEY", "")
    key = _from_setting(configured) if configured else _from_file(key_file())
    if not isinstance(key, ec.EllipticCurvePrivateKey) or key.curve.name != "secp256r1":
        raise ValueError("WEBPUSH_VAPID_PRIVATE_KEY must be a P-256 (prime256v1) key")
    return key


def vapid():
    """A py_vapid signer for pywebpush."""
    return Vapid(private_key=private_key())


def public_key():
    """The uncompressed public point in base64url: the browser's applicationServerKey."""
    point = private_key().public_key().public_bytes(serialization.Encoding.X962,
                                                   serialization.PublicFormat.UncompressedPoint)
    return _b64url(point)


def subject():
    """The VAPID `sub` claim: who the push service may contact about our pushes."""
    configured = getattr(settings, "WEBPUSH_VAPID_SUBJECT", "")
    if configured:
        return configured
    site = settings.SITE_URL
    if site.startswith("https://"):
        return site
    return f"mailto:{settings.DEFAULT_FROM_EMAIL.split('<')[-1].rstrip('>').strip()}"


def reset_cache():
    private_key.cache_clear()
