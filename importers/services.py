"""Importing an organisation from another on-call tool: the plan, the run, the record.

`run(tenant, adapter, dry_run=…)` reads the vendor (through the adapter, importers/vendors/) and
walks users, teams, schedules, policies and integrations in that order (each needs the ones
before). For each vendor object it decides create / update / skip (with the reason) from the
mapping table (importers.models.ImportedObject) and the digest of what the vendor says now:

- a dry run decides and changes nothing;
- a real run makes each object in its own transaction, through the owning app's services (the same
  validation and tenancy as the dashboard), and records the mapping in the same transaction, so a
  failure leaves that object untouched and the next object still runs;
- a second run finds every digest unchanged and changes nothing.

Users are matched by email: an existing user of the organisation is linked, a new one is invited
(they set their own password; we never set one). Contact methods are added unverified (the user
confirms them; the account's own address counts as confirmed, as everywhere in the product).
Everything not mapped exactly is a Note with its reason, in the plan and the report.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import timedelta

from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.db import transaction

from accounts import services as accounts
from accounts.models import Team, User
from alerts import services as alerts
from alerts.integrations import registry
from alerts.models import AlertSource
from escalation import services as escalation
from escalation.models import EscalationPolicy
from ilert import clock
from ilert.errors import DomainError
from notifications import services as notifications
from notifications.models import ContactMethod
from schedules import services as schedules
from schedules.models import Layer, Override, Schedule, Shift

from . import equivalence
from .models import ImportedObject
from .spec import KINDS, Note, digest

log = logging.getLogger(__name__)

COMPARE_DAYS = 30
PLANNED = object()  # a dry run's stand-in for an object the real run would create


@dataclass
class Step:
    action: str  # create, update, skip, fail
    kind: str
    vendor_id: str
    name: str
    reason: str = ""
    object_id: int | None = None
    paste: dict | None = None  # integrations: where to send events now

    def line(self):
        reason = f" ({self.reason})" if self.reason else ""
        return f"{self.action:6} {self.kind:14} {self.name or self.vendor_id}{reason}"


@dataclass
class Report:
    vendor: str
    dry_run: bool
    steps: list = field(default_factory=list)
    notes: list = field(default_factory=list)
    differences: dict = field(default_factory=dict)  # schedule name -> [equivalence.Difference]
    compared: list = field(default_factory=list)  # schedule names compared with the vendor's view
    retries: int = 0

    def count(self, action):
        return sum(1 for step in self.steps if step.action == action)

    @property
    def changes(self):
        return self.count("create") + self.count("update")

    def as_dict(self, with_keys=False):
        """For the dashboard job (JSON). Keys are left out unless asked: the alert source page shows them."""
        return {
            "vendor": self.vendor, "dry_run": self.dry_run,
            "steps": [{"action": s.action, "kind": s.kind, "vendor_id": s.vendor_id, "name": s.name,
                       "reason": s.reason, "object_id": s.object_id,
                       "paste": _stored_paste(s.paste, with_keys) if s.paste else None}
                      for s in self.steps],
            "notes": [vars(note) for note in self.notes],
            "compared": self.compared,
            "differences": {name: [d.line() for d in diffs] for name, diffs in self.differences.items()},
            "counts": {a: self.count(a) for a in ("create", "update", "skip", "fail")},
        }


def _stored_paste(paste, with_keys):
    """A paste for the job's report: without the key, and without a URL that holds it (the report is
    not encrypted; the alert source's page shows both)."""
    if with_keys:
        return dict(paste)
    return {"how": paste["how"], "url": paste["url"] if paste["key"] not in paste["url"] else ""}


def paste_for(source):
    """What to paste into the sending tool for an alert source: the URL and the key."""
    return registry.paste_for(source, settings.SITE_URL)


