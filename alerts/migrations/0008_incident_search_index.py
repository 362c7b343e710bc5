"""A GIN index for the incident list's full-text search (alerts/search.py), on PostgreSQL only: the
expression lives in alerts.search so the index and the query cannot drift apart."""

from django.db import migrations


def create(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        from alerts.search import CREATE_INDEX

        schema_editor.execute(CREATE_INDEX)


def drop(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        from alerts.search import DROP_INDEX

        schema_editor.execute(DROP_INDEX)


class Migration(migrations.Migration):
    dependencies = [("alerts", "0007_email_folded_key")]

    operations = [migrations.RunPython(create, drop)]
