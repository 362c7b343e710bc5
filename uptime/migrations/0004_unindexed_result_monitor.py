"""The check result's single-column monitor index dropped: uptime_result_monitor_at starts with it
(one B-tree entry less for every check)."""

import django.db.models.deletion
from django.db import migrations, models

from ilert.db.operations import DropForeignKeyIndex


class Migration(migrations.Migration):

    atomic = False  # DROP INDEX CONCURRENTLY runs outside a transaction

    dependencies = [
        ('uptime', '0003_encrypted_http_headers'),
    ]

    operations = [
        DropForeignKeyIndex(model_name='checkresult', name='monitor',
                            field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='results', to='uptime.uptimemonitor')),
    ]
