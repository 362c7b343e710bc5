"""/api/v1/uptime-monitors and /api/v1/uptime-results."""

import pytest

from alerts.models import AlertSource
from escalation.models import EscalationPolicy
from uptime.models import UptimeMonitor

from .conftest import check
from .factories import make_monitor, make_result


@pytest.fixture
def policy(tenant):
    return EscalationPolicy.objects.create(tenant=tenant, name="Ops")


def test_admins_create_a_monitor_with_its_own_alert_source_and_policy(api, tenant, policy, http_target):
    response = api.post("/api/v1/uptime-monitors", {
        "name": "Shop", "target": f"{http_target.url}/", "interval_seconds": 60, "retries": 1,
        "escalation_policy": policy.pk, "keyword": "OK", "http_headers": {"X-Check": "ilert"},
    }, format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    monitor = UptimeMonitor.objects.get(pk=body["id"])
    source = monitor.alert_source
    assert source.integration_type == "uptime" and source.name == "Uptime: Shop" and source.escalation_policy == policy
    assert body["alert_source"] == source.pk and body["escalation_policy"] == policy.pk
    assert body["status"] == "pending" and body["check_type"] == "http" and body["http_headers"] == {"X-Check": "••••••••"}
    assert monitor.http_headers == {"X-Check": "ilert"}


def test_a_monitor_can_report_to_an_existing_source_and_change_its_policy(api, tenant, policy):
    source = AlertSource.objects.create(tenant=tenant, name="Website", integration_type="uptime", key_hash="x" * 64,
                                        key_encrypted="-")
    monitor = make_monitor(tenant)
    response = api.patch(f"/api/v1/uptime-monitors/{monitor.pk}", {"alert_source": source.pk,
                                                                   "escalation_policy": policy.pk}, format="json")
    assert response.status_code == 200, response.content
    source.refresh_from_db()
    assert source.escalation_policy == policy and response.json()["alert_source"] == source.pk


@pytest.mark.parametrize("payload, field", [
    ({"name": "x", "target": "ftp://example.com/"}, "target"),
    ({"name": "x", "target": "http://93.184.216.34/", "interval_seconds": 10}, "interval_seconds"),
    ({"name": "x", "target": "http://93.184.216.34/", "interval_seconds": 100000}, "interval_seconds"),
    ({"name": "x", "target": "http://93.184.216.34/", "interval_seconds": 30, "timeout_seconds": 20},
     "timeout_seconds"),
    ({"name": "x", "target": "http://93.184.216.34/", "retries": 11}, "retries"),
    ({"name": "x", "target": "http://93.184.216.34/", "expected_status": "2xx"}, "expected_status"),
    ({"name": "x", "target": "http://93.184.216.34/", "http_headers": {"Bad Header": "v"}}, "http_headers"),
    ({"name": "x", "check_type": "tcp", "target": "93.184.216.34"}, "port"),
    ({"name": "x", "check_type": "ping", "target": "not a host/"}, "target"),
    ({"name": "x", "check_type": "dns", "target": "example.com", "dns_server": "dns.example"}, "dns_server"),
    ({"name": "x", "check_type": "tls", "target": "example.com", "tls_expiry_days": 0}, "tls_expiry_days"),
    ({"name": "x", "check_type": "carrier-pigeon", "target": "x"}, "check_type"),
    ({"name": "x", "target": "http://user:pw@93.184.216.34/"}, "target"),
    ({"name": "x", "target": "http://93.184.216.34:99999/"}, "target"),
    ({"name": "x", "target": "http://93.184.216.34/", "timeout_seconds": 2, "max_response_ms": 2001},
     "max_response_ms"),
    ({"name": "x", "target": "http://93.184.216.34/", "keyword_mode": "maybe"}, "keyword_mode"),
    ({"name": "x", "check_type": "dns", "target": "example.com", "dns_record_type": "SRV"}, "dns_record_type"),
    ({"name": "x", "target": "http://93.184.216.34/", "escalation_policy": 999999}, "escalation_policy"),
])
def test_bad_monitor_input_gets_400_and_changes_nothing(api, payload, field):
    response = api.post("/api/v1/uptime-monitors", payload, format="json")
    assert response.status_code == 400, response.content
    assert field in response.json()["fields"], response.json()
    assert not UptimeMonitor.objects.exists() and not AlertSource.objects.exists()


def test_each_kind_normalizes_its_own_options(api):
    tls = api.post("/api/v1/uptime-monitors", {"name": "Cert", "check_type": "tls",
                                               "target": "https://Shop.Example.com:8443/health"}, format="json")
    assert tls.status_code == 201, tls.content
    assert (tls.json()["target"], tls.json()["port"]) == ("shop.example.com", 8443)
    dns = api.post("/api/v1/uptime-monitors", {"name": "DNS", "check_type": "dns", "target": "[2001:db8::1]",
                                               "dns_server": " 9.9.9.9:5353 "}, format="json")
    assert dns.status_code == 201, dns.content
    assert (dns.json()["target"], dns.json()["dns_server"]) == ("2001:db8::1", "9.9.9.9:5353")
    http = api.post("/api/v1/uptime-monitors", {"name": "Web", "target": " http://93.184.216.34/ ",
                                                "expected_status": "200 - 299, 301"}, format="json")
    assert http.status_code == 201, http.content
    assert (http.json()["target"], http.json()["expected_status"]) == ("http://93.184.216.34/", "200-299,301")


def test_every_check_type_has_a_kind_module_and_the_form_shows_its_options_for_it():
    from uptime import services
    from uptime.checks import KINDS
    from uptime.forms import BY_TYPE
    from uptime.models import CheckType

    assert set(KINDS) == set(CheckType.values)
    for module in KINDS.values():
        assert callable(module.clean) and callable(module.guarded) and callable(module.check)
        assert set(module.OPTIONS) <= services.EDITABLE
    assert BY_TYPE["port"] == "tcp tls" and BY_TYPE["verify_tls"] == "http tls" and BY_TYPE["dns_server"] == "dns"
    assert "name" not in BY_TYPE and "target" not in BY_TYPE


def test_results_stats_and_incidents_of_a_monitor(api, tenant, http_target):
    http_target.status = 500
    monitor = check(make_monitor(tenant, name="Shop", target=f"{http_target.url}/", paused=False, retries=0))
    http_target.status = 200
    check(monitor)
    results = api.get(f"/api/v1/uptime-monitors/{monitor.pk}/results").json()
    assert [r["outcome"] for r in results["results"]] == ["up", "down"] and results["count"] == 2
    stats = api.get(f"/api/v1/uptime-monitors/{monitor.pk}/stats").json()
    assert set(stats) == {"24h", "7d", "30d", "90d"}
    assert stats["24h"]["uptime_percent"] == 50.0 and stats["24h"]["checks"] == 2 and stats["90d"]["incidents"] == 1
    assert stats["24h"]["avg_response_ms"] is not None and stats["24h"]["p95_response_ms"] is not None
    incidents = api.get(f"/api/v1/uptime-monitors/{monitor.pk}/incidents").json()
    assert incidents["count"] == 1 and incidents["results"][0]["status"] == "RESOLVED"
    flat = api.get("/api/v1/uptime-results", {"monitor": monitor.pk, "outcome": "down"}).json()
    assert flat["count"] == 1 and flat["results"][0]["monitor"] == monitor.pk


def test_flat_results_never_show_another_tenants(api, tenant, other_tenant):
    theirs = make_result(other_tenant)
    mine = make_result(tenant)
    body = api.get("/api/v1/uptime-results", {"monitor": theirs.monitor_id}).json()
    assert body["count"] == 0
    assert api.get("/api/v1/uptime-results").json()["results"][0]["id"] == mine.pk


def test_check_now_answers_202_and_responders_may_but_not_configure(responder_api, stakeholder_api, tenant):
    monitor = make_monitor(tenant, paused=False)
    response = responder_api.post(f"/api/v1/uptime-monitors/{monitor.pk}/check-now")
    assert response.status_code == 202, response.content
    assert responder_api.patch(f"/api/v1/uptime-monitors/{monitor.pk}", {"name": "y"},
                               format="json").status_code == 403
    assert stakeholder_api.post(f"/api/v1/uptime-monitors/{monitor.pk}/check-now").status_code == 403
    assert stakeholder_api.get(f"/api/v1/uptime-monitors/{monitor.pk}").status_code == 200


def test_check_now_on_a_paused_monitor_is_a_clear_400(api, tenant):
    monitor = make_monitor(tenant, paused=True)
    response = api.post(f"/api/v1/uptime-monitors/{monitor.pk}/check-now")
    assert response.status_code == 400 and response.json()["code"] == "paused"


def test_deleting_a_monitor_keeps_its_alert_source(api, tenant):
    monitor = make_monitor(tenant)
    assert api.delete(f"/api/v1/uptime-monitors/{monitor.pk}").status_code == 204
    assert not UptimeMonitor.objects.exists() and AlertSource.objects.filter(pk=monitor.alert_source_id).exists()
