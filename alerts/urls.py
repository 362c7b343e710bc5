from django.urls import path

from . import views
from .integrations import registry

app_name = "alerts"

# Ingestion endpoints (docs/integrations/index.md), each declared by its integration module
# (alerts.integrations.registry): the Event API and heartbeats under /api/, one prefix per imitated
# format under /integrations/, inbound email under /anymail/<esp>/inbound/.
ingestion = registry.urlpatterns()

urlpatterns = [
    *ingestion,
    path("incidents/", views.incidents, name="incidents"),
    path("incidents/bulk", views.incidents_bulk, name="incidents-bulk"),
    path("incidents/<int:pk>/", views.incident_detail, name="incident"),
    path("incidents/<int:pk>/accept", views.incident_accept, name="incident-accept"),
    path("incidents/<int:pk>/resolve", views.incident_resolve, name="incident-resolve"),
    path("incidents/<int:pk>/escalate", views.incident_escalate, name="incident-escalate"),
    path("incidents/<int:pk>/reassign", views.incident_reassign, name="incident-reassign"),
    path("incidents/<int:pk>/comment", views.incident_comment, name="incident-comment"),
    path("alert-sources/", views.sources, name="sources"),
    path("alert-sources/<int:pk>/", views.source_detail, name="source"),
    path("alert-sources/<int:pk>/regenerate-key", views.source_regenerate_key, name="source-regenerate-key"),
    path("alert-sources/<int:pk>/integration-settings", views.source_integration_settings,
         name="source-integration-settings"),
    path("alert-sources/<int:pk>/test-event", views.source_test_event, name="source-test-event"),
    path("alert-sources/<int:pk>/maintenance", views.source_add_maintenance, name="source-maintenance"),
    path("maintenance/<int:pk>/delete", views.maintenance_delete, name="maintenance-delete"),
    path("panels/incidents", views.home_panel, name="home-panel"),
    path("panels/incident-count", views.badge_count, name="badge-count"),
]
