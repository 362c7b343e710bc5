"""What connector templates cost, and so where their budget lies (connectors/template_budget.py).

    python bench/templates.py

1. Realistic templates (Jira summary/description, Slack/Teams-style and custom webhook bodies, a
   function event) rendered against a small incident and against the largest incident the inbound
   integrations accept (connectors.payload.worst_case_sample): time, steps, volume, output, peak
   memory. The limits must leave these far inside.
2. What one step costs at most (a loop iteration, a filter, a macro call), so the step limit can be
   read as time.
3. Hostile templates: how long until they are refused, how much memory they touched, which limit
   stopped them. With the budget, none may get near the CPU backstop.
4. Compiling the longest template a field holds.
5. One filter (or splitting string method) called on the largest value a template may build
   (2 MiB): what it costs unchecked per unit of its input (character or item), for the worst of
   several input shapes, against what template_filters.FILTER_COSTS charges before the call; then the same
   call in the sandbox (refused, or its time and peak memory). `python bench/templates.py 5` runs
   only this part.

No database: templates render from a payload dict.
"""

import gc
import os
import statistics
import sys
import time
import tracemalloc

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ilert.settings_test")

import django  # noqa: E402

django.setup()

from connectors import template_filters, templating  # noqa: E402
from connectors.payload import sample, template_context, worst_case_sample  # noqa: E402
from connectors.targets.jira import DEFAULT_DESCRIPTION, DEFAULT_SUMMARY  # noqa: E402
from connectors.template_budget import LIMITS, Budget, Limits  # noqa: E402

REALISTIC = {
    "jira summary (default)": DEFAULT_SUMMARY,
    "jira description (default)": DEFAULT_DESCRIPTION,
    "jira description, table of alerts": (
        "h2. {{ incident.summary }}\n{{ incident.details|truncate(30000) }}\n\n||Alert||Instance||Severity||Summary||\n"
        "{% for a in incident.custom_details.alerts|default([]) %}|{{ a.labels.alertname }}|{{ a.labels.instance }}|"
        "{{ a.labels.severity|upper }}|{{ a.annotations.summary|replace('|', '/')|truncate(80) }}|\n{% endfor %}"
        "{% for k, v in incident.labels|dictsort %}* {{ k }}: {{ v|truncate(60) }}\n{% endfor %}"
        "{% for l in incident.links %}[{{ l.text|truncate(40) }}|{{ l.href }}]\n{% endfor %}"),
    "slack-style webhook body": (
        '{"text": {{ ("[" ~ incident.priority ~ "] #" ~ incident.number ~ " " ~ incident.summary)|json }},'
        ' "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": {{ ("*" ~ incident.summary ~ "*\\n"'
        ' ~ incident.details|truncate(2900))|json }}}}, {"type": "context", "elements": ['
        '{% for k, v in incident.labels|dictsort %}{% if loop.index <= 10 %}{% if loop.index > 1 %},{% endif %}'
        '{"type": "mrkdwn", "text": {{ (k ~ ": " ~ v)|truncate(200)|json }}}{% endif %}{% endfor %}]},'
        ' {"type": "actions", "elements": [{"type": "button", "text": {"type": "plain_text", "text": "Open"},'
        ' "url": {{ incident.url|json }}}]}]}'),
    "teams-style card": (
        '{"@type": "MessageCard", "summary": {{ incident.summary|json }}, "title": {{ ("#" ~ incident.number ~ " "'
        ' ~ incident.summary)|json }}, "sections": [{"facts": [{% for k, v in incident.labels.items() %}'
        '{"name": {{ k|json }}, "value": {{ v|json }}}{% if not loop.last %},{% endif %}{% endfor %}],'
        ' "text": {{ incident.details|json }}}], "potentialAction": [{% for l in incident.links %}{"@type": '
        '"OpenUri", "name": {{ (l.text or "Link")|truncate(50)|json }}, "targets": [{"os": "default", "uri": '
        '{{ l.href|json }}}]}{% if not loop.last %},{% endif %}{% endfor %}]}'),
    "webhook: alerts flattened": (
        '{"id": {{ incident.id }}, "event": {{ event.type|json }}, "alerts": [{% for a in '
        'incident.custom_details.alerts|default([]) %}{"name": {{ a.labels.alertname|json }}, '
        '"labels": {{ a.labels|json }}, "text": {{ (a.annotations.summary ~ " " ~ a.annotations.description)|json }}}'
        '{% if not loop.last %},{% endif %}{% endfor %}], "labels": {{ incident.labels|json }}}'),
    "function event: whole payload": '{"source": "ilert", "payload": {{ payload|json }}}',
}

