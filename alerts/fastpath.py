"""The Event API and heartbeat pings answered before the rest of the middleware (docs/intake.md).

An event (POST /api/events or /api/v1/events) and a ping (GET | HEAD | POST /api/heartbeats/<key>
or /api/v1/heartbeats/<key>) on one of our own hosts go straight to their view from here, near the
top of MIDDLEWARE: after the body size limit, the 503 for an unreachable database, the security
headers (and HTTPS redirect) and the Content-Security-Policy; before static files, sessions, CSRF,
authentication, messages, tenancy, time zones and custom domains, none of which they use (they are
addressed by their integration key, carry no cookie and render nothing), and without URL
resolving. Answers are the views' own: the same statuses, bodies and slow paths
(tests/alerts/test_event_api.py and test_heartbeats.py run through here and the long way). A host
that is not ours (a status page's custom domain, where the API answers 404) goes the usual way.
"""

import re

from ilert.hosts import own_hosts

from .integrations import event_api, heartbeat

ROUTES = (
    (re.compile(r"/api/(?:v1/)?events"), event_api.receive),
    (re.compile(r"/api/(?:v1/)?heartbeats/([^/]+)"), heartbeat.receive),
)


class IntakeFastPath:
    def __init__(self, get_response):
        self.get_response = get_response
        self.own = own_hosts()

    def __call__(self, request):
        for pattern, view in ROUTES:
            match = pattern.fullmatch(request.path_info)
            if match:
                if request.get_host().rsplit(":", 1)[0].lower().rstrip(".") in self.own:
                    return _sized(view(request, *match.groups()))
                break
        return self.get_response(request)


def _sized(response):
    """Content-Length, as CommonMiddleware would add it further down: without it an HTTP/1.1
    answer goes out chunked."""
    if not response.streaming and not response.has_header("Content-Length"):
        response.headers["Content-Length"] = str(len(response.content))
    return response
