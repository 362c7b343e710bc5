"""Runs healthchecks (https://github.com/healthchecks/healthchecks) beside the product for
bench/heartbeat: a checkout and its own virtualenv, given on the command line, never part of this
repository. See bench/heartbeat's docstring for how to set them up.

healthchecks gets its own PostgreSQL database (created if missing, migrated), 100 checks made
through its ORM, and the same gunicorn shape as ours on 127.0.0.1, with persistent database
connections like ours (DB_CONN_MAX_AGE=60; its default, 0, would open a connection per ping).
"""

import os
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlparse

import httpx

MAKE_CHECKS = """
import uuid
from django.contrib.auth.models import User
from hc.accounts.models import Project
from hc.api.models import Check
run = uuid.uuid4().hex[:8]
user = User.objects.create(username=f"bench-{run}", email=f"bench-{run}@example.org")
project = Project.objects.create(owner=user, name=f"bench {run}", badge_key=f"bench-{run}")
for i in range(COUNT):
    print("check", Check.objects.create(project=project, name=f"hb {i}").code)
"""


class Healthchecks:
    def __init__(self, checkout, python, database_url, database):
        self.checkout = Path(checkout).resolve()
        self.python = python or str(self.checkout.parent / "hc-venv" / "bin" / "python")
        if not (self.checkout / "hc" / "settings.py").is_file():
            sys.exit(f"--healthchecks {checkout}: not a healthchecks checkout (no hc/settings.py)")
        if not Path(self.python).is_file():
            sys.exit(f"--healthchecks-python {self.python}: no such interpreter (make its venv first)")
        parsed = urlparse(database_url)
        self.database = database
        self.env = {
            **{k: v for k, v in os.environ.items() if k not in ("DJANGO_SETTINGS_MODULE", "PYTHONPATH")},
            "DB": "postgres",
            "DB_HOST": parsed.hostname or "127.0.0.1",
            "DB_PORT": str(parsed.port or 5432),
            "DB_NAME": database,
            "DB_USER": parsed.username or "",
            "DB_PASSWORD": parsed.password or "",
            "DB_CONN_MAX_AGE": "60",
            "DEBUG": "False",
            "SECRET_KEY": "bench-only-not-secret",
            "ALLOWED_HOSTS": "127.0.0.1,localhost",
            "SITE_ROOT": "http://127.0.0.1:8000",
        }
        self.process = None

    def _manage(self, *args):
        return subprocess.run(
            [self.python, "manage.py", *args],
            cwd=self.checkout,
            env=self.env,
            capture_output=True,
            text=True,
            check=True,
        ).stdout

    def prepare(self, count):
        """Migrate its database and make `count` checks; answers their ping paths."""
        (self.checkout / "static-collected").mkdir(exist_ok=True)  # whitenoise warns without it
        self._manage("migrate", "-v0")
        out = self._manage("shell", "-v0", "-c", MAKE_CHECKS.replace("COUNT", str(count)))
        codes = [line.split()[1] for line in out.splitlines() if line.startswith("check ")]
        if len(codes) != count:
            sys.exit(f"healthchecks: made {len(codes)} checks, not {count}:\n{out}")
        return [f"/ping/{code}" for code in codes]

    def start(self, port, workers, threads):
        command = [
            self.python,
            "-m",
            "gunicorn",
            "hc.wsgi",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            str(workers),
            "--threads",
            str(threads),
            "--log-level",
            "warning",
            "--backlog",
            "2048",
        ]
        self.process = subprocess.Popen(command, cwd=self.checkout, env=self.env)
        probe = f"http://127.0.0.1:{port}/ping/00000000-0000-0000-0000-000000000000"  # 404 once it answers
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            try:
                if httpx.get(probe, timeout=1).status_code == 404:
                    return
            except httpx.HTTPError:
                time.sleep(0.2)
        self.stop()
        sys.exit("healthchecks' gunicorn did not come up")

    def stop(self):
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=20)
            self.process = None
