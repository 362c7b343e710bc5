"""ilert.logging: integration keys, API keys and other secrets never reach a log line in plaintext,
in any of the shapes they travel in (URL path, query string, form field, JSON, header, address)."""

import logging

import pytest

from ilert.logging import RedactSecretsFilter, redact

KEY = "q7Zp-4VbN_x2LmT9sRk3Wc8yHdE6uJf1GaO5tYiPn0w"  # an integration key: 43 URL-safe characters


@pytest.mark.parametrize("line", [
    f"POST /api/heartbeats/{KEY} 202",
    f"GET /integrations/alertmanager/{KEY}?x=1",
    f"POST /api/events?integrationKey={KEY} 202",
    f"POST /api/events?foo=1&integrationKey={KEY}&bar=2",
    f"integration_key={KEY}",
    f"apiKey={KEY}",
    f"api_key: {KEY}",
    f"x-api-key: {KEY}",
    f"routing_key={KEY}",
    f'{{"routing_key": "{KEY}", "event_action": "trigger"}}',
    f'{{"integrationKey": "{KEY}", "eventType": "ALERT"}}',
    f"{{'integrationKey': '{KEY}'}}",
    f'{{"apiKey":"{KEY}"}}',
    f"mail to {KEY}@alerts.example.com rejected",
    f"To: <{KEY}@alerts.example.com>",
    f"Authorization: Bearer {KEY}",
    f"authorization=GenieKey {KEY}",
    f"Authorization: Basic {KEY}",
    f"token={KEY}",
    f"password: {KEY}",
])
def test_every_shape_of_a_secret_is_redacted(line):
    cleaned = redact(line)
    assert KEY not in cleaned
    assert KEY[:12] not in cleaned and KEY[-12:] not in cleaned
    assert "[redacted]" in cleaned


def test_short_keys_in_named_fields_are_redacted_too():
    assert "s3cr" not in redact("POST /api/events?integrationKey=s3cr3t")
    assert "s3cr" not in redact('{"routing_key": "s3cr3t"}')


@pytest.mark.parametrize("line", [
    "inbound SMS → alert source 12: EVENT_APPENDED",
    "incident #42 routingKey=database-team",  # the Event API's routing key names a policy, no secret
    "alias=disk-full-db-1",
    "mail from ops@example.com rejected",
    "GET /incidents/?source=3&status=open 200",
])
def test_ordinary_lines_are_left_alone(line):
    assert redact(line) == line


def test_the_filter_redacts_arguments_and_tracebacks(caplog):
    logger = logging.getLogger("tests.redaction")
    handler = logging.Handler()
    records = []
    handler.emit = records.append
    handler.addFilter(RedactSecretsFilter())
    logger.addHandler(handler)
    try:
        logger.warning("rejected %s", f"/api/events?integrationKey={KEY}")
        try:
            raise ValueError(f"bad key {KEY}@alerts.example.com")
        except ValueError:
            logger.exception("failed")
    finally:
        logger.removeHandler(handler)
    formatter = logging.Formatter()
    texts = [formatter.format(record) for record in records]
    assert len(texts) == 2
    assert all(KEY not in text for text in texts)
    assert "ValueError" in texts[1] and "[redacted]" in texts[1]


@pytest.mark.django_db
def test_ordinary_403_and_404_answers_are_one_info_line_without_a_traceback(stakeholder, caplog):
    from django.test import Client

    client = Client()
    client.force_login(stakeholder)
    with caplog.at_level(logging.DEBUG):
        assert client.get("/no/such/page/").status_code == 404
        assert client.get("/incidents/999999/").status_code == 404
        assert client.post("/users/", {"email": "x@acme.test", "role": "admin"}).status_code == 403
        assert client.get("/api/v1/incidents/999999").status_code in (401, 403, 404)
    answers = [r for r in caplog.records if r.name.startswith("django.") and getattr(r, "status_code", 0) >= 400]
    assert len(answers) >= 3
    assert all(r.levelno == logging.INFO and not r.exc_info and not r.exc_text for r in answers), [
        (r.levelname, r.getMessage(), bool(r.exc_info)) for r in answers]


def test_server_errors_stay_errors_with_their_traceback():
    from ilert.logging import ClientErrorsAreInfoFilter

    try:
        raise RuntimeError("boom")
    except RuntimeError:
        import sys

        exc_info = sys.exc_info()
    record = logging.LogRecord("django.request", logging.ERROR, __file__, 1, "Internal Server Error", (), exc_info)
    record.status_code = 500
    assert ClientErrorsAreInfoFilter().filter(record)
    assert record.levelno == logging.ERROR and record.exc_info is exc_info


def test_celery_workers_log_through_the_redacting_handler():
    """A worker sets up Celery's logging; the secrets filter must survive it (review of issue 13)."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    code = ("import logging, django; django.setup(); from ilert.celery import app; "
            "app.log.setup_logging_subsystem(loglevel='INFO', colorize=False); "
            f"logging.getLogger('notifications.engine').warning('sent with token={KEY}')")
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "ilert.settings_test"}
    done = subprocess.run([sys.executable, "-c", code], cwd=Path(__file__).resolve().parent.parent, env=env,
                          capture_output=True, text=True, timeout=60)
    output = done.stdout + done.stderr
    assert "sent with token=" in output, output
    assert KEY not in output and KEY[:12] not in output


SIGNED = "eyJ1IjoxMiwicCI6ImFiY2RlZmdoaWprbG1ub3AifQ:1xZ6m9:23io91OQh-TOxU8a3T1_0xwHShYllQ"
SHORT = "Ab3dEf6hIj9kLm2nOp5q"  # a notification token: 20 characters


@pytest.mark.parametrize("line, secret", [
    (f"Not Found: /schedules/feeds/{KEY}.ics", KEY),
    (f"GET /invitation/{SIGNED}/ 404", SIGNED),
    (f"POST /notifications/email/{SIGNED} 200", SIGNED),
    (f"POST /notifications/verify-email/{SIGNED} 200", SIGNED),
    (f"Forbidden: /notifications/twilio/status/{SHORT}", SHORT),
    (f"POST /notifications/twilio/voice/{SHORT}/gather 403", SHORT),
    (f"POST /integrations/slack/{SHORT}/interactivity 403", SHORT),
    ("GET /password/reset/MTI/cc1abc-0123456789abcdef01/ 302", "cc1abc-0123456789abcdef01"),
])
def test_the_token_segment_of_token_routes_is_redacted(line, secret):
    cleaned = redact(line)
    assert "[redacted]" in cleaned and secret not in cleaned and secret[:8] not in cleaned, cleaned
