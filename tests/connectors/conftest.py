import socket

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from .fakes import FakeServer

PUBLIC_IP = "93.184.216.34"

# Names the tests use, and what our fake DNS answers for them. Anything else resolves for real
# (there is no internet here, so it fails, which netguard reports as a refused target).
DNS = {
    "hooks.example.com": PUBLIC_IP,
    "acme.atlassian.net": PUBLIC_IP,
    "jira.example.com": PUBLIC_IP,
    "oauth2.googleapis.com": PUBLIC_IP,
    "europe-west1-acme.cloudfunctions.net": PUBLIC_IP,
    "acme-fn.azurewebsites.net": PUBLIC_IP,
    "lambda.eu-central-1.amazonaws.com": PUBLIC_IP,
    "acme.webhook.office.com": PUBLIC_IP,
    "hooks.slack.com": PUBLIC_IP,
    "internal.example.com": "10.1.2.3",
    "metadata.example.com": "169.254.169.254",
}


@pytest.fixture(autouse=True)
def _no_cached_google_tokens():
    """Google ID tokens are reused within a worker: each test starts without any."""
    from connectors.targets import gcp_function

    gcp_function.forget_tokens()
    yield
    gcp_function.forget_tokens()


@pytest.fixture(autouse=True)
def dns(monkeypatch):
    """A DNS table for the SSRF guard (which resolves every name before any request)."""
    table = dict(DNS)
    real = socket.getaddrinfo

    def getaddrinfo(host, port, *args, **kwargs):
        answer = table.get(host)
        if answer is None:
            return real(host, port, *args, **kwargs)
        if isinstance(answer, list):  # successive answers (DNS rebinding); the last one sticks
            answer = answer.pop(0) if len(answer) > 1 else answer[0]
        return [(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", (answer, port or 0))]

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return table


@pytest.fixture
def local_server():
    servers = []

    def start(respond=None):
        server = FakeServer(respond).start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


@pytest.fixture
def allow_private(settings):
    settings.ALLOW_PRIVATE_TARGETS = True


@pytest.fixture(scope="session")
def service_account():
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption()).decode()
    info = {"type": "service_account", "project_id": "acme", "private_key_id": "k1", "private_key": pem,
            "client_email": "ilert@acme.iam.gserviceaccount.com", "client_id": "1", "token_uri": "https://oauth2.googleapis.com/token"}
    return info
