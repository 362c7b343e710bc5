"""The dev outbox (ilert.models.DevMessage): where every channel delivers when no provider is
configured and settings.DEV_OUTBOX is on. `meta` carries what the outbox page needs to simulate a
reply. With the dev outbox off, a channel without a provider fails permanently (the user's next
rule step goes at once) and says why."""

from django.conf import settings

from ilert.models import DevMessage

from .base import SendError, Sent


def write(channel, notification, rendered, items):
    """`channel` (the Channel sending) adds what its reply controls need (Channel.dev_meta)."""
    if not settings.DEV_OUTBOX:
        raise SendError(f"no {channel.service_word} provider is configured (and the dev outbox is off)",
                        permanent=True)
    meta = {
        "notification": notification.pk,
        "token": notification.token,
        "kind": notification.kind,
        "user": notification.user_id,
        "incidents": [item.incident_id for item in items if item.incident_id],
        "codes": [{"code": item.reply_code, "number": item.incident.number} for item in items if item.reply_code],
    }
    if notification.kind == "page":
        meta.update(channel.dev_meta(notification, items))
    message = DevMessage.objects.create(
        tenant_id=notification.tenant_id, channel=notification.channel, to=notification.address,
        user_id=notification.user_id, account=notification.kind == "verify",
        subject=rendered.subject[:500], body=rendered.text, html=rendered.html, meta=meta,
    )
    return Sent("dev", f"dev-{message.pk}")


def lookup(notification):
    message = DevMessage.objects.filter(meta__notification=notification.pk).order_by("id").first()
    return f"dev-{message.pk}" if message else None
