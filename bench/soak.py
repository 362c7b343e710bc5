"""bench/soak: the embedded default (`manage.py run`, what ./scripts/run starts: SQLite, no broker, no
Redis) under a steady event load with escalations, for 30 minutes. Prints crashes (must be 0) and
escalation step lateness.

    .venv/bin/python -m bench.soak [--minutes 30] [--rate 1.0] [--data-dir DIR]

It starts `manage.py run` on a fresh data directory (a temporary one unless --data-dir) with the
product's defaults (SWEEP_INTERVAL_SECONDS 2), adds a tenant "Soak" whose Event API source escalates
through three levels of one minute each (three users, paged by email at once, their default), then
sends `--rate` new incidents per second through the Event API, plus one event appended to an open
incident for every second new one, and resolves every incident 150 s after it opened: each incident
is escalated at 0, 60 and 120 s. Every minute it prints a progress line.

Figures:
- crashes: children of `manage.py run` that died (its "ERROR ilert.run ... restarting" lines), the run
  itself exiting, and "Traceback" lines in its output;
- events: answered 202 by the Event API, refused, and the events on the incidents' timelines (lost =
  accepted but not on a timeline);
- steps: every escalation step performed; lateness of a step = when it was performed minus when it
  was due (the previous step plus the level's timeout; the first level: the incident's creation).
  "Late" = more than SWEEP_INTERVAL_SECONDS after its due time.
- pages: notifications sent, and any step that paged the same user twice.
"""

import argparse
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

SECRET = "soak-secret-key-not-for-production"
LIFETIME = 150  # seconds from an incident's creation to its RESOLVE event
LEVEL_MINUTES = 1


def percentile(values, p):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(p / 100 * len(ordered) + 0.5) - 1))] if ordered else 0


def free_port():
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Load:
    """Sends the events at a steady rate from one thread; counts answers."""

    def __init__(self, url, key, rate):
        import httpx

        self.client = httpx.Client(base_url=url, timeout=30)
        self.key, self.rate = key, rate
        self.answers, self.latencies, self.errors = Counter(), [], Counter()
        self.open_keys = []  # (created monotonic, alertKey)
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)

    def post(self, body):
        started = time.monotonic()
        try:
            answer = self.client.post("/api/events", json={"integrationKey": self.key, **body})
        except Exception as exc:  # a refused connection is what a crash of the web server looks like
            self.errors[type(exc).__name__] += 1
            return None
        self.latencies.append(time.monotonic() - started)
        self.answers[answer.status_code] += 1
        return answer

    def run(self):
        start, n = time.monotonic(), 0
        while not self.stopping.is_set():
            n += 1
            key = f"soak-{n}"
            if self.post({"eventType": "ALERT", "summary": f"Soak incident {n}", "alertKey": key}):
                self.open_keys.append((time.monotonic(), key))
            if n % 2 == 0 and self.open_keys:  # an event appended to the newest open incident
                self.post({"eventType": "ALERT", "summary": "Still failing", "alertKey": self.open_keys[-1][1]})
            while self.open_keys and time.monotonic() - self.open_keys[0][0] >= LIFETIME:
                self.post({"eventType": "RESOLVE", "alertKey": self.open_keys.pop(0)[1]})
            self.stopping.wait(max(0.0, start + n / self.rate - time.monotonic()))

    def resolve_all(self):
        while self.open_keys:
            self.post({"eventType": "RESOLVE", "alertKey": self.open_keys.pop(0)[1]})


def setup_tenant():
    """A tenant whose source escalates through three one-minute levels, one user each, paged by push
    (the dev outbox records which notification each message was, so a second send would show)."""
    from alerts import services as alerts
    from escalation import services as escalation
    from tests.factories import TenantFactory, UserFactory
    from tests.notifications.factories import make_method, make_rule

    tenant = TenantFactory(name="Soak", slug="soak")
    users = [UserFactory(tenant=tenant, name=f"Soak {i}", email=f"soak-{i}@example.com") for i in range(3)]
    for user in users:
        make_rule(user, make_method(user, "push"), "HIGH", 0)
    policy = escalation.create_policy(tenant, name="Soak", levels=[
        {"users": [user], "timeout_minutes": LEVEL_MINUTES} for user in users])
    source = alerts.create_alert_source(tenant, name="Soak source", escalation_policy=policy)
    return tenant, source.integration_key


def steps_and_lateness(tenant_name="Soak"):
    """[(lateness seconds)] of every escalation step of the soak tenant's incidents, and pages twice."""
    from alerts.models import Incident, IncidentLogEntry, LogKind
    from notifications.models import Notification

    timeouts = LEVEL_MINUTES * 60
    lateness = []
    entries = (IncidentLogEntry.objects.filter(tenant__name=tenant_name, kind__in=[LogKind.CREATED, LogKind.ESCALATED])
               .order_by("incident_id", "at", "id").values_list("incident_id", "kind", "at"))
    previous = {}
    for incident_id, kind, at in entries:
        if kind == LogKind.CREATED:
            previous[incident_id] = (at, 0)
            continue
        before, waited = previous.get(incident_id, (None, 0))
        if before is not None:
            lateness.append((at - before).total_seconds() - waited)
        previous[incident_id] = (at, timeouts)
    from ilert.models import DevMessage

    messages = Counter(DevMessage.objects.filter(tenant__name=tenant_name, meta__kind="page")
                       .values_list("meta__notification", flat=True))
    twice = sum(1 for count in messages.values() if count > 1)
    sent = Notification.objects.filter(incident__tenant__name=tenant_name, status__in=["sent", "delivered"]).count()
    incidents = Incident.objects.filter(tenant__name=tenant_name).count()
    events = IncidentLogEntry.objects.filter(tenant__name=tenant_name, kind=LogKind.EVENT).count()
    return lateness, twice, sent, incidents, events


