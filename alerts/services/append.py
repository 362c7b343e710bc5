"""The hot path of ingest: an event for an incident that is already open, in one statement.

A noisy source repeats itself: most events land on an open incident and change only its counters
and its timeline. On PostgreSQL that is one `WITH … UPDATE … RETURNING, INSERT …` statement run on
its own (its own transaction when none is open): the UPDATE finds the open incident for the key,
checks in the same WHERE that the (perhaps cached) source is still what the caller holds (key,
status, mode, type, auto-resolve) and that no maintenance window is on, and the INSERT writes the
timeline entry for the row it updated. The UPDATE's row lock serialises it with every other change
of the incident, and PostgreSQL re-checks the WHERE on the newest row version, so an incident
resolved a moment earlier is not appended to: nothing is returned and ingest takes its full path
(which then opens a new incident). Anything unusual — maintenance, no open incident, a changed
source, SQLite — also takes the full path. An append is not announced (docs/architecture.md):
the reports find it by its event count (reports.rollups.behind_facts).
The statement is prepared once per connection (ilert/db/prepared.py): planning it cost more than
running it.

When no incident is open for the key, the statement draws the tenant's next incident number and
writes nothing else (numbering.py). The tenant's counter row stays locked until that transaction
commits, so a tenant's new incidents queued behind each other's disk flushes (at 170 new incidents/s
the statement averaged 2.9 ms in pg_stat_statements, nearly all of it waiting for that lock). Run on
its own (autocommit, as the Event API runs it), the draw's transaction therefore commits without
waiting for its WAL to reach the disk (`synchronous_commit` off for it alone). Nothing is lost by
it: the incident that uses the number commits durably afterwards, and that flush writes the log up
to there, the number's commit included; a crash before it loses an unused number, which numbering
allows (a gap, or the number drawn again: no incident holds it). Inside a caller's transaction
(inbound email and SMS, the heartbeat and uptime sweeps) the setting is left alone: there the same
transaction goes on to write the incident, which must be on disk before the caller answers.
"""

import json
from datetime import timedelta

from django.db import connections, router

from ilert.db.prepared import Statement

from ..models import AlertSource, Incident, IncidentLogEntry, LogKind, MaintenanceWindow
from . import numbering

# Columns an appended event neither reads nor writes (up to 64 KiB of details and JSON): not returned.
UNREAD = ("details", "links", "images", "custom_details", "labels", "summary")

_SQL = {}


def _sql(connection):
    """The statement, built once per database alias from the models' table and column names. The
    open statuses are written into it, not bound: a prepared statement's generic plan can then use
    the partial index of open incidents."""
    if connection.alias not in _SQL:
        quote = connection.ops.quote_name
        incident, source = Incident._meta, AlertSource._meta
        returned = [f for f in incident.concrete_fields if f.name not in UNREAD]
        is_open = "status IN ({})".format(", ".join(f"'{status}'" for status in Incident.OPEN))
        _SQL[connection.alias] = (
            [f.attname for f in returned],
            Statement("ilert_append", f"""WITH appended AS (
    UPDATE {quote(incident.db_table)} AS i
       SET event_count = i.event_count + 1, last_event_at = %(now)s,
           auto_resolve_at = COALESCE(%(auto_resolve_at)s, i.auto_resolve_at)
      FROM {quote(source.db_table)} AS s
     WHERE s.id = i.alert_source_id AND i.alert_source_id = %(source)s AND i.dedup_key = %(dedup_key)s
       AND i.{is_open} AND NOT i.in_maintenance AND {_current("s")}
       AND NOT EXISTS (SELECT 1 FROM {quote(MaintenanceWindow._meta.db_table)} AS m
                        WHERE m.alert_source_id = s.id AND m.start <= %(now)s AND m."end" > %(now)s)
    RETURNING {", ".join(f"i.{quote(f.column)}" for f in returned)}
), entry AS (
    INSERT INTO {quote(IncidentLogEntry._meta.db_table)} (tenant_id, incident_id, at, kind, via, message, data)
    SELECT tenant_id, id, %(now)s, %(kind)s, %(via)s, %(message)s, %(data)s::jsonb FROM appended
), was_open AS (
    SELECT EXISTS (SELECT 1 FROM {quote(incident.db_table)} WHERE alert_source_id = %(source)s
                   AND dedup_key = %(dedup_key)s AND {is_open}) AS yes
), is_current AS (
    SELECT EXISTS (SELECT 1 FROM {quote(source.db_table)} AS s WHERE s.id = %(source)s AND {_current("s")}
                   AND s.default_priority = %(priority)s
                   AND s.escalation_policy_id IS NOT DISTINCT FROM %(policy)s) AS yes
), numbered AS (
    {numbering.draw_sql(connection, "SELECT %(tenant)s, 1 WHERE NOT (SELECT yes FROM was_open) "
                                    "AND (SELECT yes FROM is_current)")}
), drawn AS (
    SELECT last_number,
           CASE WHEN %(own_transaction)s THEN set_config('synchronous_commit', 'off', true) END AS commit_mode
      FROM numbered
)
SELECT (SELECT yes FROM was_open), (SELECT yes FROM is_current),
       EXISTS (SELECT 1 FROM {quote(MaintenanceWindow._meta.db_table)} AS m
                WHERE m.alert_source_id = %(source)s AND m.start <= %(now)s AND m."end" > %(now)s),
       (SELECT last_number FROM drawn), (SELECT commit_mode FROM drawn), appended.*
  FROM (SELECT 1) AS one LEFT JOIN appended ON true"""),  # noqa: S608 - names from the models, values bound
        )
    return _SQL[connection.alias]


