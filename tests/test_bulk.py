"""ilert.bulk.insert writes exactly what bulk_create would, and fails the way Django fails."""

from datetime import UTC, datetime

import pytest
from django.db import IntegrityError, transaction
from django.forms.models import model_to_dict

from alerts.models import IncidentLogEntry, LogKind
from ilert import bulk
from notifications.models import Channel, Notification
from tests.alerts.factories import make_incident
from tests.factories import UserFactory

AT = datetime(2026, 3, 29, 0, 59, 59, 123456, tzinfo=UTC)


def rows(incident, user, tag):
    return [
        IncidentLogEntry(tenant_id=incident.tenant_id, incident=incident, kind=LogKind.ESCALATED, via="escalation",
                         message="Level 1 of 2: notified Zoë\nand \\ 'others'", at=AT,
                         data={"level": 1, "users": [{"id": user.pk, "name": "Zoë"}], "ok": True, "none": None}),
        IncidentLogEntry(tenant_id=incident.tenant_id, incident=incident, kind=LogKind.ASSIGNED, actor=user,
                         message="", data={}, at=AT),
    ], [
        Notification(tenant_id=incident.tenant_id, incident=incident, user=user, channel=Channel.SMS,
                     address="+15005550006", step="rule-1", step_delay=5, round_tag="r0", due_at=AT,
                     dedup_key=f"page:{tag}", reason="escalation level 1", reply_code=7, outcome_unknown=True),
    ]


def stored(objs):
    return [model_to_dict(type(o).objects.get(pk=o.pk), exclude=["id", "token", "created_at"]) for o in objs]


def test_insert_stores_what_bulk_create_stores(tenant):
    incident, user = make_incident(tenant), UserFactory(tenant=tenant)
    ours_log, ours_notes = rows(incident, user, "ours")
    theirs_log, theirs_notes = rows(incident, user, "theirs")

    assert bulk.insert(ours_log) is ours_log and bulk.insert(ours_notes) is ours_notes
    IncidentLogEntry.objects.bulk_create(theirs_log)
    Notification.objects.bulk_create(theirs_notes)

    assert all(o.pk and not o._state.adding for o in ours_log + ours_notes)
    assert stored(ours_log) == stored(theirs_log)
    [ours], [theirs] = stored(ours_notes), stored(theirs_notes)
    assert ours.pop("dedup_key") == "page:ours" and theirs.pop("dedup_key") == "page:theirs"
    assert ours == theirs
    assert stored(ours_log)[0]["at"] == AT and stored(ours_log)[0]["data"]["users"][0]["name"] == "Zoë"
    assert Notification.objects.get(pk=ours_notes[0].pk).token != Notification.objects.get(pk=theirs_notes[0].pk).token


def test_a_duplicate_raises_djangos_integrity_error_and_writes_nothing(tenant):
    incident, user = make_incident(tenant), UserFactory(tenant=tenant)
    bulk.insert(rows(incident, user, "twin")[1])
    before = Notification.objects.count()
    with pytest.raises(IntegrityError), transaction.atomic():
        bulk.insert(rows(incident, user, "fresh")[1] + rows(incident, user, "twin")[1])
    assert Notification.objects.count() == before


def test_nothing_to_insert_is_fine():
    assert bulk.insert([]) == []
