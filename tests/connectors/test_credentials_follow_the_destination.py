"""A connector's credentials are write-only: an update that leaves one empty (or sends back the mask)
keeps the stored value — but only while the connector sends where it was entered for. Changing a
setting that says where the credentials go (a URL, an endpoint, a function) needs each stored
credential entered again (or removed): 400 naming it, nothing changed. Through the API and the
dashboard form alike."""

import json

import pytest
from django.test import Client

from connectors.models import Connector
from ilert.secrets import MASK

from .factories import SECRET, make_connector

JIRA = {"base_url": "https://acme.atlassian.net", "deployment": "cloud", "email": "bot@acme.test"}
JIRA_TOKEN = "jira-api-token-0123456789"
AWS = {"region": "eu-central-1", "function_name": "on-incident"}
GCP_URL = "https://europe-west1-acme.cloudfunctions.net/on-incident"


def snapshot(connector):
    connector = Connector.objects.get(pk=connector.pk)
    return connector.settings, connector.credentials


@pytest.fixture
def gcp(tenant, service_account):
    return make_connector(tenant, "gcp_function", settings={"url": GCP_URL},
                          credentials={"service_account_json": json.dumps(service_account)})


# (kind, new settings, the credential the 400 names)
MOVES = [
    ("jira", {**JIRA, "base_url": "https://jira.example.com"}, "token"),
    ("webhook", {"url": "https://collector.example.net/hook"}, "signing_secrets"),
    ("azure_function", {"url": "https://other-fn.azurewebsites.net/api/on-incident"}, "function_key"),
    ("aws_lambda", {**AWS, "region": "us-east-1"}, "access_key_id"),
    ("aws_lambda", {**AWS, "function_name": "arn:aws:lambda:eu-central-1:999999999999:function:theirs"},
     "access_key_id"),
    ("gcp_function", {"url": "https://collector.example.net/fn"}, "service_account_json"),
    ("gcp_function", {"url": GCP_URL, "audience": "https://other-service.example.net"}, "service_account_json"),
]
IDS = ["jira base_url", "webhook url", "azure url", "aws region", "aws function", "gcp url", "gcp audience"]


def connector_of(tenant, kind, request):
    return request.getfixturevalue("gcp") if kind == "gcp_function" else make_connector(tenant, kind)


@pytest.mark.parametrize("credentials", [None, "empty", "masked"], ids=["left out", "sent empty", "sent masked"])
@pytest.mark.parametrize("kind, settings, named", MOVES, ids=IDS)
def test_the_api_refuses_a_new_destination_that_would_keep_a_stored_credential(
        api, tenant, request, kind, settings, named, credentials):
    connector = connector_of(tenant, kind, request)
    before = snapshot(connector)
    body = {"settings": settings}
    if credentials is not None:
        body["credentials"] = {name: ("" if credentials == "empty" else MASK) for name in connector.credential_names}
    response = api.patch(f"/api/v1/connectors/{connector.pk}", body, format="json")
    assert response.status_code == 400, response.content
    message = response.json()["fields"][f"credentials.{named}"]
    assert "again" in str(message) and "changed" in str(message)
    assert snapshot(connector) == before


def test_the_api_takes_a_new_destination_with_the_credentials_entered_again(api, tenant):
    connector = make_connector(tenant, "jira")
    moved = {**JIRA, "base_url": "https://jira.example.com"}
    response = api.patch(f"/api/v1/connectors/{connector.pk}", {
        "settings": moved, "credentials": {"token": "a-token-for-the-new-jira"}}, format="json")
    assert response.status_code == 200, response.content
    assert snapshot(connector) == (moved, {"token": "a-token-for-the-new-jira"})


def test_an_optional_credential_may_be_removed_instead(api, tenant):
    connector = make_connector(tenant, "webhook")
    response = api.patch(f"/api/v1/connectors/{connector.pk}", {
        "settings": {"url": "https://collector.example.net/hook"}, "credentials": {"signing_secrets": None}},
        format="json")
    assert response.status_code == 200, response.content
    assert snapshot(connector) == ({"url": "https://collector.example.net/hook"}, {})


@pytest.mark.parametrize("kind, settings", [
    ("jira", {**JIRA, "email": "other-bot@acme.test"}),  # who, not where
    ("aws_lambda", {**AWS, "qualifier": "live"}),  # another version of the same function
    ("slack", {"mode": "bot", "default_channel": "#incidents"}),  # always slack.com
], ids=["jira email", "aws qualifier", "slack channel"])
def test_other_settings_keep_the_stored_credentials(api, tenant, kind, settings):
    connector = make_connector(tenant, kind)
    credentials = Connector.objects.get(pk=connector.pk).credentials
    response = api.patch(f"/api/v1/connectors/{connector.pk}", {
        "settings": settings, "credentials": {name: "" for name in credentials}}, format="json")
    assert response.status_code == 200, response.content
    assert snapshot(connector) == (settings, credentials)


def test_a_masked_value_keeps_the_stored_one_while_the_destination_stays(api, tenant):
    connector = make_connector(tenant, "jira")
    response = api.patch(f"/api/v1/connectors/{connector.pk}", {"credentials": {"token": MASK}}, format="json")
    assert response.status_code == 200, response.content
    assert snapshot(connector)[1] == {"token": JIRA_TOKEN}


def test_the_dashboard_form_names_the_credential_to_enter_again(admin, tenant):
    connector = make_connector(tenant, "jira", name="Jira")
    client = Client()
    client.force_login(admin)
    form = {"name": "Jira", **JIRA, "base_url": "https://jira.example.com", "token": "", "enabled": "on"}
    response = client.post(f"/connectors/{connector.pk}/", form)
    assert response.status_code == 200
    assert "again" in " ".join(response.context["form"].errors["token"])
    assert snapshot(connector) == (JIRA, {"token": JIRA_TOKEN})
    response = client.post(f"/connectors/{connector.pk}/", {**form, "token": "a-token-for-the-new-jira"})
    assert response.status_code == 302
    assert snapshot(connector)[1] == {"token": "a-token-for-the-new-jira"}


def test_the_webhook_form_too(admin, tenant):
    connector = make_connector(tenant, "webhook", name="Hook")
    client = Client()
    client.force_login(admin)
    response = client.post(f"/connectors/{connector.pk}/", {
        "name": "Hook", "url": "https://collector.example.net/hook", "signing_secrets": "", "enabled": "on"})
    assert response.status_code == 200 and response.context["form"].errors["signing_secrets"]
    assert snapshot(connector)[1] == {"signing_secrets": [SECRET]}
