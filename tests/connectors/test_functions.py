"""Microsoft Teams, Azure Functions, Google Cloud Functions and AWS Lambda, each with its real
client library intercepted at the HTTP layer (botocore: its Stubber, and its before-send hook)."""

import json
import time
from datetime import timedelta
from urllib.parse import parse_qs

import boto3
import pytest
import respx
import time_machine
from botocore.awsrequest import AWSResponse
from botocore.stub import ANY, Stubber
from google.auth import crypt
from google.auth import jwt as google_jwt

from connectors import engine, services
from connectors.models import ConnectionInvocation
from connectors.targets import aws_lambda
from tests.alerts.factories import alert

from .factories import make_connection, make_connector

# --- Microsoft Teams ---------------------------------------------------------------------------

TEAMS_URL = "https://acme.webhook.office.com/webhookb2/abc/IncomingWebhook/def/secretpart"


def test_teams_gets_an_adaptive_card(tenant):
    connection = make_connection(tenant, connector=make_connector(tenant, "teams"))
    incident = alert(connection.alert_source, "checkout errors", priority="LOW").incident
    with respx.mock() as mock:
        mock.post(TEAMS_URL).respond(202)
        engine.deliver_due()
        body = json.loads(mock.calls[0].request.content)
    (attachment,) = body["attachments"]
    assert body["type"] == "message" and attachment["contentType"] == "application/vnd.microsoft.card.adaptive"
    card = attachment["content"]
    assert card["type"] == "AdaptiveCard" and card["version"] == "1.4"
    assert card["body"][0]["text"] == f"#{incident.number} checkout errors"
    facts = {f["title"]: f["value"] for f in card["body"][2]["facts"]}
    assert facts["Priority"] == "Low" and facts["Event"] == "Incident created"
    assert card["actions"][0]["url"].endswith(f"/incidents/{incident.pk}/")
    row = ConnectionInvocation.objects.get()
    assert row.status == "succeeded" and "secretpart" not in json.dumps(row.summary)


# --- Azure Functions ---------------------------------------------------------------------------

AZURE_URL = "https://acme-fn.azurewebsites.net/api/on-incident"


def test_azure_functions_get_the_function_key_in_a_header(tenant):
    connection = make_connection(tenant, connector=make_connector(tenant, "azure_function"))
    incident = alert(connection.alert_source).incident
    with respx.mock() as mock:
        mock.post(AZURE_URL).respond(200, json={"done": True})
        engine.deliver_due()
        request = mock.calls[0].request
    assert request.headers["x-functions-key"] == "azure-function-key-0123456789"
    assert "code=" not in str(request.url)
    body = json.loads(request.content)
    assert body["type"] == "incident.created" and body["data"]["incident"]["id"] == incident.pk
    assert ConnectionInvocation.objects.get().status == "succeeded"


def test_an_azure_401_is_not_retried(tenant):
    connection = make_connection(tenant, connector=make_connector(tenant, "azure_function"))
    alert(connection.alert_source)
    with respx.mock() as mock:
        mock.post(AZURE_URL).respond(401)
        engine.deliver_due()
    row = ConnectionInvocation.objects.get()
    assert row.status == "failed" and row.http_status == 401


# --- Google Cloud Functions --------------------------------------------------------------------

GCP_URL = "https://europe-west1-acme.cloudfunctions.net/on-incident"
TOKEN_URI = "https://oauth2.googleapis.com/token"


def google_id_token(info, audience):
    """What Google's token endpoint returns: a JWT signed by Google (here by a test key)."""
    signer = crypt.RSASigner.from_service_account_info(info)
    now = int(time.time())
    return google_jwt.encode(signer, {"iss": "https://accounts.google.com", "aud": audience, "iat": now,
                                      "exp": now + 3600, "email": info["client_email"]}).decode()


