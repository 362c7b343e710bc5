"""A PagerDuty organisation as its REST API v2 shows it (field names and shapes from
developer.pagerduty.com's examples of GET /users, /teams, /teams/{id}/members, /schedules,
/schedules/{id}, /schedules/{id}/overrides, /escalation_policies, /services?include[]=integrations),
served by tests.importers.fakes.FakeVendor in pages of 2.

8 users (one without an email, one a read-only observer), 2 teams, 3 schedules with 5 layers
(Europe/Berlin and America/New_York across their October/November DST changes, a night
restriction crossing midnight, a weekend restriction crossing the week's end, 12-hour and 8-hour
turns, a layer that ended), 2 overrides, 3 escalation policies (timeouts, repeats, round robin, a
target that cannot be imported), 3 services with 4 integrations (Events v2, email, Events v1).

`final_schedule` is PagerDuty's computed view, by brute force from its documented semantics
(highest layer first, restrictions clip, handoffs at wall-clock times, overrides on top)."""

import copy
import zoneinfo

from .fakes import parse, sample

NOW = "2026-10-20T12:00:00Z"


def user(uid, name, email, role="user", zone="Europe/Berlin", methods=()):
    return {"id": uid, "type": "user", "summary": name, "name": name, "email": email, "time_zone": zone,
            "role": role, "contact_methods": list(methods), "html_url": f"https://acme.pagerduty.com/users/{uid}"}


def email(mid, address):
    return {"id": mid, "type": "email_contact_method", "summary": "Work", "label": "Work", "address": address}


def phone(mid, kind, number, country=49):
    return {"id": mid, "type": f"{kind}_contact_method", "summary": "Mobile", "label": "Mobile",
            "address": number, "country_code": country}


USERS = [
    user("PAAAAA1", "Alice Adler", "alice@acme.test", "admin",
         methods=[email("PEM1", "alice@acme.test"), phone("PPH1", "phone", "15112345671"),
                  phone("PSM1", "sms", "15112345671")]),
    user("PAAAAA2", "Bob Brandt", "bob@acme.test", methods=[email("PEM2", "bob.private@acme.test"),
                                                             phone("PSM2", "sms", "15112345672")]),
    user("PAAAAA3", "Carla Conti", "carla@acme.test",
         methods=[{"id": "PPU3", "type": "push_notification_contact_method", "label": "iPhone",
                   "address": "0f3c…", "device_type": "ios"}]),
    user("PAAAAA4", "Dan Dietz", "dan@acme.test", zone="America/New_York",
         methods=[phone("PPH4", "phone", "2125550104", 1)]),
    user("PAAAAA5", "Eve Ernst", "eve@acme.test", "limited_user", zone="America/New_York"),
    user("PAAAAA6", "Fay Fink", "fay@acme.test", zone="America/New_York"),
    user("PAAAAA7", "Gus Graf", "gus@acme.test", "observer", zone="UTC"),
    user("PAAAAA8", "Old Pager Account", None, zone="UTC"),
]

TEAMS = [{"id": "PT1", "type": "team", "name": "Platform", "summary": "Platform", "description": "Core"},
         {"id": "PT2", "type": "team", "name": "Payments", "summary": "Payments", "description": ""}]
MEMBERS = {"PT1": ["PAAAAA1", "PAAAAA2", "PAAAAA3", "PAAAAA8"], "PT2": ["PAAAAA4", "PAAAAA5", "PAAAAA6"]}


def ref(uid):
    return {"user": {"id": uid, "type": "user_reference", "summary": uid}}


def layer(lid, name, start, vstart, seconds, users, restrictions=(), end=None):
    return {"id": lid, "name": name, "start": start, "end": end, "rotation_virtual_start": vstart,
            "rotation_turn_length_seconds": seconds, "users": [ref(u) for u in users],
            "restrictions": list(restrictions)}


