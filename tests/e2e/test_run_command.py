"""The README's run command comes up on the embedded default and answers /healthz; Ctrl-C stops
the web server, the worker and beat."""

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.e2e


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_the_run_command_comes_up_and_stops_on_ctrl_c(tmp_path):
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL", "DJANGO_SETTINGS_MODULE")}
    env.update(ILERT_DATA_DIR=str(tmp_path / "var"), SECRET_KEY="e2e-secret", SWEEP_INTERVAL_SECONDS="1")
    process = subprocess.Popen(
        [sys.executable, "manage.py", "run", "--port", str(port)],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 90
        health = None
        while time.monotonic() < deadline:
            try:
                health = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1)
                break
            except httpx.TransportError:
                assert process.poll() is None, process.stdout.read()
                time.sleep(0.3)
        assert health is not None and health.status_code == 200 and health.json() == {"status": "ok"}
        ready = httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=5)
        assert ready.json()["database"] == "ok" and ready.json()["broker_kind"] == "embedded"
        login = httpx.get(f"http://127.0.0.1:{port}/login/", timeout=5)
        assert login.status_code == 200 and "Log in" in login.text
    finally:
        os.killpg(process.pid, signal.SIGINT)  # what Ctrl-C in a terminal does
        output, _ = process.communicate(timeout=30)
    assert "log in as demo@example.com /" in output
    assert f"http://127.0.0.1:{port}/" in output
    assert process.returncode == 0, output
    leftover = subprocess.run(["pgrep", "-f", f"--bind=127.0.0.1:{port}"], capture_output=True, text=True)
    assert leftover.stdout.strip() == "", "the web server outlived Ctrl-C"
