from django.urls import path

from . import views

app_name = "connectors"

urlpatterns = [
    path("connectors/", views.connectors, name="connectors"),
    path("connectors/<int:pk>/", views.connector_detail, name="connector"),
    path("connectors/<int:pk>/test", views.connector_test, name="connector-test"),
    path("connectors/<int:pk>/delete", views.connector_delete, name="connector-delete"),
    path("connectors/slack-users/", views.slack_users, name="slack-users"),
    path("connectors/slack-users/<int:pk>/delete", views.slack_user_delete, name="slack-user-delete"),
    path("alert-sources/<int:pk>/connections/new", views.connection_new, name="connection-new"),
    path("connections/<int:pk>/", views.connection_detail, name="connection"),
    path("connections/<int:pk>/delete", views.connection_delete, name="connection-delete"),
    path("connections/<int:pk>/run", views.connection_run, name="connection-run"),
    path("invocations/<int:pk>/retry", views.invocation_retry, name="invocation-retry"),
    path("panels/alert-sources/<int:pk>/connections", views.source_panel, name="source-panel"),
    path("panels/incidents/<int:pk>/connectors", views.incident_panel, name="incident-panel"),
    path("integrations/slack/<str:token>/interactivity", views.slack_interactivity, name="slack-interactivity"),
]
