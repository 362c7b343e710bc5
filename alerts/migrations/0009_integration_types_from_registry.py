# The choices become a reference to the registry (alerts.integrations.registry.choices): adding an
# inbound integration changes no migration. No database change (choices are not stored).

import alerts.integrations.registry
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('alerts', '0008_incident_search_index'),
    ]

    operations = [
        migrations.AlterField(
            model_name='alertsource',
            name='integration_type',
            field=models.CharField(choices=alerts.integrations.registry.choices, default='api', max_length=20),
        ),
    ]
