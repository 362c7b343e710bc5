"""Push through Firebase Cloud Messaging (firebase-admin): a notification plus data (incident,
actions, a signed action token), action buttons through the APNs category and the Android click
action, and critical-alert flags for HIGH priority. The app answers through /notifications/push/action.

FCM has no idempotency key and no way to ask whether a message was taken, so a push whose outcome
is unknown is marked uncertain and never re-sent (lookup is unsupported). Each message carries
apns-collapse-id / an Android tag of the notification, so even a duplicate would replace, not add.
"""

import warnings

from django.conf import settings
from django.urls import reverse
from firebase_admin import exceptions, messaging
from google.auth import exceptions as auth_exceptions

from alerts.selectors import incident_url
from ilert.errors import DomainError

from .. import providers, replies, tokens
from ..models import ContactMethod, Notification
from ..render import Rendered, headline
from . import dev
from .base import Channel, SendError, Sent, clean_token

CATEGORY = "ILERT_INCIDENT"


def render_push(notification, items):
    """What a push (FCM or Web Push) says: a title and a short text."""
    if notification.kind != Notification.Kind.PAGE:
        return Rendered(subject="ilert", text=notification.body[:500])
    if len(items) == 1:
        incident = notification.incident
        return Rendered(subject=f"{headline(incident)} · {incident.alert_source.name}"[:120],
                        text=incident.summary[:500])
    first = items[0].incident
    return Rendered(subject=f"{len(items)} new incidents", text=f"First: #{first.number} {first.summary}"[:500])


def build_message(notification, rendered, items):
    high = any(item.incident and item.incident.priority == "HIGH" for item in items)
    data = {
        "notification_id": str(notification.pk),
        "kind": notification.kind,
        "url": settings.SITE_URL + "/",
    }
    if notification.kind == "page":
        incident = notification.incident
        data.update({
            "incident_id": str(incident.pk),
            "incident_number": str(incident.number),
            "incident_ids": ",".join(str(item.incident_id) for item in items),
            "priority": incident.priority,
            "actions": "accept,resolve,escalate",
            "action_token": tokens.push_action_token(notification),
            "action_url": settings.SITE_URL + reverse("notifications:push-action"),
            "url": incident_url(incident),
        })
    sound = messaging.CriticalSound("default", critical=True, volume=1.0) if high else "default"
    aps = messaging.Aps(
        alert=messaging.ApsAlert(title=rendered.subject, body=rendered.text),
        sound=sound,
        category=CATEGORY if notification.kind == "page" else None,
        thread_id=f"incident-{notification.incident_id}" if notification.incident_id else None,
        custom_data={"interruption-level": "critical" if high else "active"},
    )
    with warnings.catch_warnings():
        # firebase-admin 7.7 prefers Firebase installation IDs (`fid`); apps register FCM
        # registration tokens, which FCM v1 still takes as `token`.
        warnings.simplefilter("ignore", DeprecationWarning)
        return _message(notification, rendered, data, high, aps)


def _message(notification, rendered, data, high, aps):
    return messaging.Message(
        token=notification.address,
        notification=messaging.Notification(title=rendered.subject, body=rendered.text),
        data=data,
        android=messaging.AndroidConfig(
            priority="high" if high or notification.kind == "page" else "normal",
            ttl=3600,
            notification=messaging.AndroidNotification(
                tag=notification.token,
                click_action=CATEGORY if notification.kind == "page" else None,
                channel_id="ilert_high" if high else "ilert_default",
                default_sound=True,
                priority="max" if high else "default",
            ),
        ),
        apns=messaging.APNSConfig(
            headers={"apns-priority": "10", "apns-push-type": "alert", "apns-collapse-id": notification.token},
            payload=messaging.APNSPayload(aps=aps),
        ),
    )


def _error(exc):
    if isinstance(exc, (messaging.UnregisteredError, messaging.SenderIdMismatchError)):
        return SendError(f"Push: {exc}", permanent=True, disable="The device is no longer registered.")
    if isinstance(exc, exceptions.DeadlineExceededError):
        return SendError(f"Push: FCM timed out; the outcome is unknown ({exc})", unknown=True)
    if isinstance(exc, (exceptions.InvalidArgumentError, exceptions.UnauthenticatedError,
                        exceptions.PermissionDeniedError, exceptions.NotFoundError,
                        messaging.ThirdPartyAuthError)):
        return SendError(f"Push: {exc}", permanent=True)
    if isinstance(exc, exceptions.FirebaseError):
        return SendError(f"Push: {exc}")
    if isinstance(exc, (auth_exceptions.TransportError, auth_exceptions.RefreshError)):
        return SendError(f"Push: could not get an access token ({exc})")
    return None


class PushChannel(Channel):
    name = "push"
    label = "Push"
    timeline_label = "Push"
    word = "push"
    service_word = "push"
    provider_labels = {"fcm": "Firebase"}
    throttle = (20, 15)
    notice_rank = 1
    verification = ""  # the app registers the device with the user's own credentials
    rerender = True

    def clean_address(self, address):
        return clean_token(address, "A Firebase registration token")

    def clean_platform(self, platform):
        if platform not in ContactMethod.Platform.values:
            raise DomainError("Must be ios or android.", field="platform")
        return platform

    def shown_address(self, method):
        return method.device_name or f"{method.get_platform_display() or 'device'} …{method.address[-6:]}"

    def masked_address(self, address, device_name=""):
        return device_name or "push device"

    def listed_address(self, address):
        return "…" + address[-6:]

    def render(self, notification, items):
        return render_push(notification, items)

    def routes_to_dev(self, tenant_id):
        return not providers.firebase_credentials_for(tenant_id)

    def dev_meta(self, notification, items):
        return {"push_action_token": tokens.push_action_token(notification)}

    def simulate_reply(self, message, notification, post):
        _status, outcome = replies.handle_push_action((message.meta or {}).get("push_action_token", ""),
                                                      post.get("action", ""))
        return outcome

    def send(self, notification, rendered, items):
        credentials = providers.firebase_credentials_for(notification.tenant_id, notification)
        if not credentials:
            return dev.write(self, notification, rendered, items)
        app = providers.firebase_app(credentials)
        message = build_message(notification, rendered, items)
        try:
            message_id = messaging.send(message, app=app)
        except Exception as exc:
            classified = _error(exc)
            if classified is None:
                raise
            raise classified from exc
        return Sent("fcm", message_id, app.project_id or "")
