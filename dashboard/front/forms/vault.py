"""The vault entry form (create and edit); secrets are write-only, blank on edit keeps them."""

from typing import Any

from django import forms
from django.core.validators import RegexValidator

from dashboard.bctrl.errors import BctrlError
from dashboard.bctrl.vault import KEY_PATTERN, MAX_KEY_LENGTH, VaultEntry
from dashboard.front.forms.upstream import UNCHANGED, UpstreamForm, secret_field


def _lines(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip()]


vault_key_validator = RegexValidator(
    KEY_PATTERN,
    "Use /-separated names of letters, digits, '.', '_' and '-', each starting with a letter or digit.",
)


class VaultEntryForm(UpstreamForm):
    api_fields = {
        "key": "key",
        "username": "username",
        "password": "password",
        "totp": "totp",
        "label": "label",
        "matchOrigins": "match_origins",
        "origins": "match_origins",
        "originPatterns": "match_origins",
        "notes": "notes",
    }

    key = forms.CharField(
        max_length=MAX_KEY_LENGTH,
        validators=[vault_key_validator],
        help_text="A path-like name; folders come from '/', e.g. prod/crm/admin.",
    )
    label = forms.CharField(required=False, max_length=200)
    username = forms.CharField(
        required=False, max_length=500, widget=forms.TextInput(attrs={"autocomplete": "off"})
    )
    password = secret_field("Password", required=True)
    totp = secret_field(
        "TOTP seed", help_text="The base32 secret of the authenticator app set-up, if the site uses one."
    )
    match_origins = forms.CharField(
        required=False,
        label="Origins",
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="One per line: exact origins (https://crm.example.com) or globs (https://*.example.com).",
    )
    notes = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 3}))

    def __init__(self, *args: Any, entry: VaultEntry | None = None, **kwargs: Any) -> None:
        if entry is not None:
            kwargs["initial"] = {
                "label": entry.label,
                "username": entry.username,
                "match_origins": "\n".join(entry.match_origins),
                "notes": entry.notes,
            }
        super().__init__(*args, **kwargs)
        self.entry = entry
        if entry is not None:  # editing: the key is the address, and blank secrets keep the stored ones
            del self.fields["key"]
            for name in ("password", "totp"):
                self.fields[name].required = False
                self.fields[name].widget.attrs.update(UNCHANGED)
            self.fields["password"].help_text = "Leave blank to keep the stored password."
            self.fields["totp"].help_text = "Leave blank to keep the stored seed."
            if entry.has_totp:
                self.fields["remove_totp"] = forms.BooleanField(
                    required=False,
                    label="Remove the TOTP seed",
                    help_text="The site no longer asks for a code.",
                )

    def field_for_refusal(self, error: BctrlError) -> str | None:
        return "key" if error.code == "vault.invalid_key" and not error.field_errors else None

    def payload(self) -> dict[str, Any]:
        data = self.cleaned_data
        payload: dict[str, Any] = {
            "username": data.get("username", ""),
            "label": data.get("label", ""),
            "matchOrigins": _lines(data.get("match_origins", "")),
            "notes": data.get("notes", ""),
        }
        for name in ("password", "totp"):
            if data.get(name):
                payload[name] = data[name]
        if data.get("remove_totp"):
            payload["totp"] = None  # the API keeps an omitted seed and removes a null one
        return payload
