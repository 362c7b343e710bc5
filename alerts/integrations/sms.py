"""Inbound SMS through Twilio: POST /integrations/twilio/sms (Twilio's "A message comes in"
webhook of the phone number).

Every request must carry a valid X-Twilio-Signature, checked with twilio's RequestValidator over
exactly the URL Twilio called (request.build_absolute_uri(): set TRUST_X_FORWARDED_PROTO behind a
TLS proxy) and whatever form parameters arrived, with the token of the account its AccountSid names:
an organisation's own Twilio account (notifications registers the lookup in alerts.inbound_numbers),
else the platform's TWILIO_AUTH_TOKEN. A forged or missing signature (or no token configured) is 403
and changes nothing; so is a message signed by one organisation's account to another's number.
NUL characters are dropped from the parameters before anything reads them (twilio_signature.webhook;
the signature is still checked over what Twilio sent).

The number the SMS was sent to (`To`) selects the SMS alert source whose options say
`{"phone_number": "+4930…"}` (E.164; one source per number across all tenants, held by the unique
column AlertSource.inbound_number); its `allowed_senders` (E.164 numbers, or "*" for
anyone) say who may open incidents: nobody until set. The text becomes the summary of a new
incident. Answers 200 with an empty TwiML <Response/> (no reply SMS); unknown number 404, sender
not allowed 403, disabled source 403, rate-limited 429 with Retry-After; a MessageSid already
taken (a Twilio retry, a replay) 200 and nothing else (ilert/replay.py). The notifications app
has its own reply webhook at another URL; this one only serves SMS alert sources.
"""

import logging

import phonenumbers
from django import forms
from django.conf import settings
from django.db import transaction
from django.http import HttpResponse
from django.urls import path
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from ilert import replay, twilio_signature
from ilert.errors import DomainError

from .. import inbound_numbers
from ..ingest import EventType, InboundEvent
from ..models import AlertSource
from . import base
from .settings_form import LinesField, SettingsForm
from .spec import InboundIntegration

log = logging.getLogger(__name__)

NAME = "sms"
EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response></Response>'


def e164(value):
    """The number in E.164, or None when it is not a valid phone number."""
    if not isinstance(value, str) or not value.strip() or len(value) > 40:
        return None
    try:
        number = phonenumbers.parse(value.strip(), None)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def clean_options(options, source=None):
    number = options.get("phone_number")
    if number in (None, ""):
        options.pop("phone_number", None)
    else:
        normalized = e164(number)
        if normalized is None:
            raise DomainError("options.phone_number must be a valid phone number in E.164 form, e.g. +4930123456.",
                              field="options")
        # One source per number across all tenants: the unique AlertSource.inbound_number, set by
        # alerts.services when it saves these options (a conflict there is a 409).
        options["phone_number"] = normalized
    senders = options.get("allowed_senders")
    if senders in (None, "", []):
        options.pop("allowed_senders", None)
        return options
    if isinstance(senders, str):
        senders = [s for s in senders.replace(";", ",").replace("\n", ",").split(",")]
    if not isinstance(senders, list) or not all(isinstance(s, str) for s in senders):
        raise DomainError("options.allowed_senders must be a list of phone numbers.", field="options")
    cleaned = []
    for sender in (s.strip() for s in senders):
        if not sender:
            continue
        normalized = "*" if sender == "*" else e164(sender)
        if normalized is None:
            raise DomainError(f"options.allowed_senders: {sender!r} is not a valid phone number (E.164).",
                              field="options")
        cleaned.append(normalized)
    options["allowed_senders"] = cleaned[:100]
    return options


def sender_allowed(source, sender):
    allowed = (source.options or {}).get("allowed_senders") or []
    return "*" in allowed or (sender is not None and sender in allowed)


def _forbidden(message):
    return HttpResponse(message, status=403, content_type="text/plain")


UNSIGNED = object()


