"""An event appended to an open incident is written by one statement (alerts/services/append.py)
and is no domain event, so the reports learn of it here: a change of `event_count` marks the
incident dirty, in the same statement, with a new token (a fold that read the older count keeps
the mark). Every other incident change still marks through reports.receivers.mark_dirty."""

from django.db import migrations

POSTGRES = """
CREATE FUNCTION reports_mark_appended_incident() RETURNS trigger AS $$
BEGIN
    INSERT INTO reports_dirtyincident (incident_id, tenant_id, token) VALUES (NEW.id, NEW.tenant_id, gen_random_uuid())
        ON CONFLICT (incident_id) DO UPDATE SET token = EXCLUDED.token;
    RETURN NEW;
END $$ LANGUAGE plpgsql;
CREATE TRIGGER reports_incident_appended AFTER UPDATE OF event_count ON alerts_incident
    FOR EACH ROW WHEN (OLD.event_count IS DISTINCT FROM NEW.event_count)
    EXECUTE FUNCTION reports_mark_appended_incident();
"""
POSTGRES_DROP = """
DROP TRIGGER IF EXISTS reports_incident_appended ON alerts_incident;
DROP FUNCTION IF EXISTS reports_mark_appended_incident();
"""
# SQLite keeps a UUIDField as 32 hex digits.
SQLITE = ("CREATE TRIGGER reports_incident_appended AFTER UPDATE OF event_count ON alerts_incident "
          "WHEN OLD.event_count IS NOT NEW.event_count BEGIN "
          "INSERT INTO reports_dirtyincident (incident_id, tenant_id, token) "
          "VALUES (NEW.id, NEW.tenant_id, lower(hex(randomblob(16)))) "
          "ON CONFLICT (incident_id) DO UPDATE SET token = excluded.token; END")
SQLITE_DROP = "DROP TRIGGER IF EXISTS reports_incident_appended"


def install(apps, schema_editor):
    schema_editor.execute(POSTGRES if schema_editor.connection.vendor == "postgresql" else SQLITE)


def uninstall(apps, schema_editor):
    schema_editor.execute(POSTGRES_DROP if schema_editor.connection.vendor == "postgresql" else SQLITE_DROP)


class Migration(migrations.Migration):

    dependencies = [
        ('alerts', '0009_integration_types_from_registry'),
        ('reports', '0003_on_call_days'),
    ]

    operations = [migrations.RunPython(install, uninstall)]
