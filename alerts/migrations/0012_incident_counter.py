"""The tenants' incident counters move from accounts_tenant.last_incident_number to a table of their
own (alerts.IncidentCounter says why); accounts 0004 then drops the column."""

import django.db.models.deletion
from django.db import migrations, models


def copy_to_counters(apps, schema_editor):
    Tenant, IncidentCounter = apps.get_model("accounts", "Tenant"), apps.get_model("alerts", "IncidentCounter")
    IncidentCounter.objects.bulk_create(
        IncidentCounter(tenant_id=pk, last_number=number)
        for pk, number in Tenant.objects.filter(last_incident_number__gt=0).values_list("pk", "last_incident_number")
    )


def copy_back(apps, schema_editor):
    Tenant, IncidentCounter = apps.get_model("accounts", "Tenant"), apps.get_model("alerts", "IncidentCounter")
    for counter in IncidentCounter.objects.all():
        Tenant.objects.filter(pk=counter.tenant_id).update(last_incident_number=counter.last_number)


class Migration(migrations.Migration):

    dependencies = [
        ("accounts", "0003_platform_tenant"),
        ("alerts", "0011_open_incidents_index"),
    ]

    operations = [
        migrations.CreateModel(
            name="IncidentCounter",
            fields=[
                ("tenant", models.OneToOneField(on_delete=django.db.models.deletion.CASCADE, primary_key=True,
                                                related_name="+", serialize=False, to="accounts.tenant")),
                ("last_number", models.PositiveBigIntegerField(default=0)),
            ],
        ),
        migrations.RunPython(copy_to_counters, copy_back),
    ]
