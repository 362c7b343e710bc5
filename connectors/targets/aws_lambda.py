"""AWS Lambda with boto3: an asynchronous invocation (InvocationType=Event) with the incident as
the event. Lambda answers 202 once the event is queued. The endpoint (lambda.<region>.amazonaws.com
or a custom endpoint URL, e.g. LocalStack) passes the SSRF guard first; botocore's own retries are
off (the engine retries 429/5xx/timeouts with backoff)."""

import json
import re

from ilert import clock, netguard
from ilert.errors import DomainError

from .. import http
from .base import DeliveryError, Field, Outcome, Target, transient_status
from .webhook import BODY_HELP, build_body

REGION = re.compile(r"^[a-z]{2}(-gov|-iso[a-z]*)?-[a-z]+-\d{1,2}$")
THROTTLED = {"TooManyRequestsException", "ThrottlingException", "ServiceException", "EC2ThrottledException",
             "ResourceNotReadyException", "ResourceConflictException"}


def endpoint(settings):
    return settings.get("endpoint_url") or f"https://lambda.{settings['region']}.amazonaws.com"


def _check_endpoint(settings):
    """boto3 resolves the endpoint's name itself, after our check: a name we do not control could
    answer differently then (DNS rebinding). AWS's own endpoints are safe; a custom one is for
    self-hosted deployments only."""
    if settings.get("endpoint_url") and not netguard.private_targets_allowed():
        raise DomainError("A custom endpoint URL needs ALLOW_PRIVATE_TARGETS (self-hosted deployments only).",
                          field="settings.endpoint_url")


def _client(settings, credentials):
    """A boto3 Lambda client for the connector (tests wrap what this returns with a Stubber)."""
    import boto3  # imported when used: keeps web processes quick to start
    from botocore.config import Config  # with boto3, when used

    session = boto3.session.Session(
        aws_access_key_id=credentials["access_key_id"], aws_secret_access_key=credentials["secret_access_key"],
        region_name=settings["region"],
    )
    config = Config(connect_timeout=5, read_timeout=http.timeout(), retries={"total_max_attempts": 1},
                    user_agent_extra="ilert-connectors/1")
    extra = {"endpoint_url": settings["endpoint_url"]} if settings.get("endpoint_url") else {}
    return session.client("lambda", config=config, **extra)


class AwsLambda(Target):
    kind = "aws_lambda"
    label = "AWS Lambda"
    actions = {"invoke": "Invoke the function asynchronously with the incident"}
    description = "Invoke a Lambda function (asynchronous invocation) with the incident."
    settings_fields = [
        Field("region", "Region", required=True, placeholder="eu-central-1"),
        Field("function_name", "Function name or ARN", required=True, placeholder="on-incident"),
        Field("qualifier", "Version or alias", placeholder="live"),
        Field("endpoint_url", "Endpoint URL", "url", help="Only for AWS-compatible endpoints (e.g. LocalStack)."),
    ]
    destination_settings = ("region", "function_name", "endpoint_url")
    credential_fields = [
        Field("access_key_id", "Access key ID", required=True, placeholder="AKIA…"),
        Field("secret_access_key", "Secret access key", required=True),
    ]
    param_fields = [Field("body_template", "Custom event (Jinja2)", "json_template", help=BODY_HELP)]

    def clean(self, settings, credentials):
        if settings.get("region") and not REGION.match(settings["region"]):
            raise DomainError("An AWS region such as eu-central-1.", field="settings.region")
        if settings.get("function_name") and not re.match(r"^[A-Za-z0-9_:.\-]{1,170}$", settings["function_name"]):
            raise DomainError("A function name or ARN.", field="settings.function_name")
        _check_endpoint(settings)
        return settings, credentials

    def invoke(self, ctx, body, invocation_type):
        # with boto3, when used (see _client)
        from botocore.exceptions import BotoCoreError, ClientError, ConnectionError, HTTPClientError

        _check_endpoint(ctx.settings)
        netguard.check_url(endpoint(ctx.settings))
        client = _client(ctx.settings, ctx.credentials)
        args = {"FunctionName": ctx.settings["function_name"], "InvocationType": invocation_type,
                "Payload": json.dumps(body).encode()}
        if ctx.settings.get("qualifier"):
            args["Qualifier"] = ctx.settings["qualifier"]
        shown = f"lambda:{ctx.settings['region']}:{ctx.settings['function_name']} ({invocation_type})"
        try:
            response = client.invoke(**args)
        except ClientError as exc:
            meta = exc.response.get("ResponseMetadata", {})
            status, code = meta.get("HTTPStatusCode"), exc.response.get("Error", {}).get("Code", "")
            ctx.http.note("POST", shown, body, status=status, response_body=exc.response.get("Error"))
            raise DeliveryError(f"Lambda: {code or 'error'} (HTTP {status})", status=status,
                                retry=bool(status and transient_status(status)) or code in THROTTLED) from None
        except (ConnectionError, HTTPClientError) as exc:
            ctx.http.note("POST", shown, body, error=type(exc).__name__)
            raise DeliveryError(f"Lambda: {type(exc).__name__}", retry=True) from None
        except BotoCoreError as exc:
            ctx.http.note("POST", shown, body, error=type(exc).__name__)
            raise DeliveryError(f"Lambda: {type(exc).__name__}") from None
        status = response.get("StatusCode")
        request_id = response.get("ResponseMetadata", {}).get("RequestId", "")
        ctx.http.note("POST", shown, body, status=status, response_body={"RequestId": request_id})
        if response.get("FunctionError"):
            raise DeliveryError(f"Lambda: function error {response['FunctionError']}", status=status)
        return status, request_id

    def deliver(self, ctx):
        status, request_id = self.invoke(ctx, build_body(ctx), "Event")
        return Outcome(True, f"Queued (HTTP {status})", http_status=status, ref=request_id)

    def check(self, ctx):
        status, _ = self.invoke(ctx, {"type": "ilert.test", "timestamp": clock.now().isoformat()}, "DryRun")
        return Outcome(True, f"The credentials may invoke {ctx.settings['function_name']} (dry run, HTTP {status}).",
                       http_status=status)
