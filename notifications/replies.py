"""Answers on the channel a page came by: SMS replies, voice keypresses, push actions, email links
and email replies. Every surface — the real provider webhooks and the dev outbox simulation — ends
here, and every change goes through alerts.services (accept / resolve / escalate, with `via`).
"""

import hashlib
import logging
import re
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import transaction

from alerts import selectors as alert_selectors
from alerts import services as alert_services
from alerts.models import Incident
from ilert import clock, inbound_mail, replay
from ilert.errors import DomainError

from . import channels, text, tokens
from .models import ContactMethod, Notification
from .services import contact_methods

EMAIL = "email"  # email replies answer pages sent by email
SMS = "sms"  # SMS answers reach pages sent by SMS (and, by code or number, any page to that number)

log = logging.getLogger(__name__)

VERBS = {
    "a": "accept", "ack": "accept", "accept": "accept", "acknowledge": "accept",
    "r": "resolve", "resolve": "resolve", "resolved": "resolve",
    "e": "escalate", "escalate": "escalate",
}
DONE_WORDS = {"accept": "accepted", "resolve": "resolved", "escalate": "escalated"}
KEYS = {"1": "accept", "2": "resolve", "3": "escalate"}
STOP_WORDS = {"stop", "stopall", "unsubscribe", "cancel", "end", "quit", "revoke", "optout"}
START_WORDS = {"start", "unstop", "yes"}
HELP_WORDS = {"help", "info"}
# "12a" (the code from the page), "#4711a" (the incident number), or a bare "a".
SMS_ANSWER = re.compile(r"^\s*(#)?\s*(\d{1,9})?\s*([a-z]+)\s*[.!]*\s*$")
HOW_TO = "Reply e.g. 12a to accept, 12r to resolve, 12e to escalate."


def _who(user, via=""):
    return user.display_name if user is not None else "an integration"


def act(incident, user, action, *, via):
    """Carry out an answer as `user`; the sentence that confirms it or explains why not."""
    incident = Incident.objects.select_related("accepted_by", "resolved_by").get(pk=incident.pk)
    label = f"#{incident.number}"
    if not user.is_active or not user.can_write:
        return f"{label}: your role does not allow answering incidents."
    if incident.status == Incident.Status.RESOLVED:
        return f"{label} was already resolved by {_who(incident.resolved_by)}."
    if action == "accept" and incident.status == Incident.Status.ACCEPTED:
        if incident.accepted_by_id == user.pk:
            return f"{label} is already accepted by you."
        return f"{label} was already accepted by {_who(incident.accepted_by)}."
    do = {"accept": alert_services.accept, "resolve": alert_services.resolve, "escalate": alert_services.escalate}
    try:
        do[action](incident, by=user, via=via)
    except DomainError as exc:
        return exc.message
    return f"{label} {DONE_WORDS[action]}."


def _items(notification):
    """The notification and the pages bundled into its message."""
    lead = notification.bundle or notification
    rows = [lead] + list(lead.bundled.all().order_by("id"))
    return [row for row in rows if row.incident_id]


def act_on_notification(notification, action, *, via):
    """An answer to a (possibly bundled) page: applies to every incident it carried."""
    if notification.kind != Notification.Kind.PAGE:
        return "There is nothing to answer in this message."
    answers = [act(row.incident, row.user, action, via=via) for row in _items(notification)]
    return " ".join(answers)


# --- SMS ---------------------------------------------------------------------------------------------


def _senders(number, tenants):
    """Verified phone contact methods for a number, in the organisations `tenants` allows."""
    return list(ContactMethod.objects.filter(
        tenants, kind__in=channels.phone_channels(), address=number, verified_at__isnull=False,
        user__is_active=True,
    ).select_related("user"))


def handle_sms(from_number, body, *, tenants):
    """An SMS answer from `from_number`. Returns the reply to send back ("" for none).

    `tenants` (a filter on tenant_id) says which organisations the answer may reach: those the
    Twilio account that received it serves (providers.WebhookAccount.tenants), or, in the dev
    outbox, the simulating user's own. Senders, pages and STOP/START stay inside it."""
    number = text.normalize_phone((from_number or "").strip())
    words = " ".join((body or "").lower().split())
    if words in STOP_WORDS:
        contact_methods.set_opted_out(number, True, tenants=tenants)
        return ""  # the carrier / Twilio confirms STOP itself
    if words in START_WORDS:
        contact_methods.set_opted_out(number, False, tenants=tenants)
        return "ilert: SMS pages to this number are on again."
    if words in HELP_WORDS:
        return f"ilert alerts. {HOW_TO} A bare a, r or e answers the latest page. STOP ends SMS pages."
    senders = _senders(number, tenants)
    users = {method.user_id: method.user for method in senders}
    if not users:
        return "ilert: this number is not a verified contact method of any ilert user."
    match = SMS_ANSWER.match(words)
    verb = VERBS.get(match.group(3)) if match else None
    if verb is None:
        return f"ilert: unknown answer. {HOW_TO}"
    by_number, number_or_code = bool(match.group(1)), match.group(2)
    pages = Notification.objects.filter(tenants, user_id__in=users, kind=Notification.Kind.PAGE).select_related(
        "incident", "user", "bundle")
    if number_or_code and by_number:
        page = pages.filter(incident__number=int(number_or_code)).order_by("-created_at", "-id").first()
        if page is None:
            return f"ilert: no page about #{number_or_code} was sent to you. {HOW_TO}"
        return act(page.incident, page.user, verb, via="sms")
    if number_or_code:
        matching = pages.filter(reply_code=int(number_or_code)).order_by("-created_at", "-id")
        page = matching.first()
        if page is None:
            return f"ilert: unknown code {number_or_code}. {HOW_TO}"
        open_ones = sorted({p.incident.number for p in matching.filter(incident__status__in=Incident.OPEN)})
        if len(open_ones) > 1:  # a safety net: paging a user takes turns, so codes of open incidents differ
            listed = " and ".join(f"#{n}" for n in open_ones)
            return (f"ilert: code {number_or_code} is used by {listed}; answer with the incident number, "
                    f"e.g. #{open_ones[0]}{verb[0]}.")
        return act(page.incident, page.user, verb, via="sms")
    latest = (pages.filter(channel=SMS, address=number, status__in=Notification.WENT_OUT)
              .order_by("-claimed_at", "-id").first())
    if latest is None:
        return f"ilert: there is no page to answer. {HOW_TO}"
    return act_on_notification(latest, verb, via="sms")


