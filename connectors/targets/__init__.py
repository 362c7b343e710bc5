"""One module per target system, each behind the interface in targets/base.py."""

from .aws_lambda import AwsLambda
from .azure_function import AzureFunction
from .base import Context, DeliveryError, Field, Outcome, Target
from .gcp_function import GcpFunction
from .jira import Jira
from .slack import Slack
from .teams import Teams
from .webhook import Webhook

TARGETS = {target.kind: target for target in (Jira(), Slack(), Teams(), Webhook(), AwsLambda(), GcpFunction(),
                                              AzureFunction())}


def get(kind):
    return TARGETS[kind]


__all__ = ["TARGETS", "Context", "DeliveryError", "Field", "Outcome", "Target", "get"]
