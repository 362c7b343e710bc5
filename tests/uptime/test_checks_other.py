"""TCP, TLS-certificate, DNS and ping monitors against real servers on 127.0.0.1."""

import os
import pwd
import subprocess
import sys
from pathlib import Path

import pytest

from alerts.models import Incident
from uptime.models import CheckResult

from .conftest import check
from .factories import make_monitor
from .servers import DnsTarget, HttpTarget, TlsTarget, closed_port, make_certificate

ROOT = Path(__file__).resolve().parents[2]


def test_tcp_an_open_port_is_up_and_a_closed_one_down(tenant, http_target):
    open_port = check(make_monitor(tenant, name="DB", check_type="tcp", target="127.0.0.1", port=http_target.port,
                                   paused=False, retries=0))
    assert open_port.status == "up" and open_port.last_message == f"127.0.0.1:{http_target.port} accepts connections"
    port = closed_port()
    shut = check(make_monitor(tenant, name="Cache", check_type="tcp", target="127.0.0.1", port=port,
                              paused=False, retries=0))
    assert shut.status == "down"
    assert Incident.objects.get().summary == f"Cache is down: Cannot connect to 127.0.0.1:{port}: connection refused"


@pytest.fixture
def tls_server(tmp_path):
    cert, key, ca = make_certificate(tmp_path, days=9, names=("localhost",), ips=())
    server = TlsTarget(cert, key)
    yield server, ca
    server.stop()


def tls_monitor(tenant, port, **fields):
    fields.setdefault("target", "localhost")
    return make_monitor(tenant, name="Cert", check_type="tls", port=port, paused=False, retries=0, **fields)


def test_a_certificate_expiring_within_the_window_is_down_and_outside_it_up(tenant, tls_server, settings):
    server, ca = tls_server
    settings.UPTIME_CA_BUNDLE = str(ca)
    soon = check(tls_monitor(tenant, server.port, tls_expiry_days=14))
    assert soon.status == "down"
    assert Incident.objects.get().summary.startswith(f"Cert is down: Certificate of localhost:{server.port} "
                                                     "expires in 9 days (")
    fine = check(tls_monitor(tenant, server.port, tls_expiry_days=7))
    assert fine.status == "up" and "9 days left" in fine.last_message


def test_an_untrusted_chain_is_down_unless_verification_is_off(tenant, tls_server):
    server, _ca = tls_server
    untrusted = check(tls_monitor(tenant, server.port))
    assert untrusted.status == "down" and "is not valid: unable to get local issuer certificate" in \
        untrusted.last_message
    lenient = check(tls_monitor(tenant, server.port, verify_tls=False, tls_expiry_days=7))
    assert lenient.status == "up"


def test_a_host_name_mismatch_is_down(tenant, tmp_path, settings):
    cert, key, ca = make_certificate(tmp_path, days=90, names=("www.example.test",), ips=())
    server = TlsTarget(cert, key)
    settings.UPTIME_CA_BUNDLE = str(ca)
    try:
        monitor = check(tls_monitor(tenant, server.port, target="localhost"))
    finally:
        server.stop()
    assert monitor.status == "down"
    assert monitor.last_message == (f"Certificate of localhost:{server.port} is not valid: Hostname mismatch, "
                                    "certificate is not valid for 'localhost'.")


def test_https_checks_verify_the_certificate_too(tenant, tmp_path, settings):
    import ssl

    cert, key, ca = make_certificate(tmp_path, days=30)
    target = HttpTarget()
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    target.server.socket = context.wrap_socket(target.server.socket, server_side=True)
    try:
        url = f"https://localhost:{target.port}/"
        untrusted = check(make_monitor(tenant, name="Shop", target=url, paused=False, retries=0))
        assert untrusted.status == "down" and "certificate" in untrusted.last_message.lower()
        settings.UPTIME_CA_BUNDLE = str(ca)
        assert check(untrusted).status == "up"
        assert target.requests[-1][2]["Host"] == f"localhost:{target.port}"
    finally:
        target.stop()


@pytest.fixture
def dns_server():
    server = DnsTarget({("shop.example.test.", "A"): ["203.0.113.7"],
                        ("example.test.", "MX"): ["10 mail.example.test."]})
    yield server
    server.stop()


def dns_monitor(tenant, server, name, **fields):
    return make_monitor(tenant, name="DNS", check_type="dns", target=name, dns_server=server.server, paused=False,
                        retries=0, **fields)


def test_dns_a_record_resolves_to_the_expected_value(tenant, dns_server):
    monitor = check(dns_monitor(tenant, dns_server, "shop.example.test", dns_expected="203.0.113.7"))
    assert monitor.status == "up" and monitor.last_message == "A shop.example.test → 203.0.113.7"
    mx = check(dns_monitor(tenant, dns_server, "example.test", dns_record_type="MX", dns_expected="mail.example.test"))
    assert mx.status == "up"


def test_dns_a_wrong_answer_or_a_missing_name_is_down(tenant, dns_server):
    wrong = check(dns_monitor(tenant, dns_server, "shop.example.test", dns_expected="198.51.100.1"))
    assert wrong.status == "down" and "resolves to 203.0.113.7, not 198.51.100.1" in wrong.last_message
    missing = check(dns_monitor(tenant, dns_server, "nope.example.test"))
    assert missing.status == "down" and "does not exist (NXDOMAIN)" in missing.last_message


def test_ping_answers_where_the_process_may_send_icmp(tenant):
    from uptime.checks.ping import icmp_mode

    monitor = check(make_monitor(tenant, name="Router", check_type="ping", target="127.0.0.1", paused=False))
    if icmp_mode() is None:
        assert monitor.status == "unavailable"
    else:
        assert monitor.status == "up" and "answers ping" in monitor.last_message
        assert CheckResult.objects.get().response_ms is not None


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to drop to an unprivileged user")
def test_ping_is_reported_unavailable_never_up_where_icmp_is_not_permitted():
    """A real unprivileged process: a child that imports everything, then becomes user nobody (which
    drops CAP_NET_RAW; its group is outside net.ipv4.ping_group_range here) and runs the check."""
    low, high = map(int, open("/proc/sys/net/ipv4/ping_group_range").read().split())
    nobody = pwd.getpwnam("nobody")
    if low <= nobody.pw_gid <= high:
        pytest.skip("nobody may send ICMP on this machine")
    code = (
        "import asyncio, os, django; django.setup()\n"
        "from uptime.checks import CheckSpec, run\n"
        f"os.setgroups([]); os.setgid({nobody.pw_gid}); os.setuid({nobody.pw_uid})\n"
        "r = asyncio.run(run(CheckSpec(check_type='ping', target='127.0.0.1', timeout=2)))\n"
        "print(os.geteuid()); print(r.outcome); print(r.message)\n"
    )
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "ilert.settings_test", "ALLOW_PRIVATE_TARGETS": "true"}
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, done.stderr
    uid, outcome, message = done.stdout.strip().splitlines()[-3:]
    assert int(uid) == nobody.pw_uid
    assert outcome == "unavailable" and "Ping is unavailable on this worker" in message
