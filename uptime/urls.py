from django.urls import path

from . import views

app_name = "uptime"

urlpatterns = [
    path("uptime/", views.monitors, name="monitors"),
    path("uptime/<int:pk>/", views.monitor_detail, name="monitor"),
    path("uptime/<int:pk>/status", views.monitor_status, name="monitor-status"),
    path("uptime/<int:pk>/check-now", views.monitor_check_now, name="monitor-check-now"),
    path("uptime/<int:pk>/pause", views.monitor_pause, name="monitor-pause"),
    path("uptime/<int:pk>/delete", views.monitor_delete, name="monitor-delete"),
    path("panels/uptime", views.home_panel, name="home-panel"),
]
