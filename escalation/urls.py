from django.urls import path

from . import views

app_name = "escalation"

urlpatterns = [
    path("escalation-policies/", views.policies, name="policies"),
    path("escalation-policies/<int:pk>/", views.policy_detail, name="policy"),
    path("escalation-policies/<int:pk>/levels", views.level_add, name="level-add"),
    path("escalation-levels/<int:pk>/", views.level_edit, name="level-edit"),
    path("panels/escalation/<int:pk>", views.incident_panel, name="incident-panel"),
]
