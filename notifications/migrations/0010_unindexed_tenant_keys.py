"""Two single-column tenant indexes dropped: the notification's (notification_report_delivery starts
with tenant_id) and the delivery attempt's (read by notification only): one B-tree entry less for
every message written and every non-HOT update of it (docs/scaling.md)."""

import django.db.models.deletion
from django.db import migrations, models

from ilert.db.operations import DropForeignKeyIndex


class Migration(migrations.Migration):

    atomic = False  # DROP INDEX CONCURRENTLY runs outside a transaction

    dependencies = [
        ('accounts', '0004_incident_counter_moved'),
        ('notifications', '0009_webpush_renewal'),
    ]

    operations = [
        DropForeignKeyIndex(model_name='deliveryattempt', name='tenant',
                            field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='+', to='accounts.tenant')),
        DropForeignKeyIndex(model_name='notification', name='tenant',
                            field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='+', to='accounts.tenant')),
    ]
