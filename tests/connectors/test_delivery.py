"""The outbox (docs/architecture.md §4): rows written in the incident's transaction, claimed, delivered
outside transactions, retried with backoff on 429/5xx/timeouts for 24 hours, never on other 4xx."""

from datetime import timedelta

import httpx
import pytest
import respx
import time_machine
from django.db import transaction

from alerts import services as alert_services
from alerts.models import IncidentLogEntry
from connectors import engine, http, tasks
from connectors.models import ConnectionInvocation
from ilert import clock
from tests.alerts.factories import alert, make_source

from .factories import make_connection, make_connector

URL = "https://hooks.example.com/ilert"


@pytest.fixture
def hook(tenant):
    return make_connection(tenant, events=["created", "accepted", "resolved"])


def test_invocation_rows_commit_or_roll_back_with_the_incident_change(hook):
    with pytest.raises(RuntimeError):
        with transaction.atomic():
            alert(hook.alert_source)
            assert ConnectionInvocation.objects.count() == 1  # written inside the transaction
            raise RuntimeError("the incident change fails")
    assert not ConnectionInvocation.objects.exists()
    incident = alert(hook.alert_source).incident
    row = ConnectionInvocation.objects.get()
    assert (row.incident_id, row.event, row.status) == (incident.pk, "created", "pending")
    assert row.payload["incident"]["summary"] == incident.summary


def test_only_subscribed_events_of_enabled_automatic_connections_make_rows(tenant, admin):
    source = make_source(tenant)
    make_connection(tenant, source=source, events=["resolved"])
    make_connection(tenant, source=source, trigger_mode="manual", events=[])
    disabled = make_connection(tenant, source=source, events=["created"])
    disabled.enabled = False
    disabled.save()
    incident = alert(source).incident
    alert_services.accept(incident, by=admin)
    alert_services.comment(incident, "looking", by=admin)
    assert not ConnectionInvocation.objects.exists()
    alert_services.resolve(incident, by=admin)
    assert list(ConnectionInvocation.objects.values_list("event", flat=True)) == ["resolved"]


def test_the_kicked_task_delivers_right_after_commit(hook, django_capture_on_commit_callbacks):
    with respx.mock() as mock:
        mock.post(URL).respond(200)
        with django_capture_on_commit_callbacks(execute=True):
            alert(hook.alert_source)
        assert len(mock.calls) == 1
    assert ConnectionInvocation.objects.get().status == "succeeded"


def test_the_sweeper_delivers_what_no_task_handled(hook, settings):
    settings.ILERT_KICK_TASKS = False
    alert(hook.alert_source)
    with respx.mock() as mock:
        mock.post(URL).respond(200)
        assert tasks.sweep() == 1
        assert tasks.sweep() == 0  # nothing is delivered twice
        assert len(mock.calls) == 1
    assert "connectors.tasks.sweep" in settings.SWEEPER_TASKS


def test_other_4xx_fail_at_once_with_the_reason_on_the_timeline(hook):
    incident = alert(hook.alert_source).incident
    with respx.mock() as mock:
        mock.post(URL).respond(404)
        engine.deliver_due()
    row = ConnectionInvocation.objects.get()
    assert (row.status, row.attempts, row.http_status, row.due_at) == ("failed", 1, 404, None)
    assert "404" in row.error
    entry = IncidentLogEntry.objects.get(incident=incident, kind="connector")
    assert "failed" in entry.message and "404" in entry.message and entry.data["invocation"] == row.pk
    with time_machine.travel(clock.now() + timedelta(hours=1)):
        assert engine.deliver_due() == 0


@pytest.mark.parametrize("answer, retry_after", [
    (httpx.Response(500), 30),
    (httpx.Response(502), 30),
    (httpx.Response(429, headers={"Retry-After": "120"}), 120),
    (httpx.ReadTimeout("read timed out"), 30),
    (httpx.ConnectError("refused"), 30),
])
def test_429_5xx_and_timeouts_are_retried_with_backoff(hook, answer, retry_after):
    alert(hook.alert_source)
    now = clock.now()
    with time_machine.travel(now, tick=False), respx.mock() as mock:
        mock.post(URL).mock(side_effect=[answer])
        engine.deliver_due()
    row = ConnectionInvocation.objects.get()
    assert row.status == "pending" and row.attempts == 1
    assert row.due_at == now + timedelta(seconds=retry_after)


def test_backoff_doubles_and_gives_up_after_24_hours(hook):
    incident = alert(hook.alert_source).incident
    start = clock.now()
    delays = []
    with time_machine.travel(start, tick=False) as traveller, respx.mock() as mock:
        mock.post(URL).respond(503)
        engine.deliver_due()
        row = ConnectionInvocation.objects.get()
        while row.status == "pending":
            delays.append((row.due_at - clock.now()).total_seconds())
            traveller.move_to(row.due_at)
            assert engine.deliver_due() == 1
            row.refresh_from_db()
    assert delays[:5] == [30, 60, 120, 240, 480]
    assert max(delays) == 7200
    assert row.status == "failed" and "Gave up after 24 hours" in row.error
    assert row.finished_at - start <= timedelta(hours=24)
    assert row.attempts == len(delays) + 1
    kinds = list(IncidentLogEntry.objects.filter(incident=incident, kind="connector").values_list("message", flat=True))
    assert len(kinds) == 2 and "retrying" in kinds[0] and "Gave up" in kinds[1]


