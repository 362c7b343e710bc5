"""The four reports (docs/reports.md). Response, noise and the answer figures of people and
delivery add up incident facts: live (`facts.compute` over the range) or from the daily roll-ups
(long ranges without filters). Pages and deliveries are counted from the notification outbox: live,
or from its daily roll-ups (long ranges)."""

import zoneinfo
from collections import defaultdict
from datetime import date, timedelta
from functools import wraps

from django.db import connection, transaction
from django.db.models import Count, Q
from django.db.models.functions import ExtractHour, ExtractIsoWeekDay

from accounts.models import Team, User
from alerts.models import AlertSource, Incident
from escalation.models import EscalationPolicy
from notifications.models import Notification

from . import facts, notification_rollups, oncall, rollups
from .models import DailyRollup, NotificationRollup

ROLLUP_AFTER_DAYS = 31
TOP_KEYS = 20
NIGHT_FROM, NIGHT_UNTIL = notification_rollups.NIGHT_FROM, notification_rollups.NIGHT_UNTIL
RESPONSE_FILTERS = ("source", "policy", "team", "assignee", "priority")
NOISE_FILTERS = ("source", "policy", "team", "assignee", "priority")
PEOPLE_FILTERS = ("user",)
DELIVERY_FILTERS = ()


# --- where the sums come from -------------------------------------------------------------------


def use_rollups(p):
    if p.days <= ROLLUP_AFTER_DAYS or p.filters:
        return False
    rollups.catch_up(p.tenant)
    return p.tz.key in rollups.built_zones(p.tenant)


def use_notification_rollups(p):
    """Long ranges read the outbox roll-ups once every dirty notification is folded: a report folds
    one batch itself; more left (a backlog is the sweeper's work), it reads live."""
    if p.days <= ROLLUP_AFTER_DAYS:
        return False
    if not rollups.catch_up_notifications(p.tenant, max_batches=1):
        return False
    return p.tz.key in rollups.built_zones(p.tenant)


def _incidents(p):
    queryset = Incident.objects.filter(tenant=p.tenant, created_at__gte=p.start, created_at__lt=p.end)
    f = p.filters
    if "source" in f:
        queryset = queryset.filter(alert_source=f["source"])
    if "policy" in f:
        queryset = queryset.filter(escalation_policy=f["policy"])
    if "assignee" in f:
        queryset = queryset.filter(assigned_to=f["assignee"])
    if "priority" in f:
        queryset = queryset.filter(priority=f["priority"])
    if "team" in f:
        queryset = queryset.filter(assigned_to__in=f["team"].members.all())
    return queryset


def _team_map(tenant):
    """{user id as str: [team ids as str]}: a user's teams, now."""
    teams = defaultdict(list)
    for user_id, team_id in Team.members.through.objects.filter(team__tenant=tenant).values_list("user_id", "team_id"):
        teams[str(user_id)].append(str(team_id))
    return teams


def _trend_key(p, day):
    return day - timedelta(days=day.weekday()) if p.bucket == "week" else day


def _group_values(fact, group, teams):
    if group == "team":
        return teams.get("" if fact.assignee_id is None else str(fact.assignee_id), [])
    return [value for dim, value in fact.dims() if dim == group]


HISTS = ("ack_hist", "resolve_hist")


def sums(p, dims=("all",), *, rollup=None, hists=HISTS):
    """{dim: {value: Totals}} over the range, plus {"trend": {bucket start: Totals}}. `dims` may
    name any roll-up dimension and "team"; `rollup` forces one source (None: the rule). `hists`:
    the histograms the caller reads (percentiles); the roll-ups sum only those (the live query has
    them all anyway)."""
    rollup = use_rollups(p) if rollup is None else rollup
    teams = _team_map(p.tenant) if "team" in dims else {}
    out = {dim: defaultdict(facts.Totals) for dim in dims}
    out["trend"] = defaultdict(facts.Totals)
    if rollup:
        _rollup_sums(p, dims, teams, out, hists)
        return out
    for fact in facts.compute(_incidents(p)):
        out["trend"][_trend_key(p, fact.created_at.astimezone(p.tz).date())].add_fact(fact)
        for dim in dims:
            for value in ([""] if dim == "all" else _group_values(fact, dim, teams)):
                out[dim][value].add_fact(fact)
    return out


