"""SMS through Twilio's Messaging API (or the dev outbox). Pages are kept to one or two segments
(text.fit_sms); every page says how to answer ("Reply 12a to accept …"), and the answer comes back
through the Twilio SMS webhook (webhooks.twilio_sms → replies.handle_sms)."""

from django.db.models import Q

from ilert.models import DevMessage

from .. import providers, replies, text
from ..models import Notification
from ..render import Rendered, headline
from . import dev, twilio_common
from .base import Channel, SendError, Sent


def render_sms(notification, items):
    if notification.kind != Notification.Kind.PAGE:
        return Rendered(text=text.fit_sms("ilert: ", notification.body, "", max_segments=2))
    if len(items) == 1:
        incident, code = notification.incident, notification.reply_code
        head = f"ilert {headline(incident)}: "
        tail = (f" [{incident.alert_source.name[:30]}]. Reply {code}a to accept, {code}r to resolve, "
                f"{code}e to escalate")
        return Rendered(text=text.fit_sms(head, incident.summary, tail))
    first = items[0].incident
    head = f"ilert: {len(items)} new incidents, first: #{first.number} "
    codes = " ".join(f"{i.reply_code}=#{i.incident.number}" for i in items)
    tail = f". Reply a to accept all, r to resolve all, or {items[0].reply_code}a for one. Codes: "
    # Fit the summary against the whole code list first; cut the code list only when it cannot fit.
    body = text.fit_sms(head, first.summary[:60], tail + codes)
    if text.sms_segments(body)[1] > 2:
        body = text.fit_sms(head + first.summary[:40] + tail, codes, "")
    return Rendered(text=body)


class SmsChannel(Channel):
    name = "sms"
    label = "SMS"
    timeline_label = "SMS"
    word = "SMS"
    service_word = "SMS"
    provider_labels = {"twilio": "Twilio"}
    throttle = (10, 15)
    phone = True
    reply_codes = True
    opt_out = True
    can_look_up = True

    def clean_address(self, address):
        return text.parse_phone(address)

    def masked_address(self, address, device_name=""):
        return text.mask_phone(address)

    def render(self, notification, items):
        return render_sms(notification, items)

    def routes_to_dev(self, tenant_id):
        return providers.twilio_for(tenant_id) is None

    def simulate_reply(self, message, notification, post):
        typed = post.get("text", "")[:160]
        outcome = replies.handle_sms(notification.address, typed, tenants=Q(tenant_id=message.tenant_id))
        DevMessage.objects.create(
            tenant_id=message.tenant_id, channel=self.name, to=f"reply from {notification.address}",
            subject=f"You replied: {typed}", body=outcome or "(no answer)", meta={"reply_to": message.pk})
        return outcome

    def send(self, notification, rendered, items):
        account = providers.twilio_for(notification.tenant_id, notification)
        if account is None:
            return dev.write(self, notification, rendered, items)
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
