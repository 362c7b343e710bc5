"""The open incidents of all tenants, indexed (the reports' fold compares their event counts with
their facts, reports/rollups.py behind_facts). Built CONCURRENTLY on PostgreSQL: a plain CREATE INDEX
holds off every write to alerts_incident, the intake's, for as long as the build of a large table
takes."""

from django.db import migrations, models

INDEX = models.Index(condition=models.Q(("status__in", ("PENDING", "ACCEPTED"))), fields=["tenant"],
                     name="incident_open")


def _concurrently(schema_editor):
    return {"concurrently": True} if schema_editor.connection.vendor == "postgresql" else {}


def create(apps, schema_editor):
    schema_editor.add_index(apps.get_model("alerts", "Incident"), INDEX, **_concurrently(schema_editor))


def drop(apps, schema_editor):
    schema_editor.remove_index(apps.get_model("alerts", "Incident"), INDEX, **_concurrently(schema_editor))


class Migration(migrations.Migration):

    atomic = False  # CREATE INDEX CONCURRENTLY runs outside a transaction

    dependencies = [
        ("alerts", "0010_heartbeat_pings_without_index_writes"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[migrations.AddIndex(model_name="incident", index=INDEX)],
            database_operations=[migrations.RunPython(create, drop)],
        ),
    ]