HOSTILE = {
    "huge loop": "{% for i in range(10000) %}{% for j in range(10000) %}{% endfor %}{% endfor %}",
    "nested loops x3": "{% for a in range(1000) %}{% for b in range(1000) %}{% for c in range(1000) %}"
                       "{% endfor %}{% endfor %}{% endfor %}",
    "center(20000000)": '{{ "x"|center(20000000) }}',
    '"x" * 10**9': '{{ "x" * 10**9 }}',
    "macro recursion": "{% macro m(n) %}{{ m(n + 1) }}{% endmacro %}{{ m(0) }}",
    "macro fan-out 2^30": "{% macro m(n) %}{% if n < 30 %}{{ m(n + 1) }}{{ m(n + 1) }}{% endif %}{% endmacro %}"
                          "{{ m(0) }}",
    "join of big ranges": "{% for i in range(10000) %}{{ range(10000)|join(',') }}{% endfor %}",
    "format padding": '{{ "%020000000d"|format(1) }}{{ "{:>20000000}".format(1) }}',
    "doubling with ~": '{% set ns = namespace(s="xxxxxxxx") %}{% for i in range(60) %}{% set ns.s = ns.s ~ ns.s %}'
                       "{% endfor %}",
    "captured output": "{% set s %}{% for i in range(10000) %}{{ incident.details }}{% endfor %}{% endset %}",
    "list repeated into text": "{% set l = [incident.details] * 100000 %}{{ l }}",
    "big-number squaring": "{% set ns = namespace(x=10**64) %}{% for i in range(40) %}{% set ns.x = ns.x * ns.x %}"
                           "{% endfor %}",
    "replace amplification": "{{ incident.details|replace('', incident.details) }}",
    "slices in a loop": "{% for i in range(10000) %}{% for j in range(100) %}{% set s = incident.details[1:] %}"
                        "{% endfor %}{% endfor %}",
    "dump in a loop": "{% for i in range(10000) %}{% set s = payload|json %}{% endfor %}",
}


def render(source, context, limits=LIMITS):
    budget = Budget(limits)
    started = time.perf_counter()
    try:
        text = templating.render(source, context, budget=budget)
        outcome = f"{len(text):,} chars out"
    except templating.TemplateFailed as exc:
        outcome = str(exc).replace("Template too costly: ", "")
    return time.perf_counter() - started, budget, outcome


def peak_memory(source, context, limits=LIMITS):
    tracemalloc.start()
    try:
        render(source, context, limits)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def timed(source, context, repeat=7):
    render(source, context)  # compiled once, cached
    times = [render(source, context)[0] for _ in range(repeat)]
    return statistics.median(times), max(times)


def mib(n):
    return f"{n / (1024 * 1024):6.2f} MiB"


def main():
    small, big = template_context(sample()), template_context(worst_case_sample())
    print(f"Limits: {LIMITS}")
    started = time.perf_counter()
    worst_case_sample()
    print(f"worst-case sample: built in {1000 * (time.perf_counter() - started):.1f} ms; "
          f"payload as JSON {len(templating.render('{{ payload|json }}', big)):,} chars\n")
    realistic_templates(small, big)
    step_costs(small)
    hostile_templates(big)
    compiling_the_longest()


