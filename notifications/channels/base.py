"""The one interface every channel implements (email, sms, voice, push, webpush).

    render(notification, items) -> Rendered      what the message says (items: the bundle)
    send(notification, rendered, items) -> Sent  one provider call; raises SendError
    lookup(notification) -> provider id | None   after an unknown outcome: did the provider take it?
                                                 raises LookupUnsupported when it cannot be asked
                                                 (`can_look_up` says so before any call)

`send` is called outside any transaction or row lock. A channel with no provider configured writes
to the dev outbox (channels/dev.py) instead.
"""

from dataclasses import dataclass

import requests


@dataclass
class Sent:
    provider: str
    provider_id: str
    account: str = ""


class SendError(Exception):
    """A failed provider call.

    permanent: retrying cannot help (invalid number, unregistered device, opted out).
    unknown:   the request may have reached the provider (a read timeout): re-sending blindly could
               page twice, so the engine reconciles with `lookup` instead.
    disable:   the contact method is dead (e.g. an unregistered push token); stop paging it.
    gone:      a Web Push subscription the push service no longer knows (404/410): it is removed
               and its user told on their profile.
    """

    def __init__(self, message, *, permanent=False, unknown=False, disable=None, opt_out=False, gone=False):
        super().__init__(message)
        self.message = message
        self.permanent = permanent
        self.unknown = unknown
        self.disable = disable
        self.opt_out = opt_out
        self.gone = gone


class LookupUnsupported(Exception):
    pass


class Channel:
    name = ""
    can_look_up = False  # can the provider be asked whether it took a message (lookup)?

    def render(self, notification, items):
        from .. import render

        return render.render(notification, items)

    def send(self, notification, rendered, items):  # pragma: no cover - interface
        raise NotImplementedError

    def lookup(self, notification):
        raise LookupUnsupported(self.name)


def requests_error(exc, what):
    """Classify a transport error of a requests-based client: was the request possibly received?"""
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return SendError(f"{what}: connection timed out", unknown=False)
    if isinstance(exc, requests.exceptions.ReadTimeout):
        return SendError(f"{what}: timed out waiting for the answer; the outcome is unknown", unknown=True)
    if isinstance(exc, requests.exceptions.ConnectionError):
        detail = repr(exc)
        if any(s in detail for s in ("NewConnectionError", "Connection refused", "NameResolutionError",
                                     "Failed to resolve", "Max retries exceeded with url")):
            return SendError(f"{what}: could not connect", unknown=False)
        return SendError(f"{what}: the connection broke; the outcome is unknown", unknown=True)
    return SendError(f"{what}: {exc}", unknown=True)