SCHEDULES = [
    {"id": "PS1", "type": "schedule", "name": "Platform primary", "time_zone": "Europe/Berlin",
     "description": "Weekly days, daily nights", "teams": [{"id": "PT1", "type": "team_reference"}],
     "schedule_layers": [  # highest priority first, as the API lists them
         layer("PL12", "Nights", "2026-10-01T18:00:00+02:00", "2026-10-01T18:00:00+02:00", 86400,
               ["PAAAAA2", "PAAAAA3"],
               [{"type": "daily_restriction", "start_time_of_day": "18:00:00", "duration_seconds": 14 * 3600}]),
         layer("PL11", "Weekly", "2026-09-07T09:00:00+02:00", "2026-09-07T09:00:00+02:00", 7 * 86400,
               ["PAAAAA1", "PAAAAA2", "PAAAAA3"]),
     ]},
    {"id": "PS2", "type": "schedule", "name": "Payments follow the sun", "time_zone": "America/New_York",
     "description": "", "teams": [{"id": "PT2", "type": "team_reference"}],
     "schedule_layers": [
         layer("PL22", "Weekend", "2026-09-04T18:00:00-04:00", "2026-09-04T18:00:00-04:00", 7 * 86400,
               ["PAAAAA6", "PAAAAA4"],
               [{"type": "weekly_restriction", "start_day_of_week": 5, "start_time_of_day": "18:00:00",
                 "duration_seconds": 62 * 3600}]),
         layer("PL21", "Halves", "2026-10-01T08:00:00-04:00", "2026-10-01T08:00:00-04:00", 12 * 3600,
               ["PAAAAA4", "PAAAAA5", "PAAAAA6"]),
     ]},
    {"id": "PS3", "type": "schedule", "name": "Database", "time_zone": "UTC", "description": "", "teams": [],
     "schedule_layers": [
         layer("PL32", "Eights", "2026-10-10T00:00:00Z", "2026-10-10T00:00:00Z", 8 * 3600,
               ["PAAAAA1", "PAAAAA4", "PAAAAA7"]),
         layer("PL31", "Old", "2026-01-01T00:00:00Z", "2026-01-01T00:00:00Z", 86400, ["PAAAAA1"],
               end="2026-10-01T00:00:00Z"),
     ]},
]

OVERRIDES = {
    "PS1": [{"id": "PO1", "start": "2026-10-28T10:00:00Z", "end": "2026-10-28T14:00:00Z", "user": ref("PAAAAA1")["user"]},
            {"id": "PO0", "start": "2026-10-01T10:00:00Z", "end": "2026-10-02T10:00:00Z", "user": ref("PAAAAA3")["user"]}],
    "PS2": [{"id": "PO2", "start": "2026-11-01T05:00:00Z", "end": "2026-11-01T09:00:00Z", "user": ref("PAAAAA5")["user"]}],
}


def target(kind, tid):
    return {"id": tid, "type": f"{kind}_reference", "summary": tid}


POLICIES = [
    {"id": "PEP1", "type": "escalation_policy", "name": "Platform", "description": "Wake the platform",
     "num_loops": 2, "on_call_handoff_notifications": "if_has_services",
     "escalation_rules": [
         {"id": "PR11", "escalation_delay_in_minutes": 15, "targets": [target("schedule", "PS1")]},
         {"id": "PR12", "escalation_delay_in_minutes": 30,
          "escalation_rule_assignment_strategy": {"type": "round_robin"},
          "targets": [target("user", "PAAAAA1"), target("user", "PAAAAA2")]},
     ]},
    {"id": "PEP2", "type": "escalation_policy", "name": "Payments", "description": "", "num_loops": 0,
     "escalation_rules": [
         {"id": "PR21", "escalation_delay_in_minutes": 10, "targets": [target("schedule", "PS2")]},
         {"id": "PR22", "escalation_delay_in_minutes": 20,
          "targets": [target("schedule", "PS3"), target("user", "PAAAAA4")]},
     ]},
    {"id": "PEP3", "type": "escalation_policy", "name": "Legacy pager", "description": "", "num_loops": 1,
     "escalation_rules": [{"id": "PR31", "escalation_delay_in_minutes": 5, "targets": [target("user", "PAAAAA8")]}]},
]


def integration(iid, kind, name):
    return {"id": iid, "type": kind, "summary": name, "name": name,
            "integration_key": "pd-key-not-ours-" + iid, "vendor": None}


