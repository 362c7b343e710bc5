"""A log filter that keeps secrets out of log lines: API keys and integration keys in every shape
they travel in are replaced before anything is written (tracebacks included):

- our API keys (`ilk_<id>_<secret>`);
- long URL-safe tokens in a URL path (`/api/heartbeats/<key>`, feed tokens) or before an "@"
  (`<integration key>@<inbound domain>`, `reply+<token>@…`);
- the token segment of the routes that carry one (invitations, email links, Twilio callbacks,
  Slack interactivity, calendar feeds, password resets), whatever its length;
- the value of a secret-named field in a query string, form, header, JSON or repr:
  integrationKey / integration_key, apiKey / api_key / x-api-key, routing_key (PagerDuty's
  integration key; the Event API's camelCase `routingKey` names a policy and is kept), genieKey,
  *token*, *secret*, *password*, authorization (with its `Bearer`/`Basic`/`GenieKey` scheme).
"""

import logging
import re

_TOKEN = r"[A-Za-z0-9_\-]"
_API_KEYS = re.compile(r"ilk_[0-9a-f]{12}_[A-Za-z0-9_\-]+")
_LONG_TOKENS = re.compile(
    rf"(?<=/){_TOKEN}{{32,}}(?=[/?#.\s\"'>]|$)"  # a path segment (also before ".ics")
    rf"|(?<!{_TOKEN}){_TOKEN}{{32,}}(?=@)"  # the local part of an address
)
# Routes whose next path segment is a secret whatever its length or alphabet (signed tokens carry
# ":", notification tokens are 20 characters).
_ROUTE_TOKENS = re.compile(
    r"(/(?:invitation|notifications/email|notifications/verify-email|notifications/twilio/(?:status|voice)"
    r"|integrations/slack|schedules/feeds|password/reset/[^/\s]+)/)([^/?#\s\"'>]+)"
)
_NAMED = re.compile(
    r"(?i)(integration[_-]?key|api[_-]?key|routing_key|geniekey|authorization|token|secret|password)"
    r"([\"']?\s*[:=]\s*[\"']?)"
    r"((?:bearer|basic|token|geniekey)\s+)?"
    r"([^\s\"',&]+)"
)


def redact(text):
    text = _API_KEYS.sub("[redacted]", text)
    text = _ROUTE_TOKENS.sub(r"\1[redacted]", text)
    text = _LONG_TOKENS.sub("[redacted]", text)
    return _NAMED.sub(lambda m: m.group(1) + m.group(2) + (m.group(3) or "") + "[redacted]", text)


class RedactSecretsFilter(logging.Filter):
    def filter(self, record):
        try:
            message = record.getMessage()
        except Exception:  # a malformed record: leave it to the handler  # noqa: BLE001
            return True
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        if record.exc_info and not record.exc_text:
            # The formatter uses exc_text when it is set: the traceback is redacted as well.
            record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
        elif record.exc_text:
            record.exc_text = redact(record.exc_text)
        return True


class ClientErrorsAreInfoFilter(logging.Filter):
    """Django logs every 4xx answer at WARNING, and 403/404 with the exception's traceback: a scanner
    or a fuzzer writes megabytes of them. A client's mistake is one INFO line without a traceback
    (dropped when the level is above INFO); 5xx stay errors with their tracebacks."""

    def filter(self, record):
        status = getattr(record, "status_code", None)
        if status is None or not 400 <= status < 500 or record.levelno > logging.WARNING:
            return True
        record.levelno, record.levelname = logging.INFO, "INFO"
        record.exc_info = record.exc_text = None
        return logging.getLogger(record.name).isEnabledFor(logging.INFO)
