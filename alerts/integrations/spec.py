"""What an inbound integration module declares: one `InboundIntegration` named INTEGRATION, listed
in alerts.integrations.registry. Everything that varies by integration type (the stored name and
its label, the endpoints, the set-up instructions, the settings and their validation, what the
importers tell people to paste) is read from these declarations, never from a list elsewhere.

This module imports no models or services, so alerts.models can ask the registry for its choices.
"""

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from django.conf import settings as django_settings
from django.urls import reverse

NAME_MAX = 20  # AlertSource.integration_type is a CharField(max_length=20)


@dataclass(frozen=True)
class InboundIntegration:
    # Stored in AlertSource.integration_type and shown in the REST API: never rename one.
    name: str
    label: str
    # Shown under "Send events here" on the alert source page, after the integration key; the
    # context holds `source` and `setup` (the dict `setup` returns, plus `key` and `masked`).
    setup_template: str
    setup: Callable[["SetupLinks"], dict] = field(default=lambda links: {})  # nothing beyond the key
    # The turning of a received payload into InboundEvent(s), or None for a type whose events do
    # not come over the wire (uptime monitors ingest their own checks).
    parse: Callable | None = None
    # The endpoints (Django URL patterns, in the alerts namespace, in the order they are tried).
    urls: Sequence = ()
    # "Integration settings" on the alert source page (a SettingsForm subclass), if any.
    settings_form: type | None = None
    # Checks and normalizes AlertSource.options (DomainError on the "options" field); None: any
    # JSON object is kept as it is.
    clean_options: Callable | None = None
    # What the importers tell people to paste into the sending tool: paste(source, site) ->
    # {"url", "key", "how"}; None: the Event API's.
    paste: Callable | None = None
    # A card below the source's recent incidents (PagerDuty: its change events), or "".
    panel_template: str = ""

    def __post_init__(self):
        if not self.name or len(self.name) > NAME_MAX:
            raise ValueError(f"an integration name has 1 to {NAME_MAX} characters: {self.name!r}")


class SetupLinks:
    """What a set-up function builds its URLs from: absolute URLs of the request's site, and the
    integration key as the reader may see it (masked for read-only roles)."""

    def __init__(self, request, source, shown_key):
        self.request, self.source, self.key = request, source, shown_key

    def url(self, name, *args):
        return self.request.build_absolute_uri(reverse(name, args=args))

    def keyed(self, name):
        """The URL of an endpoint that takes the key in its path, with the key as shown."""
        return self.url(name, "KEY").replace("/KEY", "/" + self.key)

    @property
    def email_domain(self):
        return django_settings.INBOUND_EMAIL_DOMAIN
