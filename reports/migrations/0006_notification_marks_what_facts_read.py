"""The outbox trigger (0002) marks a notification dirty only when what its report fact reads changes
(reports/notification_rollups.py, `compute`): the fact reads the status only as "delivered" or
"failed" and the attempts only as "more than one". Every message went through two changes the fact
does not see, each with an upsert: its claim (pending → sending) and the take right before its
provider call (attempts 0 → 1), the latter most of that statement's cost in PostgreSQL
(pg_stat_statements under bench/notify). A retry (attempts 1 → 2), a failure, a delivery, a send
(sent_at) and every other watched column still mark."""

from django.db import migrations

FAILED = ("failed", "parked", "uncertain")  # notification_rollups.FAILED
PLAIN = ("tenant_id", "kind", "user_id", "channel", "provider", "created_at", "sent_at", "bundle_id")
COLUMNS = (*PLAIN, "status", "attempts")
READ = ("({row}.status = 'delivered')", f"({{row}}.status IN ({', '.join(repr(s) for s in FAILED)}))",
        "({row}.attempts > 1)")
MARK = ("INSERT INTO reports_dirtynotification (notification_id, tenant_id, version) VALUES (NEW.id, "
        "NEW.tenant_id, 1) ON CONFLICT (notification_id) DO UPDATE SET version = "
        "reports_dirtynotification.version + 1")


def _changed(distinct):
    return " OR ".join([*(f"OLD.{c} {distinct} NEW.{c}" for c in PLAIN),
                        *(f"{r.format(row='OLD')} {distinct} {r.format(row='NEW')}" for r in READ)])


def _postgres(when):
    return f"""
DROP TRIGGER IF EXISTS reports_notification_update ON notifications_notification;
CREATE TRIGGER reports_notification_update AFTER UPDATE OF {", ".join(COLUMNS)} ON notifications_notification
    FOR EACH ROW WHEN ({when}) EXECUTE FUNCTION reports_mark_notification();
"""


def _sqlite(when):
    return ["DROP TRIGGER IF EXISTS reports_notification_update",
            f"CREATE TRIGGER reports_notification_update AFTER UPDATE OF {', '.join(COLUMNS)} "
            f"ON notifications_notification WHEN ({when}) BEGIN {MARK}; END"]


def _install(when_postgres, when_sqlite):
    def run(apps, schema_editor):
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.execute(_postgres(when_postgres))
        else:
            for statement in _sqlite(when_sqlite):
                schema_editor.execute(statement)
    return run


_OLD = " OR ".join(f"OLD.{c} {{distinct}} NEW.{c}" for c in COLUMNS)  # 0002's: any change of a column

narrow = _install(_changed("IS DISTINCT FROM"), _changed("IS NOT"))
widen = _install(_OLD.format(distinct="IS DISTINCT FROM"), _OLD.format(distinct="IS NOT"))


class Migration(migrations.Migration):

    dependencies = [
        ("reports", "0005_appends_found_by_count"),
    ]

    operations = [migrations.RunPython(narrow, widen)]
