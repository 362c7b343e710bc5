"""Services, status pages, communication incidents and maintenance, subscribers and their notices.

A service's shown `status` is always the worst of its `base_status` (what a person set) and its open
holds (ServiceHold: an alert incident of a linked source, a down monitor, a status incident's impact,
a running maintenance). Automation only adds and removes holds, so overlapping causes restore
correctly: the service is back to its base status once the last cause is gone.

Notices are this app's outbox (the notification outbox is per user; subscribers are addresses):
    pending ──claim──▶ sending (lease, deadline) ──ok──▶ sent
                          ├─error──▶ pending (backoff) … failed after MAX_ATTEMPTS
                          └─deadline passed with a call out (worker died mid-send) ──▶ uncertain
                            (email: never re-sent; webhooks carry a stable webhook-id and are re-sent)
"""

import secrets as pysecrets

from django.db import models
from django.db.models import Q
from django.utils import timezone as dj_timezone

from ilert.tenancy import TenantOwned


def new_code():
    """A Statuspage-style id: 12 lowercase base36 characters."""
    alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
    return "".join(pysecrets.choice(alphabet) for _ in range(12))


class ServiceStatus(models.TextChoices):
    OPERATIONAL = "operational", "Operational"
    UNDER_MAINTENANCE = "under_maintenance", "Under maintenance"
    DEGRADED = "degraded_performance", "Degraded performance"
    PARTIAL = "partial_outage", "Partial outage"
    MAJOR = "major_outage", "Major outage"


# Worse is higher. The page's bar for a day is the worst status of that day.
SEVERITY = {s: i for i, s in enumerate(ServiceStatus.values)}


def worst(statuses, default=ServiceStatus.OPERATIONAL):
    return max(statuses, key=SEVERITY.__getitem__, default=default)


class ServiceGroup(TenantOwned):
    name = models.CharField(max_length=120)
    description = models.CharField(max_length=500, blank=True)
    order = models.PositiveIntegerField(default=0)
    code = models.CharField(max_length=12, default=new_code, unique=True)
    created_at = models.DateTimeField(default=dj_timezone.now)

    class Meta:
        ordering = ["order", "name", "id"]

    def __str__(self):
        return self.name


class Service(TenantOwned):
    name = models.CharField(max_length=120)
    description = models.CharField(max_length=500, blank=True)
    group = models.ForeignKey(ServiceGroup, null=True, blank=True, on_delete=models.SET_NULL, related_name="services")
    order = models.PositiveIntegerField(default=0)
    status = models.CharField(max_length=24, choices=ServiceStatus.choices, default=ServiceStatus.OPERATIONAL)
    base_status = models.CharField(max_length=24, choices=ServiceStatus.choices, default=ServiceStatus.OPERATIONAL)
    code = models.CharField(max_length=12, default=new_code, unique=True)
    created_at = models.DateTimeField(default=dj_timezone.now)
    updated_at = models.DateTimeField(default=dj_timezone.now)

    class Meta:
        ordering = ["order", "name", "id"]

    def __str__(self):
        return self.name


class ServiceHold(TenantOwned):
    """One open cause that holds a service at (at least) `status`. `cause` names it:
    "incident:<id>", "status-incident:<id>", "maintenance:<id>"."""

    service = models.ForeignKey(Service, on_delete=models.CASCADE, related_name="holds")
    cause = models.CharField(max_length=64)
    status = models.CharField(max_length=24, choices=ServiceStatus.choices)
    restore = models.BooleanField(default=True)  # False: when it ends, its status becomes the base status
    created_at = models.DateTimeField(default=dj_timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["service", "cause"], name="service_hold_unique")]
        indexes = [models.Index(fields=["cause"], name="service_hold_cause")]


class ServiceStatusChange(TenantOwned):
    """The service's history: every change of its shown status, who or what made it."""

    service = models.ForeignKey(Service, on_delete=models.CASCADE, related_name="history", db_index=False)
    at = models.DateTimeField(default=dj_timezone.now)
    old_status = models.CharField(max_length=24, choices=ServiceStatus.choices)
    new_status = models.CharField(max_length=24, choices=ServiceStatus.choices)
    actor = models.ForeignKey("accounts.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    cause = models.CharField(max_length=255, blank=True)  # "alert incident #12", "maintenance …", "dashboard"

    class Meta:
        ordering = ["at", "id"]
        indexes = [models.Index(fields=["service", "at"], name="service_history_at")]


class SourceLink(TenantOwned):
    """A service linked to an alert source. With `status_while_open`, an open incident of the source
    holds the service at that status; `restore_on_resolve` gives it back when the incident resolves."""

    service = models.ForeignKey(Service, on_delete=models.CASCADE, related_name="source_links")
    alert_source = models.ForeignKey("alerts.AlertSource", on_delete=models.CASCADE, related_name="+")
    status_while_open = models.CharField(max_length=24, choices=ServiceStatus.choices, blank=True)
    restore_on_resolve = models.BooleanField(default=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["service", "alert_source"], name="service_source_unique")]


