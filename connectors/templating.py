"""Custom bodies and texts from user-written Jinja2 templates, rendered in Jinja2's sandbox under a
CPU and memory budget (connectors/template_budget.py).

`ImmutableSandboxedEnvironment` refuses unsafe attributes (no `__class__` walks) and calls that
mutate lists and dicts. On top of it every place where a template can spend time or memory goes
through the budget: loop iterations (the `for` of every loop is wrapped when the template is
parsed), calls (macros, methods, globals), filters and tests, operators, `~`, comparisons,
slices and every piece of output (also output captured by `set` blocks, macros and filter blocks).
Methods of strings, numbers and containers are allowed from a fixed list; those that can build a
big value in one go (`center`, `replace`, `join`, `format`, …) are measured before they run. A
filter (or a splitting method) is charged for its input before it runs: steps for the time it takes
per character or item, and the memory it holds at once must fit in what is left of the volume budget
(FILTER_COSTS), so no single call runs past the budget between two of its checks.

Templates are checked when saved, by rendering them against the largest incident the inbound
integrations accept (payload.worst_case_sample); deliveries render in the worker under the same
budget, and a template that goes over it fails the invocation for good (not retried).
"""

import json
from collections.abc import Iterator
from functools import lru_cache, wraps
from math import ceil

from jinja2 import StrictUndefined, TemplateError, Undefined, nodes, pass_context
from jinja2.compiler import CodeGenerator
from jinja2.runtime import LoopContext, Macro
from jinja2.sandbox import ImmutableSandboxedEnvironment, SecurityError
from jinja2.utils import _PassArg

from ilert.errors import DomainError

from . import template_budget as tb
from .template_budget import LIMITS, Budget, TooCostly, measure, shallow

MAX_OUTPUT = LIMITS.output
MAX_SOURCE = 16 * 1024  # compiling 16 KiB takes ~0.1 s (bench/templates.py); real templates are < 4 KiB
MAX_INT_BITS = 16_384  # Python prints at most 4,300 digits anyway
# What a step costs in loop iterations (bench/templates.py, part 2): a call (macro, method) takes
# about 10 times as long as an iteration, a filter about 3 times.
CALL_STEPS, FILTER_STEPS = 10, 3


class TemplateFailed(Exception):
    """A template that does not compile, breaks the sandbox's rules, or goes over its budget."""


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


def _allowed_method(obj, attr):
    for types, names in _METHODS.items():
        if isinstance(obj, types):
            return attr in names
    return True  # Jinja's own objects (loop, namespace, macros) and the incident's dicts


def _replace_size(text, old, new, count=-1):
    occurrences = text.count(old) if old else len(text) + 1
    if count is not None and count >= 0:
        occurrences = min(occurrences, count)
    return len(text) + occurrences * max(0, len(new) - len(old))


def _check_str_method(budget, text, name, args, kwargs):
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


def _check_filter(budget, name, value, args, kwargs):
    text = str(value) if name in _TEXT_FILTERS and isinstance(value, str) else None
    if name == "center":
        width = _arg(args, kwargs, 0, "width", 80)
        if isinstance(width, int):
            budget.size(max(len(str(value)), width), "the result of center()")
    elif name == "indent":
        width = _arg(args, kwargs, 0, "width", 4)
        width = len(width) if isinstance(width, str) else width if isinstance(width, int) else 0
        text = str(value)
        budget.size(len(text) + (text.count("\n") + 1) * width, "the result of indent()")
    elif name == "format":
        budget.size(tb.percent_size(budget, str(value), kwargs or tuple(args)), "the result of format()")
    elif name == "replace" and text is not None and len(args) >= 2:
        count = _arg(args, kwargs, 2, "count", None)
        budget.size(_replace_size(text, str(args[0]), str(args[1]), -1 if count is None else count),
                    "the result of replace()")
    elif name in ("batch", "slice"):
        count = _arg(args, kwargs, 0, "linecount" if name == "batch" else "slices", 0)
        if isinstance(count, int):
            budget.count(count, f"{name}()")
    elif name == "tojson":
        indent = _arg(args, kwargs, 0, "indent", None)
        if isinstance(indent, int) and indent > 16:
            raise TooCostly(f"{name}(indent=…) is limited to 16 in templates.")
    elif name == "sum":
        start = _arg(args, kwargs, 1, "start", 0)
        if not isinstance(start, (int, float)):
            raise SecurityError("sum() adds numbers only in templates.")


