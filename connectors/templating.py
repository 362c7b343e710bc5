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
(template_filters.FILTER_COSTS), so no single call runs past the budget between two of its checks.

Templates are checked when saved, by rendering them against the largest incident the inbound
integrations accept (payload.worst_case_sample); deliveries render in the worker under the same
budget, and a template that goes over it fails the invocation for good (not retried).
"""

import json
from functools import lru_cache

from jinja2 import StrictUndefined, TemplateError, Undefined, nodes
from jinja2.compiler import CodeGenerator
from jinja2.runtime import LoopContext, Macro
from jinja2.sandbox import ImmutableSandboxedEnvironment, SecurityError

from ilert.errors import DomainError

from . import template_budget as tb
from .template_budget import LIMITS, Budget, TooCostly, measure
from .template_filters import (
    CALL_STEPS,
    REMOVED_FILTERS,
    allowed_method,
    budgeted_filter,
    budgeted_test,
    charge_made,
    check_str_method,
    json_filter,
    measured_join,
)

MAX_OUTPUT = LIMITS.output
MAX_SOURCE = 16 * 1024  # compiling 16 KiB takes ~0.1 s (bench/templates.py); real templates are < 4 KiB
MAX_INT_BITS = 16_384  # Python prints at most 4,300 digits anyway


class TemplateFailed(Exception):
    """A template that does not compile, breaks the sandbox's rules, or goes over its budget."""


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
        self.filters["json"] = json_filter
        self.filters = {name: budgeted_filter(name, func) for name, func in self.filters.items()
                        if name not in REMOVED_FILTERS}
        self.tests = {name: budgeted_test(func) for name, func in self.tests.items()}

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
        return super().is_safe_attribute(obj, attr, value) and allowed_method(obj, attr)

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
                args = (measured_join(budget, args[0], (owner,), {}), *args[1:])
            else:
                check_str_method(budget, owner, name, args, kwargs)
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
        return charge_made(budget, result)

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
        return charge_made(budget, super().call_binop(context, operator, left, right))


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
