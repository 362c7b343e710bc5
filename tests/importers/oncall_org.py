"""A Grafana OnCall organisation as its public API v1 shows it (shapes from grafana.com's OnCall API
reference: users, teams, schedules, on_call_shifts, escalation_chains, escalation_policies,
integrations, schedules/{id}/final_shifts), served by FakeVendor in pages of 2 linked by `next`.

5 users (one without an email), 2 teams, 3 schedules (a web schedule with a weekly rotation, a
night rotation crossing midnight at a higher level and an override, in Europe/Berlin across its
October DST change; a calendar schedule of 12-hour turns in America/New_York across its November
change starting from the second user; an iCal schedule of weekday office hours), 2 escalation chains (waits, a round robin
step, a repeat, a team, a webhook step), 3 integrations.

`final_shifts` is OnCall's computed view by brute force from its documented semantics (occurrences
every interval × frequency from `start`, each `duration` long, higher level wins, overrides on top)."""

import copy
import zoneinfo
from datetime import datetime, timedelta

from .fakes import parse, sample

KEY = "oncall-token-abcdef0123456789"

USERS = [
    {"id": "UANNA", "email": "anna@acme.test", "username": "anna", "name": "Anna A", "role": "admin",
     "timezone": "Europe/Berlin", "teams": ["TINFRA"]},
    {"id": "UBEN", "email": "ben@acme.test", "username": "ben", "name": "Ben B", "role": "editor",
     "timezone": "Europe/Berlin", "teams": ["TINFRA", "TAPPS"]},
    {"id": "UCLEO", "email": "cleo@acme.test", "username": "cleo", "name": "Cleo C", "role": "editor",
     "timezone": "Europe/Berlin", "teams": ["TINFRA"]},
    {"id": "UDORA", "email": "dora@acme.test", "username": "dora", "name": "Dora D", "role": "viewer",
     "timezone": "America/New_York", "teams": ["TAPPS"]},
    {"id": "UED", "email": None, "username": "ed", "name": "Ed (service account)", "role": "editor",
     "timezone": None, "teams": []},
]
TEAMS = [{"id": "TINFRA", "name": "Infra", "email": "", "avatar_url": ""},
         {"id": "TAPPS", "name": "Apps", "email": "", "avatar_url": ""}]


def rolling(sid, name, schedule, start, frequency, interval, duration, groups, level=0, **extra):
    return {"id": sid, "team_id": None, "schedule": schedule, "name": name, "type": "rolling_users",
            "time_zone": None, "level": level, "start": start, "rotation_start": start, "duration": duration,
            "frequency": frequency, "interval": interval, "by_day": None, "by_month": None, "by_monthday": None,
            "week_start": "MO", "until": None, "rolling_users": groups, "start_rotation_from_user_index": 0, **extra}


SHIFTS = [
    rolling("OWEEK", "Weekly", "SINFRA", "2026-09-07T09:00:00", "weekly", 1, 7 * 86400,
            [["UANNA"], ["UBEN"], ["UCLEO"]]),
    rolling("ONIGHT", "Nights", "SINFRA", "2026-10-01T20:00:00", "daily", 1, 12 * 3600, [["UBEN"], ["UCLEO"]],
            level=1),
    {"id": "OOVER", "team_id": None, "schedule": "SINFRA", "name": "Cover", "type": "override", "time_zone": None,
     "start": "2026-10-29T10:00:00", "rotation_start": "2026-10-29T10:00:00", "duration": 7200,
     "users": ["UANNA"]},
    rolling("OHALF", "Halves", None, "2026-10-01T08:00:00", "hourly", 12, 12 * 3600, [["UBEN"], ["UDORA"]],
            start_rotation_from_user_index=1),
]
SCHEDULES = [
    {"id": "SINFRA", "team_id": "TINFRA", "name": "Infra", "type": "web", "time_zone": "Europe/Berlin",
     "on_call_now": [], "shifts": []},
    {"id": "SAPPS", "team_id": "TAPPS", "name": "Apps", "type": "calendar", "time_zone": "America/New_York",
     "on_call_now": [], "shifts": ["OHALF"], "ical_url_overrides": None},
    {"id": "SICAL", "team_id": None, "name": "Legacy calendar", "type": "ical", "time_zone": "UTC",
     "ical_url_primary": "https://calendar.example/x.ics", "on_call_now": []},
]


def step(pid, chain, position, kind, **fields):
    return {"id": pid, "escalation_chain_id": chain, "position": position, "type": kind, **fields}


CHAINS = [{"id": "CINFRA", "team_id": "TINFRA", "name": "Infra chain"},
          {"id": "CAPPS", "team_id": "TAPPS", "name": "Apps chain"}]
