"""Two single-column tenant indexes dropped: the incident's (incident_tenant_status and the numbers'
unique index start with tenant_id) and the timeline's (read by incident only). Each was one more
B-tree entry for every incident written and every event appended (docs/scaling.md)."""

import django.db.models.deletion
from django.db import migrations, models

from ilert.db.operations import DropForeignKeyIndex


class Migration(migrations.Migration):

    atomic = False  # DROP INDEX CONCURRENTLY runs outside a transaction

    dependencies = [
        ('accounts', '0004_incident_counter_moved'),
        ('alerts', '0012_incident_counter'),
    ]

    operations = [
        DropForeignKeyIndex(model_name='incident', name='tenant',
                            field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='+', to='accounts.tenant')),
        DropForeignKeyIndex(model_name='incidentlogentry', name='tenant',
                            field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='+', to='accounts.tenant')),
    ]
