"""Who may read a page, and the signed links of subscribers and audience logins.

- public: anyone; private: logged-in members of the page's organisation;
- audience: members, or a visitor holding a grant: a signed cookie set by the page's secret link
  (`?access=<token>`, compared by hash) or by a magic link mailed to an allowed email domain
  (signed, expiring). Every grant names the page's `access_nonce`, so rotating it ends them all.

Subscriber links (confirm, unsubscribe) are signed and name the subscriber's `nonce`: nothing is
stored, and a subscriber that is gone (or re-subscribed) makes old links void.
"""

import secrets as pysecrets

from django.conf import settings
from django.core import signing
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.urls import reverse

from ilert import ratelimit, secrets

from .models import StatusPage, Subscriber

CONFIRM_MAX_AGE = 7 * 24 * 3600
MAGIC_MAX_AGE = 30 * 60
GRANT_MAX_AGE = 30 * 24 * 3600
MAILS_PER_ADDRESS = 5  # confirmations and magic links to one address per hour, from every page and client


def new_token():
    return pysecrets.token_urlsafe(24)


def absolute(path):
    return settings.SITE_URL + path


def page_url(page):
    return absolute(reverse("status:page", args=[page.slug]))


def _dumps(subscriber, salt):
    return signing.dumps({"s": subscriber.pk, "n": subscriber.nonce}, salt=salt, compress=True)


def _loads(token, salt, max_age=None):
    try:
        data = signing.loads(token, salt=salt, max_age=max_age)
        return Subscriber.objects.select_related("page").get(pk=data["s"], nonce=data["n"])
    except (signing.BadSignature, Subscriber.DoesNotExist, KeyError, TypeError, ValueError):
        return None


def confirm_url(subscriber):
    return absolute(reverse("status:confirm", args=[_dumps(subscriber, "status.confirm")]))


def confirmed_subscriber(token):
    return _loads(token, "status.confirm", CONFIRM_MAX_AGE)


def unsubscribe_url(subscriber):
    return absolute(reverse("status:unsubscribe", args=[_dumps(subscriber, "status.unsubscribe")]))


def unsubscribing_subscriber(token):
    return _loads(token, "status.unsubscribe")  # never expires: every message's link must keep working


def magic_token(page, email):
    return signing.dumps({"p": page.pk, "e": email, "n": page.access_nonce}, salt="status.magic")


def magic_email(page, token):
    """The email address a magic link was sent to, or None (bad, expired, or grants were ended)."""
    try:
        data = signing.loads(token, salt="status.magic", max_age=MAGIC_MAX_AGE)
    except signing.BadSignature:
        return None
    if data.get("p") != page.pk or data.get("n") != page.access_nonce:
        return None
    return data.get("e")


def one_address(raw):
    """The one email address typed, lower-cased, or None. "a@evil.example,b@allowed.example" passes a
    check of the text after its last "@" but mail providers send it to both."""
    email = (raw or "").strip().lower()
    try:
        validate_email(email)
    except ValidationError:
        return None
    return email


def mail_limited(email):
    """True when `email` already got MAILS_PER_ADDRESS mails from status pages this hour: a form
    posted from many client addresses (or to many pages) must not flood one inbox."""
    key = secrets.lookup_hash(email)
    return bool(ratelimit.hit(f"{MAILS_PER_ADDRESS}/hour", "status-mail-to", key))


def email_allowed(page, email):
    domain = email.rsplit("@", 1)[-1].lower() if "@" in email else ""
    return bool(domain) and domain in (page.allowed_email_domains or [])


def token_matches(page, token):
    return bool(page.access_token_hash) and bool(token) and secrets.lookup_hash(token) == page.access_token_hash


def cookie_name(page):
    return f"ilert_status_{page.pk}"


def grant(response, page):
    response.set_signed_cookie(cookie_name(page), page.access_nonce, salt="status.grant", max_age=GRANT_MAX_AGE,
                               httponly=True, samesite="Lax", secure=settings.SERVED_OVER_HTTPS)


def is_member(request, page):
    user = getattr(request, "user", None)
    return bool(user is not None and user.is_authenticated and user.tenant_id == page.tenant_id)


def has_grant(request, page):
    value = request.get_signed_cookie(cookie_name(page), default=None, salt="status.grant", max_age=GRANT_MAX_AGE)
    return value is not None and value == page.access_nonce


def can_view(request, page):
    if page.visibility == StatusPage.Visibility.PUBLIC:
        return True
    if is_member(request, page):
        return True
    return page.visibility == StatusPage.Visibility.AUDIENCE and has_grant(request, page)
