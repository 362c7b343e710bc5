"""The client's address behind our reverse proxy (deploy/nginx.conf). gunicorn sees the proxy as the
client; the per-address limits (failed logins) need the real one, which the proxy sets in X-Real-IP
(replacing whatever a client sent). Trusted only when TRUST_X_REAL_IP is set: without a proxy that
sets it, a client could pick its own address."""


def real_ip(application):
    """Wrap a WSGI application: REMOTE_ADDR becomes X-Real-IP when the request has one."""

    def wrapped(environ, start_response):
        address = environ.get("HTTP_X_REAL_IP", "").strip()
        if address:
            environ["REMOTE_ADDR"] = address
        return application(environ, start_response)

    return wrapped
