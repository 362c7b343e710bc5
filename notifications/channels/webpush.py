"""Web Push (RFC 8030) to a browser's subscription, encrypted for it (RFC 8291, aes128gcm) and
signed with our VAPID key (RFC 8292), through `pywebpush`. No third-party account is needed: the
push service is the browser vendor's (FCM for Chrome, Mozilla's autopush, Apple's for Safari).

The payload is JSON for our service worker (static/js/sw.js): the title and text, the incident
(number, summary, priority), the URL of the incident page, and for a page the actions Accept /
Resolve / Escalate with a signed, expiring, single-use action token that the service worker posts
to /notifications/push/action — the same door as the FCM app's buttons (tokens.push_action_token).

The push service answers 201; 404 or 410 means the subscription is gone (the user revoked it, the
browser dropped it): the send fails permanently with `gone`, the engine removes the subscription
and tells the user, and the user's next rule step goes at once. 429 and 5xx are retried. A push
service cannot be asked whether it took a message, so a timeout is an unknown outcome, never
re-sent blindly (the Topic header would make a duplicate replace the first one anyway).

The endpoint is a URL the browser gave us: it is checked by ilert.netguard (no private, loopback
or metadata addresses unless the deployment allows them) before the call and again when the
connection opens (to the vetted address), redirects are never followed and no proxy from the
environment is used. pywebpush builds its request with requests; `_GuardedAdapter` (requests'
public transport interface) hands it to netguard's httpx client, so Web Push is guarded by the
same code as every other outbound call of ours.
"""

import io
import json
from urllib.parse import urlsplit

import httpx
import requests
from django.conf import settings
from django.urls import reverse
from pywebpush import WebPushException, webpush

from alerts.selectors import incident_url
from ilert import netguard
from ilert.errors import DomainError

from .. import tokens, vapid
from .base import Channel, SendError, Sent, httpx_error, requests_error
from .push import render_push

# Push services take at most 4096 bytes of encrypted payload; aes128gcm adds 86 + 17 bytes.
MAX_PAYLOAD = 3800
ACTIONS = [{"action": "accept", "title": "Accept"}, {"action": "resolve", "title": "Resolve"},
           {"action": "escalate", "title": "Escalate"}]


class _GuardedAdapter(requests.adapters.BaseAdapter):
    """Sends a request built by requests through netguard's httpx client (a vetted address, no
    redirect, no proxy). httpx's exceptions come out as they are (`httpx_error` classifies them)."""

    def send(self, request, stream=False, timeout=None, verify=True, cert=None, proxies=None):
        connect, read = timeout if isinstance(timeout, tuple) else (timeout, timeout)
        with netguard.client(timeout=httpx.Timeout(read, connect=connect)) as client:
            answer = client.request(request.method, request.url, headers=dict(request.headers), content=request.body)
        response = requests.Response()
        response.status_code, response.reason = answer.status_code, answer.reason_phrase
        response.headers = requests.structures.CaseInsensitiveDict(answer.headers)
        response.raw, response.url, response.request = io.BytesIO(answer.content), request.url, request
        return response

    def close(self):
        pass


class _GuardedSession(requests.Session):
    """What pywebpush posts with: every URL goes through `_GuardedAdapter`; no redirect followed, no
    proxy or netrc from the environment."""

    def __init__(self):
        super().__init__()
        self.trust_env = False
        self.adapters.clear()
        self.mount("https://", _GuardedAdapter())
        self.mount("http://", _GuardedAdapter())

    def request(self, method, url, *args, **kwargs):
        kwargs["allow_redirects"] = False
        return super().request(method, url, *args, **kwargs)


def _incident(item):
    incident = item.incident
    return {"id": incident.pk, "number": incident.number, "summary": incident.summary[:300],
            "priority": incident.priority, "url": incident_url(incident)}


def payload(notification, rendered, items):
    """What the service worker receives (decrypted), as a dict."""
    data = {"v": 1, "kind": notification.kind, "title": rendered.subject or "ilert", "body": rendered.text[:500],
            "tag": notification.token, "url": settings.SITE_URL + "/"}
    if notification.kind == "page":
        incidents = [_incident(item) for item in items if item.incident_id]
        first = incidents[0]
        data.update({
            "incident": first, "incidents": incidents[:10], "url": first["url"],
            "priority": first["priority"], "actions": ACTIONS,
            "token": tokens.push_action_token(notification),
            "action_url": settings.SITE_URL + reverse("notifications:push-action"),
        })
    text = json.dumps(data, separators=(",", ":"))
    while len(text.encode()) > MAX_PAYLOAD and data.get("incidents"):
        data["incidents"] = data["incidents"][:-1]  # a long bundle: the first incidents only
        text = json.dumps(data, separators=(",", ":"))
    return data


