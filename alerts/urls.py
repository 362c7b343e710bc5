from django.urls import path, re_path

from . import views
from .integrations import alertmanager, email, event_api, grafana, heartbeat, opsgenie, pagerduty, sms

app_name = "alerts"

# Ingestion endpoints (README "Sending events"): the Event API and heartbeats under /api/, one
# prefix per imitated format under /integrations/, inbound email under /anymail/<esp>/inbound/.
ingestion = [
    path("api/events", event_api.receive, name="events"),
    path("api/heartbeats/<str:key>", heartbeat.receive, name="heartbeat"),
    path("integrations/pagerduty/v2/enqueue", pagerduty.enqueue, name="pagerduty"),
    path("integrations/pagerduty/v2/change/enqueue", pagerduty.change_enqueue, name="pagerduty-change"),
    # Opsgenie: aliases may hold "/" (path converters); every other path under the prefix gets an
    # Opsgenie-shaped JSON 404 from `unsupported`, never an HTML page.
    path("integrations/opsgenie/v2/alerts", opsgenie.alerts, name="opsgenie"),
    path("integrations/opsgenie/v2/alerts/count", opsgenie.count_alerts, name="opsgenie-count"),
    path("integrations/opsgenie/v2/alerts/requests/<str:request_id>", opsgenie.request_status,
         name="opsgenie-request"),
    path("integrations/opsgenie/v2/alerts/<path:identifier>/close", opsgenie.close_alert, name="opsgenie-close"),
    path("integrations/opsgenie/v2/alerts/<path:identifier>/acknowledge", opsgenie.acknowledge_alert,
         name="opsgenie-acknowledge"),
    path("integrations/opsgenie/v2/alerts/<path:identifier>/notes", opsgenie.add_note, name="opsgenie-notes"),
    path("integrations/opsgenie/v2/alerts/<path:identifier>/tags", opsgenie.add_tags, name="opsgenie-tags"),
    path("integrations/opsgenie/v2/alerts/<str:identifier>", opsgenie.get_alert, name="opsgenie-alert"),
    path("integrations/opsgenie/v2/alerts/<path:identifier>", opsgenie.get_alert_or_unsupported),
    re_path(r"^integrations/opsgenie/(?P<rest>.*)$", opsgenie.unsupported, name="opsgenie-unsupported"),
    path("integrations/alertmanager", alertmanager.receive, name="alertmanager"),
    path("integrations/alertmanager/<str:key>", alertmanager.receive, name="alertmanager-key"),
    path("integrations/grafana", grafana.receive, name="grafana"),
    path("integrations/grafana/<str:key>", grafana.receive, name="grafana-key"),
    path("integrations/twilio/sms", sms.receive, name="sms"),
    *email.urlpatterns,
]

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
