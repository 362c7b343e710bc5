"""Webhook: POST JSON to a URL, signed the Standard Webhooks way (connectors/signing.py).

Body: the default incident envelope (connectors/payload.default_body) or the connection's custom
Jinja2 template (sandboxed), which must render JSON. `webhook-id` is the invocation's id, the same
on every retry; `webhook-timestamp` is the time of the attempt.
"""

import json

from ilert import clock
from ilert.errors import DomainError

from .. import signing, templating
from ..payload import default_body, template_context
from .base import DeliveryError, Field, Outcome, Target, http_call

BODY_HELP = ("Optional Jinja2 template that renders the JSON body; `incident`, `event` and `payload` are "
             "available, e.g. {\"text\": {{ incident.summary|json }}}. Empty: the default body.")


def build_body(ctx):
    template = (ctx.params.get("body_template") or "").strip()
    if not template:
        return default_body(ctx.payload)
    try:
        return templating.render_json(template, template_context(ctx.payload))
    except templating.TemplateFailed as exc:
        raise DeliveryError(str(exc)) from None


class Webhook(Target):
    kind = "webhook"
    label = "Webhook"
    actions = {"post": "POST the incident as signed JSON"}
    default_events = ["created", "assigned", "escalated", "accepted", "resolved", "comment_added"]
    description = "POST JSON to your URL, signed with Standard Webhooks (HMAC-SHA256)."
    settings_fields = [Field("url", "URL", "url", required=True, placeholder="https://example.com/ilert-hook")]
    destination_settings = ("url",)
    credential_fields = [Field(
        "signing_secrets", "Signing secrets", "lines",
        help="One whsec_… secret per line; every active secret signs each delivery (rotate by adding a new "
             "one, then removing the old). Left empty on creation, one is generated and shown once.",
    )]
    param_fields = [Field("body_template", "Custom body (Jinja2)", "json_template", help=BODY_HELP)]

    def clean(self, settings, credentials):
        for secret in credentials.get("signing_secrets") or []:
            if not signing.valid_secret(secret):
                raise DomainError("Each secret must be whsec_ followed by a base64 key of at least 16 bytes.",
                                  field="credentials.signing_secrets")
        return settings, credentials

    def send(self, ctx, body):
        raw = json.dumps(body, separators=(",", ":"), ensure_ascii=False)
        headers = {"Content-Type": "application/json", "webhook-id": ctx.webhook_id}
        secrets = ctx.credentials.get("signing_secrets") or []
        if secrets:
            headers.update(signing.headers(secrets, ctx.webhook_id, clock.now().timestamp(), raw))
        response = http_call(ctx, "POST", ctx.settings["url"], "Webhook", content=raw.encode(), headers=headers)
        return response

    def deliver(self, ctx):
        response = self.send(ctx, build_body(ctx))
        return Outcome(True, f"Delivered (HTTP {response.status_code})", http_status=response.status_code)

    def check(self, ctx):
        body = {"type": "ilert.test", "timestamp": clock.now().isoformat(), "data": {"message": "Test from ilert"}}
        response = self.send(ctx, body)
        return Outcome(True, f"The URL answered HTTP {response.status_code}.", http_status=response.status_code)