def main():
    args = parse_args()
    data_dir = Path(args.data_dir or tempfile.mkdtemp(prefix="ilert-soak-"))
    data_dir.mkdir(parents=True, exist_ok=True)
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL", "DJANGO_SETTINGS_MODULE")}
    env.update(ILERT_DATA_DIR=str(data_dir), SECRET_KEY=SECRET, DEV_OUTBOX="true")  # as ./scripts/run
    port = free_port()
    log_path = data_dir / "run.log"
    log = open(log_path, "w")  # noqa: SIM115 - open for the whole soak
    run = subprocess.Popen([sys.executable, "manage.py", "run", "--port", str(port)], cwd=ROOT, env=env,
                           stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    print(f"soak: manage.py run (pid {run.pid}) on {url}, data in {data_dir}, log {log_path}", flush=True)
    wait_up(run, url, log_path)

    os.environ.update(env, DJANGO_SETTINGS_MODULE="ilert.settings", ILERT_KICK_TASKS="false")
    import django

    django.setup()
    import logging

    logging.getLogger("httpx").setLevel(logging.WARNING)
    tenant, key = setup_tenant()

    load = Load(url, key, args.rate)
    soak(args, load, run, log_path)
    load.resolve_all()
    time.sleep(5)
    figures = steps_and_lateness()
    run_alive = run.poll() is None
    if run_alive:
        os.killpg(run.pid, signal.SIGINT)
        run.wait(timeout=60)
    log.close()
    print_figures(args, load, run, run_alive, log_path.read_text(), figures)


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=30)
    parser.add_argument("--rate", type=float, default=1.0, help="new incidents per second")
    parser.add_argument("--data-dir", help="default: a fresh temporary directory")
    return parser.parse_args()


def wait_up(run, url, log_path):
    """Until /healthz answers 200; exits when `manage.py run` dies or takes over 3 minutes."""
    import httpx

    deadline = time.monotonic() + 180
    while True:
        try:
            if httpx.get(url + "/healthz", timeout=2).status_code == 200:
                break
        except httpx.TransportError:
            pass
        if run.poll() is not None or time.monotonic() > deadline:
            sys.exit(f"manage.py run did not come up:\n{log_path.read_text()[-3000:]}")
        time.sleep(0.5)


def soak(args, load, run, log_path):
    """The measured run: the load for --minutes, a progress line every minute."""
    started = time.monotonic()
    load.thread.start()
    try:
        while time.monotonic() - started < args.minutes * 60:
            time.sleep(min(60, args.minutes * 60 - (time.monotonic() - started)))
            lateness, twice, sent, incidents, events = steps_and_lateness()
            late = sum(1 for value in lateness if value > float(os.environ.get("SWEEP_INTERVAL_SECONDS", "2")))
            text = log_path.read_text()
            print(f"{(time.monotonic() - started) / 60:5.1f} min: {sum(load.answers.values())} answered "
                  f"({dict(load.answers)}), errors {dict(load.errors)}, {incidents} incidents, {len(lateness)} steps "
                  f"(late {late}, max {max(lateness, default=0):.2f} s), {sent} pages sent, "
                  f"restarts {text.count('ERROR ilert.run')}, run {'up' if run.poll() is None else 'EXITED'}",
                  flush=True)
    finally:
        load.stopping.set()
        load.thread.join(timeout=60)


def print_figures(args, load, run, run_alive, text, figures):
    lateness, twice, sent, incidents, events = figures
    interval = float(os.environ.get("SWEEP_INTERVAL_SECONDS", "2"))
    late = [value for value in lateness if value > interval]
    accepted = load.answers.get(202, 0)
    print()
    print(f"soak: {args.minutes:g} minutes at {args.rate:g} new incidents/s on the embedded default")
    print(f"crashes: {text.count('ERROR ilert.run')} child restarts, run process "
          f"{'alive until stopped' if run_alive else f'EXITED (code {run.returncode})'}, "
          f"{text.count('Traceback')} tracebacks in its output")
    print(f"events: {accepted} accepted (202), {sum(n for code, n in load.answers.items() if code != 202)} other "
          f"answers {dict(load.answers)}, {sum(load.errors.values())} transport errors {dict(load.errors)}; "
          f"{events} on timelines, lost {accepted - events}")
    if load.latencies:
        print(f"event API latency: p50 {statistics.median(load.latencies) * 1000:.0f} ms, "
              f"p99 {percentile(load.latencies, 99) * 1000:.0f} ms, max {max(load.latencies) * 1000:.0f} ms")
    if lateness:
        print(f"escalation steps: {len(lateness)} over {incidents} incidents; lateness p50 "
              f"{statistics.median(lateness):.2f} s, p99 {percentile(lateness, 99):.2f} s, max {max(lateness):.2f} s; "
              f"late (> {interval:g} s): {len(late)}")
    print(f"pages: {sent} notifications sent, sent twice (two outbox messages for one notification): {twice}")
    print(f"clean exit on Ctrl-C: {'yes' if run.returncode == 0 else f'no ({run.returncode})'}")


if __name__ == "__main__":
    main()