class MonitorLink(TenantOwned):
    """A service linked to an uptime monitor: its daily uptime is shown on pages; with
    `status_while_down`, the monitor's down incident holds the service at that status."""

    service = models.ForeignKey(Service, on_delete=models.CASCADE, related_name="monitor_links")
    monitor = models.ForeignKey("uptime.UptimeMonitor", on_delete=models.CASCADE, related_name="+")
    status_while_down = models.CharField(max_length=24, choices=ServiceStatus.choices, blank=True)
    restore_on_resolve = models.BooleanField(default=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["service", "monitor"], name="service_monitor_unique")]


class StatusPage(TenantOwned):
    class Visibility(models.TextChoices):
        PUBLIC = "public", "Public (anyone)"
        PRIVATE = "private", "Private (members of the organisation)"
        AUDIENCE = "audience", "Audience (secret link or allowed email domains)"

    name = models.CharField(max_length=120)
    slug = models.SlugField(max_length=60, unique=True)
    visibility = models.CharField(max_length=10, choices=Visibility.choices, default=Visibility.PUBLIC)
    published = models.BooleanField(default=False)  # unpublished: only the preview shows it
    services = models.ManyToManyField(Service, blank=True, related_name="pages")
    description = models.CharField(max_length=500, blank=True)
    time_zone = models.CharField(max_length=64, default="UTC")
    custom_domain = models.CharField(max_length=253, null=True, blank=True, unique=True)
    # The domain is served only once the tenant proved it owns it: a TXT record
    # `_ilert-status.<domain>` holding this token (status/services/domains.py). Not a secret.
    domain_token = models.CharField(max_length=40, blank=True)
    domain_verified_at = models.DateTimeField(null=True, blank=True)  # None: pending verification
    # Theme
    logo_url = models.URLField(max_length=500, blank=True)
    brand_color = models.CharField(max_length=7, default="#1f6feb")
    background_color = models.CharField(max_length=7, default="#ffffff")
    text_color = models.CharField(max_length=7, default="#1f2328")
    links = models.JSONField(default=list, blank=True)  # [{"label": …, "url": …}]
    # Audience pages
    access_token_hash = models.CharField(max_length=64, blank=True)  # the secret link; shown once
    allowed_email_domains = models.JSONField(default=list, blank=True)
    access_nonce = models.CharField(max_length=16, default=new_code)  # rotating it ends every grant
    code = models.CharField(max_length=12, default=new_code, unique=True)
    created_at = models.DateTimeField(default=dj_timezone.now)
    # Bumped by every change that shows on the page: the ETag and Last-Modified come from it.
    changed_at = models.DateTimeField(default=dj_timezone.now)

    class Meta:
        ordering = ["name", "id"]

    def __str__(self):
        return self.name

    @property
    def domain_verified(self):
        return bool(self.custom_domain and self.domain_verified_at)


class StatusIncident(TenantOwned):
    """What stakeholders read. `kind` incident: investigating → identified → monitoring → resolved;
    maintenance: scheduled → in_progress → verifying → completed (Statuspage's words)."""

    class Kind(models.TextChoices):
        INCIDENT = "incident", "Incident"
        MAINTENANCE = "maintenance", "Scheduled maintenance"

    class Status(models.TextChoices):
        INVESTIGATING = "investigating", "Investigating"
        IDENTIFIED = "identified", "Identified"
        MONITORING = "monitoring", "Monitoring"
        RESOLVED = "resolved", "Resolved"
        SCHEDULED = "scheduled", "Scheduled"
        IN_PROGRESS = "in_progress", "In progress"
        VERIFYING = "verifying", "Verifying"
        COMPLETED = "completed", "Completed"

    class Impact(models.TextChoices):
        NONE = "none", "None"
        MINOR = "minor", "Minor"
        MAJOR = "major", "Major"
        CRITICAL = "critical", "Critical"
        MAINTENANCE = "maintenance", "Maintenance"

    INCIDENT_STATUSES = ("investigating", "identified", "monitoring", "resolved")
    MAINTENANCE_STATUSES = ("scheduled", "in_progress", "verifying", "completed")
    CLOSED = ("resolved", "completed")

    kind = models.CharField(max_length=12, choices=Kind.choices, default=Kind.INCIDENT)
    title = models.CharField(max_length=255)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.INVESTIGATING)
    impact = models.CharField(max_length=12, choices=Impact.choices, default=Impact.MINOR)
    restore_on_resolve = models.BooleanField(default=True)
    alert_incident = models.ForeignKey("alerts.Incident", null=True, blank=True, on_delete=models.SET_NULL,
                                       related_name="+")
    code = models.CharField(max_length=12, default=new_code, unique=True)
    created_at = models.DateTimeField(default=dj_timezone.now)
    updated_at = models.DateTimeField(default=dj_timezone.now)
    monitoring_at = models.DateTimeField(null=True, blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    # Maintenance
    scheduled_for = models.DateTimeField(null=True, blank=True)
    scheduled_until = models.DateTimeField(null=True, blank=True)
    auto_transition = models.BooleanField(default=True)  # start and end on its own
    silence_sources = models.BooleanField(default=False)  # maintenance windows on the linked alert sources
    window_ids = models.JSONField(default=list, blank=True)
    reminded = models.PositiveSmallIntegerField(default=0)  # 0 none, 1 the 24 h notice, 2 the 1 h notice
    # The next time the maintenance engine has something to do (a reminder, the start, the end).
    due_at = models.DateTimeField(null=True, blank=True)
    services = models.ManyToManyField(Service, through="AffectedService", related_name="status_incidents")

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["due_at"], condition=Q(due_at__isnull=False), name="status_incident_due"),
            models.Index(fields=["tenant", "kind", "status"], name="status_incident_tenant"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(scheduled_until__isnull=True) | Q(scheduled_for__isnull=True)
                | Q(scheduled_until__gt=models.F("scheduled_for")), name="status_maintenance_end_after_start"),
        ]

    def __str__(self):
        return self.title

    @property
    def is_open(self):
        return self.status not in self.CLOSED


