"""The report pages and the API: every role of the organisation reads them, filters in the URL,
CSV export, bad input is a 400 that names the field, and another organisation's ids are unknown."""

import csv
import io
from datetime import UTC, datetime

import pytest
from django.test import Client

from alerts import services
from alerts.ingest import EventType, InboundEvent
from tests.alerts.factories import make_source
from tests.conftest import client_for

pytestmark = pytest.mark.django_db
REPORTS = ("response", "noise", "people", "delivery")


@pytest.fixture
def incident(tenant, responder):
    source = make_source(tenant, name="db")
    incident = services.ingest(source, InboundEvent(EventType.ALERT, summary="disk", incident_key="disk"),
                               now=datetime(2026, 3, 2, 10, tzinfo=UTC)).incident
    services.accept(incident, by=responder, via="sms", now=datetime(2026, 3, 2, 10, 5, tzinfo=UTC))
    return incident


def page_client(user):
    client = Client()
    client.force_login(user)
    return client


@pytest.mark.parametrize("name", REPORTS)
@pytest.mark.parametrize("role", ["admin", "responder", "stakeholder"])
def test_every_role_reads_every_report_page_and_api(request, incident, name, role):
    user = request.getfixturevalue(role)
    page = page_client(user).get(f"/reports/{name}/", {"from": "2026-03-01", "to": "2026-03-31"})
    assert page.status_code == 200
    assert b"<svg" in page.content or name == "people"
    api = client_for(user).get(f"/api/v1/reports/{name}", {"from": "2026-03-01", "to": "2026-03-31"})
    assert api.status_code == 200 and api.json()["range"]["days"] == 31


def test_the_response_page_shows_the_figures_of_the_range(admin, incident):
    page = page_client(admin).get("/reports/response/", {"from": "2026-03-01", "to": "2026-03-31",
                                                         "group": "source"})
    assert b"5 min" in page.content and b'id="groups"' in page.content and b">db<" in page.content
    api = client_for(admin).get("/api/v1/reports/response", {"from": "2026-03-01", "to": "2026-03-31"}).json()
    assert api["total"]["mtta"] == {"count": 1, "mean": 300.0, "median": 300, "p90": 300}


def test_the_csv_export_has_the_same_numbers(admin, incident):
    response = page_client(admin).get("/reports/response/", {"from": "2026-03-01", "to": "2026-03-31",
                                                             "export": "csv"})
    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    total = next(row for row in rows if row["section"] == "total")
    assert total["incidents"] == "1" and total["mtta_mean"] == "300.0"
    assert sum(1 for row in rows if row["section"] == "trend") == 31


@pytest.mark.parametrize("query, field", [
    ({"from": "yesterday"}, "from"), ({"from": "2026-03-02", "to": "2026-03-01"}, "to"),
    ({"tz": "Mars/Olympus"}, "tz"), ({"group": "planet"}, "group"), ({"source": "abc"}, "source"),
    ({"source": "99999999999999999999999"}, "source"), ({"priority": "URGENT"}, "priority"),
    ({"from": "2020-01-01", "to": "2026-01-01"}, "from"), ({"bucket": "hour"}, "bucket"),
])
def test_bad_parameters_are_a_400_naming_the_field(admin, query, field):
    api = client_for(admin).get("/api/v1/reports/response", query)
    assert api.status_code == 400 and field in str(api.json())
    assert page_client(admin).get("/reports/response/", query).status_code == 400


@pytest.mark.parametrize("name", REPORTS)
@pytest.mark.parametrize("query, field", [
    ({"to": "0001-01-01"}, "to"), ({"from": "9999-12-30", "to": "9999-12-31"}, "to"),
    ({"tz": "Europe"}, "tz"), ({"tz": "a" * 5000}, "tz"),
])
def test_dates_at_the_calendars_ends_and_zone_names_that_are_no_files_are_a_400(admin, name, query, field):
    api = client_for(admin).get(f"/api/v1/reports/{name}", query)
    assert api.status_code == 400 and field in str(api.json())
    assert page_client(admin).get(f"/reports/{name}/", {**query, "export": "csv"}).status_code == 400


def test_the_csv_export_neutralises_formulas_in_names_and_keys(admin, tenant):
    """Source names and incident keys are anyone's text (an alert's sender picks the key): a cell a
    spreadsheet would run as a formula starts with a quote."""
    source = make_source(tenant, name="=HYPERLINK(\"http://evil.example\",\"db\")")
    for key in ("+1+cmd|' /C calc'!A0", "-2+3", "@SUM(A1)", "\t=1+1", "\r=1+1"):
        services.ingest(source, InboundEvent(EventType.ALERT, summary="x", incident_key=key),
                        now=datetime(2026, 3, 2, 10, tzinfo=UTC))
    response = page_client(admin).get("/reports/noise/", {"from": "2026-03-01", "to": "2026-03-31",
                                                          "export": "csv"})
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    cells = [value for row in rows for value in row.values() if value]
    assert any("HYPERLINK" in cell for cell in cells) and any("calc" in cell for cell in cells)
    assert not [cell for cell in cells if cell[:1] in ("=", "+", "@", "\t", "\r") or cell.startswith("-2")]


def test_the_csv_writer_neutralises_cells_led_by_a_tab_or_carriage_return():
    from reports import export

    data = {"users": [{"id": 1, "name": "\t=1+1"}, {"id": 2, "name": "\r=1+1"}, {"id": 3, "name": "Pat"}]}
    rows = list(csv.DictReader(io.StringIO(export.to_csv("people", data))))
    assert [row["name"] for row in rows] == ["'\t=1+1", "'\r=1+1", "Pat"]


def _said(response):
    if response["Content-Type"].startswith("application/json"):
        return response.json()["message"].removeprefix("source: ")
    text = response.content.decode()
    return text.split('id="report-error">', 1)[1].split("<", 1)[0]


def test_another_organisations_ids_are_unknown_ids(admin, outsider, incident):
    theirs = make_source(outsider.tenant, name="theirs")
    for client, path in ((client_for(admin), "/api/v1/reports/response"), (page_client(admin), "/reports/response/")):
        foreign, unknown = client.get(path, {"source": theirs.pk}), client.get(path, {"source": 2**31 - 7})
        assert foreign.status_code == unknown.status_code == 400
        assert _said(foreign) == _said(unknown) == "Unknown source."


def test_a_report_never_counts_another_organisations_incidents(admin, outsider, incident):
    source = make_source(outsider.tenant, name="theirs")
    services.ingest(source, InboundEvent(EventType.ALERT, summary="x", incident_key="x"),
                    now=datetime(2026, 3, 3, tzinfo=UTC))
    for name in REPORTS:
        mine = client_for(admin).get(f"/api/v1/reports/{name}", {"from": "2026-03-01", "to": "2026-03-31"}).json()
        theirs = client_for(outsider).get(f"/api/v1/reports/{name}", {"from": "2026-03-01", "to": "2026-03-31"}).json()
        if name in ("response", "noise"):
            assert mine["total"]["incidents"] == 1 and theirs["total"]["incidents"] == 1
        if name == "people":
            assert [u["name"] for u in theirs["users"]] == []


def test_reports_need_a_login(db):
    assert Client().get("/reports/response/").status_code == 302
    assert client_for(None).get("/api/v1/reports/response").status_code in (401, 403)