def _join(budget, value, args, kwargs):
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


def _budgeted_filter(name, func):
    pass_arg = _PassArg.from_obj(func)

    @pass_context
    @wraps(func)
    def run(context, value, *args, **kwargs):
        budget = tb.current()
        if name not in LAZY_FILTERS and isinstance(value, Iterator):
            value = list(value)  # a lazy filter's items (counted as they come): now the input can be measured
        if name == "join":
            budget.step(steps=FILTER_STEPS)
            value = _join(budget, value, args, kwargs)
        else:
            _charge_input(budget, name, value, args, kwargs)
        _check_filter(budget, name, value, args, kwargs)
        first = {_PassArg.context: context, _PassArg.eval_context: context.eval_ctx,
                 _PassArg.environment: context.environment}.get(pass_arg)
        result = func(first, value, *args, **kwargs) if pass_arg else func(value, *args, **kwargs)
        if isinstance(result, Iterator):  # map, select, reverse, …: each item is a step where it is used
            result = context.environment.budget_iter(result)
        return _made(budget, result)

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
    what the call returns is charged by `_made`)."""
    size = filter_input_size(budget, name, value)
    steps_per_unit, bytes_per_unit = FILTER_COSTS.get(name, DEFAULT_FILTER_COST)
    steps_per_unit += _attribute_levels(name, args, kwargs) * ATTRIBUTE_STEPS
    budget.step(0 if name in LAZY_FILTERS else shallow(value), steps=FILTER_STEPS + ceil(size * steps_per_unit))
    budget.room(ceil(size * bytes_per_unit), f"{name}()")


def _budgeted_test(func):
    pass_arg = _PassArg.from_obj(func)

    @pass_context
    @wraps(func)
    def run(context, *args, **kwargs):
        tb.current().step(shallow(args[1]) if len(args) > 1 else 0)
        first = {_PassArg.context: context, _PassArg.eval_context: context.eval_ctx,
                 _PassArg.environment: context.environment}.get(pass_arg)
        return func(first, *args, **kwargs) if pass_arg else func(*args, **kwargs)

    return run


def _made(budget, result):
    """Charge what an operation built and refuse it if it is bigger than one value may be."""
    size = shallow(result)
    if size > 1:
        budget.size(size, "a value")
        budget.step(size, steps=0)
    return result


def _json(value):
    return json.dumps(value)


# --- the generated code calls the budget ----------------------------------------------------------------


class _CodeGenerator(CodeGenerator):
    """Jinja2's code generator, with every output, `~` and comparison going through the budget."""

    def _output_const_repr(self, group):
        return f"environment.budget_write({super()._output_const_repr(group)})"

    def _output_child_pre(self, node, frame, finalize):
        self.write("environment.budget_write(")
        super()._output_child_pre(node, frame, finalize)
        self.write("environment.budget_text(")

    def _output_child_post(self, node, frame, finalize):
        self.write(")")
        super()._output_child_post(node, frame, finalize)
        self.write(")")

    def visit_Concat(self, node, frame):
        self.write("environment.budget_concat((")
        for arg in node.nodes:
            self.visit(arg, frame)
            self.write(", ")
        self.write("))")

    def visit_Getitem(self, node, frame):
        if not isinstance(node.arg, nodes.Slice):  # items go through environment.getitem anyway
            return super().visit_Getitem(node, frame)
        self.write("environment.budget_slice(")
        self.visit(node.node, frame)
        self.write(", slice(")
        for index, part in enumerate((node.arg.start, node.arg.stop, node.arg.step)):
            self.write(", " if index else "")
            if part is None:
                self.write("None")
            else:
                self.visit(part, frame)
        self.write("))")
        return None

    def visit_Compare(self, node, frame):
        self.write("environment.budget_step(")
        super().visit_Compare(node, frame)
        self.write(")")