class AffectedService(TenantOwned):
    incident = models.ForeignKey(StatusIncident, on_delete=models.CASCADE, related_name="affected")
    service = models.ForeignKey(Service, on_delete=models.CASCADE, related_name="+")
    impact = models.CharField(max_length=24, choices=ServiceStatus.choices, default=ServiceStatus.PARTIAL)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["incident", "service"], name="affected_service_unique")]


class IncidentUpdate(TenantOwned):
    incident = models.ForeignKey(StatusIncident, on_delete=models.CASCADE, related_name="updates")
    status = models.CharField(max_length=16, choices=StatusIncident.Status.choices)
    message = models.TextField()
    at = models.DateTimeField(default=dj_timezone.now)
    author = models.ForeignKey("accounts.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    code = models.CharField(max_length=12, default=new_code, unique=True)
    # [{"code", "name", "old_status", "new_status"}]: what this update changed (Statuspage shape)
    affected_components = models.JSONField(default=list, blank=True)

    class Meta:
        ordering = ["-at", "-id"]


class Subscriber(TenantOwned):
    """An email address or webhook subscribed to a page (all its services, or the chosen ones), or a
    member of the organisation subscribed to services from their profile (`user`, no page)."""

    class Kind(models.TextChoices):
        EMAIL = "email", "Email"
        WEBHOOK = "webhook", "Webhook"

    page = models.ForeignKey(StatusPage, null=True, blank=True, on_delete=models.CASCADE, related_name="subscribers")
    user = models.ForeignKey("accounts.User", null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=8, choices=Kind.choices, default=Kind.EMAIL)
    email = models.EmailField(blank=True)
    url = models.URLField(max_length=2000, blank=True)
    secret_encrypted = models.TextField(blank=True)  # webhook signing secret (Standard Webhooks)
    services = models.ManyToManyField(Service, blank=True, related_name="subscribers")  # none: all
    confirmed_at = models.DateTimeField(null=True, blank=True)  # double opt-in
    confirmation_sent_at = models.DateTimeField(null=True, blank=True)
    nonce = models.CharField(max_length=16, default=new_code)  # signed links name it; a new one voids them
    created_at = models.DateTimeField(default=dj_timezone.now)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["page", "email"], condition=Q(kind="email", page__isnull=False),
                                    name="subscriber_page_email_unique"),
            models.UniqueConstraint(fields=["user"], condition=Q(user__isnull=False), name="subscriber_one_per_user"),
        ]

    def __str__(self):
        return self.email or self.url

    @property
    def address(self):
        return self.email if self.kind == self.Kind.EMAIL else self.url


class Notice(TenantOwned):
    """One message to one subscriber about one thing (`key`: "update:<id>", "maintenance-24h:<id>",
    "confirm:<nonce>"). Unique per (subscriber, key): announcing twice writes nothing new."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        SENDING = "sending", "Sending"
        SENT = "sent", "Sent"
        FAILED = "failed", "Failed"
        UNCERTAIN = "uncertain", "Uncertain"  # a call went out and its outcome is unknown: never re-sent
        CANCELLED = "cancelled", "Cancelled"

    subscriber = models.ForeignKey(Subscriber, on_delete=models.CASCADE, related_name="notices")
    key = models.CharField(max_length=64)
    subject = models.CharField(max_length=255)
    body = models.TextField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    due_at = models.DateTimeField(default=dj_timezone.now)
    deadline = models.DateTimeField(null=True, blank=True)
    lease = models.PositiveIntegerField(default=0)
    attempts = models.PositiveSmallIntegerField(default=0)
    outcome_unknown = models.BooleanField(default=False)
    token = models.CharField(max_length=32, default=new_code)  # the webhook-id and Message-ID
    sent_at = models.DateTimeField(null=True, blank=True)
    provider_id = models.CharField(max_length=255, blank=True)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(default=dj_timezone.now)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["due_at"], condition=Q(status="pending"), name="status_notice_due"),
            models.Index(fields=["deadline"], condition=Q(status="sending"), name="status_notice_deadline"),
        ]
        constraints = [models.UniqueConstraint(fields=["subscriber", "key"], name="status_notice_once")]
