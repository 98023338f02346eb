"""The audit log: every mutating action in the console, who did it, and how it went."""

from django.conf import settings
from django.db import models


class AuditEntry(models.Model):
    class Outcome(models.TextChoices):
        SUCCEEDED = "succeeded"
        FAILED = "failed"
        DENIED = "denied"

    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL)
    username = models.CharField(max_length=150)  # kept when the user is deleted
    action = models.CharField(max_length=100)  # e.g. "workspace.create", "runtime.stop"
    target_type = models.CharField(max_length=50, blank=True)
    target_id = models.CharField(max_length=300, blank=True)
    # What the operator calls the target (a workspace's name, a runtime's alias in its workspace),
    # as it was then: ids alone made the log unreadable, and names change or go.
    target_name = models.CharField(max_length=300, blank=True)
    outcome = models.CharField(max_length=16, choices=Outcome.choices)
    status = models.PositiveSmallIntegerField(null=True, blank=True)  # upstream HTTP status
    request_id = models.CharField(max_length=100, blank=True)  # upstream X-Request-Id
    message = models.TextField(blank=True)
    remote_addr = models.GenericIPAddressField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "audit entries"

    def __str__(self) -> str:
        return f"{self.username} {self.action} {self.target_id} {self.outcome}"