SERVICES = [
    {"id": "PSV1", "type": "service", "name": "Checkout API", "escalation_policy": {"id": "PEP2"},
     "integrations": [integration("PI1", "events_api_v2_inbound_integration", "Alertmanager"),
                      integration("PI2", "generic_email_inbound_integration", "Mail")]},
    {"id": "PSV2", "type": "service", "name": "Platform", "escalation_policy": {"id": "PEP1"},
     "integrations": [integration("PI3", "events_api_v2_inbound_integration", "Grafana")]},
    {"id": "PSV3", "type": "service", "name": "Legacy", "escalation_policy": {"id": "PEP3"},
     "integrations": [integration("PI4", "generic_events_api_inbound_integration", "Nagios")]},
]


# --- PagerDuty's computed view ------------------------------------------------------------------

def _layer_user(item, zone, t):
    if item.get("end") and t >= parse(item["end"]):
        return None
    if t < parse(item["start"]):
        return None
    local = t.astimezone(zone).replace(tzinfo=None)
    virtual = parse(item["rotation_virtual_start"]).astimezone(zone).replace(tzinfo=None)
    if local < virtual:
        return None
    for restriction in item["restrictions"]:
        hh, mm, _ss = (int(x) for x in restriction["start_time_of_day"].split(":"))
        minute_of_day = local.hour * 60 + local.minute
        length = restriction["duration_seconds"] // 60
        if restriction["type"] == "daily_restriction":
            if (minute_of_day - (hh * 60 + mm)) % 1440 < length:
                break
        else:
            start = (restriction["start_day_of_week"] - 1) * 1440 + hh * 60 + mm
            if (local.weekday() * 1440 + minute_of_day - start) % 10080 < length:
                break
    else:
        if item["restrictions"]:
            return None
    turn = int((local - virtual).total_seconds() // item["rotation_turn_length_seconds"])
    users = item["users"]
    return users[turn % len(users)]["user"]["id"]


def final_schedule(schedule, overrides, start, end):
    zone = zoneinfo.ZoneInfo(schedule["time_zone"])

    def who_at(t):
        for override in reversed(overrides):
            if parse(override["start"]) <= t < parse(override["end"]):
                return frozenset([override["user"]["id"]])
        for item in schedule["schedule_layers"]:
            uid = _layer_user(item, zone, t)
            if uid:
                return frozenset([uid])
        return frozenset()

    return [{"start": s.isoformat(), "end": e.isoformat(), "user": {"id": next(iter(w)), "type": "user_reference"}}
            for s, e, w in sample(start, end, who_at)]


# --- the routes -------------------------------------------------------------------------------

def _page(items, query, key, size=2):
    offset, limit = int(query.get("offset", 0)), min(int(query.get("limit", 25)), size)
    return {key: items[offset:offset + limit], "offset": offset, "limit": limit,
            "more": offset + limit < len(items), "total": len(items)}


def serve(fake, org=None):
    org = org or copy.deepcopy({"users": USERS, "teams": TEAMS, "members": MEMBERS, "schedules": SCHEDULES,
                                "overrides": OVERRIDES, "policies": POLICIES, "services": SERVICES})
    schedules = {s["id"]: s for s in org["schedules"]}
    fake.route(r"/users", lambda m, q: _page(org["users"], q, "users"))
    fake.route(r"/teams", lambda m, q: _page(org["teams"], q, "teams"))
    fake.route(r"/teams/(\w+)/members", lambda m, q: _page(
        [{"user": ref(u)["user"], "role": "responder"} for u in org["members"][m[1]]], q, "members"))
    fake.route(r"/schedules", lambda m, q: _page(
        [{k: v for k, v in s.items() if k != "schedule_layers"} for s in org["schedules"]], q, "schedules"))

    def schedule(m, q):
        item = dict(schedules[m[1]])
        if "since" in q:
            item["final_schedule"] = {"name": "Final Schedule", "rendered_schedule_entries": final_schedule(
                item, org["overrides"].get(m[1], []), parse(q["since"]), parse(q["until"]))}
        return {"schedule": item}

    fake.route(r"/schedules/(\w+)", schedule)
    fake.route(r"/schedules/(\w+)/overrides", lambda m, q: {"overrides": [
        o for o in org["overrides"].get(m[1], []) if parse(o["end"]) > parse(q["since"])]})
    fake.route(r"/escalation_policies", lambda m, q: _page(org["policies"], q, "escalation_policies"))
    fake.route(r"/services", lambda m, q: _page(org["services"], q, "services"))
    fake.throttled.add("/schedules")
    return org



