"""The hosts the product itself answers on (SITE_URL's and the loopback names): any other host is
a status page's custom domain (status.middleware)."""

from urllib.parse import urlsplit

from django.conf import settings


def own_hosts():
    return {"localhost", "127.0.0.1", "[::1]", urlsplit(settings.SITE_URL).hostname or ""}
