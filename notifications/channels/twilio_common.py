"""What SMS and voice share: the account, webhook URLs, error classification and the lookup that
answers "did Twilio take this message?" after a timeout.

Twilio has no idempotency key for creating messages or calls, so a request that timed out cannot
simply be repeated. Instead the engine asks Twilio: list the recent messages (calls) from our number
to the recipient and look for one created after our first attempt, with exactly the text we sent,
whose SID no other notification has claimed. Found: it was sent. Not found (Twilio lists a created
message at once): it was not, and sending again is safe. The status callback URL carries the
notification's token as well, so a late callback also ties the SID to the row.
"""

from urllib.parse import urlsplit

import requests
from django.conf import settings
from django.urls import reverse

from .. import providers
from .base import LookupUnsupported, SendError, requests_error

LOOKUP_SKEW_SECONDS = 120
LOOKUP_LIMIT = 30


def public_site():
    """Twilio must be able to reach SITE_URL; for a loopback site we leave callbacks out."""
    host = urlsplit(settings.SITE_URL).hostname or ""
    return host not in ("localhost", "127.0.0.1", "::1", "testserver") and not host.endswith(".localhost")


def status_callback_url(notification):
    return settings.SITE_URL + reverse("notifications:twilio-status", args=[notification.token])


def voice_url(notification):
    return settings.SITE_URL + reverse("notifications:twilio-voice", args=[notification.token])


def gather_url(notification):
    return settings.SITE_URL + reverse("notifications:twilio-gather", args=[notification.token])


# Twilio error codes that no retry can fix.
PERMANENT_CODES = {21211, 21214, 21217, 21219, 21401, 21408, 21421, 21606, 21612, 21614, 21660, 13224, 13225}
OPTED_OUT = 21610


def error(exc, what):
    from twilio.base.exceptions import TwilioException, TwilioRestException

    if isinstance(exc, TwilioRestException):
        code, status = exc.code, exc.status
        message = f"{what}: Twilio {status} error {code}: {exc.msg}"
        if code == OPTED_OUT:
            return SendError(message, permanent=True, opt_out=True)
        if code in PERMANENT_CODES or (400 <= status < 500 and status != 429):
            return SendError(message, permanent=True)
        return SendError(message)
    if isinstance(exc, requests.exceptions.RequestException):
        return requests_error(exc, what)
    if isinstance(exc, TwilioException):
        return SendError(f"{what}: {exc}", unknown=True)
    return None


def account_for(notification):
    account = providers.twilio_for(notification.tenant_id)
    if account is None:
        raise LookupUnsupported("no Twilio account")
    return account


def taken_sids(notification, sids):
    from ..models import Notification

    return set(
        Notification.objects.filter(provider="twilio", provider_id__in=sids)
        .exclude(pk=notification.pk).values_list("provider_id", flat=True)
    )


def since(notification):
    from datetime import timedelta

    return notification.first_claimed_at - timedelta(seconds=LOOKUP_SKEW_SECONDS)
