"""Fuzzing every ingestion endpoint with hypothesis: whatever arrives, the answer is never a 5xx
(the test client re-raises any exception), and a 4xx changes nothing.

Bodies are "near-valid": real payloads whose every field may be dropped, kept or replaced by any
JSON value (lone surrogate escapes such as "\\ud800" included), plus extra keys and raw garbage,
so the fuzzer reaches deep into each adapter.

Then, exhaustively for each JSON intake: a lone surrogate in any string or key of a real payload,
and a value of the wrong type in any field the adapter reads, get a 4xx that names the field and
change nothing."""

import copy
import json
import os
from pathlib import Path

import pytest
from django.test import Client
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from twilio.request_validator import RequestValidator

from alerts.models import AlertSource, ChangeEvent, Incident, IncidentLogEntry
from ilert import clock
from tests.notifications.fakes import platform_twilio

from .factories import make_source

pytestmark = pytest.mark.django_db

PAYLOADS = Path(__file__).parent / "payloads"
# FUZZ_EXAMPLES=2000 for a longer hunt; the suite keeps it quick.
FUZZ = settings(max_examples=int(os.environ.get("FUZZ_EXAMPLES", "60")), deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                        HealthCheck.too_slow])

# Text with lone surrogates now and then: JSON can escape them ("\\ud800"), UTF-8 cannot encode them.
texts = st.text(max_size=40) | st.tuples(st.text(max_size=5), st.characters(categories=["Cs"])).map("".join)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-2**63, 2**64) | st.floats(allow_nan=False) | texts,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(texts, children, max_size=4),
    max_leaves=12,
)


def near(value):
    """Strategy for values shaped like `value`: each part kept, replaced by any JSON, or dropped."""
    if isinstance(value, dict):
        return st.fixed_dictionaries({}, optional={k: near(v) for k, v in value.items()}).flatmap(
            lambda d: st.dictionaries(st.text(max_size=8), json_values, max_size=2).map(lambda extra: {**extra, **d}))
    if isinstance(value, list) and value:
        return st.lists(near(value[0]), max_size=3) | json_values
    return st.just(value) | json_values


def bodies(example):
    return near(example).map(json.dumps) | st.binary(max_size=200) | json_values.map(json.dumps)


@pytest.fixture(autouse=True)
def generous_limits(settings):
    settings.INGEST_RATE_LIMIT = "1000000/minute"
    settings.ANYMAIL = {"WEBHOOK_SECRET": "a:b", "MAILGUN_WEBHOOK_SIGNING_KEY": "k"}
    settings.INBOUND_EMAIL_DOMAIN = "in.example.com"
    with platform_twilio(settings, "+14155552671", token="fuzz-token"):  # owns the SMS source's number
        yield


def state():
    return (Incident.objects.count(), IncidentLogEntry.objects.count(), ChangeEvent.objects.count(),
            list(AlertSource.objects.order_by("pk").values_list("last_ping_at", "heartbeat_overdue")))


def check(response, before):
    assert response.status_code < 500, response.content[:500]
    if response.status_code >= 400:
        assert state() == before, f"{response.status_code} changed something: {response.content[:300]}"


def sources(tenant):
    kinds = ("api", "pagerduty", "opsgenie", "alertmanager", "grafana", "heartbeat", "email")
    made = {kind: make_source(tenant, name=kind, integration_type=kind) for kind in kinds}
    made["sms"] = make_source(tenant, name="sms", integration_type="sms",
                              options={"phone_number": "+14155552671", "allowed_senders": "*"})
    return made


def captured(name):
    return json.loads((PAYLOADS / name).read_text())


def test_the_event_api_never_fails(tenant):
    source = sources(tenant)["api"]
    example = {"integrationKey": source.integration_key, "eventType": "ALERT", "summary": "s", "details": "d",
               "alertKey": "k", "priority": "HIGH", "images": [{"src": "x", "href": "y", "alt": "z"}],
               "links": [{"href": "x", "text": "t"}], "customDetails": {"a": 1}, "labels": {"a": "b"}}

    @FUZZ
    @given(bodies(example))
    def run(body):
        before = state()
        check(Client().post("/api/events", body, content_type="application/json"), before)

    run()


