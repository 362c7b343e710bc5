"""The table the tenants' incident counters move to (alerts.IncidentCounter says why); accounts 0004
fills it from accounts_tenant.last_incident_number and drops that column."""

import django.db.models.deletion
from django.db import migrations, models


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
    ]
