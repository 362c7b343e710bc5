"""What a connector template may call, each call charged to the budget before it runs
(connectors/template_budget.py): the methods allowed on plain values, and Jinja's filters and
tests wrapped so that a filter pays for reading its input (FILTER_COSTS, measured by
bench/templates.py) and what it builds is measured (`charge_made`). The sandbox that installs them
is connectors/templating.py.
"""

import json
from collections.abc import Iterator
from functools import wraps
from math import ceil

from jinja2 import pass_context
from jinja2.sandbox import SecurityError
from jinja2.utils import _PassArg

from . import template_budget as tb
from .template_budget import TooCostly, measure, shallow

# What a step costs in loop iterations (bench/templates.py, part 2): a call (macro, method) takes
# about 10 times as long as an iteration, a filter about 3 times.
CALL_STEPS, FILTER_STEPS = 10, 3


# --- what templates may call on plain values ----------------------------------------------------------

_STR_METHODS = frozenset("""
capitalize casefold count endswith find index isalnum isalpha isascii isdecimal isdigit isidentifier
islower isnumeric isprintable isspace istitle isupper lower lstrip partition removeprefix removesuffix
rfind rindex rpartition rsplit rstrip split splitlines startswith strip swapcase title upper encode decode
hex striptags unescape center ljust rjust zfill expandtabs replace join format format_map
""".split())
_METHODS = {
    (str, bytes): _STR_METHODS,
    (bool, int, float): frozenset({"bit_length", "bit_count", "conjugate", "is_integer", "real", "imag",
                                   "numerator", "denominator"}),
    (dict,): frozenset({"get", "items", "keys", "values"}),
    (list, tuple): frozenset({"count", "index"}),
    (set, frozenset): frozenset({"union", "intersection", "difference", "symmetric_difference", "issubset",
                                 "issuperset", "isdisjoint"}),
}


# Methods charged per character before they run, like the filters below (FILTER_COSTS): split() of
# "a a a …" makes a 50-byte object of every other character; changing the case of a non-ASCII text
# takes a buffer of 12 bytes a character on top of the result.
METHOD_COSTS = {"split": (1 / 8, 64), "rsplit": (1 / 8, 64), "splitlines": (1 / 8, 64), "upper": (0, 24),
                "lower": (0, 24), "title": (0, 24), "capitalize": (0, 24), "swapcase": (0, 24), "casefold": (0, 24)}


def allowed_method(obj, attr):
    for types, names in _METHODS.items():
        if isinstance(obj, types):
            return attr in names
    return True  # Jinja's own objects (loop, namespace, macros) and the incident's dicts


def _replace_size(text, old, new, count=-1):
    occurrences = text.count(old) if old else len(text) + 1
    if count is not None and count >= 0:
        occurrences = min(occurrences, count)
    return len(text) + occurrences * max(0, len(new) - len(old))


def check_str_method(budget, text, name, args, kwargs):
    """Measure, before it runs, what a string method that can build a big value would build."""
    if name in METHOD_COSTS:
        steps_per_unit, bytes_per_unit = METHOD_COSTS[name]
        budget.step(steps=ceil(len(text) * steps_per_unit))
        budget.room(ceil(len(text) * bytes_per_unit), f"{name}()")
    elif name in ("center", "ljust", "rjust", "zfill") and args and isinstance(args[0], int):
        budget.size(max(len(text), args[0]), f"the result of {name}()")
    elif name == "expandtabs":
        tabsize = args[0] if args else kwargs.get("tabsize", 8)
        if isinstance(tabsize, int):
            budget.size(len(text) + text.count("\t" if isinstance(text, str) else b"\t") * max(tabsize, 0),
                        "the result of expandtabs()")
    elif name == "replace" and len(args) >= 2 and isinstance(args[0], type(text)) and isinstance(args[1], type(text)):
        budget.size(_replace_size(text, args[0], args[1], args[2] if len(args) > 2 else kwargs.get("count", -1)),
                    "the result of replace()")
    elif name in ("format", "format_map") and isinstance(text, str):
        if name == "format_map":
            args, kwargs = (), (args[0] if args and isinstance(args[0], dict) else {})
        budget.size(tb.format_size(budget, text, args, kwargs), "the result of format()")


# --- filters and tests under the budget ---------------------------------------------------------------

# Filters taken out of the sandbox: no JSON body or text field needs them, and one call of each on
# the largest value a template may build ran for 1-4 s and held up to 360 MB (bench/templates.py,
# part 5). `urlize` writes HTML <a> links, `wordwrap` hard line breaks (Jira,
# Slack and Teams wrap text themselves), `pprint` Python's repr (`tojson`/`json` write JSON).
REMOVED_FILTERS = frozenset({"urlize", "wordwrap", "pprint"})