def test_the_pagerduty_endpoint_never_fails(tenant):
    source = sources(tenant)["pagerduty"]
    example = captured("alertmanager/pagerduty_trigger.json")["body"]
    example["routing_key"] = source.integration_key
    example["images"] = [{"src": "https://x/y.png", "alt": "a"}]

    @FUZZ
    @given(bodies(example))
    def run(body):
        before = state()
        check(Client().post("/integrations/pagerduty/v2/enqueue", body, content_type="application/json"), before)

    run()


def test_the_pagerduty_change_endpoint_never_fails(tenant):
    source = sources(tenant)["pagerduty"]
    example = {"routing_key": source.integration_key, "links": [{"href": "https://ci/1", "text": "Build 1"}],
               "payload": {"summary": "Deployed v1", "source": "ci", "timestamp": clock.now().isoformat(),
                           "custom_details": {"build": 1}}}

    @FUZZ
    @given(bodies(example))
    def run(body):
        before = ChangeEvent.objects.count()
        response = Client().post("/integrations/pagerduty/v2/change/enqueue", body, content_type="application/json")
        assert response.status_code < 500, response.content[:500]
        assert ChangeEvent.objects.count() == before + (response.status_code == 202)

    run()


def test_the_opsgenie_endpoints_never_fail(tenant):
    source = sources(tenant)["opsgenie"]
    example = {**captured("alertmanager/opsgenie_create.json")["body"], "priority": "P1", "tags": ["a"],
               "entity": "e", "note": "n"}
    auth = {"HTTP_AUTHORIZATION": f"GenieKey {source.integration_key}"}
    paths = st.sampled_from(["/integrations/opsgenie/v2/alerts"]) | st.text(
        st.characters(codec="ascii", exclude_characters="/?#%"), min_size=1, max_size=20).flatmap(
        lambda alias: st.sampled_from([f"/integrations/opsgenie/v2/alerts/{alias}/close?identifierType=alias",
                                       f"/integrations/opsgenie/v2/alerts/{alias}/acknowledge?identifierType=alias"]))

    @FUZZ
    @given(paths, bodies(example))
    def run(path, body):
        before = state()
        check(Client().post(path, body, content_type="application/json", **auth), before)

    run()


@pytest.mark.parametrize("kind, payload", [
    ("alertmanager", "alertmanager/webhook_firing.json"),
    ("grafana", "grafana/unified_firing.json"),
    ("grafana", "grafana/legacy_alerting.json"),
])
def test_the_alertmanager_and_grafana_webhooks_never_fail(tenant, kind, payload):
    source = sources(tenant)[kind]
    example = captured(payload)
    example = example.get("body", example)

    @FUZZ
    @given(bodies(example), st.booleans())
    def run(body, grouped):
        source.options = {"group_by": "groupKey" if grouped else "fingerprint"}
        source.save(update_fields=["options"])
        before = state()
        check(Client().post(f"/integrations/{kind}/{source.integration_key}", body, content_type="application/json"),
              before)

    run()


def test_heartbeat_pings_never_fail(tenant):
    made = sources(tenant)
    keys = st.sampled_from([made["heartbeat"].integration_key, made["api"].integration_key]) | st.text(
        st.characters(codec="ascii", exclude_characters="/?#%"), min_size=1, max_size=60)

    @FUZZ
    @given(keys, st.sampled_from(["get", "post", "head", "put"]), st.binary(max_size=100))
    def run(key, method, body):
        before = state()
        response = Client().generic(method.upper(), f"/api/heartbeats/{key}", body,
                                    content_type="application/octet-stream")
        check(response, before)

    run()


def test_inbound_email_webhooks_never_fail(tenant):
    source = sources(tenant)["email"]
    to = f"{source.integration_key}@in.example.com"
    example = {"FromFull": {"Email": "a@b.example", "Name": "n"}, "ToFull": [{"Email": to, "Name": ""}],
               "Subject": "s", "TextBody": "t", "HtmlBody": "<p>h</p>", "Headers": [{"Name": "X", "Value": "y"}],
               "OriginalRecipient": to, "MessageID": "id"}
    auth = {"HTTP_AUTHORIZATION": "Basic YTpi"}
    fields = st.dictionaries(st.sampled_from(["headers", "text", "html", "from", "to", "subject", "envelope",
                                              "charsets", "email", "attachment-info"]), st.text(max_size=60))

    @FUZZ
    @given(bodies(example), fields)
    def run(body, form):
        before = state()
        check(Client().post("/anymail/postmark/inbound/", body, content_type="application/json", **auth), before)
        before = state()
        check(Client().post("/anymail/sendgrid/inbound/", form, **auth), before)

    run()


