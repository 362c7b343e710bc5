"""Read-only means read-only (issue 13.2 and 13.4): no role reads a credential it may not use.

Every /api/v1/ route that reads and every dashboard page, enumerated from the URL resolver like the
tenancy sweep, is fetched as each role, with credentials planted in the organisation:
- integration keys (they accept and resolve incidents through the Event API), heartbeat URLs and
  email source addresses, other people's calendar feed tokens and a Slack interactivity token are
  shown to admins and responders only; stakeholders see them masked;
- uptime monitor request headers (Authorization, API keys), connector credentials and API key
  secrets are shown to nobody after they are saved.
"""

import pytest
from django.test import Client

from alerts import services as alert_services
from connectors import services as connector_services
from schedules import services as schedule_services
from tests.conftest import client_for
from tests.factories import FACTORIES, make_api_key
from tests.test_tenancy_sweep import _model_of, _names, _path, api_routes, dashboard_routes
from uptime import services as uptime_services

pytestmark = pytest.mark.django_db


def _plant(tenant, admin):
    """Objects holding credentials; returns (objects by model, {secret: who may read it})."""
    objects, secrets = {}, {}
    for kind in ("api", "heartbeat", "email", "alertmanager", "grafana", "pagerduty", "opsgenie"):
        source = alert_services.create_alert_source(tenant, name=f"Source {kind}", integration_type=kind)
        objects.setdefault(type(source), []).append(source)
        secrets[source.integration_key] = {"admin", "responder"}
    schedule = schedule_services.create_schedule(tenant, name="Primary", timezone="Europe/Berlin")
    objects[type(schedule)] = [schedule]
    secrets[schedule_services.schedule_feed(schedule, by=admin).token] = {"admin", "responder"}
    secrets[schedule_services.personal_feed(admin).token] = {"admin", "responder"}
    slack = connector_services.create_connector(
        tenant, kind="slack", name="Slack", settings={"mode": "bot", "default_channel": "C0123456789"},
        credentials={"bot_token": "xoxb-1111-2222-planted-bot-token", "signing_secret": "planted-signing-secret-0001"})
    hook = connector_services.create_connector(tenant, kind="webhook", name="Hook",
                                               settings={"url": "https://hooks.example.com/x"})
    objects[type(slack)] = [slack, hook]
    secrets[slack.inbound_token] = {"admin", "responder"}
    secrets["xoxb-1111-2222-planted-bot-token"] = set()
    secrets["planted-signing-secret-0001"] = set()
    secrets[hook.generated_secret] = set()
    monitor = uptime_services.create_monitor(
        tenant, name="Shop", check_type="http", target="http://93.184.216.34/",
        http_headers={"Authorization": "Basic cGxhbnRlZDpob3JzZS1iYXR0ZXJ5LXN0YXBsZQ==",
                      "X-Api-Key": "planted-uptime-api-key-0001"})
    objects[type(monitor)] = [monitor]
    secrets["cGxhbnRlZDpob3JzZS1iYXR0ZXJ5LXN0YXBsZQ=="] = set()
    secrets["planted-uptime-api-key-0001"] = set()
    _key, api_secret = make_api_key(admin, name="planted")
    secrets[api_secret.split("_", 2)[2]] = set()  # ilk_<public id>_<secret>: the id is shown, the secret never
    _plant_status_import_and_push(tenant, admin, objects, secrets)
    return objects, secrets


def _plant_status_import_and_push(tenant, admin, objects, secrets):
    """Status page secret links and webhook subscriber secrets (shown once), an import job's vendor
    key (kept encrypted while it runs) and the server's VAPID private key: nobody reads them again."""
    import base64

    from importers.models import ImportJob
    from notifications import vapid
    from status import services as status_services

    page = status_services.create_page(tenant, name="Partners", slug="partners-sweep", visibility="audience",
                                       published=True, by=admin)
    objects[type(page)] = [page]
    secrets[status_services.new_access_link(page, by=admin)] = set()
    subscriber, hook_secret = status_services.subscribe_webhook(page, "https://93.184.216.34/status-hook", by=admin)
    objects[type(subscriber)] = [subscriber]
    secrets[hook_secret] = set()
    job = ImportJob(tenant=tenant, vendor="pagerduty", created_by=admin, report={"dry_run": True})
    job.set_api_key("planted-import-api-key-0001")
    job.save()
    objects[ImportJob] = [job]
    secrets["planted-import-api-key-0001"] = set()
    raw = vapid.private_key().private_numbers().private_value.to_bytes(32, "big")
    secrets[base64.urlsafe_b64encode(raw).decode().rstrip("=")] = set()