# Filters that only look at a value or return a lazy iterator (whose items are counted where they are
# used); every other filter is charged for reading its input.
LAZY_FILTERS = frozenset({"length", "count", "first", "last", "default", "d", "attr", "safe", "abs", "round", "int",
                          "float", "random", "items", "batch", "slice", "map", "select", "reject", "selectattr",
                          "rejectattr", "reverse"})
# Filters that turn their value into text: the value is measured first (a list repeated into itself
# must not be printed), and its text is their input.
_TEXT_FILTERS = frozenset({"capitalize", "center", "e", "escape", "forceescape", "format", "indent", "lower",
                           "replace", "string", "striptags", "title", "tojson", "json", "trim", "truncate",
                           "upper", "urlencode", "wordcount", "xmlattr", "filesizeformat"})
# What one call costs per unit of its input (a character of the text a text filter reads, an item
# of the others'), measured on the worst of several input shapes (bench/templates.py, part 5):
# (steps, bytes), rounded up from the most of several runs on a shared machine. Steps are charged
# before the call: its CPU time over that of a filter's step in the same run (about 0.45 µs on a
# quiet machine: bench part 2). Filters written in C (json, escape, upper, …) take under a tenth of
# a step a character, bounded by the value and volume limits on what they return, and are charged
# no steps per unit. Bytes are the peak memory of the call: `title` or `striptags` build a
# Python string per word, `sort` or `list` of a text one per character, so it must fit in what is
# left of the volume budget before the call runs.
FILTER_COSTS = {
    "capitalize": (0, 24), "center": (0, 4), "dictsort": (1, 192), "e": (0, 16), "escape": (0, 16),
    "filesizeformat": (0, 4), "forceescape": (0, 16), "format": (0, 4), "groupby": (3, 192),
    "indent": (1 / 2, 128), "join": (1 / 2, 96), "json": (0, 16), "list": (1 / 4, 64), "lower": (0, 24),
    "max": (1, 8), "min": (1, 8), "replace": (0, 4), "sort": (5, 256), "string": (0, 4),
    "striptags": (1 / 2, 96), "sum": (1 / 8, 8), "title": (3 / 4, 160), "tojson": (0, 24), "trim": (0, 8),
    "truncate": (0, 1), "unique": (3 / 2, 128), "upper": (0, 24), "urlencode": (3 / 2, 40),
    "wordcount": (3 / 8, 64), "xmlattr": (1 / 2, 64),
}
# Filters that look an `attribute` up in every item (the argument's position after the value): a
# dotted path costs a lookup per level and item, on top of the filter's own cost.
_ATTRIBUTE_ARG = {"sort": 2, "unique": 1, "min": 1, "max": 1, "sum": 0, "groupby": 0}
ATTRIBUTE_STEPS = 1 / 4  # bench part 5: a level costs under 0.05 µs an item
DEFAULT_FILTER_COST = (1, 64)  # a filter nobody measured yet (tests/connectors: every filter is measured)


def _arg(args, kwargs, index, name, default=None):
    """The filter argument at `index` (after the value) or named `name`."""
    if len(args) > index:
        return args[index]
    return kwargs.get(name, default)


def _check_center(budget, name, value, args, kwargs):
    width = _arg(args, kwargs, 0, "width", 80)
    if isinstance(width, int):
        budget.size(max(len(str(value)), width), "the result of center()")


def _check_indent(budget, name, value, args, kwargs):
    width = _arg(args, kwargs, 0, "width", 4)
    width = len(width) if isinstance(width, str) else width if isinstance(width, int) else 0
    text = str(value)
    budget.size(len(text) + (text.count("\n") + 1) * width, "the result of indent()")


def _check_format(budget, name, value, args, kwargs):
    budget.size(tb.percent_size(budget, str(value), kwargs or tuple(args)), "the result of format()")


def _check_replace(budget, name, value, args, kwargs):
    if isinstance(value, str) and len(args) >= 2:
        count = _arg(args, kwargs, 2, "count", None)
        budget.size(_replace_size(value, str(args[0]), str(args[1]), -1 if count is None else count),
                    "the result of replace()")


def _check_count(budget, name, value, args, kwargs):
    count = _arg(args, kwargs, 0, "linecount" if name == "batch" else "slices", 0)
    if isinstance(count, int):
        budget.count(count, f"{name}()")


def _check_tojson(budget, name, value, args, kwargs):
    indent = _arg(args, kwargs, 0, "indent", None)
    if isinstance(indent, int) and indent > 16:
        raise TooCostly(f"{name}(indent=…) is limited to 16 in templates.")


def _check_sum(budget, name, value, args, kwargs):
    start = _arg(args, kwargs, 1, "start", 0)
    if not isinstance(start, (int, float)):
        raise SecurityError("sum() adds numbers only in templates.")


