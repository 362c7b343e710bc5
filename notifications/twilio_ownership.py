"""Proof, asked of Twilio, that an organisation's Twilio credentials and phone numbers are its own.

Account SIDs and numbers are not claimed first-come: before an organisation's own Twilio
credentials are stored, Twilio must accept them (the account is fetched with them) and their
number must be one of that account's incoming numbers; before an SMS alert source takes a number,
the number must be an incoming number of an account whose messages reach the organisation — its
own Twilio account when it has one, or the platform's (TWILIO_ACCOUNT_SID / TWILIO_AUTH_TOKEN; a
platform number still goes to one organisation only, the unique AlertSource.inbound_number).
Refused: a clear 400 naming the field (nothing saved); Twilio unreachable or failing: 503 (nothing
saved, try again).

Development mode: with no Twilio configured at all (no platform account, no own account), numbers
are accepted unchecked — messages go to the dev outbox and no Twilio webhook can be validated, so a
number claimed there cannot receive anything. A platform configured by halves (only one of SID and
token) cannot prove anything and refuses numbers with a 503 naming the missing setting.
"""

import logging

import requests
from django.conf import settings
from twilio.base.exceptions import TwilioException, TwilioRestException
from twilio.rest import Client

from ilert.errors import DomainError

from . import providers
from .models import ProviderSettings

log = logging.getLogger(__name__)


class TwilioUnavailable(DomainError):
    """Twilio could not answer: nothing is saved, the request may be repeated."""

    status = 503
    code = "twilio_unavailable"


def _client(account_sid, auth_token):
    # A client of its own (not the cached sending clients): these credentials are not trusted yet.
    return Client(account_sid, auth_token, http_client=providers._twilio_http_client())  # noqa: SLF001


def _ask(question, *, refused, field, refusal=DomainError):
    """Run one Twilio request; its refusal (401/403/404) raises `refusal` saying `refused`, an
    outage TwilioUnavailable."""
    try:
        return question()
    except TwilioRestException as exc:
        if exc.status in (401, 403, 404):
            raise refusal(refused, field=field) from None
        if exc.status == 429 or exc.status >= 500:
            log.warning("Twilio answered HTTP %s to an ownership check", exc.status)
            raise TwilioUnavailable(f"Twilio answered HTTP {exc.status}; nothing was saved. Try again shortly.",
                                    field=field) from None
        raise DomainError(f"Twilio refused the check (HTTP {exc.status}, code {exc.code}).", field=field) from None
    except (requests.RequestException, TwilioException) as exc:
        log.warning("Twilio could not be reached for an ownership check: %s", type(exc).__name__)
        raise TwilioUnavailable("Twilio could not be reached to check this; nothing was saved. Try again shortly.",
                                field=field) from None


def verify_credentials(account_sid, auth_token):
    """Twilio accepts these credentials for this account, and the account is active. Returns a
    client for them."""
    client = _client(account_sid, auth_token)
    account = _ask(lambda: client.api.v2010.accounts(account_sid).fetch(), field="twilio_account_sid",
                   refused="Twilio did not accept this Account SID with this auth token.")
    if account.status != "active":
        raise DomainError(f"This Twilio account is {account.status}, not active.", field="twilio_account_sid")
    return client


def has_number(client, account_sid, number, *, field, whose="this Twilio account", refusal=DomainError):
    """Is `number` (E.164) one of the account's incoming phone numbers?"""
    found = _ask(lambda: client.api.v2010.accounts(account_sid).incoming_phone_numbers.list(
        phone_number=number, limit=20), field=field, refusal=refusal,
        refused=f"Twilio did not let us list the numbers of {whose}.")
    return any(n.phone_number == number for n in found)


# --- an organisation's own Twilio account ---------------------------------------------------------------


def _stored(own):
    if own is None:
        return "", "", ""
    try:
        token = own.twilio_auth_token
    except ValueError:  # a rotated-out key: the stored token is as good as none
        token = ""
    return own.twilio_account_sid, token, own.twilio_from_number


