"""The CPU and memory budget of one template render (connectors/templating.py enforces it).

A render may take at most `steps` steps (loop iterations, calls, filters, operators, outputs,
comparisons), allocate at most `volume` characters in total (every string, list or output it
builds counts), build no single value larger than `value` characters, write at most `output`
characters and use at most `cpu_seconds` of its thread's CPU time. The first four are counted, so
a template is refused the same way on every machine; the CPU limit is the backstop for work the
counting misses and is checked every few steps with the thread's own CPU clock (other processes on
the machine do not move it).

Operations that could allocate a lot in one go (`"x" * n`, `center(n)`, format padding, `replace`,
`join`, …) are checked *before* they run, from their arguments, so nothing huge is ever allocated;
a filter is charged for its input before it runs (template_filters.FILTER_COSTS), its time as steps and
the memory it holds at once against what is left of the volume (`room`). A charge over a limit is
refused without being counted. The figures behind the limits: bench/templates.py.
"""

import re
import time
from collections.abc import ItemsView, KeysView, ValuesView
from contextvars import ContextVar
from dataclasses import dataclass
from itertools import chain
from string import Formatter

from jinja2.utils import Namespace


@dataclass(frozen=True)
class Limits:
    steps: int = 100_000
    volume: int = 16 * 1024 * 1024
    value: int = 2 * 1024 * 1024
    output: int = 2 * 1024 * 1024
    cpu_seconds: float = 1.0
    depth: int = 40  # nested macro calls / recursive loops
    range: int = 10_000  # items of one range(), batch() or slice()


LIMITS = Limits()
CPU_CHECK_EVERY = 32


class TooCostly(Exception):
    """The render went over its budget. The message says which limit, in words a user can act on."""


class Budget:
    def __init__(self, limits=LIMITS, cpu_clock=None):
        self.limits = limits
        self.steps = self.volume = self.output = self.depth = self.unchecked = 0
        self.cpu_clock = cpu_clock or time.thread_time
        self.cpu_started = self.cpu_clock()

    def step(self, volume=0, steps=1):
        """`steps` steps of work that allocated `volume` characters (or items). A charge over a limit
        is refused and not counted: charged before the work, the work never happens."""
        if self.steps + steps > self.limits.steps:
            raise TooCostly(f"The template takes more than {self.limits.steps:,} steps (loop iterations, calls, "
                            "filters); loop over less.")
        if self.volume + volume > self.limits.volume:
            raise TooCostly(f"The template builds more than {self.limits.volume // (1024 * 1024)} MiB of text "
                            "and lists in total.")
        self.steps += steps
        self.volume += volume
        self.unchecked += steps
        if self.unchecked >= CPU_CHECK_EVERY:
            self.unchecked = 0
            self.check_cpu()

    def check_cpu(self):
        used = self.cpu_clock() - self.cpu_started
        if used > self.limits.cpu_seconds:
            raise TooCostly(f"The template needs more than {self.limits.cpu_seconds:g} s of CPU time.")

    def size(self, size, what="a value"):
        """Refuse to build `what` of `size` characters (or items) if it is over the value limit."""
        if size > self.limits.value:
            raise TooCostly(f"The template would build {what} of {size:,} characters; at most "
                            f"{self.limits.value // (1024 * 1024)} MiB is allowed.")

    def room(self, size, what):
        """Refuse a call that would hold `size` bytes at once (freed when it returns) if they do not
        fit in what is left of the volume budget."""
        if self.volume + size > self.limits.volume:
            raise TooCostly(f"{what} on this value would need about {size / (1024 * 1024):.1f} MiB at once; "
                            f"the template may use {self.limits.volume // (1024 * 1024)} MiB.")

    def count(self, n, what):
        if n > self.limits.range:
            raise TooCostly(f"{what} is limited to {self.limits.range:,} items.")

    def wrote(self, text):
        """Output written by the template (top level or captured by set/macro/filter blocks)."""
        self.output += len(text)
        self.step(len(text))
        return text


_current: ContextVar = ContextVar("template_budget", default=None)


def current():
    budget = _current.get()
    if budget is None:
        raise RuntimeError("A template runs only inside templating.render, under a budget.")
    return budget


def running(budget):
    """Context manager token: `token = running(b)` … `_current.reset(token)`."""
    return _current.set(budget)


def stopped(token):
    _current.reset(token)


# --- sizes -------------------------------------------------------------------------------------------


def shallow(value):
    """Characters or items of a value, without looking inside: what copying it costs."""
    if isinstance(value, (str, bytes, list, tuple, dict, set, frozenset, range)):
        return len(value)
    return 1


