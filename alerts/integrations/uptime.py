"""The alert sources of uptime monitors (the uptime app creates one per monitor unless told to use
another). Their events come from the uptime checks, not over the wire, so this type has no endpoint
and no parser; its key still works on the Event API, which the set-up card shows."""

from . import event_api
from .spec import InboundIntegration

NAME = "uptime"

INTEGRATION = InboundIntegration(
    name=NAME, label="Uptime monitor", setup_template=event_api.INTEGRATION.setup_template, setup=event_api.setup,
)
