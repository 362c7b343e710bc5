"""One module per channel, behind one interface (channels/base.py)."""

from .base import Channel, LookupUnsupported, SendError, Sent  # noqa: F401
from .email import EmailChannel
from .push import PushChannel
from .sms import SmsChannel
from .voice import VoiceChannel
from .webpush import WebPushChannel

CHANNELS = {channel.name: channel for channel in (EmailChannel(), SmsChannel(), VoiceChannel(), PushChannel(),
                                                WebPushChannel())}


def get(name):
    return CHANNELS[name]
