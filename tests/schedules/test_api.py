"""The REST surface: CRUD for schedules, layers, overrides and static shifts; on-call and timeline
queries; who is on call now; a user's shifts; roles; and bad input, each a 4xx with a clear message."""

from datetime import UTC, datetime

import pytest
import time_machine

from schedules import services
from schedules.models import Layer, Override, Schedule, Shift
from tests.conftest import client_for
from tests.factories import UserFactory

from .factories import make_layer, make_schedule

pytestmark = pytest.mark.django_db


def utc(*args):
    return datetime(*args, tzinfo=UTC)


@pytest.fixture
def recurring(tenant, admin, responder):
    schedule = make_schedule(tenant, name="Primary", tz="Europe/Berlin")
    make_layer(schedule, [admin, responder], name="Weekly", rotation_start=datetime(2025, 3, 3, 9, 0))
    return schedule


def test_an_admin_creates_a_schedule_with_a_layer_and_reads_who_is_on_call(api, admin, responder):
    response = api.post("/api/v1/schedules", {"name": "Primary", "timezone": "Europe/Berlin"}, format="json")
    assert response.status_code == 201, response.content
    schedule = response.json()
    assert schedule["kind"] == "recurring" and schedule["team"] is None

    layer = api.post("/api/v1/layers", {
        "schedule": schedule["id"], "name": "Weekly", "users": [responder.pk, admin.pk],
        "rotation_start": "2025-03-03T09:00", "length_count": 1, "length_unit": "weeks",
        "restrictions": [{"type": "time_of_day", "start": "18:00", "end": "08:00"}],
    }, format="json")
    assert layer.status_code == 201, layer.content
    body = layer.json()
    assert body["users"] == [responder.pk, admin.pk]
    assert body["rotation_start"] == "2025-03-03T09:00" and body["handoff_time"] == "09:00"
    assert body["restrictions"] == [{"type": "time_of_day", "start": "18:00", "end": "08:00"}]

    night = api.get(f"/api/v1/schedules/{schedule['id']}/on-call", {"at": "2025-03-04T22:00:00+01:00"}).json()
    assert night["user"]["id"] == responder.pk and night["source"]["type"] == "layer"
    assert night["until"] == "2025-03-05T07:00:00Z"  # 08:00 CET
    day = api.get(f"/api/v1/schedules/{schedule['id']}/on-call", {"at": "2025-03-04T12:00"}).json()
    assert day["user"] is None and day["until"] == "2025-03-04T17:00:00Z"


def test_the_timeline_endpoint_gives_final_layer_and_override_bands(api, recurring, admin, responder):
    services.create_override(recurring, user=admin, start=utc(2025, 3, 4, 12), end=utc(2025, 3, 4, 18))
    response = api.get(f"/api/v1/schedules/{recurring.pk}/timeline",
                       {"since": "2025-03-03T00:00:00Z", "until": "2025-03-11T00:00:00Z"})
    assert response.status_code == 200, response.content
    body = response.json()
    assert [(s["user"]["id"], s["start"], s["end"], s["source"]["type"]) for s in body["final"]] == [
        (admin.pk, "2025-03-03T08:00:00Z", "2025-03-04T12:00:00Z", "layer"),
        (admin.pk, "2025-03-04T12:00:00Z", "2025-03-04T18:00:00Z", "override"),
        (admin.pk, "2025-03-04T18:00:00Z", "2025-03-10T08:00:00Z", "layer"),
        (responder.pk, "2025-03-10T08:00:00Z", "2025-03-11T00:00:00Z", "layer"),
    ]
    assert [band["name"] for band in body["layers"]] == ["Weekly"]
    assert len(body["overrides"]) == 1 and body["timezone"] == "Europe/Berlin"


def test_who_is_on_call_now_across_all_schedules(api, tenant, recurring, admin, other_tenant):
    make_schedule(tenant, name="Empty")
    theirs = make_schedule(other_tenant, name="Theirs")
    with time_machine.travel(utc(2025, 3, 4, 12)):
        response = api.get("/api/v1/on-call")
    assert response.status_code == 200
    items = {item["schedule"]["name"]: item for item in response.json()["results"]}
    assert set(items) == {"Empty", "Primary"}
    assert items["Primary"]["user"]["id"] == admin.pk and items["Primary"]["id"] == recurring.pk
    assert items["Empty"]["user"] is None and items["Empty"]["until"] is None
    assert theirs.pk not in {item["id"] for item in response.json()["results"]}
    at = api.get("/api/v1/on-call", {"at": "2025-03-11T12:00:00Z"}).json()["results"]
    assert {i["schedule"]["name"]: (i["user"] or {}).get("email") for i in at}["Primary"] == "rita@acme.test"


