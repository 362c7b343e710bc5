"""The escalation engine's door: `notify(incident, user, round_tag=…)` writes outbox rows inside the
caller's transaction (no I/O) and kicks the dispatch task after commit. Pages stop when the incident
is accepted or resolved (`cancel_pending`, run by the incident_changed receiver)."""

import hashlib
from dataclasses import dataclass
from datetime import timedelta

from django.db import transaction

from alerts import services as alert_services
from alerts.models import LogKind
from ilert import bulk, clock
from ilert import kick as kicks

from .. import channels
from ..models import ContactMethod, Notification, NotificationRule, new_tokens
from . import reply_codes
from .rules import steps_for


def key(*parts):
    """A dedup key from its parts (hashed when it would pass 255 characters)."""
    joined = ":".join(str(p) for p in parts)
    return joined if len(joined) <= 255 else joined[:190] + ":" + hashlib.sha256(joined.encode()).hexdigest()


def kick(ids):
    """Send these rows as soon as the transaction commits (the sweeper is the safety net)."""
    if ids:
        from .. import tasks  # cycle: tasks → engine → services (the engine's fallback kicks through here)

        kicks.after_commit(tasks.send, ids)


def _describe(steps):
    parts = []
    for step in steps:
        when = "now" if step.delay == 0 else f"after {step.delay} min"
        parts.append(f"{channels.get(step.channel).word} {when}")
    return ", ".join(parts)


def notify(incident, user, *, round_tag: str, reason: str = "") -> list[Notification]:
    """Page `user` about `incident` by each step of their rules for its priority (or the defaults).

    Writes outbox rows in the caller's transaction — no I/O — and kicks dispatch after commit. Rows
    are unique per (incident, user, rule step, round_tag): calling again with the same round_tag
    pages nobody twice (two escalation levels in one round naming the same user → one page).
    Returns the rows it created ([] when everything was already there).
    """
    pks = notify_many([(incident, user, round_tag, reason)])
    return list(Notification.objects.filter(pk__in=pks).order_by("pk"))


def notify_many(requests) -> list[int]:
    """`notify` for many (incident, user, round_tag, reason) at once, with a constant number of
    queries (the escalation engine pages a whole batch of incidents this way). Returns the ids of
    the rows it created."""
    with transaction.atomic():  # all or none (a savepoint inside the caller's transaction)
        return _notify_many(requests)


def _notify_many(requests):
    requests = [(i, u, r, why) for i, u, r, why in requests
                if u.tenant_id == i.tenant_id and u.is_active and i.is_open]
    if not requests:
        return []
    now = clock.now()
    groups, rows = _plan_rows(requests, now)
    _assign_reply_codes(groups)
    for row, token in zip(rows, new_tokens(len(rows)), strict=True):
        row["token"] = token
    # One INSERT; a row already written (by an earlier call, or a concurrent twin that commits) is
    # skipped, so nobody is paged twice for the same step.
    for row, pk in zip(rows, bulk.insert(Notification, rows, skip_existing="dedup_key"), strict=True):
        row["id"] = pk
    entries = []
    for incident, plan, mine in groups.values():
        written = [row for row in mine if row["id"] is not None]
        if written:
            entries.append((incident, LogKind.NOTIFICATION, plan.message(written), "notifications",
                            {**plan.data, "notifications": [row["id"] for row in written]}, None))
    alert_services.log_many(entries)
    kick([row["id"] for row in rows if row["id"] is not None and row["due_at"] <= now])
    return [row["id"] for row in rows if row["id"] is not None]


def _rules_and_methods(user_ids):
    """{user id: rules by delay}, {user id: contact methods by age}: two queries for the batch."""
    rules, methods = {}, {}
    for rule in (NotificationRule.objects.filter(user_id__in=user_ids).select_related("contact_method")
                 .order_by("delay_minutes", "id")):
        rules.setdefault(rule.user_id, []).append(rule)
    for method in ContactMethod.objects.filter(user_id__in=user_ids).order_by("created_at", "id"):
        methods.setdefault(method.user_id, []).append(method)
    return rules, methods


