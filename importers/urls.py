from django.urls import path

from . import views

app_name = "importers"

urlpatterns = [
    path("import/", views.start, name="start"),
    path("import/<int:pk>/", views.job, name="job"),
]
