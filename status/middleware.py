"""A status page on its own domain: a request whose Host is a page's `custom_domain` is served as
that page (`/` is the page, `/api/v2/summary.json` its JSON, …). Only the page's own paths are
reachable on its domain: the dashboard, the API and logins answer 404 there. A domain whose owner
has not proved it (status/services/domains.py) answers 404 for everything.

The reverse proxy passes the Host header unchanged and the domain must be in ALLOWED_HOSTS
(docs/status-pages.md shows an nginx server block)."""


from django.core.cache import cache

from ilert.hosts import own_hosts

from . import selectors

UNVERIFIED = "-"  # not a slug (slugs are never "-"): the host is a page's domain not yet proved
PASS_THROUGH = ("/static/", "/status/confirm/", "/status/unsubscribe/")


class CustomDomainMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response
        self.own = own_hosts()

    def __call__(self, request):
        host = request.META.get("HTTP_HOST", "").rsplit(":", 1)[0].lower().rstrip(".")
        if host and host not in self.own:
            slug = self._slug(host)
            if slug == UNVERIFIED:
                self._nothing(request)
            elif slug is not None:
                self._route(request, slug, host)
        return self.get_response(request)

    @staticmethod
    def _slug(host):
        key = f"status:domain:{host}"
        slug = cache.get(key)
        if slug is None:
            page = selectors.page_by_domain(host)
            slug = "" if page is None else page.slug if page.domain_verified else UNVERIFIED
            cache.set(key, slug, 60)
        return slug or None

    @staticmethod
    def _route(request, slug, host):
        prefix = f"/status/{slug}"
        path = request.path_info
        if path.startswith(prefix + "/") or path.startswith(PASS_THROUGH):
            return
        request.status_domain = host  # links mailed from here point back at this domain (public.visitor_link)
        if path == "/" or path.startswith(("/api/v2/", "/feed.", "/subscribe", "/access")):
            request.path_info = prefix + path
            request.path = request.path_info
            return
        CustomDomainMiddleware._nothing(request)  # nothing of the product is served on a page's domain

    @staticmethod
    def _nothing(request):
        request.path_info = "/status/-/not-here"
        request.path = request.path_info
