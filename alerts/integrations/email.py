"""Inbound email: every email alert source has the address `<integration key>@<INBOUND_EMAIL_DOMAIN>`.

Mail arrives through django-anymail's inbound webhooks (the ESP receives it and POSTs it to us):

    /anymail/mailgun/inbound/  (or /anymail/mailgun/inbound_mime/)   signature checked with
                                   ANYMAIL_MAILGUN_WEBHOOK_SIGNING_KEY (+ basic auth if set)
    /anymail/sendgrid/inbound/     basic auth: ANYMAIL_WEBHOOK_SECRET ("user:password")
    /anymail/postmark/inbound/     basic auth: ANYMAIL_WEBHOOK_SECRET

An endpoint whose secret is not configured refuses every request (403): inbound mail is never
accepted unauthenticated. A delivery is acted on once: Mailgun's signed timestamp must be at most
WEBHOOK_MAX_AGE_SECONDS old (else 406) and a token (Postmark: a MessageID) seen before answers 200
and does nothing (ilert/replay.py). Subject → summary, text body → details (HTML stripped when there is
no text part; a body part that cannot be decoded counts as absent, ilert/inbound_mail.py). Per-source
rules in AlertSource.options:

    {"resolve_regex": "…",        # matches subject or body → RESOLVE instead of ALERT
     "key_regex": "…",            # incident key: group 1 (or the whole match) in subject, else body
     "allowed_senders": ["ops@example.com", "@monitoring.example.com"]}   # empty: anyone

THE RULE SHARED WITH THE NOTIFICATIONS APP: alerts connects exactly ONE receiver to anymail's
`inbound` signal (`on_inbound`, connected in AlertsConfig.ready). It acts only on mail addressed to
an alert-source address (local part = the integration key of an email alert source, domain =
INBOUND_EMAIL_DOMAIN). Every other mail is left alone — not rejected, logged at DEBUG only — so
other receivers (email replies to notifications) can handle it. Mail that is addressed to an
alert-source address but fails its rules (sender not allowed, source disabled, a resolve without
a key) is rejected and logged at WARNING, never silently eaten.
"""

import json
import logging
import re

import html2text
import regex
from anymail.exceptions import AnymailError, AnymailWebhookValidationFailure
from anymail.utils import get_anymail_setting
from anymail.webhooks.mailgun import MailgunInboundWebhookView
from anymail.webhooks.postmark import PostmarkInboundWebhookView
from anymail.webhooks.sendgrid import SendGridInboundWebhookView
from django import forms
from django.conf import settings
from django.db import Error as DatabaseError
from django.db import transaction
from django.http import JsonResponse
from django.urls import path, re_path
from django.views.decorators.csrf import csrf_exempt

from ilert import clock, inbound_mail, replay, secrets
from ilert.errors import DomainError

from .. import selectors, services
from ..ingest import EventType, InboundEvent
from ..models import AlertSource
from . import base
from .settings_form import LinesField, SettingsForm
from .spec import InboundIntegration

log = logging.getLogger(__name__)

NAME = "email"
REGEX_MAX = 500
MATCH_TEXT_MAX = 20_000  # rules look at the subject and the first 20,000 characters of the body
# Rules are tenant-supplied regular expressions run inside the webhook request: each match gets a
# time limit (the `regex` package; `re` has none), and a rule that runs out counts as no match.
MATCH_TIMEOUT = 0.25  # seconds
_ADDRESS = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_DOMAIN = re.compile(r"^@?[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+$")


# --- options -----------------------------------------------------------------------------------


