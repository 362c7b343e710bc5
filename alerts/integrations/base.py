"""What every inbound integration shares: reading a JSON body, finding the alert source by its
key, the per-key rate limit, and turning domain errors into 4xx answers. An integration module
only translates its payload into an InboundEvent and calls alerts.services.ingest."""

import base64
import binascii
import hashlib
import json
import re

from django.conf import settings
from django.http import JsonResponse
from limits import parse as parse_limit

from ilert import ratelimit
from ilert.errors import DomainError

from .. import selectors, services


class Reject(Exception):
    """A 4xx answer with a JSON body; raised while reading a request, turned into a response."""

    def __init__(self, status, message, *, field=None, code=None, headers=None, errors=None):
        super().__init__(message)
        self.status, self.message, self.field = status, message, field
        self.errors = errors or [f"{field}: {message}" if field else message]
        default_codes = {400: "invalid", 403: "forbidden", 404: "not_found", 413: "too_large", 429: "rate_limited"}
        self.code = code or default_codes.get(status, "error")
        self.headers = headers or {}

    def response(self, body=None):
        """Our usual error body, or `body` (an imitated tool's own error shape) with our status
        and headers (Retry-After)."""
        if body is None:
            body = {"code": self.code, "message": f"{self.field}: {self.message}" if self.field else self.message}
            if self.field:
                body["fields"] = {self.field: [self.message]}
        response = JsonResponse(body, status=self.status)
        for name, value in self.headers.items():
            response[name] = value
        return response


def _no_constant(name):
    raise ValueError(f"{name} is not valid JSON")


def _finite_float(text):
    value = float(text)
    if value in (float("inf"), float("-inf")):
        raise ValueError(f"the number {text[:20]} is out of range")
    return value


def json_body(request):
    """The request's JSON object, or Reject(400/413). Every string in it (keys too) is valid
    Unicode: a lone surrogate escape such as "\\ud800" is a 400 naming the field, because no
    database, log or outbound API can take it."""
    try:
        raw = request.body  # enforces DATA_UPLOAD_MAX_MEMORY_SIZE
    except Exception as exc:  # RequestDataTooBig and friends
        raise Reject(413, "Request body too large.") from exc
    if not raw:
        raise Reject(400, "The request body is empty; send a JSON object.")
    try:
        data = json.loads(raw, parse_constant=_no_constant, parse_float=_finite_float)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise Reject(400, f"Malformed JSON: {exc}") from None
    if not isinstance(data, dict):
        raise Reject(400, "The body must be a JSON object.")
    # Where a lone surrogate can come from: a \u escape, or bytes json.loads lets through
    # ("surrogatepass"): UTF-8's lead byte 0xED, or a UTF-16/-32 body (which has NUL bytes, and
    # escapes that do not show as a backslash byte). A body with none of these skips the walk.
    if b"\\" in raw or b"\xed" in raw or b"\x00" in raw:
        check_unicode(data)
    return data


_SURROGATE = re.compile(r"[\ud800-\udfff]")


def check_unicode(value, path=""):
    """Reject(400) naming the first field (depth first) whose name or string value holds a lone
    surrogate: JSON can escape one, UTF-8 cannot encode it."""
    stack = [(path, value)]
    while stack:
        here, value = stack.pop()
        if isinstance(value, str):
            if _SURROGATE.search(value):
                raise Reject(400, "Contains a lone surrogate escape (e.g. \\ud800), which is not valid Unicode.",
                             field=printable(here) or "body")
        elif isinstance(value, dict):
            for key, item in reversed(value.items()):
                name = f"{here}.{key}" if here else key
                if _SURROGATE.search(key):
                    raise Reject(400, "A key contains a lone surrogate escape (e.g. \\ud800), which is not valid "
                                      "Unicode.", field=printable(name))
                stack.append((name, item))
        elif isinstance(value, list):
            stack.extend((f"{here}[{index}]", item) for index, item in reversed(list(enumerate(value))))


def printable(text):
    """`text` with lone surrogates written as \\udXXX escapes, safe to log and to answer."""
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def source_for(key, *, integration_types=None, field="integrationKey", cost=1, cached=False):
    """The alert source for an integration key, with `cost` events charged to its rate limit (0: the
    caller charges once it knows how many events the request carries); Reject(400/404/429) otherwise.
    `integration_types`: the source types this endpoint serves (a key of another type is 404 with the
    code "wrong_source_type" and a message that says which type the key has). A disabled source is
    refused by ingest (403). `cached`: from this process's cache (selectors.cached_source_for_key),
    only for a source handed to services.ingest, which checks it against its row."""
    if not isinstance(key, str) or not key.strip():
        raise Reject(400, "The integration key is missing.", field=field)
    lookup = selectors.cached_source_for_key if cached else selectors.source_for_key
    source = lookup(key.strip())
    if source is None:
        raise Reject(404, "Unknown integration key.")
    if integration_types and source.integration_type not in integration_types:
        raise wrong_source_type(source)
    if cost:
        rate_limit(source.key_hash, cost=cost)
    return source


WRONG_SOURCE_TYPE = "wrong_source_type"


