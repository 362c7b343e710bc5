from django.urls import include, path

from ilert.dashboard import token_addressed

from . import views

dashboard = [
    path("schedules/", views.schedules, name="schedules"),
    path("schedules/panel/home", views.home_panel, name="home-panel"),
    path("schedules/panel/profile", views.profile_panel, name="profile-panel"),
    path("schedules/my-calendar", views.personal_feed, name="personal-feed"),
    path("schedules/<int:pk>/", views.schedule_detail, name="schedule"),
    path("schedules/<int:pk>/edit", views.schedule_edit, name="schedule-edit"),
    path("schedules/<int:pk>/layers/new", views.layer_create, name="layer-create"),
    path("schedules/<int:pk>/overrides/new", views.override_create, name="override-create"),
    path("schedules/<int:pk>/shifts/new", views.shift_create, name="shift-create"),
    path("schedules/<int:pk>/import", views.import_ics, name="import"),
    path("schedules/<int:pk>/calendar", views.schedule_feed, name="schedule-feed"),
    path("schedules/layers/<int:pk>/", views.layer_edit, name="layer"),
    path("schedules/overrides/<int:pk>/delete", views.override_delete, name="override-delete"),
    path("schedules/shifts/<int:pk>/delete", views.shift_delete, name="shift-delete"),
    path("schedules/feeds/<str:token>.ics", token_addressed(views.feed), name="feed"),
]

urlpatterns = [path("", include((dashboard, "schedules")))]
