"""Uptime monitors, their check results and the hourly/daily roll-ups that bound history.

A monitor stores its durable due time (`next_check_at`, indexed): the engine claims due monitors,
moves `next_check_at` one interval ahead (the lease: a worker that dies delays the monitor by at most
one interval) and bumps `claim_seq`; a result is only recorded by the claim that is still current.
"""

import json

from django.db import models
from django.db.models import Q
from django.utils import timezone as dj_timezone

from ilert import secrets
from ilert.tenancy import TenantOwned


class CheckType(models.TextChoices):
    HTTP = "http", "HTTP(S)"
    TCP = "tcp", "TCP port"
    PING = "ping", "Ping (ICMP)"
    TLS = "tls", "TLS certificate"
    DNS = "dns", "DNS record"


class HttpMethod(models.TextChoices):
    GET = "GET", "GET"
    HEAD = "HEAD", "HEAD"
    POST = "POST", "POST"
    PUT = "PUT", "PUT"
    PATCH = "PATCH", "PATCH"
    DELETE = "DELETE", "DELETE"
    OPTIONS = "OPTIONS", "OPTIONS"


class KeywordMode(models.TextChoices):
    PRESENT = "present", "must appear"
    ABSENT = "absent", "must not appear"


class DnsRecordType(models.TextChoices):
    A = "A", "A"
    AAAA = "AAAA", "AAAA"
    CNAME = "CNAME", "CNAME"
    MX = "MX", "MX"
    NS = "NS", "NS"
    TXT = "TXT", "TXT"


class MonitorStatus(models.TextChoices):
    PENDING = "pending", "Not checked yet"
    UP = "up", "Up"
    DOWN = "down", "Down"
    UNAVAILABLE = "unavailable", "Cannot check"


class Outcome(models.TextChoices):
    UP = "up", "Up"
    DOWN = "down", "Down"
    # The check could not be performed by ilert (e.g. ICMP not permitted on this worker). Never
    # counted as up or down, never pages anyone.
    UNAVAILABLE = "unavailable", "Cannot check"