def check_endpoint(endpoint):
    """A push endpoint we may post to: https (http only where private targets are allowed, e.g. a
    test's local push service), no credentials, a host that resolves to an allowed address."""
    parts = urlsplit(endpoint or "")
    allowed = ("https", "http") if netguard.private_targets_allowed() else ("https",)
    if parts.scheme not in allowed or not parts.hostname:
        raise netguard.BlockedTarget("A push endpoint must be an https:// URL.")
    netguard.check_url(endpoint)


def _error(exc):
    if isinstance(exc, netguard.BlockedTarget):
        return SendError(f"Web push: the endpoint is refused ({exc})", permanent=True)
    if isinstance(exc, WebPushException):
        status = exc.status_code
        if status is None:
            cause = exc.__cause__ or exc.__context__
            if isinstance(cause, httpx.TransportError):
                return httpx_error(cause, "Web push")
            if isinstance(cause, requests.exceptions.RequestException):
                return requests_error(cause, "Web push")
            return SendError(f"Web push: {exc.message}", permanent=True)
        text = f"Web push: the push service answered {status}"
        if status in (404, 410):
            return SendError(f"{text}: the subscription is gone", permanent=True, gone=True)
        if status == 429 or status >= 500:
            return SendError(text)
        if status in (401, 403):
            return SendError(f"{text}: it refused our VAPID signature (the server's key changed since this browser "
                             "subscribed? enable push on the device again)", permanent=True)
        if status == 413:
            return SendError(f"{text}: the message is too large", permanent=True)
        return SendError(text, permanent=True)
    if isinstance(exc, httpx.TransportError):
        return httpx_error(exc, "Web push")
    if isinstance(exc, requests.exceptions.RequestException):
        return requests_error(exc, "Web push")
    return None


class WebPushChannel(Channel):
    name = "webpush"
    label = "Web push"
    timeline_label = "Web push"
    word = "web push"
    service_word = "web push"
    provider_labels = {"webpush": "the push service"}
    throttle = (20, 15)
    notice_rank = 2
    verification = ""  # the browser subscribes itself, signed in as its user
    self_registered = True
    rerender = True

    def clean_address(self, address):
        endpoint = str(address or "").strip()
        if not endpoint or len(endpoint) > 1024 or any(c.isspace() for c in endpoint):
            raise DomainError("The subscription has no valid endpoint.", field="endpoint")
        try:
            check_endpoint(endpoint)
        except netguard.BlockedTarget as exc:
            raise DomainError(str(exc), field="endpoint") from None
        return endpoint

    def shown_address(self, method):
        return method.device_name or f"browser ({urlsplit(method.address).hostname})"

    def masked_address(self, address, device_name=""):
        return device_name or "browser"

    def listed_address(self, address):
        parts = urlsplit(address)  # a capability URL: its push service only
        return f"{parts.scheme}://{parts.hostname}/…"

    def render(self, notification, items):
        return render_push(notification, items)

    def routes_to_dev(self, tenant_id):
        return False  # the browser vendor's push service: always real

    def simulate_reply(self, message, notification, post):
        return None  # answered in the browser, through the same push action as the app

    def send(self, notification, rendered, items):
        method = notification.contact_method
        keys = method.push_keys if method is not None and method.address == notification.address else {}
        if not keys:
            raise SendError("Web push: this browser's subscription was removed", permanent=True)
        page = notification.kind == "page"
        high = any(item.incident_id and item.incident.priority == "HIGH" for item in items)
        try:
            check_endpoint(notification.address)
            response = webpush(
                subscription_info={"endpoint": notification.address, "keys": keys},
                data=json.dumps(payload(notification, rendered, items), separators=(",", ":")),
                vapid_private_key=vapid.vapid(),
                vapid_claims={"sub": vapid.subject()},
                ttl=settings.WEBPUSH_TTL_SECONDS,
                # RFC 8030 §5.3/§5.4: wake the device for pages; a resend replaces, never adds.
                headers={"Urgency": "high" if page or high else "normal", "Topic": notification.token},
                timeout=settings.NOTIFICATION_PROVIDER_TIMEOUT_SECONDS,
                requests_session=_GuardedSession(),
            )
        except Exception as exc:
            classified = _error(exc)
            if classified is None:
                raise
            raise classified from exc
        # The push service names the message it queued (RFC 8030 §5: Location); kept as its id.
        location = response.headers.get("Location", "")
        host = urlsplit(notification.address).hostname or ""
        return Sent("webpush", (location or f"webpush-{notification.token}")[:255], host)
