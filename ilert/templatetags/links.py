"""Template filters for URLs that come from outside (event links and images, change-event links,
runbooks, generator URLs): only absolute http(s) URLs become links; anything else (`javascript:`,
`data:`, relative paths, odd schemes) is shown as text."""

from urllib.parse import urlsplit

from django import template

register = template.Library()


@register.filter
def http_url(value):
    """`value` if it is an absolute http:// or https:// URL, else ""."""
    if not isinstance(value, str) or any(ch.isspace() or ord(ch) < 32 or ord(ch) == 127 for ch in value):
        return ""
    try:
        parts = urlsplit(value)
    except ValueError:
        return ""
    return value if parts.scheme.lower() in ("http", "https") and parts.netloc else ""
