"""Contact methods, notification rules, the notification outbox and per-tenant provider settings.

A Notification row is one message to one address about one incident (or a notice, a shift reminder,
a verification code). Its life (docs/architecture.md §4):

    pending ──claim──▶ sending (deadline) ──provider ok──▶ sent ──status callback──▶ delivered
       ▲                  │  │                              └─undelivered──▶ failed (+ next step)
       └──transient error─┘  ├─permanent error / last try──▶ failed (+ the user's next step at once)
                             ├─outcome unknown (timeout)──▶ still sending; at the deadline the
                             │     channel looks the message up: found → sent; not found → pending;
                             │     channel cannot look up → uncertain (never re-sent; next step)
                             └─handler keeps crashing──▶ parked (with the error; next step)
    pending ──incident accepted/resolved──▶ cancelled

Every provider call made for a notification (a send, or a lookup after an unknown outcome) is a
DeliveryAttempt row, written before the call and completed with its answer (docs/notifications-delivery.md).
"""

import base64
import json
import secrets as pysecrets

from django.db import models
from django.db.models import Q
from django.utils import timezone as dj_timezone

from alerts.models import Priority
from ilert import secrets
from ilert.tenancy import TenantOwned, tenant_key


def _registry():
    # Cycle: every channel module imports these models (renderers, lookups), so the registry is
    # read at call time, never at import.
    from . import channels

    return channels


def channel_choices():
    """The registered channels. A callable, so migrations keep a reference to it instead of a frozen
    list: a new channel needs no migration (docs/recipes/add-a-notification-channel.md)."""
    return _registry().choices()


def channel_of(name):
    """The Channel (channels/<name>.py) behind a stored channel name."""
    return _registry().get(name)

# Pages that come within this many seconds of the previous page to the same contact method wait for
# the window to end and then go out as one bundled message ("5 new incidents, first: …").
DEFAULT_BUNDLE_SECONDS = 60


def new_token():
    """A random, lowercase token (100 bits, base32 a-z2-7): safe in URLs and in email local parts."""
    return new_tokens(1)[0]


def new_tokens(count):
    """`count` tokens at once (a storm writes hundreds of pages in one statement). 15 random bytes
    are 24 base32 characters, encoded independently of their neighbours; 20 of them are kept."""
    text = base64.b32encode(pysecrets.token_bytes(15 * count)).decode().lower()
    return [text[start:start + 20] for start in range(0, 24 * count, 24)]


class ContactMethod(TenantOwned):
    class Platform(models.TextChoices):
        IOS = "ios", "iOS"
        ANDROID = "android", "Android"

    user = models.ForeignKey("accounts.User", on_delete=models.CASCADE, related_name="contact_methods")
    kind = models.CharField(max_length=8, choices=channel_choices)
    # An email address, an E.164 phone number, a Firebase registration token (push), or a browser's
    # Web Push endpoint URL (webpush).
    address = models.CharField(max_length=1024)
    platform = models.CharField(max_length=8, choices=Platform.choices, blank=True)
    device_name = models.CharField(max_length=120, blank=True)
    verified_at = models.DateTimeField(null=True, blank=True)
    verification_hash = models.CharField(max_length=64, blank=True)
    verification_sent_at = models.DateTimeField(null=True, blank=True)
    verification_attempts = models.PositiveSmallIntegerField(default=0)
    # The number answered STOP: carriers require that we send it no more SMS until START.
    opted_out = models.BooleanField(default=False)
    # The provider said the address does not exist (e.g. an unregistered push token).
    disabled_reason = models.CharField(max_length=255, blank=True)
    throttle_max = models.PositiveSmallIntegerField(null=True, blank=True)  # None: channel default; 0: off
    throttle_minutes = models.PositiveSmallIntegerField(null=True, blank=True)
    bundle_seconds = models.PositiveIntegerField(null=True, blank=True)  # None: default; 0: never bundle
    created_at = models.DateTimeField(default=dj_timezone.now)
    # Web Push: the subscription's keys {"p256dh", "auth"} as JSON, encrypted (ilert.secrets).
    push_keys_encrypted = models.TextField(blank=True)
    # Web Push: sha256 of the renewal token the browser holds to move this method to its new
    # subscription when the push service replaces it (pushsubscriptionchange; docs/push.md).
    push_renewal_hash = models.CharField(max_length=64, blank=True)

    class Meta:
        ordering = ["kind", "created_at", "id"]
        indexes = [models.Index(fields=["kind", "address"], name="contact_method_address")]
        constraints = [
            models.UniqueConstraint(fields=["user", "kind", "address"], name="contact_method_unique_per_user"),
            # A browser's subscription pages one person: never two users (or organisations) at once.
            models.UniqueConstraint(fields=["address"], condition=Q(kind="webpush"),
                                    name="contact_method_webpush_endpoint"),
        ]

    def __str__(self):
        return f"{self.get_kind_display()} {self.display_address}"

    @property
    def is_verified(self):
        return self.verified_at is not None

    @property
    def usable(self):
        """May this contact method be paged?"""
        if not self.is_verified or self.disabled_reason:
            return False
        return not (self.opted_out and channel_of(self.kind).opt_out)

    @property
    def verification(self):
        """How its channel verifies it: "code", "link", or "" (verified when the device registers)."""
        return channel_of(self.kind).verification

    @property
    def push_keys(self):
        """The Web Push subscription's {"p256dh", "auth"} (base64url), or {}."""
        return json.loads(secrets.decrypt(self.push_keys_encrypted)) if self.push_keys_encrypted else {}

    @property
    def display_address(self):
        return channel_of(self.kind).shown_address(self)

    @property
    def throttle(self):
        default_max, default_minutes = channel_of(self.kind).throttle
        maximum = default_max if self.throttle_max is None else self.throttle_max
        return maximum, self.throttle_minutes or default_minutes

    @property
    def bundle_window(self):
        return DEFAULT_BUNDLE_SECONDS if self.bundle_seconds is None else self.bundle_seconds


