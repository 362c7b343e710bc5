"""Google Cloud Functions (and Cloud Run): POST the incident to an HTTP trigger that requires
authentication, with a Google-signed ID token obtained with google-auth from a service account
key (the account needs roles/cloudfunctions.invoker or roles/run.invoker).

The token request goes to the key's `token_uri` through the same SSRF-guarded session (not
recorded: it carries a signed assertion and returns a bearer token). A token is valid for an hour;
it is kept in the worker's memory (never stored or logged) and reused until 5 minutes before it
expires, so a storm of invocations does not become a storm of token requests."""

import hashlib
import json
import threading
from datetime import UTC, timedelta
from urllib.parse import urlsplit, urlunsplit

import httpx

from ilert import clock
from ilert.errors import DomainError

from .. import http
from .base import DeliveryError, Field, Outcome, Target, check_url_shape, http_call
from .webhook import BODY_HELP, build_body

# sha256(key material, audience) -> (token, expiry); per worker process.
_TOKENS = {}
_TOKENS_LOCK = threading.Lock()
REUSE_UNTIL = timedelta(minutes=5)  # before expiry


def forget_tokens():
    with _TOKENS_LOCK:
        _TOKENS.clear()


def _service_account(raw, field="credentials.service_account_json"):
    try:
        info = json.loads(raw) if isinstance(raw, str) else raw
    except ValueError:
        raise DomainError("Paste the service account key file (JSON).", field=field) from None
    if not isinstance(info, dict) or info.get("type") != "service_account":
        raise DomainError('Not a service account key (its "type" must be "service_account").', field=field)
    for key in ("client_email", "private_key", "token_uri"):
        if not info.get(key):
            raise DomainError(f"The key file has no {key}.", field=field)
    return info


class GcpFunction(Target):
    kind = "gcp_function"
    label = "Google Cloud Functions"
    actions = {"invoke": "Call the function with the incident"}
    description = "Call an HTTP-triggered Cloud Function (or Cloud Run service) with a Google ID token."
    settings_fields = [
        Field("url", "Function URL", "url", required=True,
              placeholder="https://europe-west1-my-project.cloudfunctions.net/on-incident"),
        Field("audience", "Token audience", help="Defaults to the function URL without its query."),
    ]
    destination_settings = ("url", "audience")  # the ID token is minted for the audience, sent to the URL
    credential_fields = [Field("service_account_json", "Service account key (JSON)", "textarea", required=True)]
    param_fields = [Field("body_template", "Custom body (Jinja2)", "json_template", help=BODY_HELP)]

    def clean(self, settings, credentials):
        from google.oauth2 import service_account  # google-auth is heavy: loaded when used (web start-up)

        if credentials.get("service_account_json"):
            info = _service_account(credentials["service_account_json"])
            check_url_shape(info["token_uri"], "credentials.service_account_json")
            try:
                service_account.IDTokenCredentials.from_service_account_info(info, target_audience="x")
            except (ValueError, TypeError):
                raise DomainError("The key file's private key cannot be read.",
                                  field="credentials.service_account_json") from None
        return settings, credentials

    def audience(self, ctx):
        if ctx.settings.get("audience"):
            return ctx.settings["audience"]
        parts = urlsplit(ctx.settings["url"])
        return urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))

    def id_token(self, ctx):
        info = _service_account(ctx.credentials["service_account_json"])
        audience = self.audience(ctx)
        cache_key = hashlib.sha256(json.dumps(
            [info["client_email"], info.get("private_key_id"), info["private_key"], info["token_uri"], audience]
        ).encode()).hexdigest()
        with _TOKENS_LOCK:
            token, expiry = _TOKENS.get(cache_key, (None, None))
        if token is None or expiry - clock.now() <= REUSE_UNTIL:
            token, expiry = self._fetch_id_token(ctx, info, audience)
            with _TOKENS_LOCK:
                _TOKENS[cache_key] = (token, expiry)
        ctx.http.redactor.add(token)
        return token

    def _fetch_id_token(self, ctx, info, audience):
        # google-auth is heavy (seconds to import on a busy machine): loaded when used, not at web start-up
        from google.auth import exceptions as google_exceptions
        from google.oauth2 import service_account

        credentials = service_account.IDTokenCredentials.from_service_account_info(info, target_audience=audience)
        try:
            with http.session(redactor=ctx.http.redactor, record=False) as session:
                credentials.refresh(_google_request(session))
        except google_exceptions.TransportError:
            raise DeliveryError("Google token endpoint: connection failed", retry=True) from None
        except google_exceptions.RefreshError as exc:
            retry = bool(getattr(exc, "retryable", False))
            raise DeliveryError(f"Google token endpoint refused the service account: {_reason(exc)}",
                                retry=retry) from None
        expiry = credentials.expiry.replace(tzinfo=UTC) if credentials.expiry else clock.now()  # google-auth: naive UTC
        return credentials.token, expiry

    def _post(self, ctx, body):
        token = self.id_token(ctx)
        headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        return http_call(ctx, "POST", ctx.settings["url"], "Cloud Function", json=body, headers=headers)

    def deliver(self, ctx):
        response = self._post(ctx, build_body(ctx))
        return Outcome(True, f"Function answered HTTP {response.status_code}", http_status=response.status_code)

    def check(self, ctx):
        response = self._post(ctx, {"type": "ilert.test", "timestamp": clock.now().isoformat()})
        return Outcome(True, f"Got an ID token; the function answered HTTP {response.status_code}.",
                       http_status=response.status_code)


def _google_request(session):
    """google-auth's transport interface (google.auth.transport.Request) over our guarded session."""
    from google.auth import exceptions as google_exceptions
    from google.auth import transport

    class Response(transport.Response):
        def __init__(self, response):
            self._response = response

        status = property(lambda self: self._response.status_code)
        headers = property(lambda self: self._response.headers)
        data = property(lambda self: self._response.content)

    class Request(transport.Request):
        def __call__(self, url, method="GET", body=None, headers=None, timeout=None, **kwargs):
            try:
                return Response(session.request(method, url, content=body, headers=headers, timeout=timeout))
            except httpx.HTTPError as exc:  # BlockedTarget passes through: the engine reports it as refused
                raise google_exceptions.TransportError(f"{type(exc).__name__}") from exc

    return Request()


def _reason(exc):
    args = getattr(exc, "args", ())
    detail = args[1] if len(args) > 1 and isinstance(args[1], dict) else {}
    return str(detail.get("error_description") or detail.get("error") or "refused")[:200]
