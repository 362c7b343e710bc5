"""PagerDuty REST API v2 (https://api.pagerduty.com): users with contact methods, teams and their
members, schedules with layers, restrictions and overrides, escalation policies, services with
their integrations; and the final schedule (`GET /schedules/{id}?since&until`) for the check.

Reading of the API (developer.pagerduty.com, "Schedules", "Escalation Policies"):
- a layer's turns start at `rotation_virtual_start` and last `rotation_turn_length_seconds`; the
  layer is in force from `start` to `end`; handoffs keep their wall-clock time in the schedule's
  zone across DST (as ours do);
- restrictions clip a layer to `daily_restriction` / `weekly_restriction` windows
  (`start_time_of_day`, `duration_seconds`, `start_day_of_week` 1 = Monday);
- `schedule_layers` lists the highest-priority layer first (the one shown on top in PagerDuty);
- `num_loops` repeats the policy; a rule's `escalation_delay_in_minutes` is its own timeout.
"""

from datetime import timedelta

from ilert import clock

from ..client import Client, offset_pages
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
from .common import instant, iso, known_zone, length_from_seconds, wall, window

ROLES = {"owner": "admin", "admin": "admin", "user": "responder", "limited_user": "responder",
         "observer": "stakeholder", "read_only_user": "stakeholder", "read_only_limited_user": "stakeholder",
         "restricted_access": "stakeholder"}
CONTACT_KINDS = {"email_contact_method": "email", "phone_contact_method": "voice", "sms_contact_method": "sms"}
# Integrations by what the sender speaks: PagerDuty Events API v2 senders (Alertmanager's
# pagerduty_configs, Grafana's PagerDuty contact point, …) keep speaking it to our endpoint.
INTEGRATIONS = {"events_api_v2_inbound_integration": "pagerduty", "generic_email_inbound_integration": "email",
                "email_inbound_integration": "email"}
OVERRIDE_DAYS = 90
MAX_TIMEOUT = 1440


