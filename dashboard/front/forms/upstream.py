"""The base of every form whose data goes to the API, and the write-only secret field.

Every create form carries an idempotency key, so a double submit makes one thing. Secret fields
(proxy password, vault password and TOTP seed, API keys) never render a value, and on edit a
blank one means "keep the stored one".
"""

import uuid
from typing import Any

from django import forms

from dashboard.bctrl.errors import BctrlError


class UpstreamForm(forms.Form):
    """A form whose data goes to the API; the API's own field errors come back inline.

    `api_fields` maps the API's `details.fields[].path` to this form's field names; a path the
    map does not name is tried without its last parts (`mounts.vault.allow.2` → `mounts.vault.allow`).
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

    def _field_for(self, path: str) -> str | None:
        parts = path.split(".")
        while parts:
            candidate = ".".join(parts)
            if candidate in self.api_fields:
                return self.api_fields[candidate]
            if candidate in self.fields:
                return candidate
            parts.pop()
        return None

    def field_for_refusal(self, error: BctrlError) -> str | None:
        """The field a whole-request refusal is about (a too-large file, say), to show it there."""
        return None

    def add_upstream_error(self, error: BctrlError) -> None:
        """Show the API's refusal next to the fields it names, the rest above the form."""
        self.upstream_error = error
        if (field := self.field_for_refusal(error)) in self.fields:
            self.add_error(field, error.message)
            return
        placed = False
        for path, message in error.field_errors.items():
            name = self._field_for(path)
            if name and name in self.fields:
                self.add_error(name, message)
                placed = True
        if not placed:
            self.add_error(None, error.user_message)


def secret_field(label: str, help_text: str = "", required: bool = False) -> forms.CharField:
    """A write-only field: its widget never renders a value, not even after a failed submit."""
    return forms.CharField(
        label=label,
        required=required,
        strip=False,
        max_length=4096,
        help_text=help_text,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
    )


# The attributes of a secret field on an edit form, where blank keeps the stored secret.
UNCHANGED = {"placeholder": "unchanged", "autocomplete": "new-password"}
