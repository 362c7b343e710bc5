"""Shift reminders ("your shift starts in 1 hour"), from the real schedules app's shifts."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine

from ilert import clock
from ilert.models import DevMessage
from notifications import engine, reminders
from notifications.models import Notification, NotificationSettings
from tests.schedules.factories import make_schedule, make_shift

pytestmark = pytest.mark.django_db
NOON = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)


def opt_in(user, minutes=60):
    return NotificationSettings.objects.create(tenant_id=user.tenant_id, user=user, shift_reminders=True,
                                               reminder_minutes=minutes)


def shift(user, start, hours=8, name="Primary"):
    schedule = make_schedule(user.tenant, name=name, kind="static")
    return make_shift(schedule, user, start=start, end=start + timedelta(hours=hours))


def test_an_opted_in_user_is_reminded_once_before_the_shift(responder, settings):
    settings.EMAIL_BACKEND = "ilert.devoutbox.EmailBackend"
    opt_in(responder)
    shift(responder, NOON + timedelta(minutes=60))
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


def test_users_who_did_not_opt_in_get_no_reminders(responder, admin):
    opt_in(admin)
    shift(responder, NOON + timedelta(minutes=30))
    with time_machine.travel(NOON, tick=False):
        assert reminders.send_shift_reminders() == 0


def test_the_sweeper_queues_due_reminders(responder):
    from django.core.cache import cache

    cache.delete("notifications:reminders-tick")
    opt_in(responder)
    shift(responder, clock.now().replace(microsecond=0) + timedelta(minutes=10))
    engine.tick()
    assert Notification.objects.filter(kind="reminder").count() == 1
