"""Every change to connectors, connections, invocations and Slack links.

Credentials are validated here, encrypted on the model, and never returned: callers get names of
the credentials that are set (`Connector.credential_names`), never values.
"""

import logging
import uuid
from dataclasses import dataclass

from django.db import IntegrityError, transaction

from alerts.models import Incident
from ilert import clock, kick, netguard, secrets
from ilert.errors import Conflict, DomainError

from . import http, signing, targets, tasks
from .models import AUTOMATIC_EVENTS, Connection, ConnectionInvocation, Connector, Event, Kind, SlackIdentity
from .payload import snapshot
from .targets.base import clean_fields

log = logging.getLogger(__name__)


# --- connectors --------------------------------------------------------------------------------


def _target(kind):
    if kind not in Kind.values:
        raise DomainError(f"Must be one of {', '.join(Kind.values)}.", field="kind")
    return targets.get(kind)


def _clean_name(name):
    name = (name or "").strip()
    if not name:
        raise DomainError("A name is required.", field="name")
    if len(name) > 120:
        raise DomainError("At most 120 characters.", field="name")
    return name


def _with_defaults(fields, values):
    for f in fields:
        if f.name not in values and f.default is not None:
            values[f.name] = f.default
    return values


def _entered(value):
    """A credential value that was typed in: not empty, not the mask the dashboard shows."""
    return value not in ("", [], None, secrets.MASK)


def _merge_credentials(target, existing, given, *, moved=()):
    """Write-only semantics: a credential sent with a value replaces the stored one, sent empty
    ("" or [], or masked) keeps it, sent as null removes it. When `moved` (the destination settings
    that changed) is not empty, no stored credential is kept: each must be entered again or removed,
    since it was entered for the old destination and cannot be read back to check."""
    given = dict(given or {})
    removed = [k for k, v in given.items() if v is None]
    cleaned = clean_fields(target.credential_fields,
                           {k: v for k, v in given.items() if v is not None and v != secrets.MASK},
                           "credentials", partial=True)
    merged = {k: v for k, v in existing.items() if k not in removed}
    entered = {k: v for k, v in cleaned.items() if _entered(v)}
    if moved:
        for f in target.credential_fields:
            if merged.get(f.name) and f.name not in entered:
                changed = " and ".join(m.label for m in moved)
                remove = "" if f.required else " (or remove it)"
                raise DomainError(f"Enter the {f.label} again{remove}: the {changed} changed, and a stored "
                                  "credential is only sent where it was entered for.", field=f"credentials.{f.name}")
    merged.update(entered)
    for f in target.credential_fields:
        if f.required and not merged.get(f.name):
            raise DomainError("This field is required.", field=f"credentials.{f.name}")
    return merged


def _moved(target, old, new):
    """The destination settings (where credentials go) that differ between two sets of settings."""
    return [f for f in target.destination_fields() if (old.get(f.name) or "") != (new.get(f.name) or "")]


def create_connector(tenant, *, kind, name, settings=None, credentials=None, enabled=True):
    """A new connector. A webhook connector without signing secrets gets one generated; it is
    available once as `connector.generated_secret` (shown once, never again)."""
    target = _target(kind)
    name = _clean_name(name)
    settings = _with_defaults(target.settings_fields, clean_fields(target.settings_fields, settings, "settings"))
    creds = _merge_credentials(target, {}, credentials)
    generated = None
    if kind == Kind.WEBHOOK and not creds.get("signing_secrets"):
        generated = signing.new_secret()
        creds["signing_secrets"] = [generated]
    settings, creds = target.clean(settings, creds)
    connector = Connector(tenant=tenant, kind=kind, name=name, settings=settings, enabled=bool(enabled))
    connector.set_credentials(creds)
    try:
        with transaction.atomic():
            connector.save()
    except IntegrityError:
        raise DomainError("A connector with this name exists.", field="name") from None
    connector.generated_secret = generated
    return connector


