"""What a user sets for themself: the time zone the console shows moments in."""

from django.conf import settings
from django.db import models


class Preferences(models.Model):
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="preferences"
    )
    # An IANA zone name (Europe/Paris); empty means the console's TIME_ZONE.
    time_zone = models.CharField(max_length=64, blank=True)

    class Meta:
        verbose_name_plural = "preferences"

    def __str__(self) -> str:
        return f"{self.user} ({self.time_zone or 'default zone'})"


class SingleSignOnIdentity(models.Model):
    """The identity provider's subject a user signs in as (dashboard/accounts/sso.py): the one
    thing single sign-on finds a user by, never a name or an e-mail address."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="sso_identity"
    )
    issuer = models.CharField(max_length=255)
    subject = models.CharField(max_length=255)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["issuer", "subject"], name="one_user_per_sso_subject")]

    def __str__(self) -> str:
        return f"{self.subject} at {self.issuer}"
