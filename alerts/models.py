"""Alert sources, incidents and the incident timeline."""

import secrets as pysecrets

from django.db import models
from django.db.models import Q
from django.utils import timezone as dj_timezone

from ilert import secrets
from ilert.tenancy import TenantOwned, tenant_key

from .integrations import registry


class Priority(models.TextChoices):
    HIGH = "HIGH", "High"
    LOW = "LOW", "Low"


class CreationMode(models.TextChoices):
    DEDUPLICATE = "dedup", "One incident per incident key (de-duplicate)"
    OPEN_NEW = "open_new", "A new incident for every alert event"
    GROUP = "group", "Group every alert into the one open incident"


def new_integration_key():
    return pysecrets.token_urlsafe(32)  # 43 URL-safe characters


class AlertSource(TenantOwned):
    """An inbound integration. Its integration key addresses it (and so its tenant); the key is
    stored encrypted, and found by its SHA-256, so the plaintext is never a query parameter."""

    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        DISABLED = "disabled", "Disabled"

    name = models.CharField(max_length=120)
    # One of the registered inbound integrations (alerts.integrations.registry). The choices are a
    # callable, so migrations keep a reference to it instead of a copy of the list: adding an
    # integration needs no migration. alerts.services checks the value against the registry.
    integration_type = models.CharField(max_length=20, choices=registry.choices, default=registry.DEFAULT)
    key_hash = models.CharField(max_length=64, unique=True)
    key_encrypted = models.TextField()
    # SHA-256 of the lowercased key: an email alert source is found by it when a mail server folded
    # the case of its address (<key>@INBOUND_EMAIL_DOMAIN) on the way.
    folded_key_hash = models.CharField(max_length=64, blank=True, default="", editable=False)
    escalation_policy = models.ForeignKey(
        "escalation.EscalationPolicy", null=True, blank=True, on_delete=models.SET_NULL, related_name="alert_sources"
    )
    default_priority = models.CharField(max_length=4, choices=Priority.choices, default=Priority.HIGH)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.ACTIVE)
    creation_mode = models.CharField(max_length=10, choices=CreationMode.choices, default=CreationMode.DEDUPLICATE)
    auto_resolve_minutes = models.PositiveIntegerField(null=True, blank=True)
    # Per-integration options (e.g. Alertmanager grouping, email rules, allowed SMS senders).
    options = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=dj_timezone.now)
    # SMS sources: the E.164 number their inbound SMS arrive at (options["phone_number"], kept in
    # sync by alerts.services). One owner per number across all tenants: a partial unique index.
    inbound_number = models.CharField(max_length=20, null=True, blank=True, editable=False)

    # Heartbeat sources (integration_type "heartbeat"): a ping is expected every interval; the
    # source is overdue once `next_expected_at` (last ping + interval + grace) has passed. The timer
    # starts at the first ping (next_expected_at stays NULL until then). All durable: the sweeper
    # finds overdue sources in the database after any restart.
    heartbeat_interval_seconds = models.PositiveIntegerField(default=300)
    heartbeat_grace_seconds = models.PositiveIntegerField(default=60)
    heartbeat_resolve_on_ping = models.BooleanField(default=True)
    last_ping_at = models.DateTimeField(null=True, blank=True)
    next_expected_at = models.DateTimeField(null=True, blank=True)
    heartbeat_overdue = models.BooleanField(default=False)
    # The pings' rate limit (INGEST_RATE_LIMIT per key), counted in this row by the ping's own UPDATE
    # (a fixed window: when it started, how many pings it took), so a ping needs no Redis round trip.
    ping_window_started_at = models.DateTimeField(null=True, blank=True, editable=False)
    ping_window_count = models.PositiveIntegerField(default=0, editable=False)

    class Meta:
        ordering = ["name"]
        indexes = [
            # The sweeper's heartbeats. No column a plain ping writes is in any index (nor in this
            # predicate), so PostgreSQL updates the row in place (a HOT update: no index entry per
            # ping, no index bloat); the sweeper reads every watched row's deadline instead of
            # an index of deadlines (docs/intake.md).
            models.Index(fields=["id"], name="alertsource_heartbeat_watch",
                         condition=Q(integration_type="heartbeat", heartbeat_overdue=False)),
            models.Index(fields=["folded_key_hash"], name="alertsource_email_folded_key",
                         condition=Q(integration_type="email")),
        ]
        constraints = [
            models.UniqueConstraint(fields=["inbound_number"], condition=Q(inbound_number__isnull=False),
                                    name="alertsource_inbound_number_unique"),
        ]

    def __str__(self):
        return self.name

    @property
    def integration_key(self):
        return secrets.decrypt(self.key_encrypted)

    def set_integration_key(self, key):
        self.key_hash = secrets.lookup_hash(key)
        self.folded_key_hash = secrets.lookup_hash(key.lower())
        self.key_encrypted = secrets.encrypt(key)

    @property
    def is_active(self):
        return self.status == self.Status.ACTIVE


