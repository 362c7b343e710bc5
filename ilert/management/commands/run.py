"""python manage.py run — the whole product on one machine (docs/architecture.md §5, the embedded default).

Applies migrations, seeds the demo organisation, then runs two child processes and keeps them
running: the web server (gunicorn) and the ticker (`manage.py ticker`: every sweeper and the
housekeeping, no broker). Tasks kicked after a change run in the process that kicks them
(ilert/localtasks.py), so there is no queue between the two. A child that dies is restarted (after
1 s, doubling up to 30 s while it keeps dying) and the restart is logged as an ERROR; the other one
is not touched. Ctrl-C stops both.
"""

import logging
import os
import signal
import subprocess
import sys
import time

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand

from ilert import metrics

log = logging.getLogger("ilert.run")

FIRST_DELAY, MAX_DELAY = 1.0, 30.0
STEADY_SECONDS = 60  # a child up this long is healthy again: its next restart waits FIRST_DELAY


class Child:
    def __init__(self, name, argv):
        self.name, self.argv = name, argv
        self.process, self.started_at, self.restarts = None, 0.0, 0
        self.delay, self.restart_at = FIRST_DELAY, None  # delay: before the next restart

    def start(self):
        self.process = subprocess.Popen(self.argv)  # noqa: S603 - our own interpreter and arguments
        self.started_at, self.restart_at = time.monotonic(), None
        log.info("started the %s (pid %s)", self.name, self.process.pid)

    def running(self):
        return self.process is not None and self.process.poll() is None


def describe(returncode):
    if returncode < 0:
        try:
            return f"was killed by {signal.Signals(-returncode).name}"
        except ValueError:
            return f"was killed by signal {-returncode}"
    return f"exited with code {returncode}"


class Command(BaseCommand):
    help = "Run the web server and the ticker (embedded default: SQLite, no Redis), restarting either if it dies."

    def add_arguments(self, parser):
        parser.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))
        parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))
        parser.add_argument("--no-worker", action="store_true", help="Only the web server (no ticker).")

    def handle(self, *args, host, port, no_worker, **options):
        settings.DATA_DIR.mkdir(parents=True, exist_ok=True)
        (settings.DATA_DIR / "static").mkdir(exist_ok=True)
        if not os.environ.get("SITE_URL"):  # links in pages and messages point at this server
            os.environ["SITE_URL"] = settings.SITE_URL = f"http://{host}:{port}"
        metrics.clean()  # the metrics of an earlier run (ilert/metrics.py), before anything here counts
        call_command("migrate", interactive=False, verbosity=0)
        self.stdout.write("Database ready.")
        call_command("seed_demo", password_file=str(settings.DATA_DIR / "demo-password"))

        python = sys.executable
        children = [Child("web server", [
            python, "-m", "gunicorn", "ilert.wsgi", f"--bind={host}:{port}", "--workers=1", "--threads=8",
            "--log-level=warning", "--graceful-timeout=5",  # no access log: ingestion paths carry keys
        ])]
        if not no_worker:
            children.append(Child("ticker", [python, str(settings.BASE_DIR / "manage.py"), "ticker"]))
        for child in children:
            child.start()
        url = f"http://{host}:{port}/"
        self.stdout.write(self.style.SUCCESS(f"\nilert is running at {url}  (Ctrl-C stops everything)\n"))
        self.stdout.flush()

        stopping = False

        def stop(signum, frame):
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGINT, stop)
        signal.signal(signal.SIGTERM, stop)
        try:
            while not stopping:
                self.supervise(children)
                time.sleep(0.3)
        finally:
            for child in children:
                if child.running():
                    child.process.send_signal(signal.SIGTERM)
            deadline = time.monotonic() + 10
            for child in children:
                if child.process is None:
                    continue
                try:
                    child.process.wait(timeout=max(0.1, deadline - time.monotonic()))
                except subprocess.TimeoutExpired:
                    child.process.kill()
        self.stdout.write("Stopped.")

    def supervise(self, children):
        """Restart the children that died, each after its delay."""
        now = time.monotonic()
        for child in children:
            if child.restart_at is not None:
                if now >= child.restart_at:
                    child.restarts += 1
                    child.start()
                continue
            if child.running():
                continue
            returncode, up = child.process.returncode, now - child.started_at
            metrics.process_dead(child.process.pid)
            delay = FIRST_DELAY if up >= STEADY_SECONDS else child.delay
            child.restart_at, child.delay = now + delay, min(MAX_DELAY, delay * 2)
            log.error("the %s %s after %.0f s; restarting it in %.0f s (restart %s; the rest keeps running)",
                      child.name, describe(returncode), up, delay, child.restarts + 1)
