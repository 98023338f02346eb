"""Alert rules (what to watch, where to send), their firings and each delivery's attempts.

A firing is also the claim that makes a rule fire once however many console processes see the
same event: one open (unresolved) row per rule and subject, enforced by the database
(`one_open_firing`); the process whose insert wins delivers. Deliveries are rows too, claimed by
`claimed_until`, so a delivery a process left half done is picked up by another.
"""

from urllib.parse import urlsplit

from django.conf import settings
from django.db import models


class AlertRule(models.Model):
    class Event(models.TextChoices):
        RUN_FAILED = "run_failed", "A run failed or timed out"
        RUNTIME_LONG = "runtime_long", "A runtime has run longer than N minutes"
        API_UNREACHABLE = "api_unreachable", "The API (engine) has been unreachable for N seconds"

    name = models.CharField(max_length=200)
    event = models.CharField(max_length=32, choices=Event.choices)
    # minutes (runtime_long) or seconds (api_unreachable); unused for run_failed
    threshold = models.PositiveIntegerField(null=True, blank=True)
    # only this workspace's runs and runtimes ("" : every workspace)
    workspace_id = models.CharField(max_length=64, blank=True)
    webhook_url = models.URLField(max_length=2000, blank=True)
    # the HMAC-SHA256 key of the webhook's signature: shown once, never drawn again
    webhook_secret = models.CharField(max_length=200, blank=True)
    emails = models.TextField(blank=True)  # one address per line
    enabled = models.BooleanField(default=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name", "id"]

    def __str__(self) -> str:
        return self.name

    @property
    def webhook_shown(self) -> str:
        """The webhook URL as lists show it: its host only (a path may be a secret, as Slack's are)."""
        return shown_url(self.webhook_url)

    @property
    def email_list(self) -> list[str]:
        return [line.strip() for line in self.emails.splitlines() if line.strip()]


def shown_url(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}/…" if parts.scheme and parts.netloc else url


class AlertFiring(models.Model):
    rule = models.ForeignKey(AlertRule, on_delete=models.CASCADE, related_name="firings")
    # what fired: "runtime:<id>", "operation:<id>", "runtime-long:<id>", "api"
    subject = models.CharField(max_length=200)
    summary = models.TextField()
    payload = models.JSONField(default=dict)
    fired_at = models.DateTimeField(auto_now_add=True, db_index=True)
    # an outage that ended: the rule may fire again for the next one (runs never resolve)
    resolved_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-fired_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["rule", "subject"],
                condition=models.Q(resolved_at__isnull=True),
                name="one_open_firing",
            )
        ]


class AlertDelivery(models.Model):
    class Channel(models.TextChoices):
        WEBHOOK = "webhook"
        EMAIL = "email"

    class State(models.TextChoices):
        PENDING = "pending"  # waiting for its next attempt
        SENDING = "sending"  # claimed by a process until `claimed_until`
        DELIVERED = "delivered"
        FAILED = "failed"  # out of attempts, or refused (an address the egress rule forbids)

    firing = models.ForeignKey(AlertFiring, on_delete=models.CASCADE, related_name="deliveries")
    channel = models.CharField(max_length=16, choices=Channel.choices)
    target = models.CharField(max_length=2000)  # the URL, or the addresses
    state = models.CharField(max_length=16, choices=State.choices, default=State.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(db_index=True)
    claimed_until = models.DateTimeField(null=True, blank=True)
    last_result = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    @property
    def target_shown(self) -> str:
        return shown_url(self.target) if self.channel == self.Channel.WEBHOOK else self.target


class DeliveryAttempt(models.Model):
    delivery = models.ForeignKey(AlertDelivery, on_delete=models.CASCADE, related_name="attempt_log")
    number = models.PositiveSmallIntegerField()
    at = models.DateTimeField(auto_now_add=True)
    ok = models.BooleanField()
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    result = models.TextField()  # what happened, in words ("200 OK in 35 ms", "connection refused")
    duration_ms = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["number"]