def _rollup_sums(p, dims, teams, out, hists):
    """Sum the roll-up rows in the database: counters per (dim, value) and per day, histogram
    buckets per (dim, value) (jsonb_each / json_each), so a 2-year range is a few grouped scans."""
    wanted = sorted({"assignee" if dim == "team" else dim for dim in dims} | {"all"})
    table = DailyRollup._meta.db_table
    marks = ", ".join(["%s"] * len(wanted))
    base = f"r.tenant_id = %s AND r.zone = %s AND r.dim IN ({marks})"
    periods, period_args = _periods(p)
    where = f"{base} AND {periods}"
    args = [p.tenant.pk, p.tz.key, *wanted, *period_args]
    days_where = "r.tenant_id = %s AND r.zone = %s AND r.dim = 'all' AND r.span = 'day' AND r.day >= %s AND r.day <= %s"
    days_args = [p.tenant.pk, p.tz.key, p.first, p.last]
    counters = ", ".join(f"SUM(r.{c})" for c in facts.Totals.COUNTERS)
    each = "jsonb_each_text" if connection.vendor == "postgresql" else "json_each"
    cast = "::bigint" if connection.vendor == "postgresql" else ""

    def targets(dim, value):
        found = [out[dim][value]] if dim in out else []
        if dim == "assignee" and "team" in out:
            found += [out["team"][team] for team in teams.get(value, [])]
        return found

    # Only our own column and table names are formatted into the SQL; every value is a parameter.
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT r.dim, r.value, {counters} FROM {table} r WHERE {where} GROUP BY r.dim, r.value", args)  # noqa: S608
        for dim, value, *sums_ in cursor.fetchall():
            for totals in targets(dim, value):
                for name, total in zip(facts.Totals.COUNTERS, sums_, strict=True):
                    setattr(totals, name, getattr(totals, name) + int(total))
        cursor.execute(f"SELECT r.day, {counters} FROM {table} r WHERE {days_where} GROUP BY r.day",  # noqa: S608
                       days_args)
        for day, *sums_ in cursor.fetchall():
            totals = out["trend"][_trend_key(p, day if isinstance(day, date) else date.fromisoformat(day))]
            for name, total in zip(facts.Totals.COUNTERS, sums_, strict=True):
                setattr(totals, name, getattr(totals, name) + int(total))
        for column in hists:
            # Bucket numbers as integers: PostgreSQL then groups them in a hash table instead of
            # sorting text (half the time of this, the longest query of a report).
            cursor.execute(f"SELECT r.dim, r.value, CAST(h.key AS integer) AS k, SUM(h.value{cast}) "  # noqa: S608
                           f"FROM {table} r, {each}(r.{column}) h WHERE {where} GROUP BY r.dim, r.value, k", args)
            for dim, value, index, count in cursor.fetchall():
                for totals in targets(dim, value):
                    getattr(totals, column)[int(index)] += int(count)


def _periods(p):
    """SQL for the roll-up rows covering the range: whole local months inside it from month rows,
    the days at either edge from day rows."""
    inner_from = p.first if p.first.day == 1 else _next_month(p.first)
    inner_to = _next_month(p.last) if _next_month(p.last) - timedelta(days=1) == p.last else p.last.replace(day=1)
    if inner_from < inner_to:
        return ("((r.span = 'day' AND r.day >= %s AND r.day < %s) OR (r.span = 'month' AND r.day >= %s "
                "AND r.day < %s) OR (r.span = 'day' AND r.day >= %s AND r.day <= %s))",
                [p.first, inner_from, inner_from, inner_to, inner_to, p.last])
    return "(r.span = 'day' AND r.day >= %s AND r.day <= %s)", [p.first, p.last]


def _next_month(day):
    return (day.replace(day=1) + timedelta(days=32)).replace(day=1)


def _total(result):
    return result["all"].get("", facts.Totals())


