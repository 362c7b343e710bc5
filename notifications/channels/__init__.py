"""The registry of channels: one module per channel (channels/<name>.py), behind one interface
(channels/base.py). This is the only list of channels; model choices, forms, the timeline, throttles,
the dev outbox and replies all ask it."""

from .base import Channel, LookupUnsupported, SendError, Sent  # noqa: F401
from .email import EmailChannel
from .push import PushChannel
from .sms import SmsChannel
from .voice import VoiceChannel
from .webpush import WebPushChannel

REGISTERED = (EmailChannel(), SmsChannel(), VoiceChannel(), PushChannel(), WebPushChannel())
CHANNELS = {channel.name: channel for channel in REGISTERED}


def get(name):
    return CHANNELS[name]


def names():
    return [channel.name for channel in REGISTERED]


def choices():
    """(name, label) of every channel, for model and form choices."""
    return [(channel.name, channel.label) for channel in REGISTERED]


def phone_channels():
    """The channels whose address is a phone number (an SMS answer reaches their pages)."""
    return [channel.name for channel in REGISTERED if channel.phone]
