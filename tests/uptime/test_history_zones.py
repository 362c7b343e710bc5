"""Uptime history and the reader's zone: the response chart's times are instants and are shown in the
reader's zone (a DST day, a +05:30 zone); the 90-day bar's days are UTC days (the daily roll-ups
are) and every place the bar is shown says so, whatever the reader's zone."""

import zoneinfo
from datetime import UTC, datetime, timedelta

import time_machine
from django.test import Client

from uptime import charts, engine, stats
from uptime.models import CheckResult

from .factories import make_monitor

BERLIN = zoneinfo.ZoneInfo("Europe/Berlin")
KOLKATA = zoneinfo.ZoneInfo("Asia/Kolkata")
DST_DAY = datetime(2026, 3, 29, tzinfo=UTC)  # Berlin goes from CET to CEST at 01:00 UTC


def chart_labels(chart):
    return [part.split("</text>")[0] for part in chart.split('font-size="11" fill="#5f6b7a">')[1:]
            if "ms" not in part.split("</text>")[0] and part.split("</text>")[0] != "0"]


def series_ending(now):
    start = now - timedelta(hours=24)
    slot = timedelta(minutes=5)
    return [(start + slot * i, 100.0, 0) for i in range(288)]


def test_the_chart_names_the_reader_s_zone_across_a_dst_change():
    now = DST_DAY + timedelta(hours=12)  # 14:00 CEST; 24 h earlier was 13:00 CET
    labels = chart_labels(charts.response_chart(series_ending(now), zone=BERLIN))
    assert labels == ["13:00", "01:00", "13:55 CEST"]


def test_the_chart_is_exact_in_a_half_hour_zone():
    now = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
    labels = chart_labels(charts.response_chart(series_ending(now), zone=KOLKATA))
    assert labels == ["17:30", "05:30", "17:25 IST"]


def test_the_chart_in_utc_by_default():
    now = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
    assert chart_labels(charts.response_chart(series_ending(now))) == ["12:00", "00:00", "11:55 UTC"]


def _checks(monitor, start, hours, every=timedelta(minutes=10)):
    rows, at = [], start
    while at < start + timedelta(hours=hours):
        rows.append(CheckResult(tenant_id=monitor.tenant_id, monitor=monitor, checked_at=at, outcome="up",
                                response_ms=100, message="", weight_seconds=600))
        at += every
    CheckResult.objects.bulk_create(rows)


def test_bar_days_are_utc_days_on_a_dst_day_and_say_so(tenant):
    with time_machine.travel(DST_DAY - timedelta(days=2), tick=False):
        monitor = make_monitor(tenant, name="Shop")
    _checks(monitor, DST_DAY - timedelta(days=1), 72)
    now = DST_DAY + timedelta(days=2)
    engine.roll_up(now=now)
    monitor.refresh_from_db()
    days = dict(stats.daily_uptime(monitor, now=now))
    # A UTC day has 24 hours even when Berlin's has 23: 144 checks every 10 minutes.
    assert days[DST_DAY].checks == 144 and days[DST_DAY - timedelta(days=1)].checks == 144
    bar = charts.uptime_bar(list(days.items()))
    assert 'aria-label="Uptime per UTC day"' in bar
    assert "<title>2026-03-29 (UTC day): 100.00% up" in bar


def test_the_monitor_page_labels_bar_days_utc_and_shows_windows_in_the_reader_s_zone(admin, tenant):
    admin.timezone = "Asia/Kolkata"
    admin.save(update_fields=["timezone"])
    now = datetime(2026, 3, 3, 12, 0, tzinfo=UTC)
    with time_machine.travel(now - timedelta(days=3), tick=False):
        monitor = make_monitor(tenant, name="Shop")
    # 20:00–21:00 UTC on 2 March is already 3 March in Kolkata; the bar counts it in the UTC day 2 March.
    _checks(monitor, datetime(2026, 3, 2, 20, 0, tzinfo=UTC), 1)
    client = Client()
    client.force_login(admin)
    with time_machine.travel(now, tick=False):
        engine.roll_up(now=now)
        html = client.get(f"/uptime/{monitor.pk}/").content.decode()
    assert 'id="bar-zone">days in UTC<' in html and "today (UTC)" in html
    assert "<title>2026-03-02 (UTC day): 100.00% up (0 of 6 checks failed)" in html
    assert "<title>2026-03-03 (UTC day): no data" in html
    # The 7-day window starts at UTC midnight 25 Feb, said in the reader's zone.
    assert 'since <time datetime="2026-02-25T00:00:00+00:00"' in html and ">Wed 25 Feb 05:30 IST<" in html
    assert "IST</text>" in html  # the response chart's last time label names the reader's zone
