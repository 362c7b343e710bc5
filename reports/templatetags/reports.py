from django import template

from reports.charts import duration as _duration

register = template.Library()


@register.filter
def duration(seconds):
    return _duration(seconds)


@register.filter
def percent(share):
    return "—" if share is None else f"{share * 100:.1f} %"


@register.filter
def change(current, previous):
    """'+12 %' from the previous period, or ''."""
    if current is None or not previous:
        return ""
    delta = (current - previous) / previous * 100
    return f"{delta:+.0f} %"
