"""An Opsgenie organisation as its REST API v2 shows it (shapes from docs.opsgenie.com's examples of
GET /v2/users, /v2/users/{id}/contacts, /v2/teams, /v2/teams/{id}, /v2/schedules?expand=rotation,
/v2/schedules/{id}/overrides, /v2/schedules/{id}/timeline, /v2/escalations, /v2/integrations),
served by tests.importers.fakes.FakeVendor; users in pages of 2 linked by paging.next.

6 users (owner, admin, users, a stakeholder; email, SMS, voice and mobile-app contacts), 2 teams,
2 schedules with 3 rotations (a day rotation and a night rotation crossing midnight in
Europe/Berlin across its October DST change; 12-hour turns restricted to Monday 08:00 – Friday
18:00 in America/Los_Angeles across its November change), an override, 2 escalations (rules at
the same delay, a team, repeats; a delayed first rule and an if-not-closed condition), 3
integrations (Prometheus, Email, Jira).

`timeline` is Opsgenie's final timeline computed by brute force from its documented semantics
(each rotation on its own, restrictions clip, wall-clock handoffs, the override on top)."""

import copy
import zoneinfo

from .fakes import parse, sample

KEY = "og-key-0123456789abcdef"


def user(uid, name, email, role, zone):
    return {"id": uid, "username": email, "fullName": name, "role": {"id": role, "name": role},
            "timeZone": zone, "blocked": False, "verified": True, "locale": "en_US"}


USERS = [
    user("u-olga", "Olga Owner", "olga@acme.test", "Owner", "Europe/Berlin"),
    user("u-paul", "Paul Admin", "paul@acme.test", "Admin", "Europe/Berlin"),
    user("u-quinn", "Quinn User", "quinn@acme.test", "User", "America/Los_Angeles"),
    user("u-rosa", "Rosa User", "rosa@acme.test", "User", "Europe/Berlin"),
    user("u-sam", "Sam Stakeholder", "sam@acme.test", "Stakeholder", "America/Los_Angeles"),
    user("u-tara", "Tara User", "tara@acme.test", "User", "Europe/Berlin"),
]
CONTACTS = {
    "u-olga": [{"id": "c1", "method": "email", "to": "olga@acme.test", "status": {"enabled": True}},
               {"id": "c2", "method": "sms", "to": "49-15112345601", "status": {"enabled": True}}],
    "u-paul": [{"id": "c3", "method": "voice", "to": "49-15112345602", "status": {"enabled": True}},
               {"id": "c4", "method": "mobile", "to": "Paul's phone", "status": {"enabled": True}}],
}
TEAMS = [{"id": "t-sre", "name": "SRE", "description": "Site reliability"},
         {"id": "t-web", "name": "Web", "description": ""}]
MEMBERS = {"t-sre": ["u-olga", "u-paul", "u-rosa", "u-tara"], "t-web": ["u-quinn", "u-sam", "u-paul"]}


def participants(*ids):
    return [{"type": "user", "id": uid, "username": uid[2:] + "@acme.test"} for uid in ids]


