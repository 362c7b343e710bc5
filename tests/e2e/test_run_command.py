"""The README's run command comes up on the embedded default (SQLite, no broker) and answers /healthz;
an event pages the demo admin with no broker in between; a child process that dies is restarted,
loudly, while the rest keeps serving; Ctrl-C stops the web server and the ticker."""

import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.e2e


def free_port():
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(predicate, timeout=120, what="condition"):  # a ceiling for a hung run, not a measure
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


METRICS_TOKEN = "e2e-metrics-token"


def ticker_runs(url):
    """Sweeps the ticker process counted, as the web server's /metrics shows them (multiprocess mode)."""
    from prometheus_client.parser import text_string_to_metric_families

    text = httpx.get(url + "/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"}, timeout=5).text
    return sum(sample.value for family in text_string_to_metric_families(text) for sample in family.samples
               if sample.name == "ilert_ticker_runs_total" and sample.labels["task"] == "escalation.tasks.sweep")


class Run:
    """`manage.py run` as a child process, its output collected as it comes."""

    def __init__(self, tmp_path):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.data_dir = tmp_path / "var"
        env = {k: v for k, v in os.environ.items()
               if k not in ("DATABASE_URL", "REDIS_URL", "DJANGO_SETTINGS_MODULE", "PROMETHEUS_MULTIPROC_DIR")}
        env.update(ILERT_DATA_DIR=str(self.data_dir), SECRET_KEY="e2e-secret", SWEEP_INTERVAL_SECONDS="1",
                   DEV_OUTBOX="true",  # as ./scripts/run sets it
                   METRICS_TOKEN=METRICS_TOKEN)  # its metrics go to its own var/metrics, which it empties
        self.process = subprocess.Popen(
            [sys.executable, "manage.py", "run", "--port", str(self.port)],
            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)
        self.lines = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self):
        for line in self.process.stdout:
            self.lines.append(line)

    @property
    def output(self):
        return "".join(self.lines)

    def healthy(self):
        try:
            return httpx.get(self.url + "/healthz", timeout=1).status_code == 200
        except httpx.TransportError:
            assert self.process.poll() is None, self.output
            return False

    def waited(self, predicate, what):
        """wait_for, with the run's output in the failure."""
        try:
            return wait_for(predicate, what=what)
        except AssertionError as exc:
            raise AssertionError(f"{exc}; the run said:\n{self.output[-5000:]}") from None

    def child(self, pattern):
        """The pid of the run's child process whose command line matches `pattern`, if one runs."""
        found = subprocess.run(["pgrep", "-P", str(self.process.pid), "-f", pattern], capture_output=True, text=True)
        pids = found.stdout.split()
        return int(pids[0]) if pids else None

    def ctrl_c(self):
        os.killpg(self.process.pid, signal.SIGINT)  # what Ctrl-C in a terminal does
        self.process.wait(timeout=120)
        self._reader.join(timeout=60)

    def kill(self):
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)


@pytest.fixture
def run(tmp_path):
    started = Run(tmp_path)
    yield started
    started.kill()


def test_the_run_command_comes_up_and_stops_on_ctrl_c(run):
    wait_for(run.healthy, what="/healthz")
    assert httpx.get(run.url + "/healthz", timeout=60).json() == {"status": "ok"}
    ready = httpx.get(run.url + "/readyz", timeout=60)
    assert ready.json()["database"] == "ok" and ready.json()["broker_kind"] == "embedded"
    login = httpx.get(run.url + "/login/", timeout=60)
    assert login.status_code == 200 and "Log in" in login.text
    # The ticker is another process than the web server: its sweeps show on the web server's /metrics.
    run.waited(lambda: ticker_runs(run.url) >= 2, "the ticker's sweeps on /metrics")
    assert list((run.data_dir / "metrics").glob("*.db"))
    run.ctrl_c()
    assert "log in as demo@example.com /" in run.output
    assert f"{run.url}/" in run.output
    assert run.process.returncode == 0, run.output
    leftover = subprocess.run(["pgrep", "-f", f"--bind=127.0.0.1:{run.port}"], capture_output=True, text=True)
    assert leftover.stdout.strip() == "", "the web server outlived Ctrl-C"


def demo_source_key(data_dir):
    """The demo source's integration key, read the way the product reads it (decrypted)."""
    script = ("import django; django.setup(); from alerts.models import AlertSource; "
              "print(AlertSource.objects.get(name='Demo monitoring').integration_key)")
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL", "DJANGO_SETTINGS_MODULE")}
    env.update(ILERT_DATA_DIR=str(data_dir), SECRET_KEY="e2e-secret", DJANGO_SETTINGS_MODULE="ilert.settings")
    found = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True, check=True)
    return found.stdout.strip().splitlines()[-1]


def pages_in_outbox(data_dir):
    with sqlite3.connect(data_dir / "ilert.sqlite3", timeout=30) as db:
        return db.execute("SELECT COUNT(*) FROM ilert_devmessage WHERE channel = 'push' AND body LIKE '%Checkout is failing%'"
                          ).fetchone()[0]


def test_a_child_that_dies_is_restarted_loudly_and_paging_goes_on_without_a_broker(run):
    run.waited(run.healthy, "/healthz")
    ticker = run.waited(lambda: run.child("manage.py ticker"), "the ticker")
    os.kill(ticker, signal.SIGKILL)
    run.waited(lambda: "the ticker was killed by SIGKILL" in run.output, "the loud restart message")
    assert "ERROR ilert.run" in run.output
    restarted = run.waited(lambda: (pid := run.child("manage.py ticker")) and pid != ticker and pid, "a new ticker")
    assert restarted != ticker
    assert httpx.get(run.url + "/healthz", timeout=60).status_code == 200, "the web server was not touched"

    # The restarted ticker and the web server page the demo admin: no broker anywhere.
    posted = httpx.post(run.url + "/api/events", json={
        "integrationKey": demo_source_key(run.data_dir), "eventType": "ALERT", "summary": "Checkout is failing"},
        timeout=60)
    assert posted.status_code == 202, posted.text
    run.waited(lambda: pages_in_outbox(run.data_dir) == 1, "the push page in the dev outbox")

    web = run.child("gunicorn")
    os.kill(web, signal.SIGKILL)
    run.waited(lambda: "the web server was killed by SIGKILL" in run.output, "the web server's restart message")
    run.waited(run.healthy, "/healthz after the web server's restart")
    assert run.child("manage.py ticker") == restarted, "the ticker was not touched"

    run.ctrl_c()
    assert run.process.returncode == 0, run.output
    assert pages_in_outbox(run.data_dir) == 1, "paged once (the web server's restart sent nothing again)"
