"""Feed tokens are secrets: keep them encrypted (to show the URL again) and look them up by hash."""

from django.db import migrations, models


def encrypt_tokens(apps, schema_editor):
    from ilert import secrets

    CalendarFeed = apps.get_model("schedules", "CalendarFeed")
    for feed in CalendarFeed.objects.all():
        feed.token_hash = secrets.lookup_hash(feed.token)
        feed.token_encrypted = secrets.encrypt(feed.token)
        feed.save(update_fields=["token_hash", "token_encrypted"])


class Migration(migrations.Migration):
    dependencies = [("schedules", "0001_initial")]

    operations = [
        migrations.AddField("calendarfeed", "token_hash", models.CharField(max_length=64, null=True)),
        migrations.AddField("calendarfeed", "token_encrypted", models.TextField(default="")),
        migrations.RunPython(encrypt_tokens, migrations.RunPython.noop),
        migrations.RemoveField("calendarfeed", "token"),
        migrations.AlterField("calendarfeed", "token_hash", models.CharField(max_length=64, unique=True)),
        migrations.AlterField("calendarfeed", "token_encrypted", models.TextField()),
    ]
