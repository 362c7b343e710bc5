from django.urls import path

from . import views

app_name = "reports"

urlpatterns = [
    path("reports/", views.index, name="index"),
    path("reports/response/", views.response_report, name="response"),
    path("reports/noise/", views.noise_report, name="noise"),
    path("reports/people/", views.people_report, name="people"),
    path("reports/delivery/", views.delivery_report, name="delivery"),
]
