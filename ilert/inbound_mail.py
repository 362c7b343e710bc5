"""Reading the body of an inbound mail (django-anymail's AnymailInboundMessage), for every app that
receives mail (alerts' email sources, notifications' email replies).

anymail's `message.text` / `message.html` use the standard library, which fails on some bodies:
an unknown or unusable charset (LookupError, UnicodeError) or a payload it cannot decode at all (an
UnboundLocalError inside email.message.get_payload, e.g. for a Postmark TextBody that is `{}`).
A body part like that is unreadable, not a reason to refuse the mail: here an unknown charset is
read as UTF-8 (what is not UTF-8 replaced), and a part that cannot be decoded reads as None, so the
caller uses what can be read (the other body, the subject) and the ESP gets its 2xx instead of
retrying the same mail for days."""

import logging
import re

log = logging.getLogger(__name__)


def text(message):
    """The first text/plain body part as text, or None (none, or unreadable)."""
    return _body(message, "text/plain")


def html(message):
    """The first text/html body part as text, or None (none, or unreadable)."""
    return _body(message, "text/html")


def _body(message, content_type):
    # The part anymail's message.text / .html would read (its _get_body_content).
    for part in message.walk():
        if part.get_content_type() == content_type and not part.is_attachment():
            return _readable(part, content_type)
    return None


def _readable(part, content_type):
    try:
        payload = part.get_payload(decode=True)
    except UnboundLocalError:  # the stdlib cannot decode this payload at all
        log.info("inbound email: the %s body cannot be decoded; read as empty", content_type)
        return None
    if not isinstance(payload, bytes):
        return None
    charset = part.get_content_charset("us-ascii")
    try:
        decoded = payload.decode(charset, errors="replace")
    except (LookupError, UnicodeError):  # unknown, not a text encoding, or no "replace" (idna)
        log.info("inbound email: the %s body's charset %r cannot be used; read as UTF-8", content_type,
                 charset[:40])
        decoded = payload.decode("utf-8", errors="replace")
    return re.sub(r"\r\n|\r", "\n", decoded)  # as anymail's get_content_text
