"""HTTP(S) monitors against a real local server: up, down after N retries, recovery resolves the
incident with the downtime on its timeline, keywords, timeouts, slow answers, no second incident
while flapping."""

import threading

import pytest

from alerts.models import Incident, LogKind
from uptime import engine, services
from uptime.models import CheckResult

from .conftest import check
from .factories import make_monitor
from .servers import HttpTarget, closed_port


def http_monitor(tenant, target, **fields):
    fields.setdefault("retries", 2)
    return make_monitor(tenant, name="Shop", target=f"{target.url}/health", paused=False, **fields)


def test_a_healthy_target_is_up_and_nothing_opens(tenant, http_target):
    monitor = check(http_monitor(tenant, http_target))
    assert monitor.status == "up" and monitor.consecutive_failures == 0
    assert monitor.last_message.startswith("HTTP 200 in ") and monitor.last_response_ms is not None
    result = CheckResult.objects.get(monitor=monitor)
    assert result.outcome == "up" and result.status_code == 200 and result.lateness_ms is not None
    assert http_target.requests[0][1] == "/health" and http_target.requests[0][2]["Host"].startswith("127.0.0.1:")
    assert not Incident.objects.exists()


def test_it_goes_down_only_after_the_retries_and_says_what_failed(tenant, http_target):
    http_target.status = 503
    monitor = http_monitor(tenant, http_target, retries=2)
    for _ in range(2):
        monitor = check(monitor)
        assert monitor.status != "down" and monitor.is_retrying
        assert not Incident.objects.exists()
    monitor = check(monitor)
    assert monitor.status == "down"
    incident = Incident.objects.get()
    assert incident.alert_source == monitor.alert_source and incident.incident_key == f"uptime-{monitor.pk}"
    assert incident.summary == f"Shop is down: HTTP 503 from {http_target.url}/health, 3 checks in a row"
    assert monitor.incident == incident and incident.status == "PENDING"


def test_a_recovery_resolves_the_incident_with_the_downtime_on_its_timeline(tenant, http_target):
    http_target.status = 500
    monitor = check(http_monitor(tenant, http_target, retries=0))
    incident = Incident.objects.get()
    http_target.status = 200
    monitor = check(monitor)
    incident.refresh_from_db()
    assert monitor.status == "up" and monitor.incident is None
    assert incident.status == "RESOLVED" and incident.resolved_by is None
    downtime = incident.log_entries.get(kind=LogKind.INFO)
    assert "is back up after" in downtime.message and "of downtime" in downtime.message
    assert downtime.data["downtime_seconds"] >= 0 and downtime.via == "uptime"
    assert incident.log_entries.filter(kind=LogKind.RESOLVED, via="uptime").exists()


def test_a_flapping_target_never_opens_a_second_incident(tenant, http_target):
    monitor = http_monitor(tenant, http_target, retries=1)
    # fail, pass, fail, pass: never two failures in a row, so nobody is paged
    for status in (500, 200, 500, 200, 500, 200):
        http_target.status = status
        monitor = check(monitor)
    assert not Incident.objects.exists()
    # down for real, and it keeps failing and half-recovering within the retries: one incident
    http_target.status = 500
    monitor = check(check(monitor))
    assert monitor.status == "down"
    for _ in range(3):
        monitor = check(monitor)
    assert Incident.objects.count() == 1
    # the incident is open: even an alert from a second path with the monitor's key folds into it
    services._send(monitor, "ALERT", "again")
    assert Incident.objects.filter(status__in=Incident.OPEN).count() == 1


@pytest.mark.parametrize("mode, body, expected", [
    ("present", "<h1>Welcome to the shop</h1>", "up"),
    ("present", "<h1>Maintenance</h1>", "down"),
    ("absent", "<h1>Welcome</h1>", "up"),
    ("absent", "<h1>Fatal error</h1>", "down"),
])
def test_keywords_must_or_must_not_appear(tenant, http_target, mode, body, expected):
    keyword = "Welcome" if mode == "present" else "Fatal error"
    http_target.body = body
    monitor = check(http_monitor(tenant, http_target, retries=0, keyword=keyword, keyword_mode=mode))
    assert monitor.status == expected, monitor.last_message
    if expected == "down":
        assert "Keyword" in monitor.last_message and keyword in Incident.objects.get().summary


