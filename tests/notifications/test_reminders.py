"""Shift reminders ("your shift starts in 1 hour"). They rely on schedules.selectors.upcoming_shifts
(user, start, end) from the schedules app; the first tests stand in a minimal module with that
contract, the last one runs against the real schedules app and is skipped until it provides it."""

import sys
import types
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
import time_machine

from ilert import clock
from ilert.models import DevMessage
from notifications import engine, reminders
from notifications.models import Notification, NotificationSettings

pytestmark = pytest.mark.django_db
NOON = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)


@dataclass
class Segment:
    start: datetime
    end: datetime
    user: object
    schedule: object = None


@pytest.fixture
def shifts(monkeypatch):
    planned = []
    module = types.ModuleType("schedules.selectors")
    module.upcoming_shifts = lambda user, start, end: [s for s in planned if s.user == user and start <= s.start <= end]
    module.schedules = lambda tenant: []
    monkeypatch.setitem(sys.modules, "schedules.selectors", module)
    return planned


def opt_in(user, minutes=60):
    return NotificationSettings.objects.create(tenant_id=user.tenant_id, user=user, shift_reminders=True,
                                               reminder_minutes=minutes)


def test_an_opted_in_user_is_reminded_once_before_the_shift(responder, shifts, settings):
    settings.EMAIL_BACKEND = "ilert.devoutbox.EmailBackend"
    opt_in(responder)
    shifts.append(Segment(NOON + timedelta(minutes=60), NOON + timedelta(hours=9), responder,
                          types.SimpleNamespace(name="Primary")))
    with time_machine.travel(NOON - timedelta(minutes=5), tick=False):
        assert reminders.send_shift_reminders() == 0  # 65 minutes ahead: not yet
    with time_machine.travel(NOON, tick=False):
        assert reminders.send_shift_reminders() == 1
        assert reminders.send_shift_reminders() == 0  # idempotent
        engine.dispatch()
    reminder = Notification.objects.get(kind="reminder")
    assert reminder.status == "sent" and reminder.channel == "email" and reminder.address == responder.email
    message = DevMessage.objects.get(channel="email")
    assert "Your on-call shift (Primary) starts in 1 hour, at 14:00 (CET)" in message.body  # Berlin time


def test_users_who_did_not_opt_in_get_no_reminders(responder, admin, shifts):
    opt_in(admin)
    shifts.append(Segment(NOON + timedelta(minutes=30), NOON + timedelta(hours=8), responder))
    with time_machine.travel(NOON, tick=False):
        assert reminders.send_shift_reminders() == 0


def test_reminders_are_off_without_the_schedules_contract(responder, monkeypatch):
    module = types.ModuleType("schedules.selectors")
    monkeypatch.setitem(sys.modules, "schedules.selectors", module)
    opt_in(responder)
    assert reminders.available() is False and reminders.send_shift_reminders() == 0


def test_the_sweeper_queues_due_reminders(responder, shifts):
    from django.core.cache import cache

    cache.delete("notifications:reminders-tick")
    opt_in(responder)
    shifts.append(Segment(clock.now() + timedelta(minutes=10), clock.now() + timedelta(hours=1), responder))
    engine.tick()
    assert Notification.objects.filter(kind="reminder").count() == 1


@pytest.mark.skipif(not reminders.available(), reason="schedules.selectors.upcoming_shifts is not in this branch yet")
def test_reminders_with_the_real_schedules_app(responder):  # pragma: no cover - runs after the merge
    opt_in(responder)
    assert reminders.send_shift_reminders() >= 0
