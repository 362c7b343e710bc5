import asyncio
import socket
import ssl
import threading
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest

from ilert import netguard


@pytest.mark.parametrize("url", [
    "http://127.0.0.1/", "http://localhost:8000/x", "http://169.254.169.254/latest/meta-data/",
    "http://10.0.0.5/", "http://192.168.1.1/", "http://[::1]/", "http://0.0.0.0/", "http://100.64.0.1/",
    "http://[::ffff:127.0.0.1]/", "ftp://example.com/", "http://user:pw@example.com/",
])
def test_private_and_odd_targets_are_refused(url, settings):
    settings.ALLOW_PRIVATE_TARGETS = False
    with pytest.raises(netguard.BlockedTarget):
        netguard.check_url(url)


def _run(coroutine):
    """asyncio.run in a thread of its own: a browser test earlier in this process (Playwright's sync
    API) may leave an event loop marked running in the main thread."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coroutine).result()


def test_a_name_resolving_to_a_private_address_is_refused(settings, monkeypatch):
    settings.ALLOW_PRIVATE_TARGETS = False
    monkeypatch.setattr(netguard.socket, "getaddrinfo", lambda *a, **k: [(2, 1, 6, "", ("10.1.2.3", 443))])
    with pytest.raises(netguard.BlockedTarget) as excinfo:
        netguard.check_url("https://innocent.example.com/hook")
    assert "10.1.2.3" in str(excinfo.value)


def test_public_addresses_pass_and_self_hosters_may_allow_private(settings, monkeypatch):
    settings.ALLOW_PRIVATE_TARGETS = False
    monkeypatch.setattr(netguard.socket, "getaddrinfo", lambda *a, **k: [(2, 1, 6, "", ("93.184.216.34", 443))])
    assert netguard.check_url("https://example.com/") == ["93.184.216.34"]
    settings.ALLOW_PRIVATE_TARGETS = True
    monkeypatch.undo()
    assert netguard.check_url("http://127.0.0.1:9/") == ["127.0.0.1"]


def test_metadata_addresses_stay_refused_even_when_private_targets_are_allowed(settings):
    settings.ALLOW_PRIVATE_TARGETS = True
    for url in ("http://169.254.169.254/latest/meta-data/", "http://[::ffff:169.254.169.254]/"):
        with pytest.raises(netguard.BlockedTarget):
            netguard.check_url(url)


# --- the httpx clients every outbound call of ours uses: the guard runs when the socket is opened ---


@pytest.fixture
def names(monkeypatch):
    """A DNS table ({name: address or [successive answers]}); `asked` lists the names looked up.
    Anything else (the addresses the clients connect to) resolves for real."""
    table, asked = {}, []
    real = socket.getaddrinfo

    def getaddrinfo(host, port, *args, **kwargs):
        if host not in table:
            return real(host, port, *args, **kwargs)
        asked.append(host)
        answer = table[host]
        if isinstance(answer, list):
            answer = answer.pop(0) if len(answer) > 1 else answer[0]
        return [(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", (answer, port))]

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return table, asked


@contextmanager
def local_server(certificate=None):
    """An HTTP(S) server on 127.0.0.1: yields (port, the Host headers it received)."""
    hosts = []

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self):
            hosts.append(self.headers["Host"])
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    if certificate:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(*certificate)
        server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    try:
        yield server.server_address[1], hosts
    finally:
        server.shutdown()
        server.server_close()


def test_the_client_connects_to_the_address_it_vetted_and_never_resolves_the_name_again(settings, names):
    """DNS rebinding: the second answer would be an unroutable address. The request arrives, so the
    socket went to the vetted address; the name was looked up once, by the guard."""
    settings.ALLOW_PRIVATE_TARGETS = True  # the local server stands in for the public site
    table, asked = names
    table["svc.test"] = ["127.0.0.1", "10.255.255.1"]
    with local_server() as (port, hosts), netguard.client(timeout=5) as client:
        assert client.get(f"http://svc.test:{port}/x").text == "ok"
    assert hosts == [f"svc.test:{port}"] and asked == ["svc.test"]


def test_a_name_that_turns_private_after_the_check_is_refused_when_connecting(settings, names):
    settings.ALLOW_PRIVATE_TARGETS = False
    table, _ = names
    table["svc.test"] = ["93.184.216.34", "127.0.0.1"]
    with local_server() as (port, hosts), netguard.client(timeout=5) as client:
        netguard.check_url(f"http://svc.test:{port}/")  # public when checked
        with pytest.raises(netguard.BlockedTarget) as excinfo:
            client.get(f"http://svc.test:{port}/")
    assert "127.0.0.1" in str(excinfo.value) and hosts == []


def test_the_clients_refuse_metadata_addresses_even_when_private_targets_are_allowed(settings, names):
    settings.ALLOW_PRIVATE_TARGETS = True
    table, _ = names
    table["meta.test"] = "169.254.169.254"
    with netguard.client(timeout=5) as client, pytest.raises(netguard.BlockedTarget):
        client.get("http://meta.test/latest/meta-data/")

    async def fetch():
        async with netguard.async_client(timeout=5) as client:
            await client.get("http://meta.test/latest/meta-data/")

    with pytest.raises(netguard.BlockedTarget):
        _run(fetch())


def test_the_async_client_is_guarded_at_connect_time_too(settings, names):
    table, asked = names
    table["svc.test"] = "127.0.0.1"

    async def fetch(port):
        async with netguard.async_client(timeout=5) as client:
            return (await client.get(f"http://svc.test:{port}/")).text

    with local_server() as (port, hosts):
        settings.ALLOW_PRIVATE_TARGETS = False
        with pytest.raises(netguard.BlockedTarget):
            _run(fetch(port))
        assert hosts == []
        settings.ALLOW_PRIVATE_TARGETS = True
        assert _run(fetch(port)) == "ok"
    assert hosts == [f"svc.test:{port}"] and asked == ["svc.test", "svc.test"]


def test_tls_verifies_the_name_while_connecting_to_the_vetted_address(settings, names, tmp_path):
    from tests.uptime.servers import make_certificate

    settings.ALLOW_PRIVATE_TARGETS = True
    table, _ = names
    table["svc.test"] = "127.0.0.1"
    for name, accepted in (("svc.test", True), ("other.test", False)):
        (tmp_path / name).mkdir()
        cert, key, ca = make_certificate(tmp_path / name, names=(name,), ips=("127.0.0.1",))
        trusted = ssl.create_default_context(cafile=str(ca))
        with local_server((cert, key)) as (port, hosts), netguard.client(timeout=5, verify=trusted) as client:
            if accepted:
                assert client.get(f"https://svc.test:{port}/").text == "ok"
            else:  # valid for the address we connect to, but not for the name: refused
                with pytest.raises(httpx.ConnectError) as excinfo:
                    client.get(f"https://svc.test:{port}/")
                assert "certificate" in str(excinfo.value).lower() and hosts == []
