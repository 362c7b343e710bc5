"""bench/stall: run pytest targets again and again while the machine is made slow and jerky, to find
tests that depend on its speed (docs/testing.md). A test that fails here is a flaky test.

    .venv/bin/python -m bench.stall [--runs 5] [--pause-max 2.0] [--gap-max 1.0] [--burn 2]
                                    [--no-pause] [--group] [--seed N] -- tests/x.py tests/y.py::test_z -q

Each run is one `pytest` process (its arguments after `--`; PostgreSQL/Redis as the environment says).
While it runs:
- the staller pauses it at random: SIGSTOP, hold 0.05..--pause-max s, SIGCONT, then let it run for
  0.05..--gap-max s, over and over. Every thread of the test process stops at once, as when the
  machine is busy elsewhere; wall clocks move on meanwhile, so a test that races a sleep, a socket
  timeout or a deadline against its own work loses. `--group` pauses its process group (children it
  started without a session of their own); e2e children in their own sessions keep running, which is
  the point: the test process falls behind them.
- `--burn K` starts K busy loops (`while 1: pass`) for the whole time, competing for the CPUs.

It prints each run's outcome and, per test, how many runs it failed in, and exits 1 if any test
failed. Processes are stopped by their own pids. Say how loaded the machine was when you quote
figures (uptime's load average is printed at the start and the end).
"""

import argparse
import os
import random
import signal
import subprocess
import sys
import tempfile
import threading
import time
import xml.etree.ElementTree as ET
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PYTHON = str(ROOT / ".venv" / "bin" / "python") if (ROOT / ".venv" / "bin" / "python").exists() else sys.executable


class Staller(threading.Thread):
    """SIGSTOP/SIGCONT `pid` (or its group) at random until stopped; counts the pauses."""

    def __init__(self, pid, rng, pause_max, gap_max, group):
        super().__init__(daemon=True)
        self.pid, self.rng, self.pause_max, self.gap_max, self.group = pid, rng, pause_max, gap_max, group
        self.done = threading.Event()
        self.pauses, self.paused_seconds = 0, 0.0

    def _signal(self, sig):
        try:
            if self.group:
                os.killpg(self.pid, sig)
            else:
                os.kill(self.pid, sig)
            return True
        except ProcessLookupError:
            return False

    def run(self):
        while not self.done.wait(self.rng.uniform(0.05, self.gap_max)):
            hold = self.rng.uniform(0.05, self.pause_max)
            if not self._signal(signal.SIGSTOP):
                return
            self.pauses += 1
            self.done.wait(hold)
            self.paused_seconds += hold
            self._signal(signal.SIGCONT)
        self._signal(signal.SIGCONT)  # never leave it stopped


class Current:
    """The test process and staller of the run under way, for the clean-up when stopped from outside."""

    process = staller = None

    def stop(self):
        if self.staller:
            self.staller.done.set()
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGCONT)
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()


def burners(count):
    return [subprocess.Popen([sys.executable, "-c", "while 1: pass"], start_new_session=True)  # noqa: S603
            for _ in range(count)]


def outcomes(junit, messages=None):
    """{test id: "passed" | "failed" | "skipped"} from a junit XML file; failure messages go into
    `messages` ({test id: text})."""
    found = {}
    if not junit.exists() or junit.stat().st_size == 0:
        return found
    for case in ET.parse(junit).getroot().iter("testcase"):
        name = f"{case.get('classname', '')}::{case.get('name', '')}"
        failure = case.find("failure") if case.find("failure") is not None else case.find("error")
        if failure is not None:
            found[name] = "failed"
            if messages is not None:
                messages[name] = (failure.get("message") or "").strip()
        elif case.find("skipped") is not None:
            found.setdefault(name, "skipped")
        else:
            found.setdefault(name, "passed")
    return found


def load():
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def main(argv=None):
    args, targets = parse_args(argv)
    seed = args.seed if args.seed is not None else random.randrange(10**6)
    rng = random.Random(seed)
    print(f"stall: {args.runs} runs of pytest {' '.join(targets)}; seed {seed}; "
          f"pauses {'off' if args.no_pause else f'up to {args.pause_max} s every up to {args.gap_max} s'}; "
          f"{args.burn} busy loops; load {load()}", flush=True)

    failed_in, seen = Counter(), Counter()
    # Stopped from outside (timeout, Ctrl-C): clean up below like a normal end, never leave a busy
    # loop or a stopped test process behind.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    hogs = burners(args.burn)
    current = Current()
    try:
        with tempfile.TemporaryDirectory(prefix="stall-") as tmp:
            for run in range(1, args.runs + 1):
                for name, outcome in one_run(args, targets, rng, run, Path(tmp) / f"run{run}.xml", current).items():
                    seen[name] += outcome != "skipped"
                    failed_in[name] += outcome == "failed"
    finally:
        current.stop()
        for hog in hogs:
            hog.kill()
            hog.wait()
    return print_summary(failed_in, seen)


def parse_args(argv):
    """(args, pytest targets)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--pause-max", type=float, default=2.0, help="longest pause (s)")
    parser.add_argument("--gap-max", type=float, default=1.0, help="longest time running between pauses (s)")
    parser.add_argument("--burn", type=int, default=0, help="busy loops competing for the CPUs")
    parser.add_argument("--no-pause", action="store_true", help="only burn CPU, never pause")
    parser.add_argument("--group", action="store_true", help="pause the test's whole process group")
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("pytest_args", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)
    targets = [a for a in args.pytest_args if a != "--"]
    if not targets:
        parser.error("give pytest targets after --")
    return args, targets


def one_run(args, targets, rng, run, junit, current):
    """One pytest process, paused at random unless --no-pause; prints its outcome and returns
    {test id: outcome}."""
    started = time.monotonic()
    current.process = process = subprocess.Popen(  # noqa: S603
        [PYTHON, "-m", "pytest", "-p", "no:cacheprovider", f"--junitxml={junit}", *targets],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        start_new_session=True)
    if not args.no_pause:
        current.staller = Staller(process.pid, rng, args.pause_max, args.gap_max, args.group)
        current.staller.start()
    staller = current.staller
    output = process.communicate()[0]
    if staller:
        staller.done.set()
        staller.join()
    messages = {}
    results = outcomes(junit, messages)
    failures = sorted(n for n, o in results.items() if o == "failed")
    pauses = f", {staller.pauses} pauses ({staller.paused_seconds:.0f} s)" if staller else ""
    print(f"run {run}: exit {process.returncode}, {len(results)} tests, {len(failures)} failed, "
          f"{time.monotonic() - started:.0f} s{pauses}", flush=True)
    for name in failures:
        first = " | ".join(messages.get(name, "").splitlines()[:3])[:300]
        print(f"    FAILED {name}: {first}")
    if process.returncode not in (0, 1) or (process.returncode == 1 and not failures):
        print(output[-3000:])
    return results


def print_summary(failed_in, seen):
    """Per test, the runs it failed in; returns the exit status (1 if any test failed)."""
    print(f"\nload at the end {load()}")
    flaky = {name: count for name, count in failed_in.items() if count}
    ran = sum(1 for name in seen if seen[name])
    print(f"{ran} tests ran; {len(flaky)} failed at least once:")
    for name, count in sorted(flaky.items(), key=lambda item: -item[1]):
        print(f"  {count}/{seen[name]}  {name}")
    return 1 if flaky else 0


if __name__ == "__main__":
    sys.exit(main())
