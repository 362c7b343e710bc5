"""What SMS and voice share: the account, webhook URLs, error classification and the lookup that
answers "did Twilio take this message?" after a timeout.

Twilio has no idempotency key for creating messages or calls, so a request that timed out cannot
simply be repeated. Instead the engine asks Twilio: list the recent messages (calls) from our number
to the recipient and look for one created after our first attempt, with exactly the text we sent,
whose SID no other notification has claimed, reading as many pages as that takes. Found: it was
sent. Not found (Twilio lists a created message at once), once the unanswered request is old enough
to have been created if it ever will (engine.outcomes.UNKNOWN_SETTLE_SECONDS): it was not, and sending again
is safe. The status callback URL carries the
notification's token as well, so a late callback also ties the SID to the row.
"""

from datetime import timedelta
from urllib.parse import urlsplit

import requests
from django.conf import settings
from django.urls import reverse
from twilio.base.exceptions import TwilioException, TwilioRestException

from .. import providers
from ..models import Notification
from .base import LookupUnsupported, SendError, requests_error

LOOKUP_SKEW_SECONDS = 120
LOOKUP_PAGE_SIZE = 50
LOOKUP_MAX_PAGES = 20  # at most 1,000 messages (calls) to one number since our first attempt


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
    return set(
        Notification.objects.filter(provider="twilio", provider_id__in=sids)
        .exclude(pk=notification.pk).values_list("provider_id", flat=True)
    )


def since(notification):
    return notification.first_claimed_at - timedelta(seconds=LOOKUP_SKEW_SECONDS)


def recent(listing, notification, account):
    """The messages (calls) from our number to the recipient created since our first attempt (less
    the skew), newest first, read page by page until a page holds nothing that recent: a storm to
    one number must not push ours out of a fixed-size list (a list of 30 once did, and a page that
    Twilio had taken was sent again)."""
    start = since(notification)
    page = listing.page(to=notification.address, from_=account.from_number, page_size=LOOKUP_PAGE_SIZE)
    found = []
    for _ in range(LOOKUP_MAX_PAGES):
        fresh = [item for item in page if item.date_created and item.date_created >= start]
        found += fresh
        page = page.next_page() if fresh else None
        if page is None:
            break
    return found
