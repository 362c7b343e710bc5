"""A log filter that keeps secrets out of log lines: API keys and long URL tokens (integration
keys in ingestion paths, feed tokens) are replaced before anything is written."""

import logging
import re

_PATTERNS = [
    re.compile(r"ilk_[0-9a-f]{12}_[A-Za-z0-9_\-]+"),
    re.compile(r"(?<=/)[A-Za-z0-9_\-]{32,}(?=[/?\s\"']|$)"),
    re.compile(r"(?i)(authorization|geniekey|token|secret|password)([\"']?\s*[:=]\s*[\"']?)([^\s\"',&]+)"),
]


def redact(text):
    text = _PATTERNS[0].sub("[redacted]", text)
    text = _PATTERNS[1].sub("[redacted]", text)
    return _PATTERNS[2].sub(lambda m: m.group(1) + m.group(2) + "[redacted]", text)


class RedactSecretsFilter(logging.Filter):
    def filter(self, record):
        try:
            message = record.getMessage()
        except Exception:  # a malformed record: leave it to the handler  # noqa: BLE001
            return True
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True
