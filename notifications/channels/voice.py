"""Voice calls through Twilio: Twilio fetches TwiML from our voice URL (text-to-speech of the
incident, then <Gather numDigits=1>: 1 accept, 2 resolve, 3 escalate, * repeat) and posts the key
to the gather URL. Both webhooks are signature-validated (webhooks.twilio_voice / twilio_gather)."""

from .. import providers, replies, text
from ..models import Notification
from ..render import Rendered
from . import dev, twilio_common
from .base import Channel, Sent

RING_SECONDS = 30
MENU = "Press 1 to accept, 2 to resolve, 3 to escalate, or star to repeat."


def render_voice(notification, items):
    if notification.kind == Notification.Kind.VERIFY:
        code = " ".join(notification.body.rsplit(" ", 1)[-1])
        return Rendered(text=f"Your ilert verification code is {code}. Again: {code}.")
    if notification.kind != Notification.Kind.PAGE:
        return Rendered(text=f"This is ilert. {notification.body}")
    if len(items) == 1:
        incident = notification.incident
        priority = "high" if incident.priority == "HIGH" else "low"
        spoken = (f"This is ilert with a {priority} priority incident, number {incident.number}, "
                  f"from {incident.alert_source.name}: {incident.summary[:300]}. {MENU}")
    else:
        first = items[0].incident
        spoken = (f"This is ilert with {len(items)} new incidents. The first, number {first.number}: "
                  f"{first.summary[:200]}. Your answer applies to all {len(items)}. {MENU}")
    return Rendered(text=spoken)


class VoiceChannel(Channel):
    name = "voice"
    label = "Voice call"
    timeline_label = "Call"
    word = "call"
    service_word = "voice"
    provider_labels = {"twilio": "Twilio"}
    throttle = (3, 15)
    phone = True
    delivered_word = "answered"
    can_look_up = True

    def clean_address(self, address):
        return text.parse_phone(address)

    def masked_address(self, address, device_name=""):
        return text.mask_phone(address)

    def render(self, notification, items):
        return render_voice(notification, items)

    def routes_to_dev(self, tenant_id):
        return providers.twilio_for(tenant_id) is None

    def simulate_reply(self, message, notification, post):
        answer = replies.handle_keypress(notification, post.get("digit", ""))
        return answer.say if not answer.again else render_voice(notification, [notification]).text

    def send(self, notification, rendered, items):
        account = providers.twilio_for(notification.tenant_id, notification)
        if account is None:
            return dev.write(self, notification, rendered, items)
        client = providers.twilio_client(account)
        params = {
            "to": notification.address, "from_": account.from_number,
            "url": twilio_common.voice_url(notification), "method": "POST",
            "machine_detection": "Enable", "timeout": RING_SECONDS,
        }
        if twilio_common.public_site():
            params["status_callback"] = twilio_common.status_callback_url(notification)
            params["status_callback_method"] = "POST"
        try:
            call = client.calls.create(**params)
        except Exception as exc:
            classified = twilio_common.error(exc, "Call")
            if classified is None:
                raise
            raise classified from exc
        return Sent("twilio", call.sid, account.account_sid)

    def lookup(self, notification):
        account = twilio_common.account_for(notification)
        client = providers.twilio_client(account)
        try:
            candidates = twilio_common.recent(client.calls, notification, account)
        except Exception as exc:
            classified = twilio_common.error(exc, "Call lookup")
            if classified is None:
                raise
            raise classified from exc
        taken = twilio_common.taken_sids(notification, [c.sid for c in candidates])
        for call in sorted(candidates, key=lambda c: c.date_created):
            if call.sid not in taken:
                return call.sid
        return None