SCHEDULES = [
    {"id": "s-sre", "name": "SRE", "description": "", "timezone": "Europe/Berlin", "enabled": True,
     "ownerTeam": {"id": "t-sre", "name": "SRE"},
     "rotations": [
         {"id": "r-days", "name": "Days", "order": 0, "type": "weekly", "length": 1,
          "startDate": "2026-09-07T07:00:00Z", "participants": participants("u-olga", "u-paul", "u-quinn"),
          "timeRestriction": {"type": "time-of-day",
                              "restriction": {"startHour": 8, "startMin": 0, "endHour": 20, "endMin": 0}}},
         {"id": "r-nights", "name": "Nights", "order": 1, "type": "daily", "length": 1,
          "startDate": "2026-10-01T18:00:00Z", "participants": participants("u-rosa", "u-tara"),
          "timeRestriction": {"type": "time-of-day",
                              "restriction": {"startHour": 20, "startMin": 0, "endHour": 8, "endMin": 0}}},
     ]},
    {"id": "s-web", "name": "Web business hours", "description": "", "timezone": "America/Los_Angeles",
     "enabled": True, "ownerTeam": {"id": "t-web", "name": "Web"},
     "rotations": [
         {"id": "r-web", "name": "Halves", "order": 0, "type": "hourly", "length": 12,
          "startDate": "2026-10-01T15:00:00Z", "participants": participants("u-quinn", "u-sam", "u-paul"),
          "timeRestriction": {"type": "weekday-and-time-of-day", "restrictions": [
              {"startDay": "MONDAY", "startHour": 8, "startMin": 0, "endDay": "FRIDAY", "endHour": 18, "endMin": 0}]}},
     ]},
]
OVERRIDES = {"s-sre": [{"alias": "o-1", "user": {"type": "user", "id": "u-tara", "username": "tara@acme.test"},
                        "startDate": "2026-10-30T10:00:00Z", "endDate": "2026-10-30T14:00:00Z",
                        "rotations": [{"id": "r-days", "name": "Days"}, {"id": "r-nights", "name": "Nights"}]}]}
ESCALATIONS = [
    {"id": "e-sre", "name": "SRE escalation", "description": "", "ownerTeam": {"id": "t-sre", "name": "SRE"},
     "rules": [
         {"condition": "if-not-acked", "notifyType": "default", "delay": {"timeAmount": 0, "timeUnit": "minutes"},
          "recipient": {"type": "schedule", "id": "s-sre", "name": "SRE"}},
         {"condition": "if-not-acked", "notifyType": "default", "delay": {"timeAmount": 10, "timeUnit": "minutes"},
          "recipient": {"type": "user", "id": "u-paul", "username": "paul@acme.test"}},
         {"condition": "if-not-acked", "notifyType": "default", "delay": {"timeAmount": 10, "timeUnit": "minutes"},
          "recipient": {"type": "user", "id": "u-olga", "username": "olga@acme.test"}},
         {"condition": "if-not-acked", "notifyType": "default", "delay": {"timeAmount": 25, "timeUnit": "minutes"},
          "recipient": {"type": "team", "id": "t-sre", "name": "SRE"}},
     ],
     "repeat": {"waitInterval": 15, "count": 3, "resetRecipientStates": False, "closeAlertAfterAll": False}},
    {"id": "e-web", "name": "Web escalation", "description": "", "ownerTeam": {"id": "t-web", "name": "Web"},
     "rules": [{"condition": "if-not-closed", "notifyType": "default", "delay": {"timeAmount": 5, "timeUnit": "minutes"},
                "recipient": {"type": "schedule", "id": "s-web", "name": "Web business hours"}}]},
]
INTEGRATIONS = [{"id": "i-prom", "name": "Prometheus", "enabled": True, "type": "Prometheus", "teamId": "t-sre"},
                {"id": "i-mail", "name": "Support mail", "enabled": True, "type": "Email", "teamId": "t-web"},
                {"id": "i-jira", "name": "Jira", "enabled": True, "type": "Jira", "teamId": "t-web"}]

UNITS = {"hourly": 3600, "daily": 86400, "weekly": 7 * 86400}
DAYS = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]


# --- Opsgenie's computed view ---------------------------------------------------------------------

def _restricted(restriction, local):
    if not restriction:
        return True
    minute = local.hour * 60 + local.minute
    if restriction["type"] == "time-of-day":
        r = restriction["restriction"]
        start, end = r["startHour"] * 60 + r["startMin"], r["endHour"] * 60 + r["endMin"]
        return (minute - start) % 1440 < (end - start) % 1440
    week_minute = local.weekday() * 1440 + minute
    for r in restriction["restrictions"]:
        start = DAYS.index(r["startDay"].lower()) * 1440 + r["startHour"] * 60 + r["startMin"]
        end = DAYS.index(r["endDay"].lower()) * 1440 + r["endHour"] * 60 + r["endMin"]
        if (week_minute - start) % 10080 < (end - start) % 10080:
            return True
    return False


