"""bench/faults/slow_clients: 30 slow clients (each sends a byte every 5 s) against the web server as
docker-compose.yml runs it (gunicorn --workers=3 --threads=4), first facing the clients directly (as
compose did before), then behind nginx with the repository's deploy/nginx.conf. Meanwhile another
tenant sends its events; prints their latency. Behind the proxy none may take over a second (a
phase without slow clients behind the proxy gives this machine's baseline).

    DATABASE_URL=postgres://ilert:ilert@127.0.0.1:5432/ilert_x .venv/bin/python -m bench.faults.slow_clients \\
        [--seconds 60] [--slow 30] [--rate 2]

Needs Debian's nginx (apt-get install nginx-light). The config is the repository's, with the two
addresses changed to 127.0.0.1 ports (compose's `web:8000` upstream and `listen 8000`). The
database is migrated and gets a tenant "Bench other tenant" (removed at the end); kicked tasks are
off (this measures the intake). Half the slow clients dribble their request headers, half a
request body (Content-Length 4096); each reconnects when its connection is dropped, so the attack
lasts the whole phase.
"""

import argparse
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ilert.settings")
os.environ.setdefault("SECRET_KEY", "bench-secret")

from tests.e2e.redis_server import free_port  # noqa: E402


def percentile(values, p):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(p / 100 * len(ordered) + 0.5) - 1))] if ordered else 0


