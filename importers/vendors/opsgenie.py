"""Opsgenie REST API v2 (https://api.opsgenie.com, EU: https://api.eu.opsgenie.com): users and
their contacts, teams with members, schedules with rotations, time restrictions and overrides,
escalations, integrations; and the schedule's final timeline for the check.

Reading of the API (docs.opsgenie.com, "User API", "Team API", "Schedule API", "Schedule
Override API", "Escalation API", "Integration API"):
- a rotation hands off every `length` × hourly/daily/weekly from `startDate`, at wall-clock
  times in the schedule's zone, until `endDate`; participants take turns in order; a time
  restriction (`time-of-day`, `weekday-and-time-of-day`) clips the rotation;
- every rotation of a schedule is on call at once (Opsgenie pages all of them where they overlap;
  ours pages one person at a time, so an overlap cannot be mapped and is said so);
- an escalation rule's `delay` counts from the alert's creation (ours: each level's timeout from
  the previous level); `repeat.waitInterval` is the wait after the last rule before repeating.
"""

from datetime import timedelta

from ilert import clock

from ..client import Client, next_link_pages
from ..spec import (
    Contact,
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
from .common import instant, iso, known_zone, together, wall

ROLES = {"owner": "admin", "admin": "admin", "user": "responder", "observer": "stakeholder",
         "stakeholder": "stakeholder"}
CONTACT_KINDS = {"email": "email", "sms": "sms", "voice": "voice"}
UNITS = {"hourly": "hours", "daily": "days", "weekly": "weeks"}
# Alertmanager's opsgenie_configs, Grafana's Opsgenie contact point and the API integration all
# speak the Alert API, which our Opsgenie-compatible endpoint takes.
INTEGRATIONS = {"api": "opsgenie", "prometheus": "opsgenie", "alertmanager": "opsgenie", "grafana": "opsgenie",
                "email": "email"}
MAX_TIMEOUT = 1440


class Opsgenie:
    vendor, label = "opsgenie", "Opsgenie"
    default_base_url = "https://api.opsgenie.com"

    def __init__(self, api_key, base_url=None, *, sleep=None):
        kwargs = {"sleep": sleep} if sleep else {}
        self.client = Client(base_url or self.default_base_url, {"Authorization": f"GenieKey {api_key}"}, **kwargs)

    def fetch(self, only):
        org = Organisation()
        for section in ("users", "teams", "schedules", "policies", "integrations"):
            if section in only:
                getattr(self, f"_fetch_{section}")(org)
        return org

    def _fetch_users(self, org):
        for item in next_link_pages(self.client, "v2/users", {"limit": 100, "offset": 0}):
            org.users.append(self._user(org, item))

    def _fetch_teams(self, org):
        for item in self.client.get("v2/teams").get("data") or []:
            team = self.client.get(f"v2/teams/{item['id']}").get("data") or item
            org.teams.append(TeamSpec(item["id"], item.get("name") or item["id"], item.get("description") or "",
                                      [m["user"]["id"] for m in team.get("members") or [] if m.get("user")]))

    def _fetch_schedules(self, org):
        for item in self.client.get("v2/schedules", {"expand": "rotation"}).get("data") or []:
            spec = self._schedule(org, item)
            if spec is not None:
                org.schedules.append(spec)

    def _fetch_policies(self, org):
        for item in self.client.get("v2/escalations").get("data") or []:
            org.policies.append(self._policy(org, item))

    def _fetch_integrations(self, org):
        for item in self.client.get("v2/integrations").get("data") or []:
            kind = INTEGRATIONS.get(str(item.get("type", "")).lower())
            name = item.get("name") or item["id"]
            if kind is None:
                org.note("integration", item["id"], name,
                         f"type {item.get('type')} has no compatible alert source here (API, Prometheus, "
                         "Alertmanager, Grafana and Email are imported)")
                continue
            org.note("integration", item["id"], name, "Opsgenie routes by team rules, not by a policy per "
                     "integration: choose the alert source's escalation policy after the import")
            org.integrations.append(IntegrationSpec(item["id"], name[:120], kind, None))

    # --- users ---------------------------------------------------------------------------------

    def _user(self, org, item):
        contacts = []
        for contact in self.client.get(f"v2/users/{item['id']}/contacts").get("data") or []:
            kind = CONTACT_KINDS.get(contact.get("method"))
            if kind is None:
                org.note("contact_method", contact.get("id"), item.get("fullName"),
                         f"{contact.get('method')} contact has no counterpart here: the user registers the "
                         "ilert app's push themselves")
                continue
            address = contact.get("to") or ""
            if kind != "email":
                address = "+" + address.replace("-", "").replace(" ", "").lstrip("+")
            contacts.append(Contact(contact["id"], kind, address))
        zone = item.get("timeZone") or ""
        if zone and not known_zone(zone):
            org.note("user", item["id"], item.get("fullName"), f"time zone {zone!r} is no IANA name: not set")
            zone = ""
        role = ROLES.get(str((item.get("role") or {}).get("name", "")).lower(), "responder")
        return UserSpec(item["id"], item.get("fullName") or "", item.get("username") or "", role, zone, contacts)

    # --- schedules -----------------------------------------------------------------------------

    def _schedule(self, org, item):
        now = clock.now()
        name = item.get("name") or item["id"]
        zone = item.get("timezone") or ""
        if not known_zone(zone):
            org.note("schedule", item["id"], name, f"time zone {zone!r} is no IANA name: schedule not imported")
            return None
        spec = ScheduleSpec(item["id"], name, zone, item.get("description") or "",
                            (item.get("ownerTeam") or {}).get("id"))
        if item.get("enabled") is False:
            org.note("schedule", item["id"], name, "disabled in Opsgenie; imported as a normal schedule")
        rotations = sorted(item.get("rotations") or [], key=lambda r: r.get("order", 0))
        for rotation in rotations:
            layer = self._rotation(org, spec, rotation, now)
            if layer is not None:
                spec.layers.append(layer)
        self._overrides(org, item, spec, rotations, now)
        if len(spec.layers) > 1:
            together = [p for p in self.vendor_timeline(item["id"], now, now + timedelta(days=30)) if len(p[2]) > 1]
            if together:
                org.note("schedule", item["id"], name,
                         f"rotations overlap (first at {together[0][0]:%Y-%m-%d %H:%M} UTC): Opsgenie pages everyone "
                         "on call at once, here the rotation listed last wins")
        return spec

    def _overrides(self, org, item, spec, rotations, now):
        """Overrides still to come that replace the whole schedule with one user."""
        for override in self.client.get(f"v2/schedules/{item['id']}/overrides").get("data") or []:
            end = instant(override["endDate"])
            if end <= now:
                continue
            scope = {r.get("id") for r in override.get("rotations") or []}
            if scope and scope != {r.get("id") for r in rotations}:
                org.note("schedule", item["id"], spec.name, f"override {override.get('alias')} replaces only some "
                         "rotations; overrides here replace the whole schedule: not imported")
                continue
            user = override.get("user") or {}
            if user.get("type", "user") != "user":
                org.note("schedule", item["id"], spec.name, f"override {override.get('alias')} names a "
                         f"{user.get('type')}: not imported")
                continue
            spec.overrides.append(OverrideSpec(override.get("alias") or override["startDate"], user["id"],
                                               instant(override["startDate"]), end))

    def _rotation(self, org, spec, rotation, now):
        name = rotation.get("name") or rotation.get("id")
        where = f"{spec.name} / {name}"
        end = instant(rotation["endDate"]) if rotation.get("endDate") else None
        if end is not None and end <= now:
            return None
        unit = UNITS.get(rotation.get("type"))
        if unit is None:
            org.note("schedule", spec.vendor_id, where, f"rotation type {rotation.get('type')!r}: not imported")
            return None
        users = []
        for participant in rotation.get("participants") or []:
            if participant.get("type") != "user":
                org.note("schedule", spec.vendor_id, where, f"a participant is a {participant.get('type')} "
                         "(only users take turns here): rotation not imported")
                return None
            users.append(participant["id"])
        restriction = rotation.get("timeRestriction") or {}
        windows = _windows(restriction)
        if windows is None:
            org.note("schedule", spec.vendor_id, where, f"time restriction {restriction.get('type')!r}: not imported")
            return None
        anchor = wall(instant(rotation["startDate"]), spec.timezone)
        return LayerSpec(rotation.get("id") or name, name, users, anchor, int(rotation.get("length") or 1), unit,
                         end, windows)

    # --- escalations ---------------------------------------------------------------------------

    def _policy(self, org, item):
        name = item.get("name") or item["id"]
        steps = {}  # minutes after the alert -> the level paged then
        for rule in item.get("rules") or []:
            _rule(org, item["id"], name, rule, steps)
        delays = sorted(steps)
        if delays and delays[0] > 0:
            org.note("policy", item["id"], name, f"the first rule waits {delays[0]} minutes; here the first level "
                     "pages at once")
        repeat = item.get("repeat") or {}
        count = int(repeat.get("count") or 0) if repeat else 0
        if count > 9:
            org.note("policy", item["id"], name, f"repeats {count} times; here at most 9")
            count = 9
        if repeat.get("resetRecipientStates") or repeat.get("closeAlertAfterAll"):
            org.note("policy", item["id"], name, "reset recipient states / close after all repeats: not available")
        levels = []
        for index, minutes in enumerate(delays):
            following = delays[index + 1] if index + 1 < len(delays) else minutes + int(repeat.get("waitInterval") or 0)
            timeout = following - minutes
            if timeout > MAX_TIMEOUT:
                org.note("policy", item["id"], name, f"waits {timeout} minutes at a level; here at most {MAX_TIMEOUT}")
                timeout = MAX_TIMEOUT
            steps[minutes].timeout_minutes = timeout
            levels.append(steps[minutes])
        return PolicySpec(item["id"], name, item.get("description") or "", count, levels)

    # --- the vendor's own view -----------------------------------------------------------------

    def vendor_timeline(self, schedule_id, start, end):
        days = max(1, (end - start).days + 1)
        body = self.client.get(f"v2/schedules/{schedule_id}/timeline",
                               {"date": iso(start), "interval": days, "intervalUnit": "days"})
        rotations = (((body.get("data") or {}).get("finalTimeline") or {}).get("rotations")) or []
        pieces = []
        for rotation in rotations:
            for period in rotation.get("periods") or []:
                recipient = period.get("recipient") or {}
                if recipient.get("type") == "user":
                    s, e = max(instant(period["startDate"]), start), min(instant(period["endDate"]), end)
                    if s < e:
                        pieces.append((s, e, frozenset([recipient["id"]])))
        return together(pieces)


def _hhmm(r, prefix):
    return f"{r.get(prefix + 'Hour', 0):02d}:{r.get(prefix + 'Min', 0):02d}"


def _windows(restriction):
    """A rotation's time restriction as our restriction windows ([]: none; None: not importable)."""
    windows = []
    if restriction.get("type") == "time-of-day":
        r = restriction.get("restriction") or {}
        windows.append({"type": "time_of_day", "start": _hhmm(r, "start"), "end": _hhmm(r, "end")})
    elif restriction.get("type") == "weekday-and-time-of-day":
        for r in restriction.get("restrictions") or []:
            windows.append({"type": "time_of_week", "start_day": r["startDay"].lower()[:3], "start": _hhmm(r, "start"),
                            "end_day": r["endDay"].lower()[:3], "end": _hhmm(r, "end")})
    elif restriction:
        return None
    if any(w["start"] == w["end"] and w.get("start_day") == w.get("end_day") for w in windows):
        return []  # a window of a whole day (or week) clips nothing
    return windows


def _delay_minutes(delay):
    amount = int(delay.get("timeAmount") or 0)
    return amount * {"hours": 60, "days": 1440}.get(delay.get("timeUnit"), 1)


def _rule(org, policy_id, name, rule, steps):
    """One escalation rule: its recipient joins the level of its delay (one level per delay)."""
    minutes = _delay_minutes(rule.get("delay") or {})
    if rule.get("condition") == "if-not-closed":
        org.note("policy", policy_id, name, "a rule escalates until the alert is closed; here levels "
                 "escalate until it is accepted")
    if rule.get("notifyType") not in (None, "default"):
        org.note("policy", policy_id, name, f"notifyType {rule.get('notifyType')!r} (next/previous on-call, "
                 "all members…): here the level pages whoever is on call now")
    level = steps.setdefault(minutes, LevelSpec(0))
    recipient = rule.get("recipient") or {}
    kind = recipient.get("type")
    if kind == "user":
        level.users.append(recipient["id"])
    elif kind == "schedule":
        level.schedules.append(recipient["id"])
    elif kind == "team":
        level.teams.append(recipient["id"])
        org.note("policy", policy_id, name, "a rule notifies a team (Opsgenie: through the team's own "
                 "routing); here the level pages the team's members")
    else:
        org.note("policy", policy_id, name, f"a rule notifies a {kind}: left out")