def signer(request):
    """Who signed the request: the organisation whose own Twilio account it names (by AccountSid,
    checked with that account's token only), None for the platform's account (TWILIO_AUTH_TOKEN),
    or UNSIGNED when no known token validates it."""
    account = inbound_numbers.webhook_account(request.POST.get("AccountSid", ""))
    token, owner = account if account is not None else (getattr(settings, "TWILIO_AUTH_TOKEN", ""), None)
    if not token:
        log.error("inbound SMS refused: TWILIO_AUTH_TOKEN is not configured")
        return UNSIGNED
    return owner if twilio_signature.signed_by(request, token) else UNSIGNED


def message_event(post, sender, to):
    """The event of one inbound SMS: Twilio's form fields, its sender and number in E.164."""
    text = " ".join(post.get("Body", "").split())
    return InboundEvent(
        event_type=EventType.ALERT, summary=text or f"Empty SMS from {sender}",
        details=f"SMS from {sender} to {to}.", labels={"from": sender, "to": to},
        custom_details={"from": sender, "to": to, "message_sid": post.get("MessageSid", "")[:64]},
        via="sms",
    )


@csrf_exempt
@require_POST
@twilio_signature.webhook  # request.POST without NUL characters from here on
def receive(request):
    owner = signer(request)
    if owner is UNSIGNED:
        log.warning("inbound SMS refused: missing or invalid X-Twilio-Signature")
        return _forbidden("Invalid or missing X-Twilio-Signature.")
    to, sender = e164(request.POST.get("To")), e164(request.POST.get("From"))
    source = AlertSource.objects.filter(integration_type=NAME, inbound_number=to).first() if to else None
    if source is None:
        log.warning("inbound SMS to a number that belongs to no SMS alert source")
        return HttpResponse("No SMS alert source owns this number.", status=404, content_type="text/plain")
    if owner is not None and owner != source.tenant_id:  # an organisation's account speaks for its numbers only
        log.warning("inbound SMS to alert source %s refused: signed by another organisation's Twilio account",
                    source.pk)
        return _forbidden("This message was not sent through the account that owns this number.")
    if not sender_allowed(source, sender):
        log.warning("inbound SMS to alert source %s (tenant %s) rejected: sender %s is not allowed",
                    source.pk, source.tenant_id, sender or "(invalid number)")
        return _forbidden("This sender may not open incidents on this alert source.")
    if not source.is_active:
        log.warning("inbound SMS to alert source %s rejected: the source is disabled", source.pk)
        return _forbidden("The alert source is disabled.")
    event = message_event(request.POST, sender, to)
    try:
        # Twilio may deliver a message twice (retries, a fallback URL), and a signed request can be
        # sent again by whoever saw it: one incident per MessageSid. The id is remembered in the
        # transaction that opens the incident, so a delivery that failed can still be retried.
        with transaction.atomic():
            if not replay.first_time("twilio-message", request.POST.get("MessageSid", "")):
                log.info("inbound SMS to alert source %s: message already taken; nothing done", source.pk)
                return HttpResponse(EMPTY_TWIML, content_type="text/xml")
            base.rate_limit(source.key_hash, "messages")
            (result,) = base.ingest_all(source, [event])
    except base.Reject as reject:
        return reject.response()
    log.info("inbound SMS → alert source %s: %s", source.pk, result.code)
    return HttpResponse(EMPTY_TWIML, content_type="text/xml")


class SmsSettings(SettingsForm):
    phone_number = forms.CharField(required=False, max_length=40, label="Twilio phone number (E.164)",
                                   help_text="The number people text, e.g. +4930123456.")
    allowed_senders = LinesField(required=False, label="Allowed senders",
                                 help_text="E.164 numbers, one per line; * allows anyone. Empty: nobody.")


def setup(links):
    return {"sms_url": links.url("alerts:sms")}


INTEGRATION = InboundIntegration(
    name=NAME, label="SMS", setup_template="alerts/integrations/sms.html", setup=setup, parse=message_event,
    settings_form=SmsSettings, clean_options=clean_options,
    urls=[path("integrations/twilio/sms", receive, name="sms")],
)
