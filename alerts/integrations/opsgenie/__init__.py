"""Opsgenie-compatible Alert API, for tools and scripts that used to talk to Opsgenie (which is
shutting down), including Opsgenie's own SDK. Base URL `<SITE_URL>/integrations/opsgenie`
(Opsgenie's is https://api.opsgenie.com), the integration key of an Opsgenie-type alert source as
`Authorization: GenieKey <key>`. An Opsgenie alert is one of our incidents: its id is the
incident's id, its tinyId the incident number, its alias the incident key.

Writes (202 {"result": "Request will be processed", "took", "requestId"}, done before answering):
- `POST v2/alerts` {"message" (required), "alias", "description", "priority" P1..P5 (P1/P2 → HIGH,
  P3–P5 → LOW; absent → the source's default), "details" {string: string}, "tags" [string],
  "source", "entity", "user", "note"} opens or appends to an incident (alerts.services.ingest);
- `POST v2/alerts/{identifier}/acknowledge` and `/close` accept and resolve; `/notes` {"note"}
  comments on the incident; `/tags` {"tags"} adds tags (bodies may also carry "user", "source";
  acknowledge, close and tags a "note"). `identifierType` is `id` (default), `tiny` or `alias`;
  by alias, acknowledge and close are events of that key, as Opsgenie's integrations send them.

Reads (only the incidents of the key's own alert source; anything else is 404 like unknown):
- `GET v2/alerts/{identifier}?identifierType=…` {"data": alert}; `GET v2/alerts?query=&offset=
  &limit=&sort=&order=` {"data": [alert], "paging"}; `GET v2/alerts/count?query=` {"data":
  {"count"}}; `GET v2/alerts/requests/{requestId}` {"data": {"isSuccess", "status", "alertId",
  …}}, what a write did (the requestId is signed and carries the outcome: nothing is stored).

Errors are Opsgenie's {"message", "took", "requestId"}: 401 for a missing or unknown key, 404
for a key of another source type (with a message naming it), an alert or request not found, or an
operation we do not offer (every other path under the prefix), 405 for a method a path does not
take, 400 for malformed JSON, 422 {"errors": {field: reason}} for a field of the wrong type or
size or with a lone surrogate (e.g. "\\ud800": not text), 429 with Retry-After when rate-limited.

The package: `wire` (answers, errors, body readers, the create parser), `reads` (the key's source,
the alert an identifier names, request ids, an incident as an Opsgenie alert, search) and
`endpoints` (the views); the declaration and the URLs are here.
"""

from django.urls import path, re_path, reverse

from ..spec import InboundIntegration
from . import endpoints
from .reads import NAME
from .wire import parse_create


def setup(links):
    url = links.url("alerts:opsgenie")
    return {"opsgenie_base": url.removesuffix("v2/alerts"), "opsgenie_url": url}


def paste(source, site):
    return {"url": site + reverse("alerts:opsgenie").removesuffix("v2/alerts"), "key": source.integration_key,
            "how": "API URL; send the key as 'Authorization: GenieKey <key>'"}


PREFIX = "integrations/opsgenie/v2/alerts"

# Aliases may hold "/" (path converters); every other path under the prefix gets an Opsgenie-shaped
# JSON 404 from `unsupported`, never an HTML page.
urlpatterns = [
    path(PREFIX, endpoints.alerts, name="opsgenie"),
    path(f"{PREFIX}/count", endpoints.count_alerts, name="opsgenie-count"),
    path(f"{PREFIX}/requests/<str:request_id>", endpoints.request_status, name="opsgenie-request"),
    path(f"{PREFIX}/<path:identifier>/close", endpoints.close_alert, name="opsgenie-close"),
    path(f"{PREFIX}/<path:identifier>/acknowledge", endpoints.acknowledge_alert, name="opsgenie-acknowledge"),
    path(f"{PREFIX}/<path:identifier>/notes", endpoints.add_note, name="opsgenie-notes"),
    path(f"{PREFIX}/<path:identifier>/tags", endpoints.add_tags, name="opsgenie-tags"),
    path(f"{PREFIX}/<str:identifier>", endpoints.get_alert, name="opsgenie-alert"),
    path(f"{PREFIX}/<path:identifier>", endpoints.get_alert_or_unsupported),
    re_path(r"^integrations/opsgenie/(?P<rest>.*)$", endpoints.unsupported, name="opsgenie-unsupported"),
]

INTEGRATION = InboundIntegration(
    name=NAME, label="Opsgenie", setup_template="alerts/integrations/opsgenie.html", setup=setup,
    parse=parse_create, paste=paste, urls=urlpatterns,
)
