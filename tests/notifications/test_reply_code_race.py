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
    paged, done, errors = threading.Event(), threading.Event(), []

    def holder():  # pages, then keeps its transaction open until the other one pages meanwhile
        try:
            with transaction.atomic():
                services.notify_many([(incident, responder, "r1", "") for incident in first])
                paged.set()
                # Not a sleep that hopes the other one gets there in time: hold on until it is
                # waiting for this transaction (or, were nothing making it wait, has paged).
                assert until(lambda: done.is_set() or another_transaction_waits_for_a_lock()), "the latecomer never came"
        except Exception as exc:
            errors.append(exc)
        finally:
            paged.set()
            connection.close()

    def latecomer():
        try:
            assert paged.wait(timeout=120)
            with transaction.atomic():
                services.notify_many([(incident, responder, "r1", "") for incident in second])
        except Exception as exc:
            errors.append(exc)
        finally:
            done.set()
            connection.close()

    threads = [threading.Thread(target=holder), threading.Thread(target=latecomer)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert errors == []
    codes = list(Notification.objects.filter(user=responder).values_list("reply_code", flat=True))
    assert len(codes) == 40
    assert sorted(codes) == list(range(1, 41))


def another_transaction_waits_for_a_lock():
    """Whether another session of this database waits for a lock (the reply-code lock, or any row
    this transaction holds): the latecomer has got as far as it can while the holder holds on."""
    with connection.cursor() as cursor:
        # Inside a transaction pg_stat_activity is a snapshot taken at its first read: drop it, or a
        # poll that came too early would never see the latecomer arrive (bench/stall found this).
        cursor.execute("SELECT pg_stat_clear_snapshot()")
        cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                       "AND wait_event_type = 'Lock' AND pid <> pg_backend_pid()")
        return cursor.fetchone()[0] > 0


def until(predicate, ceiling=120):
    """Poll `predicate`; the ceiling is for a hung thread, never what decides the outcome."""
    ends = time.monotonic() + ceiling
    while time.monotonic() < ends:
        if predicate():
            return True
        time.sleep(0.01)
    return False
