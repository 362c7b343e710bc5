"""Django's PostgreSQL backend with a cheaper connection health check.

With CONN_HEALTH_CHECKS a persistent connection is checked before each request's first query;
Django checks by sending `SELECT 1`, a round trip per request (a third of an appended event's wall
time in bench/ingest). A server that ends a connection (restart, idle timeout, pg_terminate_backend)
says so on the socket: its goodbye or the end of the stream is waiting there. So an idle connection
with nothing to read is taken as usable without asking, and one with something to read is asked
with `SELECT 1` as before. A connection whose peer vanished without a word is caught by neither
check in time; the query that finds it answers 503 (ilert.middleware.DatabaseUnavailableMiddleware).

It also remembers which server-side prepared statements (ilert.db.prepared) its connection holds:
a new connection holds none.
"""

import select

from django.db.backends.postgresql import base


class DatabaseWrapper(base.DatabaseWrapper):
    def get_new_connection(self, conn_params):
        self.prepared_statements = set()
        return super().get_new_connection(conn_params)

    def is_usable(self):
        raw = self.connection
        if raw is None or raw.closed:
            return False
        try:
            readable, _, _ = select.select([raw], [], [], 0)
        except (OSError, ValueError):  # the socket is gone
            return False
        return super().is_usable() if readable else True