def test_a_users_shifts_across_schedules(api, responder_api, recurring, admin, responder, outsider):
    response = api.get("/api/v1/shifts", {"user": responder.pk, "since": "2025-03-01T00:00:00Z",
                                          "until": "2025-03-20T00:00:00Z"})
    assert response.status_code == 200, response.content
    assert [(s["schedule"]["name"], s["start"], s["end"]) for s in response.json()["results"]] == [
        ("Primary", "2025-03-10T08:00:00Z", "2025-03-17T08:00:00Z")]
    mine = responder_api.get("/api/v1/shifts", {"since": "2025-03-01", "until": "2025-03-20"}).json()
    assert mine["count"] == 1
    assert api.get("/api/v1/shifts", {"user": outsider.pk}).status_code == 404


def test_layers_can_be_changed_reordered_and_deleted(api, recurring, admin, responder):
    layer = recurring.layers.get()
    response = api.patch(f"/api/v1/layers/{layer.pk}", {"users": [responder.pk], "length_count": 2,
                                                        "length_unit": "days", "rotation_start": "2025-03-01T07:30"},
                         format="json")
    assert response.status_code == 200, response.content
    layer.refresh_from_db()
    assert layer.ordered_users() == [responder] and layer.step.days == 2 and str(layer.handoff_time) == "07:30:00"
    other = api.post("/api/v1/layers", {"schedule": recurring.pk, "users": [admin.pk],
                                        "rotation_start": "2025-03-01T00:00"}, format="json").json()
    assert other["position"] > response.json()["position"]
    assert api.delete(f"/api/v1/layers/{layer.pk}").status_code == 204
    assert not Layer.objects.filter(pk=layer.pk).exists()
    moved = api.patch(f"/api/v1/layers/{other['id']}", {"schedule": make_schedule(recurring.tenant).pk},
                      format="json")
    assert moved.status_code == 400 and "another schedule" in moved.json()["message"]


def test_overrides_by_responders_only_for_themselves(responder_api, stakeholder_api, recurring, admin, responder):
    mine = responder_api.post(f"/api/v1/schedules/{recurring.pk}/overrides",
                              {"start": "2025-03-04T12:00:00Z", "end": "2025-03-04T18:00:00Z"}, format="json")
    assert mine.status_code == 201, mine.content
    assert mine.json()["user"] == responder.pk and mine.json()["created_by"] == responder.pk
    theirs = responder_api.post("/api/v1/overrides", {"schedule": recurring.pk, "user": admin.pk,
                                                      "start": "2025-03-04T12:00:00Z", "end": "2025-03-05T00:00:00Z"},
                                format="json")
    assert theirs.status_code == 403 and "only for themselves" in theirs.json()["message"]
    assert stakeholder_api.post("/api/v1/overrides", {"schedule": recurring.pk, "start": "2025-03-04T12:00:00Z",
                                                      "end": "2025-03-05T00:00:00Z"}, format="json").status_code == 403
    listed = responder_api.get(f"/api/v1/schedules/{recurring.pk}/overrides").json()
    assert listed["count"] == 1
    override = Override.objects.get()
    assert responder_api.patch(f"/api/v1/overrides/{override.pk}", {"end": "2025-03-04T20:00:00Z"},
                               format="json").status_code == 200
    assert responder_api.delete(f"/api/v1/overrides/{override.pk}").status_code == 204


def test_an_admins_override_for_someone_else_wins(api, recurring, responder):
    response = api.post("/api/v1/overrides", {"schedule": recurring.pk, "user": responder.pk,
                                              "start": "2025-03-04T12:00", "end": "2025-03-04T18:00"}, format="json")
    assert response.status_code == 201, response.content
    assert response.json()["start"] == "2025-03-04T11:00:00Z"  # wall clock in Europe/Berlin
    on_call = client_for(responder).get(f"/api/v1/schedules/{recurring.pk}/on-call", {"at": "2025-03-04T11:30:00Z"})
    assert on_call.json()["user"]["id"] == responder.pk and on_call.json()["source"]["type"] == "override"


def test_responders_and_stakeholders_cannot_change_schedules_or_layers(responder_api, stakeholder_api, recurring):
    assert responder_api.post("/api/v1/schedules", {"name": "X", "timezone": "UTC"}, format="json").status_code == 403
    assert stakeholder_api.patch(f"/api/v1/schedules/{recurring.pk}", {"name": "Y"}, format="json").status_code == 403
    assert responder_api.delete(f"/api/v1/layers/{recurring.layers.get().pk}").status_code == 403
    assert stakeholder_api.get(f"/api/v1/schedules/{recurring.pk}/timeline").status_code == 200


