"""python manage.py run — the whole product on one machine (DESIGN.md §5, the embedded default).

Applies migrations, seeds the demo organisation, then runs a Celery worker with beat and the web
server (gunicorn) as child processes. Ctrl-C stops all of them.
"""

import os
import signal
import subprocess
import sys
import time

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Run web server, Celery worker and beat together (embedded default: SQLite, no Redis)."

    def add_arguments(self, parser):
        parser.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))
        parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))
        parser.add_argument("--no-worker", action="store_true", help="Only the web server.")

    def handle(self, *args, host, port, no_worker, **options):
        settings.DATA_DIR.mkdir(parents=True, exist_ok=True)
        for folder in ("broker", "broker-processed", "static"):
            (settings.DATA_DIR / folder).mkdir(exist_ok=True)
        if not os.environ.get("SITE_URL"):  # links in pages and messages point at this server
            os.environ["SITE_URL"] = settings.SITE_URL = f"http://{host}:{port}"
        call_command("migrate", interactive=False, verbosity=0)
        self.stdout.write("Database ready.")
        call_command("seed_demo", password_file=str(settings.DATA_DIR / "demo-password"))

        python = sys.executable
        children = []
        if not no_worker:
            children.append(subprocess.Popen([  # noqa: S603 - our own interpreter and arguments
                python, "-m", "celery", "-A", "ilert", "--quiet", "worker", "--beat", "--pool=threads",
                f"--queues={settings.WORKER_QUEUES}",
                "--concurrency=8",
                "--loglevel=WARNING", f"--schedule={settings.DATA_DIR / 'celerybeat-schedule'}",
            ]))
        children.append(subprocess.Popen([  # noqa: S603
            python, "-m", "gunicorn", "ilert.wsgi", f"--bind={host}:{port}", "--workers=1", "--threads=8",
            "--log-level=warning", "--graceful-timeout=5",  # no access log: ingestion paths carry keys
        ]))
        url = f"http://{host}:{port}/"
        self.stdout.write(self.style.SUCCESS(f"\nilert is running at {url}  (Ctrl-C stops everything)\n"))

        stopping = False

        def stop(signum, frame):
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGINT, stop)
        signal.signal(signal.SIGTERM, stop)
        try:
            while not stopping and all(child.poll() is None for child in children):
                time.sleep(0.3)
        finally:
            for child in children:
                if child.poll() is None:
                    child.send_signal(signal.SIGTERM)
            deadline = time.monotonic() + 10
            for child in children:
                try:
                    child.wait(timeout=max(0.1, deadline - time.monotonic()))
                except subprocess.TimeoutExpired:
                    child.kill()
        failed = [child for child in children if child.returncode not in (0, -signal.SIGTERM, None)]
        if failed and not stopping:
            raise SystemExit(1)
        self.stdout.write("Stopped.")
