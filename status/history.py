"""90 days of daily bars per service: the worst status of each day (in the page's time zone) from
the service's history, and the uptime % of its linked monitors from their daily roll-ups (finished
UTC days; today has no figure until its roll-up exists). Two queries for the whole page."""

import zoneinfo
from datetime import datetime, time, timedelta

from django.db.models import Sum

from ilert import clock
from uptime.models import CheckRollup

from .models import SEVERITY, MonitorLink, ServiceStatusChange

DAYS = 90


def zone_of(page):
    try:
        return zoneinfo.ZoneInfo(page.time_zone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return zoneinfo.ZoneInfo("UTC")


def days(page, now=None, count=DAYS):
    """The last `count` local dates, oldest first, and the UTC instant the first one starts."""
    zone = zone_of(page)
    today = (now or clock.now()).astimezone(zone).date()
    first = today - timedelta(days=count - 1)
    return [first + timedelta(days=i) for i in range(count)], datetime.combine(first, time(), tzinfo=zone)


class Bars:
    """One service's days: `statuses[i]` the worst status of `dates[i]` (None before the service
    existed), `uptime[i]` the uptime % of its monitors that day (None without a figure)."""

    __slots__ = ("dates", "statuses", "uptime")

    def __init__(self, dates, statuses):
        self.dates, self.statuses, self.uptime = dates, statuses, [None] * len(dates)

    def __iter__(self):
        return iter(zip(self.dates, self.statuses, self.uptime, strict=True))

    def __len__(self):
        return len(self.dates)

    def __getitem__(self, index):
        return list(self)[index]


def bars(page, services, now=None, count=DAYS):
    """{service id: Bars}, oldest day first."""
    now = now or clock.now()
    zone = zone_of(page)
    dates, start = days(page, now, count)
    first = dates[0]
    ids = [s.pk for s in services]
    changes = {}
    for service_id, at, old, new in (ServiceStatusChange.objects.filter(service_id__in=ids, at__gte=start)
                                     .order_by("at", "id").values_list("service_id", "at", "old_status",
                                                                        "new_status")):
        changes.setdefault(service_id, []).append(((at.astimezone(zone).date() - first).days, old, new))
    out = {}
    rank = SEVERITY.__getitem__
    for service in services:
        rows = changes.get(service.pk, [])
        current = rows[0][1] if rows else service.status  # the status when the window began
        worst = [current] * count
        position = 0
        for day, _old, new in rows:
            if not 0 <= day < count:
                continue
            if day > position:
                worst[position + 1:day + 1] = [current] * (day - position)  # unchanged until this change
            if rank(new) > rank(worst[day]):
                worst[day] = new
            current, position = new, day
        if position + 1 < count:
            worst[position + 1:] = [current] * (count - position - 1)
        created = (service.created_at.astimezone(zone).date() - first).days
        if created > 0:
            worst[:min(created, count)] = [None] * min(created, count)
        out[service.pk] = Bars(dates, worst)
    _uptime(out, dates, ids)
    return out


def _uptime(out, dates, ids):
    links = list(MonitorLink.objects.filter(service_id__in=ids).values_list("service_id", "monitor_id"))
    if not links:
        return
    by_monitor = {}
    for service_id, monitor_id in links:
        by_monitor.setdefault(monitor_id, []).append(service_id)
    first = datetime.combine(dates[0], time(), tzinfo=zoneinfo.ZoneInfo("UTC"))
    totals = {}
    rollups = (CheckRollup.objects.filter(monitor_id__in=by_monitor, period="day", start__gte=first)
               .values("monitor_id", "start").annotate(u=Sum("up_seconds"), d=Sum("down_seconds"))
               .values_list("monitor_id", "start", "u", "d"))
    for monitor_id, day, up, down in rollups:
        for service_id in by_monitor[monitor_id]:
            total = totals.setdefault((service_id, day.date()), [0, 0])
            total[0] += up or 0
            total[1] += down or 0
    for (service_id, day), (up, down) in totals.items():
        bars_ = out.get(service_id)
        index = (day - dates[0]).days
        if bars_ is not None and 0 <= index < len(dates) and up + down:
            bars_.uptime[index] = round(100.0 * up / (up + down), 2)


def uptime_90(service_bars):
    """The service's uptime over the days that have a figure, or None."""
    figures = [u for u in service_bars.uptime if u is not None]
    return round(sum(figures) / len(figures), 2) if figures else None