class NotificationRule(TenantOwned):
    """One step of a user's rules: on a new assignment of `priority`, use `contact_method` after
    `delay_minutes`, while the incident is still unaccepted."""

    user = models.ForeignKey("accounts.User", on_delete=models.CASCADE, related_name="notification_rules")
    priority = models.CharField(max_length=4, choices=Priority.choices)
    contact_method = models.ForeignKey(ContactMethod, on_delete=models.CASCADE, related_name="rules")
    delay_minutes = models.PositiveSmallIntegerField(default=0)
    created_at = models.DateTimeField(default=dj_timezone.now)

    class Meta:
        ordering = ["priority", "delay_minutes", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["user", "priority", "contact_method", "delay_minutes"], name="notification_rule_unique_step"
            )
        ]

    def __str__(self):
        return f"{self.priority}: {self.contact_method} after {self.delay_minutes} min"


class ReplyCodeFloor(TenantOwned):
    """Every reply code below `lowest` is taken by one of the user's open incidents (or was, until a
    ReplyCodeRelease says otherwise), so the search for free codes starts there: a storm paging one
    user thousands of times stays a short range scan. Written only by the search, under the user's
    reply-code lock (notifications.services.reply_codes)."""

    user = models.OneToOneField("accounts.User", on_delete=models.CASCADE, primary_key=True, related_name="+")
    lowest = models.PositiveIntegerField(default=1)


class ReplyCodeRelease(TenantOwned):
    """A code an incident held when it closed: the user's next search starts no higher. Inserted by
    the resolving transaction (which so never waits for a search in progress), consumed by the next
    search for that user."""

    user = models.ForeignKey("accounts.User", on_delete=models.CASCADE, related_name="+")
    code = models.PositiveIntegerField()


class ProfileNotice(TenantOwned):
    """Something the user must learn on their profile, e.g. that a push service dropped one of their
    browsers' subscriptions (it was removed). Shown until dismissed."""

    user = models.ForeignKey("accounts.User", on_delete=models.CASCADE, related_name="profile_notices")
    text = models.CharField(max_length=500)
    created_at = models.DateTimeField(default=dj_timezone.now)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self):
        return self.text


class NotificationSettings(TenantOwned):
    """A user's opt-ins beyond pages."""

    user = models.OneToOneField("accounts.User", on_delete=models.CASCADE, related_name="notification_settings")
    notify_on_accept = models.BooleanField(default=False)
    notify_on_resolve = models.BooleanField(default=False)
    shift_reminders = models.BooleanField(default=False)
    reminder_minutes = models.PositiveSmallIntegerField(default=60)
    # Where notices and reminders go; None: the first usable push device, else email.
    notice_contact_method = models.ForeignKey(
        ContactMethod, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )


