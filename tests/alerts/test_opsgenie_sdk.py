"""Opsgenie's own Python SDK (opsgenie-sdk) against the live server, with nothing changed but its
host: scripts written for Opsgenie create, read, list, count, annotate, tag, acknowledge and close
alerts, and every error is Opsgenie's JSON, so the SDK raises its own exceptions (never a
JSONDecodeError on an HTML page)."""

import json

import opsgenie_sdk
import pytest

from alerts.models import Incident, IncidentLogEntry

from .factories import make_source

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def source(tenant):
    return make_source(tenant, name="Opsgenie scripts", integration_type="opsgenie", default_priority="LOW")


def sdk(live_server, key):
    conf = opsgenie_sdk.configuration.Configuration()
    conf.host = live_server.url + "/integrations/opsgenie"
    conf.api_key = {"Authorization": key}  # a new dict: Configuration() copies share the default's
    conf.retry_enabled = False  # the SDK retries 429/5xx for a minute; a test wants the first answer
    conf.short_polling_max_retries = 0
    return opsgenie_sdk.AlertApi(api_client=opsgenie_sdk.api_client.ApiClient(configuration=conf))


def create(api, message="Disk full on db-1", **fields):
    return api.create_alert(create_alert_payload=opsgenie_sdk.CreateAlertPayload(message=message, **fields))


def test_a_script_creates_then_finds_reads_lists_and_counts_its_alert(source, live_server):
    api = sdk(live_server, source.integration_key)
    created = create(api, alias="db-1/disk", description="2% left on /var", priority="P2", entity="db-1",
                     tags=["db", "prod"], details={"region": "eu"}, source="nagios")
    status = created.retrieve_result().data
    incident = Incident.objects.get()
    assert (status.is_success, status.action, status.status) == (True, "Create", "Created alert")
    assert (status.alert_id, status.alias, status.integration_id) == (str(incident.pk), "db-1/disk", str(source.pk))

    alert = created.retrieve_resulting_action().data  # the SDK's own way: request status, then get by id
    assert (alert.id, alert.tiny_id, alert.alias) == (str(incident.pk), str(incident.number), "db-1/disk")
    assert (alert.message, alert.status, alert.acknowledged, alert.priority) == ("Disk full on db-1", "open", False,
                                                                                "P2")
    assert (alert.tags, alert.details, alert.entity) == (["db", "prod"], {"region": "eu"}, "db-1")
    assert (alert.description, alert.source, alert.count) == ("2% left on /var", "nagios", 1)
    assert alert.integration.name == "Opsgenie scripts" and alert.created_at is not None

    by_alias = api.get_alert("db-1/disk", identifier_type="alias").data
    by_tiny = api.get_alert(str(incident.number), identifier_type="tiny").data
    assert by_alias.id == by_tiny.id == str(incident.pk)

    create(api, message="CPU hot", alias="web-2/cpu", priority="P4")
    listed = api.list_alerts(query="status:open", limit=1, sort="createdAt", order="asc")
    assert [a.message for a in listed.data] == ["Disk full on db-1"] and listed.paging.next
    assert api.list_alerts(query="tag:db AND status:open").data[0].alias == "db-1/disk"
    assert [a.priority for a in api.list_alerts().data] == ["P4", "P2"]  # newest first, as Opsgenie
    assert api.count_alerts(query="status:open").data.count == 2
    assert api.count_alerts(query="status:closed").data.count == 0


def test_notes_tags_acknowledge_and_close_land_on_the_incident_timeline(source, live_server):
    api = sdk(live_server, source.integration_key)
    create(api, alias="db-1-disk", tags=["db"])
    incident = Incident.objects.get()

    api.add_note("db-1-disk", identifier_type="alias",
                 add_note_to_alert_payload=opsgenie_sdk.AddNoteToAlertPayload(note="Looking into it", user="neo"))
    api.add_tags(str(incident.pk), add_tags_to_alert_payload=opsgenie_sdk.AddTagsToAlertPayload(tags=["paged", "db"]))
    acked = api.acknowledge_alert(str(incident.number), identifier_type="tiny")
    closed = api.close_alert(str(incident.pk), close_alert_payload=opsgenie_sdk.CloseAlertPayload(note="fixed"))

    incident.refresh_from_db()
    assert incident.status == "RESOLVED" and incident.accepted_at is not None
    assert incident.labels["tags"] == "db, paged" and incident.custom_details["tags"] == ["db", "paged"]
    comments = IncidentLogEntry.objects.filter(incident=incident, kind="comment").order_by("at", "id")
    assert [(c.message, c.via, c.actor) for c in comments] == [("neo: Looking into it", "opsgenie", None),
                                                               ("fixed", "opsgenie", None)]
    kinds = list(IncidentLogEntry.objects.filter(incident=incident, via="opsgenie").values_list("kind", flat=True))
    assert {"comment", "info", "accepted", "resolved"} <= set(kinds)
    assert api.get_request_status(acked.request_id).data.status == "Acknowledged alert"
    assert api.get_request_status(closed.request_id).data.is_success is True
    alert = api.get_alert(str(incident.pk)).data
    assert (alert.status, alert.acknowledged, alert.tags) == ("closed", True, ["db", "paged"])
    assert alert.report.ack_time >= 0 and alert.report.close_time >= alert.report.ack_time