def clean_options(options, source=None):
    for name in ("resolve_regex", "key_regex"):
        value = options.get(name)
        if value in (None, ""):
            options.pop(name, None)
            continue
        if not isinstance(value, str) or len(value) > REGEX_MAX:
            raise DomainError(f"options.{name} must be a regular expression of at most {REGEX_MAX} characters.",
                              field="options")
        try:
            regex.compile(value)
        except regex.error as exc:
            raise DomainError(f"options.{name} is not a valid regular expression: {exc}", field="options") from None
    senders = options.get("allowed_senders")
    if senders in (None, "", []):
        options.pop("allowed_senders", None)
        return options
    if isinstance(senders, str):
        senders = re.split(r"[\s,;]+", senders)
    if not isinstance(senders, list) or not all(isinstance(s, str) for s in senders):
        raise DomainError("options.allowed_senders must be a list of addresses or domains.", field="options")
    cleaned = []
    for sender in (s.strip().lower() for s in senders):
        if not sender:
            continue
        if not (_ADDRESS.match(sender) or _DOMAIN.match(sender)):
            raise DomainError(f"options.allowed_senders: {sender!r} is neither an email address nor a domain.",
                              field="options")
        cleaned.append(sender.lstrip("@") if "@" not in sender.lstrip("@") else sender)
    options["allowed_senders"] = cleaned[:100]
    return options


def sender_allowed(sender, allowed):
    if not allowed:
        return True
    sender = (sender or "").strip().lower()
    domain = sender.rpartition("@")[2]
    return any(sender == rule if "@" in rule else (domain == rule or domain.endswith("." + rule)) for rule in allowed)


def address_for(source):
    return f"{source.integration_key}@{settings.INBOUND_EMAIL_DOMAIN}"


# --- the signal receiver -------------------------------------------------------------------------


def _recipients(message):
    seen = []
    candidates = [message.envelope_recipient or ""]
    for header in ("To", "Cc", "Bcc", "Delivered-To", "X-Original-To"):
        candidates += [a.addr_spec for a in message.get_address_header(header)]
    for address in candidates:
        address = (address or "").strip().strip("<>")
        if address and address not in seen:
            seen.append(address)
    return seen


def sources_for(message):
    """The email alert sources the message is addressed to (usually one)."""
    domain = settings.INBOUND_EMAIL_DOMAIN.lower()
    found = {}
    for address in _recipients(message):
        local, _, address_domain = address.rpartition("@")
        if address_domain.lower() != domain or not local:
            continue
        source = source_for_local_part(local)
        if source is not None:
            found[source.pk] = source
    return list(found.values())


def source_for_local_part(local):
    """The email alert source whose key is `local`, in its exact case or with its case folded (mail
    servers may lower- or upper-case an address on the way)."""
    source = selectors.source_for_key(local)
    if source is not None:
        return source if source.integration_type == NAME else None
    if len(local) > 200:
        return None
    folded = AlertSource.objects.select_related("tenant").filter(
        integration_type=NAME, folded_key_hash=secrets.lookup_hash(local.lower()))[:2]
    return folded[0] if len(folded) == 1 else None  # two keys equal but for case: never guess


def _body_text(message):
    text = inbound_mail.text(message)  # an unreadable part reads as None (ilert/inbound_mail.py)
    if text and text.strip():
        return text
    html = inbound_mail.html(message) or ""
    if not html:
        return ""
    converter = html2text.HTML2Text()
    converter.ignore_images = True
    converter.body_width = 0
    return converter.handle(html)


def _sender(message):
    sender = message.from_email
    if isinstance(sender, list):
        sender = sender[0] if sender else None
    return sender.addr_spec if sender is not None else (message.envelope_sender or "")


def _first_match(source, name, subject, body):
    """The first match of the source's rule `name` in the subject, else the body; None when there is
    none or when the rule took longer than MATCH_TIMEOUT (logged: the tenant should fix the rule)."""
    try:
        compiled = regex.compile(source.options[name])
        for text in (subject, body[:MATCH_TEXT_MAX]):
            match = compiled.search(text, timeout=MATCH_TIMEOUT)
            if match:
                return match
    except TimeoutError:
        log.warning("inbound email to alert source %s (tenant %s): the rule %s took too long (over %s s) and "
                    "counts as no match; simplify it", source.pk, source.tenant_id, name, MATCH_TIMEOUT)
    except regex.error:  # saved before the rules were checked with `regex`
        log.warning("inbound email to alert source %s (tenant %s): the rule %s is not a valid regular expression",
                    source.pk, source.tenant_id, name)
    return None