def test_signed_twilio_webhooks_never_fail(tenant):
    sources(tenant)
    url = "http://testserver/integrations/twilio/sms"
    fields = st.fixed_dictionaries({}, optional={
        "From": st.sampled_from(["+4915123456789", "+1", "garbage"]) | st.text(max_size=20),
        "To": st.sampled_from(["+14155552671", "+1 415 555 2671"]) | st.text(max_size=20),
        "Body": st.text(max_size=300), "MessageSid": st.text(max_size=40), "NumMedia": st.text(max_size=3),
    })

    @FUZZ
    @given(fields, st.booleans())
    def run(params, sign):
        signature = RequestValidator("fuzz-token").compute_signature(url, params) if sign else "x"
        before = state()
        check(Client().post("/integrations/twilio/sms", params, HTTP_X_TWILIO_SIGNATURE=signature), before)

    run()


# --- every field, exhaustively: lone surrogates and wrong types -------------------------------------

SURROGATE = "\ud800"
WRONG_TYPES = [12345, 1.5, True, {"a": {"b": 1}}, ["x"]]


def string_paths(value, path=()):
    """The path (a tuple of keys and indexes) of every string in `value`."""
    if isinstance(value, str):
        yield path
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from string_paths(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from string_paths(item, (*path, index))


def key_paths(value, path=()):
    """The path of every object key in `value`."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield (*path, key)
            yield from key_paths(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from key_paths(item, (*path, index))


def dotted(path):
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else part)
    return out


def replaced(body, path, value):
    body = copy.deepcopy(body)
    target = body
    for part in path[:-1]:
        target = target[part]
    target[path[-1]] = value
    return body


def with_surrogate_key(body, path):
    body = copy.deepcopy(body)
    target = body
    for part in path[:-1]:
        target = target[part]
    target[path[-1] + SURROGATE] = target.pop(path[-1])
    return body


class Intake:
    """One JSON intake: a real payload, how to post it, and the fields its adapter reads."""

    def __init__(self, name, path, body, *, read=(), group_read=(), pagerduty=False, options=None):
        self.name, self.path, self.body, self.pagerduty = name, path, body, pagerduty
        self.read, self.group_read, self.options = read, group_read, options

    def post(self, body):
        raw = json.dumps(body)  # ensure_ascii: a lone surrogate travels as the escape "\ud800"
        return Client().post(self.path, raw, content_type="application/json")

    def names(self, response, field):
        """Whether the 4xx answer names `field` (PagerDuty's shape lists messages, ours maps fields)."""
        body = response.json()
        if self.pagerduty:
            return any(field in error for error in body["errors"])
        return field in body.get("fields", {})


def intakes(tenant):
    made = sources(tenant)
    alertmanager = captured("alertmanager/webhook_firing.json")["body"]
    pagerduty = captured("alertmanager/pagerduty_trigger.json")["body"]
    pagerduty["routing_key"] = made["pagerduty"].integration_key
    pagerduty["payload"].update(component="db", group="prod", **{"class": "disk"}, timestamp="2026-11-27T13:40:03Z")
    pagerduty["links"] = [{"href": "https://x/1", "text": "one"}]
    pagerduty["images"] = [{"src": "https://x/y.png", "href": "https://x", "alt": "a"}]
    alert_fields = ("status", "labels.*", "annotations.*", "startsAt", "endsAt", "generatorURL", "fingerprint")
    alerts = tuple(f"alerts[{i}].{name}" for i in (0, 1) for name in alert_fields)
    group = ("status", "groupKey", "groupLabels.*", "commonLabels.*", "commonAnnotations.*")
    grafana_alerts = alerts + tuple(f"alerts[{i}].{name}" for i in (0, 1)
                                    for name in ("silenceURL", "dashboardURL", "panelURL", "valueString", "imageURL"))
    return [
        Intake("event api", "/api/events", {
            "integrationKey": made["api"].integration_key, "eventType": "ALERT", "summary": "s", "details": "d",
            "alertKey": "k", "priority": "HIGH", "images": [{"src": "x", "href": "y", "alt": "z"}],
            "links": [{"href": "x", "text": "t"}], "customDetails": {"a": "b"}, "labels": {"a": "b"},
            "routingKey": "r"},
            read=("eventType", "summary", "details", "alertKey", "priority", "images[0].*", "links[0].*", "labels.*",
                  "routingKey")),
        Intake("pagerduty", "/integrations/pagerduty/v2/enqueue", pagerduty, pagerduty=True,
               read=("dedup_key", "event_action", "payload.summary", "payload.source", "payload.severity",
                     "payload.component", "payload.group", "payload.class", "payload.timestamp", "client",
                     "client_url", "links[0].*", "images[0].*")),
        Intake("pagerduty change", "/integrations/pagerduty/v2/change/enqueue", {
            "routing_key": made["pagerduty"].integration_key, "links": [{"href": "https://ci/1", "text": "Build 1"}],
            "payload": {"summary": "Deployed v1", "source": "ci", "timestamp": clock.now().isoformat(),
                        "custom_details": {"build": "1"}}}, pagerduty=True,
               read=("payload.summary", "payload.source", "payload.timestamp", "links[0].*")),
        Intake("alertmanager", f"/integrations/alertmanager/{made['alertmanager'].integration_key}", alertmanager,
               read=alerts + ("receiver", "externalURL"), group_read=group, options=made["alertmanager"]),
        Intake("grafana unified", f"/integrations/grafana/{made['grafana'].integration_key}",
               captured("grafana/unified_firing.json"), read=grafana_alerts, group_read=(*group, "title", "message"),
               options=made["grafana"]),
        Intake("grafana legacy", f"/integrations/grafana/{made['grafana'].integration_key}",
               captured("grafana/legacy_alerting.json"),
               read=("state", "title", "ruleName", "message", "ruleUrl", "imageUrl", "tags.*",
                     "evalMatches[0].metric", "evalMatches[1].metric")),
    ]


def matches(field, patterns):
    return any(field == p or p.endswith(".*") and field.startswith(p[:-1]) for p in patterns)


def group_by(intake, mode):
    if intake.options is not None:
        intake.options.options = {"group_by": mode}
        intake.options.save(update_fields=["options"])


def test_a_lone_surrogate_in_any_field_or_key_of_any_json_intake_gets_400_naming_it(tenant):
    checked = 0
    for intake in intakes(tenant):
        for mode in ("fingerprint", "groupKey") if intake.options is not None else ("",):
            group_by(intake, mode)
            cases = [(replaced(intake.body, p, intake_value(intake.body, p) + SURROGATE), dotted(p))
                     for p in string_paths(intake.body)]
            cases += [(with_surrogate_key(intake.body, p), dotted(p) + "\\ud800") for p in key_paths(intake.body)]
            for body, field in cases:
                before = state()
                response = intake.post(body)
                assert response.status_code == 400, (intake.name, mode, field, response.content[:300])
                assert intake.names(response, field), (intake.name, field, response.content[:300])
                assert state() == before
                checked += 1
    assert checked > 250


def intake_value(body, path):
    for part in path:
        body = body[part]
    return body


def test_a_wrong_type_in_any_field_an_intake_reads_gets_4xx_naming_it(tenant):
    checked = 0
    for intake in intakes(tenant):
        for mode in ("fingerprint", "groupKey") if intake.options is not None else ("",):
            group_by(intake, mode)
            fields = intake.read + (intake.group_read if mode == "groupKey" else ())
            paths = [p for p in string_paths(intake.body) if matches(dotted(p), fields)]
            assert len(paths) >= len([f for f in fields if "*" not in f]) - 2, (intake.name, paths)
            for path in paths:
                for wrong in WRONG_TYPES:
                    before = state()
                    response = intake.post(replaced(intake.body, path, wrong))
                    assert 400 <= response.status_code < 500, (intake.name, mode, dotted(path), wrong,
                                                                 response.content[:300])
                    assert intake.names(response, dotted(path)), (intake.name, dotted(path), response.content[:300])
                    assert state() == before
                    checked += 1
    assert checked > 500


def test_the_real_payloads_used_above_are_accepted(tenant):
    """The cases above fail because of the one field they change, not because the payload is bad."""
    for intake in intakes(tenant):
        for mode in ("fingerprint", "groupKey") if intake.options is not None else ("",):
            group_by(intake, mode)
            response = intake.post(intake.body)
            assert response.status_code == 202, (intake.name, mode, response.content[:300])
