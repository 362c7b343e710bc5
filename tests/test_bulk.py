"""ilert.bulk writes exactly what bulk_create would, and fails the way Django fails."""

from datetime import UTC, datetime

import pytest
from django.db import IntegrityError, transaction
from django.forms.models import model_to_dict

from alerts.models import IncidentLogEntry, LogKind
from ilert import bulk
from notifications.models import Notification
from tests.alerts.factories import make_incident
from tests.factories import UserFactory

AT = datetime(2026, 3, 29, 0, 59, 59, 123456, tzinfo=UTC)


def entries(incident, user):
    return [
        {"tenant_id": incident.tenant_id, "incident_id": incident.pk, "kind": LogKind.ESCALATED, "via": "escalation",
         "message": "Level 1 of 2: notified Zoë\nand \\ 'others'\ttab\r \"NULL\" {a,b}", "at": AT,
         "data": {"level": 1, "users": [{"id": user.pk, "name": "Zoë \\N"}], "ok": True, "none": None}},
        {"tenant_id": incident.tenant_id, "incident_id": incident.pk, "kind": LogKind.ASSIGNED, "actor_id": user.pk,
         "at": AT},
    ]


def pages(incident, user, tag):
    return [{"tenant_id": incident.tenant_id, "incident_id": incident.pk, "user_id": user.pk, "channel": "sms",
             "address": "+15005550006", "step": "rule-1", "step_delay": 5, "round_tag": "r0", "due_at": AT,
             "dedup_key": f"page:{tag}", "reason": "escalation level 1", "reply_code": 7, "outcome_unknown": True}]


def stored(model, pks, exclude=()):
    return [model_to_dict(model.objects.get(pk=pk), exclude=["id", *exclude]) for pk in pks]


def test_insert_stores_what_bulk_create_stores(tenant):
    incident, user = make_incident(tenant), UserFactory(tenant=tenant)
    ours = bulk.insert(IncidentLogEntry, entries(incident, user))
    theirs = [e.pk for e in IncidentLogEntry.objects.bulk_create(
        [IncidentLogEntry(**e) for e in entries(incident, user)])]
    assert len(ours) == 2 and all(ours)
    assert stored(IncidentLogEntry, ours) == stored(IncidentLogEntry, theirs)
    assert stored(IncidentLogEntry, ours)[0]["data"]["users"][0]["name"] == "Zoë \\N"

    [our_page] = bulk.insert(Notification, pages(incident, user, "ours"))
    [their_page] = [n.pk for n in Notification.objects.bulk_create(
        [Notification(**p) for p in pages(incident, user, "theirs")])]
    skip = ("dedup_key", "token", "created_at")
    assert stored(Notification, [our_page], skip) == stored(Notification, [their_page], skip)
    ours_row, theirs_row = Notification.objects.get(pk=our_page), Notification.objects.get(pk=their_page)
    assert ours_row.dedup_key == "page:ours" and len(ours_row.token) == len(theirs_row.token)
    assert ours_row.token != theirs_row.token  # a callable default is called for every row


def test_instances_are_what_the_database_holds(tenant):
    incident, user = make_incident(tenant), UserFactory(tenant=tenant)
    rows = entries(incident, user)
    pks = bulk.insert(IncidentLogEntry, rows)
    made = [bulk.instance(IncidentLogEntry, row, pk) for row, pk in zip(rows, pks, strict=True)]
    assert [model_to_dict(e) for e in made] == [model_to_dict(IncidentLogEntry.objects.get(pk=pk)) for pk in pks]
    assert all(not e._state.adding for e in made)


def test_a_duplicate_raises_djangos_integrity_error_and_writes_nothing(tenant):
    incident, user = make_incident(tenant), UserFactory(tenant=tenant)
    bulk.insert(Notification, pages(incident, user, "twin"))
    before = Notification.objects.count()
    with pytest.raises(IntegrityError), transaction.atomic():
        bulk.insert(Notification, pages(incident, user, "fresh") + pages(incident, user, "twin"))
    assert Notification.objects.count() == before


def test_unknown_fields_are_refused(tenant):
    incident = make_incident(tenant)
    with pytest.raises(TypeError, match="no fields"):
        bulk.insert(IncidentLogEntry, [{"incident": incident, "kind": "info"}])
    assert bulk.insert(IncidentLogEntry, []) == []


def test_skip_existing_leaves_stored_and_repeated_keys_alone(tenant):
    incident, user = make_incident(tenant), UserFactory(tenant=tenant)
    [stored_pk] = bulk.insert(Notification, pages(incident, user, "old"))
    rows = pages(incident, user, "new") + pages(incident, user, "old") + pages(incident, user, "new")
    pks = bulk.insert(Notification, rows, skip_existing="dedup_key")
    assert pks[0] is not None and pks[1:] == [None, None]
    assert Notification.objects.filter(dedup_key="page:old").get().pk == stored_pk
    assert Notification.objects.get(pk=pks[0]).dedup_key == "page:new"
    assert Notification.objects.filter(dedup_key__startswith="page:").count() == 2


def test_a_value_shared_by_every_row_is_stored_for_every_row(tenant):
    """Shared values are sent once (the same object in every row); they must land in each row."""
    incident, user = make_incident(tenant), UserFactory(tenant=tenant)
    data = {"level": 2, "users": [user.pk]}
    rows = [{"tenant_id": incident.tenant_id, "incident_id": incident.pk, "kind": LogKind.ESCALATED, "via": "escalation",
             "message": "same", "data": data, "at": AT} for _ in range(3)]
    rows[1] = {**rows[1], "message": "different", "data": {"level": 3}}
    pks = bulk.insert(IncidentLogEntry, rows)
    assert [(e.message, e.data, e.at) for e in IncidentLogEntry.objects.filter(pk__in=pks).order_by("pk")] == [
        ("same", data, AT), ("different", {"level": 3}, AT), ("same", data, AT)]


