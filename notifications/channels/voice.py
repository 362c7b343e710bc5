"""Voice calls through Twilio: Twilio fetches TwiML from our voice URL (text-to-speech of the
incident, then <Gather numDigits=1>: 1 accept, 2 resolve, 3 escalate, * repeat) and posts the key
to the gather URL. Both webhooks are signature-validated (views.twilio_voice / twilio_gather)."""

from .. import providers
from . import dev, twilio_common
from .base import Channel, Sent

RING_SECONDS = 30


class VoiceChannel(Channel):
    name = "voice"
    can_look_up = True

    def send(self, notification, rendered, items):
        account = providers.twilio_for(notification.tenant_id)
        if account is None:
            return dev.write(notification, rendered, items)
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
