"""The Content-Security-Policy of every answer: scripts only from this server (no inline script, no
eval, no inline event handlers), nothing framed, no plugins, forms post here only. Event data is
shown as text and links from outside are http(s) only (ilert/templatetags/links.py); this is the
second wall if something slips through. Inline styles stay allowed: templates use style attributes,
and CSS cannot run code."""

POLICY = "; ".join([
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self' 'unsafe-inline'",
    "img-src 'self' data:",
    "font-src 'self'",
    "connect-src 'self'",
    "object-src 'none'",
    "base-uri 'self'",
    "form-action 'self'",
    "frame-ancestors 'none'",
])


class ContentSecurityPolicyMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        response.headers.setdefault("Content-Security-Policy", POLICY)
        return response
