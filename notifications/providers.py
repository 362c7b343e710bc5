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

import firebase_admin
from django.conf import settings
from django.db.models import Q
from firebase_admin import credentials
from requests.adapters import HTTPAdapter
from twilio.http.http_client import TwilioHttpClient
from twilio.rest import Client

from ilert import clock, secrets

from .models import ProviderSettings


@dataclass(frozen=True)
class TwilioAccount:
    account_sid: str
    auth_token: str
    from_number: str
    owner: str  # "tenant" or "platform"


def _tenant_settings(tenant_id, row=None):
    """The tenant's ProviderSettings (or None): those a claim loaded for `row`'s batch, else a query."""
    if row is not None and hasattr(row, PRELOADED):
        return getattr(row, PRELOADED)
    return ProviderSettings.objects.filter(tenant_id=tenant_id).first()


PRELOADED = "tenant_provider_settings"


def preload(rows):
    """Load the provider settings of every organisation in a batch of notifications at once (one
    query) and keep them on the rows: the sends of a claimed batch then ask the database nothing
    about accounts. What was saved in between applies from the next batch."""
    found = {own.tenant_id: own for own in ProviderSettings.objects.filter(tenant_id__in={r.tenant_id for r in rows})}
    for row in rows:
        setattr(row, PRELOADED, found.get(row.tenant_id))


def _own_twilio_settings():
    """The settings of organisations that send through a Twilio account of their own. A stored SID
    equal to the platform's (possible only from before it was refused) does not count: such an
    organisation is served by the platform account, with the platform's token."""
    own = (ProviderSettings.objects.exclude(twilio_account_sid="").exclude(twilio_auth_token_encrypted="")
           .exclude(twilio_from_number=""))
    if settings.TWILIO_ACCOUNT_SID:
        own = own.exclude(twilio_account_sid=settings.TWILIO_ACCOUNT_SID)
    return own


def twilio_for(tenant_id, row=None):
    """The Twilio account for a tenant's SMS and calls, or None (dev outbox). `row`: the
    notification being sent, whose claim may have loaded the settings (`preload`)."""
    own = _tenant_settings(tenant_id, row)
    if own is not None and own.twilio_configured and own.twilio_account_sid != settings.TWILIO_ACCOUNT_SID:
        return TwilioAccount(own.twilio_account_sid, own.twilio_auth_token, own.twilio_from_number, "tenant")
    return platform_twilio()


def platform_twilio():
    if settings.TWILIO_ACCOUNT_SID and settings.TWILIO_AUTH_TOKEN and settings.TWILIO_FROM_NUMBER:
        return TwilioAccount(
            settings.TWILIO_ACCOUNT_SID, settings.TWILIO_AUTH_TOKEN, settings.TWILIO_FROM_NUMBER, "platform"
        )
    return None


@dataclass(frozen=True)
class WebhookAccount:
    """The Twilio account a webhook names (its AccountSid): the one token its signature is checked
    with, and the organisations it serves — exactly the owner for an organisation's own account,
    every organisation without an account of its own for the platform's (tenant_id None)."""

    account_sid: str
    auth_token: str
    tenant_id: int | None

    def tenants(self):
        """A filter (on tenant_id) to the organisations this account may reach."""
        if self.tenant_id is not None:
            return Q(tenant_id=self.tenant_id)
        return ~Q(tenant_id__in=_own_twilio_settings().values("tenant_id"))

    def serves(self, tenant_id):
        if self.tenant_id is not None:
            return tenant_id == self.tenant_id
        return not _own_twilio_settings().filter(tenant_id=tenant_id).exists()


def webhook_account(account_sid):
    """The one account a Twilio webhook comes from, by its AccountSid; None when we know none (then
    nothing can validate it). Never a token of another account: an organisation cannot name the
    platform's SID or another organisation's (services.save_provider_settings and a unique index)."""
    if not account_sid:
        return None
    platform = platform_twilio()
    if platform is not None and account_sid == platform.account_sid:
        return WebhookAccount(platform.account_sid, platform.auth_token, None)
    owners = list(_own_twilio_settings().filter(twilio_account_sid=account_sid)[:2])
    if len(owners) != 1:
        return None
    try:
        token = owners[0].twilio_auth_token
    except ValueError:  # a rotated-out key: that organisation's webhooks cannot be validated
        return None
    return WebhookAccount(account_sid, token, owners[0].tenant_id)


def inbound_sms_account(account_sid):
    """For SMS alert sources (alerts.inbound_numbers): (auth token, owning tenant id or None) of
    the account a webhook names, or None."""
    account = webhook_account(account_sid)
    return (account.auth_token, account.tenant_id) if account is not None else None


def sid_taken(tenant, account_sid):
    """Is `account_sid` the platform's or another organisation's?"""
    if not account_sid:
        return False
    if settings.TWILIO_ACCOUNT_SID and account_sid == settings.TWILIO_ACCOUNT_SID:
        return True
    return ProviderSettings.objects.filter(twilio_account_sid=account_sid).exclude(tenant=tenant).exists()


def caller_ids(tenant_id):
    """The numbers a tenant's users are called and texted from."""
    account = twilio_for(tenant_id)
    return [account.from_number] if account else []


# --- Twilio client ---------------------------------------------------------------------------------


def _twilio_http_client():
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
        client.session.mount("http://", HTTPAdapter(pool_maxsize=32))
    return client


_clients_lock = threading.Lock()


@lru_cache(maxsize=64)
def _twilio_client(account_sid, auth_token, base_url):
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


def firebase_credentials_for(tenant_id, row=None):
    """The service-account JSON (text) for a tenant's push messages, or None (dev outbox). `row`:
    as for twilio_for."""
    own = _tenant_settings(tenant_id, row)
    if own is not None and own.firebase_configured:
        return own.firebase_credentials
    return _platform_firebase_credentials()


_apps_lock = threading.Lock()


def firebase_app(credentials_json):
    """A firebase_admin App for these credentials (one per credential set, created once)."""
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
