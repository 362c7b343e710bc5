"""/healthz: the process answers. /readyz: the database and the broker are reachable (and, as detail,
which channels can deliver: a missing email provider is said here, it does not make the process
unready)."""

from django.conf import settings
from django.db import connection
from django.http import JsonResponse

from . import delivery
from .celery import app


def healthz(request):
    return JsonResponse({"status": "ok"})


def _database_ok():
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        return True, "ok"
    except Exception as exc:  # any failure means "not ready"; the reason is shown, not raised
        return False, exc.__class__.__name__


def _broker_ok():
    try:
        with app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, timeout=2)
        return True, "ok"
    except Exception as exc:  # same: report, do not raise
        return False, exc.__class__.__name__


def readyz(request):
    db_ok, db_state = _database_ok()
    broker_ok, broker_state = _broker_ok()
    ready = db_ok and broker_ok
    body = {
        "status": "ok" if ready else "unavailable",
        "database": db_state,
        "broker": broker_state,
        "broker_kind": "redis" if settings.REDIS_URL else "embedded",
        "delivery": delivery.states(),
    }
    if delivery.email_state() == delivery.NOT_CONFIGURED:
        body["warnings"] = [delivery.EMAIL_WARNING]
    return JsonResponse(body, status=200 if ready else 503)
