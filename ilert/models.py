"""The dev outbox: where every channel delivers when no real provider is configured (embedded mode,
only with settings.DEV_OUTBOX on).

The dashboard shows admins their organisation's messages, so a new user sees pages and emails with
no accounts anywhere; the notifications app lets them simulate a reply from here. Account messages
(password resets, invitations, verification codes) carry secrets that act as their addressee: they
are shown to that person only, never to an admin.
"""

from django.db import models
from django.utils import timezone


class DevMessage(models.Model):
    tenant = models.ForeignKey("accounts.Tenant", on_delete=models.CASCADE, null=True, related_name="+")
    channel = models.CharField(max_length=16)  # email, sms, voice, push
    to = models.CharField(max_length=320)
    subject = models.CharField(max_length=500, blank=True)
    body = models.TextField(blank=True)
    html = models.TextField(blank=True)
    # What a simulated reply needs (e.g. the notification id); set by the channel that wrote it.
    meta = models.JSONField(default=dict, blank=True)
    user = models.ForeignKey("accounts.User", on_delete=models.CASCADE, null=True, blank=True, related_name="+")
    account = models.BooleanField(default=False)  # shown to `user` only
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self):
        return f"{self.channel} to {self.to}: {self.subject or self.body[:40]}"


class SeenDelivery(models.Model):
    """A webhook delivery already acted on, by the id its sender gave it (a Mailgun token, a Twilio
    MessageSid): a second delivery with the same id is a replay or a retry and does nothing
    (ilert/replay.py). Rows are forgotten after `expires_at`, once the sender's own checks (e.g.
    Mailgun's timestamp window) refuse the delivery anyway."""

    scope = models.CharField(max_length=32)  # whose ids: "mailgun", "postmark", "twilio-message", …
    key = models.CharField(max_length=255)
    seen_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField(db_index=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["scope", "key"], name="seen_delivery_once")]

    def __str__(self):
        return f"{self.scope}:{self.key}"


class Tick(models.Model):
    """When a periodic task (settings.TICK_SCHEDULE) is next due. Every ticker (ilert/ticker.py: one in
    each worker, or the embedded `manage.py ticker`) takes a tick with one conditional UPDATE of this
    row, so each tick happens once, in whichever process is alive."""

    name = models.CharField(max_length=200, primary_key=True)
    due_at = models.DateTimeField()
    taken_at = models.DateTimeField(null=True)
    taken_by = models.CharField(max_length=200, blank=True)  # host:pid of the process that took the last tick

    def __str__(self):
        return f"{self.name} due {self.due_at:%H:%M:%S}"
