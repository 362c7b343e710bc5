"""Encryption at rest for secrets we must be able to read back (connector credentials, integration
keys). Fernet keys come from ENCRYPTION_KEYS (comma-separated, newest first: MultiFernet decrypts
with any and encrypts with the first, so keys rotate without downtime). Without it, one key is
derived from SECRET_KEY, which is fine for the embedded default.

Lookups of a presented secret go through `lookup_hash` (SHA-256): the plaintext is never queried.
"""

import base64
import hashlib
from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings


@lru_cache(maxsize=1)
def _fernet():
    keys = [k.strip() for k in getattr(settings, "ENCRYPTION_KEYS", []) if k.strip()]
    # The key derived from SECRET_KEY comes last: it encrypts only when ENCRYPTION_KEYS is unset, and
    # it still decrypts what was stored before ENCRYPTION_KEYS was set (until rotate_secrets ran).
    derived = hashlib.sha256(("ilert-encryption:" + settings.SECRET_KEY).encode()).digest()
    keys.append(base64.urlsafe_b64encode(derived).decode())
    return MultiFernet([Fernet(key) for key in keys])


def encrypt(plaintext: str) -> str:
    return _fernet().encrypt(plaintext.encode()).decode()


def decrypt(token: str) -> str:
    try:
        return _fernet().decrypt(token.encode()).decode()
    except InvalidToken:
        raise ValueError("cannot decrypt: wrong or rotated-out ENCRYPTION_KEYS") from None


def rotate(token: str) -> str:
    """Re-encrypt with the newest key (`manage.py rotate_secrets` does it for every stored secret)."""
    try:
        return _fernet().rotate(token.encode()).decode()
    except InvalidToken:
        raise ValueError("cannot decrypt: wrong or rotated-out ENCRYPTION_KEYS") from None


def lookup_hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def reset_cache():
    _fernet.cache_clear()


MASK = "••••••••"


def mask(secret: str) -> str:
    """How a secret is shown to someone who may not use it: enough to tell two apart, never enough
    to use (the last 4 of at least 24 characters; nothing of shorter ones)."""
    if not secret:
        return ""
    return MASK + (secret[-4:] if len(secret) >= 24 else "")
