"""The invocation's single-column connection and incident indexes dropped: invocation_connection and
invocation_incident start with them."""

import django.db.models.deletion
from django.db import migrations, models

from ilert.db.operations import DropForeignKeyIndex


class Migration(migrations.Migration):

    atomic = False  # DROP INDEX CONCURRENTLY runs outside a transaction

    dependencies = [
        ('connectors', '0001_initial'),
    ]

    operations = [
        DropForeignKeyIndex(model_name='connectioninvocation', name='connection',
                            field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='invocations', to='connectors.connection')),
        DropForeignKeyIndex(model_name='connectioninvocation', name='incident',
                            field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='+', to='alerts.incident')),
    ]
