"""The one small interface every target implements, and what targets share.

A target module defines a `Target` subclass with:
- `kind`, `label`, `actions` ({action: label}), `default_events`;
- `settings_fields`, `credential_fields`, `param_fields`: declarations (Field) from which the
  services validate input and the dashboard builds its forms;
- `deliver(ctx) -> Outcome`: perform the connection's action for one invocation;
- `check(ctx) -> Outcome`: the "test connection" button;
- optionally `clean(settings, credentials)` / `clean_params(params)` for checks beyond the types.

Targets raise DeliveryError (with `retry` set for 429/5xx/timeouts) or return an Outcome; they do
their HTTP through `ctx.http` (SSRF-guarded, recorded, redacted) and call `ctx.remember(ref)` the
moment they created something external, so a retry reuses it.
"""

import ipaddress
import json
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urlsplit

import httpx
from django.conf import settings as dj_settings

from ilert import clock, netguard
from ilert.errors import DomainError

from .. import templating
from ..payload import worst_case_sample


@dataclass
class Field:
    name: str
    label: str
    type: str = "text"  # text, url, choice, textarea, json, lines, bool, template, json_template
    required: bool = False
    help: str = ""
    choices: tuple = ()
    default: Any = None
    placeholder: str = ""


@dataclass
class Outcome:
    ok: bool
    message: str
    http_status: int | None = None
    retry: bool = False
    retry_after: float | None = None
    ref: str = ""
    url: str = ""


class DeliveryError(Exception):
    def __init__(self, message, *, status=None, retry=False, retry_after=None):
        super().__init__(message)
        self.message, self.status, self.retry, self.retry_after = message, status, retry, retry_after

    def outcome(self):
        return Outcome(False, self.message, http_status=self.status, retry=self.retry, retry_after=self.retry_after)


def transient_status(status):
    return status in (408, 429) or status >= 500


def retry_after_seconds(response):
    value = response.headers.get("Retry-After") if response is not None else None
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        try:
            return max(0.0, (parsedate_to_datetime(value) - clock.now()).total_seconds())
        except (TypeError, ValueError):
            return None


def raise_for(response, what):
    """DeliveryError unless 2xx: 408/429/5xx retry, other statuses do not."""
    status = response.status_code
    if 200 <= status < 300:
        return response
    reason = response.reason_phrase or ""
    raise DeliveryError(f"{what}: HTTP {status} {reason}".strip(), status=status, retry=transient_status(status),
                        retry_after=retry_after_seconds(response))


def http_call(ctx, method, url, what, **kwargs):
    """One HTTP request through the delivery's guarded session, network errors made retryable."""
    try:
        response = ctx.http.request(method, url, **kwargs)
    except httpx.TimeoutException:
        raise DeliveryError(f"{what}: timed out", retry=True) from None
    except httpx.TransportError as exc:
        raise DeliveryError(f"{what}: connection failed ({type(exc).__name__})", retry=True) from None
    return raise_for(response, what)


@dataclass
class Context:
    """Everything a target needs for one delivery (or one connection test)."""

    connector: Any
    settings: dict
    credentials: dict
    http: Any
    params: dict = field(default_factory=dict)
    payload: dict = field(default_factory=dict)
    event: str = "manual"
    webhook_id: str = ""
    ref: Any = None  # ExternalRef or None
    remember: Any = None  # callable(ref, url="", data=None) -> ExternalRef
    connection: Any = None
    incident_id: int | None = None
    attempt: int = 1  # more than 1: an earlier try of this invocation may have reached the target


