"""`{% zone_list %}`: the searchable list of every IANA zone behind a time zone field (a <datalist>
the browser filters as the user types). `_field.html` renders it next to any field whose widget
names it (`accounts.forms.TimeZoneField`), so every form that asks for a zone offers the list."""

import zoneinfo
from functools import lru_cache

from django import template
from django.utils.html import format_html_join

register = template.Library()

LIST_ID = "iana-zones"


@lru_cache(maxsize=1)
def _options():
    return format_html_join("", '<option value="{}"></option>', ((z,) for z in sorted(zoneinfo.available_timezones())))


@register.simple_tag
def zone_list():
    return format_html_join("", '<datalist id="{}">{}</datalist>', [(LIST_ID, _options())])
