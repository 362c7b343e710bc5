"""Template context for the dashboard shell: the navigation, built from the URL names that exist."""

from django.conf import settings

from . import delivery
from .dashboard import url_or_none

NAVIGATION = [
    ("Respond", [
        ("Overview", "home", "◎"),
        ("Incidents", "alerts:incidents", "⚠", "alerts:badge-count"),
        ("Alert sources", "alerts:sources", "⇥"),
        ("Uptime monitors", "uptime:monitors", "♥"),
        ("Status pages", "status:pages", "◉"),
        ("Reports", "reports:index", "▤"),
    ]),
    ("On-call", [
        ("Escalation policies", "escalation:policies", "↗"),
        ("Schedules", "schedules:schedules", "▦"),
        ("Caller IDs", "notifications:caller-ids", "☎"),
    ]),
    ("Integrate", [
        ("Connectors", "connectors:connectors", "⇄"),
        ("API keys", "accounts:api-keys", "✱"),
    ]),
    ("Organisation", [
        ("Users", "accounts:users", "☺"),
        ("Teams", "accounts:teams", "☷"),
        ("Settings", "accounts:settings", "⚙"),
        ("Providers", "notifications:providers", "✆"),
        ("Dev outbox", "dev-outbox", "✉"),
    ]),
]


def _link(label, name, icon, path, badge=None):
    url = url_or_none(name)
    active = bool(url) and (path == url if url == "/" else path.startswith(url))
    return {"label": label, "url": url, "icon": icon, "active": active, "badge_url": url_or_none(badge)}


def _delivery_warnings(user):
    return delivery.admin_warnings() if user.is_admin else []


def dashboard(request):
    if not getattr(request, "user", None) or not request.user.is_authenticated:
        return {}
    hidden = set() if settings.DEV_OUTBOX else {"dev-outbox"}  # the dev outbox exists only when on
    sections = [
        {"title": title,
         "links": [_link(*link[:3], request.path, *link[3:]) for link in links if link[1] not in hidden]}
        for title, links in NAVIGATION
    ]
    return {"navigation": sections, "tenant": request.user.tenant,
            "delivery_warnings": _delivery_warnings(request.user), "dev_outbox": settings.DEV_OUTBOX}
