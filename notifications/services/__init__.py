"""Every change to contact methods, notification rules, settings and the notification outbox, one
module per concern:

    access              who may change whose settings
    contact_methods     add / change / remove / verify contact methods; STOP and START
    push_subscriptions  Web Push subscriptions of browsers (added, refreshed, gone)
    rules               notification rules, settings, and which steps page a user
    outbox              notify / notify_many (the escalation engine's door), cancel_pending, kick
    reply_codes         the short codes SMS pages are answered with
    notices             notices and reminders to the user's notice target
    receivers           what happens when an incident changes (alerts.events.incident_changed)
    provider_settings   a tenant's own Twilio / Firebase credentials

The names below are the package's public doors (other apps and the views import them from here).
"""

from .access import can_manage, check_can_manage
from .contact_methods import (
    add_contact_method,
    confirm_code,
    delete_contact_method,
    send_verification,
    set_opted_out,
    update_contact_method,
    verify_email,
)
from .notices import notice_target, queue_message, queue_notices
from .outbox import cancel_pending, notify, notify_many
from .provider_settings import save_provider_settings
from .push_subscriptions import dismiss_notice, renew_webpush, subscribe_webpush, webpush_subscription_gone
from .receivers import on_incident_changed
from .reply_codes import release_reply_codes
from .rules import (
    add_rule,
    default_steps,
    delete_rule,
    settings_for,
    steps_for,
    update_rule,
    update_settings,
)

__all__ = [
    "add_contact_method", "add_rule", "can_manage", "cancel_pending", "check_can_manage", "confirm_code",
    "default_steps", "delete_contact_method", "delete_rule", "dismiss_notice", "notice_target", "notify",
    "notify_many", "on_incident_changed", "queue_message", "queue_notices", "release_reply_codes",
    "save_provider_settings", "send_verification", "set_opted_out", "settings_for", "steps_for",
    "renew_webpush", "subscribe_webpush", "update_contact_method", "update_rule", "update_settings", "verify_email",
    "webpush_subscription_gone",
]
