"""The Slack interactivity endpoint with payloads that carry a valid signature (signed with the
app's signing secret by slack_sdk's own SignatureVerifier) but not the shape Slack sends: a `user`
that is a string, `actions` that is an object, an action that is a list, a value that is a number…
Each is answered 400 naming the field and changes nothing — not even the valid clicks next to it;
none is a 500. Hypothesis fuzzes the shape of every part of a click."""

import json
import time
from urllib.parse import urlencode

import pytest
from django.test import Client
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from slack_sdk.signature import SignatureVerifier

from alerts.models import Incident, IncidentLogEntry
from connectors import services
from tests.alerts.factories import alert, make_source

from .factories import make_connection, make_connector

SIGNING_SECRET = "8f742231b10e8888abcd99yyyzzz85a5"


@pytest.fixture
def connection(tenant):
    connector = make_connector(tenant, "slack", name="Slack",
                               credentials={"bot_token": "xoxb-1111-2222-slacktokensecret",
                                            "signing_secret": SIGNING_SECRET})
    return make_connection(tenant, connector=connector, source=make_source(tenant, name="Prometheus"))


@pytest.fixture
def incident(connection, responder, tenant):
    services.link_slack_user(tenant, slack_user_id="U0RITA", user=responder)
    return alert(connection.alert_source).incident


def signed_post(connector, payload_text):
    body = urlencode({"payload": payload_text})
    timestamp = str(int(time.time()))
    signature = SignatureVerifier(SIGNING_SECRET).generate_signature(timestamp=timestamp, body=body)
    return Client().post(f"/integrations/slack/{connector.inbound_token}/interactivity", data=body,
                         content_type="application/x-www-form-urlencoded",
                         HTTP_X_SLACK_REQUEST_TIMESTAMP=timestamp, HTTP_X_SLACK_SIGNATURE=signature)


def click(incident, action="ilert_accept"):
    return {"action_id": action, "value": str(incident.pk), "type": "button"}


def payload(incident, **changes):
    return {"type": "block_actions", "user": {"id": "U0RITA", "username": "rita"}, "team": {"id": "T0ACME"},
            "actions": [click(incident)], **changes}


def state(incident):
    row = Incident.objects.get(pk=incident.pk)
    return row.status, row.accepted_by_id, row.resolved_by_id, IncidentLogEntry.objects.filter(incident=incident).count()


@pytest.mark.parametrize("changes, field", [
    ({"user": "U0RITA"}, "payload.user"),
    ({"user": ["U0RITA"]}, "payload.user"),
    ({"user": {"id": 42}}, "payload.user.id"),
    ({"user": {"id": "U0RITA\x00"}}, "payload.user.id"),
    ({"user": None}, "payload.user"),
    ({"actions": {"action_id": "ilert_accept"}}, "payload.actions"),
    ({"actions": "ilert_accept"}, "payload.actions"),
    ({"actions": ["ilert_accept"]}, "payload.actions[0]"),
    ({"actions": [{"action_id": ["ilert_accept"], "value": "1"}]}, "payload.actions[0].action_id"),
], ids=lambda value: value if isinstance(value, str) else None)
def test_a_signed_payload_of_the_wrong_shape_is_a_400_naming_the_field(connection, incident, changes, field):
    before = state(incident)
    response = signed_post(connection.connector, json.dumps(payload(incident, **changes)))
    assert response.status_code == 400, response.content
    assert response.json()["field"] == field
    assert state(incident) == before


def test_a_malformed_action_next_to_a_valid_click_changes_nothing(connection, incident):
    before = state(incident)
    actions = [click(incident), {"action_id": "ilert_resolve", "value": {"id": incident.pk}}]
    response = signed_post(connection.connector, json.dumps(payload(incident, actions=actions)))
    assert response.status_code == 400 and response.json()["field"] == "payload.actions[1].value"
    assert state(incident) == before == ("PENDING", None, None, before[3])


@pytest.mark.parametrize("value", ["²", "9" * 40, "-1", " 1", "1.0"])
def test_a_value_that_is_no_incident_id_is_an_incident_that_does_not_exist(connection, incident, value):
    before = state(incident)
    actions = [{"action_id": "ilert_accept", "value": value}]
    assert signed_post(connection.connector, json.dumps(payload(incident, actions=actions))).status_code == 200
    assert state(incident) == before


def test_json_nested_too_deep_is_a_400(connection, incident):
    response = signed_post(connection.connector, "[" * 5_000 + "]" * 5_000)
    assert response.status_code == 400 and response.json()["field"] == "payload"


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20)
    | st.sampled_from(["ilert_accept", "ilert_resolve", "U0RITA", "", "0", "²", "1" * 30]),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=12,
)
PARTS = ["user", "user.id", "actions", "actions[0]", "actions[0].action_id", "actions[0].value", "type"]


def replaced(base, part, value):
    """`base` with the part at the dotted path replaced by `value`."""
    base = json.loads(json.dumps(base))
    if part in ("user", "actions", "type"):
        base[part] = value
    elif part == "user.id":
        base["user"]["id"] = value
    elif part == "actions[0]":
        base["actions"][0] = value
    else:
        base["actions"][0][part.rsplit(".", 1)[1]] = value
    return base


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(part=st.sampled_from(PARTS), value=JSON, extra=st.lists(JSON, max_size=2))
def test_fuzzed_payload_shapes_are_200_or_400_and_a_400_changes_nothing(connection, incident, part, value, extra):
    body = replaced(payload(incident), part, value)
    if isinstance(body.get("actions"), list):
        body["actions"] += extra
    before = state(incident)
    response = signed_post(connection.connector, json.dumps(body))
    assert response.status_code in (200, 400), (body, response.status_code, response.content)
    if response.status_code == 400:
        assert response.json()["field"].startswith("payload")
        assert state(incident) == before, body
