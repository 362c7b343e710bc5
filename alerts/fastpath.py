"""Heartbeat pings answered before the rest of the middleware (docs/intake.md).

A ping (GET | HEAD | POST /api/heartbeats/<key> or /api/v1/heartbeats/<key>) on one of our own
hosts goes straight to the heartbeat view from here, near the top of MIDDLEWARE: after the body
size limit, the 503 for an unreachable database, the security headers (and HTTPS redirect) and the
Content-Security-Policy; before static files, sessions, CSRF, authentication, messages, tenancy,
time zones and custom domains, none of which a ping uses (it is addressed by its key, carries no
cookie and renders nothing), and without URL resolving. The answer is the view's own: the same
statuses, bodies and slow path (tests/alerts/test_heartbeats.py runs through here). A host that
is not ours (a status page's custom domain, where the API answers 404) goes the usual way.
"""

import re

from ilert.hosts import own_hosts

from .integrations import heartbeat

PING_PATH = re.compile(r"/api/(?:v1/)?heartbeats/([^/]+)")


class HeartbeatFastPath:
    def __init__(self, get_response):
        self.get_response = get_response
        self.own = own_hosts()

    def __call__(self, request):
        match = PING_PATH.fullmatch(request.path_info)
        if match and request.get_host().rsplit(":", 1)[0].lower().rstrip(".") in self.own:
            return heartbeat.receive(request, match.group(1))
        return self.get_response(request)
