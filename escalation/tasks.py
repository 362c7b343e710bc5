import threading
import time

from celery import shared_task
from django.conf import settings

from ilert import kick

from . import engine, paging


@shared_task(name="escalation.tasks.step", ignore_result=True)
def step(incident_id, expected_level, expected_round):
    """A kick for one incident that is due: it goes with whatever else is due now, in batches (the
    sweeper's tick). Under a storm of new incidents a step per kick planned, paged and committed each
    incident on its own (~30 statements each against ~5 in a batch of twenty); a kick whose incident
    another worker holds or already stepped finds it not due, as before. Kicks are coalesced per
    process (below), and published only when no kick is out and no pass is on (paging.STEP_KICK,
    ilert/kick.py)."""
    return _coalesced_tick()


# Kicks that arrive while a thread of this process is ticking do not start ticks of their own: the
# ticking thread runs one more pass when it is done, which finds their incidents (they were committed
# before their kick was sent). Eight threads each ticking a batch of one or two new incidents paged
# the same person one small transaction at a time, queued on that person's reply-code lock
# (bench/notify); one thread now takes them in batches. Other processes tick as before (skipping
# the rows this one holds). If a tick fails, the kicks folded into it wait for the beat sweeper.
# Before each further pass the thread waits ESCALATION_GATHER_SECONDS, so that under a stream of new
# incidents a pass takes many: a pass costs the same ~30 statements for one incident as for twenty,
# and its delivery batch 17 for one message against 95 for twenty
# (tests/notifications/test_paging_round_trips.py; the figures: docs/scaling.md). The first pass
# does not wait: a lone incident is stepped at once. The wait is outside the lock (a kick meanwhile
# returns at once) and before the next pass's kick.started (commits during it are that pass's).
_kicks = threading.Lock()
_ticking = False
_again = False


def _coalesced_tick():
    global _ticking, _again  # noqa: PLW0603 - the process's one ticking flag, guarded by _kicks
    with _kicks:
        if _ticking:
            _again = True
            return 0
        _ticking = True
    done = 0
    try:
        while True:
            kick.started(paging.STEP_KICK)  # before the pass reads: commits from now on are the next pass's
            done += engine.tick()
            quiet = kick.finished(paging.STEP_KICK)  # a Redis round trip: not under the lock
            with _kicks:  # the flag drops in the same hold as the last look: no kick falls in between
                if not _again and quiet:
                    _ticking = False
                    return done
                _again = False
            time.sleep(settings.ESCALATION_GATHER_SECONDS)  # let the next pass's kicks gather (above)
    except BaseException:
        with _kicks:
            _ticking = False
        raise


# A storm (a full batch due at once) brings this many more sweeps onto idle worker threads.
STORM_HELPERS = 4


@shared_task(name="escalation.tasks.sweep", ignore_result=True)
def sweep(helpers=STORM_HELPERS, wake_early=True):
    return engine.tick(helpers=helpers, wake_early=wake_early)
