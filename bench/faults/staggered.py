"""Shared by the fault benchmarks: the processes docker-compose.yml runs, as child processes on
127.0.0.1, and a row of incidents falling due one after another whose escalation steps are timed.

A step's lateness = when the engine performed it (its timeline entry) minus its due time. Each
step pages its user by push, one message per page (no bundling, no throttle; the dev outbox
records which notification each message was, so a message sent twice would show)."""

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ilert.settings")
os.environ.setdefault("SECRET_KEY", "bench-secret")
os.environ["ILERT_KICK_TASKS"] = "false"  # this process only writes rows: the stack must find them

TENANT_SLUG = "bench-faults"

# The worker commands of docker-compose.yml.
WORKER = ["worker", "--queues=celery", "--pool=threads", "--concurrency=8", "--without-gossip", "--without-mingle"]
UPTIME_WORKER = ["worker", "--queues=uptime", "--pool=threads", "--concurrency=4", "--without-gossip",
                 "--without-mingle"]


def percentile(values, p):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(p / 100 * len(ordered) + 0.5) - 1))] if ordered else 0


class Process:
    """One process of the stack, in its own session (so a SIGKILL takes its children too)."""

    def __init__(self, name, argv, env, log_dir):
        self.name, self.argv, self.env = name, argv, env
        self.log_path = Path(log_dir) / f"{name}.log"
        self.process = None
        self.killed = False

    def start(self):
        self.log = open(self.log_path, "a")  # noqa: SIM115 - closed in stop()
        self.process = subprocess.Popen(self.argv, cwd=ROOT, env=self.env, stdout=self.log,
                                        stderr=subprocess.STDOUT, start_new_session=True)
        return self

    def kill(self):
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)
        self.killed = True

    def died(self):
        """It exited although nobody stopped it."""
        return not self.killed and self.process.poll() is not None

    def stop(self):
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
        self.log.close()

    def output(self):
        return self.log_path.read_text()


def celery(name, args, env, log_dir):
    return Process(name, [sys.executable, "-m", "celery", "-A", "ilert", *args, "--loglevel=INFO",
                          f"--hostname={name}@%h"] if args[0] == "worker" else
                   [sys.executable, "-m", "celery", "-A", "ilert", *args, "--loglevel=INFO"], env, log_dir)


def stack_env(**extra):
    env = {k: v for k, v in os.environ.items() if k not in ("DJANGO_SETTINGS_MODULE", "ILERT_KICK_TASKS")}
    env.update({"LOG_LEVEL": "INFO", "DB_CONN_MAX_AGE": "60", "DEV_OUTBOX": "true"}, **extra)  # pages land there
    return env


def setup():
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", interactive=False, verbosity=0)
    teardown()


def teardown():
    from accounts.models import Tenant

    Tenant.objects.filter(slug=TENANT_SLUG).delete()


def make_incidents(count):
    """`count` PENDING incidents at level 0 of a two-level policy, not yet due (due_in() sets when)."""
    from alerts import services as alerts
    from alerts.ingest import EventType, InboundEvent
    from alerts.models import Incident
    from escalation import services as escalation
    from tests.factories import TenantFactory, UserFactory
    from tests.notifications.factories import make_method, make_rule

    tenant = TenantFactory(name="Bench faults", slug=TENANT_SLUG)
    users = [UserFactory(tenant=tenant, name=name, email=f"{name.lower()}-{time.time_ns()}@bench.test")
             for name in ("Ana", "Ben")]
    for user in users:  # every step its own message: no bundling, no throttle
        make_rule(user, make_method(user, "push", bundle_seconds=0, throttle_max=0), "HIGH", 0)
    policy = escalation.create_policy(tenant, name="Bench faults", levels=[
        {"users": [user], "timeout_minutes": 30} for user in users])
    source = alerts.create_alert_source(tenant, name="Bench faults", escalation_policy=policy)
    incidents = [alerts.ingest(source, InboundEvent(event_type=EventType.ALERT, summary=f"Fault bench {n}",
                                                    incident_key=f"f-{n}")).incident for n in range(count)]
    Incident.objects.filter(pk__in=[i.pk for i in incidents]).update(next_escalation_at=None)  # nothing due yet
    return [incident.pk for incident in incidents]


def make_due(incident_ids, first_due, every):
    """Incident n falls due at first_due + n * every. Returns {incident id: due time}."""
    from alerts.models import Incident

    due = {pk: first_due + timedelta(seconds=n * every) for n, pk in enumerate(incident_ids)}
    for pk, at in due.items():
        Incident.objects.filter(pk=pk).update(next_escalation_at=at)
    return due


def performed(due):
    """{incident id: when level 1 was performed} for the incidents stepped so far."""
    from alerts.models import IncidentLogEntry, LogKind

    return dict(IncidentLogEntry.objects.filter(incident_id__in=list(due), kind=LogKind.ESCALATED, data__level=1)
                .values_list("incident_id", "at"))


def wait_all_performed(due, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if len(performed(due)) == len(due):
            return True
        time.sleep(0.5)
    return False


def report(due, phases, processes):
    """Print lateness per phase ([(label, start, end)] of due times) and what went wrong."""
    from alerts.models import IncidentLogEntry, LogKind
    from ilert.models import DevMessage

    done = performed(due)
    for label, start, end in phases:
        late = [(done[pk] - at).total_seconds() for pk, at in due.items() if start <= at < end and pk in done]
        missing = sum(1 for pk, at in due.items() if start <= at < end and pk not in done)
        if late or missing:
            print(f"  {label}: {len(late)} steps, lateness p50 {percentile(late, 50):.2f} s, "
                  f"p99 {percentile(late, 99):.2f} s, max {max(late, default=0):.2f} s; not performed: {missing}")
    twice = Counter(IncidentLogEntry.objects.filter(incident_id__in=list(due), kind=LogKind.ESCALATED, data__level=1)
                    .values_list("incident_id", flat=True))
    messages = Counter(DevMessage.objects.filter(tenant__slug=TENANT_SLUG, meta__kind="page")
                       .values_list("meta__notification", flat=True))
    print(f"  steps performed twice: {sum(1 for n in twice.values() if n > 1)}; pages sent: {len(messages)}, "
          f"sent twice: {sum(1 for n in messages.values() if n > 1)}")
    died = [p.name for p in processes if p.died()]
    unrecoverable = [p.name for p in processes if "Unrecoverable error" in p.output()]
    print(f"  processes that died: {len(died)} {died or ''}; 'Unrecoverable error' in: {unrecoverable or 'none'}")
