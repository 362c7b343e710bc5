"""Bounded history: raw results are rolled up hourly and daily and pruned beyond their windows,
and the uptime figures (24 h / 7 d / 30 d / 90 d, average and p95 response time, incidents) read
the same before and after."""

import math
from datetime import UTC, datetime, timedelta

import pytest
import time_machine

from uptime import charts, engine, stats
from uptime.models import CheckResult, CheckRollup

from .factories import make_monitor

START = datetime(2026, 3, 1, tzinfo=UTC)


@pytest.fixture
def monitor(tenant):
    with time_machine.travel(START, tick=False):
        return make_monitor(tenant, name="Shop")


def fill(monitor, days=5, every=timedelta(minutes=10)):
    rows, at, i = [], START, 0
    while at < START + timedelta(days=days):
        outcome = "down" if i % 50 == 7 else "up"
        rows.append(CheckResult(tenant_id=monitor.tenant_id, monitor=monitor, checked_at=at, outcome=outcome,
                                response_ms=80 + (i * 37) % 400, message="",
                                weight_seconds=60 if outcome == "down" else int(every.total_seconds())))
        at, i = at + every, i + 1
    CheckResult.objects.bulk_create(rows)
    return rows


def exact_p95(values):
    values = sorted(values)
    return values[math.ceil(0.95 * len(values)) - 1]


def comparable(figures):
    return {name: {k: v for k, v in f.items() if k != "p95_response_ms"} for name, f in figures.items()}


def test_roll_ups_and_pruning_keep_the_figures_and_bound_the_history(monitor, settings):
    settings.UPTIME_RAW_RETENTION_DAYS = 2
    settings.UPTIME_HOURLY_RETENTION_DAYS = 3
    rows = fill(monitor)
    now = START + timedelta(days=5, minutes=30)
    before = stats.figures(monitor, now)
    week = before["7d"]
    assert week["checks"] == len(rows) and week["down"] == sum(r.outcome == "down" for r in rows)
    up_time = sum(r.weight_seconds for r in rows if r.outcome == "up")
    assert week["uptime_percent"] == round(100 * up_time / sum(r.weight_seconds for r in rows), 3)
    assert week["uptime_percent"] != round(100 * week["up"] / len(rows), 3)  # time, not a count of checks
    assert week["avg_response_ms"] == round(sum(r.response_ms for r in rows) / len(rows))

    assert engine.roll_up(now=now) > 0
    monitor.refresh_from_db()
    assert monitor.rolled_until == START + timedelta(days=5)
    assert monitor.daily_rolled_until == START + timedelta(days=5)
    assert CheckRollup.objects.filter(period="hour").count() == 5 * 24
    assert CheckRollup.objects.filter(period="day").count() == 5
    assert engine.roll_up(now=now) == 0  # nothing left: idempotent

    after = stats.figures(monitor, now)
    assert comparable(after) == comparable(before)
    exact = exact_p95([r.response_ms for r in rows])
    assert abs(after["7d"]["p95_response_ms"] - exact) <= 0.1 * exact

    deleted = engine.prune(now=now)
    assert deleted > 0
    assert CheckResult.objects.filter(checked_at__lt=now - timedelta(days=2)).count() == 0
    assert CheckRollup.objects.filter(period="hour", start__lt=now - timedelta(days=3)).count() == 0
    assert comparable(stats.figures(monitor, now)) == comparable(before)


def test_raw_results_are_only_pruned_once_rolled_up(monitor, settings):
    settings.UPTIME_RAW_RETENTION_DAYS = 2
    fill(monitor, days=4)
    engine.prune(now=START + timedelta(days=4))
    assert CheckResult.objects.filter(checked_at__lt=START + timedelta(days=1)).exists()


def test_the_day_bar_and_the_response_chart_render_as_svg(monitor):
    fill(monitor, days=3)
    now = START + timedelta(days=3)
    engine.roll_up(now=now)
    monitor.refresh_from_db()
    days = stats.daily_uptime(monitor, now=now)
    assert len(days) == 90 and days[-1][1] is None and days[-2][1].checks == 144
    bar = charts.uptime_bar(days)
    assert bar.count("<rect") == 90 and "2026-03-02 (UTC day): " in bar and "no data" in bar
    series = stats.response_series(monitor, now=now - timedelta(hours=1))
    chart = charts.response_chart(series)
    assert chart.startswith("<svg") and "<polyline" in chart and 'class="down"' in chart


def test_windows_count_incidents_opened_in_them(tenant, http_target):
    from alerts.models import Incident

    from .conftest import check

    http_target.status = 503
    monitor = check(make_monitor(tenant, name="Shop", target=f"{http_target.url}/", paused=False, retries=0))
    figures = stats.figures(monitor)
    assert Incident.objects.count() == 1
    assert [figures[w]["incidents"] for w in ("24h", "7d", "30d", "90d")] == [1, 1, 1, 1]
    assert figures["24h"]["uptime_percent"] == 0.0 and figures["24h"]["checks"] == 1