def update_connector(connector, *, name=None, settings=None, credentials=None, enabled=None, kind=None):
    if kind is not None and kind != connector.kind:
        raise DomainError("The kind of a connector cannot change; create another connector.", field="kind")
    target = targets.get(connector.kind)
    if name is not None:
        connector.name = _clean_name(name)
    new_settings = connector.settings
    if settings is not None:
        cleaned = clean_fields(target.settings_fields, settings, "settings")
        new_settings = _with_defaults(target.settings_fields, cleaned)
    creds = connector.credentials
    moved = _moved(target, connector.settings, new_settings)
    if credentials is not None or moved:
        creds = _merge_credentials(target, creds, credentials, moved=moved)
    new_settings, creds = target.clean(new_settings, creds)
    connector.settings = new_settings
    connector.set_credentials(creds)
    if enabled is not None:
        connector.enabled = bool(enabled)
    connector.updated_at = clock.now()
    try:
        with transaction.atomic():
            connector.save()
    except IntegrityError:
        raise DomainError("A connector with this name exists.", field="name") from None
    return connector


def delete_connector(connector):
    connector.delete()


def masked_credentials(connector):
    """{name: "••••••••"} for every credential that is set: all the dashboard ever shows."""
    return {name: "••••••••" for name in connector.credential_names}


def test_connector(connector):
    """The "test connection" button: the target's check against the real system. Returns an
    Outcome; nothing is stored."""
    target = targets.get(connector.kind)
    try:
        credentials = connector.credentials
    except ValueError as exc:
        return targets.Outcome(False, str(exc))
    redactor = http.Redactor([credentials])
    session = http.session(redactor=redactor)
    ctx = targets.Context(connector=connector, settings=connector.settings, credentials=credentials,
                          http=session, webhook_id=f"msg_test_{uuid.uuid4().hex}")
    try:
        outcome = target.check(ctx)
    except targets.DeliveryError as exc:
        outcome = exc.outcome()
    except netguard.BlockedTarget as exc:
        outcome = targets.Outcome(False, f"Refused: {exc}")
    except Exception as exc:  # noqa: BLE001 - a bug in a target must not become a 500 on a button
        log.error("connection test of connector %s crashed: %s", connector.pk, type(exc).__name__)
        outcome = targets.Outcome(False, f"Failed: {type(exc).__name__}: {exc}")
    finally:
        session.close()
    outcome.message = redactor(outcome.message)
    return outcome


# --- connections -------------------------------------------------------------------------------


def _clean_events(events):
    events = list(events or [])
    wrong = [e for e in events if e not in AUTOMATIC_EVENTS]
    if wrong:
        raise DomainError(f"Unknown event {wrong[0]!r}; choose from {', '.join(AUTOMATIC_EVENTS)}.", field="events")
    return [e for e in AUTOMATIC_EVENTS if e in events]


def _clean_params(target, params, *, partial=False):
    cleaned = clean_fields(target.param_fields, params, "params", partial=partial)
    return target.clean_params(_with_defaults(target.param_fields, cleaned))


def create_connection(source, connector, *, action=None, trigger_mode=Connection.Trigger.AUTOMATIC, events=None,
                      params=None, name="", enabled=True):
    if connector.tenant_id != source.tenant_id:
        raise DomainError("Unknown connector.", field="connector")
    target = targets.get(connector.kind)
    action = action or target.default_action
    if action not in target.actions:
        raise DomainError(f"A {target.label} connector can: {', '.join(target.actions)}.", field="action")
    if trigger_mode not in Connection.Trigger.values:
        raise DomainError("Must be automatic or manual.", field="trigger_mode")
    events = _clean_events(target.default_events if events is None else events)
    if trigger_mode == Connection.Trigger.AUTOMATIC and not events:
        raise DomainError("Choose at least one event (or make the connection manual).", field="events")
    return Connection.objects.create(
        tenant_id=source.tenant_id, alert_source=source, connector=connector, name=(name or "").strip()[:120],
        action=action, trigger_mode=trigger_mode, events=events, params=_clean_params(target, params),
        enabled=bool(enabled),
    )


def update_connection(connection, **fields):
    target = targets.get(connection.connector.kind)
    if "connector" in fields and fields["connector"].pk != connection.connector_id:
        raise DomainError("Create a new connection to use another connector.", field="connector")
    if "alert_source" in fields and fields["alert_source"].pk != connection.alert_source_id:
        raise DomainError("A connection stays on its alert source.", field="alert_source")
    if "action" in fields and fields["action"] not in target.actions:
        raise DomainError(f"A {target.label} connector can: {', '.join(target.actions)}.", field="action")
    if "trigger_mode" in fields and fields["trigger_mode"] not in Connection.Trigger.values:
        raise DomainError("Must be automatic or manual.", field="trigger_mode")
    if "events" in fields:
        fields["events"] = _clean_events(fields["events"])
    if "params" in fields:
        fields["params"] = _clean_params(target, fields["params"])
    if "name" in fields:
        fields["name"] = (fields["name"] or "").strip()[:120]
    for key in ("name", "action", "trigger_mode", "events", "params", "enabled"):
        if key in fields:
            setattr(connection, key, fields[key])
    if connection.trigger_mode == Connection.Trigger.AUTOMATIC and not connection.events:
        raise DomainError("Choose at least one event (or make the connection manual).", field="events")
    connection.save()
    return connection


