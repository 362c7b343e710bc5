"""ilert/db/operations.py: a foreign key's index dropped without touching its constraint, and the
queries by tenant of the tables whose tenant index a composite one covers still answered from an
index (the timeline's and the delivery attempts' are read by incident and notification only)."""

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from alerts.models import Incident, IncidentLogEntry
from connectors.models import ConnectionInvocation
from notifications.models import DeliveryAttempt, Notification
from reports.models import IncidentFact
from uptime.models import CheckResult

# (model, column) whose single-column index the migrations below dropped.
DROPPED = {
    ("alerts", "0013_unindexed_tenant_keys"): [(Incident, "tenant_id"), (IncidentLogEntry, "tenant_id")],
    ("notifications", "0010_unindexed_tenant_keys"): [(Notification, "tenant_id"), (DeliveryAttempt, "tenant_id")],
    ("reports", "0007_unindexed_tenant_key"): [(IncidentFact, "tenant_id")],
    ("connectors", "0002_unindexed_invocation_keys"): [(ConnectionInvocation, "connection_id"),
                                                      (ConnectionInvocation, "incident_id")],
    ("uptime", "0004_unindexed_result_monitor"): [(CheckResult, "monitor_id")],
}
EVERY = [pair for pairs in DROPPED.values() for pair in pairs]


def _keys(model, column):
    """(the index Django makes for a foreign key on `column`, a foreign key constraint on it), as the
    database has them (by name: a partial index on the same column, such as incident_open, is another)."""
    table = model._meta.db_table
    with connection.cursor() as cursor:
        found = connection.introspection.get_constraints(cursor, table)
    with connection.schema_editor() as editor:
        name = editor._create_index_name(table, [column])  # noqa: SLF001
    fk = any(c["foreign_key"] and c["columns"] == [column] for c in found.values())
    return name in found and found[name]["columns"] == [column], fk


@pytest.mark.django_db(transaction=True)
def test_the_indexes_go_and_come_back_while_every_foreign_key_stays():
    assert {pair: _keys(*pair) for pair in EVERY} == {pair: (False, True) for pair in EVERY}
    graph = MigrationExecutor(connection).loader.graph
    # Each app back to its migration before the one that dropped the indexes.
    previous = [next(parent.key for parent in graph.node_map[target].parents if parent.key[0] == target[0])
                for target in DROPPED]
    try:
        MigrationExecutor(connection).migrate(previous)
        assert {pair: _keys(*pair) for pair in EVERY} == {pair: (True, True) for pair in EVERY}
    finally:
        executor = MigrationExecutor(connection)  # back to the latest state of every app
        executor.migrate(executor.loader.graph.leaf_nodes())
    assert {pair: _keys(*pair) for pair in EVERY} == {pair: (False, True) for pair in EVERY}


@pytest.mark.postgres
@pytest.mark.django_db
@pytest.mark.parametrize("model", [Incident, Notification, IncidentFact])
def test_their_queries_by_tenant_still_use_an_index(model, tenant):
    sql, params = model.objects.filter(tenant=tenant).order_by().query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")  # the tables are tiny here: make the planner say
        cursor.execute("EXPLAIN " + sql, params)
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert "Index" in plan and "Seq Scan" not in plan, plan