class Target:
    kind = ""
    label = ""
    actions = {}
    default_events = ["created", "accepted", "resolved"]
    settings_fields: list = []
    credential_fields: list = []
    param_fields: list = []
    # The settings that say where the credentials are sent or used (a URL, an endpoint, a function):
    # when one changes, every stored credential must be entered again (services.update_connector).
    # None: every setting.
    destination_settings: tuple | None = None
    description = ""

    @property
    def default_action(self):
        return next(iter(self.actions))

    def clean(self, settings, credentials):
        return settings, credentials

    def clean_params(self, params):
        return params

    def deliver(self, ctx):  # pragma: no cover - interface
        raise NotImplementedError

    def check(self, ctx):  # pragma: no cover - interface
        raise NotImplementedError

    def destination_fields(self):
        names = self.destination_settings
        return [f for f in self.settings_fields if names is None or f.name in names]


# --- validation shared by services, API and forms -----------------------------------------------


def check_url_shape(value, field_name):
    """Syntax and literal addresses at save time; names are resolved and checked at send time."""
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise DomainError("Enter an http:// or https:// URL.", field=field_name)
    if parts.username or parts.password:
        raise DomainError("Credentials in URLs are not allowed; use the credential fields.", field=field_name)
    try:
        address = ipaddress.ip_address(parts.hostname.strip("[]"))
    except ValueError:
        address = None
    if parts.hostname in ("localhost",) or address is not None:
        if not dj_settings.ALLOW_PRIVATE_TARGETS:
            try:
                netguard.resolve_checked(parts.hostname, parts.port or 443)
            except netguard.BlockedTarget as exc:
                raise DomainError(str(exc), field=field_name) from None
    return value


def clean_fields(fields, values, prefix, *, partial=False):
    """Validate `values` against the declared fields; returns the cleaned dict. Unknown keys and
    wrong types are DomainErrors naming `prefix.field`."""
    values = dict(values or {})
    known = {f.name: f for f in fields}
    unknown = sorted(set(values) - set(known))
    if unknown:
        raise DomainError(f"Unknown field(s): {', '.join(unknown)}. Allowed: {', '.join(known) or 'none'}.",
                          field=f"{prefix}.{unknown[0]}")
    cleaned = {}
    for f in fields:
        name = f"{prefix}.{f.name}"
        if f.name not in values:
            if f.required and not partial and f.default is None:
                raise DomainError("This field is required.", field=name)
            continue
        value = values[f.name]
        if value is None or value == "" or value == []:
            if f.required and not partial:
                raise DomainError("This field is required.", field=name)
            cleaned[f.name] = value if f.type != "bool" else False
            continue
        cleaned[f.name] = _clean_value(f, value, name)
    return cleaned


def _clean_bool(f, value, name):
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false", "on", "off", "1", "0"):
        return value.lower() in ("true", "on", "1")
    raise DomainError("Must be true or false.", field=name)


def _clean_json(f, value, name):
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            raise DomainError("Must be a JSON object.", field=name) from None
    if not isinstance(value, dict):
        raise DomainError("Must be a JSON object.", field=name)
    return value


def _clean_lines(f, value, name):
    if isinstance(value, str):
        value = [line.strip() for line in value.splitlines() if line.strip()]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise DomainError("Must be a list of strings.", field=name)
    return value


def _clean_text(f, value, name):
    """Every other type is a string: stripped (but for text areas and templates), at most 64 KiB,
    then checked as its type says (a choice, a URL, a template that renders within its budget)."""
    if not isinstance(value, str):
        raise DomainError("Must be a string.", field=name)
    value = value.strip() if f.type not in ("textarea", "template", "json_template") else value
    if len(value) > 64 * 1024:
        raise DomainError("Too long.", field=name)
    if f.type == "choice" and value not in [c[0] for c in f.choices]:
        raise DomainError(f"Must be one of {', '.join(c[0] for c in f.choices)}.", field=name)
    if f.type == "url":
        check_url_shape(value, name)
    if f.type in ("template", "json_template"):
        templating.validate(value, name, sample=worst_case_sample(), as_json=f.type == "json_template")
    return value


_CLEANERS = {"bool": _clean_bool, "json": _clean_json, "lines": _clean_lines}


def _clean_value(f, value, name):
    return _CLEANERS.get(f.type, _clean_text)(f, value, name)
