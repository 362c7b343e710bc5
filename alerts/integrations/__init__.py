"""Inbound integrations: one module per format, each a thin adapter that turns its payload into an
alerts.ingest.InboundEvent and calls alerts.services.ingest (docs/architecture.md §2).

event_api (iLert Event API), pagerduty (Events API v2), opsgenie (Alert API), alertmanager
(Prometheus webhook v4), grafana (unified and legacy webhooks), email (anymail inbound), sms
(Twilio inbound messages), heartbeat (pings and the overdue sweeper's event).

A module that reads per-source settings from AlertSource.options defines `clean_options(options,
source=None)`, which checks them (DomainError on the "options" field) and returns them normalized.
"""

from importlib import import_module

# integration type -> module under alerts.integrations that checks its options
OPTION_MODULES = {"alertmanager": "alertmanager", "grafana": "grafana", "email": "email", "sms": "sms"}


def clean_options(integration_type, options, source=None):
    name = OPTION_MODULES.get(integration_type)
    if name is None:
        return options
    module = import_module(f"{__name__}.{name}")
    return module.clean_options(dict(options), source=source)
