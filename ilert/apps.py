from django.apps import AppConfig


class IlertConfig(AppConfig):
    name = "ilert"
    verbose_name = "ilert platform"