def test_an_attempt_that_never_finished_is_retried_after_its_deadline(hook):
    alert(hook.alert_source)
    now = clock.now()
    (claimed,) = engine.claim(now)  # a worker claims the row, then dies
    assert claimed.status == "sending"
    assert engine.claim(now) == []  # nobody else takes it while the deadline runs
    with time_machine.travel(now + engine.SEND_DEADLINE + timedelta(seconds=1), tick=False):
        assert engine.deliver_due() == 0  # put back, with backoff
    row = ConnectionInvocation.objects.get()
    assert row.status == "pending" and "did not finish" in row.error
    with time_machine.travel(row.due_at, tick=False), respx.mock() as mock:
        mock.post(URL).respond(200)
        assert engine.deliver_due() == 1
    row.refresh_from_db()
    assert row.status == "succeeded" and row.attempts == 2
    # the dead worker's late outcome is dropped: it cannot overwrite the newer attempt
    assert engine.record(claimed, engine.targets.Outcome(False, "late"), {}, clock.now()) is None
    row.refresh_from_db()
    assert row.status == "succeeded"


def test_invocations_of_one_incident_run_in_order_one_at_a_time(hook, admin):
    incident = alert(hook.alert_source).incident
    alert_services.resolve(incident, by=admin)
    created, resolved = ConnectionInvocation.objects.order_by("id")
    with respx.mock() as mock:
        mock.post(URL).mock(side_effect=[httpx.Response(503), httpx.Response(200), httpx.Response(200)])
        assert engine.deliver_due() == 1  # "resolved" waits for "created"
        created.refresh_from_db()
        assert created.status == "pending"
        with time_machine.travel(created.due_at + timedelta(seconds=1)):
            assert engine.deliver_due() == 1  # created succeeds…
            assert engine.deliver_due() == 1  # …then resolved goes
        types = [call.request.content for call in mock.calls]
    assert b'"incident.created"' in types[1] and b'"incident.resolved"' in types[2]


def test_a_crashing_target_is_parked_not_stalling_the_engine(hook, monkeypatch):
    from connectors.targets import webhook

    def boom(self, ctx):
        raise KeyError("unexpected")

    monkeypatch.setattr(webhook.Webhook, "deliver", boom)
    alert(hook.alert_source)
    now = clock.now()
    with time_machine.travel(now, tick=False) as traveller:
        for _ in range(engine.MAX_CRASHES):
            assert engine.deliver_due() == 1
            row = ConnectionInvocation.objects.get()
            traveller.move_to(row.due_at or clock.now())
    assert row.status == "failed" and "Crashed: KeyError" in row.error


def test_a_disabled_connector_fails_its_pending_rows_without_calling_out(hook):
    alert(hook.alert_source)
    connector = hook.connector
    connector.enabled = False
    connector.save()
    with respx.mock():
        engine.deliver_due()
    row = ConnectionInvocation.objects.get()
    assert row.status == "failed" and "disabled" in row.error


def test_deliveries_to_other_connectors_do_not_wait_for_each_other(tenant):
    source = make_source(tenant)
    make_connection(tenant, source=source, connector=make_connector(tenant, settings={"url": URL}))
    make_connection(tenant, source=source, connector=make_connector(tenant, settings={"url": URL + "/2"}))
    alert(source)
    with respx.mock() as mock:
        mock.post(URL).respond(503)
        mock.post(URL + "/2").respond(200)
        assert engine.deliver_due() == 2
    assert sorted(ConnectionInvocation.objects.values_list("status", flat=True)) == ["pending", "succeeded"]


def test_a_kicked_task_sends_the_waiting_update_right_after_the_first(hook, admin, django_capture_on_commit_callbacks):
    with respx.mock() as mock:
        mock.post(URL).respond(200)
        incident = alert(hook.alert_source).incident  # not kicked (the test transaction never commits)
        with django_capture_on_commit_callbacks(execute=True):
            alert_services.resolve(incident, by=admin)  # kicks "resolved", which waits for "created"
        assert len(mock.calls) == 0
        assert tasks.deliver([row.pk for row in ConnectionInvocation.objects.all()]) == 2
        assert [b'"incident.created"' in c.request.content for c in mock.calls] == [True, False]


def test_an_answer_is_read_up_to_one_mib_and_no_redirect_is_followed():
    with respx.mock() as mock, http.session() as session:
        mock.post(URL).respond(200, content=b"x" * (http.MAX_BODY + 5000))
        mock.post(URL + "/moved").respond(302, headers={"Location": "https://hooks.example.com/elsewhere"})
        big = session.post(URL, json={})
        moved = session.post(URL + "/moved", json={})
        assert len(mock.calls) == 2  # the Location was not fetched
    assert big.status_code == 200 and len(big.content) == http.MAX_BODY
    assert moved.status_code == 302
    assert [entry["response"]["status"] for entry in session.exchanges] == [200, 302]
