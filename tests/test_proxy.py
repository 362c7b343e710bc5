"""Behind the reverse proxy (deploy/nginx.conf sets X-Real-IP), the per-address limits see the
client's address, not the proxy's (ilert/proxy.py, used by ilert/wsgi.py with TRUST_X_REAL_IP)."""

from ilert.proxy import real_ip


def seen_address(environ):
    seen = {}

    def app(environ, start_response):
        seen["address"] = environ["REMOTE_ADDR"]
        return [b""]

    real_ip(app)(environ, lambda *args: None)
    return seen["address"]


def test_the_address_the_proxy_saw_is_the_clients():
    assert seen_address({"REMOTE_ADDR": "172.18.0.5", "HTTP_X_REAL_IP": "203.0.113.9"}) == "203.0.113.9"


def test_a_request_without_the_header_keeps_its_address():
    assert seen_address({"REMOTE_ADDR": "172.18.0.5"}) == "172.18.0.5"
