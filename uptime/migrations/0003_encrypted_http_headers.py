"""Request headers of uptime monitors are stored encrypted (they often hold credentials)."""

import json

from django.db import migrations, models


def encrypt_headers(apps, schema_editor):
    from ilert import secrets

    Monitor = apps.get_model("uptime", "UptimeMonitor")
    for monitor in Monitor.objects.exclude(http_headers={}).only("pk", "http_headers").iterator():
        Monitor.objects.filter(pk=monitor.pk).update(
            http_headers_encrypted=secrets.encrypt(json.dumps(monitor.http_headers)))


def decrypt_headers(apps, schema_editor):
    from ilert import secrets

    Monitor = apps.get_model("uptime", "UptimeMonitor")
    for monitor in Monitor.objects.exclude(http_headers_encrypted="").only("pk", "http_headers_encrypted").iterator():
        Monitor.objects.filter(pk=monitor.pk).update(
            http_headers=json.loads(secrets.decrypt(monitor.http_headers_encrypted)))


class Migration(migrations.Migration):

    dependencies = [
        ('uptime', '0002_time_weighted_uptime'),
    ]

    operations = [
        migrations.AddField(
            model_name='uptimemonitor',
            name='http_headers_encrypted',
            field=models.TextField(blank=True),
        ),
        migrations.RunPython(encrypt_headers, decrypt_headers),
        migrations.RemoveField(
            model_name='uptimemonitor',
            name='http_headers',
        ),
    ]
