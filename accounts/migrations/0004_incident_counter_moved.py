"""The incident counter moves to alerts.IncidentCounter (alerts 0012 made its table). Each tenant's
counter starts from the column or from the highest number in use, whichever is higher (a process
still running the old code may have drawn from the column meanwhile); then the column goes.
Backwards, the counters go back into the column, so rolling back this app alone restarts no
tenant's numbering."""

from django.db import migrations
from django.db.models import Max


def catch_up(apps, schema_editor):
    Tenant, Incident = apps.get_model("accounts", "Tenant"), apps.get_model("alerts", "Incident")
    IncidentCounter = apps.get_model("alerts", "IncidentCounter")
    highest = dict(Incident.objects.values("tenant_id").annotate(n=Max("number")).values_list("tenant_id", "n"))
    counters = dict(IncidentCounter.objects.values_list("tenant_id", "last_number"))
    for pk, column in Tenant.objects.values_list("pk", "last_incident_number"):
        number = max(column, highest.get(pk) or 0, counters.get(pk, 0))
        if number > counters.get(pk, 0):
            IncidentCounter.objects.update_or_create(tenant_id=pk, defaults={"last_number": number})


def copy_back(apps, schema_editor):
    Tenant, IncidentCounter = apps.get_model("accounts", "Tenant"), apps.get_model("alerts", "IncidentCounter")
    for tenant_id, number in IncidentCounter.objects.values_list("tenant_id", "last_number"):
        Tenant.objects.filter(pk=tenant_id).update(last_incident_number=number)


class Migration(migrations.Migration):

    dependencies = [
        ("accounts", "0003_platform_tenant"),
        ("alerts", "0012_incident_counter"),
    ]

    operations = [
        migrations.RunPython(catch_up, copy_back),
        migrations.RemoveField(model_name="tenant", name="last_incident_number"),
    ]
