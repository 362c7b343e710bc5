"""The installable app (docs/push.md): the web app manifest, the service worker and the offline page.

The service worker is served from the site root (`/sw.js`) so its scope is the whole dashboard.
Its code is the static file static/js/sw.js; this view puts one line of configuration in front of
it: the cache name (a hash of the shell files, so a deploy that changes any of them installs a new
worker, which deletes the old caches) and the URLs of the shell. The shell is static files and the
offline page only — never a page or an API answer — so nothing cached belongs to a user.
"""

import hashlib
import json
from functools import lru_cache

from django.conf import settings
from django.contrib.staticfiles import finders
from django.http import Http404, HttpResponse, JsonResponse
from django.shortcuts import render
from django.templatetags.static import static
from django.urls import reverse
from django.views.decorators.http import require_safe

THEME_COLOUR = "#2454d6"
# What the app needs to draw the offline page; nothing else is ever cached.
SHELL_FILES = ["css/app.css", "favicon.svg", "icons/icon-192.png", "icons/badge-96.png", "js/pwa.js"]
ICONS = [("icons/icon-192.png", 192, "any"), ("icons/icon-512.png", 512, "any"),
         ("icons/maskable-192.png", 192, "maskable"), ("icons/maskable-512.png", 512, "maskable")]


@require_safe
def manifest(request):
    data = {
        "name": "ilert",
        "short_name": "ilert",
        "description": "Alerting, on-call and uptime: incidents on your phone.",
        "id": "/",
        "start_url": "/?source=pwa",
        "scope": "/",
        "display": "standalone",
        "orientation": "any",
        "theme_color": THEME_COLOUR,
        "background_color": "#ffffff",
        "icons": [{"src": static(path), "sizes": f"{size}x{size}", "type": "image/png", "purpose": purpose}
                  for path, size, purpose in ICONS],
    }
    response = JsonResponse(data, content_type="application/manifest+json")
    response["Cache-Control"] = "public, max-age=3600"
    return response


def _read(path):
    found = finders.find(path)
    if not found:
        raise Http404(path)
    with open(found, "rb") as handle:
        return handle.read()


def _build_worker():
    source = _read("js/sw.js")
    digest = hashlib.sha256(source)
    for path in SHELL_FILES:
        digest.update(_read(path))
    digest.update(_read_offline_template())
    config = {"cache": f"ilert-shell-{digest.hexdigest()[:12]}", "offline": reverse("offline"),
              "shell": [static(path) for path in SHELL_FILES]}
    return b"self.ILERT = " + json.dumps(config).encode() + b";\n" + source


def _read_offline_template():
    with open(settings.BASE_DIR / "templates" / "offline.html", "rb") as handle:
        return handle.read()


_cached_worker = lru_cache(maxsize=1)(_build_worker)


@require_safe
def service_worker(request):
    body = _build_worker() if settings.DEBUG else _cached_worker()
    response = HttpResponse(body, content_type="text/javascript; charset=utf-8")
    response["Service-Worker-Allowed"] = "/"
    # The browser checks for a new worker on navigation; it must never get a stale one from a cache.
    response["Cache-Control"] = "no-cache"
    return response


@require_safe
def offline(request):
    """What the app shows when the network is gone: no user, no data (it is cached for everyone)."""
    response = render(request, "offline.html", {"theme_colour": THEME_COLOUR})
    response["Cache-Control"] = "no-cache"
    return response