class MaintenanceWindow(TenantOwned):
    """While a window is on, events still open and update incidents, but nobody is paged."""

    alert_source = models.ForeignKey(AlertSource, on_delete=models.CASCADE, related_name="maintenance_windows")
    start = models.DateTimeField()
    end = models.DateTimeField()
    description = models.CharField(max_length=255, blank=True)

    class Meta:
        ordering = ["-start"]
        constraints = [
            models.CheckConstraint(condition=Q(end__gt=models.F("start")), name="maintenance_end_after_start")
        ]


class ChangeEvent(TenantOwned):
    """A change to a system (a deploy, a config change): no incident and nobody paged, but shown
    beside the incidents of its alert source opened around it (PagerDuty's change events)."""

    RETENTION_DAYS = 90

    alert_source = models.ForeignKey(AlertSource, on_delete=models.CASCADE, related_name="changes",
                                     db_index=False)  # change_source_at starts with it
    summary = models.CharField(max_length=1024)
    source = models.CharField(max_length=255, blank=True)  # where the change happened (a host, a pipeline)
    happened_at = models.DateTimeField()  # the sender's timestamp, else when it arrived
    received_at = models.DateTimeField(default=dj_timezone.now)
    custom_details = models.JSONField(default=dict, blank=True)
    links = models.JSONField(default=list, blank=True)

    class Meta:
        ordering = ["-happened_at", "-id"]
        indexes = [models.Index(fields=["alert_source", "happened_at"], name="change_source_at")]

    def __str__(self):
        return self.summary


class Incident(TenantOwned):
    class Status(models.TextChoices):
        PENDING = "PENDING", "Pending"
        ACCEPTED = "ACCEPTED", "Accepted"
        RESOLVED = "RESOLVED", "Resolved"

    OPEN = (Status.PENDING, Status.ACCEPTED)

    tenant = tenant_key(db_index=False)  # incident_tenant_status and the numbers' unique index start with it
    number = models.PositiveBigIntegerField()
    # Indexed by incident_source_key (and the open-dedup index): a second index would only slow writes.
    alert_source = models.ForeignKey(AlertSource, on_delete=models.CASCADE, related_name="incidents", db_index=False)
    summary = models.CharField(max_length=255)
    details = models.TextField(blank=True)
    priority = models.CharField(max_length=4, choices=Priority.choices, default=Priority.HIGH)
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.PENDING)
    incident_key = models.CharField(max_length=255)
    # The de-duplication key: while the incident is open, no other open incident of the source has
    # it (a partial unique index). NULL when the source opens a new incident for every event.
    dedup_key = models.CharField(max_length=255, null=True, blank=True)
    assigned_to = models.ForeignKey(
        "accounts.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="assigned_incidents"
    )
    accepted_by = models.ForeignKey("accounts.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
                                    db_index=False)  # partial index below
    accepted_at = models.DateTimeField(null=True, blank=True)
    resolved_by = models.ForeignKey("accounts.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
                                    db_index=False)  # partial index below
    resolved_at = models.DateTimeField(null=True, blank=True)
    links = models.JSONField(default=list, blank=True)
    images = models.JSONField(default=list, blank=True)
    custom_details = models.JSONField(default=dict, blank=True)
    labels = models.JSONField(default=dict, blank=True)
    event_count = models.PositiveIntegerField(default=1)
    created_at = models.DateTimeField(default=dj_timezone.now)
    last_event_at = models.DateTimeField(default=dj_timezone.now)
    # Opened during a maintenance window: recorded, but nobody is paged.
    in_maintenance = models.BooleanField(default=False)
    routing_key = models.CharField(max_length=120, blank=True)

    # Escalation state, carried out by the escalation engine. next_escalation_at is the truth:
    # the engine claims incidents whose time has come.
    escalation_policy = models.ForeignKey(
        "escalation.EscalationPolicy", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    escalation_level = models.PositiveSmallIntegerField(default=0)  # 0: not started
    escalation_round = models.PositiveSmallIntegerField(default=0)
    next_escalation_at = models.DateTimeField(null=True, blank=True)
    # Resolve automatically when no event arrived for the source's auto_resolve_minutes.
    auto_resolve_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "number"], name="incident_number_unique_per_tenant"),
            models.UniqueConstraint(
                fields=["alert_source", "dedup_key"],
                condition=Q(dedup_key__isnull=False) & ~Q(status="RESOLVED"),
                name="one_open_incident_per_dedup_key",
            ),
        ]
        indexes = [
            models.Index(fields=["tenant", "status", "-created_at"], name="incident_tenant_status"),
            models.Index(fields=["next_escalation_at"], condition=Q(next_escalation_at__isnull=False),
                         name="incident_escalation_due"),
            models.Index(fields=["auto_resolve_at"], condition=Q(auto_resolve_at__isnull=False),
                         name="incident_auto_resolve_due"),
            models.Index(fields=["alert_source", "incident_key"], name="incident_source_key"),
            # Partial: the escalation engine rewrites pending rows (where these are NULL) in bulk,
            # and every index a row is in makes that slower.
            models.Index(fields=["accepted_by"], condition=Q(accepted_by__isnull=False), name="incident_accepted_by"),
            models.Index(fields=["resolved_by"], condition=Q(resolved_by__isnull=False), name="incident_resolved_by"),
            # The open incidents of all tenants: the reports' fold takes those whose event count
            # moved past their fact's (reports/rollups.py, behind_facts). Built concurrently (0011).
            models.Index(fields=["tenant"], condition=Q(status__in=("PENDING", "ACCEPTED")), name="incident_open"),
        ]

    def __str__(self):
        return f"#{self.number} {self.summary}"

    @property
    def is_open(self):
        return self.status in self.OPEN


