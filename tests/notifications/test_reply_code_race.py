"""Two transactions page the same user at once (a storm shared by two workers): each must see the
codes the other hands out, so no two open incidents of that user share a code."""

import threading
import time

import pytest
from django.db import connection, transaction

from notifications import services
from notifications.models import Notification

from .factories import make_method, make_rule, open_incident

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def test_concurrent_batches_paging_one_user_never_share_a_code(tenant, responder, settings):
    settings.ILERT_KICK_TASKS = False
    make_rule(responder, make_method(responder, "sms", "+4915112345678"), "HIGH", 0)
    first, second = [open_incident(tenant) for _ in range(20)], [open_incident(tenant) for _ in range(20)]
    paged, errors = threading.Event(), []

    def holder():  # pages, then keeps its transaction open while the other one pages
        try:
            with transaction.atomic():
                services.notify_many([(incident, responder, "r1", "") for incident in first])
                paged.set()
                time.sleep(0.5)
        except Exception as exc:
            errors.append(exc)
        finally:
            paged.set()
            connection.close()

    def latecomer():
        try:
            assert paged.wait(timeout=10)
            with transaction.atomic():
                services.notify_many([(incident, responder, "r1", "") for incident in second])
        except Exception as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=holder), threading.Thread(target=latecomer)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert errors == []
    codes = list(Notification.objects.filter(user=responder).values_list("reply_code", flat=True))
    assert len(codes) == 40
    assert sorted(codes) == list(range(1, 41))