def _object_for(model, objects, tenant, made):
    if model in objects:
        return objects[model]
    if model not in made:
        made[model] = [FACTORIES[model](tenant)]
    return made[model]


def _pages(objects, tenant):
    """(kind, path) for every readable API route and dashboard page, with the planted objects."""
    made, pages = {}, []
    for route, callback in api_routes():
        if "get" not in callback.actions:
            continue
        if not _names(route):
            pages.append(("api", _path(route) + "?page_size=500"))
            continue
        for obj in _object_for(_model_of(callback.cls), objects, tenant, made):
            pages.append(("api", _path(route, pk=obj.pk)))
    for route, callback in dashboard_routes():
        names = _names(route)
        if getattr(callback, "token_addressed", False) or route.startswith("dev/"):
            continue
        if not names:
            pages.append(("page", _path(route)))
            continue
        model = getattr(callback, "tenant_model", None)
        if model is None or names != [callback.tenant_kwarg]:
            continue
        for obj in _object_for(model, objects, tenant, made):
            pages.append(("page", _path(route, **{callback.tenant_kwarg: obj.pk})))
    return pages


def test_no_role_reads_a_credential_it_may_not_use(tenant, admin, responder, stakeholder):
    objects, secrets = _plant(tenant, admin)
    pages = _pages(objects, tenant)
    assert len(pages) > 60, "the sweep found too few pages (broken?)"
    checked = 0
    for user in (admin, responder, stakeholder):
        api = client_for(user)
        browser = Client()
        browser.force_login(user)
        forbidden = [secret for secret, readers in secrets.items() if user.role not in readers]
        for kind, path in pages:
            response = api.get(path) if kind == "api" else browser.get(path)
            if response.status_code != 200 or not response.get("Content-Type", "").startswith(
                    ("application/json", "text/html")):
                continue
            body = response.content.decode()
            for secret in forbidden:
                assert secret not in body and secret[:12] not in body, f"{user.role} reads a credential on {path}"
            checked += 1
    assert checked > 150


def test_admins_and_responders_still_get_what_they_paste_into_their_tools(tenant, admin, responder, stakeholder):
    source = alert_services.create_alert_source(tenant, name="Prometheus", integration_type="alertmanager")
    for user in (admin, responder):
        assert client_for(user).get(f"/api/v1/alert-sources/{source.pk}").json()["integration_key"] == \
            source.integration_key
        browser = Client()
        browser.force_login(user)
        assert f"/integrations/alertmanager/{source.integration_key}" in browser.get(
            f"/alert-sources/{source.pk}/").content.decode()
    masked = client_for(stakeholder).get(f"/api/v1/alert-sources/{source.pk}").json()["integration_key"]
    assert masked == "••••••••" + source.integration_key[-4:]


def test_uptime_headers_are_write_only_and_a_masked_value_keeps_the_stored_one(api, tenant):
    monitor = uptime_services.create_monitor(
        tenant, name="Shop", check_type="http", target="http://93.184.216.34/",
        http_headers={"Authorization": "Bearer planted-token-0001", "Accept": "text/html"})
    shown = api.get(f"/api/v1/uptime-monitors/{monitor.pk}").json()["http_headers"]
    assert shown == {"Authorization": "••••••••", "Accept": "••••••••"}
    changed = api.patch(f"/api/v1/uptime-monitors/{monitor.pk}",
                        {"http_headers": {**shown, "Accept": "application/json"}}, format="json")
    assert changed.status_code == 200, changed.content
    monitor.refresh_from_db()
    assert monitor.http_headers == {"Authorization": "Bearer planted-token-0001", "Accept": "application/json"}
    assert "planted-token-0001" not in monitor.http_headers_encrypted  # stored encrypted


def test_the_dashboard_form_keeps_masked_header_values(admin, tenant):
    monitor = uptime_services.create_monitor(
        tenant, name="Shop", check_type="http", target="http://93.184.216.34/",
        http_headers={"Authorization": "Bearer planted-token-0001"})
    browser = Client()
    browser.force_login(admin)
    page = browser.get(f"/uptime/{monitor.pk}/").content.decode()
    assert "planted-token-0001" not in page and "Authorization: ••••••••" in page