class PagerDuty:
    vendor, label = "pagerduty", "PagerDuty"
    default_base_url = "https://api.pagerduty.com"

    def __init__(self, api_key, base_url=None, *, sleep=None):
        headers = {"Authorization": f"Token token={api_key}", "Accept": "application/vnd.pagerduty+json;version=2"}
        kwargs = {"sleep": sleep} if sleep else {}
        self.client = Client(base_url or self.default_base_url, headers, **kwargs)

    def fetch(self, only):
        org = Organisation()
        if "users" in only:
            org.users = [self._user(org, item) for item in offset_pages(self.client, "users", "users",
                                                                          {"include[]": "contact_methods"})]
        if "teams" in only:
            for item in offset_pages(self.client, "teams", "teams"):
                members = [m["user"]["id"] for m in offset_pages(self.client, f"teams/{item['id']}/members", "members")]
                org.teams.append(TeamSpec(item["id"], item.get("name") or item["id"], item.get("description") or "",
                                          members))
        if "schedules" in only:
            for item in offset_pages(self.client, "schedules", "schedules"):
                spec = self._schedule(org, item["id"])
                if spec is not None:
                    org.schedules.append(spec)
        if "policies" in only:
            for item in offset_pages(self.client, "escalation_policies", "escalation_policies"):
                org.policies.append(self._policy(org, item))
        if "integrations" in only:
            for service in offset_pages(self.client, "services", "services", {"include[]": "integrations"}):
                self._integrations(org, service)
        return org

    # --- users ---------------------------------------------------------------------------------

    def _user(self, org, item):
        methods = item.get("contact_methods") or []
        if any(str(m.get("type", "")).endswith("_reference") for m in methods):
            methods = self.client.get(f"users/{item['id']}/contact_methods").get("contact_methods") or []
        contacts = []
        for method in methods:
            kind = CONTACT_KINDS.get(method.get("type"))
            if kind is None:
                org.note("contact_method", method.get("id"), item.get("name"),
                         f"{method.get('type')} ({method.get('label') or ''}) has no counterpart here: the user "
                         "registers the ilert app's push themselves")
                continue
            address = method.get("address") or ""
            if kind != "email":
                address = f"+{method.get('country_code') or ''}{address}".replace(" ", "")
            contacts.append(Contact(method["id"], kind, address))
        zone = item.get("time_zone") or ""
        if zone and not known_zone(zone):
            org.note("user", item["id"], item.get("name"), f"time zone {zone!r} is no IANA name: not set")
            zone = ""
        return UserSpec(item["id"], item.get("name") or "", item.get("email") or "",
                        ROLES.get(item.get("role"), "responder"), zone, contacts)

    # --- schedules -----------------------------------------------------------------------------

    def _schedule(self, org, schedule_id):
        now = clock.now()
        item = self.client.get(f"schedules/{schedule_id}").get("schedule") or {}
        name = item.get("name") or schedule_id
        zone = item.get("time_zone") or ""
        if not known_zone(zone):
            org.note("schedule", schedule_id, name, f"time zone {zone!r} is no IANA name: schedule not imported")
            return None
        spec = ScheduleSpec(schedule_id, name, zone, item.get("description") or "")
        teams = item.get("teams") or []
        if teams:
            spec.team = teams[0]["id"]
            if len(teams) > 1:
                org.note("schedule", schedule_id, name, "belongs to several teams; here to the first only")
        for layer in reversed(item.get("schedule_layers") or []):  # lowest priority first
            mapped = self._layer(org, spec, layer, now)
            if mapped is not None:
                spec.layers.append(mapped)
        since, until = iso(now), iso(now + timedelta(days=OVERRIDE_DAYS))
        for override in offset_pages(self.client, f"schedules/{schedule_id}/overrides", "overrides",
                                     {"since": since, "until": until}):
            end = instant(override["end"])
            if end > now:
                spec.overrides.append(OverrideSpec(override["id"], override["user"]["id"],
                                                   instant(override["start"]), end))
        return spec

    def _layer(self, org, spec, layer, now):
        name = layer.get("name") or layer.get("id")
        where = f"{spec.name} / {name}"
        end = instant(layer["end"]) if layer.get("end") else None
        if end is not None and end <= now:
            return None  # a layer of the past: PagerDuty keeps them, nobody is on call through them
        length = length_from_seconds(int(layer.get("rotation_turn_length_seconds") or 0))
        if length is None:
            org.note("schedule", spec.vendor_id, where, f"turns of {layer.get('rotation_turn_length_seconds')} s "
                     "are no whole number of hours: layer not imported")
            return None
        count, unit = length
        users = [entry["user"]["id"] for entry in layer.get("users") or []]
        anchor = wall(instant(layer["rotation_virtual_start"]), spec.timezone)
        starts = wall(instant(layer["start"]), spec.timezone) if layer.get("start") else anchor
        step = timedelta(**{unit: count})
        if starts > anchor and users:
            # Ours has no separate "in force from": start at the first handoff from then on, with
            # the user whose turn it is then first.
            turns = -((anchor - starts) // step)
            anchor += turns * step
            users = users[turns % len(users):] + users[:turns % len(users)]
            if anchor != starts and anchor > wall(now, spec.timezone):
                org.note("schedule", spec.vendor_id, where,
                         f"the layer starts at {starts:%Y-%m-%d %H:%M}, between two handoffs: here it covers "
                         f"nobody until the next handoff at {anchor:%Y-%m-%d %H:%M}")
        restrictions = []
        for item in layer.get("restrictions") or []:
            restriction = self._restriction(org, spec, where, item)
            if restriction is None:
                return None
            restrictions.append(restriction)
        if "all" in restrictions:  # one window covers all the time: the union clips nothing
            restrictions = []
        return LayerSpec(layer.get("id") or name, name, users, anchor, count, unit, end, restrictions)

    def _restriction(self, org, spec, where, item):
        kind = item.get("type")
        duration = int(item.get("duration_seconds") or 0)
        hh, mm, *rest = (str(item.get("start_time_of_day") or "00:00:00").rstrip("Z").split(":") + ["0"])[:3]
        start = int(hh) * 60 + int(mm)
        if duration % 60 or int(float(rest[0] or 0)):
            org.note("schedule", spec.vendor_id, where, "a restriction not on whole minutes: layer not imported")
            return None
        minutes = duration // 60
        if kind == "daily_restriction":
            return "all" if minutes >= 1440 else window(start, minutes)
        if kind == "weekly_restriction":
            if minutes >= 7 * 1440:
                return "all"
            return window(start, minutes, int(item.get("start_day_of_week") or 1) - 1)
        org.note("schedule", spec.vendor_id, where, f"unknown restriction type {kind!r}: layer not imported")
        return None

    # --- escalation policies -------------------------------------------------------------------

    def _policy(self, org, item):
        name = item.get("name") or item["id"]
        loops = int(item.get("num_loops") or 0)
        if loops > 9:
            org.note("policy", item["id"], name, f"repeats {loops} times; here at most 9")
            loops = 9
        levels = []
        for number, rule in enumerate(item.get("escalation_rules") or [], start=1):
            delay = int(rule.get("escalation_delay_in_minutes") or 0)
            if delay > MAX_TIMEOUT:
                org.note("policy", item["id"], name,
                         f"level {number} waits {delay} minutes; here at most {MAX_TIMEOUT}")
                delay = MAX_TIMEOUT
            level = LevelSpec(delay)
            strategy = (rule.get("escalation_rule_assignment_strategy") or {}).get("type")
            if strategy == "round_robin":
                level.notify_mode = "round_robin"
                org.note("policy", item["id"], name,
                         f"level {number} is round robin: PagerDuty gives each new incident to the next target; "
                         "here each escalation round of an incident pages the next target (first round: the first)")
            for target in rule.get("targets") or []:
                kind = str(target.get("type", "")).removesuffix("_reference")
                if kind == "user":
                    level.users.append(target["id"])
                elif kind == "schedule":
                    level.schedules.append(target["id"])
                else:
                    org.note("policy", item["id"], name, f"level {number} targets a {kind}: left out")
            levels.append(level)
        if item.get("on_call_handoff_notifications") not in (None, "if_has_services"):
            org.note("policy", item["id"], name,
                     "on-call handoff notifications are set per user here (shift reminders)")
        return PolicySpec(item["id"], name, item.get("description") or "", loops, levels)

    # --- services and integrations -------------------------------------------------------------

    def _integrations(self, org, service):
        policy = (service.get("escalation_policy") or {}).get("id")
        for integration in service.get("integrations") or []:
            kind = INTEGRATIONS.get(str(integration.get("type", "")).removesuffix("_reference"))
            name = f"{service.get('name')}: {integration.get('summary') or integration.get('name') or 'integration'}"
            if kind is None:
                org.note("integration", integration.get("id"), name,
                         f"{integration.get('type')} has no compatible alert source here (Events API v2 and email "
                         "are imported)")
                continue
            org.integrations.append(IntegrationSpec(integration["id"], name[:120], kind, policy))

    # --- the vendor's own view -----------------------------------------------------------------

    def vendor_timeline(self, schedule_id, start, end):
        body = self.client.get(f"schedules/{schedule_id}", {"since": iso(start), "until": iso(end), "time_zone": "UTC"})
        entries = ((body.get("schedule") or {}).get("final_schedule") or {}).get("rendered_schedule_entries") or []
        return [(instant(e["start"]), instant(e["end"]), frozenset([e["user"]["id"]]))
                for e in entries if e.get("user")]
