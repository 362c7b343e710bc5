"""python manage.py ticker — run every periodic task (settings.TICK_SCHEDULE) on its interval in the
foreground: the sweepers and housekeeping, with no broker and no Celery worker (ilert/ticker.py).

The embedded run (`manage.py run`) uses it. Several may run at once, also next to workers: each tick
still happens once. SIGTERM or Ctrl-C stops it after the tasks that are running finish.
"""

import signal
import threading

from django.core.management.base import BaseCommand

from ilert import delivery
from ilert.ticker import Ticker, schedule_for


class Command(BaseCommand):
    help = "Run the sweepers and housekeeping on their intervals (no broker needed)."

    def handle(self, *args, **options):
        stopping = threading.Event()
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, lambda *_: stopping.set())
        delivery.log_at_startup()  # the sweepers send: say what they cannot deliver
        ticker = Ticker(schedule_for()).start()
        self.stderr.write(f"ticker running: {', '.join(sorted(ticker.intervals))}")
        while not stopping.wait(1):
            pass
        ticker.stop()