_DONE = object()


def text_size(value, limit, max_nodes):
    """An upper estimate of len(str(value)), walking containers without building anything. Stops
    once over `limit` characters or `max_nodes` visited. Returns (size, nodes visited). A part
    shared twice is counted twice, as str() prints it twice; a cycle runs into the limit. The walk
    keeps an iterator per level, never a copy of a container (a list of 2 M items would be 16 MB)."""
    total, nodes, stack = 0, 0, [iter((value,))]
    while stack and total <= limit and nodes <= max_nodes:
        item = next(stack[-1], _DONE)
        if item is _DONE:
            stack.pop()
            continue
        nodes += 1
        if isinstance(item, (str, bytes)):
            total += len(item) + 3
        elif isinstance(item, bool) or item is None:
            total += 5
        elif isinstance(item, int):
            total += item.bit_length() // 3 + 2
        elif isinstance(item, float):
            total += 25
        elif isinstance(item, dict):
            total += 2 + 4 * len(item)
            stack.append(chain(item.keys(), item.values()))
        elif isinstance(item, Namespace):
            total += 12
            stack.append(iter((item._Namespace__attrs,)))  # noqa: SLF001 - the only way to see its values
        elif isinstance(item, (list, tuple, set, frozenset, KeysView, ValuesView, ItemsView)):
            total += 2 + 2 * len(item)
            stack.append(iter(item))
        else:
            total += 80
    return total, nodes


# --- format strings ----------------------------------------------------------------------------------

_PERCENT = re.compile(r"%(?:\((?P<key>[^)]*)\))?[#0\- +]*(?P<width>\*|\d+)?(?:\.(?P<precision>\*|\d+))?[hlL]?"
                      r"(?P<type>[diouxXeEfFgGcrsa%])")
_SPEC = re.compile(r"^(?:.?[<>=^])?[+\- ]?z?#?0?(?P<width>\d*)[,_]?(?:\.(?P<precision>\d+))?[a-zA-Z%]?$")


def _padded(width, precision, arg_size):
    """What one formatted field can take: the argument, padded to the width, or the precision's
    digits (a float printed with 1e308 and `.N` has N digits after about 310)."""
    return max(int(width or 0), int(precision or 0) + 330, arg_size)


def percent_size(budget, fmt, args):
    """Upper estimate of len(fmt % args) for old-style formatting; refuses `*` widths."""
    if isinstance(args, tuple):
        positional, mapping = list(args), None
    elif isinstance(args, dict):
        positional, mapping = [], args
    else:
        positional, mapping = [args], None
    total, index = len(fmt), 0
    for match in _PERCENT.finditer(fmt):
        if match["type"] == "%":
            continue
        if match["width"] == "*" or match["precision"] == "*":
            raise TooCostly("`*` widths in %-formatting are not allowed in templates; write the width.")
        if match["key"] is not None and mapping is not None:
            arg = mapping.get(match["key"], "")
        else:
            arg = positional[index] if index < len(positional) else ""
            index += 1
        total += _padded(match["width"], match["precision"], measure(budget, arg))
    return total


def format_size(budget, fmt, args, kwargs):
    """Upper estimate of len(fmt.format(*args, **kwargs)); refuses nested `{…}` specs."""
    total, auto = 0, 0
    for literal, name, spec, _conversion in Formatter().parse(fmt):
        total += len(literal)
        if name is None:
            continue
        spec = spec or ""
        if "{" in spec:
            raise TooCostly("Nested {…} in format specs are not allowed in templates; write the width.")
        base = re.split(r"[.\[]", name, maxsplit=1)[0]
        if base == "":
            arg = args[auto] if auto < len(args) else ""
            auto += 1
        elif base.isdigit():
            arg = args[int(base)] if int(base) < len(args) else ""
        else:
            arg = kwargs.get(base, "")
        match = _SPEC.match(spec)
        width, precision = (match["width"], match["precision"]) if match else (0, 0)
        total += _padded(width, precision, measure(budget, arg))
    return total


def measure(budget, value):
    """text_size of a value about to be turned into text, charged to the budget (walking a big
    container is work too) and checked against the value limit."""
    if isinstance(value, str):
        return len(value)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return 25 if isinstance(value, float) else value.bit_length() // 3 + 2
    size, nodes = text_size(value, budget.limits.value, budget.limits.steps - budget.steps)
    if nodes > 1:
        budget.step(steps=nodes)
    budget.size(size, "the text of a value")
    return size