def event_for(source, message, esp_name):
    """The event an email makes, or None (with the reason logged) when the source's rules say no."""
    options = source.options or {}
    subject = " ".join((message.subject or "").split()) or "(no subject)"
    body = _body_text(message)
    key = ""
    if options.get("key_regex"):
        match = _first_match(source, "key_regex", subject, body)
        if match:
            key = (match.group(1) if match.groups() and match.group(1) else match.group(0)).strip()[:255]
    event_type = EventType.ALERT
    if options.get("resolve_regex") and _first_match(source, "resolve_regex", subject, body):
        event_type = EventType.RESOLVE
        if not key:
            log.warning("inbound email to alert source %s rejected: it matches the resolve rule but no incident "
                        "key was found (set key_regex)", source.pk)
            return None
    sender = _sender(message)
    return InboundEvent(
        event_type=event_type, summary=subject, details=body, incident_key=key,
        labels={"from": sender[:500]},
        custom_details={"from": sender, "subject": subject, "message_id": message.get("Message-ID", ""),
                        "esp": esp_name},
        via="email",
    )


def handle(source, message, esp_name):
    sender = _sender(message)
    if not sender_allowed(sender, (source.options or {}).get("allowed_senders")):
        log.warning("inbound email to alert source %s (tenant %s) rejected: sender %s is not allowed",
                    source.pk, source.tenant_id, sender)
        return None
    if not source.is_active:
        log.warning("inbound email to alert source %s (tenant %s) rejected: the source is disabled",
                    source.pk, source.tenant_id)
        return None
    base.rate_limit(source.key_hash, "emails")  # Reject(429): the webhook view answers it
    event = event_for(source, message, esp_name)
    if event is None:
        return None
    try:
        return services.ingest(source, event)
    except DomainError as exc:
        log.warning("inbound email to alert source %s rejected: %s", source.pk, exc.message)
        return None


def on_inbound(sender, event, esp_name, **kwargs):
    """anymail `inbound` receiver. Acts only on mail addressed to an email alert source's address
    (<integration key>@INBOUND_EMAIL_DOMAIN); every other mail is left alone for other receivers
    (e.g. notification replies) and logged at DEBUG only. See the module docstring."""
    message = event.message
    matched = sources_for(message) if message is not None else []
    if not matched:
        log.debug("inbound email via %s is not addressed to an alert source; left to other receivers", esp_name)
        return
    for source in matched:
        result = handle(source, message, esp_name)
        if result is not None:
            log.info("inbound email via %s → alert source %s: %s", esp_name, source.pk, result.code)


# --- the webhook endpoints -----------------------------------------------------------------------


def _configured(esp):
    if esp == "mailgun":
        key = get_anymail_setting("webhook_signing_key", esp_name="Mailgun", default=None) or get_anymail_setting(
            "api_key", esp_name="Mailgun", default=None, allow_bare=True)
        return bool(key)
    return bool(get_anymail_setting("webhook_secret", default=None))


# --- replays: a delivery is acted on once (ilert/replay.py, docs/replays.md) -------------------------


class MailgunInbound(MailgunInboundWebhookView):
    """Mailgun signs timestamp + token: beyond anymail's signature check, a stale timestamp is
    refused and a token already acted on is a replay (or Mailgun retrying a delivery we took)."""

    def validate_request(self, request):
        super().validate_request(request)  # basic auth (when set) and the signature
        if request.content_type == "application/json":
            signed = json.loads(request.body.decode("utf-8"))["signature"]
        else:
            signed = request.POST
        signed_at = replay.check_timestamp(signed["timestamp"])
        if not replay.first_time("mailgun", signed["token"], until=replay.remember_until(signed_at)):
            raise Replayed()


