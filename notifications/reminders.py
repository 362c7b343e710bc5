"""On-call shift reminders ("your shift starts in 1 hour"), for users who opted in. The shifts
come from schedules.selectors.upcoming_shifts (the one use of the schedules app here)."""

import logging
from datetime import timedelta

from ilert import clock
from schedules import selectors as schedule_selectors

from . import render
from .models import Notification, NotificationSettings
from .services import notices

log = logging.getLogger(__name__)


def _schedule_name(segment):
    schedule = getattr(segment, "schedule", None)
    return f" ({schedule.name})" if schedule is not None and getattr(schedule, "name", "") else ""


def send_shift_reminders(now=None):
    """Queue a reminder for every opted-in user whose shift starts within their reminder lead time.
    Idempotent: one reminder per user and shift start (a unique outbox key)."""
    now = now or clock.now()
    queued = 0
    wanting = NotificationSettings.objects.filter(shift_reminders=True, user__is_active=True).select_related(
        "user__tenant")
    for preference in wanting:
        user = preference.user
        lead = timedelta(minutes=preference.reminder_minutes)
        try:
            # the window is half-open: a second more includes a shift starting exactly `lead` from now
            segments = list(schedule_selectors.upcoming_shifts(user, now, now + lead + timedelta(seconds=1)))
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
            created = notices.queue_message(
                user, kind=Notification.Kind.REMINDER,
                dedup_key=f"reminder:{user.pk}:{segment.start.isoformat()}",
                subject="[ilert] Your on-call shift starts soon", body=body,
            )
            queued += created is not None
    return queued