POLICIES = [
    step("E1", "CINFRA", 0, "notify_on_call_from_schedule", notify_on_call_from_schedule="SINFRA", important=False),
    step("E2", "CINFRA", 1, "wait", duration=600),
    step("E3", "CINFRA", 2, "notify_persons", persons_to_notify=["UANNA", "UBEN"], important=False),
    step("E4", "CINFRA", 3, "wait", duration=900),
    step("E5", "CINFRA", 4, "notify_person_next_each_time", persons_to_notify_next_each_time=["UBEN", "UCLEO"]),
    step("E6", "CINFRA", 5, "wait", duration=300),
    step("E7", "CINFRA", 6, "repeat_escalation"),
    step("E8", "CAPPS", 0, "notify_team_members", notify_to_team_members="TAPPS", important=False),
    step("E9", "CAPPS", 1, "wait", duration=300),
    step("E10", "CAPPS", 2, "trigger_webhook", action_to_trigger="A1"),
]
INTEGRATIONS = [
    {"id": "IAM", "name": "Prometheus", "type": "alertmanager", "team_id": "TINFRA",
     "link": "https://oncall.example/integrations/v1/alertmanager/abc/", "default_route": {"escalation_chain_id": "CINFRA"}},
    {"id": "IGR", "name": "Grafana Alerting", "type": "grafana_alerting", "team_id": "TAPPS",
     "link": "https://oncall.example/integrations/v1/grafana_alerting/def/", "default_route": {"escalation_chain_id": "CAPPS"}},
    {"id": "IWH", "name": "Custom webhook", "type": "webhook", "team_id": None, "link": "https://oncall.example/x/",
     "default_route": {"escalation_chain_id": None}},
]

UNITS = {"hourly": 3600, "daily": 86400, "weekly": 604800}


def final_shifts(schedule, shifts, start, end):
    zone = zoneinfo.ZoneInfo(schedule["time_zone"])
    own = [s for s in shifts if s.get("schedule") == schedule["id"] or s["id"] in schedule.get("shifts", [])]

    def local(text):
        return datetime.fromisoformat(text)

    def who_at(t):
        wall = t.astimezone(zone).replace(tzinfo=None)
        if schedule["type"] == "ical":  # the calendar: weekdays 09:00-17:00 UTC, Anna Mon-Thu, Cleo Fri
            if wall.weekday() < 5 and 9 <= wall.hour < 17:
                return frozenset(["UCLEO" if wall.weekday() == 4 else "UANNA"])
            return frozenset()
        for shift in own:
            if shift["type"] == "override":
                first = local(shift["start"])
                if first <= wall < first + timedelta(seconds=shift["duration"]):
                    return frozenset(shift["users"])
        for shift in sorted((s for s in own if s["type"] == "rolling_users"), key=lambda s: -s["level"]):
            first = local(shift["start"])
            if wall < first:
                continue
            period = UNITS[shift["frequency"]] * shift["interval"]
            k = int((wall - first).total_seconds() // period)
            if (wall - first).total_seconds() - k * period < shift["duration"]:
                groups = shift["rolling_users"]
                return frozenset(groups[(k + shift["start_rotation_from_user_index"]) % len(groups)])
        return frozenset()

    users = {u["id"]: u for u in USERS}
    return [{"user_pk": next(iter(w)), "user_email": users[next(iter(w))]["email"],
             "user_username": users[next(iter(w))]["username"], "shift_start": s.isoformat(),
             "shift_end": e.isoformat()} for s, e, w in sample(start, end, who_at)]


def serve(fake, org=None):
    org = org or copy.deepcopy({"users": USERS, "teams": TEAMS, "schedules": SCHEDULES, "shifts": SHIFTS,
                                "chains": CHAINS, "policies": POLICIES, "integrations": INTEGRATIONS})

    def paged(items, path, q, size=2):
        page = int(q.get("page", 1))
        chunk = items[(page - 1) * size: page * size]
        more = page * size < len(items)
        extra = "".join(f"&{k}={v}" for k, v in q.items() if k != "page")
        return {"count": len(items), "next": f"{fake.url}{path}?page={page + 1}{extra}" if more else None,
                "previous": None, "results": chunk, "page_size": size, "current_page_number": page,
                "total_pages": (len(items) + size - 1) // size}

    for path, key in (("/api/v1/users/", "users"), ("/api/v1/teams/", "teams"), ("/api/v1/schedules/", "schedules"),
                      ("/api/v1/on_call_shifts/", "shifts"), ("/api/v1/escalation_chains/", "chains"),
                      ("/api/v1/escalation_policies/", "policies"), ("/api/v1/integrations/", "integrations")):
        fake.route(path, lambda m, q, path=path, key=key: paged(org[key], path, q))

    def finals(m, q):
        schedule = next(s for s in org["schedules"] if s["id"] == m[1])
        start = parse(q["start_date"] + "T00:00:00Z")
        end = parse(q["end_date"] + "T00:00:00Z")
        return paged(final_shifts(schedule, org["shifts"], start, end), m[0], q, size=50)

    fake.route(r"/api/v1/schedules/(\w+)/final_shifts", finals)
    fake.throttled.add("/api/v1/on_call_shifts/")
    return org
