"""Dashboard: connectors page (a form per kind, test connection), connection set-up from the alert
source page's panel, invocations and run/retry on the incident page's panel, Slack user links."""

import httpx
import pytest
import respx
from django.test import Client

from connectors import engine
from connectors.models import Connection, ConnectionInvocation, Connector, SlackIdentity
from tests.alerts.factories import alert, make_source

from .factories import make_connection, make_connector

URL = "https://hooks.example.com/ilert"


def logged_in(user):
    client = Client()
    client.force_login(user)
    return client


@pytest.mark.parametrize("kind, fields", [
    ("webhook", ["url", "signing_secrets"]),
    ("jira", ["base_url", "deployment", "email", "token"]),
    ("slack", ["mode", "default_channel", "bot_token", "webhook_url", "signing_secret"]),
    ("teams", ["webhook_url"]),
    ("aws_lambda", ["region", "function_name", "access_key_id", "secret_access_key"]),
    ("gcp_function", ["url", "service_account_json"]),
    ("azure_function", ["url", "function_key"]),
])
def test_the_connectors_page_has_a_form_per_kind(admin, kind, fields):
    page = logged_in(admin).get(f"/connectors/?kind={kind}").content.decode()
    assert f'name="kind" value="{kind}"' in page
    for field in fields:
        assert f'name="{field}"' in page


def test_an_admin_creates_a_webhook_connector_and_sees_the_generated_secret_once(admin):
    client = logged_in(admin)
    response = client.post("/connectors/", {"kind": "webhook", "name": "Automation", "url": URL})
    assert response.status_code == 200
    connector = Connector.objects.get()
    secret = connector.credentials["signing_secrets"][0]
    assert secret in response.content.decode()
    assert secret not in client.get(f"/connectors/{connector.pk}/").content.decode()


def test_credentials_are_masked_and_kept_when_a_form_leaves_them_empty(admin, tenant):
    connector = make_connector(tenant, "jira", name="Jira")
    client = logged_in(admin)
    page = client.get(f"/connectors/{connector.pk}/").content.decode()
    assert "jira-api-token-0123456789" not in page and "(set — leave empty to keep)" in page
    response = client.post(f"/connectors/{connector.pk}/", {
        "name": "Jira Cloud", "base_url": "https://acme.atlassian.net", "deployment": "cloud",
        "email": "bot@acme.test", "token": "", "enabled": "on"})
    assert response.status_code == 302
    connector.refresh_from_db()
    assert connector.name == "Jira Cloud" and connector.credentials == {"token": "jira-api-token-0123456789"}


def test_form_errors_name_the_field(admin):
    response = logged_in(admin).post("/connectors/", {"kind": "webhook", "name": "x", "url": "http://169.254.169.254/"})
    assert response.status_code == 200 and not Connector.objects.exists()
    assert "refused" in response.content.decode()


def test_the_test_connection_button_reports_the_outcome(admin, tenant):
    connector = make_connector(tenant)
    client = logged_in(admin)
    with respx.mock() as mock:
        mock.post(URL).respond(200)
        response = client.post(f"/connectors/{connector.pk}/test", follow=True)
    assert "Test connection: The URL answered HTTP 200." in response.content.decode()


def test_only_admins_manage_connectors(responder, tenant):
    connector = make_connector(tenant)
    client = logged_in(responder)
    assert client.post("/connectors/", {"kind": "webhook", "name": "x", "url": URL}).status_code == 403
    assert client.post(f"/connectors/{connector.pk}/test").status_code == 403
    assert client.post(f"/connectors/{connector.pk}/delete").status_code == 403
    assert Connector.objects.count() == 1


def test_a_connection_is_set_up_from_the_alert_source_page(admin, tenant):
    connector = make_connector(tenant, "jira", name="Jira")
    source = make_source(tenant, name="Prometheus")
    client = logged_in(admin)
    assert "connectors:source-panel" not in client.get(f"/alert-sources/{source.pk}/").content.decode()
    assert f"/panels/alert-sources/{source.pk}/connections" in client.get(f"/alert-sources/{source.pk}/").content.decode()
    panel = client.get(f"/panels/alert-sources/{source.pk}/connections").content.decode()
    assert "Jira (Jira)" in panel and f"/alert-sources/{source.pk}/connections/new" in panel
    form = client.get(f"/alert-sources/{source.pk}/connections/new?connector={connector.pk}").content.decode()
    assert 'name="project_key"' in form and 'name="summary_template"' in form
    response = client.post(f"/alert-sources/{source.pk}/connections/new", {
        "connector": connector.pk, "trigger_mode": "automatic", "events": ["created", "resolved"],
        "project_key": "OPS", "issue_type": "Bug", "priority_map": '{"HIGH": "Highest"}', "comment_on_changes": "on"})
    connection = Connection.objects.get()
    assert response["Location"] == f"/connections/{connection.pk}/"
    assert connection.events == ["created", "resolved"] and connection.params["priority_map"] == {"HIGH": "Highest"}
    assert connection.params["issue_type"] == "Bug" and connection.params["resolve_transition"] == "Done"
    assert "Jira" in client.get(f"/panels/alert-sources/{source.pk}/connections").content.decode()
    bad = client.post(f"/alert-sources/{source.pk}/connections/new", {
        "connector": connector.pk, "trigger_mode": "automatic", "events": ["created"], "project_key": ""})
    assert bad.status_code == 200 and Connection.objects.count() == 1