def _trend(p, result):
    rows, day = [], _trend_key(p, p.first)
    step = timedelta(days=7 if p.bucket == "week" else 1)
    while day <= p.last:
        summary = result["trend"].get(day, facts.Totals()).summary()
        for measure in ("mtta", "mttr"):  # per period: counts and means (percentiles only for the range)
            summary[measure] = {"count": summary[measure]["count"], "mean": summary[measure]["mean"]}
        rows.append({"start": day.isoformat(), **summary})
        day += step
    return rows


# --- labels ------------------------------------------------------------------------------------


def _labels(tenant, dim, values):
    ids = [int(v) for v in values if v.isdigit()]
    model = {"source": AlertSource, "policy": EscalationPolicy, "team": Team, "assignee": User, "acceptor": User,
             "user": User}.get(dim)
    if model is None:
        return {v: v for v in values}
    names = {str(pk): str(obj) for pk, obj in ((o.pk, o) for o in model.objects.filter(tenant=tenant, pk__in=ids))}
    return {v: names.get(v, "nobody" if v == "" else f"#{v} (deleted)") for v in values}


def _rows(tenant, dim, groups, order="incidents"):
    labels = _labels(tenant, dim, list(groups))
    rows = [{"id": value or None, "name": labels[value], **totals.summary()} for value, totals in groups.items()
            if not totals.empty]
    rows.sort(key=lambda r: (-(r[order] if not isinstance(r[order], dict) else r[order]["count"]), r["name"]))
    return rows


# --- the reports -------------------------------------------------------------------------------


def response(p, *, rollup=None):
    dims = ("all", p.group) if p.group else ("all",)
    current = sums(p, dims, rollup=rollup)
    previous = sums(p.previous(), ("all",), rollup=rollup)
    return {
        "range": _range(p),
        "total": _total(current).summary(),
        "previous": _total(previous).summary(),
        "groups": _rows(p.tenant, p.group, current[p.group]) if p.group else [],
        "trend": _trend(p, current),
    }


def noise(p, *, rollup=None):
    rollup = use_rollups(p) if rollup is None else rollup
    if rollup:  # keys are many: summed in SQL (noise needs no histograms)
        result = sums(p, ("all", "source"), rollup=True, hists=())
        keys = _top_keys_from_rollups(p)
    else:
        result = sums(p, ("all", "source", "key"), rollup=False)
        keys = sorted(result["key"].items(), key=lambda item: (-item[1].incidents, item[0]))[:TOP_KEYS]
    sources = _labels(p.tenant, "source", [k.split(":", 1)[0] for k, _ in keys])
    return {
        "range": _range(p),
        "total": _noise_summary(_total(result)),
        "sources": [{"id": row["id"], "name": row["name"], **_noise_summary(totals)}
                    for row, totals in _with_totals(p.tenant, "source", result["source"])],
        "top_keys": [{"source_id": int(k.split(":", 1)[0]), "source": sources[k.split(":", 1)[0]],
                      "incident_key": k.split(":", 1)[1], **_noise_summary(t)} for k, t in keys],
        "trend": _trend(p, result),
    }


def _with_totals(tenant, dim, groups):
    by_id = {value or None: totals for value, totals in groups.items()}
    return [(row, by_id[row["id"]]) for row in _rows(tenant, dim, groups)]


def _noise_summary(totals):
    s = totals.summary()
    return {k: s[k] for k in ("incidents", "auto_resolved", "quick", "noise", "noise_share", "flapping",
                              "events", "events_per_incident")}


def _top_keys_from_rollups(p):
    counters = ("incidents", "auto_resolved", "quick", "noise", "flapping", "events")
    periods, period_args = _periods(p)
    sums_ = ", ".join(f"SUM(r.{c})" for c in counters)
    out = []
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT r.value, {sums_} FROM {DailyRollup._meta.db_table} r "  # noqa: S608 - our names only
                       f"WHERE r.tenant_id = %s AND r.zone = %s AND r.dim = 'key' AND {periods} "
                       f"GROUP BY r.value ORDER BY 2 DESC, r.value LIMIT {TOP_KEYS}",
                       [p.tenant.pk, p.tz.key, *period_args])
        for value, *values in cursor.fetchall():
            totals = facts.Totals()
            for c, v in zip(counters, values, strict=True):
                setattr(totals, c, int(v))
            out.append((value, totals))
    return out