def test_static_shifts_are_created_and_never_overlap(api, tenant, admin, responder):
    schedule = make_schedule(tenant, name="Holidays", kind="static", tz="America/New_York")
    first = api.post("/api/v1/static-shifts", {"schedule": schedule.pk, "user": admin.pk,
                                               "start": "2025-03-08T09:00", "end": "2025-03-09T09:00"}, format="json")
    assert first.status_code == 201, first.content
    assert first.json()["start"] == "2025-03-08T14:00:00Z" and first.json()["end"] == "2025-03-09T13:00:00Z"
    clash = api.post("/api/v1/static-shifts", {"schedule": schedule.pk, "user": responder.pk,
                                               "start": "2025-03-09T08:00", "end": "2025-03-10T09:00"}, format="json")
    assert clash.status_code == 409
    assert clash.json()["message"] == (
        "start: Overlaps the shift of Ada Admin from 2025-03-08 09:00 to 2025-03-09 09:00 (America/New_York); "
        "shifts of a static schedule must not overlap.")
    assert Shift.objects.count() == 1
    touching = api.post("/api/v1/static-shifts", {"schedule": schedule.pk, "user": responder.pk,
                                                  "start": "2025-03-09T09:00", "end": "2025-03-10T09:00"}, format="json")
    assert touching.status_code == 201


@pytest.mark.parametrize("path, payload, status, message", [
    ("/api/v1/schedules", {"name": "X", "timezone": "Mars/Olympus_Mons"}, 400,
     "timezone: Unknown time zone 'Mars/Olympus_Mons'; use an IANA name such as Europe/Berlin."),
    ("/api/v1/schedules", {"name": "Primary", "timezone": "UTC"}, 409, "name: A schedule named 'Primary' already exists."),
    ("/api/v1/schedules", {"name": "X", "timezone": "UTC", "kind": "sometimes"}, 400, "kind: "),
    ("/api/v1/overrides", {"schedule": "SCHEDULE", "user": "ADMIN", "start": "2025-03-04T12:00:00Z",
                           "end": "2025-03-04T11:00:00Z"}, 400, "end: The end must be after the start."),
    ("/api/v1/overrides", {"schedule": "SCHEDULE", "user": "OUTSIDER", "start": "2025-03-04T12:00:00Z",
                           "end": "2025-03-04T13:00:00Z"}, 400, "user: No user with id"),
    ("/api/v1/overrides", {"schedule": "THEIR_SCHEDULE", "start": "2025-03-04T12:00:00Z",
                           "end": "2025-03-04T13:00:00Z"}, 400, "schedule: No schedule with id"),
    ("/api/v1/overrides", {"schedule": "SCHEDULE", "start": "yesterday", "end": "2025-03-04T13:00:00Z"}, 400,
     "start: "),
    ("/api/v1/layers", {"schedule": "SCHEDULE", "users": ["OUTSIDER"], "rotation_start": "2025-03-03T09:00"}, 400,
     "users: No user with id"),
    ("/api/v1/layers", {"schedule": "SCHEDULE", "users": [], "rotation_start": "2025-03-03T09:00"}, 400,
     "users: Add at least one user to the rotation."),
    ("/api/v1/layers", {"schedule": "SCHEDULE", "users": ["ADMIN"], "rotation_start": "2025-03-03T09:00",
                        "end": "2025-03-01T00:00:00Z"}, 400, "end: The end must be after the start."),
    ("/api/v1/layers", {"schedule": "SCHEDULE", "users": ["ADMIN"], "rotation_start": "2025-03-03T09:00",
                        "length_count": 0}, 400, "length_count: The rotation length is a whole number of at least 1."),
    ("/api/v1/layers", {"schedule": "SCHEDULE", "users": ["ADMIN"], "rotation_start": "2025-03-03T09:00",
                        "restrictions": [{"type": "time_of_day", "start": "25:00", "end": "08:00"}]}, 400,
     "restrictions[0]: '25:00' is not a time of day (00:00–23:59)"),
    ("/api/v1/layers", {"schedule": "SCHEDULE", "users": ["ADMIN"], "rotation_start": "2025-03-03T09:00",
                        "restrictions": [{"type": "time_of_week", "start_day": "someday", "start": "09:00",
                                          "end_day": "fri", "end": "17:00"}]}, 400,
     "restrictions[0]: 'someday' is not a day of the week"),
    ("/api/v1/layers", {"schedule": "STATIC", "users": ["ADMIN"], "rotation_start": "2025-03-03T09:00"}, 409,
     "schedule: A static schedule has shifts, not layers."),
    ("/api/v1/layers", {"schedule": "SCHEDULE", "users": ["ADMIN"], "rotation_start": "0999-03-03T09:00"}, 400,
     "rotation_start: Must be between 1970 and 2200."),
    ("/api/v1/static-shifts", {"schedule": "SCHEDULE", "user": "ADMIN", "start": "2025-03-04T12:00:00Z",
                               "end": "2025-03-04T13:00:00Z"}, 409, "schedule: Shifts belong to static schedules"),
    ("/api/v1/static-shifts", {"schedule": "STATIC", "user": "ADMIN", "start": "2025-03-04T12:00:00Z",
                               "end": "2025-03-04T12:00:00Z"}, 400, "end: The end must be after the start."),
])
def test_bad_input_gets_a_4xx_with_a_clear_message(api, recurring, tenant, other_tenant, admin, outsider,
                                                   path, payload, status, message):
    static = make_schedule(tenant, name="Static", kind="static")
    theirs = make_schedule(other_tenant, name="Theirs")
    ids = {"SCHEDULE": recurring.pk, "STATIC": static.pk, "THEIR_SCHEDULE": theirs.pk, "ADMIN": admin.pk,
           "OUTSIDER": outsider.pk}

    def fill(value):
        if isinstance(value, list):
            return [fill(v) for v in value]
        return ids.get(value, value) if isinstance(value, str) else value

    counts = (Schedule.objects.count(), Layer.objects.count(), Override.objects.count(), Shift.objects.count())
    response = api.post(path, {k: fill(v) for k, v in payload.items()}, format="json")
    assert response.status_code == status, response.content
    assert response.json()["message"].startswith(message), response.json()
    assert counts == (Schedule.objects.count(), Layer.objects.count(), Override.objects.count(), Shift.objects.count())


