"""Connector deliveries on /metrics (docs/metrics.md), by target kind and outcome, and the open
invocations in the outbox depth gauge."""

import httpx
import pytest
import respx

from connectors import engine
from tests.alerts.factories import alert
from tests.test_metrics import TOKEN, Moves, scrape, value

from .factories import make_connection

URL = "https://hooks.example.com/ilert"
pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _token(settings):
    settings.METRICS_TOKEN = TOKEN
    settings.ILERT_KICK_TASKS = False


def test_each_delivery_attempt_is_counted_by_outcome_and_open_rows_are_outbox_depth(tenant):
    hook = make_connection(tenant, events=["created"])
    depth = {"outbox": "connectors", "state": "pending", "channel": "webhook"}
    moved = Moves()
    alert(hook.alert_source, key="a")
    alert(hook.alert_source, key="b")
    assert moved("ilert_outbox_depth", **depth) == 2
    with respx.mock() as mock:
        mock.post(URL).mock(side_effect=[httpx.Response(503), httpx.Response(200)])  # one retried later
        assert engine.deliver_due() == 2
    assert moved("ilert_connector_deliveries_total", target="webhook", outcome="retry") == 1
    assert moved("ilert_connector_deliveries_total", target="webhook", outcome="succeeded") == 1
    assert moved("ilert_outbox_depth", **depth) == 1  # the one waiting for its retry
    alert(hook.alert_source, key="c")
    with respx.mock() as mock:
        mock.post(URL).respond(404)  # refused for good
        assert engine.deliver_due() == 1
    assert moved("ilert_connector_deliveries_total", target="webhook", outcome="failed") == 1
    assert value(scrape(), "ilert_state_read_ok", reader="outbox:connectors") == 1
