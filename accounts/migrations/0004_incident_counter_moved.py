"""The incident counter lives in alerts.IncidentCounter now (copied there by alerts 0012)."""

from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ("accounts", "0003_platform_tenant"),
        ("alerts", "0012_incident_counter"),
    ]

    operations = [
        migrations.RemoveField(model_name="tenant", name="last_incident_number"),
    ]
