import os

from django.conf import settings
from django.core.wsgi import get_wsgi_application

from ilert.proxy import real_ip

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ilert.settings")
application = get_wsgi_application()
if settings.TRUST_X_REAL_IP:  # behind deploy/nginx.conf (docker-compose.yml)
    application = real_ip(application)
