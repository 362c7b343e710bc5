"""Data migrations of the alerts app, run forwards over rows written with the old schema."""

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

pytestmark = pytest.mark.django_db(transaction=True)


def migrate(target):
    executor = MigrationExecutor(connection)
    executor.migrate([target])
    return executor.loader.project_state([target]).apps


def test_existing_sms_sources_get_their_inbound_number_and_the_oldest_keeps_a_shared_one(tenant, other_tenant):
    old = migrate(("alerts", "0003_heartbeats"))
    AlertSource = old.get_model("alerts", "AlertSource")

    def source(tenant, name, kind, options, n):
        return AlertSource.objects.create(tenant_id=tenant.pk, name=name, integration_type=kind, options=options,
                                          key_hash=f"{n:064d}", key_encrypted="x").pk

    first = source(tenant, "SMS", "sms", {"phone_number": "+14155552671"}, 1)
    raced = source(other_tenant, "Raced", "sms", {"phone_number": "+14155552671"}, 2)
    other = source(other_tenant, "Other", "sms", {"phone_number": "+4930901820"}, 3)
    none = source(tenant, "No number", "sms", {}, 4)
    api = source(tenant, "API", "api", {"phone_number": "+4930901821"}, 5)
    try:
        new = migrate(("alerts", "0004_sms_inbound_number"))
        numbers = dict(new.get_model("alerts", "AlertSource").objects.values_list("pk", "inbound_number"))
        assert numbers == {first: "+14155552671", raced: None, other: "+4930901820", none: None, api: None}
    finally:
        executor = MigrationExecutor(connection)  # back to the latest state of every app
        executor.migrate(executor.loader.graph.leaf_nodes())


def test_existing_sources_get_the_hash_of_their_lowercased_key(tenant):
    from ilert import secrets

    old = migrate(("alerts", "0006_change_events"))
    AlertSource = old.get_model("alerts", "AlertSource")
    key = "MiXeD-Case_key_" + "a" * 28
    email = AlertSource.objects.create(tenant_id=tenant.pk, name="Mail", integration_type="email",
                                       key_hash=secrets.lookup_hash(key), key_encrypted=secrets.encrypt(key)).pk
    broken = AlertSource.objects.create(tenant_id=tenant.pk, name="Broken", integration_type="email",
                                        key_hash="0" * 64, key_encrypted="not a fernet token").pk
    try:
        new = migrate(("alerts", "0007_email_folded_key"))
        hashes = dict(new.get_model("alerts", "AlertSource").objects.values_list("pk", "folded_key_hash"))
        assert hashes == {email: secrets.lookup_hash(key.lower()), broken: ""}
    finally:
        executor = MigrationExecutor(connection)
        executor.migrate(executor.loader.graph.leaf_nodes())


def test_the_incident_counters_move_to_their_own_rows_and_back_and_numbering_goes_on(tenant, other_tenant):
    from accounts.models import Tenant
    from alerts.models import IncidentCounter

    from .factories import alert, make_source

    executor = MigrationExecutor(connection)
    before = [("accounts", "0003_platform_tenant"), ("alerts", "0011_open_incidents_index")]
    executor.migrate(before)
    old = executor.loader.project_state(before).apps
    old.get_model("accounts", "Tenant").objects.filter(pk=tenant.pk).update(last_incident_number=41)
    # The other tenant's column says 0, but #45 is in use (drawn by a process of the old code).
    source = old.get_model("alerts", "AlertSource").objects.create(
        tenant_id=other_tenant.pk, name="Old", integration_type="api", key_hash="9" * 64, key_encrypted="x")
    old.get_model("alerts", "Incident").objects.create(tenant_id=other_tenant.pk, number=45, alert_source=source,
                                                        summary="old", incident_key="old")
    try:
        migrate(("accounts", "0004_incident_counter_moved"))
        assert dict(IncidentCounter.objects.values_list("tenant_id", "last_number")) == {
            tenant.pk: 41, other_tenant.pk: 45}
        assert alert(make_source(tenant), key="next").incident.number == 42
        assert alert(make_source(other_tenant), key="next").incident.number == 46

        # Rolling back accounts alone puts the counters back into the column.
        migrate(("accounts", "0003_platform_tenant"))
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT id, last_incident_number FROM {Tenant._meta.db_table}")
            assert dict(cursor.fetchall()) == {tenant.pk: 42, other_tenant.pk: 46}
    finally:
        executor = MigrationExecutor(connection)
        executor.migrate(executor.loader.graph.leaf_nodes())
    third = Tenant.objects.create(name="Third", slug="third")
    assert alert(make_source(third), key="first").incident.number == 1  # its counter row made by the draw
