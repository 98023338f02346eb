"""Forms of the console. Every create form carries an idempotency key, so a double submit makes one thing."""

import uuid
from typing import Any

from django import forms

from dashboard.bctrl.errors import BctrlError


class UpstreamForm(forms.Form):
    """A form whose data goes to the API; the API's own field errors come back inline.

    `api_fields` maps the API's `details.fields[].path` to this form's field names.
    """

    api_fields: dict[str, str] = {}

    idempotency_key = forms.CharField(widget=forms.HiddenInput, required=False, max_length=64)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.upstream_error: BctrlError | None = None
        if not self.is_bound:
            self.initial.setdefault("idempotency_key", uuid.uuid4().hex)

    def clean_idempotency_key(self) -> str:
        return self.cleaned_data.get("idempotency_key") or uuid.uuid4().hex

    def add_upstream_error(self, error: BctrlError) -> None:
        """Show the API's refusal next to the fields it names, the rest above the form."""
        self.upstream_error = error
        placed = False
        for path, message in error.field_errors.items():
            field = self.api_fields.get(path) or (path if path in self.fields else None)
            if field:
                self.add_error(field, message)
                placed = True
        if not placed:
            self.add_error(None, error.user_message)


class WorkspaceForm(UpstreamForm):
    api_fields = {"name": "name"}

    name = forms.CharField(
        max_length=200, help_text="What the team calls this workspace, e.g. “CRM exports”."
    )

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        cleaned["mounts"] = None
        return cleaned
