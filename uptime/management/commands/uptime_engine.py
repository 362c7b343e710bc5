"""Run the uptime engine loop in this process until stopped: a dedicated checker process, as an
alternative (or in addition) to the Celery sweeper. Several can run at once (claims are skip-locked)."""

import signal

from django.core.management.base import BaseCommand
from django.db import close_old_connections

from uptime import engine


class Command(BaseCommand):
    help = "Check due uptime monitors continuously (Ctrl-C stops after the checks in flight)."

    def add_arguments(self, parser):
        parser.add_argument("--concurrency", type=int, default=None, help="checks at once (UPTIME_CONCURRENCY)")
        parser.add_argument("--seconds", type=float, default=None, help="stop after this long (default: never)")

    def handle(self, *args, concurrency=None, seconds=None, **options):
        stop = {"now": False}
        signal.signal(signal.SIGTERM, lambda *a: stop.update(now=True))
        done = 0
        remaining = seconds
        try:
            while not stop["now"] and (remaining is None or remaining > 0):
                budget = 30.0 if remaining is None else min(30.0, remaining)
                done += engine.run(budget=budget, concurrency=concurrency, stop=lambda: stop["now"])
                close_old_connections()
                if remaining is not None:
                    remaining -= budget
        except KeyboardInterrupt:
            pass
        self.stdout.write(f"{done} checks recorded")
