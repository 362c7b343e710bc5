"""SaaS mode: uptime checks refuse loopback, private, link-local and metadata targets (the same
outbound guard as connectors), when the monitor is saved and again on every check."""

import pytest

from ilert import netguard
from ilert.errors import DomainError
from uptime.models import CheckResult

from .conftest import check
from .factories import make_monitor


@pytest.mark.parametrize("fields", [
    {"check_type": "http", "target": "http://127.0.0.1:8080/"},
    {"check_type": "http", "target": "http://169.254.169.254/latest/meta-data/"},
    {"check_type": "http", "target": "http://localhost/"},
    {"check_type": "tcp", "target": "10.0.0.5", "port": 5432},
    {"check_type": "ping", "target": "192.168.1.1"},
    {"check_type": "tls", "target": "[::1]", "port": 443},
    {"check_type": "dns", "target": "example.com", "dns_server": "127.0.0.1:53"},
])
def test_private_targets_are_refused_when_the_monitor_is_saved(tenant, settings, fields):
    settings.ALLOW_PRIVATE_TARGETS = False
    with pytest.raises(DomainError) as excinfo:
        make_monitor(tenant, **fields)
    assert excinfo.value.field in ("target", "dns_server") and "refused" in excinfo.value.message


def test_the_api_answers_400_for_a_private_target(api, settings):
    settings.ALLOW_PRIVATE_TARGETS = False
    response = api.post("/api/v1/uptime-monitors", {"name": "x", "target": "http://127.0.0.1/"}, format="json")
    assert response.status_code == 400 and response.json()["fields"]["target"]


def test_a_target_refused_at_check_time_is_never_contacted(tenant, settings, http_target):
    """Saved while allowed (or its name later resolving to a private address): each check runs the
    guard on the resolved address and never connects."""
    monitor = make_monitor(tenant, name="Internal", target=f"{http_target.url}/", paused=False, retries=0)
    settings.ALLOW_PRIVATE_TARGETS = False
    monitor = check(monitor)
    assert http_target.hits == 0
    assert monitor.status == "down" and monitor.last_message.startswith("Refused: 127.0.0.1 resolves to 127.0.0.1")
    assert CheckResult.objects.get().outcome == "down"


def test_the_guard_runs_again_on_every_redirect_hop(tenant, settings, http_target, monkeypatch):
    """SaaS mode, with the local server standing in for a public site (its address is let through;
    everything else is judged by the real guard): a redirect to a private address is refused and
    never contacted."""
    real_allowed = netguard._allowed
    monkeypatch.setattr(netguard, "_allowed", lambda address: address == "127.0.0.1" or real_allowed(address))
    settings.ALLOW_PRIVATE_TARGETS = False
    http_target.status = lambda handler: (302, {"Location": "http://10.255.255.1/admin"}, "")
    monitor = make_monitor(tenant, name="Redirector", target=f"{http_target.url}/", paused=False, retries=0,
                           timeout_seconds=1)
    monitor = check(monitor)
    assert monitor.status == "down" and monitor.last_message.startswith("Refused: 10.255.255.1 resolves to")
    assert http_target.hits == 1
