"""Grafana OnCall public API v1 (`<OnCall API URL>/api/v1/`): users, teams, schedules and their
on-call shifts, escalation chains and their escalation policies, integrations; and a schedule's
final shifts (`GET /schedules/{id}/final_shifts`) for the check.

Reading of the API (grafana.com/docs/oncall/latest/oncall-api-reference/):
- lists are pages of `results` linked by `next`;
- a `rolling_users` shift starts at `start` (wall clock in its `time_zone`, else the schedule's),
  recurs every `interval` × `frequency`, lasts `duration` seconds each time, and hands each
  occurrence to the next group of `rolling_users`; `level` is its priority (higher wins);
  `override` shifts win over every level; `until` ends the recurrence;
- escalation policies run in `position` order: notify steps page at once, `wait` steps wait
  `duration` seconds, `repeat_escalation` starts again from the top (OnCall repeats up to 5 times).
"""

import zoneinfo
from datetime import datetime, timedelta

from ilert import clock

from ..client import Client, next_link_pages
from ..spec import (
    IntegrationSpec,
    LayerSpec,
    LevelSpec,
    Organisation,
    OverrideSpec,
    PolicySpec,
    ScheduleSpec,
    TeamSpec,
    UserSpec,
)
from .common import instant, known_zone, together, wall, window

ROLES = {"admin": "admin", "editor": "responder", "viewer": "stakeholder"}
UNITS = {"hourly": ("hours", 3600), "daily": ("days", 86400), "weekly": ("weeks", 604800)}
INTEGRATIONS = {"alertmanager": "alertmanager", "grafana_alerting": "grafana", "grafana": "grafana",
                "inbound_email": "email", "legacy_alertmanager": "alertmanager", "legacy_grafana_alerting": "grafana"}
ONCALL_REPEATS = 5
ICAL_DAYS = 90
MAX_TIMEOUT = 1440


def _results(body):
    return body.get("next")


