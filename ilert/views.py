"""Project-level pages: the overview, the dev outbox and error pages.

The overview knows no domain app: it loads each app's panel (a URL named `<app>:home-panel`) with htmx.
"""

import sys

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db import InterfaceError, OperationalError
from django.http import Http404
from django.shortcuts import redirect, render
from django.templatetags.static import static
from django.views.decorators.http import require_safe

from .dashboard import panel_urls
from .devoutbox import visible_to
from .middleware import database_unavailable

HOME_PANELS = ["alerts:home-panel", "uptime:home-panel", "schedules:home-panel", "notifications:home-panel"]


@require_safe
@login_required
def home(request):
    return render(request, "home.html", {"panels": panel_urls(HOME_PANELS)})


@require_safe
@login_required
def dev_outbox(request):
    if not settings.DEV_OUTBOX:
        raise Http404
    messages = visible_to(request.user)
    channel = request.GET.get("channel")
    if channel:
        messages = messages.filter(channel=channel)
    page = Paginator(messages, 25).get_page(request.GET.get("page"))
    return render(request, "dev_outbox.html", {"page": page, "channel": channel, "own_only": not request.user.is_admin})


@require_safe
def favicon(request):
    """Browsers ask for /favicon.ico where a page names none (fragments, JSON, downloads)."""
    return redirect(static("favicon.svg"), permanent=True)


def not_found(request, exception=None):
    return render(request, "404.html", status=404)


def server_error(request):
    exception = sys.exc_info()[1]
    if isinstance(exception, OperationalError | InterfaceError):  # raised in a middleware (e.g. loading the session)
        return database_unavailable(request, exception)
    return render(request, "500.html", status=500)