def test_acknowledging_a_closed_alert_is_reported_by_its_request_status(source, live_server):
    api = sdk(live_server, source.integration_key)
    create(api, alias="k")
    incident = Incident.objects.get()
    api.close_alert("k", identifier_type="alias")
    late = api.acknowledge_alert(str(incident.pk))
    status = api.get_request_status(late.request_id).data
    assert status.is_success is False and "already resolved" in status.status
    unknown = api.close_alert("nope", identifier_type="alias")
    status = api.get_request_status(unknown.request_id).data
    assert (status.is_success, status.status, status.alias) == (False, "Alert does not exist", "nope")
    assert Incident.objects.get().status == "RESOLVED"


def error_of(call):
    with pytest.raises(opsgenie_sdk.exceptions.RetryableException) as raised:  # the SDK's HTTP errors
        call()
    error = raised.value
    body = json.loads(error.body)
    assert {"message", "took", "requestId"} <= set(body), body
    return error.status, body["message"]


def test_what_the_key_may_not_see_is_not_found_like_unknown(source, live_server, tenant, other_tenant):
    sibling = make_source(tenant, name="Other team's Opsgenie", integration_type="opsgenie")
    stranger = make_source(other_tenant, name="Stranger", integration_type="opsgenie")
    create(sdk(live_server, sibling.integration_key), alias="theirs")
    create(sdk(live_server, stranger.integration_key), alias="strangers")
    theirs, strangers = Incident.objects.get(incident_key="theirs"), Incident.objects.get(incident_key="strangers")
    api = sdk(live_server, source.integration_key)

    for identifier, kind in [("theirs", "alias"), ("strangers", "alias"), (str(theirs.pk), "id"),
                             (str(strangers.pk), "id"), (str(theirs.number), "tiny"), ("424242", "id")]:
        assert error_of(lambda i=identifier, k=kind: api.get_alert(i, identifier_type=k)) == (404,
                                                                                            "Alert does not exist")
    note = opsgenie_sdk.AddNoteToAlertPayload(note="hijack")
    assert error_of(lambda: api.add_note(str(theirs.pk), add_note_to_alert_payload=note))[0] == 404
    assert error_of(lambda: api.close_alert(str(strangers.pk)))[0] == 404
    assert api.list_alerts().data == [] and api.count_alerts().data.count == 0
    their_request = create(sdk(live_server, sibling.integration_key), alias="theirs").request_id
    assert error_of(lambda: api.get_request_status(their_request))[0] == 404
    assert Incident.objects.filter(status="RESOLVED").count() == 0
    assert not IncidentLogEntry.objects.filter(kind="comment").exists()


def test_everything_else_is_an_opsgenie_error_the_sdk_understands(source, live_server, tenant):
    api = sdk(live_server, source.integration_key)
    create(api, alias="k")
    snooze = opsgenie_sdk.SnoozeAlertPayload(end_time="2030-01-01T00:00:00Z")
    assert error_of(lambda: api.snooze_alert("k", snooze, identifier_type="alias"))[0] == 404
    assert error_of(lambda: api.list_saved_searches())[0] == 404
    assert error_of(lambda: api.delete_alert("k", identifier_type="alias"))[0] == 405
    assert error_of(lambda: api.get_request_status("forged-request-id"))[0] == 404
    assert error_of(lambda: api.list_alerts(query="status:open OR tag:x"))[0] == 422
    assert error_of(lambda: api.list_alerts(sort="insertedAt"))[0] == 422
    assert error_of(lambda: sdk(live_server, "x" * 43).get_alert("k", identifier_type="alias")) == (
        401, "Could not authenticate")

    event_api = make_source(tenant, name="Event API", integration_type="api")
    status, message = error_of(lambda: create(sdk(live_server, event_api.integration_key)))
    assert status == 404 and message.startswith("A key only works on the endpoint of its own source type")
    assert "Event API" in message
    assert Incident.objects.count() == 1 and Incident.objects.get().status == "PENDING"
