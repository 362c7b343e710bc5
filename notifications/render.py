"""What a notification says, per channel. A page may carry several incidents (a bundle): `items` is
the leader followed by the notifications bundled into it, each with its incident and reply code."""

import zoneinfo
from dataclasses import dataclass, field

from django.conf import settings
from django.template.loader import render_to_string

from alerts.selectors import incident_url

from . import text, tokens
from .models import Notification


@dataclass
class Rendered:
    subject: str = ""
    text: str = ""
    html: str = ""
    extra: dict = field(default_factory=dict)


def local_time(user, moment, *, organisation=False):
    """`moment` in the user's time zone (or their organisation's)."""
    name = (None if organisation else user.timezone) or user.tenant.timezone or "UTC"
    try:
        zone = zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        zone = zoneinfo.ZoneInfo("UTC")
    return moment.astimezone(zone)


def _headline(incident):
    return f"#{incident.number} {incident.priority}"


# --- SMS ------------------------------------------------------------------------------------------


def sms(notification, items):
    if notification.kind != Notification.Kind.PAGE:
        return Rendered(text=text.fit_sms("ilert: ", notification.body, "", max_segments=2))
    if len(items) == 1:
        incident, code = notification.incident, notification.reply_code
        head = f"ilert {_headline(incident)}: "
        tail = f" [{incident.alert_source.name[:30]}]. Reply {code}a to accept, {code}r to resolve, {code}e to escalate"
        return Rendered(text=text.fit_sms(head, incident.summary, tail))
    first = items[0].incident
    head = f"ilert: {len(items)} new incidents, first: #{first.number} "
    codes = " ".join(f"{i.reply_code}=#{i.incident.number}" for i in items)
    tail = f". Reply a to accept all, r to resolve all, or {items[0].reply_code}a for one. Codes: "
    # Fit the summary against the whole code list first; cut the code list only when it cannot fit.
    body = text.fit_sms(head, first.summary[:60], tail + codes)
    if text.sms_segments(body)[1] > 2:
        body = text.fit_sms(head + first.summary[:40] + tail, codes, "")
    return Rendered(text=body)


# --- voice ------------------------------------------------------------------------------------------


MENU = "Press 1 to accept, 2 to resolve, 3 to escalate, or star to repeat."


def voice(notification, items):
    if notification.kind == Notification.Kind.VERIFY:
        code = " ".join(notification.body.rsplit(" ", 1)[-1])
        return Rendered(text=f"Your ilert verification code is {code}. Again: {code}.")
    if notification.kind != Notification.Kind.PAGE:
        return Rendered(text=f"This is ilert. {notification.body}")
    if len(items) == 1:
        incident = notification.incident
        priority = "high" if incident.priority == "HIGH" else "low"
        spoken = (f"This is ilert with a {priority} priority incident, number {incident.number}, "
                  f"from {incident.alert_source.name}: {incident.summary[:300]}. {MENU}")
    else:
        first = items[0].incident
        spoken = (f"This is ilert with {len(items)} new incidents. The first, number {first.number}: "
                  f"{first.summary[:200]}. Your answer applies to all {len(items)}. {MENU}")
    return Rendered(text=spoken)


# --- push -------------------------------------------------------------------------------------------


def push(notification, items):
    if notification.kind != Notification.Kind.PAGE:
        return Rendered(subject="ilert", text=notification.body[:500])
    if len(items) == 1:
        incident = notification.incident
        return Rendered(subject=f"{_headline(incident)} · {incident.alert_source.name}"[:120],
                        text=incident.summary[:500])
    first = items[0].incident
    return Rendered(subject=f"{len(items)} new incidents", text=f"First: #{first.number} {first.summary}"[:500])


# --- email ------------------------------------------------------------------------------------------


def email(notification, items):
    if notification.kind != Notification.Kind.PAGE:
        subject = notification.subject or "ilert"
        context = {"body": notification.body, "site_url": settings.SITE_URL, "user": notification.user}
        return Rendered(
            subject=subject,
            text=render_to_string("notifications/email/message.txt", context),
            html=render_to_string("notifications/email/message.html", context),
        )
    entries = []
    for item in items:
        entries.append({
            "incident": item.incident,
            "url": incident_url(item.incident),
            "actions": [(action, tokens.email_action_url(item, action)) for action in tokens.ACTIONS],
        })
    first = items[0].incident
    if len(items) == 1:
        subject = f"[ilert] {_headline(first)}: {first.summary}"
    else:
        subject = f"[ilert] {len(items)} new incidents, first: #{first.number} {first.summary}"
    context = {
        "entries": entries,
        "bundle": len(items) > 1,
        "can_reply": bool(tokens.reply_address(notification)),
        "user": notification.user,
        "site_url": settings.SITE_URL,
    }
    return Rendered(
        subject=subject[:200],
        text=render_to_string("notifications/email/page.txt", context),
        html=render_to_string("notifications/email/page.html", context),
    )


RENDERERS = {"sms": sms, "voice": voice, "push": push, "webpush": push, "email": email}


def render(notification, items):
    return RENDERERS[notification.channel](notification, items)
