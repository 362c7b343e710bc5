"""Where a bench's CPU went, by kind of process: the web, the worker, PostgreSQL, the load generator.

On a two-core machine every process competes for the same cores, so throughput alone does not say
which one to make cheaper; CPU per event does. Read from /proc (user + system time of every
process, before and after), so it needs Linux and sees PostgreSQL's backends only when the server
runs on the same machine; elsewhere `measure` yields an empty split and prints nothing.

    with cpu.measure() as split:
        ...  # the load
    print(split.per(events, "event"))   # "CPU per event: web 0.91 ms, PostgreSQL 0.40 ms, ..."

The line ends with the whole machine's busy cores (/proc/stat) beside the processes' sum: a gap
between them is CPU spent by processes that came and went during the run (a connection per job
forked a PostgreSQL backend per message once, and this split did not show it).
"""

import os
import time
from collections import Counter
from contextlib import contextmanager
from pathlib import Path

# The first match in a process's command line names its group.
GROUPS = (("postgres", "PostgreSQL"), ("gunicorn", "web"), ("granian", "web"), ("celery", "worker"),
          ("ticker", "worker"), ("redis-server", "Redis"), ("wrk", "load generator"))


def _group(pid, cmdline):
    if pid == os.getpid():
        return "load generator"  # the bench itself: its HTTP client and its fakes (e.g. Twilio)
    for needle, name in GROUPS:
        if needle in cmdline:
            return name
    return "other"


def _snapshot():
    """{pid: (group, CPU seconds)} of every process now."""
    tick = os.sysconf("SC_CLK_TCK")
    out = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:  # gone meanwhile
            continue
        fields = stat.rpartition(")")[2].split()  # after the command name, which may hold spaces
        used = int(fields[11]) + int(fields[12])
        if int(entry.name) == os.getpid():  # and the children it waited for: a wrk run ends before `after`
            used += int(fields[13]) + int(fields[14])
        out[int(entry.name)] = (_group(int(entry.name), cmdline), used / tick)
    return out


def _machine_busy():
    """CPU seconds the whole machine has been busy (every core, every process, the kernel)."""
    fields = [int(value) for value in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")  # guest time is already in user time


class Split:
    def __init__(self):
        self.seconds, self.elapsed, self.machine = Counter(), 0.0, 0.0

    def per(self, count, what):
        """One line: CPU milliseconds per `what` by group, the largest first, and the cores used."""
        if not self.seconds or not count:
            return ""
        parts = ", ".join(f"{name} {1000 * used / count:.2f} ms" for name, used in self.seconds.most_common()
                          if used > 0)
        cores = sum(self.seconds.values()) / self.elapsed if self.elapsed else 0
        machine = self.machine / self.elapsed if self.elapsed else 0
        return f"CPU per {what}: {parts} (all: {cores:.2f} cores busy; the whole machine: {machine:.2f})"


def combined(splits):
    """One Split of several runs (their CPU and their time added up)."""
    total = Split()
    for split in splits:
        total.seconds.update(split.seconds)
        total.elapsed += split.elapsed
        total.machine += split.machine
    return total


@contextmanager
def measure():
    split = Split()
    if not Path("/proc/self/stat").exists():
        yield split
        return
    before, busy, started = _snapshot(), _machine_busy(), time.monotonic()
    yield split
    after = _snapshot()
    split.elapsed, split.machine = time.monotonic() - started, _machine_busy() - busy
    for pid, (group, used) in after.items():
        was_group, was_used = before.get(pid, (None, 0.0))
        # A process started meanwhile (or a pid used again) counts whole. One that ended meanwhile is
        # missed, unless the bench waited for it (a wrk run): keep worker recycling off while measuring.
        split.seconds[group] += used - was_used if was_group == group and used >= was_used else used