def _rotation_user(rotation, zone, t):
    local = t.astimezone(zone).replace(tzinfo=None)
    first = parse(rotation["startDate"]).astimezone(zone).replace(tzinfo=None)
    if local < first or not _restricted(rotation.get("timeRestriction"), local):
        return None
    turn = int((local - first).total_seconds() // (UNITS[rotation["type"]] * rotation["length"]))
    return rotation["participants"][turn % len(rotation["participants"])]["id"]


def timeline(schedule, overrides, start, end):
    zone = zoneinfo.ZoneInfo(schedule["timezone"])

    def overridden(t):
        return next((o for o in reversed(overrides) if parse(o["startDate"]) <= t < parse(o["endDate"])), None)

    rotations = []
    for rotation in schedule["rotations"]:
        def who_at(t, rotation=rotation):
            if overridden(t):
                return frozenset()
            uid = _rotation_user(rotation, zone, t)
            return frozenset([uid]) if uid else frozenset()

        rotations.append({"id": rotation["id"], "name": rotation["name"], "order": rotation["order"], "periods": [
            {"startDate": s.isoformat(), "endDate": e.isoformat(), "type": "default",
             "recipient": {"type": "user", "id": next(iter(w))}} for s, e, w in sample(start, end, who_at)]})

    def by_override(t):
        o = overridden(t)
        return frozenset([o["user"]["id"]]) if o else frozenset()

    rotations.append({"id": "overrides", "name": "Overrides", "order": 99, "periods": [
        {"startDate": s.isoformat(), "endDate": e.isoformat(), "type": "override",
         "recipient": {"type": "user", "id": next(iter(w))}} for s, e, w in sample(start, end, by_override)]})
    return rotations


def serve(fake, org=None):
    from datetime import timedelta

    org = org or copy.deepcopy({"users": USERS, "contacts": CONTACTS, "teams": TEAMS, "members": MEMBERS,
                                "schedules": SCHEDULES, "overrides": OVERRIDES, "escalations": ESCALATIONS,
                                "integrations": INTEGRATIONS})
    schedules = {s["id"]: s for s in org["schedules"]}

    def users(m, q):
        offset, limit = int(q.get("offset", 0)), min(int(q.get("limit", 20)), 2)
        body = {"data": org["users"][offset:offset + limit], "totalCount": len(org["users"]), "took": 0.1,
                "requestId": "r", "paging": {"first": f"{fake.url}/v2/users?offset=0&limit={limit}"}}
        if offset + limit < len(org["users"]):
            body["paging"]["next"] = f"{fake.url}/v2/users?offset={offset + limit}&limit={limit}"
        return body

    def team(m, q):
        item = next(t for t in org["teams"] if t["id"] == m[1])
        return {"data": {**item, "members": [{"user": {"id": u, "username": u[2:] + "@acme.test"}, "role": "user"}
                                             for u in org["members"][m[1]]]}}

    def the_timeline(m, q):
        start = parse(q["date"])
        end = start + timedelta(**{q.get("intervalUnit", "weeks"): int(q.get("interval", 1))})
        return {"data": {"startDate": start.isoformat(), "endDate": end.isoformat(), "finalTimeline": {
            "rotations": timeline(schedules[m[1]], org["overrides"].get(m[1], []), start, end)}}}

    fake.route(r"/v2/users", users)
    fake.route(r"/v2/users/([\w-]+)/contacts", lambda m, q: {"data": org["contacts"].get(m[1], [])})
    fake.route(r"/v2/teams", lambda m, q: {"data": org["teams"]})
    fake.route(r"/v2/teams/([\w-]+)", team)
    fake.route(r"/v2/schedules", lambda m, q: {"data": org["schedules"], "expandable": ["rotation"]})
    fake.route(r"/v2/schedules/([\w-]+)/overrides", lambda m, q: {"data": org["overrides"].get(m[1], [])})
    fake.route(r"/v2/schedules/([\w-]+)/timeline", the_timeline)
    fake.route(r"/v2/escalations", lambda m, q: {"data": org["escalations"]})
    fake.route(r"/v2/integrations", lambda m, q: {"data": org["integrations"]})
    fake.throttled.add("/v2/escalations")
    return org