class PostmarkInbound(PostmarkInboundWebhookView):
    """Postmark (basic auth only) names each inbound message with a MessageID; a retry carries it
    again."""

    def validate_request(self, request):
        super().validate_request(request)
        message_id = json.loads(request.body.decode("utf-8")).get("MessageID")
        if isinstance(message_id, str) and not replay.first_time(
                "postmark", message_id, until=clock.now() + replay.window()):
            raise Replayed()


class Replayed(Exception):
    pass


def _guarded(view_class, esp):
    """anymail's inbound view, refusing to run unauthenticated (no secret configured: 403) and
    answering malformed ESP payloads with 400 instead of an error page. A database error stays a
    5xx, so the ESP retries later; over the rate limit answers 429 (ESPs retry those too)."""
    view = view_class.as_view()

    @csrf_exempt
    def guarded(request, *args, **kwargs):
        if not _configured(esp):
            log.error("inbound email via %s refused: its webhook secret is not configured", esp)
            setting = "ANYMAIL_MAILGUN_WEBHOOK_SIGNING_KEY" if esp == "mailgun" else "ANYMAIL_WEBHOOK_SECRET"
            return JsonResponse({"code": "not_configured", "message": f"Inbound email via {esp} is not set up: "
                                 f"set {setting}."}, status=403)
        try:
            # One transaction: a delivery's id is remembered only together with what the mail did,
            # so a failure (rolled back) leaves the ESP's retry free to go through.
            with transaction.atomic():
                return view(request, *args, **kwargs)
        except Replayed:
            log.info("inbound email via %s: a delivery already taken came again; nothing done", esp)
            return JsonResponse({"code": "duplicate", "message": "This delivery was already processed."})
        except replay.Stale as exc:  # 406: Mailgun does not retry it
            log.warning("inbound email webhook from %s refused: %s", esp, exc)
            return JsonResponse({"code": "stale", "message": str(exc)}, status=406)
        except base.Reject as reject:  # over the rate limit: ESPs retry a 429
            return reject.response()
        except DatabaseError:
            raise
        except AnymailWebhookValidationFailure:
            log.warning("inbound email webhook from %s refused: bad signature or basic auth", esp)
            return JsonResponse({"code": "forbidden", "message": "Invalid signature or credentials."}, status=400)
        except (AnymailError, KeyError, ValueError, TypeError, AttributeError, IndexError, LookupError) as exc:
            log.warning("malformed inbound email webhook from %s: %s", esp, exc.__class__.__name__)
            return JsonResponse({"code": "invalid", "message": f"Malformed {esp} inbound payload."}, status=400)

    return guarded


urlpatterns = [
    re_path(r"^anymail/mailgun/inbound(_mime)?/$", _guarded(MailgunInbound, "mailgun"),
            name="email-inbound-mailgun"),
    path("anymail/sendgrid/inbound/", _guarded(SendGridInboundWebhookView, "sendgrid"), name="email-inbound-sendgrid"),
    path("anymail/postmark/inbound/", _guarded(PostmarkInbound, "postmark"), name="email-inbound-postmark"),
]


class EmailSettings(SettingsForm):
    key_regex = forms.CharField(required=False, max_length=500, label="Incident key regex",
                                help_text="Group 1 (or the whole match) in the subject, else the body, "
                                          "becomes the incident key. Example: Host (\\S+) is")
    resolve_regex = forms.CharField(required=False, max_length=500, label="Resolve regex",
                                    help_text="Mail whose subject or body matches resolves the incident with the "
                                              "extracted key instead of alerting. Example: ^RECOVERY")
    allowed_senders = LinesField(required=False, label="Allowed senders",
                                 help_text="Addresses or domains, one per line. Empty: anyone.")


def setup(links):
    return {"email_address": f"{links.key}@{links.email_domain}"}


def paste(source, site):
    return {"url": address_for(source), "key": source.integration_key, "how": "send the mails to this address"}


INTEGRATION = InboundIntegration(
    name=NAME, label="Email", setup_template="alerts/integrations/email.html", setup=setup, parse=event_for,
    paste=paste, settings_form=EmailSettings, clean_options=clean_options, urls=urlpatterns,
)
