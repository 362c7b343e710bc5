"""Template context for the dashboard shell: the navigation, built from the URL names that exist."""

from django.urls import NoReverseMatch, reverse

NAVIGATION = [
    ("Respond", [
        ("Overview", "home", "◎"),
        ("Incidents", "alerts:incidents", "⚠"),
        ("Alert sources", "alerts:sources", "⇥"),
        ("Uptime monitors", "uptime:monitors", "♥"),
    ]),
    ("On-call", [
        ("Escalation policies", "escalation:policies", "↗"),
        ("Schedules", "schedules:schedules", "▦"),
    ]),
    ("Integrate", [
        ("Connectors", "connectors:connectors", "⇄"),
        ("API keys", "accounts:api-keys", "✱"),
    ]),
    ("Organisation", [
        ("Users", "accounts:users", "☺"),
        ("Teams", "accounts:teams", "☷"),
        ("Settings", "accounts:settings", "⚙"),
        ("Dev outbox", "dev-outbox", "✉"),
    ]),
]


def _link(label, name, icon, path):
    try:
        url = reverse(name)
    except NoReverseMatch:
        return {"label": label, "url": None, "icon": icon, "active": False}
    active = path == url if url == "/" else path.startswith(url)
    return {"label": label, "url": url, "icon": icon, "active": active}


def dashboard(request):
    if not getattr(request, "user", None) or not request.user.is_authenticated:
        return {}
    sections = [
        {"title": title, "links": [_link(label, name, icon, request.path) for label, name, icon in links]}
        for title, links in NAVIGATION
    ]
    return {"navigation": sections, "tenant": request.user.tenant}
