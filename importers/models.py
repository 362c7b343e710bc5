"""What an import from another on-call tool left behind: which of our objects stands for which
vendor object (so a second run updates or skips instead of creating again), and the dashboard's
background jobs. No other app's schema knows about imports."""

from django.contrib.contenttypes.fields import GenericForeignKey
from django.contrib.contenttypes.models import ContentType
from django.db import models
from django.utils import timezone as dj_timezone

from ilert import secrets as ilert_secrets
from ilert.tenancy import TenantOwned


class Vendor(models.TextChoices):
    PAGERDUTY = "pagerduty", "PagerDuty"
    OPSGENIE = "opsgenie", "Opsgenie"
    ONCALL = "oncall", "Grafana OnCall"


class ImportedObject(TenantOwned):
    """Our object (content type + id) made from one vendor object. `digest` is a hash of the vendor
    object as mapped: unchanged digest, unchanged object, nothing to do."""

    vendor = models.CharField(max_length=16, choices=Vendor.choices)
    vendor_type = models.CharField(max_length=32)  # user, contact_method, team, schedule, policy, integration
    vendor_id = models.CharField(max_length=200)
    content_type = models.ForeignKey(ContentType, on_delete=models.CASCADE, related_name="+")
    object_id = models.PositiveBigIntegerField()
    target = GenericForeignKey("content_type", "object_id")
    digest = models.CharField(max_length=64, blank=True)
    imported_at = models.DateTimeField(default=dj_timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["tenant", "vendor", "vendor_type", "vendor_id"],
                                    name="imported_object_unique_per_tenant"),
        ]
        indexes = [models.Index(fields=["content_type", "object_id"])]

    def __str__(self):
        return f"{self.vendor} {self.vendor_type} {self.vendor_id}"


class ImportJob(TenantOwned):
    """A dashboard import running in the background. The vendor's API key is kept encrypted only
    while the job needs it and erased when the job ends, whatever the outcome."""

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    vendor = models.CharField(max_length=16, choices=Vendor.choices)
    base_url = models.CharField(max_length=300, blank=True)
    only = models.CharField(max_length=120, blank=True)
    api_key_encrypted = models.TextField(blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    done_steps = models.PositiveIntegerField(default=0)
    total_steps = models.PositiveIntegerField(default=0)
    current = models.CharField(max_length=200, blank=True)
    report = models.JSONField(default=dict, blank=True)
    error = models.TextField(blank=True)
    created_by = models.ForeignKey("accounts.User", null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(default=dj_timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self):
        return f"{self.get_vendor_display()} import {self.pk} ({self.status})"

    def set_api_key(self, key):
        self.api_key_encrypted = ilert_secrets.encrypt(key)

    @property
    def api_key(self):
        return ilert_secrets.decrypt(self.api_key_encrypted) if self.api_key_encrypted else ""

    @property
    def finished(self):
        return self.status in (self.Status.DONE, self.Status.FAILED)
