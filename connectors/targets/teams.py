"""Microsoft Teams: an Adaptive Card posted to an incoming webhook or a Workflows (Power Automate)
"When a Teams webhook request is received" URL. The URL is the credential."""

from ilert import clock

from .. import http
from ..payload import sample, status_line
from .base import Field, Outcome, Target, check_url_shape, http_call

COLORS = {"PENDING": "Attention", "ACCEPTED": "Warning", "RESOLVED": "Good"}


def card(payload):
    incident, event = payload["incident"], payload["event"]
    assignee = (incident.get("assigned_to") or {}).get("name") or "nobody"
    body = [
        {"type": "TextBlock", "size": "Medium", "weight": "Bolder", "wrap": True,
         "text": f"#{incident['number']} {incident['summary']}"},
        {"type": "TextBlock", "spacing": "None", "wrap": True, "color": COLORS.get(incident["status"], "Default"),
         "text": status_line(incident)},
        {"type": "FactSet", "facts": [
            {"title": "Priority", "value": incident["priority"].title()},
            {"title": "Alert source", "value": incident["alert_source"]["name"]},
            {"title": "Assigned to", "value": assignee},
            {"title": "Event", "value": event["label"]},
        ]},
    ]
    if event.get("message"):
        body.append({"type": "TextBlock", "wrap": True, "isSubtle": True, "text": event["message"][:2000]})
    return {
        "type": "message",
        "attachments": [{
            "contentType": "application/vnd.microsoft.card.adaptive",
            "contentUrl": None,
            "content": {
                "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
                "type": "AdaptiveCard",
                "version": "1.4",
                "body": body,
                "actions": [{"type": "Action.OpenUrl", "title": "Open in ilert", "url": incident["url"]}],
            },
        }],
    }


class Teams(Target):
    kind = "teams"
    label = "Microsoft Teams"
    actions = {"post_card": "Post an Adaptive Card"}
    description = "Post an Adaptive Card to a Teams channel through a webhook or workflow URL."
    destination_settings = ()  # the webhook URL is the credential itself
    credential_fields = [Field("webhook_url", "Webhook / workflow URL", required=True,
                               placeholder="https://….webhook.office.com/… or https://….logic.azure.com/…")]

    def clean(self, settings, credentials):
        if credentials.get("webhook_url"):
            check_url_shape(credentials["webhook_url"], "credentials.webhook_url")
        return settings, credentials

    def _post(self, ctx, body):
        url = ctx.credentials["webhook_url"]
        return http_call(ctx, "POST", url, "Teams", json=body, shown_url=http.display_url(url))

    def deliver(self, ctx):
        response = self._post(ctx, card(ctx.payload))
        return Outcome(True, f"Posted the card (HTTP {response.status_code})", http_status=response.status_code)

    def check(self, ctx):
        test = sample()
        test["incident"]["summary"] = "Test card from ilert: this connector works"
        test["event"]["at"] = clock.now().isoformat()
        response = self._post(ctx, card(test))
        return Outcome(True, f"Posted a test card (HTTP {response.status_code}).", http_status=response.status_code)
