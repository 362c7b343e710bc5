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