def realistic_templates(small, big):
    print("1. Realistic templates               small incident       | largest incident: median / max of 7, "
          "steps, volume, output, peak memory")
    worst = {"steps": 0, "volume": 0, "output": 0, "time": 0.0, "memory": 0}
    for name, source in REALISTIC.items():
        small_median, _ = timed(source, small)
        median, slowest = timed(source, big)
        _, budget, outcome = render(source, big)
        memory = peak_memory(source, big)
        print(f"  {name:36s} {1000 * small_median:6.2f} ms | {1000 * median:7.2f} / {1000 * slowest:7.2f} ms "
              f"{budget.steps:7,} steps {mib(budget.volume)} {outcome:>18s} {mib(memory)}")
        worst = {"steps": max(worst["steps"], budget.steps), "volume": max(worst["volume"], budget.volume),
                 "output": max(worst["output"], budget.output), "time": max(worst["time"], slowest),
                 "memory": max(worst["memory"], memory)}
    print(f"  most of any: {worst['steps']:,} steps, {mib(worst['volume'])} volume, {1000 * worst['time']:.1f} ms, "
          f"{mib(worst['memory'])} peak memory\n")


def step_costs(small):
    print("2. What one step costs (100,000 of each, unlimited budget)")
    unlimited = Limits(steps=10**9, volume=10**12, cpu_seconds=3600, depth=10**6, range=10**6)
    kinds = {
        "loop iteration": "{% for i in range(100000) %}{% endfor %}",
        "filter (upper on 10 chars)": "{% for i in range(50000) %}{{ 'abcdefghij'|upper }}{% endfor %}",
        "macro call": "{% macro m() %}{% endmacro %}{% for i in range(33333) %}{{ m() }}{% endfor %}",
        "method call": "{% for i in range(50000) %}{{ 'abc'.upper() }}{% endfor %}",
    }
    slowest_step = 0.0
    for name, source in kinds.items():
        elapsed, budget, _ = render(source, small, unlimited)
        per_step = elapsed / budget.steps
        slowest_step = max(slowest_step, per_step)
        print(f"  {name:30s} {budget.steps:8,} steps in {1000 * elapsed:7.1f} ms = {1e6 * per_step:5.2f} µs/step")
    print(f"  at the step limit ({LIMITS.steps:,}), the slowest kind of step adds up to "
          f"{LIMITS.steps * slowest_step * 1000:.0f} ms\n")


def hostile_templates(big):
    print("3. Hostile templates (largest incident)   time to refusal, peak memory, what stopped it")
    slowest_hostile = 0.0
    for name, source in HOSTILE.items():
        elapsed, budget, outcome = render(source, big)
        memory = peak_memory(source, big)
        slowest_hostile = max(slowest_hostile, elapsed)
        print(f"  {name:28s} {1000 * elapsed:7.1f} ms {mib(memory)}  {outcome[:90]}")
    print(f"  slowest refusal: {1000 * slowest_hostile:.0f} ms (CPU backstop: {LIMITS.cpu_seconds:g} s)\n")


