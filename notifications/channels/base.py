"""The one interface every channel implements. A channel is one module in this folder, registered in
channels/__init__.py; everything else (model choices, forms, the timeline, throttles, the dev outbox,
replies) asks the registry instead of listing channels (docs/recipes/add-a-notification-channel.md).

What a channel declares:

    name              stored in ContactMethod.kind and Notification.channel (at most 8 characters)
    label             what forms and lists call it ("Voice call")
    timeline_label    how a timeline line starts ("Call to Rita Responder (+49…4567)")
    word              in a sentence ("Paging Rita: call after 5 min")
    service_word      what its provider is ("no voice provider is configured")
    provider_labels   {Sent.provider: how the timeline names it}, e.g. {"fcm": "Firebase"}
    throttle          the default throttle: at most `max` messages per `minutes` to one contact method
    phone             its address is a phone number (answers by SMS reach its pages; STOP applies)
    reply_codes       its pages ask to be answered with a reply code ("Reply 3a"), so paging by it
                      hands one out (services/reply_codes.py)
    opt_out           the number can opt out (STOP): no more messages until START
    verification      "code" (a code sent to it), "link" (a signed link), or "" (verified when the
                      device registers itself)
    notice_rank       where notices go when the user chose nowhere: the usable method of the lowest
                      rank (push 1, web push 2, email 3); 0: never by default
    self_registered   added only by the device itself (Web Push), never typed into the form
    rerender          a retry renders again what is not kept on the row (an email's HTML part)
    delivered_word    what a delivery report says happened ("delivered"; a call is "answered")
    can_look_up       the provider can be asked whether it took a message (lookup)

    clean_address(address) -> address       the address check (DomainError on bad input)
    clean_platform(platform) -> platform    the device platform, for channels that have one
    shown_address(method) -> str            how a contact method is shown to its owner
    masked_address(address, device) -> str  how the timeline shows it to everyone
    listed_address(address) -> str          how the REST API lists it
    render(notification, items) -> Rendered what the message says (items: the bundle)
    send(notification, rendered, items) -> Sent  one provider call; raises SendError
    lookup(notification) -> provider id | None   after an unknown outcome: did the provider take it?
                                                 raises LookupUnsupported when it cannot be asked
    dev_meta(notification, items) -> dict   what the dev outbox keeps for the reply controls
    routes_to_dev(tenant_id) -> bool        no provider configured: messages go to the dev outbox
    simulate_reply(message, notification, post) -> str
                                            the dev outbox's reply controls for a DevMessage (through
                                            the real reply path); None: the channel takes no answers

The dev outbox shows the reply controls of templates/notifications/dev_reply/<name>.html.
`send` is called outside any transaction or row lock. A channel with no provider configured writes
to the dev outbox (channels/dev.py) instead.
"""

from dataclasses import dataclass

import httpx
import requests

from ilert.errors import DomainError


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
    label = ""
    timeline_label = ""
    word = ""
    service_word = ""
    throttle = None  # (max, minutes): every channel sets its own
    provider_labels = {}
    phone = False
    reply_codes = False
    opt_out = False
    verification = "code"
    self_registered = False
    notice_rank = 0
    rerender = False
    delivered_word = "delivered"
    can_look_up = False

    # The parts every channel must declare itself (tests/notifications/test_channel_registry.py).
    DECLARED = ("name", "label", "timeline_label", "word", "service_word", "throttle", "clean_address", "render",
                "send", "routes_to_dev", "simulate_reply")

    def clean_address(self, address):  # pragma: no cover - interface
        raise NotImplementedError

    def clean_platform(self, platform):
        """The device platform (push apps only); other channels keep none."""
        return ""

    def shown_address(self, method):
        return method.address

    def masked_address(self, address, device_name=""):
        return address

    def listed_address(self, address):
        """How the REST API lists the address (a device token or push endpoint is not shown whole)."""
        return address

    def render(self, notification, items):  # pragma: no cover - interface
        raise NotImplementedError

    def send(self, notification, rendered, items):  # pragma: no cover - interface
        raise NotImplementedError

    def lookup(self, notification):
        raise LookupUnsupported(self.name)

    def routes_to_dev(self, tenant_id):  # pragma: no cover - interface
        raise NotImplementedError

    def dev_meta(self, notification, items):
        """What the dev outbox keeps for this channel's reply controls (a page only)."""
        return {}

    def simulate_reply(self, message, notification, post):  # pragma: no cover - interface
        raise NotImplementedError


def clean_token(address, what):
    """A device token or endpoint: non-empty, no whitespace, at most 1024 characters."""
    address = (address or "").strip()
    if not address or len(address) > 1024 or any(c.isspace() for c in address):
        raise DomainError(f"{what} is required.", field="address")
    return address


def httpx_error(exc, what):
    """Classify a transport error of our own httpx client (ilert.netguard): was the request
    possibly received? Not when the connection (TCP or TLS) never opened."""
    if isinstance(exc, httpx.ConnectTimeout):
        return SendError(f"{what}: connection timed out", unknown=False)
    if isinstance(exc, httpx.ConnectError):
        return SendError(f"{what}: could not connect", unknown=False)
    if isinstance(exc, httpx.TimeoutException):
        return SendError(f"{what}: timed out waiting for the answer; the outcome is unknown", unknown=True)
    return SendError(f"{what}: the connection broke; the outcome is unknown", unknown=True)


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