@pytest.mark.parametrize("query, message", [
    ({"since": "2025-03-10T00:00:00Z", "until": "2025-03-01T00:00:00Z"}, "until: until must be after since."),
    ({"since": "2025-01-01T00:00:00Z", "until": "2026-06-01T00:00:00Z"}, "until: At most 366 days per request."),
    ({"since": "soon"}, "since: 'soon' is not an ISO 8601 date-time"),
    ({"since": "9999-01-01"}, "since: Must be between 1970 and 2200."),
])
def test_bad_timeline_windows_get_a_400(api, recurring, query, message):
    response = api.get(f"/api/v1/schedules/{recurring.pk}/timeline", query)
    assert response.status_code == 400
    assert response.json()["message"].startswith(message)


def test_bad_on_call_instants_get_a_400(api, recurring):
    response = api.get(f"/api/v1/schedules/{recurring.pk}/on-call", {"at": "tomorrow-ish"})
    assert response.status_code == 400 and response.json()["message"].startswith("at: ")


def test_changing_the_kind_of_a_schedule_with_layers_is_refused(api, recurring):
    response = api.patch(f"/api/v1/schedules/{recurring.pk}", {"kind": "static"}, format="json")
    assert response.status_code == 409
    assert "Remove the layers" in response.json()["message"]


def test_another_tenants_schedules_are_not_found(outsider_api, recurring):
    for path in (f"/api/v1/schedules/{recurring.pk}", f"/api/v1/schedules/{recurring.pk}/on-call",
                 f"/api/v1/schedules/{recurring.pk}/timeline", f"/api/v1/layers/{recurring.layers.get().pk}"):
        assert outsider_api.get(path).status_code == 404, path
    assert outsider_api.get("/api/v1/on-call").json()["count"] == 0


def test_deactivated_users_cannot_be_put_on_call(api, recurring, tenant):
    gone = UserFactory(tenant=tenant, is_active=False, name="Gone")
    response = api.post("/api/v1/overrides", {"schedule": recurring.pk, "user": gone.pk,
                                              "start": "2025-03-04T12:00:00Z", "end": "2025-03-04T13:00:00Z"},
                        format="json")
    assert response.status_code == 400 and "Gone is deactivated" in response.json()["message"]


def test_the_schema_documents_the_schedule_endpoints(client, db):
    schema = client.get("/api/schema/").content.decode()
    for path in ("/api/v1/schedules/{id}/on-call", "/api/v1/schedules/{id}/timeline", "/api/v1/on-call",
                 "/api/v1/shifts", "/api/v1/layers", "/api/v1/overrides", "/api/v1/static-shifts"):
        assert path in schema, path
