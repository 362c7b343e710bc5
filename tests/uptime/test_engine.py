"""The engine (docs/architecture.md §4): due monitors are claimed once, a dead worker delays a monitor by at
most one interval, stale results are discarded, parallelism is bounded, kicks and the sweeper."""

import threading
import time
from datetime import timedelta

import pytest
import time_machine
from django.conf import settings as django_settings
from django.db import connection

from alerts import services as alert_services
from alerts.models import Incident
from ilert import clock
from uptime import engine, services, tasks
from uptime.checks.base import down, up
from uptime.models import CheckResult, UptimeMonitor

from .conftest import check
from .factories import make_monitor
from .servers import HttpTarget


def record_check(monitor_id, claim_seq, result, *, started_at, due_at=None):
    """One check of the claim `claim_seq` through the engine's batch door; None when the claim is stale."""
    return services.record_checks([services.Checked(monitor_id, claim_seq, result, started_at, due_at)])[0]


def active(tenant, target, n=1, **fields):
    return [make_monitor(tenant, name=f"M{i}", target=f"{target.url}/", paused=False, **fields) for i in range(n)]


def test_due_monitors_are_claimed_once_and_paused_ones_never(tenant, http_target):
    monitors = active(tenant, http_target, 3)
    make_monitor(tenant, name="Paused", target=f"{http_target.url}/", paused=True)
    claims = engine.claim_due(limit=10)
    assert sorted(c.monitor_id for c in claims) == sorted(m.pk for m in monitors)
    assert engine.claim_due(limit=10) == []


def test_a_worker_that_dies_mid_check_delays_the_monitor_by_at_most_one_interval(tenant, http_target):
    (monitor,) = active(tenant, http_target, interval_seconds=60)
    now = clock.now()
    (lost,) = engine.claim_due(now=now)  # ...and the worker dies: nothing is ever recorded
    assert engine.claim_due(now=now + timedelta(seconds=59)) == []
    (again,) = engine.claim_due(now=now + timedelta(seconds=60))
    assert again.monitor_id == monitor.pk and again.seq == lost.seq + 1
    # the lost worker comes back from the dead: its result is stale and discarded
    started = clock.now()
    assert record_check(monitor.pk, lost.seq, down("late"), started_at=started, due_at=lost.due_at) is None
    assert not CheckResult.objects.exists()
    assert record_check(monitor.pk, again.seq, up("fine", 5), started_at=started, due_at=again.due_at)
    assert CheckResult.objects.get().message == "fine"


def test_a_result_for_a_monitor_edited_or_paused_meanwhile_is_discarded(tenant, http_target):
    (monitor,) = active(tenant, http_target)
    (claim,) = engine.claim_due()
    services.update_monitor(monitor, target=f"{http_target.url}/other")
    assert record_check(monitor.pk, claim.seq, down("old target"), started_at=clock.now()) is None
    monitor.refresh_from_db()
    assert monitor.next_check_at <= clock.now()  # the new definition is due at once
    (claim,) = engine.claim_due()
    services.pause(monitor)
    assert record_check(monitor.pk, claim.seq, down("paused"), started_at=clock.now()) is None
    assert not CheckResult.objects.exists()


def test_failures_are_confirmed_sooner_than_the_interval_then_the_cadence_resumes(tenant, http_target, settings):
    settings.UPTIME_RETRY_SECONDS = 30
    http_target.status = 500
    (monitor,) = active(tenant, http_target, interval_seconds=600, retries=2)
    before = clock.now()
    monitor = check(monitor)
    assert monitor.consecutive_failures == 1
    assert before + timedelta(seconds=29) < monitor.next_check_at < clock.now() + timedelta(seconds=31)
    http_target.status = 200
    monitor = check(monitor)
    assert monitor.status == "up" and monitor.consecutive_failures == 0
    assert monitor.next_check_at > clock.now() + timedelta(seconds=590)
    assert not Incident.objects.exists()


def test_uptime_is_weighted_by_time_so_retries_do_not_inflate_downtime(tenant, http_target, settings):
    """An hour up (six checks 10 min apart), then two failures 30 s apart while the failure is being
    confirmed: 1 minute of 61 is judged down, although 2 checks of 8 failed."""
    from uptime import stats

    settings.UPTIME_RETRY_SECONDS = 30
    (monitor,) = active(tenant, http_target, interval_seconds=600, retries=2)
    started = clock.now()
    for status in [200] * 6 + [500, 500]:
        http_target.status = status
        monitor = check(monitor)
    assert [r.weight_seconds for r in CheckResult.objects.order_by("checked_at")] == [600] * 6 + [30, 30]
    figure = stats.aggregate(monitor, started, clock.now() + timedelta(hours=1))
    assert (figure.up, figure.down) == (6, 2)
    assert figure.uptime == round(100 * 3600 / 3660, 3)  # 98.361, where counting checks says 75.0


def test_checks_run_concurrently_but_never_more_than_the_limit(tenant):
    """The target holds every answer until three requests have been in flight at once (not a delay
    that hopes they overlap: a slow machine would start the third after the first had finished),
    then a moment longer: a fourth request, were the limit ignored, would come in meanwhile; a
    correct engine sends none however long it waits, so the moment decides nothing but how surely a
    broken limit is caught."""
    three_at_once = threading.Event()

    def answer(handler):
        if slow.in_flight >= 3:
            three_at_once.set()
        three_at_once.wait(timeout=120)  # a ceiling: with the checks side by side the third comes at once
        time.sleep(0.3)
        return 200, {}, "OK"

    slow = HttpTarget(status=answer)
    try:
        active(tenant, slow, 6, timeout_seconds=30)
        assert engine.run(concurrency=3) == 6
        assert three_at_once.is_set() and slow.most_in_flight == 3
    finally:
        three_at_once.set()
        slow.stop()