class UptimeMonitor(TenantOwned):
    name = models.CharField(max_length=120)
    check_type = models.CharField(max_length=8, choices=CheckType.choices, default=CheckType.HTTP)
    # HTTP: the URL. TCP, ping, TLS: a host name or IP address. DNS: the name to resolve.
    target = models.CharField(max_length=2048)
    port = models.PositiveIntegerField(null=True, blank=True)  # TCP (required), TLS (default 443)
    interval_seconds = models.PositiveIntegerField(default=60)
    timeout_seconds = models.PositiveSmallIntegerField(default=10)
    # Failed checks in a row that are tolerated before the monitor is declared down.
    retries = models.PositiveSmallIntegerField(default=2)
    alert_source = models.ForeignKey(
        "alerts.AlertSource", null=True, blank=True, on_delete=models.SET_NULL, related_name="uptime_monitors"
    )
    paused = models.BooleanField(default=False)

    # HTTP(S)
    http_method = models.CharField(max_length=7, choices=HttpMethod.choices, default=HttpMethod.GET)
    # Request headers often carry credentials (Authorization, API keys): stored encrypted, and shown
    # masked on read to every role (see `http_headers`).
    http_headers_encrypted = models.TextField(blank=True)
    http_body = models.TextField(blank=True, max_length=64 * 1024)
    expected_status = models.CharField(max_length=100, default="200-299")
    follow_redirects = models.BooleanField(default=True)
    keyword = models.CharField(max_length=500, blank=True)
    keyword_mode = models.CharField(max_length=7, choices=KeywordMode.choices, default=KeywordMode.PRESENT)
    max_response_ms = models.PositiveIntegerField(null=True, blank=True)
    verify_tls = models.BooleanField(default=True)  # HTTPS and TLS checks: chain and host name
    # TLS certificate
    tls_expiry_days = models.PositiveSmallIntegerField(default=14)
    # DNS
    dns_record_type = models.CharField(max_length=5, choices=DnsRecordType.choices, default=DnsRecordType.A)
    dns_expected = models.CharField(max_length=500, blank=True)
    dns_server = models.CharField(max_length=100, blank=True)  # "ip" or "ip:port"; empty: the system resolver

    # State, written by the engine through services.record_checks.
    status = models.CharField(max_length=12, choices=MonitorStatus.choices, default=MonitorStatus.PENDING)
    consecutive_failures = models.PositiveIntegerField(default=0)
    failing_since = models.DateTimeField(null=True, blank=True)
    down_since = models.DateTimeField(null=True, blank=True)
    last_checked_at = models.DateTimeField(null=True, blank=True)
    last_response_ms = models.PositiveIntegerField(null=True, blank=True)
    last_message = models.CharField(max_length=500, blank=True)
    incident = models.ForeignKey("alerts.Incident", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    next_check_at = models.DateTimeField(null=True, blank=True)
    claim_seq = models.PositiveBigIntegerField(default=0)
    # Roll-up watermarks: hourly roll-ups exist for every hour before `rolled_until`, daily ones
    # for every day before `daily_rolled_until`.
    rolled_until = models.DateTimeField()
    daily_rolled_until = models.DateTimeField()
    created_at = models.DateTimeField(default=dj_timezone.now)

    class Meta:
        ordering = ["name", "id"]
        indexes = [
            models.Index(fields=["next_check_at"], condition=Q(paused=False), name="uptime_monitor_due"),
            models.Index(fields=["rolled_until"], name="uptime_monitor_rolled"),
        ]

    def __str__(self):
        return self.name

    @property
    def http_headers(self):
        return json.loads(secrets.decrypt(self.http_headers_encrypted)) if self.http_headers_encrypted else {}

    @http_headers.setter
    def http_headers(self, headers):
        self.http_headers_encrypted = secrets.encrypt(json.dumps(headers)) if headers else ""

    @property
    def masked_headers(self):
        """What anyone reads of the headers: the names; every value masked (any may be a credential)."""
        return {name: secrets.MASK for name in self.http_headers}

    @property
    def incident_key(self):
        return f"uptime-{self.pk}"

    @property
    def escalation_policy(self):
        return self.alert_source.escalation_policy if self.alert_source_id else None

    @property
    def display_target(self):
        if self.check_type in (CheckType.TCP, CheckType.TLS) and self.port:
            return f"{self.target}:{self.port}"
        if self.check_type == CheckType.DNS:
            return f"{self.dns_record_type} {self.target}"
        return self.target

    @property
    def is_retrying(self):
        return self.status != MonitorStatus.DOWN and self.consecutive_failures > 0


class CheckResult(TenantOwned):
    """One check, kept raw for UPTIME_RAW_RETENTION_DAYS (then only its roll-ups remain)."""

    monitor = models.ForeignKey(UptimeMonitor, on_delete=models.CASCADE, related_name="results",
                                db_index=False)  # uptime_result_monitor_at starts with it
    checked_at = models.DateTimeField()
    outcome = models.CharField(max_length=12, choices=Outcome.choices)
    response_ms = models.PositiveIntegerField(null=True, blank=True)
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    message = models.CharField(max_length=500, blank=True)
    # How long after its due time the check started (engine health; the benchmark reads it).
    lateness_ms = models.IntegerField(null=True, blank=True)
    # The time this result stands for: until the next check was due (shorter while a failure is
    # being confirmed). Uptime % is weighted by it, so retries do not inflate downtime.
    weight_seconds = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-checked_at", "-id"]
        indexes = [
            models.Index(fields=["monitor", "-checked_at"], name="uptime_result_monitor_at"),
            models.Index(fields=["checked_at"], name="uptime_result_at"),
        ]

    def __str__(self):
        return f"{self.monitor_id} {self.outcome} at {self.checked_at:%Y-%m-%d %H:%M:%S}"


class CheckRollup(TenantOwned):
    """Checks of one monitor aggregated over one hour or one day. `histogram` counts response times
    per logarithmic bucket (uptime.stats.BUCKETS), so percentiles survive aggregation."""

    class Period(models.TextChoices):
        HOUR = "hour", "Hour"
        DAY = "day", "Day"

    monitor = models.ForeignKey(UptimeMonitor, on_delete=models.CASCADE, related_name="rollups")
    period = models.CharField(max_length=4, choices=Period.choices)
    start = models.DateTimeField()
    checks = models.PositiveIntegerField(default=0)
    up = models.PositiveIntegerField(default=0)
    down = models.PositiveIntegerField(default=0)
    unavailable = models.PositiveIntegerField(default=0)
    response_count = models.PositiveIntegerField(default=0)
    response_sum_ms = models.PositiveBigIntegerField(default=0)
    response_max_ms = models.PositiveIntegerField(default=0)
    histogram = models.JSONField(default=dict, blank=True)
    up_seconds = models.PositiveBigIntegerField(default=0)  # sums of CheckResult.weight_seconds
    down_seconds = models.PositiveBigIntegerField(default=0)

    class Meta:
        ordering = ["monitor", "period", "start"]
        constraints = [
            models.UniqueConstraint(fields=["monitor", "period", "start"], name="uptime_rollup_unique"),
        ]
        indexes = [models.Index(fields=["period", "start"], name="uptime_rollup_period_start")]

    def __str__(self):
        return f"{self.monitor_id} {self.period} {self.start:%Y-%m-%d %H:%M}"