def rate_limit(key_hash, what="events", *, cost=1):
    """The per-integration-key ingest rate limit (INGEST_RATE_LIMIT), shared by every ingest path and
    counted in events: a request carrying `cost` events (the alerts of one Alertmanager or Grafana
    notification) is let through whole or refused whole, Reject(429) with Retry-After."""
    limit = settings.INGEST_RATE_LIMIT
    wait = ratelimit.hit_leased(limit, "ingest", key_hash) if cost == 1 else ratelimit.hit(limit, "ingest", key_hash,
                                                                                            cost=cost)
    if not wait:
        return
    if cost > 1:
        message = (f"This request carries {cost} {what}, more than this integration key may still send "
                   f"(limit {limit}); nothing was stored; retry in {wait} s.")
        if cost > parse_limit(limit).amount:
            message += f" It can never fit: send at most {parse_limit(limit).amount} per request."
    else:
        message = f"Too many {what} for this integration key; retry in {wait} s."
    raise Reject(429, message, headers={"Retry-After": str(wait)})


def short_key(value):
    """An incident key of at most 255 characters for a key of any length (an Opsgenie alias, an
    Alertmanager group key or fingerprint): longer ones become "sha256:<hex>", the same every time,
    so later events and closes find the incident."""
    return value if len(value) <= 255 else "sha256:" + hashlib.sha256(value.encode()).hexdigest()


def key_from_request(request, path_key=None):
    """The integration key from the URL path, else from the Authorization header: `Bearer <key>`,
    `GenieKey <key>`, `Token <key>` or HTTP basic auth (the password, else the user name): the
    ways Alertmanager, Grafana and Opsgenie clients can send a secret."""
    if path_key:
        return path_key
    header = request.headers.get("Authorization", "").strip()
    scheme, _, value = header.partition(" ")
    value = value.strip()
    if scheme.lower() in ("bearer", "geniekey", "token") and value:
        return value
    if scheme.lower() == "basic" and value:
        try:
            user, _, password = base64.b64decode(value, validate=True).decode("utf-8").partition(":")
        except (binascii.Error, UnicodeDecodeError, ValueError):
            raise Reject(400, "Malformed basic authorization header.") from None
        return password or user or None
    return None


def ingest_all(source, events):
    """Ingest several events of one request (e.g. the alerts of one Alertmanager notification),
    each committed on its own. Every event was parsed and checked before the first is ingested,
    so bad input changes nothing; a disabled source is refused before anything happens."""
    if not source.is_active:
        raise Reject(403, f"The alert source {source.name!r} is disabled.", code="source_disabled")
    results = []
    for event in events:
        try:
            results.append(services.ingest(source, event))
        except DomainError as exc:
            raise reject_domain_error(exc) from None
    return results


def reject_domain_error(exc: DomainError):
    return Reject(exc.status, exc.message, field=exc.field, code=exc.code)


# --- field readers --------------------------------------------------------------------------------
# The one way every integration reads its fields: a value of the wrong JSON type is a 400 naming the
# field (`field`, default `name`; nested fields as "alerts[2].labels.severity"), never coerced: a
# number where a string belongs is refused, and a label map holds strings only (a nested object
# would otherwise be stored as Python's repr of it). Free-form fields (customDetails) stay JSON.


def text(data, name, *, required=False, max_length=None, default="", field=None):
    field = field or name
    value = data.get(name)
    if value is None:
        if required:
            raise Reject(400, "This field is required.", field=field)
        return default
    if not isinstance(value, str):
        raise Reject(400, f"Must be a string, not {json_type(value)}.", field=field)
    if max_length and len(value) > max_length:
        raise Reject(400, f"At most {max_length} characters.", field=field)
    if required and not value.strip():
        raise Reject(400, "This field is required.", field=field)
    return value


def obj(data, name, *, field=None):
    value = data.get(name)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise Reject(400, f"Must be a JSON object, not {json_type(value)}.", field=field or name)
    return value


def items(data, name, *, keys, required_key, field=None):
    """A list of small objects such as links [{href, text}] or images [{src, href, alt}] (a bare
    string stands for the required key); every key present must be a string."""
    field = field or name
    value = data.get(name)
    if value is None:
        return []
    if not isinstance(value, list):
        raise Reject(400, f"Must be a list, not {json_type(value)}.", field=field)
    out = []
    for index, item in enumerate(value[:50]):
        if isinstance(item, str):
            item = {required_key: item}
        if not isinstance(item, dict):
            raise Reject(400, f"Must be an object, not {json_type(item)}.", field=f"{field}[{index}]")
        text(item, required_key, required=True, field=f"{field}[{index}].{required_key}")
        out.append({k: text(item, k, field=f"{field}[{index}].{k}")[:2000] for k in keys if item.get(k) is not None})
    return out


def string_map(data, name, *, field=None, max_items=100, key_length=120, value_length=500):
    """An object of string values, such as labels or annotations (longer keys and values are cut;
    items beyond `max_items` are dropped)."""
    field = field or name
    value = obj(data, name, field=field)
    out = {}
    for key, item in list(value.items())[:max_items]:
        if not isinstance(item, str):
            raise Reject(400, f"Must be a string, not {json_type(item)}.", field=f"{field}.{key}")
        out[key[:key_length]] = item[:value_length]
    return out


def labels(data, name, *, field=None):
    return string_map(data, name, field=field)


def json_type(value):
    """The JSON name of a value's type, for error messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    return "a list" if isinstance(value, list) else "an object"


def wrong_source_type(source, *, field=None):
    """Reject(404) for a known key used on the endpoint of another source type (docs/integrations/index.md: "A key only
    works on the endpoint of its own source type"), so the sender learns what to fix instead of
    being told the key is unknown."""
    return Reject(404, f"A key only works on the endpoint of its own source type: this one belongs to a "
                       f"{source.get_integration_type_display()} alert source; send its events to that "
                       "integration's endpoint (see the alert source page).", field=field, code=WRONG_SOURCE_TYPE)