def test_a_target_that_does_not_answer_in_time_is_down_and_does_not_hold_up_others(tenant):
    """The slow target answers only after the engine has finished (never within any timeout, however
    slow the machine); the fast one is asked while the slow one's client still waits, i.e. the checks
    run side by side, and the fast one answers only once the slow one has been asked (so the order in
    which the two requests arrive does not matter)."""
    release = threading.Event()
    slow = HttpTarget(hold=release)
    overlapped = []

    def fast_answer(handler):
        slow.arrived.wait(timeout=120)  # a ceiling: with the checks side by side it is there at once
        overlapped.append(slow.client_waiting())
        return 200, {}, "OK"

    fast = HttpTarget(status=fast_answer)
    try:
        # 3 s, not 1: the slow request must reach the server before its client gives up, or the fast
        # one waits for it in vain (a stall of 1 s between connect and send did that under bench/stall)
        slow_monitor = make_monitor(tenant, name="Slow", target=f"{slow.url}/", paused=False, retries=0,
                                    timeout_seconds=3)
        # the fast one's own timeout as far out as a monitor may have it: only a hang may reach it
        fast_monitor = make_monitor(tenant, name="Fast", target=f"{fast.url}/", paused=False, retries=0,
                                    interval_seconds=600, timeout_seconds=30)
        assert engine.run() == 2
    finally:
        release.set()
        fast.stop()
        slow.stop()
    slow_monitor.refresh_from_db()
    fast_monitor.refresh_from_db()
    assert slow_monitor.status == "down" and "within 3 s" in slow_monitor.last_message
    assert fast_monitor.status == "up", fast_monitor.last_message
    assert overlapped == [True], "the fast check waited for the slow one"


def test_a_slower_answer_than_allowed_is_down(tenant, http_target):
    http_target.delay = 0.3
    monitor = check(http_monitor(tenant, http_target, retries=0, max_response_ms=100))
    assert monitor.status == "down" and "slower than the 100 ms allowed" in monitor.last_message


def test_expected_status_codes_method_headers_and_body_are_used(tenant, http_target):
    http_target.status = 201
    monitor = check(http_monitor(tenant, http_target, retries=0, http_method="POST", expected_status="201,204",
                                 http_headers={"X-Token": "abc"}, http_body='{"ping": 1}'))
    assert monitor.status == "up"
    method, _path, headers, body = http_target.requests[-1]
    assert method == "POST" and headers["X-Token"] == "abc" and body == b'{"ping": 1}'


def test_redirects_are_followed_or_not(tenant, http_target):
    def answer(handler):
        if handler.path == "/old":
            return 301, {"Location": "/new"}, ""
        return 200, {}, "new place"
    http_target.status = answer
    followed = check(http_monitor(tenant, http_target, retries=0, keyword="new place"))
    assert followed.status == "up"
    followed.target = f"{http_target.url}/old"
    followed.save()
    followed = check(followed)
    assert followed.status == "up" and [r[1] for r in http_target.requests[-2:]] == ["/old", "/new"]
    not_followed = check(make_monitor(tenant, name="No follow", target=f"{http_target.url}/old", paused=False,
                                      retries=0, follow_redirects=False))
    assert not_followed.status == "down" and "HTTP 301" in not_followed.last_message


def test_a_closed_port_is_down_with_the_reason(tenant):
    monitor = check(make_monitor(tenant, name="Gone", target=f"http://127.0.0.1:{closed_port()}/", paused=False,
                                 retries=0))
    assert monitor.status == "down" and "connection refused" in monitor.last_message.lower()


def test_an_incident_resolved_by_hand_stays_resolved_while_the_target_is_still_down(tenant, http_target):
    from alerts import services as alert_services

    http_target.status = 503
    monitor = check(http_monitor(tenant, http_target, retries=0))
    alert_services.resolve(Incident.objects.get(), via="api")
    for _ in range(2):
        monitor = check(monitor)
    assert monitor.status == "down" and Incident.objects.count() == 1
    http_target.status = 200
    monitor = check(monitor)
    http_target.status = 503
    monitor = check(monitor)
    assert Incident.objects.filter(status="PENDING").count() == 1 and Incident.objects.count() == 2
