"""Connectors (a tenant's credentials for one external system), connections (an alert source's use
of a connector) and connection invocations (the outbox: one row per attempted action)."""

import json
import secrets as pysecrets
import uuid

from django.db import models
from django.db.models import Q
from django.utils import timezone as dj_timezone

from ilert import secrets
from ilert.tenancy import TenantOwned


class Kind(models.TextChoices):
    JIRA = "jira", "Jira"
    SLACK = "slack", "Slack"
    TEAMS = "teams", "Microsoft Teams"
    WEBHOOK = "webhook", "Webhook"
    AWS_LAMBDA = "aws_lambda", "AWS Lambda"
    GCP_FUNCTION = "gcp_function", "Google Cloud Functions"
    AZURE_FUNCTION = "azure_function", "Azure Functions"


class Event(models.TextChoices):
    """Incident events a connection can react to (plus `manual`, for "run now")."""

    CREATED = "created", "Incident created"
    ASSIGNED = "assigned", "Assigned"
    ESCALATED = "escalated", "Escalated"
    ACCEPTED = "accepted", "Accepted"
    RESOLVED = "resolved", "Resolved"
    COMMENT_ADDED = "comment_added", "Comment added"
    MANUAL = "manual", "Run by hand"


AUTOMATIC_EVENTS = [e for e in Event.values if e != Event.MANUAL]


def new_inbound_token():
    return pysecrets.token_urlsafe(24)  # 32 URL-safe characters


class Connector(TenantOwned):
    """Tenant-wide settings and credentials for one external system. Credentials are one JSON
    object, Fernet-encrypted (ilert.secrets); they are never returned by the API nor shown."""

    kind = models.CharField(max_length=20, choices=Kind.choices)
    name = models.CharField(max_length=120)
    settings = models.JSONField(default=dict, blank=True)
    credentials_encrypted = models.TextField(blank=True)
    # Addresses inbound callbacks (Slack interactivity) to this connector; not a credential: the
    # callback is authenticated by the provider's signature.
    inbound_token = models.CharField(max_length=64, unique=True, default=new_inbound_token)
    enabled = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=dj_timezone.now)
    updated_at = models.DateTimeField(default=dj_timezone.now)

    class Meta:
        ordering = ["name"]
        constraints = [models.UniqueConstraint(fields=["tenant", "name"], name="connector_name_unique_per_tenant")]

    def __str__(self):
        return self.name

    @property
    def credentials(self):
        if not self.credentials_encrypted:
            return {}
        return json.loads(secrets.decrypt(self.credentials_encrypted))

    def set_credentials(self, values):
        values = {k: v for k, v in (values or {}).items() if v not in (None, "", [])}
        self.credentials_encrypted = secrets.encrypt(json.dumps(values)) if values else ""

    @property
    def credential_names(self):
        """Which credentials are set (names only: what the dashboard and API may show)."""
        return sorted(self.credentials)


class Connection(TenantOwned):
    class Trigger(models.TextChoices):
        AUTOMATIC = "automatic", "Automatically, on the chosen events"
        MANUAL = "manual", "Only when run by hand"

    alert_source = models.ForeignKey("alerts.AlertSource", on_delete=models.CASCADE, related_name="connections")
    connector = models.ForeignKey(Connector, on_delete=models.CASCADE, related_name="connections")
    name = models.CharField(max_length=120, blank=True)
    action = models.CharField(max_length=32)
    trigger_mode = models.CharField(max_length=10, choices=Trigger.choices, default=Trigger.AUTOMATIC)
    events = models.JSONField(default=list, blank=True)
    params = models.JSONField(default=dict, blank=True)
    enabled = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=dj_timezone.now)

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [models.Index(fields=["alert_source", "enabled"], name="connection_source_enabled")]

    def __str__(self):
        return self.name or f"{self.connector.name} on {self.alert_source.name}"

    @property
    def label(self):
        return str(self)


class ConnectionInvocation(TenantOwned):
    """One attempted action (the outbox row). `pending` rows are due at `due_at`; a claimed row is
    `sending` until `deadline` (after which a sweeper takes it again); then `succeeded` or
    `failed`. `uid` is the delivery's stable id (the webhook-id header), the same on every retry."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        SENDING = "sending", "Sending"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"


    uid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    # Indexed by invocation_connection and invocation_incident, which start with them.
    connection = models.ForeignKey(Connection, on_delete=models.CASCADE, related_name="invocations", db_index=False)
    incident = models.ForeignKey("alerts.Incident", on_delete=models.CASCADE, related_name="+", db_index=False)
    event = models.CharField(max_length=20, choices=Event.choices)
    manual = models.BooleanField(default=False)
    requested_by = models.ForeignKey("accounts.User", null=True, blank=True, on_delete=models.SET_NULL,
                                     related_name="+")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    due_at = models.DateTimeField(null=True, blank=True)
    deadline = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    # Retries stop 24 hours after this (reset by a manual retry).
    window_started_at = models.DateTimeField(default=dj_timezone.now)
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    http_status = models.PositiveIntegerField(null=True, blank=True)
    message = models.TextField(blank=True)  # what the last attempt did (or why it failed)
    error = models.TextField(blank=True)
    summary = models.JSONField(default=dict, blank=True)  # redacted request/response
    external_ref = models.CharField(max_length=255, blank=True)
    external_url = models.URLField(max_length=500, blank=True)
    payload = models.JSONField(default=dict)  # the incident as it was at the event
    created_at = models.DateTimeField(default=dj_timezone.now)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["due_at"], condition=Q(status="pending"), name="invocation_due"),
            models.Index(fields=["deadline"], condition=Q(status="sending"), name="invocation_deadline"),
            models.Index(fields=["incident", "created_at"], name="invocation_incident"),
            models.Index(fields=["connection", "created_at"], name="invocation_connection"),
        ]

    def __str__(self):
        return f"{self.connection_id}/{self.event} #{self.pk} {self.status}"

    @property
    def webhook_id(self):
        return f"msg_{self.uid.hex}"


class ExternalRef(TenantOwned):
    """What a connection created for an incident in the external system (a Jira issue key, a Slack
    message ts and channel), written the moment it exists, so later events (and retries) reuse it."""

    connection = models.ForeignKey(Connection, on_delete=models.CASCADE, related_name="+")
    incident = models.ForeignKey("alerts.Incident", on_delete=models.CASCADE, related_name="+")
    ref = models.CharField(max_length=255)
    url = models.URLField(max_length=500, blank=True)
    data = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=dj_timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["connection", "incident"], name="one_external_ref_per_incident")]


class SlackIdentity(TenantOwned):
    """A Slack user linked to an ilert user: their clicks on Accept/Resolve act as that user."""

    slack_user_id = models.CharField(max_length=32)
    user = models.ForeignKey("accounts.User", on_delete=models.CASCADE, related_name="+")
    created_at = models.DateTimeField(default=dj_timezone.now)

    class Meta:
        ordering = ["slack_user_id"]
        constraints = [models.UniqueConstraint(fields=["tenant", "slack_user_id"], name="slack_user_unique_per_tenant")]

    def __str__(self):
        return f"{self.slack_user_id} → {self.user}"
