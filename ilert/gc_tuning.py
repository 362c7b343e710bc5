"""Python's cyclic garbage collector, tuned for long-lived processes (web and worker).

A full collection walks every object, and what a process loads at start (Django, the apps, the
URLconf, the tasks) lives as long as the process: in a web process a full collection held the GIL
long enough to stall every request thread of the process, and in a worker collections took a fifth
of the CPU of an escalation storm (docs/scaling.md, bench/escalation). So what start-up loaded is
frozen out of the scans, and young objects are collected less often (almost all die by reference
counting first).
"""

import gc

THRESHOLDS = (10_000, 50, 100)


def freeze_what_start_up_loaded():
    gc.collect()
    gc.freeze()
    gc.set_threshold(*THRESHOLDS)