def people(p, *, rollup=None):
    answered = sums(p, ("all", "acceptor"), rollup=rollup, hists=("ack_hist",))["acceptor"]
    users = {u.pk: u for u in User.objects.filter(tenant=p.tenant)}
    if "user" in p.filters:
        users = {p.filters["user"].pk: p.filters["user"]}
    from_rollups = use_notification_rollups(p) if rollup is None else rollup
    pages = _pages_from_rollups(p, users) if from_rollups else _pages(p, users)
    on_call = _time_on_call(p, users, live=rollup is False)
    rows = []
    for pk, user in sorted(users.items(), key=lambda item: str(item[1])):
        a = answered.get(str(pk), facts.Totals()).summary()["mtta"]
        page = pages.get(pk, {})
        row = {"id": pk, "name": str(user), "zone": user.timezone or p.tenant.timezone or "UTC",
               "pages": sum(c["pages"] for c in page.values()),
               "pages_by_channel": {ch: c["pages"] for ch, c in sorted(page.items())},
               "night": sum(c["night"] for c in page.values()),
               "weekend": sum(c["weekend"] for c in page.values()),
               "interruptions": sum(c["interruptions"] for c in page.values()),
               "on_call_hours": round(on_call.get(pk, 0) / 3600, 2),
               "answered": a["count"], "answer_mean": a["mean"], "answer_median": a["median"],
               "answer_p90": a["p90"]}
        if row["pages"] or row["on_call_hours"] or row["answered"] or "user" in p.filters:
            rows.append(row)
    return {"range": _range(p), "users": rows}


def _pages(p, users):
    """{user id: {channel: {pages, night, weekend, interruptions}}}, each user's nights and weekends
    in their own zone: one grouped query per zone."""
    by_zone = defaultdict(list)
    for pk, user in users.items():
        by_zone[user.timezone or p.tenant.timezone or "UTC"].append(pk)
    out = defaultdict(dict)
    for zone, ids in by_zone.items():
        tz = zoneinfo.ZoneInfo(zone)
        night = Q(hour__gte=NIGHT_FROM) | Q(hour__lt=NIGHT_UNTIL)
        weekend = Q(weekday__gte=6)
        rows = (Notification.objects.filter(tenant=p.tenant, kind=Notification.Kind.PAGE, user_id__in=ids,
                                             sent_at__gte=p.start, sent_at__lt=p.end, bundle__isnull=True)
                .annotate(hour=ExtractHour("sent_at", tzinfo=tz), weekday=ExtractIsoWeekDay("sent_at", tzinfo=tz))
                .values("user_id", "channel").order_by()
                # Counting a column the covering index holds (not the id): an index-only scan.
                .annotate(pages=Count("*"), night=Count("channel", filter=night),
                          weekend=Count("channel", filter=weekend),
                          interruptions=Count("channel", filter=night | weekend)))
        for row in rows:
            out[row["user_id"]][row["channel"]] = row
    return out


def _pages_from_rollups(p, users):
    """As `_pages`, summed from the outbox roll-ups. A recipient whose zone changed since their pages
    were folded (rows with another `rzone`) is counted live and their pages are marked to be folded
    again in their new zone."""
    zones = {pk: user.timezone or p.tenant.timezone or "UTC" for pk, user in users.items()}
    periods, period_args = _periods(p)
    out, stale = defaultdict(dict), set()
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT r.user_id, r.channel, r.rzone, SUM(r.total), SUM(r.night), SUM(r.weekend), "  # noqa: S608
                       f"SUM(r.interruptions) FROM {NotificationRollup._meta.db_table} r WHERE r.tenant_id = %s "
                       f"AND r.zone = %s AND r.measure = 'pages' AND {periods} GROUP BY r.user_id, r.channel, r.rzone",
                       [p.tenant.pk, p.tz.key, *period_args])
        for user_id, channel, rzone, pages, night, weekend, interruptions in cursor.fetchall():
            if user_id not in users:
                continue
            if rzone != zones[user_id]:
                stale.add(user_id)
                continue
            row = out[user_id].setdefault(channel, {"user_id": user_id, "channel": channel, "pages": 0, "night": 0,
                                                    "weekend": 0, "interruptions": 0})
            for name, value in (("pages", pages), ("night", night), ("weekend", weekend),
                                ("interruptions", interruptions)):
                row[name] += int(value)
    if stale:
        for pk in stale:
            out.pop(pk, None)
        out.update(_pages(p, {pk: users[pk] for pk in stale}))
        notification_rollups.mark_dirty(p.tenant, Notification.objects.filter(
            tenant=p.tenant, user_id__in=stale, kind=Notification.Kind.PAGE, sent_at__isnull=False))
    return out


