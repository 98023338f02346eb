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
