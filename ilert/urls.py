"""Project URLs. Each domain app brings its own:
- `<app>/urls.py`: dashboard pages (and ingestion endpoints) with their own path prefixes;
- `<app>/api.py`: `routes` [(prefix, viewset)] and optional `api_urlpatterns`, all under /api/v1/.
"""

from importlib import import_module
from importlib.util import find_spec

from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView
from rest_framework.routers import DefaultRouter

from accounts.throttle import throttled_login

from . import exposition, health, pwa, views

DOMAIN_APPS = ["accounts", "alerts", "schedules", "escalation", "notifications", "connectors", "uptime", "importers",
               "status", "reports"]


class Router(DefaultRouter):
    """Routes answer with and without a trailing slash (no redirects that drop POST bodies)."""

    include_root_view = False

    def __init__(self):
        super().__init__()
        self.trailing_slash = "/?"


def _optional(module_name):
    return import_module(module_name) if find_spec(module_name) else None


router = Router()
api_urlpatterns = []
app_urlpatterns = []
for app_name in DOMAIN_APPS:
    api = _optional(f"{app_name}.api")
    if api is not None:
        for prefix, viewset in getattr(api, "routes", []):
            router.register(prefix, viewset, basename=prefix)
        api_urlpatterns += getattr(api, "api_urlpatterns", [])
    if _optional(f"{app_name}.urls") is not None:
        app_urlpatterns.append(path("", include(f"{app_name}.urls")))
# alerts.urls starts with the intake endpoints, the busiest routes by far: tried first (a route
# further down costs every event ~40 failed matches).
app_urlpatterns.sort(key=lambda pattern: pattern.urlconf_name.__name__ != "alerts.urls")

urlpatterns = [
    app_urlpatterns.pop(0),
    path("healthz", health.healthz, name="healthz"),
    path("favicon.ico", views.favicon),
    path("readyz", health.readyz, name="readyz"),
    path("metrics", exposition.metrics_view, name="metrics"),  # operators: a bearer token (docs/metrics.md)
    # The installable app (ilert/pwa.py): the worker must be served from the root for scope "/".
    path("manifest.webmanifest", pwa.manifest, name="manifest"),
    path("sw.js", pwa.service_worker, name="service-worker"),
    path("offline", pwa.offline, name="offline"),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    # The split view serves Swagger UI's start-up script as a file: no inline script under the CSP.
    path("api/docs/", SpectacularSwaggerSplitView.as_view(url_name="api-schema"), name="api-docs"),
    path("api/v1/", include(api_urlpatterns + router.urls)),
    path("", views.home, name="home"),
    path("dev/outbox/", views.dev_outbox, name="dev-outbox"),
    # The Django admin's login takes passwords too: the same throttle as the dashboard's.
    path("django-admin/login/", throttled_login(admin.site.login)),
    path("django-admin/", admin.site.urls),
    # (Inbound mail webhooks live in alerts/urls.py under /anymail/<esp>/inbound/; email alert
    # sources and replies to notification emails each connect a receiver to anymail's signal.)
    *app_urlpatterns,
]

handler404 = "ilert.views.not_found"
handler500 = "ilert.views.server_error"
