"""The console's own records for its pages: step recipes the team shares.

A recipe is a list of steps in the contract's execute shape (`[{"call", "args", "options"?,
"ref"?, "bind"?}]`), kept in the console's database, not the API's: it is the console's way of
reusing work, runnable on any runtime of any workspace.
"""

import json

from django.conf import settings
from django.db import models


class StepRecipe(models.Model):
    name = models.CharField(max_length=100, unique=True)
    description = models.TextField(blank=True)
    steps = models.JSONField()
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL)
    created_by_name = models.CharField(max_length=150, blank=True)  # kept when the user is deleted
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    @property
    def steps_json(self) -> str:
        return json.dumps(self.steps, indent=2, ensure_ascii=False)

    @property
    def calls(self) -> str:
        return ", ".join(str(step.get("call", "")) for step in self.steps if isinstance(step, dict))