class _Sandbox(ImmutableSandboxedEnvironment):
    code_generator_class = _CodeGenerator
    intercepted_binops = frozenset(["+", "-", "*", "/", "//", "%", "**"])

    def __init__(self, **options):
        super().__init__(**options)
        self.globals.pop("lipsum", None)  # lipsum(n=10**9) writes n paragraphs
        self.globals["range"] = self.budget_range
        self.filters["json"] = _json
        self.filters = {name: _budgeted_filter(name, func) for name, func in self.filters.items()
                        if name not in REMOVED_FILTERS}
        self.tests = {name: _budgeted_test(func) for name, func in self.tests.items()}

    # every loop iterates through budget_iter: the parsed template is rewritten before compiling
    def _parse(self, source, name, filename):
        tree = super()._parse(source, name, filename)
        for loop in tree.find_all(nodes.For):
            loop.iter = nodes.Call(nodes.EnvironmentAttribute("budget_iter", lineno=loop.lineno), [loop.iter], [],
                                   None, None, lineno=loop.lineno, environment=self)
        return tree

    def budget_iter(self, iterable):
        budget = tb.current()
        for item in iterable:
            budget.step()
            yield item

    def budget_range(self, *args):
        values = range(*args)
        tb.current().count(len(values), "range()")
        return values

    def budget_write(self, text):
        return tb.current().wrote(text)

    def budget_text(self, value):
        measure(tb.current(), value)
        return value

    def budget_concat(self, values):
        budget = tb.current()
        parts = []
        for value in values:
            if not isinstance(value, str):
                measure(budget, value)  # before str(): a container's text may be huge
                value = str(value)
            parts.append(value)
        total = sum(len(part) for part in parts)
        budget.size(total, "a ~ concatenation")
        budget.step(total)
        return "".join(parts)

    def budget_step(self, value):
        tb.current().step()
        return value

    # attributes, items, calls and operators
    def is_safe_attribute(self, obj, attr, value):
        return super().is_safe_attribute(obj, attr, value) and _allowed_method(obj, attr)

    def budget_slice(self, obj, part):
        """`x[a:b]` (Jinja writes slices as plain Python, past environment.getitem)."""
        if isinstance(obj, (str, bytes, list, tuple)):
            tb.current().step(len(range(*part.indices(len(obj)))))
        return obj[part]

    def call(__self, __context, __obj, *args, **kwargs):  # noqa: N805 - Jinja's own signature
        budget = tb.current()
        budget.step(len(args) + len(kwargs), steps=CALL_STEPS)
        method = getattr(__obj, "__wrapped__", __obj)  # str.format is wrapped by the sandbox
        owner = getattr(method, "__self__", None)
        if isinstance(owner, (str, bytes)):
            name = getattr(method, "__name__", "")
            if name == "join" and args:
                args = (_join(budget, args[0], (owner,), {}), *args[1:])
            else:
                _check_str_method(budget, owner, name, args, kwargs)
        nested = isinstance(__obj, (Macro, LoopContext))
        if isinstance(__obj, LoopContext) and args:  # a recursive loop's next level counts its items too
            args = (__self.budget_iter(args[0]), *args[1:])
        if nested:
            budget.depth += 1
            if budget.depth > budget.limits.depth:
                raise TooCostly(f"Macros and recursive loops nest deeper than {budget.limits.depth} levels.")
        try:
            result = super().call(__context, __obj, *args, **kwargs)
        finally:
            if nested:
                budget.depth -= 1
        return _made(budget, result)

    def call_binop(self, context, operator, left, right):
        budget = tb.current()
        budget.step()
        if operator == "*":
            _check_repeat(budget, left, right)
        elif operator == "**":
            if isinstance(left, int) and isinstance(right, int) and right > 0 and (
                    left.bit_length() * right > MAX_INT_BITS):
                raise TooCostly(f"Numbers in templates are limited to {MAX_INT_BITS} bits.")
        elif operator == "+" and isinstance(left, (str, bytes, list, tuple)) and type(left) is type(right):
            budget.size(len(left) + len(right), "a + concatenation")
        elif operator == "%" and isinstance(left, (str, bytes)):
            text = left.decode(errors="replace") if isinstance(left, bytes) else left
            budget.size(tb.percent_size(budget, text, right), "the result of %-formatting")
        return _made(budget, super().call_binop(context, operator, left, right))


