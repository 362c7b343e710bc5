"""Connector outbox figures: what connections add to an incident change (rows written in the
incident's transaction), and how fast one worker drains invocations to a local webhook receiver.

    python bench/connectors_delivery.py [N]          # SQLite in a temp dir, or DATABASE_URL's server

Uses a throwaway test database (created and dropped), ALLOW_PRIVATE_TARGETS for the local receiver.
"""

import os
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ilert.settings_test")
os.environ.setdefault("ILERT_DATA_DIR", tempfile.mkdtemp(prefix="ilert-bench-"))
os.environ["ALLOW_PRIVATE_TARGETS"] = "true"
os.environ["ILERT_KICK_TASKS"] = "false"

import django  # noqa: E402

django.setup()

from django.test.utils import setup_databases, teardown_databases  # noqa: E402


class Receiver(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    count = 0

    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        Receiver.count += 1
        self.send_response(204)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


def main(n):
    from accounts.models import Tenant
    from alerts import services as alerts
    from alerts.ingest import EventType, InboundEvent
    from connectors import engine, services
    from connectors.models import ConnectionInvocation

    server = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/hook"

    tenant = Tenant.objects.create(name="Bench", slug="bench")
    plain = alerts.create_alert_source(tenant, name="plain")
    wired = alerts.create_alert_source(tenant, name="wired")
    for i in range(3):
        connector = services.create_connector(tenant, kind="webhook", name=f"hook {i}", settings={"url": url})
        services.create_connection(wired, connector)

    def ingest(source, tag):
        started = time.perf_counter()
        for i in range(n):
            alerts.ingest(source, InboundEvent(EventType.ALERT, summary=f"{tag} {i}", incident_key=f"{tag}-{i}"))
        return (time.perf_counter() - started) / n * 1000

    ingest(plain, "warm")
    base = ingest(plain, "plain")
    wired_ms = ingest(wired, "wired")
    rows = ConnectionInvocation.objects.count()
    print(f"ingest, source without connections : {base:6.2f} ms per new incident")
    print(f"ingest, source with 3 connections  : {wired_ms:6.2f} ms per new incident "
          f"(+{wired_ms - base:.2f} ms, x{wired_ms / base:.2f}; {rows} outbox rows written)")

    started = time.perf_counter()
    delivered = 0
    while True:
        done = engine.deliver_due(batch=50)
        if not done:
            break
        delivered += done
    elapsed = time.perf_counter() - started
    assert Receiver.count == delivered == rows, (Receiver.count, delivered, rows)
    print(f"delivery, one worker, local receiver: {delivered} invocations in {elapsed:.2f} s = "
          f"{delivered / elapsed:.0f}/s ({elapsed / delivered * 1000:.2f} ms each, signed, recorded, on the timeline)")
    server.shutdown()


if __name__ == "__main__":
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 200
    config = setup_databases(verbosity=0, interactive=False)
    try:
        main(count)
    finally:
        teardown_databases(config, verbosity=0)
