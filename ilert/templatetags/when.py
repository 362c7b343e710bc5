"""`{{ moment|when }}`: the one way a page shows a time (ilert/readerzone.py). In the reader's zone
with the zone named, plus how long ago or ahead it is:

    {{ incident.created_at|when }}          09:43 CET · 3 min ago
    {{ entry.at|when:"seconds" }}           09:43:05 CET · 3 min ago
    {{ level.due_at|when:"relative" }}      in 4 min            (the time itself in the tooltip)
    {{ window.start|when:"absolute" }}      Thu 3 Dec 09:43 CET (no relative part)

Flags combine with commas ("seconds,absolute"). The machine-readable instant is in <time datetime>."""

from django import template
from django.utils import timezone
from django.utils.html import format_html

from ilert import clock, readerzone

register = template.Library()

# Further than this, "how long ago" no longer helps.
RELATIVE_WITHIN_DAYS = 30


@register.simple_tag
def reader_zone():
    """The reader's zone by name ("Europe/Berlin"): shown beside every time input read in it."""
    return timezone.get_current_timezone().key


@register.filter(expects_localtime=False)
def when(value, flags=""):
    if not readerzone.is_aware(value):
        return "—" if value in (None, "") else value
    flags = {flag.strip() for flag in str(flags).split(",") if flag.strip()}
    zone = timezone.get_current_timezone()
    now = clock.now()
    shown = readerzone.absolute(value, zone, now=now, seconds="seconds" in flags)
    near = abs((value - now).days) < RELATIVE_WITHIN_DAYS
    ago = readerzone.relative(value, now=now)
    if "relative" in flags:
        text = ago if near else shown
    elif "absolute" in flags or not near:
        text = shown
    else:
        text = f"{shown} · {ago}"
    return format_html('<time datetime="{}" title="{}">{}</time>', value.astimezone(readerzone.UTC).isoformat(),
                       readerzone.full(value, zone), text)