def test_the_incident_panel_lists_invocations_and_runs_and_retries(admin, tenant):
    connection = make_connection(tenant)
    incident = alert(connection.alert_source).incident
    client = logged_in(admin)
    with respx.mock() as mock:
        mock.post(URL).mock(side_effect=[httpx.Response(404), httpx.Response(200), httpx.Response(200)])
        engine.deliver_due()
        panel = client.get(f"/panels/incidents/{incident.pk}/connectors").content.decode()
        assert 'data-status="failed"' in panel and "HTTP 404" in panel and "Retry" in panel
        row = ConnectionInvocation.objects.get()
        response = client.post(f"/invocations/{row.pk}/retry", {"next": f"/incidents/{incident.pk}/"})
        assert response["Location"] == f"/incidents/{incident.pk}/"
        engine.deliver_due()
        response = client.post(f"/connections/{connection.pk}/run", {"incident": incident.pk})
        assert response["Location"] == f"/incidents/{incident.pk}/"
        engine.deliver_due()
    panel = client.get(f"/panels/incidents/{incident.pk}/connectors").content.decode()
    assert panel.count('data-status="succeeded"') == 2
    page = client.get(f"/incidents/{incident.pk}/").content.decode()
    assert f"/panels/incidents/{incident.pk}/connectors" in page
    assert "Webhook ·" in page  # the timeline shows the connector's entries
    assert "Delivered (HTTP 200)" in client.get(f"/connections/{connection.pk}/").content.decode()


def test_stakeholders_see_invocations_but_cannot_run(stakeholder, tenant):
    connection = make_connection(tenant)
    incident = alert(connection.alert_source).incident
    client = logged_in(stakeholder)
    panel = client.get(f"/panels/incidents/{incident.pk}/connectors").content.decode()
    assert 'data-status="pending"' in panel and "Run " not in panel
    assert client.post(f"/connections/{connection.pk}/run", {"incident": incident.pk}).status_code == 403


def test_admins_link_slack_users(admin, responder, tenant):
    client = logged_in(admin)
    response = client.post("/connectors/slack-users/", {"slack_user_id": "u0rita", "user": responder.pk})
    assert response.status_code == 302
    identity = SlackIdentity.objects.get()
    assert (identity.slack_user_id, identity.user) == ("U0RITA", responder)
    assert "U0RITA" in client.get("/connectors/slack-users/").content.decode()
    again = client.post("/connectors/slack-users/", {"slack_user_id": "U0RITA", "user": admin.pk})
    assert again.status_code == 200 and "already linked" in again.content.decode()
    client.post(f"/connectors/slack-users/{identity.pk}/delete")
    assert not SlackIdentity.objects.exists()


def test_the_sidebar_links_the_connectors_page(admin):
    assert 'href="/connectors/"' in logged_in(admin).get("/").content.decode()


ODD_IDS = ["²", "١٢", "0", "-1", "9223372036854775808", "1" * 400, "abc"]


@pytest.mark.parametrize("value", ODD_IDS)
def test_an_odd_connector_or_incident_id_is_a_message_not_a_500(admin, tenant, value):
    connection = make_connection(tenant)
    incident = alert(connection.alert_source).incident
    client = Client(raise_request_exception=False)
    client.force_login(admin)
    source = connection.alert_source
    for response in (client.get(f"/alert-sources/{source.pk}/connections/new", {"connector": value}),
                     client.post(f"/alert-sources/{source.pk}/connections/new", {"connector": value})):
        assert response.status_code == 302 and response["Location"] == f"/alert-sources/{source.pk}/"
    before = ConnectionInvocation.objects.filter(incident=incident).count()
    response = client.post(f"/connections/{connection.pk}/run", {"incident": value})
    assert response.status_code == 302
    assert ConnectionInvocation.objects.filter(incident=incident).count() == before
