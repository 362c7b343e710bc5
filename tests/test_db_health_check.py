"""ilert.db: a persistent connection is checked before a request without a round trip while the
server has said nothing, and a connection the server ended is found and replaced."""

import select
import time

import psycopg2
import pytest
from django.db import connection as default_connection
from django.db import connections

pytestmark = [pytest.mark.django_db(transaction=True),
              pytest.mark.skipif(default_connection.vendor != "postgresql", reason="PostgreSQL's health check (ilert.db)")]


def _admin():
    settings = connections["default"].settings_dict
    admin = psycopg2.connect(host=settings["HOST"], port=settings["PORT"] or 5432, user=settings["USER"],
                             password=settings["PASSWORD"], dbname=settings["NAME"])
    admin.autocommit = True
    return admin


def _last_query(admin, pid):
    with admin.cursor() as cursor:
        cursor.execute("SELECT query FROM pg_stat_activity WHERE pid = %s", [pid])
        return cursor.fetchone()[0]


def test_an_idle_connection_is_checked_without_a_query(own_connection):
    with own_connection.cursor() as cursor:
        cursor.execute("SELECT 'the last query'")
    pid, admin = own_connection.connection.get_backend_pid(), _admin()
    try:
        assert own_connection.is_usable()
        assert _last_query(admin, pid) == "SELECT 'the last query'"  # Django's check would have sent SELECT 1
    finally:
        admin.close()


def test_a_connection_the_server_ended_is_found_unusable_and_replaced(own_connection):
    pid, admin = own_connection.connection.get_backend_pid(), _admin()
    try:
        with admin.cursor() as cursor:
            cursor.execute("SELECT pg_terminate_backend(%s)", [pid])
    finally:
        admin.close()
    deadline = time.monotonic() + 30  # the server's goodbye reaches the socket
    while not select.select([own_connection.connection], [], [], 0.1)[0] and time.monotonic() < deadline:
        pass
    assert not own_connection.is_usable()
    own_connection.health_check_done = False
    own_connection.close_if_health_check_failed()  # what Django does before a request's first query
    with own_connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        assert cursor.fetchone()[0] != pid