class SlowClient(threading.Thread):
    """Sends a request one byte every `every` seconds, forever; reconnects when dropped."""

    def __init__(self, port, body, every, stop):
        super().__init__(daemon=True)
        self.port, self.body, self.every, self.stop = port, body, every, stop
        self.connections = self.dropped = 0

    def run(self):
        while not self.stop.is_set():
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=5) as sock:
                    self.connections += 1
                    if self.body:
                        sock.sendall(b"POST /api/events HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                                     b"Content-Type: application/json\r\nContent-Length: 4096\r\n\r\n")
                        dribble = b"{" + b" " * 4094 + b"}"
                    else:
                        dribble = b"POST /api/events HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Padding: " + b"a" * 4000
                    for byte in dribble:
                        if self.stop.wait(self.every):
                            return
                        sock.sendall(bytes([byte]))
            except OSError:
                self.dropped += 1
                self.stop.wait(0.5)


def other_tenant_events(port, key, seconds, rate):
    """One event every 1/rate s for `seconds`, each from a thread and a connection of its own (as
    separate senders do), each timed; a timeout (70 s) counts as its full wait."""
    import httpx

    latencies, answers, lock = [], {}, threading.Lock()

    def send(n):
        began = time.monotonic()
        try:
            code = httpx.post(f"http://127.0.0.1:{port}/api/events", timeout=70, json={
                "integrationKey": key, "eventType": "ALERT", "summary": "Other tenant", "alertKey": f"o-{n % 50}",
            }).status_code
        except httpx.TransportError as exc:
            code = type(exc).__name__
        with lock:
            latencies.append(time.monotonic() - began)
            answers[code] = answers.get(code, 0) + 1

    senders, start, n = [], time.monotonic(), 0
    while time.monotonic() - start < seconds:
        n += 1
        senders.append(threading.Thread(target=send, args=(n,), daemon=True))
        senders[-1].start()
        time.sleep(max(0.0, start + n / rate - time.monotonic()))
    for sender in senders:
        sender.join(timeout=80)
    return latencies, answers


def attack(port, key, args, label, slow=None):
    slow = args.slow if slow is None else slow
    stop = threading.Event()
    clients = [SlowClient(port, body=i % 2 == 1, every=5, stop=stop) for i in range(slow)]
    for client in clients:
        client.start()
    if clients:
        time.sleep(6)  # every slow client connected and dribbling
    latencies, answers = other_tenant_events(port, key, args.seconds, args.rate)
    stop.set()
    over = sum(1 for value in latencies if value > 1.0)
    print(f"{label}: {slow} slow clients ({sum(c.connections for c in clients)} connections, "
          f"{sum(c.dropped for c in clients)} dropped by the server); the other tenant's {len(latencies)} events: "
          f"answers {answers}, p50 {statistics.median(latencies) * 1000:.0f} ms, "
          f"p99 {percentile(latencies, 99) * 1000:.0f} ms, max {max(latencies) * 1000:.0f} ms, over 1 s: {over}",
          flush=True)
    return over


def start_nginx(tmp, listen, upstream):
    config = (ROOT / "deploy" / "nginx.conf").read_text()
    assert "server web:8000;" in config and "listen 8000;" in config, "deploy/nginx.conf changed: adapt this bench"
    config = config.replace("server web:8000;", f"server 127.0.0.1:{upstream};").replace(
        "listen 8000;", f"listen 127.0.0.1:{listen};").replace("access_log /dev/stdout ilert;", "access_log off;")
    path = Path(tmp) / "nginx.conf"
    path.write_text(config)
    process = subprocess.Popen(
        [shutil.which("nginx"), "-c", str(path), "-p", str(tmp), "-g", f"daemon off; pid {tmp}/nginx.pid;"],
        stdout=subprocess.DEVNULL, stderr=open(Path(tmp) / "nginx.err", "w"), start_new_session=True)  # noqa: SIM115
    wait_port(listen)
    return process


def wait_port(port, timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"nothing listens on {port}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--slow", type=int, default=30)
    parser.add_argument("--rate", type=float, default=2.0, help="the other tenant's events per second")
    args = parser.parse_args()
    if not os.environ.get("DATABASE_URL", "").startswith("postgres"):
        sys.exit("Set DATABASE_URL (PostgreSQL), as in docker-compose.yml.")
    if not shutil.which("nginx"):
        sys.exit("Needs nginx: apt-get install nginx-light")

    import django

    django.setup()
    from django.core.management import call_command

    from accounts.models import Tenant
    from alerts import services
    from tests.factories import TenantFactory

    call_command("migrate", interactive=False, verbosity=0)
    Tenant.objects.filter(slug="bench-other-tenant").delete()
    tenant = TenantFactory(name="Bench other tenant", slug="bench-other-tenant")
    key = services.create_alert_source(tenant, name="Other tenant's monitoring").integration_key

    web_port, proxy_port = free_port(), free_port()
    env = {**os.environ, "ILERT_KICK_TASKS": "false", "TRUSTED_PROXIES": "127.0.0.1", "LOG_LEVEL": "WARNING",
           "INGEST_RATE_LIMIT": "100000/minute"}
    env.pop("DJANGO_SETTINGS_MODULE", None)
    tmp = tempfile.mkdtemp(prefix="ilert-slow-clients-")
    web = subprocess.Popen([sys.executable, "-m", "gunicorn", "ilert.wsgi", f"--bind=127.0.0.1:{web_port}",
                            "--workers=3", "--threads=4", "--log-level=warning"],  # as docker-compose.yml
                           cwd=ROOT, env=env, start_new_session=True)
    proxy = None
    try:
        wait_port(web_port)
        other_tenant_events(web_port, key, 3, 2)  # warm up
        direct_over = attack(web_port, key, args, "gunicorn facing the clients")
        time.sleep(6)  # the slow clients let go
        proxy = start_nginx(tmp, proxy_port, web_port)
        other_tenant_events(proxy_port, key, 3, 2)
        attack(proxy_port, key, args, "behind nginx, no attack (this machine's baseline)", slow=0)
        proxied_over = attack(proxy_port, key, args, "behind nginx (deploy/nginx.conf)")
        print(f"\nthe other tenant's events over 1 s: facing the clients {direct_over}, behind the proxy "
              f"{proxied_over} (must be 0)")
    finally:
        for process in (proxy, web):
            if process is not None and process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
                process.wait(timeout=30)
        Tenant.objects.filter(slug="bench-other-tenant").delete()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
