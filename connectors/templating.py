"""Custom bodies and texts from user-written Jinja2 templates, rendered in Jinja2's sandbox.

`SandboxedEnvironment` refuses access to unsafe attributes (no `__class__` walks, no calling
methods that mutate). On top of it: `range()` is capped, `*`/`**` on large operands is refused,
and the output is cut off at MAX_OUTPUT characters, so a template cannot eat the worker.
"""

import json
from functools import lru_cache

from jinja2 import StrictUndefined, TemplateError, Undefined
from jinja2.sandbox import SandboxedEnvironment, SecurityError

from ilert.errors import DomainError

MAX_OUTPUT = 256 * 1024
MAX_RANGE = 1000
MAX_OPERAND = 10_000


class TemplateFailed(Exception):
    """A template that does not compile, breaks the sandbox's rules, or renders too much."""


class _Sandbox(SandboxedEnvironment):
    intercepted_binops = frozenset(["*", "**"])

    def call_binop(self, context, operator, left, right):
        if operator == "**" and (abs(right) > 64 if isinstance(right, (int, float)) else True):
            raise SecurityError("Exponent too large.")
        if operator == "*":
            sizes = [len(x) if isinstance(x, (str, list, tuple)) else 1 for x in (left, right)]
            numbers = [abs(x) for x in (left, right) if isinstance(x, int)]
            if max(sizes) > 1 and numbers and max(sizes) * max(numbers) > MAX_OUTPUT:
                raise SecurityError("Repetition too large.")
        return super().call_binop(context, operator, left, right)


def _safe_range(*args):
    values = range(*args)
    if len(values) > MAX_RANGE:
        raise SecurityError(f"range() is limited to {MAX_RANGE} items.")
    return values


@lru_cache(maxsize=2)
def environment(strict=False):
    env = _Sandbox(autoescape=False, undefined=StrictUndefined if strict else Undefined,
                   trim_blocks=True, lstrip_blocks=True)
    env.globals["range"] = _safe_range
    env.filters["json"] = lambda value: json.dumps(value)
    return env


def compile_template(source):
    try:
        return environment().from_string(source)
    except TemplateError as exc:
        raise TemplateFailed(f"Template error: {exc}") from None


def render(source, context):
    template = compile_template(source)
    out, size = [], 0
    try:
        for chunk in template.generate(**context):
            out.append(chunk)
            size += len(chunk)
            if size > MAX_OUTPUT:
                raise TemplateFailed(f"The template renders more than {MAX_OUTPUT // 1024} KiB.")
    except (TemplateError, SecurityError) as exc:
        raise TemplateFailed(f"Template error: {exc}") from None
    except (TypeError, ValueError, ArithmeticError, LookupError, AttributeError) as exc:
        raise TemplateFailed(f"Template error: {type(exc).__name__}: {exc}") from None
    return "".join(out)


def render_json(source, context):
    """Render a template that must produce a JSON document; returns the parsed value."""
    text = render(source, context)
    try:
        return json.loads(text)
    except ValueError as exc:
        raise TemplateFailed(f"The rendered body is not valid JSON: {exc}") from None


def validate(source, field, *, sample, as_json=False):
    """Check a template when it is saved, by rendering it against a sample incident."""
    try:
        (render_json if as_json else render)(source, sample)
    except TemplateFailed as exc:
        raise DomainError(str(exc), field=field) from None
