"""Throttles for the doors that take a password or send one: the dashboard login, the Django admin
login and password reset.

Failed logins count per account from one client and per account from anywhere, never per client
alone: behind a proxy (or a NAT) many people share an address, and one person's typos must not lock
the others out. A browser that has logged in to the account before carries a signed device cookie
and is held only to its own per-client count, so strangers failing on purpose lock out only
themselves. The client is `ilert.clientip.client_ip` (X-Forwarded-For only through TRUSTED_PROXIES).
"""

import secrets
from functools import wraps

from django.conf import settings
from django.core import signing
from django.shortcuts import render

from ilert import ratelimit
from ilert.clientip import client_ip

DEVICE_COOKIE = "ilert_device"
DEVICE_SALT = "accounts.login-device"
DEVICE_MAX_AGE = 180 * 24 * 3600


def _email(request, field):
    return (request.POST.get(field) or "").strip().lower()[:320]


def _device(request, email):
    """The nonce of this browser's device cookie if it was set by a login to `email`, else None."""
    try:
        data = signing.loads(request.COOKIES.get(DEVICE_COOKIE, ""), salt=DEVICE_SALT, max_age=DEVICE_MAX_AGE)
    except signing.BadSignature:
        return None
    return data.get("n") if isinstance(data, dict) and data.get("e") == email else None


def _login_keys(request, email):
    device = _device(request, email)
    pair = ("login-pair", email, f"device:{device}" if device else client_ip(request))
    account = None if device else ("login-account", email)
    return pair, account


def login_wait(request, email):
    """Seconds before this client may try `email` again (0: now)."""
    pair, account = _login_keys(request, email)
    waits = [ratelimit.retry_after(settings.LOGIN_FAILURE_LIMIT, *pair)]
    if account is not None:
        waits.append(ratelimit.retry_after(settings.LOGIN_ACCOUNT_FAILURE_LIMIT, *account))
    return max(waits)


def login_failed(request, email):
    pair, _account = _login_keys(request, email)
    ratelimit.hit(settings.LOGIN_FAILURE_LIMIT, *pair)
    ratelimit.hit(settings.LOGIN_ACCOUNT_FAILURE_LIMIT, "login-account", email)  # trusted devices count too


def _remember_device(response, email):
    value = signing.dumps({"e": email, "n": secrets.token_urlsafe(12)}, salt=DEVICE_SALT)
    response.set_cookie(DEVICE_COOKIE, value, max_age=DEVICE_MAX_AGE, httponly=True, samesite="Lax",
                        secure=settings.SESSION_COOKIE_SECURE)


def too_many(request, wait, template="429.html", context=None):
    response = render(request, template, {"wait": wait, **(context or {})}, status=429)
    response["Retry-After"] = str(wait)
    return response


def throttled_login(view=None, *, field="username", refuse=too_many):
    """Wrap a login view (Django's LoginView or the admin's): a POST re-rendering the form (200)
    is a failure, a redirect with a logged-in user a success. `refuse(request, wait)` answers when
    the client must wait."""

    def decorator(view):
        @wraps(view)
        def wrapper(request, *args, **kwargs):
            if request.method != "POST":
                return view(request, *args, **kwargs)
            email = _email(request, field)
            wait = login_wait(request, email)
            if wait:
                return refuse(request, wait)
            response = view(request, *args, **kwargs)
            if response.status_code == 200:
                login_failed(request, email)
            elif response.status_code in (301, 302) and request.user.is_authenticated:
                _remember_device(response, email)
            return response

        return wrapper

    return decorator(view) if view is not None else decorator


def password_reset_wait(request, email):
    """Count one reset request; seconds to wait when over a limit (0: go ahead). Counted by the
    address typed, whether or not an account has it, so the answer tells nothing."""
    checks = [(settings.PASSWORD_RESET_LIMIT, ("password-reset", email)),
              (settings.PASSWORD_RESET_CLIENT_LIMIT, ("password-reset-client", client_ip(request)))]
    waits = [ratelimit.retry_after(limit, *keys) for limit, keys in checks]
    if max(waits):
        return max(waits)
    for limit, keys in checks:
        ratelimit.hit(limit, *keys)
    return 0