def delete_connection(connection):
    connection.delete()


# --- invocations (the outbox) ------------------------------------------------------------------


@dataclass
class Enqueue:
    """What to write for one incident event: one invocation per connection."""

    connections: list
    incident: Incident
    event: str
    message: str = ""
    actor: object = None
    via: str = ""
    by: object = None
    manual: bool = False
    now: object = None


def enqueue(connections, incident, event, *, message="", actor=None, via="", by=None, manual=False, now=None):
    """Write one pending invocation per connection (inside the caller's transaction) and kick the
    delivery task after commit. The incident is snapshotted now; retries send the same."""
    return enqueue_many([Enqueue(connections, incident, event, message, actor, via, by, manual, now)])


def enqueue_many(items):
    """`enqueue` for many incident events at once: one INSERT and one kick (the escalation engine's
    batches). Rows are written in the order given, so each connection delivers them in that order."""
    rows = []
    for item in items:
        now = item.now or clock.now()
        payload = snapshot(item.incident, item.event, message=item.message, actor=item.actor, via=item.via, at=now)
        rows += [
            ConnectionInvocation(
                tenant_id=item.incident.tenant_id, connection=connection, incident_id=item.incident.pk,
                event=item.event, manual=item.manual, requested_by=item.by, payload=payload, due_at=now,
                window_started_at=now, created_at=now,
            )
            for connection in item.connections
        ]
    rows = ConnectionInvocation.objects.bulk_create(rows)
    if rows:
        kick.after_commit(tasks.deliver, [row.pk for row in rows])
    return rows


def run_now(connection, incident, *, by=None):
    """Run a connection for an incident by hand (manual connections, or again for automatic ones)."""
    if incident.tenant_id != connection.tenant_id or incident.alert_source_id != connection.alert_source_id:
        raise DomainError("The incident is not from this connection's alert source.", field="incident")
    if not connection.enabled or not connection.connector.enabled:
        raise Conflict("This connection (or its connector) is disabled.")
    incident = Incident.objects.select_related("alert_source", "assigned_to", "accepted_by",
                                               "resolved_by").get(pk=incident.pk)
    who = by.display_name if by is not None else "ilert"
    with transaction.atomic():
        (row,) = enqueue([connection], incident, Event.MANUAL, message=f"Run by {who}", actor=by, via="manual",
                         by=by, manual=True)
    return row


def retry(invocation, *, by=None):
    """Send a failed invocation again now (same webhook-id), with a fresh 24-hour retry window."""
    now = clock.now()
    with transaction.atomic():
        updated = ConnectionInvocation.objects.filter(
            pk=invocation.pk, status__in=[ConnectionInvocation.Status.FAILED, ConnectionInvocation.Status.PENDING]
        ).update(status=ConnectionInvocation.Status.PENDING, due_at=now, window_started_at=now, finished_at=None,
                 deadline=None)
        if not updated:
            raise Conflict("Only failed or waiting invocations can be retried; this one is "
                           f"{invocation.get_status_display().lower()}.")
        kick.after_commit(tasks.deliver, [invocation.pk])
    invocation.refresh_from_db()
    return invocation


# --- Slack identities --------------------------------------------------------------------------


def link_slack_user(tenant, *, slack_user_id, user):
    slack_user_id = (slack_user_id or "").strip().upper()
    if not slack_user_id or not slack_user_id.isalnum() or len(slack_user_id) > 32:
        raise DomainError("A Slack member ID such as U0123ABCD (profile → ⋮ → Copy member ID).",
                          field="slack_user_id")
    if user.tenant_id != tenant.pk:
        raise DomainError("Unknown user.", field="user")
    try:
        with transaction.atomic():
            return SlackIdentity.objects.create(tenant=tenant, slack_user_id=slack_user_id, user=user)
    except IntegrityError:
        raise DomainError("This Slack user is already linked.", field="slack_user_id") from None


def unlink_slack_user(identity):
    identity.delete()