def _time_on_call(p, users, *, live=False):
    """{user id: seconds on call in the range}, over every schedule; overlaps count once. Kept per
    day with a digest of the schedule inputs (reports/oncall.py); `live` computes the whole range."""
    if live:
        return oncall.live_seconds(p.tenant, p.start, p.end, users)
    return oncall.seconds(p.tenant, p.tz, p.first, p.last, users)


DELIVERY_COUNTS = ("total", "sent", "delivered", "failed", "retried")


def _deliveries(p):
    failed = list(notification_rollups.FAILED)
    return list(Notification.objects.filter(tenant=p.tenant, created_at__gte=p.start, created_at__lt=p.end)
                .values("channel", "provider").order_by("channel", "provider")
                .annotate(total=Count("*"), sent=Count("channel", filter=Q(sent_at__isnull=False)),
                          delivered=Count("channel", filter=Q(status=Notification.Status.DELIVERED)),
                          failed=Count("channel", filter=Q(status__in=failed)),
                          retried=Count("channel", filter=Q(attempts__gt=1))))


def _deliveries_from_rollups(p):
    periods, period_args = _periods(p)
    counts = ", ".join(f"SUM(r.{name})" for name in DELIVERY_COUNTS)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT r.channel, r.provider, {counts} FROM {NotificationRollup._meta.db_table} r "  # noqa: S608
                       f"WHERE r.tenant_id = %s AND r.zone = %s AND r.measure = 'delivery' AND {periods} "
                       f"GROUP BY r.channel, r.provider ORDER BY r.channel, r.provider",
                       [p.tenant.pk, p.tz.key, *period_args])
        return [{"channel": channel, "provider": provider,
                 **{name: int(value) for name, value in zip(DELIVERY_COUNTS, values, strict=True)}}
                for channel, provider, *values in cursor.fetchall()]


def delivery(p, *, rollup=None):
    from_rollups = use_notification_rollups(p) if rollup is None else rollup
    rows = _deliveries_from_rollups(p) if from_rollups else _deliveries(p)
    via = sums(p, ("all", "via"), rollup=rollup, hists=())["via"]
    accepted = sum(t.acked for t in via.values())
    replies = [{"channel": value or "unknown", "accepted": t.acked,
                "share": round(t.acked / accepted, 4) if accepted else None}
               for value, t in sorted(via.items(), key=lambda item: (-item[1].acked, item[0])) if t.acked]
    return {"range": _range(p), "channels": rows, "replies": replies}


def _range(p):
    return {"from": p.first.isoformat(), "to": p.last.isoformat(), "tz": p.tz.key, "days": p.days,
            "previous_from": p.previous().first.isoformat(), "previous_to": p.previous().last.isoformat(),
            "group": p.group, "bucket": p.bucket,
            "filters": {name: getattr(obj, "pk", obj) for name, obj in p.filters.items()}}


def _without_jit(function):
    """PostgreSQL's JIT compiles these grouped scans for over a second before running them for
    milliseconds (measured in bench/reports.py): off for the report's transaction only."""

    @wraps(function)
    def run(p, **kwargs):
        with transaction.atomic():
            if connection.vendor == "postgresql":
                with connection.cursor() as cursor:
                    cursor.execute("SET LOCAL jit = off")
            return function(p, **kwargs)

    return run


REPORTS = {
    "response": (_without_jit(response), RESPONSE_FILTERS),
    "noise": (_without_jit(noise), NOISE_FILTERS),
    "people": (_without_jit(people), PEOPLE_FILTERS),
    "delivery": (_without_jit(delivery), DELIVERY_FILTERS),
}
