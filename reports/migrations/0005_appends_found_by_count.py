"""An event appended to an open incident no longer marks the incident dirty from a trigger (0004):
the trigger's upsert was a large share of the append statement's cost in PostgreSQL, on the path
that takes an alert storm (docs/reports.md has the figures). The fold takes the open incidents
whose event counts differ from their facts' instead (reports/rollups.py, behind_facts)."""

from importlib import import_module

from django.db import migrations
from django.db.models import F

marking = import_module("reports.migrations.0004_mark_appended_incidents")


def restore(apps, schema_editor):
    """Back to the trigger, and the marks it would have written since: the older code's fold reads
    only marks."""
    marking.install(apps, schema_editor)
    fact, dirty = apps.get_model("reports", "IncidentFact"), apps.get_model("reports", "DirtyIncident")
    behind = (fact.objects.filter(incident__status__in=("PENDING", "ACCEPTED"))
              .exclude(events=F("incident__event_count")).values_list("incident_id", "tenant_id"))
    dirty.objects.bulk_create([dirty(incident_id=pk, tenant_id=tenant_id) for pk, tenant_id in behind],
                              update_conflicts=True, unique_fields=["incident"], update_fields=["token"])


class Migration(migrations.Migration):

    dependencies = [
        ("alerts", "0011_open_incidents_index"),
        ("reports", "0004_mark_appended_incidents"),
    ]

    operations = [migrations.RunPython(marking.uninstall, restore)]
