"""Which channels this deployment can deliver on, so that a missing provider is said out loud
(the startup log, /readyz, a banner for admins) instead of mail silently going nowhere.

Platform-wide, from settings alone: an organisation may still bring its own Twilio or Firebase
credentials (the notifications app uses those first).
"""

import logging

from django.conf import settings

log = logging.getLogger("ilert.delivery")

PROVIDER, DEV_OUTBOX, NOT_CONFIGURED = "provider", "dev_outbox", "not_configured"


def _fallback():
    return DEV_OUTBOX if settings.DEV_OUTBOX else NOT_CONFIGURED


def email_state():
    if settings.EMAIL_BACKEND == settings.DEV_EMAIL_BACKEND:
        return DEV_OUTBOX
    if settings.EMAIL_BACKEND == settings.UNCONFIGURED_EMAIL_BACKEND:
        return NOT_CONFIGURED
    return PROVIDER


def states():
    twilio = settings.TWILIO_ACCOUNT_SID and settings.TWILIO_AUTH_TOKEN and settings.TWILIO_FROM_NUMBER
    return {
        "email": email_state(),
        "sms": PROVIDER if twilio else _fallback(),
        "voice": PROVIDER if twilio else _fallback(),
        "push": PROVIDER if settings.FIREBASE_CREDENTIALS_FILE else _fallback(),
    }


EMAIL_WARNING = ("Email is not configured: invitations, password resets and email pages cannot be sent. "
                 "Set EMAIL_BACKEND (and its ANYMAIL_* credentials), see docs/configuration.md.")


def admin_warnings():
    """What the dashboard tells admins on every page."""
    return [EMAIL_WARNING] if email_state() == NOT_CONFIGURED else []


def log_at_startup():
    current = states()
    missing = sorted(channel for channel, state in current.items() if state == NOT_CONFIGURED)
    if "email" in missing:
        log.error(EMAIL_WARNING)
    others = [c for c in missing if c != "email"]
    if others:
        log.warning("No platform provider for %s and the dev outbox is off: those steps fail (and fall back to "
                    "the user's next step) unless an organisation configures its own provider.", ", ".join(others))
    if settings.DEV_OUTBOX and not settings.DEBUG:
        log.warning("DEV_OUTBOX is on: messages without a provider are kept in the dashboard's dev outbox. "
                    "Development and demos only.")
