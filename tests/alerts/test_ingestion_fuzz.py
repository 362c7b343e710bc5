"""Fuzzing every ingestion endpoint with hypothesis: whatever arrives, the answer is never a 5xx
(the test client re-raises any exception), and a 4xx changes nothing.

Bodies are "near-valid": real payloads whose every field may be dropped, kept or replaced by any
JSON value, plus extra keys and raw garbage, so the fuzzer reaches deep into each adapter."""

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

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-2**63, 2**64) | st.floats(allow_nan=False) | st.text(max_size=40),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
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
    return (Incident.objects.count(), IncidentLogEntry.objects.count(),
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