def compiling_the_longest():
    longest = templating.MAX_SOURCE
    print(f"4. Compiling the longest template a field holds ({longest // 1024} KiB; realistic ones above: "
          f"{max(len(s) for s in REALISTIC.values()):,} characters at most)")
    compiles = {
        "{{ incident.summary }} repeated": "{{ incident.summary }}" * (longest // 22),
        "nested parentheses": "{{ " + "(" * (longest // 2 - 4) + "1" + ")" * (longest // 2 - 4) + " }}",
        "1+1+…+1": "{{ " + "+".join(["1"] * (longest // 2 - 4)) + " }}",
        "ifs nested 100 deep": "{% if x %}" * 100 + "y" + "{% endif %}" * 100,
    }
    for name, source in compiles.items():
        started = time.perf_counter()
        try:
            templating.compile_template(source)
            outcome = "compiled"
        except templating.TemplateFailed as exc:
            outcome = str(exc)
        print(f"  {name:36s} {1000 * (time.perf_counter() - started):6.0f} ms  {outcome[:70]}")


# --- 5. filters on the largest value -----------------------------------------------------------------

SHAPES = {"words": "a ", "letters": "ab", "angles": "<", "tags": "<a>", "entities": "&lt;", "lines": "a\n",
          "accented lines": "ā\n", "urls": "a.b ", "accented words": "ā ", "emoji words": "😀 ",
          "mixed": "<a href=x>a.b&amp; \n"}
def step_us():
    """What a step of a filter costs on this machine now (as part 2 measures it): per-unit costs are
    divided by it, so the figures hold on a loaded machine too (both slow down alike)."""
    unlimited = Limits(steps=10**9, volume=10**12, cpu_seconds=3600, depth=10**6, range=10**6)
    source = "{% for i in range(50000) %}{{ 'abcdefghij'|upper }}{% endfor %}"
    render(source, {}, unlimited)
    budget = Budget(unlimited)
    started = time.thread_time()
    templating.render(source, {}, budget=budget)
    return 1e6 * (time.thread_time() - started) / budget.steps


# Calls with an argument that makes them do more per item: a dotted attribute is one lookup per level.
VARIANTS = {
    "sort(attribute='0.0.0.0')": ("sort", {"attribute": "0.0.0.0"}, 4),
    "unique(attribute='0.0.0.0')": ("unique", {"attribute": "0.0.0.0"}, 4),
    "max(attribute='0.0.0.0')": ("max", {"attribute": "0.0.0.0"}, 4),
    "groupby('0.0.0.0')": ("groupby", {"attribute": "0.0.0.0"}, 4),
    "groupby('0')": ("groupby", {"attribute": "0"}, 1),
}


def shaped(unit, size):
    return (unit * (size // len(unit) + 1))[:size]


def filter_inputs(size):
    for name, unit in SHAPES.items():
        yield name, shaped(unit, size)
    yield "list of letters", list(shaped("ab", size))
    yield "list of words", shaped("ab ", size * 3 // 2).split()[: size // 2]
    yield "list of accented words", shaped("āb ", size * 3 // 2).split()[: size // 2]
    yield "list of numbers", list(range(size // 4))
    yield "dict", {f"k{i}": f"v{i}" for i in range(size // 16)}


def units(name, value):
    """The input size a call is charged for (template_filters.filter_input_size, without a budget)."""
    if name in getattr(template_filters, "_TEXT_FILTERS", ()):
        return len(value) if isinstance(value, str) else len(str(value))
    return len(value)


def raw_call(name, value, **kwargs):
    from jinja2.filters import FILTERS
    from jinja2.utils import _PassArg

    func = FILTERS[name] if name != "json" else template_filters.json_filter
    environment = templating.environment()
    context = environment.from_string("").new_context()
    first = {_PassArg.context: context, _PassArg.eval_context: context.eval_ctx,
             _PassArg.environment: environment}.get(_PassArg.from_obj(func))
    result = func(first, value, **kwargs) if first is not None else func(value, **kwargs)
    return list(result) if hasattr(result, "__next__") else result


def raw_cost(call, value, size):
    """(µs of CPU, peak bytes) per unit of one unchecked call."""
    gc.collect()
    started = time.thread_time()
    call(value)
    cpu = time.thread_time() - started
    gc.collect()
    tracemalloc.start()
    try:
        call(value)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    return 1e6 * cpu / max(size, 1), peak / max(size, 1)


def in_sandbox(source, value):
    """(CPU seconds, peak bytes, outcome) of rendering `source` with `v` = value; CPU measured
    without tracemalloc (which slows Python code several times)."""
    def run():
        budget = Budget()
        try:
            templating.render(source, {"v": value}, budget=budget)
            return "rendered"
        except templating.TemplateFailed as exc:
            return str(exc).replace("Template too costly: ", "")

    started = time.thread_time()
    outcome = run()
    cpu = time.thread_time() - started
    gc.collect()
    tracemalloc.start()
    try:
        run()
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    return cpu, peak, outcome


def _charged(name, levels):
    """(steps, bytes) charged per unit, or None where nothing is charged per unit (the code before)."""
    if name.startswith("str."):
        cost = getattr(template_filters, "METHOD_COSTS", {}).get(name.removeprefix("str."))
    else:
        costs = getattr(template_filters, "FILTER_COSTS", None)
        cost = None if costs is None else costs.get(name, template_filters.DEFAULT_FILTER_COST)
    if cost is None:
        return None
    return cost[0] + levels * getattr(template_filters, "ATTRIBUTE_STEPS", 0), cost[1]


def filters_on_the_largest_value():
    from jinja2.filters import FILTERS

    size, raw_size = LIMITS.value, LIMITS.value // 8  # per-unit costs are measured on 256 K units (faster)
    step = step_us()
    removed = getattr(template_filters, "REMOVED_FILTERS", frozenset())
    lazy = getattr(template_filters, "LAZY_FILTERS", None) or getattr(templating, "_LAZY_FILTERS", frozenset())
    print(f"5. One call on the largest value ({size:,} characters or items). Unchecked, per unit of input, "
          f"worst shape: steps (a filter's step takes {step:.2f} µs now) and peak bytes | charged per unit before "
          "the call | the same call in the sandbox: CPU, peak memory, outcome")
    calls = {name: (name, lambda v, n=name: raw_call(n, v), 0) for name in sorted(set(FILTERS) | {"json"})
             if name not in lazy}
    calls.update({variant: (name, lambda v, n=name, k=kwargs: raw_call(n, v, **k), levels)
                  for variant, (name, kwargs, levels) in VARIANTS.items()})
    calls.update({f"str.{m}": (f"str.{m}", lambda v, m=m: getattr(v, m)(), 0)
                  for m in ("split", "rsplit", "splitlines", "title", "upper", "swapcase", "casefold", "expandtabs")})
    undercharged = []
    for label, (name, call, levels) in calls.items():
        worst_cpu, worst_memory, worst_shape = _worst_shape(name, call, raw_size)
        if worst_shape is None:
            continue
        needed = (worst_cpu[0] / step, worst_memory[0])
        charged = _charged(name, levels)
        flag = ""
        if _undercharged(name, charged, needed, removed):
            flag = " UNDER"
            undercharged.append(label)
        charged_text = f"{charged[0]:6.3g} steps {charged[1]:4.0f} B" if charged else "     (not per unit)"
        sandbox = _sandbox_text(label, name, removed, size, worst_shape)
        print(f"  {label:27s} {needed[0]:6.3g} steps {needed[1]:5.1f} B ({worst_cpu[1][:14]:14s}) | "
              f"{charged_text}{flag:6s}| {sandbox[:100]}")
    print(f"  charged less than measured: {', '.join(undercharged) or 'none'}\n")


def _worst_shape(name, call, raw_size):
    """Over the input shapes: ((µs per unit, shape) of the slowest, (bytes per unit, shape) of the
    hungriest, the slowest shape), or a None shape when the call takes none of them."""
    worst_cpu = worst_memory = (0.0, "")
    worst_shape = None
    for shape, value in filter_inputs(raw_size):
        if name.startswith("str.") and not isinstance(value, str):
            continue
        try:
            cpu, memory = raw_cost(call, value, units(name, value))
        except Exception:  # noqa: BLE001,S112 - a filter that does not take this shape
            continue
        if cpu >= worst_cpu[0]:
            worst_cpu, worst_shape = (cpu, shape), shape
        worst_memory = max(worst_memory, (memory, shape))
    return worst_cpu, worst_memory, worst_shape


def _undercharged(name, charged, needed, removed):
    # filters written in C (under 0.1 steps a unit) are charged no steps per unit: their time is
    # bounded by the volume limit on what they return (template_filters.FILTER_COSTS)
    too_slow = needed[0] > charged[0] if charged and (charged[0] or needed[0] >= 0.1) else False
    return bool(charged and name not in removed and (too_slow or charged[1] < needed[1]))


def _sandbox_text(label, name, removed, size, worst_shape):
    """The same call on the largest value of its worst shape, in the sandbox: time, memory, outcome."""
    if name in removed:
        return "removed from the sandbox"
    value = dict(filter_inputs(size))[worst_shape]
    arguments = ", ".join(f"{k}={v!r}" for k, v in VARIANTS.get(label, ("", {}, 0))[1].items())
    call_text = f"v.{name[4:]}()" if name.startswith("str.") else f"v|{name}({arguments})"
    source = "{{ " + call_text + " }}"
    return "{:6.0f} ms {:6.1f} MiB  {}".format(*_scaled(in_sandbox(source, value)))


def _scaled(result):
    cpu, peak, outcome = result
    return 1000 * cpu, peak / (1024 * 1024), outcome


if __name__ == "__main__":
    if sys.argv[1:] == ["5"]:
        filters_on_the_largest_value()
    else:
        main()
        filters_on_the_largest_value()
