"""`{{ moment|page_time:page }}`: a time on a public status page, in the page's zone with the zone
named, inside <time datetime> for machines (status/pagetime.py)."""

from django import template
from django.utils.html import format_html

from ilert import readerzone

from ..pagetime import page_time as _page_time

register = template.Library()


@register.filter(expects_localtime=False)
def page_time(value, page):
    if not readerzone.is_aware(value):
        return "—" if value in (None, "") else value
    return format_html('<time datetime="{}">{}</time>', value.isoformat(), _page_time(value, page))