def _check_repeat(budget, left, right):
    if isinstance(left, int) and not isinstance(right, int):
        left, right = right, left
    if isinstance(right, int) and isinstance(left, (str, bytes, list, tuple)):
        budget.size(len(left) * max(right, 0), "a repeated value")
    elif isinstance(left, int) and isinstance(right, int) and left.bit_length() + right.bit_length() > MAX_INT_BITS:
        raise TooCostly(f"Numbers in templates are limited to {MAX_INT_BITS} bits.")


@lru_cache(maxsize=2)
def environment(strict=False):
    return _Sandbox(autoescape=False, undefined=StrictUndefined if strict else Undefined, trim_blocks=True,
                    lstrip_blocks=True)


@lru_cache(maxsize=256)
def _compiled(source):
    return environment().from_string(source)


def compile_template(source):
    if len(source) > MAX_SOURCE:
        raise TemplateFailed(f"A template is at most {MAX_SOURCE // 1024} KiB.")
    try:
        return _compiled(source)
    except TemplateError as exc:
        raise TemplateFailed(f"Template error: {exc}") from None
    except (RecursionError, MemoryError, SyntaxError):
        raise TemplateFailed("Template error: the template nests too deeply.") from None


def render(source, context, *, budget=None):
    """The rendered text. Raises TemplateFailed for a template that is invalid, breaks the sandbox or
    goes over its budget (`budget`: a template_budget.Budget, for measuring; by default a fresh one
    with the standard limits)."""
    template = compile_template(source)
    budget = budget or Budget()
    token = tb.running(budget)
    out, size = [], 0
    chunks = template.generate(**context)
    try:
        for chunk in chunks:
            size += len(chunk)
            if size > budget.limits.output:
                raise TooCostly(f"The template renders more than {budget.limits.output // (1024 * 1024)} MiB.")
            out.append(chunk)
    except TooCostly as exc:
        raise TemplateFailed(f"Template too costly: {exc}") from None
    except RecursionError:
        raise TemplateFailed("Template too costly: it nests too deeply.") from None
    except MemoryError:
        raise TemplateFailed("Template too costly: it needs too much memory.") from None
    except (TemplateError, SecurityError) as exc:
        raise TemplateFailed(f"Template error: {exc}") from None
    except (TypeError, ValueError, ArithmeticError, LookupError, AttributeError) as exc:
        raise TemplateFailed(f"Template error: {type(exc).__name__}: {exc}") from None
    finally:
        chunks.close()
        tb.stopped(token)
    return "".join(out)


def render_json(source, context, *, budget=None):
    """Render a template that must produce a JSON document; returns the parsed value."""
    text = render(source, context, budget=budget)
    try:
        return json.loads(text)
    except ValueError as exc:
        raise TemplateFailed(f"The rendered body is not valid JSON: {exc}") from None


def validate(source, field, *, sample, as_json=False):
    """Check a template when it is saved, by rendering it against a sample incident (the largest
    the inbound integrations accept: payload.worst_case_sample)."""
    try:
        (render_json if as_json else render)(source, sample)
    except TemplateFailed as exc:
        raise DomainError(str(exc), field=field) from None
