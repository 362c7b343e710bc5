"""The dev outbox (ilert.models.DevMessage): where every channel delivers when no provider is
configured and settings.DEV_OUTBOX is on. `meta` carries what the outbox page needs to simulate a
reply. With the dev outbox off, a channel without a provider fails permanently (the user's next
rule step goes at once) and says why."""

from django.conf import settings

from ilert.models import DevMessage

from .. import tokens
from .base import SendError, Sent

CHANNEL_WORDS = {"email": "email", "sms": "SMS", "voice": "voice", "push": "push", "webpush": "web push"}


def write(notification, rendered, items):
    if not settings.DEV_OUTBOX:
        raise SendError(f"no {CHANNEL_WORDS.get(notification.channel, notification.channel)} provider is "
                        "configured (and the dev outbox is off)", permanent=True)
    meta = {
        "notification": notification.pk,
        "token": notification.token,
        "kind": notification.kind,
        "user": notification.user_id,
        "incidents": [item.incident_id for item in items if item.incident_id],
        "codes": [{"code": item.reply_code, "number": item.incident.number} for item in items if item.reply_code],
    }
    if notification.kind == "page":
        if notification.channel == "push":
            meta["push_action_token"] = tokens.push_action_token(notification)
        if notification.channel == "email":
            meta["links"] = [
                {"label": f"#{item.incident.number} {action}", "url": tokens.email_action_url(item, action)}
                for item in items for action in tokens.ACTIONS
            ]
    message = DevMessage.objects.create(
        tenant_id=notification.tenant_id, channel=notification.channel, to=notification.address,
        user_id=notification.user_id, account=notification.kind == "verify",
        subject=rendered.subject[:500], body=rendered.text, html=rendered.html, meta=meta,
    )
    return Sent("dev", f"dev-{message.pk}")


def lookup(notification):
    message = DevMessage.objects.filter(meta__notification=notification.pk).order_by("id").first()
    return f"dev-{message.pk}" if message else None