def test_cloud_functions_get_a_google_signed_id_token(tenant, service_account):
    connector = make_connector(tenant, "gcp_function", settings={"url": GCP_URL + "?x=1"},
                               credentials={"service_account_json": json.dumps(service_account)})
    connection = make_connection(tenant, connector=connector)
    incident = alert(connection.alert_source).incident
    audience = GCP_URL
    id_token = google_id_token(service_account, audience)
    with respx.mock() as mock:
        mock.post(TOKEN_URI).respond(json={"id_token": id_token})
        mock.post(GCP_URL + "?x=1").respond(200, text="ok")
        engine.deliver_due()
        token_request, function_request = (call.request for call in mock.calls)
    form = {k: v[0] for k, v in parse_qs(token_request.content.decode()).items()}
    assert form["grant_type"] == "urn:ietf:params:oauth:grant-type:jwt-bearer"
    claims = google_jwt.decode(form["assertion"], verify=False)
    assert claims["target_audience"] == audience and claims["iss"] == service_account["client_email"]
    assert function_request.headers["Authorization"] == f"Bearer {id_token}"
    assert json.loads(function_request.content)["data"]["incident"]["id"] == incident.pk
    row = ConnectionInvocation.objects.get()
    assert row.status == "succeeded" and id_token not in json.dumps(row.summary)
    assert "private_key" not in json.dumps(row.summary)


def test_an_id_token_is_reused_until_five_minutes_before_it_expires(tenant, service_account):
    connector = make_connector(tenant, "gcp_function", settings={"url": GCP_URL},
                               credentials={"service_account_json": json.dumps(service_account)})
    source = make_connection(tenant, connector=connector).alert_source
    with respx.mock() as mock:
        mock.post(TOKEN_URI).respond(json={"id_token": google_id_token(service_account, GCP_URL)})
        mock.post(GCP_URL).respond(200, text="ok")
        for key in ("a", "b", "c"):
            alert(source, key=key)
            engine.deliver_due()
        assert [c.request.url for c in mock.calls].count(TOKEN_URI) == 1  # three calls, one token
        with time_machine.travel(timedelta(minutes=56)):  # the token (1 h) has less than 5 min left
            alert(source, key="d")
            engine.deliver_due()
        assert [c.request.url for c in mock.calls].count(TOKEN_URI) == 2
    assert set(ConnectionInvocation.objects.values_list("status", flat=True)) == {"succeeded"}


def test_a_service_account_google_refuses_fails_without_retry(tenant, service_account):
    connector = make_connector(tenant, "gcp_function", settings={"url": GCP_URL},
                               credentials={"service_account_json": json.dumps(service_account)})
    alert(make_connection(tenant, connector=connector).alert_source)
    with respx.mock() as mock:
        mock.post(TOKEN_URI).respond(400, json={"error": "invalid_grant",
                                                "error_description": "Invalid JWT Signature."})
        engine.deliver_due()
    row = ConnectionInvocation.objects.get()
    assert row.status == "failed" and "Invalid JWT Signature" in row.error


def test_a_key_file_that_is_not_a_service_account_is_refused(tenant):
    from ilert.errors import DomainError

    with pytest.raises(DomainError) as excinfo:
        make_connector(tenant, "gcp_function", settings={"url": GCP_URL},
                       credentials={"service_account_json": json.dumps({"type": "authorized_user"})})
    assert excinfo.value.field == "credentials.service_account_json"


# --- AWS Lambda --------------------------------------------------------------------------------


@pytest.fixture
def lambda_connection(tenant):
    connector = make_connector(tenant, "aws_lambda", settings={"region": "eu-central-1", "function_name": "on-incident",
                                                                "qualifier": "live"})
    return make_connection(tenant, connector=connector)


