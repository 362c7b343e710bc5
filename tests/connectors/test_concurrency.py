"""Claim, then act (docs/architecture.md §4): workers sweeping at the same time on PostgreSQL never deliver
the same invocation twice (select_for_update(skip_locked=True))."""

import threading
from collections import Counter

import pytest
import respx
from django.db import connection

from connectors import engine
from connectors.models import ConnectionInvocation
from tests.alerts.factories import alert

from .factories import make_connection

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def test_concurrent_sweepers_deliver_each_invocation_exactly_once(tenant, settings):
    settings.ILERT_KICK_TASKS = False
    hook = make_connection(tenant)
    for i in range(40):
        alert(hook.alert_source, key=f"k{i}")
    workers, barrier, errors = 4, threading.Barrier(4), []

    def sweep():
        try:
            barrier.wait(timeout=60)
            while engine.deliver_due(batch=5):
                pass
        except Exception as exc:  # collected and asserted below
            errors.append(exc)
        finally:
            connection.close()

    with respx.mock() as mock:
        mock.post("https://hooks.example.com/ilert").respond(200)
        threads = [threading.Thread(target=sweep) for _ in range(workers)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
        sent = Counter(call.request.headers["webhook-id"] for call in mock.calls)
    assert errors == []
    assert len(sent) == 40 and set(sent.values()) == {1}
    assert set(ConnectionInvocation.objects.values_list("status", "attempts")) == {("succeeded", 1)}
