"""Throttles for the doors that take a password or send one: the dashboard login, the Django admin
login, password change and password reset.

Login attempts count per account from one client and per account from anywhere, never per client
alone: behind a proxy (or a NAT) many people share an address, and one person's typos must not lock
the others out. An attempt is counted before the password is checked (parallel guesses cannot all
slip through a check made before any is counted); a successful login clears its counts.

A browser that has logged in to the account before carries a signed device cookie and is held only
to its own per-device count, so strangers failing on purpose lock out only themselves. The cookie
names the user, is set only by a request that itself logged that user in, and stops working when
the password changes.

Accounts are named by their address as the login forms compare them (NFKC, case-folded), so a
look-alike spelling that logs in as the account is counted as the account. The client is
`ilert.clientip.client_ip` (X-Forwarded-For only through TRUSTED_PROXIES).
"""

import secrets
import unicodedata
from functools import wraps

from django.conf import settings
from django.core import signing
from django.shortcuts import render
from django.utils.crypto import constant_time_compare, salted_hmac

from ilert import ratelimit
from ilert.clientip import client_ip

from .models import User

DEVICE_COOKIE = "ilert_device"
DEVICE_SALT = "accounts.login-device"
DEVICE_MAX_AGE = 180 * 24 * 3600


def account_key(email):
    """How an address names an account for counting: as Django's forms and lookups compare them."""
    return unicodedata.normalize("NFKC", email or "").strip().casefold()[:320]


def _password_mark(user):
    """Changes when the password does: a device cookie made before a password change is void."""
    return salted_hmac(DEVICE_SALT, user.password).hexdigest()[:20]


def _device(request, account):
    """The nonce of this browser's device cookie when it belongs to the account named `account`."""
    try:
        data = signing.loads(request.COOKIES.get(DEVICE_COOKIE, ""), salt=DEVICE_SALT, max_age=DEVICE_MAX_AGE)
    except signing.BadSignature:
        return None
    if not isinstance(data, dict) or not isinstance(data.get("u"), int):
        return None
    user = User.objects.filter(pk=data["u"], is_active=True).only("email", "password").first()
    if user is None or account_key(user.email) != account or not constant_time_compare(
            str(data.get("p", "")), _password_mark(user)):
        return None
    return str(data.get("n", "")) or None


def _checks(request, account):
    """[(limit, keys)] a login attempt for `account` from this request counts against."""
    device = _device(request, account)
    pair = (settings.LOGIN_FAILURE_LIMIT, ("login-pair", account, f"device:{device}" if device else client_ip(request)))
    if device:
        return [pair]
    return [pair, (settings.LOGIN_ACCOUNT_FAILURE_LIMIT, ("login-account", account))]


def _count(checks):
    """Count one attempt against every check, first; the seconds to wait when one is over its limit."""
    return max(ratelimit.hit(limit, *keys) for limit, keys in checks)


def _remember_device(response, user):
    value = signing.dumps({"u": user.pk, "p": _password_mark(user), "n": secrets.token_urlsafe(12)}, salt=DEVICE_SALT)
    response.set_cookie(DEVICE_COOKIE, value, max_age=DEVICE_MAX_AGE, httponly=True, samesite="Lax",
                        secure=settings.SESSION_COOKIE_SECURE)


def too_many(request, wait, template="429.html", context=None):
    response = render(request, template, {"wait": wait, **(context or {})}, status=429)
    response["Retry-After"] = str(wait)
    return response


def throttled_login(view=None, *, field="username", refuse=too_many):
    """Wrap a login view (Django's LoginView or the admin's). A POST from a browser that is not
    logged in is an attempt, counted before the view checks the password; it succeeded when the
    view logged a user in. `refuse(request, wait)` answers when the client must wait."""

    def decorator(view):
        @wraps(view)
        def wrapper(request, *args, **kwargs):
            if request.method != "POST":
                return view(request, *args, **kwargs)
            before = request.user.pk  # a session may already be logged in (the admin login still takes a POST)
            account = account_key(request.POST.get(field))
            checks = _checks(request, account)
            wait = _count(checks)
            if wait:
                return refuse(request, wait)
            response = view(request, *args, **kwargs)
            user = request.user
            if user.is_authenticated and user.pk != before and account_key(user.email) == account:  # logged in now
                for limit, keys in checks:
                    ratelimit.clear(limit, *keys)
                _remember_device(response, user)
            return response

        return wrapper

    return decorator(view) if view is not None else decorator


def password_change_wait(request):
    """Count one attempt at the current password of the logged-in user (a stolen session must not
    guess it freely); seconds to wait when over the limit."""
    return ratelimit.hit(settings.LOGIN_FAILURE_LIMIT, "password-change", str(request.user.pk))


def password_reset_wait(request, email):
    """Count one reset request; seconds to wait when over a limit (0: go ahead). Counted by the
    address typed (as the lookup compares it), whether or not an account has it, so the answer
    tells nothing."""
    checks = [(settings.PASSWORD_RESET_LIMIT, ("password-reset", account_key(email))),
              (settings.PASSWORD_RESET_CLIENT_LIMIT, ("password-reset-client", client_ip(request)))]
    waits = [ratelimit.retry_after(limit, *keys) for limit, keys in checks]
    if max(waits):
        return max(waits)
    for limit, keys in checks:
        ratelimit.hit(limit, *keys)
    return 0


def signup_wait(request):
    """Count one new organisation from this client (each can send verification messages and
    invitations, so sign-up is where abuse starts); seconds to wait when over the limit."""
    return ratelimit.hit(settings.SIGNUP_CLIENT_LIMIT, "signup", client_ip(request))
