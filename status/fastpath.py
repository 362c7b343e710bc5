"""Conditional requests for public status pages answered 304 before the rest of the stack runs.

When a public page (or its JSON or feed) is served, the answer's ETag is remembered under the
request's host and path together with the page's generation (its `changed_at`). A later request
with a matching If-None-Match gets 304 from here with one cache read (two keys at once) and no
database, session or URL resolving. Every change that shows on a page sets a new generation after
commit (status.services.touch_pages), so the remembered ETag stops matching at once where the cache
is shared (Redis); with per-process memory caches an entry lives at most ENTRY_SECONDS, well inside
the `max-age=30` public pages already allow."""

from django.core.cache import cache
from django.http import HttpResponseNotModified
from django.utils.cache import parse_etags

from ilert.hosts import own_hosts

ENTRY_SECONDS = 10
GENERATION_SECONDS = 24 * 3600


def _key(host, path):
    return f"status:fast:{host.lower()}:{path}"


def generation_key(page_id):
    return f"status:gen:{page_id}"


def remember(request, page, response):
    """Called for public pages only (private and audience answers depend on who asks)."""
    key = _key(request.META.get("HTTP_HOST", ""), request.META.get("PATH_INFO", ""))
    generation = str(page.changed_at.timestamp())
    cache.set_many({key: {"etag": response["ETag"], "page": page.pk, "generation": generation,
                          "headers": {name: response[name] for name in ("Last-Modified", "Cache-Control",
                                                                          "Content-Security-Policy")}}},
                   ENTRY_SECONDS)
    cache.add(generation_key(page.pk), generation, GENERATION_SECONDS)


def changed(pages):
    """[(page id, changed_at)] changed: their remembered ETags no longer match."""
    cache.set_many({generation_key(pk): str(at.timestamp()) for pk, at in pages}, GENERATION_SECONDS)


class ConditionalFastPath:
    def __init__(self, get_response):
        self.get_response = get_response
        self.own = own_hosts()

    def _candidate(self, request):
        """Status pages' paths, or any path on a host that is not ours (a page's custom domain)."""
        if request.META.get("PATH_INFO", "").startswith("/status/"):
            return True
        return request.META.get("HTTP_HOST", "").rsplit(":", 1)[0].lower().rstrip(".") not in self.own

    def __call__(self, request):
        asked = request.META.get("HTTP_IF_NONE_MATCH")
        if asked and request.method in ("GET", "HEAD") and self._candidate(request):
            response = self._not_modified(request, asked)
            if response is not None:
                return response
        return self.get_response(request)

    @staticmethod
    def _not_modified(request, asked):
        key = _key(request.META.get("HTTP_HOST", ""), request.META.get("PATH_INFO", ""))
        entry = cache.get(key)
        if entry is None:
            return None
        if cache.get(generation_key(entry["page"])) != entry["generation"]:
            return None
        if entry["etag"] not in parse_etags(asked) and "*" not in parse_etags(asked):
            return None
        response = HttpResponseNotModified()
        response["ETag"] = entry["etag"]
        for name, value in entry["headers"].items():
            response[name] = value
        return response
