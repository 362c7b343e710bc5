import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ilert.settings")
application = get_wsgi_application()

from django.urls import get_resolver  # noqa: E402 - needs the settings loaded above

from ilert import delivery, gc_tuning  # noqa: E402 - needs the settings loaded above

delivery.log_at_startup()  # a web process says at start what it cannot deliver
get_resolver().url_patterns  # noqa: B018 - the URLconf loaded now, not by the first request: then frozen
gc_tuning.freeze_what_start_up_loaded()  # ilert/gc_tuning.py
