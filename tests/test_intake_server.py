"""The intake through the real production web server (gunicorn, as in compose and ./scripts/run):
chunked request bodies are read within MAX_REQUEST_BYTES, Redis down does not stop events or
pings, and PostgreSQL down answers 503 JSON with Retry-After. Outages are a closed port in the
server's own settings; the shared Redis and PostgreSQL are never stopped."""

import json
import os
import signal
import subprocess
import sys
import time
from contextlib import contextmanager

import httpx
import pytest
from django.conf import settings
from django.db import connection

from alerts.models import AlertSource, Incident
from tests.alerts.factories import make_source
from tests.e2e.stack import ROOT, database_url_of, free_port

pytestmark = [pytest.mark.e2e, pytest.mark.postgres, pytest.mark.redis, pytest.mark.django_db(transaction=True)]

LIMIT = 4096  # MAX_REQUEST_BYTES of these servers


@contextmanager
def gunicorn(tmp_path, *, database_url, redis_url):
    """gunicorn ilert.wsgi (threaded workers, as deployed) on 127.0.0.1, stopped by its own group."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    env.update({"DJANGO_SETTINGS_MODULE": "ilert.settings", "DATABASE_URL": database_url, "REDIS_URL": redis_url,
                "SECRET_KEY": "e2e-secret", "SITE_URL": url, "ILERT_DATA_DIR": str(tmp_path),
                "LOG_LEVEL": "WARNING", "MAX_REQUEST_BYTES": str(LIMIT)})
    log = tmp_path / "gunicorn.log"
    with open(log, "ab") as output:
        process = subprocess.Popen(  # noqa: S603
            [sys.executable, "-m", "gunicorn", "ilert.wsgi", f"--bind=127.0.0.1:{port}", "--workers=1",
             "--threads=4", "--log-level=warning"],
            cwd=ROOT, env=env, stdout=output, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            deadline = time.monotonic() + 120  # a ceiling for a hung server, not a measure
            while True:
                try:
                    if httpx.get(url + "/healthz", timeout=1).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"gunicorn did not come up: {log.read_text()[-3000:]}")
                time.sleep(0.2)
            yield url
        finally:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=5)


def chunks(data, size=100):
    """A body httpx sends with Transfer-Encoding: chunked (no Content-Length)."""
    for start in range(0, len(data), size):
        yield data[start:start + size]


def test_chunked_bodies_are_read_within_the_size_limit(tmp_path, tenant):
    source = make_source(tenant, integration_type="api")
    heartbeat = make_source(tenant, integration_type="heartbeat")
    event = json.dumps({"integrationKey": source.integration_key, "eventType": "ALERT", "summary": "Disk full",
                        "alertKey": "disk", "details": "x" * 1000}).encode()
    with gunicorn(tmp_path, database_url=database_url_of(connection), redis_url=settings.REDIS_URL) as url:
        request = httpx.Request("POST", url + "/api/events", content=chunks(event),
                                headers={"Content-Type": "application/json"})
        assert request.headers["Transfer-Encoding"] == "chunked" and "Content-Length" not in request.headers
        with httpx.Client(timeout=60) as client:
            response = client.send(request)
            assert response.status_code == 202, response.text
            assert Incident.objects.get(incident_key="disk").summary == "Disk full"

            too_large = json.dumps({"integrationKey": source.integration_key, "eventType": "ALERT",
                                    "summary": "big", "details": "x" * LIMIT}).encode()
            response = client.post(url + "/api/events", content=chunks(too_large, 1000),
                                   headers={"Content-Type": "application/json"})
            assert response.status_code == 413, response.text
            assert response.json()["code"] == "too_large"
            assert Incident.objects.count() == 1

            # the same connection still serves the next request (keep-alive after a refused body)
            response = client.post(url + f"/api/heartbeats/{heartbeat.integration_key}", content=chunks(b""))
            assert response.status_code == 202


def test_redis_down_events_and_pings_are_still_accepted(tmp_path, tenant):
    source = make_source(tenant, integration_type="api")
    heartbeat = make_source(tenant, integration_type="heartbeat")
    with gunicorn(tmp_path, database_url=database_url_of(connection), redis_url="redis://127.0.0.1:1/0") as url:
        for n in range(5):
            response = httpx.post(url + "/api/events", json={
                "integrationKey": source.integration_key, "eventType": "ALERT", "summary": f"Disk {n}",
                "alertKey": f"disk-{n}"}, timeout=60)
            assert response.status_code == 202, response.text
        assert httpx.get(url + f"/api/heartbeats/{heartbeat.integration_key}", timeout=60).status_code == 202
    assert Incident.objects.filter(alert_source=source).count() == 5
    assert AlertSource.objects.get(pk=heartbeat.pk).last_ping_at is not None
    logged = (tmp_path / "gunicorn.log").read_text()
    assert logged.count("rate limits: Redis is unreachable") == 1, logged[-3000:]
    assert logged.count("could not publish") == 1, logged[-3000:]  # later kicks skipped, not retried


def test_postgres_down_answers_503_json_with_retry_after(tmp_path):
    with gunicorn(tmp_path, database_url="postgres://ilert:ilert@127.0.0.1:1/ilert",
                  redis_url=settings.REDIS_URL) as url:
        response = httpx.post(url + "/api/events", json={"integrationKey": "k" * 43, "eventType": "ALERT",
                                                          "summary": "s"}, timeout=60)
        assert response.status_code == 503 and response.json()["code"] == "database_unavailable"
        assert int(response.headers["Retry-After"]) > 0
        response = httpx.get(url + "/api/heartbeats/" + "k" * 43, timeout=60)
        assert response.status_code == 503 and response.headers["Content-Type"] == "application/json"
        dashboard = httpx.get(url + "/incidents/", cookies={"sessionid": "x" * 32}, timeout=60)
        assert dashboard.status_code == 503 and dashboard.headers["Content-Type"].startswith("text/html")
        assert "Temporarily unavailable" in dashboard.text
