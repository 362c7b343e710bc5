"""Which provider account a tenant's messages go through: the tenant's own Twilio / Firebase
credentials (ProviderSettings, stored encrypted), else the platform's (environment), else none —
and then the channel writes to the dev outbox.

Clients are cached per credential set, so connections are pooled across sends.
"""

import hashlib
import json
import threading
from dataclasses import dataclass
from functools import lru_cache
from urllib.parse import urlsplit, urlunsplit

from django.conf import settings

from ilert import secrets

from .models import ProviderSettings


@dataclass(frozen=True)
class TwilioAccount:
    account_sid: str
    auth_token: str
    from_number: str
    owner: str  # "tenant" or "platform"


def _tenant_settings(tenant_id):
    return ProviderSettings.objects.filter(tenant_id=tenant_id).first()


def twilio_for(tenant_id):
    """The Twilio account for a tenant's SMS and calls, or None (dev outbox)."""
    own = _tenant_settings(tenant_id)
    if own is not None and own.twilio_configured:
        return TwilioAccount(own.twilio_account_sid, own.twilio_auth_token, own.twilio_from_number, "tenant")
    return platform_twilio()


def platform_twilio():
    if settings.TWILIO_ACCOUNT_SID and settings.TWILIO_AUTH_TOKEN and settings.TWILIO_FROM_NUMBER:
        return TwilioAccount(
            settings.TWILIO_ACCOUNT_SID, settings.TWILIO_AUTH_TOKEN, settings.TWILIO_FROM_NUMBER, "platform"
        )
    return None


def twilio_auth_tokens(account_sid):
    """Every auth token that may have signed a webhook for `account_sid` (platform and tenants)."""
    tokens = []
    platform = platform_twilio()
    if platform is not None and (not account_sid or platform.account_sid == account_sid):
        tokens.append(platform.auth_token)
    if account_sid:
        for own in ProviderSettings.objects.filter(twilio_account_sid=account_sid).exclude(
            twilio_auth_token_encrypted=""
        ):
            try:
                tokens.append(own.twilio_auth_token)
            except ValueError:  # a rotated-out key: that tenant's webhooks cannot be validated
                continue
    return tokens


def caller_ids(tenant_id):
    """The numbers a tenant's users are called and texted from."""
    account = twilio_for(tenant_id)
    return [account.from_number] if account else []


# --- Twilio client ---------------------------------------------------------------------------------


def _twilio_http_client():
    from twilio.http.http_client import TwilioHttpClient

    base = settings.TWILIO_API_BASE_URL.rstrip("/")

    class HttpClient(TwilioHttpClient):
        """Re-hosts https://*.twilio.com to TWILIO_API_BASE_URL when set (a proxy or a local fake)."""

        def request(self, method, url, *args, **kwargs):
            if base:
                parts = urlsplit(url)
                target = urlsplit(base)
                url = urlunsplit((target.scheme, target.netloc, target.path + parts.path, parts.query, ""))
            return super().request(method, url, *args, **kwargs)

    client = HttpClient(timeout=settings.NOTIFICATION_PROVIDER_TIMEOUT_SECONDS)
    if base and client.session is not None:
        from requests.adapters import HTTPAdapter

        client.session.mount("http://", HTTPAdapter(pool_maxsize=32))
    return client


_clients_lock = threading.Lock()


@lru_cache(maxsize=64)
def _twilio_client(account_sid, auth_token, base_url):
    from twilio.rest import Client

    return Client(account_sid, auth_token, http_client=_twilio_http_client())


def twilio_client(account: TwilioAccount):
    with _clients_lock:
        return _twilio_client(account.account_sid, account.auth_token, settings.TWILIO_API_BASE_URL)


# --- Firebase ---------------------------------------------------------------------------------------


def _platform_firebase_credentials():
    path = settings.FIREBASE_CREDENTIALS_FILE
    if not path:
        return None
    with open(path) as handle:
        return handle.read()


def firebase_credentials_for(tenant_id):
    """The service-account JSON (text) for a tenant's push messages, or None (dev outbox)."""
    own = _tenant_settings(tenant_id)
    if own is not None and own.firebase_configured:
        return own.firebase_credentials
    return _platform_firebase_credentials()


_apps_lock = threading.Lock()


def firebase_app(credentials_json):
    """A firebase_admin App for these credentials (one per credential set, created once)."""
    import firebase_admin
    from firebase_admin import credentials

    name = "ilert-" + hashlib.sha256(credentials_json.encode()).hexdigest()[:16]
    with _apps_lock:
        try:
            return firebase_admin.get_app(name)
        except ValueError:
            info = json.loads(credentials_json)
            return firebase_admin.initialize_app(
                credentials.Certificate(info), name=name,
                # Well inside the send deadline, so a stalled call ends before the row is reconciled.
                options={"projectId": info.get("project_id"),
                         "httpTimeout": settings.NOTIFICATION_PROVIDER_TIMEOUT_SECONDS},
            )


def reset_caches():
    """Forget cached clients (tests that change credentials or base URLs)."""
    _twilio_client.cache_clear()


def save_settings(tenant, *, twilio_account_sid=None, twilio_auth_token=None, twilio_from_number=None,
                  firebase_credentials=None, clear_twilio=False, clear_firebase=False):
    """Store a tenant's provider credentials. Secrets are write-only: None keeps the stored value."""
    from ilert import clock

    own, _ = ProviderSettings.objects.get_or_create(tenant=tenant)
    if clear_twilio:
        own.twilio_account_sid = own.twilio_auth_token_encrypted = own.twilio_from_number = ""
    if twilio_account_sid is not None:
        own.twilio_account_sid = twilio_account_sid.strip()
    if twilio_auth_token:
        own.twilio_auth_token_encrypted = secrets.encrypt(twilio_auth_token.strip())
    if twilio_from_number is not None:
        own.twilio_from_number = twilio_from_number.strip()
    if clear_firebase:
        own.firebase_credentials_encrypted = own.firebase_project_id = ""
    if firebase_credentials:
        info = json.loads(firebase_credentials)
        own.firebase_credentials_encrypted = secrets.encrypt(firebase_credentials)
        own.firebase_project_id = str(info.get("project_id", ""))[:120]
    own.updated_at = clock.now()
    own.save()
    return own
