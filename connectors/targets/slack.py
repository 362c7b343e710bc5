"""Slack, with slack_sdk: a Block Kit message per incident.

Bot token mode (chat.postMessage, then chat.update on the same message as the incident changes;
comments also go to the message's thread) or incoming-webhook mode (each event posts a new
message: an incoming webhook cannot edit what it posted). In bot mode every message carries
metadata naming its incident and connection, so a retry after a timeout finds the message Slack
did post (conversations.history) instead of posting a second one. With a signing secret, open incidents
carry Accept/Resolve buttons; Slack sends the clicks to the connector's interactivity URL
(connectors/views.py: slack_interactivity), which acts for Slack users linked to ilert users.

slack_sdk talks HTTP through urllib, not through our guarded session: every URL is checked with
netguard.check_url before the call, and the SDK's own retries are off (the engine retries).
"""

import logging
import re
import urllib.error

from django.conf import settings

from ilert import netguard
from ilert.errors import DomainError

from .. import http
from ..payload import status_line
from .base import DeliveryError, Field, Outcome, Target, check_url_shape, transient_status

ACCEPT, RESOLVE = "ilert_accept", "ilert_resolve"
METADATA_EVENT = "ilert_incident"  # every message posted in bot mode carries {incident, connection}
CHANNEL_ID = re.compile(r"[CG][A-Z0-9]{6,}")  # conversations.history takes IDs, not #names
EMOJI = {"PENDING": ":red_circle:", "ACCEPTED": ":large_orange_circle:", "RESOLVED": ":large_green_circle:"}

# slack_sdk logs incoming-webhook URLs (which are secrets) at DEBUG: give it a logger that never does.
_sdk_log = logging.getLogger("connectors.slack_sdk")
_sdk_log.setLevel(logging.WARNING)


def api_url():
    return getattr(settings, "SLACK_API_URL", "https://slack.com/api/").rstrip("/") + "/"


def _escape(text):
    return (text or "").replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def message(payload, *, buttons):
    """(fallback text, Block Kit blocks) for the incident as it is in `payload`."""
    incident, event = payload["incident"], payload["event"]
    title = f"#{incident['number']} {incident['summary']}"
    text = f"{title} — {status_line(incident)}"
    assignee = (incident.get("assigned_to") or {}).get("name") or "nobody"
    blocks = [
        {"type": "section", "text": {"type": "mrkdwn", "text": (
            f"{EMOJI.get(incident['status'], '')} *<{incident['url']}|{_escape(title)}>*")}},
        {"type": "section", "fields": [
            {"type": "mrkdwn", "text": f"*Status*\n{_escape(status_line(incident))}"},
            {"type": "mrkdwn", "text": f"*Priority*\n{incident['priority'].title()}"},
            {"type": "mrkdwn", "text": f"*Alert source*\n{_escape(incident['alert_source']['name'])}"},
            {"type": "mrkdwn", "text": f"*Assigned to*\n{_escape(assignee)}"},
        ]},
    ]
    if event.get("message"):
        blocks.append({"type": "context", "elements": [
            {"type": "mrkdwn", "text": _escape(f"{event['label']}: {event['message']}")[:2000]}]})
    if buttons and incident["status"] != "RESOLVED":
        elements = []
        if incident["status"] == "PENDING":
            elements.append({"type": "button", "action_id": ACCEPT, "style": "primary",
                             "text": {"type": "plain_text", "text": "Accept"}, "value": str(incident["id"])})
        elements.append({"type": "button", "action_id": RESOLVE,
                         "text": {"type": "plain_text", "text": "Resolve"}, "value": str(incident["id"])})
        blocks.append({"type": "actions", "block_id": f"ilert-incident-{incident['id']}", "elements": elements})
    return text, blocks


