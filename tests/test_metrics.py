"""GET /metrics (docs/metrics.md): refused without the operator's token, and each value moves when the
thing it counts happens. The answer is read with prometheus_client's own parser; counters are
compared before and after (in multiprocess mode, the default here, other tests' counts are in the
same files)."""

from datetime import timedelta

import pytest
import time_machine
from django.test import Client
from prometheus_client.parser import text_string_to_metric_families

from escalation import engine as escalation_engine
from ilert import metrics
from ilert.ticker import Ticker
from notifications import engine as notification_engine
from notifications import services as notification_services
from notifications.models import Notification
from tests.alerts.factories import make_incident, make_source
from tests.conftest import client_for
from tests.escalation.factories import make_policy
from tests.factories import UserFactory
from tests.notifications.factories import make_method, make_rule
from tests.uptime.factories import make_monitor
from uptime import engine as uptime_engine
from uptime import services as uptime_services
from uptime.checks.base import down, up

pytestmark = pytest.mark.django_db
TOKEN = "operator-metrics-token-0123456789"
T0 = "2026-03-10 09:00:00Z"


@pytest.fixture(autouse=True)
def _token(settings):
    settings.METRICS_TOKEN = TOKEN


def scrape(client=None):
    """{(sample name, ((label, value), ...)): value} of one authorised GET /metrics."""
    response = (client or Client()).get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
    assert response.status_code == 200, response.content
    assert response["Content-Type"].startswith("text/plain; version=")
    samples = {}
    for family in text_string_to_metric_families(response.content.decode()):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def value(samples, name, **labels):
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


class Moves:
    """Scrape before and after: how much each sample moved."""

    def __init__(self):
        self.before = scrape()

    def __call__(self, name, **labels):
        return value(scrape(), name, **labels) - value(self.before, name, **labels)


# --- the door -------------------------------------------------------------------------------------


def test_without_a_configured_token_the_route_does_not_exist(settings, admin):
    settings.METRICS_TOKEN = ""
    assert Client().get("/metrics").status_code == 404
    assert Client().get("/metrics", HTTP_AUTHORIZATION="Bearer ").status_code == 404
    browser = Client()
    browser.force_login(admin)
    assert browser.get("/metrics").status_code == 404


@pytest.mark.parametrize("header", [None, "", "Bearer", "Bearer ", f"Bearer {TOKEN}x", f"Bearer {TOKEN[:-1]}",
                                    f"Basic {TOKEN}", f"Token {TOKEN}", TOKEN])
def test_a_missing_or_wrong_token_is_401_and_shows_nothing(header):
    extra = {} if header is None else {"HTTP_AUTHORIZATION": header}
    response = Client().get("/metrics", **extra)
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == 'Bearer realm="metrics"'
    assert b"ilert_" not in response.content


def test_no_session_or_api_key_opens_it_not_even_an_admins(admin):
    browser = Client()
    browser.force_login(admin)
    assert browser.get("/metrics").status_code == 401
    assert client_for(admin).get("/metrics").status_code == 401  # the admin's API key is not the token


