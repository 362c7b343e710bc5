"""The incident fact's single-column tenant index dropped: fact_tenant_created starts with tenant_id."""

import django.db.models.deletion
from django.db import migrations, models

from ilert.db.operations import DropForeignKeyIndex


class Migration(migrations.Migration):

    atomic = False  # DROP INDEX CONCURRENTLY runs outside a transaction

    dependencies = [
        ('accounts', '0004_incident_counter_moved'),
        ('reports', '0006_notification_marks_what_facts_read'),
    ]

    operations = [
        DropForeignKeyIndex(model_name='incidentfact', name='tenant',
                            field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='+', to='accounts.tenant')),
    ]