def test_lambda_is_invoked_asynchronously_with_the_incident(lambda_connection, monkeypatch):
    stubbed = []

    def client(settings, credentials):
        real = aws_lambda_client(settings, credentials)
        stubber = Stubber(real)
        stubber.add_response("invoke", {"StatusCode": 202},
                             expected_params={"FunctionName": "on-incident", "InvocationType": "Event",
                                              "Qualifier": "live", "Payload": ANY})
        stubber.activate()
        stubbed.append((real, stubber))
        return real

    aws_lambda_client = aws_lambda._client
    monkeypatch.setattr(aws_lambda, "_client", client)
    incident = alert(lambda_connection.alert_source).incident
    engine.deliver_due()
    real, stubber = stubbed[0]
    stubber.assert_no_pending_responses()
    assert real.meta.region_name == "eu-central-1"
    credentials = real._request_signer._credentials
    assert credentials.access_key == "AKIAEXAMPLEKEYID0001"
    assert ConnectionInvocation.objects.get().status == "succeeded"
    assert incident.pk


def test_lambda_requests_are_signed_and_throttling_is_retried(lambda_connection, monkeypatch):
    """botocore's before-send hook sees the signed HTTP request that would leave the machine."""
    seen = []
    statuses = iter([429, 202])

    def answer(request, **kwargs):
        seen.append(request)
        status = next(statuses)
        body = b'{"Type":"User","message":"Rate exceeded"}' if status == 429 else b""
        headers = {"x-amzn-RequestId": "req-1", "x-amzn-ErrorType": "TooManyRequestsException"} if status == 429 \
            else {"x-amzn-RequestId": "req-2"}
        return AWSResponse(request.url, status, headers, _Raw(body))

    original = aws_lambda._client

    def client(settings, credentials):
        real = original(settings, credentials)
        real.meta.events.register("before-send.lambda.Invoke", answer)
        return real

    monkeypatch.setattr(aws_lambda, "_client", client)
    alert(lambda_connection.alert_source)
    engine.deliver_due()
    row = ConnectionInvocation.objects.get()
    assert row.status == "pending" and "TooManyRequestsException" in row.error
    request = seen[0]
    assert request.url == ("https://lambda.eu-central-1.amazonaws.com/2015-03-31/functions/on-incident/invocations"
                           "?Qualifier=live")
    assert request.headers["X-Amz-Invocation-Type"] == b"Event"
    assert b"Credential=AKIAEXAMPLEKEYID0001/" in request.headers["Authorization"]
    assert json.loads(request.body)["type"] == "incident.created"
    with time_machine.travel(row.due_at + timedelta(seconds=1)):
        engine.deliver_due()
    row.refresh_from_db()
    assert row.status == "succeeded" and row.external_ref == "req-2"


class _Raw:
    def __init__(self, body):
        self.body = body

    def stream(self, **kwargs):
        yield self.body

    def read(self, *args, **kwargs):
        return self.body


def test_the_lambda_connection_test_is_a_dry_run(tenant, monkeypatch):
    original = aws_lambda._client

    def client(settings, credentials):
        real = original(settings, credentials)
        stubber = Stubber(real)
        stubber.add_response("invoke", {"StatusCode": 204}, expected_params={
            "FunctionName": "on-incident", "InvocationType": "DryRun", "Payload": ANY})
        stubber.activate()
        return real

    monkeypatch.setattr(aws_lambda, "_client", client)
    outcome = services.test_connector(make_connector(tenant, "aws_lambda"))
    assert outcome.ok and "dry run" in outcome.message
    assert boto3  # the real library is what is exercised


def test_a_custom_lambda_endpoint_is_for_self_hosted_deployments_only(tenant, settings):
    from ilert.errors import DomainError

    settings.ALLOW_PRIVATE_TARGETS = False
    lambda_settings = {"region": "eu-central-1", "function_name": "f", "endpoint_url": "https://lambda.evil.example"}
    with pytest.raises(DomainError) as excinfo:
        make_connector(tenant, "aws_lambda", settings=lambda_settings)
    assert excinfo.value.field == "settings.endpoint_url"
    settings.ALLOW_PRIVATE_TARGETS = True
    assert make_connector(tenant, "aws_lambda", settings=lambda_settings).pk