@pytest.mark.postgres  # SQLite does not enforce lengths at all
@pytest.mark.parametrize("rows", [1, 2], ids=["a value sent once", "a column of values"])
def test_a_value_too_long_is_refused_not_cut(tenant, rows):
    from django.db import DataError

    incident, user = make_incident(tenant), UserFactory(tenant=tenant)
    too_long = [{**page, "dedup_key": f"page:{n}:" + "x" * 300} for n, page in enumerate(
        pages(incident, user, "long") * rows)]
    if rows == 1:
        too_long[0]["round_tag"] = "r" * 65  # a value every row shares (max_length 64)
        too_long[0]["dedup_key"] = "page:short"
    with pytest.raises(DataError), transaction.atomic():
        bulk.insert(Notification, too_long)
    assert not Notification.objects.filter(incident=incident).exists()


def test_models_with_fields_it_does_not_know_how_to_write_are_refused(tenant):
    """Only field types whose str() PostgreSQL reads back as the same value go into array literals."""
    from schedules.models import Layer  # handoff_time: a TimeField

    with pytest.raises(TypeError, match="handoff_time"):
        bulk.insert(Layer, [{"tenant_id": tenant.pk}])


@pytest.mark.postgres
def test_any_text_survives_the_array_literals(tenant):
    """The array literals are written by hand: whatever a message or its data holds (quotes,
    backslashes, braces, commas, blanks, "NULL", any Unicode) must come back exactly."""
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    incident = make_incident(tenant)
    text = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=40)

    @settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
    @given(st.lists(st.tuples(text, text), min_size=2, max_size=4))
    def check(pairs):
        rows = [{"tenant_id": incident.tenant_id, "incident_id": incident.pk, "kind": LogKind.COMMENT, "via": via[:32],
                 "message": message, "data": {"m": message, "v": [via]}, "at": AT} for message, via in pairs]
        pks = bulk.insert(IncidentLogEntry, rows)
        stored = {e.pk: (e.message, e.via, e.data) for e in IncidentLogEntry.objects.filter(pk__in=pks)}
        assert [stored[pk] for pk in pks] == [(r["message"], r["via"], r["data"]) for r in rows]

    check()


def test_update_stores_what_bulk_update_stores(tenant):
    incident, user = make_incident(tenant), UserFactory(tenant=tenant)
    ours, theirs = ([IncidentLogEntry.objects.get(pk=pk) for pk in bulk.insert(IncidentLogEntry, entries(incident, user))]
                    for _ in range(2))
    untouched = bulk.insert(IncidentLogEntry, entries(incident, user))
    later = datetime(2026, 10, 25, 1, 30, tzinfo=UTC)
    for rows in (ours, theirs):
        rows[0].message, rows[0].data, rows[0].at = "changed \\ \"quoted\" {a,b}\nline", {"level": 2, "x": None}, later
        rows[1].message, rows[1].data, rows[1].actor_id = "", {}, None  # each row its own values, a NULL too
    assert bulk.update(IncidentLogEntry, ours, ["message", "data", "at", "actor"]) == 2
    IncidentLogEntry.objects.bulk_update(theirs, ["message", "data", "at", "actor"])
    assert stored(IncidentLogEntry, [r.pk for r in ours]) == stored(IncidentLogEntry, [r.pk for r in theirs])
    assert stored(IncidentLogEntry, [ours[0].pk])[0]["message"] == "changed \\ \"quoted\" {a,b}\nline"
    assert stored(IncidentLogEntry, untouched) == stored(IncidentLogEntry, bulk.insert(IncidentLogEntry, entries(
        incident, user))), "rows not handed over are left alone"


def test_update_writes_a_value_shared_by_every_row_to_every_row(tenant):
    incident, user = make_incident(tenant), UserFactory(tenant=tenant)
    rows = [Notification.objects.get(pk=pk) for tag in ("a", "b", "c") for pk in bulk.insert(
        Notification, pages(incident, user, tag))]
    for row in rows:
        row.status, row.sent_at = Notification.Status.SENT, AT  # the same objects: sent once
    rows[1].provider_id = "SM2"
    assert bulk.update(Notification, rows, ["status", "sent_at", "provider_id"]) == 3
    assert list(Notification.objects.filter(pk__in=[r.pk for r in rows]).order_by("pk").values_list(
        "status", "sent_at", "provider_id")) == [("sent", AT, ""), ("sent", AT, "SM2"), ("sent", AT, "")]


@pytest.mark.postgres  # SQLite does not enforce lengths at all
def test_update_refuses_a_value_too_long_and_writes_nothing(tenant):
    from django.db import DataError

    incident, user = make_incident(tenant), UserFactory(tenant=tenant)
    rows = [Notification.objects.get(pk=pk) for tag in ("a", "b") for pk in bulk.insert(
        Notification, pages(incident, user, tag))]
    rows[0].provider_id, rows[1].provider_id = "ok", "x" * 256
    with pytest.raises(DataError), transaction.atomic():
        bulk.update(Notification, rows, ["provider_id"])
    assert set(Notification.objects.filter(pk__in=[r.pk for r in rows]).values_list("provider_id", flat=True)) == {""}
