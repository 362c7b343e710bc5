"""Signed tokens for answering without logging in: one-click email links and push actions. They are
signed (SECRET_KEY), name one notification (and so one user and one incident) and expire after
NOTIFICATION_ACTION_MAX_AGE_SECONDS. Email replies and Twilio webhooks use the notification's random
`token` instead (Twilio's own signature, or a verified sender, authenticates those)."""

import re

from django.conf import settings
from django.core import signing
from django.urls import reverse

ACTIONS = ("accept", "resolve", "escalate")
_EMAIL_SALT = "notifications.email-action"
_PUSH_SALT = "notifications.push-action"
_VERIFY_SALT = "notifications.verify-email"
REPLY_LOCAL = "reply+"
_MESSAGE_ID = re.compile(r"<ilert\.([a-z2-7]{20})@", re.I)


def email_action_token(notification, action):
    return signing.dumps({"n": notification.pk, "a": action}, salt=_EMAIL_SALT, compress=True)


def email_action_url(notification, action):
    return settings.SITE_URL + reverse("notifications:email-action", args=[email_action_token(notification, action)])


def read_email_action(token):
    """(notification id, action) or None when forged or expired."""
    try:
        data = signing.loads(token, salt=_EMAIL_SALT, max_age=settings.NOTIFICATION_ACTION_MAX_AGE_SECONDS)
    except signing.BadSignature:
        return None
    if not isinstance(data, dict) or data.get("a") not in ACTIONS or not isinstance(data.get("n"), int):
        return None
    return data["n"], data["a"]


def push_action_token(notification):
    return signing.dumps({"n": notification.pk}, salt=_PUSH_SALT, compress=True)


def read_push_action(token):
    try:
        data = signing.loads(token, salt=_PUSH_SALT, max_age=settings.NOTIFICATION_ACTION_MAX_AGE_SECONDS)
    except (signing.BadSignature, TypeError):
        return None
    return data.get("n") if isinstance(data, dict) and isinstance(data.get("n"), int) else None


def verify_email_token(contact_method):
    return signing.dumps({"c": contact_method.pk, "a": contact_method.address}, salt=_VERIFY_SALT, compress=True)


def read_verify_email(token, max_age=3 * 24 * 3600):
    try:
        data = signing.loads(token, salt=_VERIFY_SALT, max_age=max_age)
    except signing.BadSignature:
        return None
    return data if isinstance(data, dict) else None


def reply_address(notification):
    """Reply-To of a notification email, or "" when no inbound domain is configured."""
    domain = settings.INBOUND_EMAIL_DOMAIN
    return f"{REPLY_LOCAL}{notification.token}@{domain}" if domain else ""


def message_id(notification):
    domain = settings.INBOUND_EMAIL_DOMAIN or "ilert.invalid"
    return f"<ilert.{notification.token}@{domain}>"


def token_from_reply_address(address):
    """The notification token in reply+<token>@INBOUND_EMAIL_DOMAIN, or None for any other address."""
    domain = settings.INBOUND_EMAIL_DOMAIN
    if not domain or not address:
        return None
    local, _, host = address.strip().lower().rpartition("@")
    if host != domain.lower() or not local.startswith(REPLY_LOCAL):
        return None
    token = local[len(REPLY_LOCAL):]
    return token if re.fullmatch(r"[a-z2-7]{20}", token) else None


def tokens_from_references(header_value):
    return [m.lower() for m in _MESSAGE_ID.findall(header_value or "")]