class OnCall:
    vendor, label = "oncall", "Grafana OnCall"
    default_base_url = "https://oncall-prod-us-central-0.grafana.net/oncall"

    def __init__(self, api_key, base_url=None, *, sleep=None):
        kwargs = {"sleep": sleep} if sleep else {}
        self.client = Client(base_url or self.default_base_url, {"Authorization": api_key}, **kwargs)

    def _all(self, path, params=None):
        return list(next_link_pages(self.client, path, params, key="results", next_of=_results))

    def fetch(self, only):
        org = Organisation()
        users = self._all("api/v1/users/") if ("users" in only or "teams" in only) else []
        if "users" in only:
            self._users(org, users)
        if "teams" in only:
            self._teams(org, users)
        if "schedules" in only:
            self._schedules(org)
        if "policies" in only:
            self._policies(org)
        if "integrations" in only:
            self._integrations(org)
        return org

    def _users(self, org, users):
        for item in users:
            role = ROLES.get(item.get("role"), "responder")
            zone = item.get("timezone") or ""
            if zone and not known_zone(zone):
                zone = ""
            org.users.append(UserSpec(item["id"], item.get("name") or item.get("username") or "",
                                      item.get("email") or "", role, zone, []))
        if users:
            org.note("contact_method", "-", "all users", "the OnCall public API does not expose phone numbers "
                     "or notification rules: each user adds theirs here (they are verified anyway)")

    def _teams(self, org, users):
        for item in self._all("api/v1/teams/"):
            members = [u["id"] for u in users if item["id"] in (u.get("teams") or [])]
            org.teams.append(TeamSpec(item["id"], item.get("name") or item["id"], "", members))

    def _schedules(self, org):
        shifts = {s["id"]: s for s in self._all("api/v1/on_call_shifts/")}
        for item in self._all("api/v1/schedules/"):
            spec = self._schedule(org, item, shifts)
            if spec is not None:
                org.schedules.append(spec)

    def _policies(self, org):
        steps = self._all("api/v1/escalation_policies/")
        for chain in self._all("api/v1/escalation_chains/"):
            own = sorted((s for s in steps if s.get("escalation_chain_id") == chain["id"]),
                         key=lambda s: s.get("position", 0))
            org.policies.append(self._policy(org, chain, own))

    def _integrations(self, org):
        for item in self._all("api/v1/integrations/"):
            kind = INTEGRATIONS.get(item.get("type"))
            name = item.get("name") or item["id"]
            if kind is None:
                org.note("integration", item["id"], name, f"type {item.get('type')} has no compatible alert "
                         "source here (Alertmanager, Grafana Alerting and inbound email are imported)")
                continue
            chain = (item.get("default_route") or {}).get("escalation_chain_id")
            if len(item.get("routes") or []) > 1:
                org.note("integration", item["id"], name, "routes other than the default are not imported: "
                         "the alert source uses the default route's escalation chain")
            org.integrations.append(IntegrationSpec(item["id"], name[:120], kind, chain))

    # --- schedules -----------------------------------------------------------------------------

    def _schedule(self, org, item, shifts):
        name = item.get("name") or item["id"]
        zone = item.get("time_zone") or "UTC"
        if not known_zone(zone):
            org.note("schedule", item["id"], name, f"time zone {zone!r} is no IANA name: schedule not imported")
            return None
        spec = ScheduleSpec(item["id"], name, zone, "", item.get("team_id"))
        if item.get("type") == "ical":
            return self._ical(org, spec)
        own = [shifts[s] for s in item.get("shifts") or [] if s in shifts]
        own += [s for s in shifts.values() if s.get("schedule") == item["id"] and s not in own]
        layers = []
        for shift in own:
            if shift.get("type") == "override":
                self._override(org, item, spec, shift)
                continue
            layer = self._layer(org, spec, shift)
            if layer is not None:
                layers.append((int(shift.get("level") or 0), layer))
        levels = [level for level, _layer in layers]
        if len(set(levels)) != len(levels):
            org.note("schedule", item["id"], name, "several shifts share a level: OnCall pages both where they "
                     "overlap, here the one listed last wins")
        spec.layers = [layer for _level, layer in sorted(layers, key=lambda pair: pair[0])]
        return spec

    def _override(self, org, item, spec, shift):
        """An override shift: one user for its duration (several at once are not imported)."""
        users = shift.get("users") or [u for group in shift.get("rolling_users") or [] for u in group]
        start = self._instant(shift["start"], shift.get("time_zone") or spec.timezone)
        if len(users) != 1:
            org.note("schedule", item["id"], spec.name, f"override {shift.get('name')} has {len(users)} users: "
                     "not imported")
            return
        spec.overrides.append(OverrideSpec(shift["id"], users[0], start,
                                           start + timedelta(seconds=int(shift.get("duration") or 0))))

    def _ical(self, org, spec):
        """An iCal schedule's rules live in its calendar, not in the API: its final shifts for the
        next ICAL_DAYS become the explicit shifts of a static schedule."""
        start = clock.now().replace(hour=0, minute=0, second=0, microsecond=0)
        org.note("schedule", spec.vendor_id, spec.name, f"an iCal schedule: imported as a static schedule with its "
                 f"shifts until {start + timedelta(days=ICAL_DAYS):%Y-%m-%d} (the calendar's rules are not in the "
                 "API); import again to extend it, or import the .ics into the static schedule")
        spec.kind = "static"
        for s, e, who in self.vendor_timeline(spec.vendor_id, start, start + timedelta(days=ICAL_DAYS)):
            if len(who) != 1:
                org.note("schedule", spec.vendor_id, spec.name, f"{len(who)} people on call at once from "
                         f"{s:%Y-%m-%d %H:%M} UTC (ours page one person at a time): that shift is not imported")
                continue
            spec.shifts.append(OverrideSpec(s.isoformat(), next(iter(who)), s, e))
        return spec

    @staticmethod
    def _instant(text, zone):
        value = datetime.fromisoformat(str(text).replace("Z", "+00:00"))
        if value.tzinfo is None:
            value = value.replace(tzinfo=zoneinfo.ZoneInfo(zone))
        return instant(value.isoformat())

    def _layer(self, org, spec, shift):
        where = f"{spec.name} / {shift.get('name') or shift['id']}"
        problem = _shift_problem(shift, spec)
        if problem is None:
            name, seconds = UNITS[shift.get("frequency")]
            interval = int(shift.get("interval") or 1)
            restrictions, problem = _coverage(shift, name, interval, int(shift.get("duration") or 0), seconds)
        if problem is not None:
            org.note("schedule", spec.vendor_id, where, problem + ": shift not imported")
            return None
        users = [group[0] for group in _turns(shift)]
        first = int(shift.get("start_rotation_from_user_index") or 0) % len(users)
        users = users[first:] + users[:first]
        anchor = datetime.fromisoformat(str(shift.get("rotation_start") or shift["start"]).replace("Z", ""))
        if anchor.tzinfo is not None:
            anchor = wall(anchor, spec.timezone)
        end = self._instant(shift["until"], spec.timezone) if shift.get("until") else None
        return LayerSpec(shift["id"], shift.get("name") or shift["id"], users, anchor.replace(tzinfo=None),
                         interval, name, end, restrictions)

    # --- escalation chains ---------------------------------------------------------------------

    def _policy(self, org, chain, steps):
        name = chain.get("name") or chain["id"]
        levels, repeats = _ChainLevels(), 0
        for step in steps:
            kind = step.get("type")
            if step.get("important"):
                org.note("policy", chain["id"], name, "an 'important' step: here every page follows the user's "
                         "own rules")
            if kind == "repeat_escalation":
                repeats = ONCALL_REPEATS
            elif kind not in STEPS:
                org.note("policy", chain["id"], name, f"step {kind!r} has no counterpart here: left out")
                continue
            else:
                STEPS[kind](levels, step)
            if kind == "notify_person_next_each_time":
                org.note("policy", chain["id"], name, "'notify next person each time' rotates per alert group in "
                         "OnCall; here each escalation round of an incident pages the next person")
        return PolicySpec(chain["id"], name, "", repeats, _paging_levels(org, chain["id"], name, levels.all))

    # --- the vendor's own view -----------------------------------------------------------------

    def vendor_timeline(self, schedule_id, start, end):
        pieces = []
        params = {"start_date": start.date().isoformat(), "end_date": (end + timedelta(days=1)).date().isoformat()}
        for item in next_link_pages(self.client, f"api/v1/schedules/{schedule_id}/final_shifts", params,
                                    key="results", next_of=_results):
            s, e = max(instant(item["shift_start"]), start), min(instant(item["shift_end"]), end)
            if s < e and item.get("user_pk"):
                pieces.append((s, e, frozenset([item["user_pk"]])))
        return together(pieces)


