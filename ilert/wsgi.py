import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ilert.settings")
application = get_wsgi_application()

from ilert import delivery  # noqa: E402 - needs the settings loaded above

delivery.log_at_startup()  # a web process says at start what it cannot deliver