class Notification(TenantOwned):
    class Kind(models.TextChoices):
        PAGE = "page", "Page"
        NOTICE = "notice", "Notice"
        REMINDER = "reminder", "Shift reminder"
        VERIFY = "verify", "Verification"

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        SENDING = "sending", "Sending"
        SENT = "sent", "Sent"
        DELIVERED = "delivered", "Delivered"
        FAILED = "failed", "Failed"
        CANCELLED = "cancelled", "Cancelled"
        UNCERTAIN = "uncertain", "Uncertain"  # the provider timed out and cannot be asked; never re-sent
        PARKED = "parked", "Parked"  # its handler kept crashing; the error is kept

    DONE = (Status.SENT, Status.DELIVERED, Status.FAILED, Status.CANCELLED, Status.UNCERTAIN, Status.PARKED)
    # Messages that count against a contact method's throttle and bundle window.
    WENT_OUT = (Status.SENDING, Status.SENT, Status.DELIVERED, Status.UNCERTAIN)

    kind = models.CharField(max_length=8, choices=Kind.choices, default=Kind.PAGE)
    tenant = tenant_key(db_index=False)  # notification_report_delivery starts with it
    # Both indexed by the composite indexes below (a single-column copy would only slow the
    # escalation engine's bulk inserts).
    incident = models.ForeignKey(
        "alerts.Incident", null=True, blank=True, on_delete=models.CASCADE, related_name="notifications", db_index=False
    )
    user = models.ForeignKey("accounts.User", on_delete=models.CASCADE, related_name="notifications", db_index=False)
    contact_method = models.ForeignKey(
        ContactMethod, null=True, blank=True, on_delete=models.SET_NULL, related_name="notifications"
    )
    channel = models.CharField(max_length=8, choices=channel_choices)
    address = models.CharField(max_length=1024)
    # Which rule step and which escalation round (or reassignment) this is: (incident, user, step,
    # round) is unique, so a repeated call never pages twice.
    step = models.CharField(max_length=64, blank=True)
    step_delay = models.PositiveSmallIntegerField(default=0)
    round_tag = models.CharField(max_length=64, blank=True)
    dedup_key = models.CharField(max_length=255)  # unique (Meta: a constraint, without a LIKE index)
    reason = models.CharField(max_length=255, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    due_at = models.DateTimeField()
    deadline = models.DateTimeField(null=True, blank=True)
    claimed_at = models.DateTimeField(null=True, blank=True)
    first_claimed_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    crashes = models.PositiveSmallIntegerField(default=0)
    lookups = models.PositiveSmallIntegerField(default=0)
    # Bumped by every claim; a worker only records the outcome of the claim it holds.
    lease = models.PositiveIntegerField(default=0)
    # A provider call went out and its outcome is not recorded (in flight, timed out, its worker
    # died): the sweeper asks the provider before anything is sent again.
    outcome_unknown = models.BooleanField(default=False)
    provider = models.CharField(max_length=16, blank=True)  # twilio, fcm, email, dev
    provider_account = models.CharField(max_length=64, blank=True)
    provider_id = models.CharField(max_length=255, blank=True)
    error = models.TextField(blank=True)
    # The page whose message carried this one (bundling): its status follows the leader's.
    bundle = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL, related_name="bundled",
                               db_index=False)  # partial index below
    reply_code = models.PositiveIntegerField(null=True, blank=True)
    # Addresses this notification in provider webhooks and email replies.
    token = models.CharField(max_length=32, default=new_token)  # unique (Meta)
    # Notices, reminders and codes: the text to send (pages are rendered from the incident).
    subject = models.CharField(max_length=500, blank=True)
    body = models.TextField(blank=True)
    # The text as first sent; a retry sends exactly this (and a provider lookup recognises it).
    sent_text = models.TextField(blank=True)
    created_at = models.DateTimeField(default=dj_timezone.now)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["due_at"], condition=Q(status="pending"), name="notification_due"),
            models.Index(fields=["deadline"], condition=Q(status="sending"), name="notification_deadline"),
            models.Index(fields=["user", "channel", "address", "claimed_at"], name="notification_throttle"),
            models.Index(fields=["incident", "user"], name="notification_incident_user"),
            models.Index(fields=["provider_id"], condition=~Q(provider_id=""), name="notification_provider_id"),
            models.Index(fields=["bundle"], condition=Q(bundle__isnull=False), name="notification_bundle"),
            models.Index(fields=["user", "reply_code"], condition=Q(reply_code__isnull=False),
                         name="notification_reply_code"),
            # The reports read these by range (reports/queries.py): pages by `sent_at`, deliveries
            # by `created_at`, with the grouped columns included so PostgreSQL scans only the index.
            models.Index(fields=["tenant", "sent_at"], include=["user", "channel"],
                         condition=Q(kind="page", bundle__isnull=True, sent_at__isnull=False),
                         name="notification_report_pages"),
            models.Index(fields=["tenant", "created_at"],
                         include=["channel", "provider", "status", "attempts", "sent_at"],
                         name="notification_report_delivery"),
        ]
        constraints = [
            models.UniqueConstraint(fields=["dedup_key"], name="notification_dedup_key"),
            models.UniqueConstraint(fields=["token"], name="notification_token"),
        ]

    def __str__(self):
        return f"{self.get_channel_display()} to {self.address} ({self.status})"


