"""Production-safe settings: no start without SECRET_KEY unless DEBUG; /readyz says when the
broker is unreachable."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def run(code, **env):
    base = {"PATH": os.environ["PATH"], "ILERT_DATA_DIR": env.pop("data_dir")}
    base.update(env)
    return subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=base, capture_output=True, text=True, timeout=60)


SETUP = "import os; os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'ilert.settings'); import django; django.setup(); "


def test_production_mode_refuses_to_start_without_a_secret_key(tmp_path):
    result = run(SETUP, data_dir=str(tmp_path))
    assert result.returncode != 0 and "SECRET_KEY is not set" in result.stderr
    assert run(SETUP, data_dir=str(tmp_path), DEBUG="true").returncode == 0
    assert run(SETUP, data_dir=str(tmp_path), SECRET_KEY="x").returncode == 0


def test_debug_is_off_and_cookies_are_secure_behind_https(tmp_path):
    code = SETUP + "from django.conf import settings as s; print(s.DEBUG, s.SESSION_COOKIE_SECURE, s.CSRF_COOKIE_SECURE)"
    assert run(code, data_dir=str(tmp_path), SECRET_KEY="x").stdout.split() == ["False", "False", "False"]
    secure = run(code, data_dir=str(tmp_path), SECRET_KEY="x", SITE_URL="https://ilert.example.com")
    assert secure.stdout.split() == ["False", "True", "True"]


def test_readyz_answers_503_when_the_broker_is_unreachable(tmp_path):
    # /readyz reads no table, so the probe needs no migrated database (migrating took most of a minute).
    code = SETUP + (
        "from django.test import Client; r = Client(HTTP_HOST='127.0.0.1').get('/readyz'); "
        "print(r.status_code, r.json()['database'], r.json()['broker'])"
    )
    result = run(code, data_dir=str(tmp_path), SECRET_KEY="x", REDIS_URL="redis://127.0.0.1:1/0")
    status, database, broker = result.stdout.split()
    assert (status, database) == ("503", "ok") and broker != "ok", result.stderr[-2000:]


def test_uptime_checks_have_their_own_queue_and_paging_keeps_the_default():
    from ilert.celery import app

    def queue(task):
        return app.amqp.router.route({}, task)["queue"].name

    assert queue("uptime.tasks.sweep") == queue("uptime.tasks.check_monitor") == "uptime"
    assert queue("escalation.tasks.sweep") == queue("notifications.tasks.sweep") == "celery"


def test_build_commands_run_without_a_secret_key_but_serving_does_not(tmp_path):
    base = {"PATH": os.environ["PATH"], "ILERT_DATA_DIR": str(tmp_path)}

    def manage(*args):
        return subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=base, capture_output=True,
                              text=True, timeout=60)

    assert manage("makemigrations", "--check", "--dry-run").returncode == 0
    refused = manage("migrate")
    assert refused.returncode != 0 and "SECRET_KEY is not set" in refused.stderr


def test_the_escalation_gather_window_is_refused_outside_zero_to_one_second(tmp_path):
    for bad in ("-1", "5"):
        result = run(SETUP, data_dir=str(tmp_path), SECRET_KEY="x", ESCALATION_GATHER_SECONDS=bad)
        assert result.returncode != 0 and "ESCALATION_GATHER_SECONDS" in result.stderr
    code = SETUP + "from django.conf import settings as s; print(s.ESCALATION_GATHER_SECONDS)"
    assert run(code, data_dir=str(tmp_path), SECRET_KEY="x", ESCALATION_GATHER_SECONDS="0.25").stdout.split() == ["0.25"]
