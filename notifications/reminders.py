"""On-call shift reminders ("your shift starts in 1 hour"), for users who opted in.

Kept apart from the rest of the app: it is the only module that uses `schedules`, and it imports it
lazily. It needs `schedules.selectors.upcoming_shifts(user, start, end)` returning segments with
`.start`, `.end` and `.user` (and optionally `.schedule`); while that is not available, reminders are
simply off (`available()` is False) and nothing else is affected.
"""

import logging
from datetime import timedelta
from importlib import import_module

from ilert import clock

from .models import Notification, NotificationSettings

log = logging.getLogger(__name__)


def _selectors():
    try:
        module = import_module("schedules.selectors")
    except ImportError:
        return None
    return module if callable(getattr(module, "upcoming_shifts", None)) else None


def available():
    return _selectors() is not None


def _schedule_name(segment):
    schedule = getattr(segment, "schedule", None)
    return f" ({schedule.name})" if schedule is not None and getattr(schedule, "name", "") else ""


def send_shift_reminders(now=None):
    """Queue a reminder for every opted-in user whose shift starts within their reminder lead time.
    Idempotent: one reminder per user and shift start (a unique outbox key)."""
    selectors = _selectors()
    if selectors is None:
        return 0
    from . import render, services

    now = now or clock.now()
    queued = 0
    wanting = NotificationSettings.objects.filter(shift_reminders=True, user__is_active=True).select_related(
        "user__tenant")
    for preference in wanting:
        user = preference.user
        lead = timedelta(minutes=preference.reminder_minutes)
        try:
            segments = list(selectors.upcoming_shifts(user, now, now + lead))
        except Exception:  # one broken schedule must not stop the others' reminders
            log.exception("upcoming_shifts failed for user %s", user.pk)
            continue
        for segment in segments:
            if getattr(segment, "user", user) != user or not (now < segment.start <= now + lead):
                continue
            minutes = max(1, round((segment.start - now).total_seconds() / 60))
            starts = render.local_time(user, segment.start)
            ends = render.local_time(user, segment.end)
            in_words = f"{minutes // 60} hour{'s' if minutes >= 120 else ''}" if minutes % 60 == 0 else f"{minutes} min"
            body = (f"Your on-call shift{_schedule_name(segment)} starts in {in_words}, "
                    f"at {starts:%H:%M} ({starts.tzname()}), until {ends:%a %H:%M}.")
            created = services.queue_message(
                user, kind=Notification.Kind.REMINDER,
                dedup_key=f"reminder:{user.pk}:{segment.start.isoformat()}",
                subject="[ilert] Your on-call shift starts soon", body=body,
            )
            queued += created is not None
    return queued
