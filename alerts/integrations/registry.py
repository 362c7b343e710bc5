"""The one list of inbound integrations. Adding one is a module under alerts.integrations that
declares INTEGRATION (alerts.integrations.spec), its set-up template and its tests, plus its name
below (docs/recipes/add-an-inbound-integration.md). The alert source choices, the ingestion URLs,
the set-up page, the settings form, option validation and the importers' paste hints all read the
declarations through the functions here.

The modules are imported on first use, not when this one is: alerts.models takes its choices from
here (`choices`, a callable Django evaluates when it needs them), and the modules import the models.
"""

from functools import cache
from importlib import import_module

from django.core.exceptions import ImproperlyConfigured

# Modules under alerts.integrations, in the order of the choices (and of their URL patterns, whose
# prefixes do not overlap).
MODULES = ("event_api", "pagerduty", "opsgenie", "alertmanager", "grafana", "email", "sms", "heartbeat", "uptime")

# The type of an alert source created without one: the Event API (declared in event_api).
DEFAULT = "api"


@cache
def _by_name():
    found = {}
    for module_name in MODULES:
        integration = import_module(f"{__package__}.{module_name}").INTEGRATION
        if integration.name in found:
            raise ImproperlyConfigured(f"two inbound integrations are named {integration.name!r}")
        found[integration.name] = integration
    if DEFAULT not in found:
        raise ImproperlyConfigured(f"the default integration {DEFAULT!r} is not registered")
    return found


def integrations():
    return list(_by_name().values())


def names():
    return list(_by_name())


def get(name):
    """The integration stored under `name`; KeyError for a name no module declares."""
    return _by_name()[name]


def choices():
    """AlertSource.integration_type's choices (a callable: not frozen into migrations)."""
    return [(integration.name, integration.label) for integration in integrations()]


def urlpatterns():
    return [pattern for integration in integrations() for pattern in integration.urls]


def clean_options(integration_type, options, source=None):
    """AlertSource.options checked and normalized by the integration, DomainError otherwise."""
    clean = get(integration_type).clean_options
    return clean(dict(options), source=source) if clean else options


def paste_for(source, site):
    """{"url", "key", "how"}: what to paste into the sending tool (importers' report)."""
    paste = get(source.integration_type).paste or get(DEFAULT).paste
    return paste(source, site)
