"""An event appended to an open incident no longer marks the incident dirty from a trigger (0004):
the trigger's upsert was a large share of the append statement's cost in PostgreSQL, on the path
that takes an alert storm (docs/reports.md has the figures). The sweeper and every report read instead compare the open incidents' event
counts with their facts (reports/rollups.py, mark_appended)."""

from importlib import import_module

from django.db import migrations

marking = import_module("reports.migrations.0004_mark_appended_incidents")


class Migration(migrations.Migration):

    dependencies = [
        ("alerts", "0011_open_incidents_index"),
        ("reports", "0004_mark_appended_incidents"),
    ]

    operations = [migrations.RunPython(marking.uninstall, marking.install)]
