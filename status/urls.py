from django.urls import path

from . import public, views

app_name = "status"

PUBLIC = [
    path("status/<slug:slug>/", public.page_view, name="page"),
    path("status/<slug:slug>/api/v2/summary.json", public.api_view("summary"), name="summary"),
    path("status/<slug:slug>/api/v2/status.json", public.api_view("status"), name="status-json"),
    path("status/<slug:slug>/api/v2/components.json", public.api_view("components"), name="components"),
    path("status/<slug:slug>/api/v2/incidents.json", public.api_view("incidents"), name="incidents"),
    path("status/<slug:slug>/api/v2/incidents/unresolved.json", public.api_view("unresolved"), name="unresolved"),
    path("status/<slug:slug>/api/v2/scheduled-maintenances.json", public.api_view("maintenances"),
         name="maintenances"),
    path("status/<slug:slug>/api/v2/scheduled-maintenances/upcoming.json", public.api_view("upcoming"),
         name="upcoming"),
    path("status/<slug:slug>/api/v2/scheduled-maintenances/active.json", public.api_view("active"), name="active"),
    path("status/<slug:slug>/feed.rss", public.rss, name="rss"),
    path("status/<slug:slug>/feed.atom", public.atom, name="atom"),
    path("status/<slug:slug>/subscribe", public.subscribe, name="subscribe"),
    path("status/<slug:slug>/access", public.request_access, name="request-access"),
    path("status/<slug:slug>/access/<str:token>", public.magic_login, name="access"),
    path("status/confirm/<str:token>", public.confirm, name="confirm"),
    path("status/unsubscribe/<str:token>", public.unsubscribe, name="unsubscribe"),
]

urlpatterns = PUBLIC + [
    path("status-pages/", views.pages, name="pages"),
    path("status-pages/<int:pk>/", views.page_detail, name="page-edit"),
    path("status-pages/<int:pk>/preview", views.page_preview, name="page-preview"),
    path("status-pages/<int:pk>/access-link", views.page_access_link, name="page-access-link"),
    path("status-pages/<int:pk>/delete", views.page_delete, name="page-delete"),
    path("status-pages/<int:pk>/domain-check", views.page_domain_check, name="page-domain-check"),
    path("status-pages/<int:pk>/subscribers", views.page_subscribers, name="page-subscribers"),
    path("status-pages/services/", views.services_view, name="services"),
    path("status-pages/services/<int:pk>/", views.service_detail, name="service"),
    path("status-pages/services/<int:pk>/delete", views.service_delete, name="service-delete"),
    path("status-pages/groups/<int:pk>/", views.group_detail, name="group"),
    path("status-pages/groups/<int:pk>/move", views.group_move, name="group-move"),
    path("status-pages/groups/<int:pk>/delete", views.group_delete, name="group-delete"),
    path("status-pages/incidents/", views.incidents_view, name="incidents-dash"),
    path("status-pages/incidents/<int:pk>/", views.incident_detail, name="incident"),
    path("status-pages/incidents/<int:pk>/delete", views.incident_delete, name="incident-delete"),
    path("status-pages/from-alert/<int:pk>", views.from_alert, name="incident-panel"),
    path("status-pages/subscriptions", views.my_subscriptions, name="profile-panel"),
]
