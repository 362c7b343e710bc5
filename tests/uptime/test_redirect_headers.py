"""A monitor's stored request headers (write-only: any may be a credential) go only to its target's
origin. A redirect to another scheme, host or port is followed without them, and a redirect from
https:// to http:// is not followed at all while headers are set. Two real servers on 127.0.0.1."""

import ssl

import pytest

from .conftest import check
from .factories import make_monitor
from .servers import HttpTarget, make_certificate

SECRET = {"Authorization": "Bearer s3cret-token", "X-Api-Key": "key-123"}


def redirecting(to, status=302):
    def answer(handler):
        if handler.path.startswith("/start"):
            return status, {"Location": to}, ""
        return 200, {}, "landed"
    return answer


@pytest.fixture
def other():
    target = HttpTarget(body="landed")
    yield target
    target.stop()


@pytest.fixture
def https_target(tmp_path, settings):
    cert, key, ca = make_certificate(tmp_path, days=30)
    target = HttpTarget()
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    target.server.socket = context.wrap_socket(target.server.socket, server_side=True)
    settings.UPTIME_CA_BUNDLE = str(ca)
    yield target
    target.stop()


def monitor_of(tenant, url, **fields):
    return make_monitor(tenant, name="Shop", target=url, paused=False, retries=0, **fields)


def sent_headers(target):
    return [{k.lower(): v for k, v in request[2].items()} for request in target.requests]


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
def test_a_redirect_to_another_port_is_followed_without_the_stored_headers(tenant, http_target, other, status):
    http_target.status = redirecting(f"{other.url}/landing", status)
    monitor = check(monitor_of(tenant, f"{http_target.url}/start", http_headers=SECRET, keyword="landed"))
    assert monitor.status == "up", monitor.last_message
    first, = sent_headers(http_target)
    assert first["authorization"] == "Bearer s3cret-token" and first["x-api-key"] == "key-123"
    landed, = sent_headers(other)
    assert "authorization" not in landed and "x-api-key" not in landed
    assert landed["user-agent"].startswith("ilert-uptime/")  # the check's own headers still go
    assert monitor.last_message.endswith(f"(redirected to {other.url}, another origin: the request headers were "
                                         "not sent there)")


def test_a_redirect_to_another_host_name_on_the_same_port_is_another_origin(tenant, http_target):
    http_target.status = redirecting(f"http://localhost:{http_target.port}/landing")
    monitor = check(monitor_of(tenant, f"{http_target.url}/start", http_headers=SECRET))
    assert monitor.status == "up", monitor.last_message
    first, landed = sent_headers(http_target)
    assert first["authorization"] == "Bearer s3cret-token"
    assert "authorization" not in landed and "x-api-key" not in landed and landed["host"].startswith("localhost:")


def test_a_redirect_within_the_origin_keeps_the_headers(tenant, http_target):
    http_target.status = redirecting("/landing")
    monitor = check(monitor_of(tenant, f"{http_target.url}/start", http_headers=SECRET))
    assert monitor.status == "up" and "another origin" not in monitor.last_message
    assert [h["authorization"] for h in sent_headers(http_target)] == ["Bearer s3cret-token"] * 2


def test_coming_back_to_the_target_origin_sends_them_there_again(tenant, http_target, other):
    """Only where they were meant to go: the other origin never sees them."""
    other.status = redirecting(f"{http_target.url}/landing")
    http_target.status = redirecting(f"{other.url}/start")
    monitor = check(monitor_of(tenant, f"{http_target.url}/start", http_headers=SECRET))
    assert monitor.status == "up", monitor.last_message
    assert [h.get("authorization") for h in sent_headers(http_target)] == ["Bearer s3cret-token"] * 2
    assert [h.get("authorization") for h in sent_headers(other)] == [None]


def test_an_https_to_http_redirect_is_not_followed_while_headers_are_set(tenant, https_target, other):
    https_target.status = redirecting(f"{other.url}/landing")
    url = f"https://localhost:{https_target.port}/start"
    monitor = check(monitor_of(tenant, url, http_headers=SECRET))
    assert monitor.status == "down"
    assert monitor.last_message == (f"Refused: {url} redirects to plain http:// ({other.url}/landing); not followed, "
                                    "so the monitor's request headers are never sent unencrypted")
    assert other.requests == []
    assert sent_headers(https_target)[0]["authorization"] == "Bearer s3cret-token"


def test_an_https_to_http_redirect_on_the_same_host_is_refused_too(tenant, https_target):
    """The downgrade itself is refused, whatever the host: the same name over plain http."""
    https_target.status = redirecting(f"http://localhost:{https_target.port}/landing")
    monitor = check(monitor_of(tenant, f"https://localhost:{https_target.port}/start", http_headers=SECRET))
    assert monitor.status == "down" and "redirects to plain http://" in monitor.last_message
    assert len(https_target.requests) == 1


def test_without_headers_an_https_to_http_redirect_is_followed(tenant, https_target, other):
    https_target.status = redirecting(f"{other.url}/landing")
    monitor = check(monitor_of(tenant, f"https://localhost:{https_target.port}/start", keyword="landed"))
    assert monitor.status == "up", monitor.last_message
    assert len(other.requests) == 1
