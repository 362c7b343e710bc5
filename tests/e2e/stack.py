"""Start the real web server (gunicorn) and a real Celery worker (its ticker runs the sweepers), on
PostgreSQL and Redis, as child processes of a test or benchmark. Every process is started in its own
session and stopped by its own process group id."""

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[2]


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Stack:
    def __init__(self, *, database_url, redis_url, env=None, tmp, settings="ilert.settings",
                 worker_concurrency=4, web_workers=2, worker_processes=1, log=None):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {k: v for k, v in os.environ.items() if k not in ("DJANGO_SETTINGS_MODULE",)}
        self.env.update({
            "DJANGO_SETTINGS_MODULE": settings, "DATABASE_URL": database_url, "REDIS_URL": redis_url,
            "SECRET_KEY": "e2e-secret", "SITE_URL": self.url, "SWEEP_INTERVAL_SECONDS": "1",
            "ILERT_DATA_DIR": str(tmp), "LOG_LEVEL": "WARNING", "DB_CONN_MAX_AGE": "60",
        })
        self.env.update(env or {})
        self.tmp = Path(tmp)
        self.worker_concurrency, self.web_workers = worker_concurrency, web_workers
        self.worker_processes = worker_processes
        self.processes = []
        self.log = log or (self.tmp / "stack.log")

    def __enter__(self):
        python = sys.executable
        output = open(self.log, "ab")  # noqa: SIM115 - closed in __exit__
        self._output = output
        for n in range(self.worker_processes):  # separate processes: the GIL holds each to one core
            self.processes.append(subprocess.Popen(  # noqa: S603
                [python, "-m", "celery", "-A", "ilert", "worker", "--pool=threads", "--queues=celery,uptime",
                 f"--concurrency={self.worker_concurrency}", "--loglevel=WARNING", "--without-gossip",
                 "--without-mingle", f"--hostname=worker{n}@%h", *(["--purge"] if n == 0 else [])],
                cwd=ROOT, env=self.env, stdout=output, stderr=subprocess.STDOUT, start_new_session=True))
        self.processes.append(subprocess.Popen(  # noqa: S603
            [python, "-m", "gunicorn", "ilert.wsgi", f"--bind=127.0.0.1:{self.port}",
             f"--workers={self.web_workers}", "--threads=4", "--log-level=warning"],
            cwd=ROOT, env=self.env, stdout=output, stderr=subprocess.STDOUT, start_new_session=True))
        deadline = time.monotonic() + 120  # a ceiling for a hung server, not a measure
        while time.monotonic() < deadline:
            try:
                if httpx.get(self.url + "/healthz", timeout=1).status_code == 200:
                    return self
            except httpx.TransportError:
                pass
            for process in self.processes:
                if process.poll() is not None:
                    raise RuntimeError(f"a process of the stack exited: {self.log.read_text()[-3000:]}")
            time.sleep(0.2)
        raise RuntimeError(f"the web server did not come up: {self.log.read_text()[-3000:]}")

    def __exit__(self, *exc):
        for process in self.processes:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for process in self.processes:
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=5)
        self._output.close()


def database_url_of(connection):
    """The DATABASE_URL of the database pytest-django made (the test database)."""
    s = connection.settings_dict
    return f"postgres://{s['USER']}:{s['PASSWORD']}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}"
