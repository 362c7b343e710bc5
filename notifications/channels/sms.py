"""SMS through Twilio's Messaging API (or the dev outbox). Pages are kept to one or two segments
(render.sms / text.fit_sms); every page says how to answer ("Reply 12a to accept …")."""

from .. import providers
from . import dev, twilio_common
from .base import Channel, SendError, Sent


class SmsChannel(Channel):
    name = "sms"
    can_look_up = True

    def send(self, notification, rendered, items):
        account = providers.twilio_for(notification.tenant_id)
        if account is None:
            return dev.write(notification, rendered, items)
        client = providers.twilio_client(account)
        params = {"to": notification.address, "from_": account.from_number, "body": rendered.text}
        if twilio_common.public_site():
            params["status_callback"] = twilio_common.status_callback_url(notification)
        try:
            message = client.messages.create(**params)
        except Exception as exc:
            classified = twilio_common.error(exc, "SMS")
            if classified is None:
                raise
            raise classified from exc
        if getattr(message, "status", "") == "failed":
            raise SendError(f"SMS: Twilio refused the message ({message.error_code})", permanent=True)
        return Sent("twilio", message.sid, account.account_sid)

    def lookup(self, notification):
        account = twilio_common.account_for(notification)
        client = providers.twilio_client(account)
        try:
            recent = twilio_common.recent(client.messages, notification, account)
        except Exception as exc:
            classified = twilio_common.error(exc, "SMS lookup")
            if classified is None:
                raise
            raise classified from exc
        text = " ".join(notification.sent_text.split())
        candidates = [m for m in recent if " ".join((m.body or "").split()) == text]
        taken = twilio_common.taken_sids(notification, [m.sid for m in candidates])
        for message in sorted(candidates, key=lambda m: m.date_created):
            if message.sid not in taken:
                return message.sid
        return None