class Importer:
    def __init__(self, tenant, vendor, *, dry_run, by=None, progress=None):
        self.tenant, self.vendor, self.dry_run, self.by = tenant, vendor, dry_run, by
        self.report = Report(vendor=vendor, dry_run=dry_run)
        self.planned = set()
        self.progress = progress or (lambda done, total, label: None)

    # --- the mapping table -------------------------------------------------------------------

    def _row(self, kind, vendor_id):
        return ImportedObject.objects.filter(tenant=self.tenant, vendor=self.vendor, vendor_type=kind,
                                             vendor_id=str(vendor_id)).first()

    def existing(self, kind, vendor_id, model):
        row = self._row(kind, vendor_id)
        if row is None or row.content_type_id != ContentType.objects.get_for_model(model).pk:
            return row, None
        return row, model.objects.filter(tenant=self.tenant, pk=row.object_id).first()

    def record(self, kind, vendor_id, obj, dig=""):
        ImportedObject.objects.update_or_create(
            tenant=self.tenant, vendor=self.vendor, vendor_type=kind, vendor_id=str(vendor_id),
            defaults={"content_type": ContentType.objects.get_for_model(type(obj)), "object_id": obj.pk,
                      "digest": dig, "imported_at": clock.now()},
        )

    def forget(self, kind, vendor_ids):
        ImportedObject.objects.filter(tenant=self.tenant, vendor=self.vendor, vendor_type=kind,
                                      vendor_id__in=[str(v) for v in vendor_ids]).delete()

    def ref(self, kind, vendor_id, model):
        """Our object for a vendor id (a dry run also knows what it would create), or None."""
        if vendor_id is None:
            return None
        _row, obj = self.existing(kind, vendor_id, model)
        if obj is not None:
            return obj
        if self.dry_run and (kind, str(vendor_id)) in self.planned:
            return PLANNED
        return None

    # --- one object ----------------------------------------------------------------------------

    def step(self, action, kind, spec, reason="", obj=None, paste=None):
        step = Step(action, kind, str(spec.vendor_id), getattr(spec, "name", "") or "", reason,
                    getattr(obj, "pk", None), paste)
        self.report.steps.append(step)
        if action in ("create", "update", "skip") and (obj is not None or self.dry_run):
            self.planned.add((kind, str(spec.vendor_id)))
        return step

    def one(self, kind, spec, model, *, create, update, check=None):
        """create / update / skip one vendor object, in its own transaction."""
        row, obj = self.existing(kind, spec.vendor_id, model)
        dig = digest(spec)
        if obj is not None and row.digest == dig:
            return self.step("skip", kind, spec, "unchanged since the last import", obj)
        action = "update" if obj is not None else "create"
        problem = check() if check else None
        if problem:
            return self.step("fail", kind, spec, problem)
        if self.dry_run:
            return self.step(action, kind, spec, "changed at the vendor" if action == "update" else "")
        try:
            with transaction.atomic():
                obj = update(obj) if obj is not None else create()
                self.record(kind, spec.vendor_id, obj, dig)
        except DomainError as exc:
            return self.step("fail", kind, spec, exc.message)
        return self.step(action, kind, spec, "changed at the vendor" if action == "update" else "", obj)

    # --- users ---------------------------------------------------------------------------------

    def user(self, spec):
        email = (spec.email or "").strip().lower()
        if not email:
            self.report.notes.append(Note("user", spec.vendor_id, spec.name,
                                          "no email address: users are matched and invited by email"))
            return self.step("fail", "user", spec, "no email address: not mappable")
        row, obj = self.existing("user", spec.vendor_id, User)
        dig = digest(spec)
        if obj is None:
            here = User.objects.filter(email__iexact=email).first()
            if here is not None and here.tenant_id != self.tenant.pk:
                return self.step("fail", "user", spec, "this email belongs to a user of another organisation")
            if here is not None:
                if not self.dry_run:
                    self.record("user", spec.vendor_id, here, dig)
                step = self.step("skip", "user", spec, "already here with this email: linked, left as it is", here)
                self.planned.add(("user", str(spec.vendor_id)))
                self.contacts(spec, here)
                return step
        if obj is not None and row.digest == dig:
            self.step("skip", "user", spec, "unchanged since the last import", obj)
            return self.contacts(spec, obj)
        if self.dry_run:
            self.step("update" if obj else "create", "user", spec, "" if obj else "invited by email")
            return self.contacts(spec, obj or PLANNED)
        try:
            with transaction.atomic():
                if obj is None:
                    obj = accounts.invite_user(self.tenant, email=email, name=spec.name[:120], role=spec.role,
                                               invited_by=self.by)
                    action, reason = "create", "invited by email"
                else:
                    action, reason = "update", "changed at the vendor"
                if obj.invitation_pending:  # never touch an account somebody already uses
                    fields = {"name": spec.name[:120], **({"timezone": spec.timezone} if spec.timezone else {})}
                    accounts.update_user(obj, by=obj, **fields)
                self.record("user", spec.vendor_id, obj, dig)
        except DomainError as exc:
            return self.step("fail", "user", spec, exc.message)
        self.step(action, "user", spec, reason, obj)
        return self.contacts(spec, obj)

    def contacts(self, spec, user):
        for contact in spec.contacts:
            contact_spec = _Named(contact.vendor_id, f"{spec.name}: {contact.kind} {contact.address}")
            own = contact.kind == "email" and contact.address.lower() == (spec.email or "").lower()
            unverified = "confirmed (the account's own address)" if own else "unverified until the user confirms it"
            if user is PLANNED:
                self.step("create", "contact_method", contact_spec, unverified)
                continue
            row, method = self.existing("contact_method", contact.vendor_id, ContactMethod)
            if method is None:
                method = ContactMethod.objects.filter(user=user, kind=contact.kind).filter(
                    address__iexact=contact.address).first()
                if method is not None:
                    if not self.dry_run:
                        self.record("contact_method", contact.vendor_id, method)
                    self.step("skip", "contact_method", contact_spec, "the user has it already", method)
                    continue
            else:
                self.step("skip", "contact_method", contact_spec, "imported before", method)
                continue
            if self.dry_run:
                self.step("create", "contact_method", contact_spec, unverified)
                continue
            try:
                with transaction.atomic():
                    method = notifications.add_contact_method(user, kind=contact.kind, address=contact.address,
                                                              send_code=False)
                    self.record("contact_method", contact.vendor_id, method)
            except DomainError as exc:
                self.step("fail", "contact_method", contact_spec, exc.message)
                continue
            self.step("create", "contact_method", contact_spec,
                      "confirmed (the account's own address)" if method.is_verified
                      else "unverified until the user confirms it", method)

    # --- teams ---------------------------------------------------------------------------------

    def _users(self, vendor_ids):
        found, missing = [], []
        for vendor_id in vendor_ids:
            user = self.ref("user", vendor_id, User)
            (found if user is not None else missing).append(user if user is not None else vendor_id)
        return found, missing

    def team(self, spec):
        members, missing = self._users(spec.members)
        for vendor_id in missing:
            self.report.notes.append(Note("team", spec.vendor_id, spec.name,
                                          f"member {vendor_id} was not imported, so is not a member here"))
        real = [m for m in members if m is not PLANNED]
        return self.one(
            "team", spec, Team,
            create=lambda: accounts.create_team(self.tenant, name=spec.name[:120], description=spec.description,
                                                members=real),
            update=lambda team: accounts.update_team(team, name=spec.name[:120], description=spec.description,
                                                     members=real),
        )

    # --- schedules -----------------------------------------------------------------------------

    def schedule(self, spec):
        def check():
            for layer in spec.layers:
                _users, missing = self._users(layer.users)
                if missing:
                    return (f"layer {layer.name!r} rotates user(s) {', '.join(missing)} who were not imported; "
                            "leaving them out would shift every later turn")
            for override in spec.overrides + spec.shifts:
                if self.ref("user", override.user, User) is None:
                    return f"an override or shift names user {override.user}, who was not imported"
            return None

        team = self.ref("team", spec.team, Team) if spec.team else None
        team = None if team is PLANNED else team

        def fill(schedule):
            for position, layer in enumerate(spec.layers):
                users, _missing = self._users(layer.users)
                made = schedules.create_layer(
                    schedule, users=users, rotation_start=layer.rotation_start, length_count=layer.length_count,
                    length_unit=layer.length_unit, name=layer.name, end=layer.end,
                    restrictions=layer.restrictions, position=position)
                self.record("layer", f"{spec.vendor_id}/{layer.vendor_id}", made)
            for override in spec.overrides:
                made = schedules.create_override(schedule, user=self.ref("user", override.user, User),
                                                 start=override.start, end=override.end)
                self.record("override", f"{spec.vendor_id}/{override.vendor_id}", made)
            for shift in spec.shifts:
                made = schedules.create_shift(schedule, user=self.ref("user", shift.user, User),
                                              start=shift.start, end=shift.end)
                self.record("shift", f"{spec.vendor_id}/{shift.vendor_id}", made)
            return schedule

        def create():
            schedule = schedules.create_schedule(self.tenant, name=spec.name[:120], timezone=spec.timezone,
                                                 description=spec.description, team=team, kind=spec.kind)
            return fill(schedule)

        def update(schedule):
            # The vendor's rules replace what the last import made (layers and overrides made here stay).
            prefix = f"{spec.vendor_id}/"
            rows = ImportedObject.objects.filter(tenant=self.tenant, vendor=self.vendor,
                                                 vendor_id__startswith=prefix,
                                                 vendor_type__in=("layer", "override", "shift"))
            for row in rows:
                model = {"layer": Layer, "override": Override, "shift": Shift}[row.vendor_type]
                model.objects.filter(tenant=self.tenant, schedule=schedule, pk=row.object_id).delete()
            rows.delete()
            schedules.update_schedule(schedule, name=spec.name[:120], timezone=spec.timezone,
                                      description=spec.description, team=team)
            return fill(schedule)

        return self.one("schedule", spec, Schedule, create=create, update=update, check=check)

    # --- escalation policies -------------------------------------------------------------------

    def policy(self, spec):
        def targets(level):
            found = {"users": [], "teams": [], "schedules": []}
            for name, kind, model in (("users", "user", User), ("teams", "team", Team),
                                      ("schedules", "schedule", Schedule)):
                for vendor_id in getattr(level, name):
                    obj = self.ref(kind, vendor_id, model)
                    if obj is None:
                        raise LookupError(f"level targets {kind} {vendor_id}, which was not imported")
                    found[name].append(obj)
            return found

        def check():
            try:
                for level in spec.levels:
                    targets(level)
            except LookupError as exc:
                return str(exc)
            return None

        def levels():
            return [{"timeout_minutes": level.timeout_minutes, "notify_mode": level.notify_mode, **targets(level)}
                    for level in spec.levels]

        return self.one(
            "policy", spec, EscalationPolicy, check=check,
            create=lambda: escalation.create_policy(self.tenant, name=spec.name[:120], description=spec.description,
                                                    repeat_count=spec.repeat_count, levels=levels()),
            update=lambda policy: escalation.update_policy(policy, name=spec.name[:120],
                                                           description=spec.description,
                                                           repeat_count=spec.repeat_count, levels=levels()),
        )

    # --- integrations --------------------------------------------------------------------------

    def integration(self, spec):
        policy = self.ref("policy", spec.policy, EscalationPolicy) if spec.policy else None
        if spec.policy and policy is None:
            self.report.notes.append(Note("integration", spec.vendor_id, spec.name,
                                          f"its escalation policy {spec.policy} was not imported: it pages nobody "
                                          "until one is chosen"))
        policy = None if policy is PLANNED else policy
        step = self.one(
            "integration", spec, AlertSource,
            create=lambda: alerts.create_alert_source(self.tenant, name=spec.name[:120],
                                                      integration_type=spec.integration_type,
                                                      escalation_policy=policy),
            update=lambda source: alerts.update_alert_source(source, name=spec.name[:120],
                                                             escalation_policy=policy),
        )
        if step.object_id:
            step.paste = paste_for(AlertSource.objects.get(pk=step.object_id))
        return step

    # --- equivalence ---------------------------------------------------------------------------

    def compare(self, adapter, specs, now):
        start = now.replace(microsecond=0)  # vendors take whole seconds: compare the window they answer for
        end = start + timedelta(days=COMPARE_DAYS)
        users = {row.vendor_id: row.object_id for row in ImportedObject.objects.filter(
            tenant=self.tenant, vendor=self.vendor, vendor_type="user")}
        for spec in specs:
            _row, schedule = self.existing("schedule", spec.vendor_id, Schedule)
            if schedule is None:
                continue
            theirs = adapter.vendor_timeline(spec.vendor_id, start, end)
            self.report.compared.append(schedule.name)
            self.report.differences[schedule.name] = equivalence.compare(
                schedule, theirs, start, end, users, vendor=adapter.label)


@dataclass
class _Named:
    vendor_id: str
    name: str


def run(tenant, adapter, *, dry_run=True, only=KINDS, by=None, progress=None, compare=True):
    """Read the vendor, plan, and (unless `dry_run`) import. Returns the Report."""
    only = [kind for kind in KINDS if kind in only]
    progress = progress or (lambda done, total, label: None)
    progress(0, 1, "reading the vendor's API")
    organisation = adapter.fetch(only)
    importer = Importer(tenant, adapter.vendor, dry_run=dry_run, by=by)
    importer.report.notes.extend(organisation.notes)
    work = [(kind, spec) for kind in only for spec in getattr(organisation, kind)]
    handlers = {"users": importer.user, "teams": importer.team, "schedules": importer.schedule,
                "policies": importer.policy, "integrations": importer.integration}
    for done, (kind, spec) in enumerate(work):
        progress(done, len(work), f"{kind}: {spec.name}")
        handlers[kind](spec)
    if compare and "schedules" in only:
        progress(len(work), len(work), "comparing who is on call with the vendor")
        importer.compare(adapter, organisation.schedules, clock.now())
    importer.report.retries = adapter.client.retries_done
    progress(len(work), len(work), "done")
    return importer.report