# --- shifts ----------------------------------------------------------------------------------------


def _turns(shift):
    """The groups of users taking turns in a shift (each must be one person here)."""
    groups = shift.get("rolling_users") or ([shift.get("users")] if shift.get("users") else [])
    if shift.get("type") == "recurrent_event" and len(shift.get("users") or []) == 1:
        groups = [shift["users"]]
    return groups


def _shift_problem(shift, spec):
    """Why a shift cannot become a layer here (None: it can, as far as its kind goes)."""
    if shift.get("time_zone") and shift["time_zone"] != spec.timezone:
        return (f"its time zone {shift['time_zone']} differs from the schedule's (layers here hand off in "
                "the schedule's zone)")
    if shift.get("type") == "single_event":
        return "a one-off shift"
    groups = _turns(shift)
    if not groups or any(len(group) != 1 for group in groups):
        return "a turn of several users at once (ours page one person at a time)"
    if shift.get("by_month") or shift.get("by_monthday"):
        return "recurrence by month or day of month"
    if shift.get("by_day"):
        return "recurrence on chosen week days (by_day)"
    if UNITS.get(shift.get("frequency")) is None:
        return f"frequency {shift.get('frequency')!r}"
    return None


def _coverage(shift, name, interval, duration, seconds):
    """(restrictions, None) for the part of each period a shift covers, or (None, why not)."""
    period = interval * seconds
    if duration > period:
        return None, "occurrences longer than the recurrence overlap"
    if duration == period:
        return [], None
    if interval != 1 or name == "hours" or duration % 60:
        return None, f"each {interval} {name} only {duration} s are covered"
    start_local = datetime.fromisoformat(str(shift["start"]).replace("Z", ""))
    minute = start_local.hour * 60 + start_local.minute
    return [window(minute, duration // 60, start_local.weekday() if name == "weeks" else None)], None


# --- escalation steps ------------------------------------------------------------------------------


class _ChainLevels:
    """Levels built from a chain's steps: notify steps add to the current level (a new one if there
    is none), a wait adds to its timeout and closes it."""

    def __init__(self):
        self.all, self._current = [], None

    def current(self):
        if self._current is None:
            self._current = LevelSpec(0)
            self.all.append(self._current)
        return self._current

    def close(self):
        self._current = None


def _wait(levels, step):
    levels.current().timeout_minutes += int(step.get("duration") or 0) // 60
    levels.close()


def _next_each_time(levels, step):
    target = levels.current()
    target.users.extend(step.get("persons_to_notify_next_each_time") or [])
    target.notify_mode = "round_robin"


STEPS = {
    "wait": _wait,
    "notify_persons": lambda levels, step: levels.current().users.extend(step.get("persons_to_notify") or []),
    "notify_person_next_each_time": _next_each_time,
    "notify_on_call_from_schedule":
        lambda levels, step: levels.current().schedules.append(step.get("notify_on_call_from_schedule")),
    "notify_team_members": lambda levels, step: levels.current().teams.append(step.get("notify_to_team_members")),
}


def _paging_levels(org, chain_id, name, levels):
    """The levels that page somebody, their timeouts within ours."""
    if any(lvl.timeout_minutes and not (lvl.users or lvl.teams or lvl.schedules) for lvl in levels):
        org.note("policy", chain_id, name, "a wait before anybody is notified: here the first level pages at once")
    levels = [lvl for lvl in levels if lvl.users or lvl.teams or lvl.schedules]
    for lvl in levels:
        if lvl.timeout_minutes > MAX_TIMEOUT:
            org.note("policy", chain_id, name, f"waits {lvl.timeout_minutes} minutes; here at most {MAX_TIMEOUT}")
            lvl.timeout_minutes = MAX_TIMEOUT
    return levels