def _plan_rows(requests, now):
    """{(incident, user, plan key): (incident, plan, its rows)} and all rows, in order.

    What a page looks like depends on (user, priority, round, reason) only: worked out once per such
    group, so a storm of thousands of incidents costs one plan and a key per row (docs/architecture.md §4)."""
    rules, methods = _rules_and_methods({u.pk for _, u, _, _ in requests})
    plans, groups, rows = {}, {}, []
    for incident, user, round_tag, reason in requests:
        plan_key = (user.pk, incident.priority, round_tag, reason)
        plan = plans.get(plan_key)
        if plan is None:
            plan = plans[plan_key] = _Plan.make(user, incident.priority, round_tag, reason, now,
                                                rules.get(user.pk, []), methods.get(user.pk, []))
        group = (incident.pk, user.pk, plan_key)
        if group in groups:  # asked twice in one call: once is enough
            continue
        mine = []
        groups[group] = (incident, plan, mine)
        for template in plan.rows:
            row = template.copy()
            row["tenant_id"], row["incident_id"] = incident.tenant_id, incident.pk
            row["dedup_key"] = key("page", incident.pk, user.pk, row["step"], round_tag)
            mine.append(row)
            rows.append(row)
    return groups, rows


def _assign_reply_codes(groups):
    """Reply codes are what an SMS page asks to answer with ("Reply 3a"): only pages with a step on
    a channel that uses them need one (every row of the pair gets it, so a later step or round says
    the same code)."""
    texted = {(user_id, incident_id) for (incident_id, user_id, _), (_, plan, _) in groups.items() if plan.texts}
    codes = reply_codes.assign(texted) if texted else {}
    for (incident_id, user_id, _), (_, _, mine) in groups.items():
        for row in mine:
            row["reply_code"] = codes.get((user_id, incident_id))


@dataclass
class _Plan:
    """The outbox rows (less what differs per incident) and the timeline text of one kind of page."""

    rows: list
    steps: list
    headline: str  # "Paging Rita"
    tail: str  # " (escalation level 1: direct)", and a warning if any
    data: dict
    texts: bool  # a step on a channel that answers by reply code (SMS)
    everything: str = ""  # the text when every step was written (most of the time: built once)

    @classmethod
    def make(cls, user, priority, round_tag, reason, now, rules, methods):
        steps, warning = steps_for(user, priority, rules=rules, methods=methods)
        rows = [{"kind": Notification.Kind.PAGE, "user_id": user.pk,
                 "contact_method_id": step.contact_method.pk if step.contact_method else None,
                 "channel": step.channel, "address": step.address, "step": step.key, "step_delay": step.delay,
                 "round_tag": round_tag[:64], "reason": (reason or "")[:255],
                 "due_at": now + timedelta(minutes=step.delay)} for step in steps]
        tail = f" ({reason})" if reason else ""
        data = {"user": user.pk, "round": round_tag}
        if warning:  # e.g. no rules: said in the same entry (one row per page in a storm)
            tail += f". ⚠ {warning}"
            data["warning"] = warning
        plan = cls(rows, steps, f"Paging {user.display_name}", tail, data,
                   texts=any(channels.get(step.channel).reply_codes for step in steps))
        plan.everything = plan._text(steps)
        return plan

    def message(self, written):
        """What the timeline says for the rows written (not those that existed already)."""
        if len(written) == len(self.rows):
            return self.everything
        keys = {row["step"] for row in written}
        return self._text([step for step in self.steps if step.key in keys])

    def _text(self, steps):
        return f"{self.headline}: {_describe(steps)}{self.tail}"


def cancel_pending(incident, reason):
    """Cancel every page of the incident that has not gone out yet. Returns how many."""
    count = Notification.objects.filter(
        incident=incident, kind=Notification.Kind.PAGE, status=Notification.Status.PENDING
    ).update(status=Notification.Status.CANCELLED, error=f"cancelled: {reason}"[:500])
    if count:
        alert_services.log(incident, LogKind.NOTIFICATION,
                           f"{count} pending notification{'s' if count != 1 else ''} cancelled: {reason}",
                           via="notifications")
    return count
