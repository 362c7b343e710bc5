"""The incident list for daily use: full-text search (GIN index on PostgreSQL, substring fallback on
SQLite), date range in the reader's days, sortable columns, every filter in the URL; custom details as
a key/value table."""

from datetime import UTC, datetime

import pytest
import time_machine
from django.db import connection
from django.test import Client

from alerts.models import Incident
from alerts.search import INDEX_NAME, search
from tests.alerts.factories import make_incident, make_source

pytestmark = pytest.mark.django_db


@pytest.fixture
def incidents(tenant):
    source = make_source(tenant, name="Prometheus")
    return {
        "disk": make_incident(source=source, summary="Disk full on db-1", key="db-1-disk"),
        "cpu": make_incident(source=source, summary="CPU high", key="web-7-cpu", details="load average 42 on web-7"),
        "labels": make_incident(source=source, summary="Alert A", key="a", labels={"team": "payments"}),
        "custom": make_incident(source=source, summary="Alert B", key="b",
                                custom_details={"region": "eu-central-1", "disk": {"used": 97}}),
    }


def _found(tenant, text):
    return {i.summary for i in search(Incident.objects.filter(tenant=tenant), text)}


def test_search_reaches_summary_details_labels_custom_details_key_and_number(tenant, other_tenant, incidents):
    make_incident(other_tenant, summary="Disk full on db-1 elsewhere")
    assert _found(tenant, "disk") == {"Disk full on db-1", "Alert B"}  # summary; custom details' key
    assert _found(tenant, "42") == {"CPU high"}
    assert _found(tenant, "payments") == {"Alert A"}
    assert _found(tenant, "eu-central-1") == {"Alert B"}
    assert _found(tenant, "web-7-cpu") == {"CPU high"}
    assert _found(tenant, f"#{incidents['labels'].number}") == {"Alert A"}
    assert _found(tenant, "nothing-like-this") == set()
    assert _found(tenant, "") == {i.summary for i in incidents.values()}


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the GIN index exists on PostgreSQL only")
def test_postgres_answers_the_search_from_the_gin_index(tenant, incidents):
    with connection.cursor() as cursor:
        cursor.execute("SELECT indexdef FROM pg_indexes WHERE indexname = %s", [INDEX_NAME])
        assert "gin" in cursor.fetchone()[0].lower()
        cursor.execute("SET LOCAL enable_seqscan = off")
        sql, params = search(Incident.objects.all(), "payments").query.sql_with_params()
        cursor.execute("EXPLAIN " + sql, params)
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert INDEX_NAME in plan, plan


def test_the_list_filters_sorts_and_keeps_everything_in_the_url(admin, incidents):
    client = Client()
    client.force_login(admin)
    html = client.get("/incidents/", {"q": "disk", "status": "all", "sort": "summary"}).content.decode()
    rows = html.split('id="incident-rows"', 1)[1]
    assert rows.index("Alert B") < rows.index("Disk full on db-1") and "CPU high" not in rows
    assert 'value="disk"' in html  # the search box keeps what was typed
    # the live refresh asks for the same filters; sort links keep them and drop the page
    assert 'hx-get="/incidents/?q=disk&amp;status=all&amp;sort=summary"' in html
    assert 'href="?q=disk&amp;status=all&amp;sort=-summary"' in html and 'aria-sort="ascending"' in html
    descending = client.get("/incidents/", {"status": "all", "sort": "-summary"}).content.decode()
    body = descending.split('id="incident-rows"', 1)[1]
    assert body.index("Disk full on db-1") < body.index("CPU high") < body.index("Alert B")
    for bad in ({"sort": "password"}, {"from": "2026-13-45"}, {"to": "yesterday"}, {"q": "x" * 5000},
                {"q": "'\"&|!:*()"}, {"to": "9999-12-31"}):
        assert client.get("/incidents/", bad).status_code == 200, bad


def test_the_date_range_is_in_the_readers_days(admin, tenant):
    late = datetime(2026, 3, 1, 23, 30, tzinfo=UTC)  # 2 March 00:30 in Berlin
    with time_machine.travel(late, tick=False):
        make_incident(tenant, summary="Late one")
    client = Client()
    client.force_login(admin)
    admin.timezone = "Europe/Berlin"
    admin.save()
    march_2 = {"status": "all", "from": "2026-03-02", "to": "2026-03-02"}
    assert "Late one" in client.get("/incidents/", march_2).content.decode()
    admin.timezone = "UTC"
    admin.save()
    assert "Late one" not in client.get("/incidents/", march_2).content.decode()
    assert "Late one" in client.get("/incidents/", {"status": "all", "from": "2026-03-01", "to": "2026-03-01"}).content.decode()


def test_custom_details_are_a_key_value_table(admin, incidents):
    client = Client()
    client.force_login(admin)
    html = client.get(f"/incidents/{incidents['custom'].pk}/").content.decode()
    table = html.split('id="custom-details"', 1)[1].split("</table>", 1)[0]
    assert '<th scope="row">region</th><td>eu-central-1</td>' in table
    assert '<th scope="row">disk.used</th><td>97</td>' in table
    assert "{&#x27;" not in html and "{'region'" not in html
