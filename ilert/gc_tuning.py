"""Python's cyclic garbage collector, tuned for long-lived processes (web and worker).

A full collection walks every object, and what a process loads at start (Django, the apps, the
URLconf, the tasks: ~175,000 objects in a web process) lives as long as the process: a web
process's full collection took ~100 ms with the GIL held, a stall of each of its request threads
(the open-loop p99 of bench/ingest: 70–370 ms before, 18 ms after), and in a worker the collections
took 22 % of the CPU of an escalation storm (bench/escalation, in-process: 0.36 s of 1.62 s for
10,000 steps). So what start-up loaded is frozen out of the scans, and young objects are collected
less often (almost all die by reference counting first); with both, a worker's collections cost
0.004 s there.
"""

import gc

THRESHOLDS = (10_000, 50, 100)


def freeze_what_start_up_loaded():
    gc.collect()
    gc.freeze()
    gc.set_threshold(*THRESHOLDS)