class Slack(Target):
    kind = "slack"
    label = "Slack"
    actions = {"post_message": "Post a message and keep it up to date"}
    default_events = ["created", "assigned", "escalated", "accepted", "resolved", "comment_added"]
    description = "Post incidents to a Slack channel, with Accept/Resolve buttons."
    settings_fields = [
        Field("mode", "Send with", "choice", required=True, default="bot",
              choices=(("bot", "Bot token (updates the message, buttons)"), ("webhook", "Incoming webhook"))),
        Field("default_channel", "Default channel", placeholder="#ops or C0123456789",
              help="Bot mode: where messages go unless the connection names another channel."),
    ]
    destination_settings = ()  # always slack.com; the webhook URL is a credential itself
    credential_fields = [
        Field("bot_token", "Bot token", placeholder="xoxb-…",
              help="Bot mode; needs chat:write (and channels:history, so that a retry never posts twice)."),
        Field("webhook_url", "Incoming webhook URL", placeholder="https://hooks.slack.com/services/…",
              help="Incoming-webhook mode."),
        Field("signing_secret", "Signing secret",
              help="Your Slack app's signing secret: enables the Accept/Resolve buttons."),
    ]
    param_fields = [Field("channel", "Channel", help="Bot mode: overrides the connector's default channel.")]

    def clean(self, settings, credentials):
        mode = settings.get("mode", "bot")
        if mode == "bot" and not credentials.get("bot_token"):
            raise DomainError("Bot mode needs a bot token (xoxb-…).", field="credentials.bot_token")
        if mode == "webhook":
            url = credentials.get("webhook_url") or ""
            if not url:
                raise DomainError("Incoming-webhook mode needs the webhook URL.", field="credentials.webhook_url")
            check_url_shape(url, "credentials.webhook_url")
        return settings, credentials

    # --- clients -------------------------------------------------------------------------------

    def client(self, ctx):
        # slack_sdk is heavy (1.5 s to import on a busy machine): loaded when used, so web processes start quickly
        from slack_sdk.web import WebClient

        netguard.check_url(api_url())
        return WebClient(token=ctx.credentials["bot_token"], base_url=api_url(), timeout=int(http.timeout()),
                         logger=_sdk_log, retry_handlers=[])

    def _api(self, ctx, method, **kwargs):
        from slack_sdk.errors import SlackApiError  # with slack_sdk, when used (above)

        url = api_url() + method
        try:
            response = getattr(self.client(ctx), method.replace(".", "_"))(**kwargs)
        except SlackApiError as exc:
            status = exc.response.status_code
            error = exc.response.get("error") if isinstance(exc.response.data, dict) else None
            ctx.http.note("POST", url, _shown(kwargs), status=status, response_body=exc.response.data)
            retry_after = exc.response.headers.get("Retry-After") if exc.response.headers else None
            raise DeliveryError(f"Slack {method}: {error or 'HTTP ' + str(status)}", status=status,
                                retry=transient_status(status) or error == "ratelimited",
                                retry_after=float(retry_after) if retry_after else None) from None
        except (urllib.error.URLError, TimeoutError, ConnectionError) as exc:
            ctx.http.note("POST", url, _shown(kwargs), error=f"{type(exc).__name__}")
            raise DeliveryError(f"Slack {method}: {type(exc).__name__}", retry=True) from None
        ctx.http.note("POST", url, _shown(kwargs), status=response.status_code, response_body=response.data)
        return response

    def _webhook(self, ctx, text, blocks):
        from slack_sdk.webhook import WebhookClient  # with slack_sdk, when used (above)

        url = ctx.credentials["webhook_url"]
        shown = http.display_url(url)
        netguard.check_url(url)
        client = WebhookClient(url, timeout=int(http.timeout()), logger=_sdk_log, retry_handlers=[])
        try:
            response = client.send(text=text, blocks=blocks)
        except (urllib.error.URLError, TimeoutError, ConnectionError) as exc:
            ctx.http.note("POST", shown, {"text": text}, error=type(exc).__name__)
            raise DeliveryError(f"Slack webhook: {type(exc).__name__}", retry=True) from None
        ctx.http.note("POST", shown, {"text": text}, status=response.status_code, response_body=response.body)
        if not 200 <= response.status_code < 300:
            raise DeliveryError(f"Slack webhook: HTTP {response.status_code} {response.body[:100]}",
                                status=response.status_code, retry=transient_status(response.status_code))
        return response

    # --- the action ----------------------------------------------------------------------------

    def deliver(self, ctx):
        buttons = bool(ctx.credentials.get("signing_secret"))
        text, blocks = message(ctx.payload, buttons=buttons)
        if ctx.settings.get("mode", "bot") == "webhook":
            response = self._webhook(ctx, text, blocks)
            return Outcome(True, "Posted through the incoming webhook", http_status=response.status_code)
        channel = ctx.params.get("channel") or ctx.settings.get("default_channel")
        metadata = {"event_type": METADATA_EVENT,
                    "event_payload": {"incident": ctx.incident_id, "connection": getattr(ctx.connection, "pk", None)}}
        found = ctx.ref is None and ctx.attempt > 1 and self._find_posted(ctx, channel, metadata)
        if found:
            ctx.ref = ctx.remember(found, data={"channel": channel})
        if ctx.ref is not None:
            ts, channel_id = ctx.ref.ref, ctx.ref.data.get("channel") or channel
            self._api(ctx, "chat.update", channel=channel_id, ts=ts, text=text, blocks=blocks)
            done = "Found the message an earlier attempt posted and updated it" if found else "Updated the message"
            if ctx.event == "comment_added" and ctx.payload["event"].get("message"):
                note = ctx.payload["event"]["message"]
                who = (ctx.payload["event"].get("actor") or {}).get("name") or "someone"
                self._api(ctx, "chat.postMessage", channel=channel_id, thread_ts=ts, text=f"{who}: {note}"[:3000])
                done += " and replied in its thread"
            return Outcome(True, done, http_status=200, ref=ts)
        if not channel:
            raise DeliveryError("Slack: no channel (set the connector's default channel or the connection's)")
        response = self._api(ctx, "chat.postMessage", channel=channel, text=text, blocks=blocks, metadata=metadata)
        ts, channel_id = response["ts"], response["channel"]
        ctx.ref = ctx.remember(ts, data={"channel": channel_id})
        return Outcome(True, f"Posted to {channel}", http_status=200, ref=ts)

    def _find_posted(self, ctx, channel, metadata):
        """The ts of a message an earlier attempt posted without hearing back (a timeout after Slack
        took it): looked up in the channel's latest messages by the metadata every post carries.
        Needs the channel's ID (C…) and the history scope; without them, None (a second post is
        possible, as with an incoming webhook)."""
        if not CHANNEL_ID.fullmatch(channel or ""):
            return None
        try:
            response = self._api(ctx, "conversations.history", channel=channel, limit=100, include_all_metadata=True)
        except DeliveryError as exc:
            if exc.retry:
                raise  # Slack is unwell: try again later rather than risk a second message
            return None  # e.g. missing_scope
        for posted in response.get("messages") or []:
            if (posted.get("metadata") or {}).get("event_type") == METADATA_EVENT and \
                    posted["metadata"].get("event_payload") == metadata["event_payload"]:
                return posted["ts"]
        return None

    def check(self, ctx):
        if ctx.settings.get("mode", "bot") == "webhook":
            response = self._webhook(ctx, "ilert: test message — this connector works.", None)
            return Outcome(True, "Posted a test message through the incoming webhook.",
                           http_status=response.status_code)
        response = self._api(ctx, "auth.test")
        return Outcome(True, f"Connected to Slack workspace {response.get('team')} as {response.get('user')}.",
                       http_status=200)


def _shown(kwargs):
    return {k: v for k, v in kwargs.items() if k in ("channel", "ts", "text", "thread_ts")}
