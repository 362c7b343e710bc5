"""A Twilio Account SID belongs to at most one organisation and never to the platform's account.

Rows from before that was enforced cannot tell the rightful owner of a shared SID from a tenant
that copied it, so every organisation on a shared SID, and any on the platform's SID, loses its
stored Twilio settings (it falls back to the platform account or the dev outbox) and an admin
enters them again.
"""

import logging

from django.conf import settings
from django.db import migrations, models
from django.db.models import Count

log = logging.getLogger(__name__)


def clear_shared_sids(apps, schema_editor):
    ProviderSettings = apps.get_model("notifications", "ProviderSettings")
    rows = ProviderSettings.objects.exclude(twilio_account_sid="")
    shared = set(rows.values("twilio_account_sid").annotate(n=Count("id")).filter(n__gt=1)
                 .values_list("twilio_account_sid", flat=True))
    platform = getattr(settings, "TWILIO_ACCOUNT_SID", "")
    if platform:
        shared.add(platform)
    cleared = rows.filter(twilio_account_sid__in=shared)
    for tenant_id, sid in cleared.values_list("tenant_id", "twilio_account_sid"):
        log.warning("Twilio settings of tenant %s cleared: Account SID %s is shared or the platform's", tenant_id, sid)
    cleared.update(twilio_account_sid="", twilio_auth_token_encrypted="", twilio_from_number="")


class Migration(migrations.Migration):

    dependencies = [
        ('accounts', '0001_initial'),
        ('notifications', '0001_initial'),
    ]

    operations = [
        migrations.RunPython(clear_shared_sids, migrations.RunPython.noop),
        migrations.AddConstraint(
            model_name='providersettings',
            constraint=models.UniqueConstraint(condition=models.Q(('twilio_account_sid', ''), _negated=True), fields=('twilio_account_sid',), name='provider_settings_twilio_sid_unique'),
        ),
    ]