class IncidentCounter(models.Model):
    """A tenant's last incident number (alerts/services/numbering.py), in a row of its own: the
    tenant's row is read by a foreign-key check (FOR KEY SHARE) on nearly every insert of the
    paging path, and while it was also the counter, updated for every new incident, those checks
    slowed tenfold in a storm (docs/scaling.md). Made by the first draw (an upsert)."""

    tenant = models.OneToOneField("accounts.Tenant", primary_key=True, on_delete=models.CASCADE, related_name="+")
    last_number = models.PositiveBigIntegerField(default=0)

    def __str__(self):
        return f"{self.tenant_id}: #{self.last_number}"


class LogKind(models.TextChoices):
    EVENT = "event", "Event received"
    CREATED = "created", "Incident opened"
    ACCEPTED = "accepted", "Accepted"
    RESOLVED = "resolved", "Resolved"
    ASSIGNED = "assigned", "Assigned"
    ESCALATION_REQUESTED = "escalation_requested", "Escalation requested"
    ESCALATED = "escalated", "Escalated"
    NOTIFICATION = "notification", "Notification"
    CONNECTOR = "connector", "Connector"
    COMMENT = "comment", "Comment"
    WARNING = "warning", "Warning"
    INFO = "info", "Info"


class IncidentLogEntry(TenantOwned):
    """The incident's timeline: every event received and every change, who did it and through
    which channel (`via`: api, dashboard, sms, voice, push, email, slack, the integration, system)."""

    tenant = tenant_key(db_index=False)  # read by incident only: one row per event, no index it would use
    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="log_entries",
                                 db_index=False)  # log_incident_at starts with it
    at = models.DateTimeField(default=dj_timezone.now)
    kind = models.CharField(max_length=24, choices=LogKind.choices)
    actor = models.ForeignKey("accounts.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
                              db_index=False)  # partial index below
    via = models.CharField(max_length=32, blank=True)
    message = models.TextField(blank=True)
    data = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["at", "id"]
        indexes = [
            models.Index(fields=["incident", "at"], name="log_incident_at"),
            models.Index(fields=["actor"], condition=Q(actor__isnull=False), name="log_actor"),
        ]

    def __str__(self):
        return f"{self.get_kind_display()}: {self.message}"
