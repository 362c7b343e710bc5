"""What every inbound integration shares: reading a JSON body, finding the alert source by its
key, the per-key rate limit, and turning domain errors into 4xx answers. An integration module
only translates its payload into an InboundEvent and calls alerts.services.ingest."""

import base64
import binascii
import hashlib
import json

from django.conf import settings
from django.http import JsonResponse

from ilert import ratelimit
from ilert.errors import DomainError

from .. import selectors


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
    """The request's JSON object, or Reject(400/413)."""
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
    return data


def source_for(key, *, integration_types=None, field="integrationKey"):
    """The alert source for an integration key, rate-limited; Reject(400/404/429) otherwise.
    `integration_types`: the source types this endpoint serves (a key of another type is 404, with
    a message that says which type the key has). A disabled source is refused by ingest (403)."""
    if not isinstance(key, str) or not key.strip():
        raise Reject(400, "The integration key is missing.", field=field)
    source = selectors.source_for_key(key.strip())
    if source is None:
        raise Reject(404, "Unknown integration key.")
    if integration_types and source.integration_type not in integration_types:
        raise Reject(404, f"This integration key belongs to a {source.get_integration_type_display()} alert source; "
                          "send its events to that integration's endpoint (see the alert source page).")
    rate_limit(source.key_hash)
    return source


def rate_limit(key_hash, what="events"):
    """The per-integration-key ingest rate limit (INGEST_RATE_LIMIT), shared by every ingest path:
    Reject(429) with Retry-After when the key is over it."""
    wait = ratelimit.hit(settings.INGEST_RATE_LIMIT, "ingest", key_hash)
    if wait:
        raise Reject(429, f"Too many {what} for this integration key; retry in {wait} s.",
                     headers={"Retry-After": str(wait)})


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
    from .. import services

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


# --- field readers: a wrong type is a 400 that names the field ------------------------------------


def text(data, name, *, required=False, max_length=None, default=""):
    value = data.get(name)
    if value is None:
        if required:
            raise Reject(400, "This field is required.", field=name)
        return default
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str):
        raise Reject(400, "Must be a string.", field=name)
    if max_length and len(value) > max_length:
        raise Reject(400, f"At most {max_length} characters.", field=name)
    if required and not value.strip():
        raise Reject(400, "This field is required.", field=name)
    return value


def obj(data, name):
    value = data.get(name)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise Reject(400, "Must be a JSON object.", field=name)
    return value


def items(data, name, *, keys, required_key):
    """A list of small objects such as links [{href, text}] or images [{src, href, alt}]."""
    value = data.get(name)
    if value is None:
        return []
    if not isinstance(value, list):
        raise Reject(400, "Must be a list.", field=name)
    out = []
    for index, item in enumerate(value[:50]):
        if isinstance(item, str):
            item = {required_key: item}
        if not isinstance(item, dict) or not isinstance(item.get(required_key), str):
            raise Reject(400, f"Each item needs a string '{required_key}'.", field=f"{name}[{index}]")
        out.append({k: str(item[k])[:2000] for k in keys if item.get(k) is not None})
    return out


def labels(data, name):
    value = obj(data, name)
    return {str(k)[:120]: str(v)[:500] for k, v in list(value.items())[:100]}


def wrong_source_type(source, *, field=None):
    """Reject(404) for a known key used on the endpoint of another source type (README: "A key only
    works on the endpoint of its own source type"), so the sender learns what to fix instead of
    being told the key is unknown."""
    return Reject(404, f"A key only works on the endpoint of its own source type: this one belongs to a "
                       f"{source.get_integration_type_display()} alert source; send its events to that "
                       "integration's endpoint (see the alert source page).", field=field, code="wrong_source_type")