class Attempt:
    """What the append statement found: `incident`, the incident appended to (its UNREAD columns
    deferred), or None when the full path must decide; `open`, whether an incident for the key was
    open (when not, the full path need not look again); `maintenance`, whether a maintenance window
    is on, or None unless the source's row is still everything the caller's copy says, including
    what opening an incident reads (priority, policy): then the full path need not read it again;
    `number`, the tenant's next incident number, drawn (and committed) by this statement when no
    incident was open and the source is current, so that opening the incident holds no lock on the
    tenant's counter (a number drawn and not used is a gap, as numbering.py allows); `commit`, "off"
    when the draw's own transaction committed without waiting for the disk (see above), else None."""

    __slots__ = ("incident", "open", "maintenance", "number", "commit")

    def __init__(self, incident=None, open=True, maintenance=None, number=None, commit=None):  # noqa: A002
        self.incident, self.open, self.maintenance, self.number = incident, open, maintenance, number
        self.commit = commit


def _current(alias):
    """SQL: the source row `alias` is still what the caller's (perhaps cached) copy says."""
    return (f"(%(key_hash)s::text IS NULL OR {alias}.key_hash = %(key_hash)s) AND {alias}.status = %(status)s "
            f"AND {alias}.creation_mode = %(mode)s AND {alias}.integration_type = %(type)s "
            f"AND {alias}.auto_resolve_minutes IS NOT DISTINCT FROM %(auto_resolve_minutes)s")


def try_append(source, event, dedup_key, now):
    """Append `event` to the open incident for `dedup_key` in one statement (Attempt)."""
    using = router.db_for_write(Incident)
    connection = connections[using]
    if connection.vendor != "postgresql":
        return Attempt()
    auto = source.auto_resolve_minutes
    params = {
        "now": now, "source": source.pk, "dedup_key": dedup_key,
        "key_hash": getattr(source, "presented_key_hash", None), "status": source.status,
        "mode": source.creation_mode, "type": source.integration_type, "auto_resolve_minutes": auto,
        "auto_resolve_at": now + timedelta(minutes=auto) if auto else None,
        "kind": LogKind.EVENT, "via": event.via, "message": f"{event.event_type} event received",
        "data": json.dumps(event.for_timeline()),  # as the JSONField writes it, without its adapter's cost
        "priority": source.default_priority, "policy": source.escalation_policy_id, "tenant": source.tenant_id,
        "own_transaction": not connection.in_atomic_block,
    }
    names, statement = _sql(connection)
    with connection.cursor() as cursor:
        statement.execute(cursor, params)
        open_before, current, maintenance, number, commit, *row = cursor.fetchone()
    if row[0] is None:
        return Attempt(None, open_before, maintenance if current else None, number, commit)
    incident = Incident.from_db(using, names, row)
    incident.alert_source = source  # no second query for the source we already have
    return Attempt(incident)

