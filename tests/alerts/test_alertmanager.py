"""Prometheus Alertmanager webhook (v4): payloads captured from a real Alertmanager
(tests/alerts/payloads/alertmanager/), and an end-to-end run of the real binary."""

import base64
import json
import os
import shutil
import socket
import subprocess
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from django.test import Client

from alerts import services
from alerts.models import Incident

from .factories import make_source

PAYLOADS = Path(__file__).parent / "payloads" / "alertmanager"
IN_CI = os.environ.get("CI", "").lower() == "true"


def captured(name):
    return json.loads((PAYLOADS / f"{name}.json").read_text())


def post(path, body, **headers):
    data = body if isinstance(body, (str, bytes)) else json.dumps(body)
    return Client().post(path, data, content_type="application/json", **headers)


@pytest.fixture
def source(tenant):
    return make_source(tenant, name="Prometheus", integration_type="alertmanager", default_priority="LOW")


def test_a_real_notification_opens_one_incident_per_fingerprint(source):
    body = captured("webhook_firing")["body"]
    body["alerts"] = body["alerts"]  # db-1 (critical, with summary) and db-2 (warning, no summary)
    response = post(f"/integrations/alertmanager/{source.integration_key}", body)
    assert response.status_code == 202, response.content
    rows = response.json()["alerts"]
    assert [r["responseCode"] for r in rows] == ["NEW_INCIDENT_CREATED"] * len(body["alerts"])
    incidents = {i.incident_key: i for i in Incident.objects.all()}
    assert set(incidents) == {a["fingerprint"] for a in body["alerts"]}
    db1 = next(i for i in incidents.values() if i.labels.get("instance") == "db-1:9100")
    assert db1.summary == "Disk full on db-1" and db1.priority == "HIGH"
    assert "Only 2% left on /var" in db1.details
    assert {"href": "https://runbooks.example/disk", "text": "Runbook"} in db1.links
    assert db1.labels["alertname"] == "DiskFull" and db1.custom_details["annotations"]["runbook_url"]


def test_without_a_summary_annotation_the_summary_is_alertname_and_instance(source):
    body = captured("webhook_firing")["body"]
    post(f"/integrations/alertmanager/{source.integration_key}", body)
    db2 = Incident.objects.get(labels__instance="db-2:9100")
    assert db2.summary == "DiskFull on db-2:9100" and db2.priority == "LOW"


def test_resolved_alerts_resolve_their_incident_and_only_theirs(source):
    url = f"/integrations/alertmanager/{source.integration_key}"
    post(url, captured("webhook_firing")["body"])
    response = post(url, captured("webhook_one_resolved")["body"])
    assert response.status_code == 202
    assert sorted(Incident.objects.values_list("labels__instance", "status")) == [
        ("db-1:9100", "RESOLVED"), ("db-2:9100", "PENDING")]
    post(url, captured("webhook_resolved")["body"])
    assert set(Incident.objects.values_list("status", flat=True)) == {"RESOLVED"}


def test_repeated_notifications_append_to_the_open_incidents(source):
    url = f"/integrations/alertmanager/{source.integration_key}"
    post(url, captured("webhook_firing")["body"])
    again = post(url, captured("webhook_firing")["body"]).json()["alerts"]
    assert {r["responseCode"] for r in again} == {"EVENT_APPENDED"}
    assert set(Incident.objects.values_list("event_count", flat=True)) == {2}


def test_the_group_key_option_makes_one_incident_per_group(source):
    services.update_alert_source(source, options={"group_by": "groupKey"})
    url = f"/integrations/alertmanager/{source.integration_key}"
    post(url, captured("webhook_firing")["body"])
    post(url, captured("webhook_one_resolved")["body"])  # the group still fires: appended
    incident = Incident.objects.get()
    assert incident.status == "PENDING" and incident.event_count == 2
    assert incident.incident_key == '{}:{alertname="DiskFull"}'
    assert incident.summary.startswith("[FIRING:")
    post(url, captured("webhook_resolved")["body"])
    incident.refresh_from_db()
    assert incident.status == "RESOLVED"


def test_the_key_may_come_as_a_bearer_token_or_basic_auth_password(source):
    body = captured("webhook_firing")["body"]
    bearer = post("/integrations/alertmanager", body, HTTP_AUTHORIZATION=f"Bearer {source.integration_key}")
    assert bearer.status_code == 202
    basic = base64.b64encode(f"alertmanager:{source.integration_key}".encode()).decode()
    assert post("/integrations/alertmanager", body, HTTP_AUTHORIZATION=f"Basic {basic}").status_code == 202
    assert post("/integrations/alertmanager", body).status_code == 400
    assert post("/integrations/alertmanager", body, HTTP_AUTHORIZATION="Bearer nope").status_code == 404