class DeliveryAttempt(TenantOwned):
    """One provider call for a notification: a send, or a lookup ("did the provider take it?") after
    an unknown outcome. Written when the call starts (`calling`) and completed with the provider's
    answer, so a call whose worker died mid-way is visible too. A bundled message is one call with
    a row for each notification it carried. `lease` is the claim the call was made under."""

    class Kind(models.TextChoices):
        SEND = "send", "Send"
        LOOKUP = "lookup", "Lookup"

    class Result(models.TextChoices):
        CALLING = "calling", "No answer recorded"  # in flight, or its worker stopped mid-call
        SENT = "sent", "Sent"
        FAILED = "failed", "Error"
        TIMEOUT = "timeout", "No answer in time"  # the outcome is unknown: looked up, never re-sent blindly
        CRASHED = "crashed", "Handler failed"
        FOUND = "found", "Found at the provider"
        NOT_FOUND = "not_found", "Not at the provider"

    tenant = tenant_key(db_index=False)  # read by notification only
    notification = models.ForeignKey(Notification, on_delete=models.CASCADE, related_name="delivery_attempts",
                                     db_index=False)  # the index below starts with it
    kind = models.CharField(max_length=8, choices=Kind.choices)
    lease = models.PositiveIntegerField()
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)
    result = models.CharField(max_length=10, choices=Result.choices, default=Result.CALLING)
    provider = models.CharField(max_length=16, blank=True)
    provider_id = models.CharField(max_length=255, blank=True)
    error = models.TextField(blank=True)
    worker = models.CharField(max_length=100, blank=True)  # host:pid of the process that made the call

    class Meta:
        ordering = ["started_at", "id"]
        indexes = [models.Index(fields=["notification", "started_at"], name="delivery_attempt_notification")]

    def __str__(self):
        return f"{self.kind} {self.result} at {self.started_at:%H:%M:%S}"


class ProviderSettings(TenantOwned):
    """A tenant's own Twilio and Firebase credentials (else the platform's, else the dev outbox).
    Secrets are stored encrypted and never shown again."""

    twilio_account_sid = models.CharField(max_length=64, blank=True)
    twilio_auth_token_encrypted = models.TextField(blank=True)
    twilio_from_number = models.CharField(max_length=32, blank=True)
    firebase_credentials_encrypted = models.TextField(blank=True)
    firebase_project_id = models.CharField(max_length=120, blank=True)
    updated_at = models.DateTimeField(default=dj_timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["tenant"], name="provider_settings_one_per_tenant"),
            # A Twilio account serves one organisation: its webhooks are checked with its one token and
            # reach that organisation only (providers.webhook_account).
            models.UniqueConstraint(fields=["twilio_account_sid"], condition=~Q(twilio_account_sid=""),
                                    name="provider_settings_twilio_sid_unique"),
        ]

    @property
    def twilio_configured(self):
        return bool(self.twilio_account_sid and self.twilio_auth_token_encrypted and self.twilio_from_number)

    @property
    def twilio_auth_token(self):
        return secrets.decrypt(self.twilio_auth_token_encrypted) if self.twilio_auth_token_encrypted else ""

    @property
    def firebase_configured(self):
        return bool(self.firebase_credentials_encrypted)

    @property
    def firebase_credentials(self):
        return secrets.decrypt(self.firebase_credentials_encrypted) if self.firebase_credentials_encrypted else ""