def test_a_sweep_keeps_claiming_what_becomes_due_within_its_budget(tenant, http_target, settings, monkeypatch):
    assert "uptime.tasks.sweep" in django_settings.SWEEPER_TASKS
    assert "uptime.tasks.sweep" in django_settings.TICK_SCHEDULE
    settings.UPTIME_SWEEP_SECONDS = 0.6
    (monitor,) = active(tenant, http_target)
    with time_machine.travel(clock.now(), tick=False) as traveller:
        monkeypatch.setattr(engine, "time", SteppedTime(traveller))  # the budget runs on the engine's own sleeps
        UptimeMonitor.objects.filter(pk=monitor.pk).update(next_check_at=clock.now() + timedelta(seconds=0.3))
        assert tasks.sweep() == 1
    result = CheckResult.objects.get()
    assert result.outcome == "up" and 0 <= result.lateness_ms <= 100  # claimed at the first poll once due


class SteppedTime:
    """`time` for uptime.engine in which time passes only while the engine sleeps, and ilert.clock
    (time-machine) moves with it: a sweep's budget and the due times it polls for are counted in its
    own polls, so a paused or slow test process cannot spend the budget before the monitor is due."""

    def __init__(self, traveller):
        self.traveller, self.now = traveller, 1000.0

    def monotonic(self):
        return self.now

    def sleep(self, seconds):
        seconds = max(seconds, 0.001)  # a sleep always moves time on (the loop ends at its deadline)
        self.now += seconds
        self.traveller.shift(seconds)


def test_check_now_wakes_a_worker_at_once(tenant, http_target, settings, django_capture_on_commit_callbacks):
    (monitor,) = active(tenant, http_target)
    engine.run()
    settings.ILERT_KICK_TASKS = True  # test settings run kicked tasks eagerly, right after commit
    with django_capture_on_commit_callbacks(execute=True):
        services.check_now(monitor)
    assert CheckResult.objects.filter(monitor=monitor).count() == 2
    with pytest.raises(Exception, match="paused"):
        services.check_now(services.pause(monitor))


def test_a_disabled_alert_source_records_the_outage_but_opens_nothing(tenant, http_target):
    http_target.status = 503
    (monitor,) = active(tenant, http_target, retries=0)
    alert_services.update_alert_source(monitor.alert_source, status="disabled")
    monitor = check(monitor)
    assert monitor.status == "down" and "no incident" in monitor.last_message
    assert not Incident.objects.exists()


def test_deleting_a_down_monitor_resolves_its_incident(tenant, http_target):
    http_target.status = 503
    (monitor,) = active(tenant, http_target, retries=0)
    monitor = check(monitor)
    incident = Incident.objects.get()
    services.delete_monitor(monitor)
    incident.refresh_from_db()
    assert incident.status == "RESOLVED" and "was deleted" in incident.log_entries.get(kind="info").message


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_workers_claiming_at_once_never_get_the_same_monitor(tenant, http_target):
    monitors = active(tenant, http_target, 40)
    barrier = threading.Barrier(2)
    claimed = [None, None]

    def worker(index):
        try:
            barrier.wait()
            claimed[index] = {c.monitor_id for c in engine.claim_due(limit=40)}
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not claimed[0] & claimed[1]
    assert claimed[0] | claimed[1] == {m.pk for m in monitors}


def test_a_monitor_whose_recording_crashes_does_not_stall_the_others(tenant, http_target, monkeypatch):
    http_target.status = 503
    broken, healthy = active(tenant, http_target, 2, retries=0)
    real_ingest = alert_services.ingest

    def ingest(source, event, **kwargs):
        if source.pk == broken.alert_source_id:
            raise RuntimeError("poison")
        return real_ingest(source, event, **kwargs)

    monkeypatch.setattr(alert_services, "ingest", ingest)
    assert engine.run() == 1
    healthy.refresh_from_db()
    broken.refresh_from_db()
    assert healthy.status == "down" and Incident.objects.get().alert_source_id == healthy.alert_source_id
    assert broken.status == "pending" and not CheckResult.objects.filter(monitor=broken).exists()
    assert broken.next_check_at > clock.now() + timedelta(seconds=50)  # back after its lease


def test_on_time_checks_keep_the_cadence_and_late_ones_spread_a_backlog(tenant, http_target):
    first, second = active(tenant, http_target, 2, interval_seconds=60)
    now = clock.now()
    UptimeMonitor.objects.filter(pk=first.pk).update(next_check_at=now - timedelta(milliseconds=300))
    UptimeMonitor.objects.filter(pk=second.pk).update(next_check_at=now - timedelta(seconds=20))  # a backlog
    claims = {c.monitor_id: c for c in engine.claim_due(now=now)}
    on_time = record_check(first.pk, claims[first.pk].seq, up("ok"), started_at=now,
                                    due_at=claims[first.pk].due_at)
    late = record_check(second.pk, claims[second.pk].seq, up("ok"), started_at=now,
                                 due_at=claims[second.pk].due_at)
    assert on_time.next_check_at == claims[first.pk].due_at + timedelta(seconds=60)
    assert late.next_check_at == now + timedelta(seconds=60)