def verify_provider_change(tenant, *, account_sid=None, auth_token=None, from_number=None, clear=False):
    """Before an organisation's own Twilio credentials are stored: the values they will have after
    the change (write-only token: the stored one unless a new one is given) are proven with Twilio
    when they differ from what is stored. Incomplete sets are left to the caller's check."""
    stored = _stored(ProviderSettings.objects.filter(tenant=tenant).first())
    sid, token, number = ("", "", "") if clear else stored
    if account_sid is not None:
        sid = account_sid.strip()
    if auth_token:
        token = auth_token.strip()
    if from_number is not None:
        number = from_number.strip()
    if not (sid and token and number) or (sid, token, number) == stored:
        return
    client = verify_credentials(sid, token)
    if not has_number(client, sid, number, field="twilio_from_number"):
        raise DomainError(f"{number} is not a phone number of this Twilio account (Twilio console → Phone numbers).",
                          field="twilio_from_number")


# --- numbers of SMS alert sources -----------------------------------------------------------------------


def _receiving_accounts(tenant):
    """[(account_sid, auth_token, whose, what a refusal raises)] of the accounts whose numbers an
    organisation's SMS sources may take: its own Twilio account, if it has one, and the platform's.
    Empty with no Twilio configured."""
    accounts = []
    own = ProviderSettings.objects.filter(tenant=tenant).first()
    if own is not None and own.twilio_configured and own.twilio_account_sid != settings.TWILIO_ACCOUNT_SID:
        sid, token, _number = _stored(own)
        if token:  # a token that cannot be read any more proves nothing
            accounts.append((sid, token, "your Twilio account", DomainError))
    if settings.TWILIO_ACCOUNT_SID and settings.TWILIO_AUTH_TOKEN:
        # Twilio refusing the platform's own credentials is the operator's problem, not the user's.
        accounts.append((settings.TWILIO_ACCOUNT_SID, settings.TWILIO_AUTH_TOKEN, "the platform's Twilio account",
                         TwilioUnavailable))
    elif (settings.TWILIO_ACCOUNT_SID or settings.TWILIO_AUTH_TOKEN) and not accounts:
        missing = "TWILIO_AUTH_TOKEN" if settings.TWILIO_ACCOUNT_SID else "TWILIO_ACCOUNT_SID"
        raise TwilioUnavailable(f"The platform's Twilio account is configured without {missing}, so no number "
                                "can be checked; ask the operator.", field="options")
    return accounts


def _own_twilio_accounts_exist():
    return ProviderSettings.objects.exclude(twilio_account_sid="").exclude(twilio_auth_token_encrypted="").exists()


def verify_inbound_number(tenant, number):
    """An SMS alert source may take `number` only if it is an incoming number of an account whose
    messages reach the organisation (registered with alerts.inbound_numbers; uniqueness across
    organisations stays the database's)."""
    accounts = _receiving_accounts(tenant)
    if not accounts:
        if _own_twilio_accounts_exist():  # others prove their numbers: an unproven claim could squat one
            raise DomainError("options.phone_number: this organisation has no Twilio account to prove the number "
                              "with; add yours under Providers first.", field="options")
        log.info("SMS number %s accepted unchecked: no Twilio account is configured (dev outbox)", number)
        return
    unavailable = None
    for sid, token, whose, refusal in accounts:
        try:
            if has_number(_client(sid, token), sid, number, field="options", whose=whose, refusal=refusal):
                return
        except TwilioUnavailable as exc:  # the other account may still have it
            unavailable = exc
        except DomainError:  # Twilio refused the organisation's own stored token: not proven there
            log.warning("Twilio refused the stored credentials of tenant %s's own account", tenant.pk)
    if unavailable is not None:
        raise unavailable
    whose = " or ".join(account[2] for account in accounts)
    raise DomainError(f"options.phone_number: {number} is not a phone number of {whose} "
                      "(Twilio console → Phone numbers).", field="options")