# Filters whose arguments decide how big a value they build (measured before the call), or that
# templates may call only with some arguments.
_FILTER_CHECKS = {"center": _check_center, "indent": _check_indent, "format": _check_format,
                  "replace": _check_replace, "batch": _check_count, "slice": _check_count,
                  "tojson": _check_tojson, "sum": _check_sum}


def _check_filter(budget, name, value, args, kwargs):
    check = _FILTER_CHECKS.get(name)
    if check is not None:
        check(budget, name, value, args, kwargs)


def measured_join(budget, value, args, kwargs):
    """join() materialises its items once, measures them and the separators, then joins."""
    # each item is measured and turned into text: charged before the work when the number is known
    # (join's cost per item: FILTER_COSTS), else as the items come; the list must fit in memory at once
    steps_per_item, bytes_per_item = FILTER_COSTS["join"]
    if isinstance(value, (list, tuple, str, range, dict, set, frozenset)):
        budget.step(len(value), steps=ceil(len(value) * steps_per_item) + 1)
        budget.room(len(value) * bytes_per_item, "join()")
        items = list(value)
    else:
        items = []
        for item in value:
            budget.step(1, steps=ceil(steps_per_item))
            items.append(item)
    separator = str(_arg(args, kwargs, 0, "d", ""))
    total = len(separator) * max(len(items) - 1, 0) + sum(measure(budget, item) for item in items)
    budget.size(total, "the result of join()")
    return items


def budgeted_filter(name, func):
    pass_arg = _PassArg.from_obj(func)

    @pass_context
    @wraps(func)
    def run(context, value, *args, **kwargs):
        budget = tb.current()
        if name not in LAZY_FILTERS and isinstance(value, Iterator):
            value = list(value)  # a lazy filter's items (counted as they come): now the input can be measured
        if name == "join":
            budget.step(steps=FILTER_STEPS)
            value = measured_join(budget, value, args, kwargs)
        else:
            _charge_input(budget, name, value, args, kwargs)
        _check_filter(budget, name, value, args, kwargs)
        first = {_PassArg.context: context, _PassArg.eval_context: context.eval_ctx,
                 _PassArg.environment: context.environment}.get(pass_arg)
        result = func(first, value, *args, **kwargs) if pass_arg else func(value, *args, **kwargs)
        if isinstance(result, Iterator):  # map, select, reverse, …: each item is a step where it is used
            result = context.environment.budget_iter(result)
        return charge_made(budget, result)

    return run


def filter_input_size(budget, name, value):
    """What a filter reads: the characters of the text a text filter makes of its value (measured
    without building it), the items (or characters) of the others' value; nothing for lazy ones."""
    if name in LAZY_FILTERS:
        return 0
    if name in _TEXT_FILTERS:
        return measure(budget, value)
    return shallow(value)


def _attribute_levels(name, args, kwargs):
    """Lookups per item of a filter's `attribute` ("a.b,c" is three; none: 0)."""
    if name not in _ATTRIBUTE_ARG:
        return 0
    attribute = _arg(args, kwargs, _ATTRIBUTE_ARG[name], "attribute")
    if attribute is None:
        return 0
    return str(attribute).replace(",", ".").count(".") + 1


def _charge_input(budget, name, value, args, kwargs):
    """Before a filter runs: its time is charged as steps from the size of its input, and the memory
    it will hold at once must fit in what is left of the volume budget (it is freed after the call;
    what the call returns is charged by `charge_made`)."""
    size = filter_input_size(budget, name, value)
    steps_per_unit, bytes_per_unit = FILTER_COSTS.get(name, DEFAULT_FILTER_COST)
    steps_per_unit += _attribute_levels(name, args, kwargs) * ATTRIBUTE_STEPS
    budget.step(0 if name in LAZY_FILTERS else shallow(value), steps=FILTER_STEPS + ceil(size * steps_per_unit))
    budget.room(ceil(size * bytes_per_unit), f"{name}()")


def budgeted_test(func):
    pass_arg = _PassArg.from_obj(func)

    @pass_context
    @wraps(func)
    def run(context, *args, **kwargs):
        tb.current().step(shallow(args[1]) if len(args) > 1 else 0)
        first = {_PassArg.context: context, _PassArg.eval_context: context.eval_ctx,
                 _PassArg.environment: context.environment}.get(pass_arg)
        return func(first, *args, **kwargs) if pass_arg else func(*args, **kwargs)

    return run


def charge_made(budget, result):
    """Charge what an operation built and refuse it if it is bigger than one value may be."""
    size = shallow(result)
    if size > 1:
        budget.size(size, "a value")
        budget.step(size, steps=0)
    return result


def json_filter(value):
    return json.dumps(value)
