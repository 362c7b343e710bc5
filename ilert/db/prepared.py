"""Server-side prepared statements for the few statements run on every event or ping.

psycopg2 sends each statement as text, so PostgreSQL parses and plans it every time. For the
append statement (alerts/services/append.py) planning costs more than running it (the figures:
docs/scaling.md; bench/ingest measures it end to end). A `Statement` is prepared once per
connection (`PREPARE name AS …`, the first time that connection runs it) and then run with
`EXECUTE name(…)`; PostgreSQL keeps the plan and re-plans by itself when a table it reads changes.

A pooler in transaction mode (PgBouncer's default) hands each transaction another server
connection, where the statement does not exist: set DB_PREPARED_STATEMENTS=off there
(docs/configuration.md), and statements are sent as text as before.
"""

import re

from django.conf import settings
from django.db import DatabaseError
from psycopg2 import errors

_PLACEHOLDER = re.compile(r"%\((\w+)\)s")


class Statement:
    """`sql` with %(name)s placeholders, run prepared where the connection allows it."""

    def __init__(self, name, sql):
        self.name, self.sql = name, sql
        self.params = []  # the names in the order of their first use: $1, $2, …
        self.prepare = f"PREPARE {name} AS " + _PLACEHOLDER.sub(self._positional, sql).replace("%%", "%")
        self.run = f"EXECUTE {name}({', '.join(['%s'] * len(self.params))})"

    def _positional(self, match):
        if match.group(1) not in self.params:
            self.params.append(match.group(1))
        return f"${self.params.index(match.group(1)) + 1}"

    def execute(self, cursor, params):
        """Run on `cursor` (a Django cursor); fetch from it as after cursor.execute."""
        db = cursor.db
        prepared = getattr(db, "prepared_statements", None)
        if prepared is None or not settings.DB_PREPARED_STATEMENTS:
            return cursor.execute(self.sql, params)
        if self.name not in prepared:
            cursor.execute(self.prepare)  # no params: psycopg2 leaves the text alone
            prepared.add(self.name)
        values = [params[name] for name in self.params]
        try:
            return cursor.execute(self.run, values)
        except DatabaseError as exc:
            # The server forgot it (DISCARD ALL by a pooler, say). Outside a transaction nothing was
            # done yet: prepare again and run. Inside one, the transaction is lost either way.
            if not isinstance(exc.__cause__, errors.InvalidSqlStatementName):
                raise
            prepared.clear()
            if db.in_atomic_block:
                raise
            cursor.execute(self.prepare)
            prepared.add(self.name)
            return cursor.execute(self.run, values)