# --- voice ------------------------------------------------------------------------------------------


@dataclass
class KeyAnswer:
    say: str
    again: bool  # read the incident and the menu again


def handle_keypress(notification, digits):
    digits = (digits or "").strip()
    if digits == "*":
        return KeyAnswer("", again=True)
    action = KEYS.get(digits)
    if action is None or notification.kind != Notification.Kind.PAGE:
        return KeyAnswer("Sorry, that key does nothing.", again=True)
    return KeyAnswer(act_on_notification(notification, action, via="voice") + " Goodbye.", again=False)


# --- push ------------------------------------------------------------------------------------------


def handle_push_action(token, action):
    """(HTTP status, message) for an action the app sends with the signed token of the push."""
    if action not in tokens.ACTIONS:
        return 400, "action must be accept, resolve or escalate."
    pk = tokens.read_push_action(token or "")
    notification = Notification.objects.select_related("user", "incident").filter(pk=pk).first() if pk else None
    if notification is None:
        return 403, "The action token is invalid or has expired."
    # One action per push: a captured request sent again must not escalate again and again. The
    # token is spent in the transaction that acts, so a failure leaves it usable.
    now = clock.now()
    with transaction.atomic():
        if not replay.first_time("push-action", hashlib.sha256(token.encode()).hexdigest(), now=now,
                                 until=now + timedelta(seconds=settings.NOTIFICATION_ACTION_MAX_AGE_SECONDS)):
            return 409, "An action was already taken from this notification."
        return 200, act_on_notification(notification, action, via="push")


# --- email ------------------------------------------------------------------------------------------


def first_line_verb(body):
    """accept / resolve / escalate from the first non-empty line ("ack", "Accept.", "resolve pls")."""
    for line in (body or "").splitlines():
        words = line.strip().lower().replace(".", " ").replace("!", " ").split()
        if words:
            word = words[0]
            return VERBS.get(word) if len(word) > 1 else None
    return None


def handle_email_reply(notification, sender, body):
    """A reply to a notification email: the first line says what to do; the sender must be a verified
    address of the paged user. Returns the outcome sentence, or None when the mail is not for us."""
    sender = (sender or "").strip().lower()
    user = notification.user
    allowed = {notification.address.lower()} | set(
        ContactMethod.objects.filter(user=user, kind=EMAIL, verified_at__isnull=False)
        .values_list("address", flat=True)
    )
    if sender not in allowed:
        log.info("email reply to notification %s from an unverified sender ignored", notification.pk)
        return "The sender is not a verified address of the paged user."
    verb = first_line_verb(body)
    if verb is None:
        return "Write accept, resolve or escalate on the first line."
    return act_on_notification(notification, verb, via="email")


def _reject(message, esp_name, why):
    """Mail nobody handles is refused loudly, never silently eaten (this receiver sees every mail)."""
    sender = message.from_email.addr_spec if message.from_email else (message.envelope_sender or "?")
    to = ", ".join(a.addr_spec for a in (message.to or [])) or (message.envelope_recipient or "?")
    log.warning("inbound email via %s from %s to %s rejected: %s (subject %r)", esp_name or "?", sender, to, why,
                (message.subject or "")[:120])


def on_inbound_email(sender, event, esp_name="", **kwargs):
    """anymail's `inbound` signal. Only replies to notification emails are ours (addressed to
    reply+<token>@INBOUND_EMAIL_DOMAIN, or In-Reply-To one of our Message-IDs); all other mail —
    e.g. to email alert sources — is left to its own receiver."""
    message = event.message
    if message is None:
        return
    recipients = [message.envelope_recipient or ""] + [a.addr_spec for a in (message.to or []) + (message.cc or [])]
    found = [token for token in map(tokens.token_from_reply_address, recipients) if token]
    if not found:
        if alert_selectors.email_sources_for(message):
            return  # addressed to an email alert source: the alerts app handles it
        found = tokens.tokens_from_references(f"{message.get('In-Reply-To', '')} {message.get('References', '')}")
        if not found:
            return _reject(message, esp_name, "it is addressed to no alert source and replies to no notification")
    notification = Notification.objects.select_related("user", "incident").filter(
        token__in=found, channel=EMAIL).first()
    if notification is None:
        return _reject(message, esp_name, "its reply address names no notification")
    sender_address = message.from_email.addr_spec if message.from_email else ""
    body = message.stripped_text or inbound_mail.text(message) or ""
    outcome = handle_email_reply(notification, sender_address, body)
    log.info("email reply to notification %s: %s", notification.pk, outcome)