@pytest.mark.parametrize("mutate, field", [
    (lambda b: b.update(alerts="x"), "alerts"),
    (lambda b: b["alerts"][1].update(status="burning"), "alerts[1].status"),
    (lambda b: b["alerts"][0].update(labels=["x"]), "alerts[0].labels"),
    (lambda b: b["alerts"].append(7), "alerts[2]"),
])
def test_a_bad_alert_anywhere_rejects_the_whole_notification(source, mutate, field):
    body = captured("webhook_firing")["body"]
    mutate(body)
    response = post(f"/integrations/alertmanager/{source.integration_key}", body)
    assert response.status_code == 400 and field in response.json()["fields"]
    assert not Incident.objects.exists()


def test_invalid_group_options_are_refused(source):
    from ilert.errors import DomainError

    with pytest.raises(DomainError):
        services.update_alert_source(source, options={"group_by": "labels"})


# --- the real Alertmanager ---------------------------------------------------------------------

ALERTMANAGER = shutil.which("prometheus-alertmanager") or shutil.which("alertmanager")
AMTOOL = shutil.which("amtool")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(predicate, timeout=120.0):  # a ceiling for a hung Alertmanager, not a measure
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.2)
    return False


@pytest.mark.e2e
@pytest.mark.postgres  # Alertmanager posts to its receivers at once; the live server's threads then share
# one in-memory SQLite connection, which SQLite cannot do ("cannot open savepoint - SQL statements in progress")
@pytest.mark.django_db(transaction=True)
def test_a_real_alertmanager_reaches_us_through_webhook_opsgenie_and_pagerduty_receivers(tenant, live_server, tmp_path):
    if not (ALERTMANAGER and AMTOOL):
        if IN_CI:
            pytest.fail("prometheus-alertmanager is not installed (.ci/run installs it)")
        pytest.skip("needs Debian's prometheus-alertmanager (apt-get install prometheus-alertmanager)")
    hook = make_source(tenant, name="AM webhook", integration_type="alertmanager")
    genie = make_source(tenant, name="AM opsgenie", integration_type="opsgenie")
    duty = make_source(tenant, name="AM pagerduty", integration_type="pagerduty")
    config = (PAYLOADS / "alertmanager.yml").read_text()
    config = config.replace("http://127.0.0.1:18099", live_server.url)
    config = config.replace("KEYHERE", hook.integration_key).replace("OGKEY", genie.integration_key)
    config = config.replace("PDKEY", duty.integration_key)
    (tmp_path / "am.yml").write_text(config)
    port = free_port()
    url = f"--alertmanager.url=http://127.0.0.1:{port}"
    process = subprocess.Popen(
        [ALERTMANAGER, f"--config.file={tmp_path / 'am.yml'}", f"--storage.path={tmp_path / 'data'}",
         f"--web.listen-address=127.0.0.1:{port}", "--cluster.listen-address="],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        def amtool(*args):
            subprocess.run([AMTOOL, url, "alert", "add", *args], check=True, capture_output=True, timeout=60)

        assert wait_for(lambda: subprocess.run([AMTOOL, url, "config", "show"], capture_output=True).returncode == 0)
        alerts = [
            ["alertname=DiskFull", "instance=db-1", "severity=critical", "--annotation=summary=Disk full on db-1"],
            ["alertname=HighLatency", "instance=api-1", "team=og", "severity=critical", "--annotation=summary=p99 slow"],
            ["alertname=QueueStuck", "instance=worker-1", "team=pd", "severity=warning", "--annotation=summary=Stuck"],
        ]
        for labels in alerts:
            amtool(*labels)
        assert wait_for(lambda: Incident.objects.count() == 3), list(Incident.objects.values("summary"))
        by_source = {i.alert_source_id: i for i in Incident.objects.all()}
        assert by_source[hook.pk].summary == "Disk full on db-1"
        assert by_source[genie.pk].summary.startswith("[FIRING:1] HighLatency")
        assert by_source[duty.pk].summary.startswith("[FIRING:1] QueueStuck")

        ended = (datetime.now(UTC) - timedelta(seconds=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
        for labels in alerts:
            amtool(*labels, f"--end={ended}")
        assert wait_for(lambda: set(Incident.objects.values_list("status", flat=True)) == {"RESOLVED"}), \
            list(Incident.objects.values("summary", "status"))
        assert Incident.objects.count() == 3
    finally:
        process.terminate()
        process.wait(timeout=10)
