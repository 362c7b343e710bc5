"""ilert.db.prepared: a hot statement is prepared once per connection and then run by name; a
server that forgot it (a pooler's DISCARD ALL) is caught; DB_PREPARED_STATEMENTS=off sends text."""

import pytest
from django.db import DatabaseError, transaction
from django.db import connection as default_connection
from django.test.utils import CaptureQueriesContext

from ilert.db.prepared import Statement

pytestmark = [pytest.mark.django_db(transaction=True),
              pytest.mark.skipif(default_connection.vendor != "postgresql", reason="PostgreSQL's PREPARE")]

DOUBLE = Statement("ilert_test_double", "SELECT %(n)s::int * 2, %(label)s::text || '%%'")


def _run(own_connection, n, label="x"):
    with CaptureQueriesContext(own_connection) as sent, own_connection.cursor() as cursor:
        DOUBLE.execute(cursor, {"label": label, "n": n})
        return cursor.fetchone(), [query["sql"] for query in sent.captured_queries]


def _held(own_connection):
    with own_connection.cursor() as cursor:
        cursor.execute("SELECT name FROM pg_prepared_statements")
        return {name for (name,) in cursor.fetchall()}


def test_prepared_once_per_connection_then_run_by_name(own_connection):
    first, sent_first = _run(own_connection, 21)
    second, sent_second = _run(own_connection, 4, "y")
    assert first == (42, "x%") and second == (8, "y%")
    assert sent_first[0].startswith("PREPARE ilert_test_double AS SELECT $1::int * 2, $2::text || '%'")
    assert len(sent_first) == 2 and sent_second == ["EXECUTE ilert_test_double(4, 'y')"]
    assert "ilert_test_double" in _held(own_connection)


def test_a_new_connection_prepares_again(own_connection):
    _run(own_connection, 1)
    own_connection.close()
    own_connection.ensure_connection()
    result, sent = _run(own_connection, 2)
    assert result == (4, "x%") and sent[0].startswith("PREPARE ")


def test_a_statement_the_server_forgot_is_prepared_again_outside_a_transaction(own_connection):
    _run(own_connection, 1)
    with own_connection.cursor() as cursor:
        cursor.execute("DEALLOCATE ALL")  # what a pooler's session reset does
    result, sent = _run(own_connection, 5)
    assert result == (10, "x%")
    assert sent[0].startswith("EXECUTE") and sent[1].startswith("PREPARE") and sent[2].startswith("EXECUTE")


def test_inside_a_transaction_a_forgotten_statement_fails_and_is_prepared_next_time():
    connection = default_connection  # transaction.atomic() works on the wrappers in `connections`
    _run(connection, 1)
    with connection.cursor() as cursor:
        cursor.execute("DEALLOCATE ALL")
    with pytest.raises(DatabaseError), transaction.atomic():
        _run(connection, 5)
    assert _run(connection, 6) == ((12, "x%"), [DOUBLE.prepare, "EXECUTE ilert_test_double(6, 'x')"])


def test_off_sends_the_statement_as_text(own_connection, settings):
    settings.DB_PREPARED_STATEMENTS = False
    result, sent = _run(own_connection, 3)
    assert result == (6, "x%") and sent == ["SELECT 3::int * 2, 'x'::text || '%'"]
    assert "ilert_test_double" not in _held(own_connection)
