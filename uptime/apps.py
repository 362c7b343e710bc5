from django.apps import AppConfig


class UptimeConfig(AppConfig):
    name = "uptime"