def test_only_reading_is_allowed():
    response = Client().post("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
    assert response.status_code == 405


def test_the_answer_is_the_prometheus_text_format_and_names_no_tenant(tenant, admin):
    source = make_source(tenant, name="Acme production database")
    make_incident(source=source, summary="Disk full on db-1 for ada@acme.test")
    response = Client().get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
    text = response.content.decode()
    families = list(text_string_to_metric_families(text))
    assert {"ilert_ingest_events", "ilert_outbox_depth", "ilert_tick_overdue_seconds"} <= {f.name for f in families}
    for private in ("Acme", "acme", "ada@", "db-1"):
        assert private not in text
    ids = {str(tenant.pk), str(source.pk), str(admin.pk)}
    for family in families:
        for sample in family.samples:
            if sample.name.startswith("ilert_"):
                assert not {"tenant", "tenant_id", "user", "source"} & set(sample.labels), sample
                assert not ids & set(sample.labels.values()), sample


# --- values move when the thing they count happens -------------------------------------------------


def test_posting_an_event_counts_it_times_it_and_counts_the_incident_it_opens(tenant):
    source = make_source(tenant)
    moved = Moves()
    body = {"integrationKey": source.integration_key, "eventType": "ALERT", "summary": "Disk full", "alertKey": "k1"}
    assert Client().post("/api/events", body, content_type="application/json").status_code == 202
    assert Client().post("/api/events", body, content_type="application/json").status_code == 202
    assert moved("ilert_ingest_events_total", integration="api", outcome="NEW_INCIDENT_CREATED") == 1
    assert moved("ilert_ingest_events_total", integration="api", outcome="EVENT_APPENDED") == 1
    assert moved("ilert_ingest_duration_seconds_count", integration="api") == 2
    assert moved("ilert_ingest_duration_seconds_sum", integration="api") > 0
    assert moved("ilert_incidents_opened_total", integration="api", priority="HIGH") == 1


def test_an_event_for_a_disabled_source_counts_as_refused(tenant):
    source = make_source(tenant)
    source.status = source.Status.DISABLED
    source.save(update_fields=["status"])
    moved = Moves()
    body = {"integrationKey": source.integration_key, "eventType": "ALERT", "summary": "Disk full"}
    assert Client().post("/api/events", body, content_type="application/json").status_code == 403
    assert moved("ilert_ingest_events_total", integration="api", outcome="refused") == 1
    assert moved("ilert_incidents_opened_total", integration="api", priority="HIGH") == 0


def test_a_rate_limit_refusal_is_counted_by_limit_name_only(tenant, settings):
    settings.INGEST_RATE_LIMIT = "1/minute"
    source = make_source(tenant)
    moved = Moves()
    body = {"integrationKey": source.integration_key, "eventType": "ALERT", "summary": "Disk full"}
    assert Client().post("/api/events", body, content_type="application/json").status_code == 202
    assert Client().post("/api/events", body, content_type="application/json").status_code == 429
    assert moved("ilert_rate_limit_refusals_total", limit="ingest") == 1


def test_an_escalation_step_is_counted_with_how_late_it_ran(tenant, django_capture_on_commit_callbacks, settings):
    settings.ILERT_KICK_TASKS = False
    ana, ben = UserFactory(tenant=tenant), UserFactory(tenant=tenant)
    policy = make_policy(tenant, [{"users": [ana], "timeout_minutes": 5}, {"users": [ben], "timeout_minutes": 5}])
    with time_machine.travel(T0, tick=False) as clock:
        make_incident(source=make_source(tenant, escalation_policy=policy))
        with django_capture_on_commit_callbacks(execute=True):
            assert escalation_engine.tick() == 1  # level 1, due at once: on time
        moved = Moves()
        clock.shift(timedelta(minutes=5, seconds=90))  # level 2 was due 90 s ago
        assert value(scrape(), "ilert_due_backlog", engine="escalation") == 1
        assert value(scrape(), "ilert_due_oldest_age_seconds", engine="escalation") == 90
        with django_capture_on_commit_callbacks(execute=True):
            assert escalation_engine.tick() == 1
    assert moved("ilert_escalation_steps_total") == 1
    assert moved("ilert_escalation_lateness_seconds_count") == 1
    assert moved("ilert_escalation_lateness_seconds_sum") == 90
    assert moved("ilert_escalation_lateness_seconds_bucket", le="60.0") == 0
    assert moved("ilert_escalation_lateness_seconds_bucket", le="120.0") == 1


def test_a_step_that_rolls_back_is_not_counted(tenant, settings):
    """Without a commit (the test's transaction is never committed) nothing is counted."""
    settings.ILERT_KICK_TASKS = False
    policy = make_policy(tenant)
    make_incident(source=make_source(tenant, escalation_policy=policy))
    moved = Moves()
    assert escalation_engine.tick() == 1
    assert moved("ilert_escalation_steps_total") == 0


def test_open_outbox_rows_are_the_depth_gauge_by_state_and_channel(tenant, settings):
    settings.ILERT_KICK_TASKS = False
    users = [UserFactory(tenant=tenant) for _ in range(3)]
    for user in users:
        make_rule(user, make_method(user, kind="sms"))
    with time_machine.travel(T0, tick=False) as clock:
        before = scrape()
        incident = make_incident(tenant)
        for user in users:
            notification_services.notify(incident, user, round_tag="r0")
        pending = Notification.objects.filter(status="pending", channel="sms").count()
        assert pending == 3
        clock.shift(timedelta(seconds=40))
        after = scrape()
    key = {"outbox": "notifications", "state": "pending", "channel": "sms"}
    assert value(after, "ilert_outbox_depth", **key) - value(before, "ilert_outbox_depth", **key) == 3
    assert value(after, "ilert_outbox_oldest_due_age_seconds", outbox="notifications", channel="sms") == 40
    Notification.objects.filter(channel="sms").update(status="sent")
    assert value(scrape(), "ilert_outbox_depth", **key) == value(before, "ilert_outbox_depth", **key)


def test_a_failing_provider_is_counted_by_channel_and_kind(tenant, settings):
    """SMS with no provider and the dev outbox off: a permanent failure of the provider call."""
    settings.ILERT_KICK_TASKS = False
    settings.DEV_OUTBOX = False
    user = UserFactory(tenant=tenant)
    make_rule(user, make_method(user, kind="sms"))
    notification_services.notify(make_incident(tenant), user, round_tag="r0")
    moved = Moves()
    notification_engine.tick()
    assert Notification.objects.get(user=user).status == "failed"
    assert moved("ilert_provider_errors_total", channel="sms", kind="permanent") == 1
    assert moved("ilert_notifications_sent_total", channel="sms", provider="twilio") == 0


def test_a_sent_message_is_counted_by_channel_and_provider(tenant, settings):
    settings.ILERT_KICK_TASKS = False
    user = UserFactory(tenant=tenant)
    make_rule(user, make_method(user, kind="sms"))
    notification_services.notify(make_incident(tenant), user, round_tag="r0")
    moved = Moves()
    notification_engine.tick()
    assert Notification.objects.get(user=user).status == "sent"
    assert moved("ilert_notifications_sent_total", channel="sms", provider="dev") == 1


def test_an_uptime_check_is_counted_by_type_and_outcome_with_its_lateness(tenant):
    with time_machine.travel(T0, tick=False):
        monitor = make_monitor(tenant, paused=False)
        due = monitor.next_check_at
        moved = Moves()
        (claim,) = uptime_engine.claim_due(limit=5, now=due + timedelta(seconds=3))
        started = due + timedelta(seconds=3)  # the check started 3 s after its due time
        checked = uptime_services.Checked
        assert uptime_services.record_checks([checked(monitor.pk, claim.seq, down("refused"), started, claim.due_at)])[0]
        stale = checked(monitor.pk, claim.seq - 1, up("stale", 5), started, claim.due_at)
        assert uptime_services.record_checks([stale])[0] is None  # a stale claim: not counted
    assert moved("ilert_uptime_checks_total", check_type="http", outcome="down") == 1
    assert moved("ilert_uptime_checks_total", check_type="http", outcome="up") == 0
    assert moved("ilert_uptime_check_lateness_seconds_count", check_type="http") == 1
    assert moved("ilert_uptime_check_lateness_seconds_sum", check_type="http") == 3


def test_a_ticker_run_is_counted_timed_and_stamped_and_an_untaken_tick_shows_as_overdue(settings):
    task = "ilert.tasks.prune_replays"
    ticker = Ticker({task: 60}, identity="metrics-test")
    with time_machine.travel(T0, tick=False) as clock:
        moved = Moves()
        taken, _next_due = ticker.tick(task)
        assert taken
        samples = scrape()
        assert value(samples, "ilert_tick_overdue_seconds", task=task) == 0
        clock.shift(timedelta(seconds=75))  # due 15 s ago and no ticker took it
        assert value(scrape(), "ilert_tick_overdue_seconds", task=task) == 15
    assert moved("ilert_ticker_runs_total", task=task, outcome="ok") == 1
    assert moved("ilert_ticker_run_duration_seconds_count", task=task) == 1
    assert value(samples, "ilert_ticker_last_run_timestamp_seconds", task=task) > 0


def test_a_state_read_that_fails_is_reported_and_the_rest_still_answers(monkeypatch):
    from ilert import exposition

    monkeypatch.setitem(exposition.BACKLOG_READERS, "broken", "tests.test_metrics.no_such_reader")
    samples = scrape()
    assert value(samples, "ilert_state_read_ok", reader="backlog:broken") == 0
    assert value(samples, "ilert_state_read_ok", reader="backlog:escalation") == 1
    assert ("ilert_outbox_depth", ()) not in samples  # families still render (empty or not)


def test_multiprocess_mode_is_what_the_suite_runs_unless_turned_off():
    import os

    if os.environ.get("METRICS_MULTIPROCESS", "true").lower() in ("0", "false", "no", "off"):
        assert metrics.MULTIPROC_DIR is None
    else:
        assert metrics.MULTIPROC_DIR and any(name.endswith(".db") for name in os.listdir(metrics.MULTIPROC_DIR))


def test_the_dashboard_and_the_alert_rules_use_only_metrics_that_exist():
    import re
    from pathlib import Path

    from prometheus_client import Counter, Gauge, Histogram

    from ilert.exposition import StateCollector

    suffixes = {Counter: ["_total"], Histogram: ["_bucket", "_sum", "_count"], Gauge: [""]}
    exported = {family.name for family in StateCollector().collect()}
    for metric in vars(metrics).values():
        for kind, ends in suffixes.items():
            if isinstance(metric, kind):
                exported.update(metric._name + end for end in ends)
    deploy = Path(__file__).resolve().parent.parent / "deploy"
    for path in (deploy / "grafana" / "ilert-dashboard.json", deploy / "prometheus" / "ilert-rules.yml"):
        used = set(re.findall(r"\bilert_[a-z_]+", path.read_text()))
        assert used, path
        assert used <= exported, f"{path.name} uses metrics that do not exist: {sorted(used - exported)}"


def test_cleaning_the_directory_removes_the_files_of_earlier_processes_only_there(tmp_path):
    (tmp_path / "counter_old-host-1.db").write_bytes(b"x")
    (tmp_path / "gauge_livesum_old-host-1.db").write_bytes(b"x")
    (tmp_path / "README").write_text("kept")
    metrics.clean(str(tmp_path))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["README"]


@pytest.mark.redis
def test_broker_queue_lengths_are_read_from_redis_over_every_priority_step(settings):
    import redis

    settings.TASK_RUNNER = "celery"
    settings.WORKER_QUEUES = "ilert-metrics-test-a,ilert-metrics-test-b"  # queues no worker consumes
    client = redis.Redis.from_url(settings.REDIS_URL)
    keys = ["ilert-metrics-test-a", "ilert-metrics-test-a\x06\x163", "ilert-metrics-test-b\x06\x169"]
    client.delete(*keys)
    try:
        client.lpush(keys[0], "m1", "m2")
        client.lpush(keys[1], "m3")
        client.lpush(keys[2], "m4")
        samples = scrape()
    finally:
        client.delete(*keys)
    assert value(samples, "ilert_queue_depth", queue="ilert-metrics-test-a") == 3
    assert value(samples, "ilert_queue_depth", queue="ilert-metrics-test-b") == 1
    assert value(samples, "ilert_state_read_ok", reader="queues") == 1
