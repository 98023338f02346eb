"""Forms of the profile, extension, storage, vault and AI credential pages.

Secret fields (proxy password, vault password and TOTP seed, API keys) are write-only: their
widgets never render a value, and on edit a blank field means "keep the stored one".
"""

from typing import Any, cast

from django import forms
from django.core.validators import RegexValidator

from dashboard.bctrl.ai_credentials import ID_PATTERN, PROVIDERS
from dashboard.bctrl.extensions import Extension
from dashboard.bctrl.profiles import Profile
from dashboard.bctrl.vault import KEY_PATTERN, MAX_KEY_LENGTH, VaultEntry
from dashboard.front.forms import LaunchConfigForm, UpstreamForm, secret_field

UNCHANGED = {"placeholder": "unchanged", "autocomplete": "new-password"}


def _lines(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip()]


class ProfileForm(LaunchConfigForm):
    api_fields = {"name": "name", "description": "description", "extensionIds": "extension_ids"}

    name = forms.CharField(max_length=200, help_text="E.g. “CRM admin (logged in)”.")
    description = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))
    extension_ids = forms.MultipleChoiceField(
        required=False, label="Extensions", widget=forms.CheckboxSelectMultiple
    )

    def __init__(
        self, *args: Any, extensions: list[Extension], profile: Profile | None = None, **kwargs: Any
    ) -> None:
        if profile is not None:
            kwargs["initial"] = _profile_initial(profile)
        super().__init__(*args, **kwargs)
        self.profile = profile
        picker = cast(forms.MultipleChoiceField, self.fields["extension_ids"])
        picker.choices = [
            (e.id, f"{e.name} {e.version}" + ("" if e.enabled else " (disabled)")) for e in extensions
        ]
        if profile is not None:
            self.fields["proxy_password"].widget.attrs.update(
                UNCHANGED if profile.config.has_proxy_password else {}
            )
            self.fields["proxy_password"].help_text = (
                "Leave blank to keep the stored password (for the same server and username)."
                if profile.config.has_proxy_password
                else ""
            )

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        self.check_launch_config(cleaned)
        return cleaned

    def payload(self) -> dict[str, Any]:
        """The contract's body: {name, description, config: LaunchConfig, extensionIds}."""
        data = self.cleaned_data
        config = self.launch_config()
        return {
            "name": data["name"],
            "description": data.get("description", ""),
            "config": config,
            "extensionIds": list(data.get("extension_ids") or []),
        }


def _profile_initial(profile: Profile) -> dict[str, Any]:
    config = profile.config
    return {
        "name": profile.name,
        "description": profile.description,
        "viewport_width": config.viewport_width,
        "viewport_height": config.viewport_height,
        "user_agent": config.user_agent,
        "locale": config.locale,
        "timezone_id": config.timezone_id,
        "proxy_server": config.proxy_server,
        "proxy_username": config.proxy_username,
        "idle_timeout_seconds": config.idle_timeout_seconds,
        "extension_ids": profile.extension_ids,
    }


class ExtensionUploadForm(UpstreamForm):
    api_fields = {"file": "file", "name": "name"}

    file = forms.FileField(
        label="Extension package",
        help_text="A .zip or .crx of an unpacked extension with a manifest.json.",
        widget=forms.ClearableFileInput(attrs={"accept": ".zip,.crx"}),
    )
    name = forms.CharField(
        required=False, max_length=200, help_text="Defaults to the name in the extension's manifest."
    )

    def clean_file(self) -> Any:
        upload = self.cleaned_data["file"]
        if not upload.name.lower().endswith((".zip", ".crx")):
            raise forms.ValidationError("Choose a .zip or .crx file.")
        return upload

    def add_upstream_error(self, error: Any) -> None:
        if error.code == "extension.invalid_package" or error.status == 413:
            self.upstream_error = error
            self.add_error("file", error.message)
        else:
            super().add_upstream_error(error)


class ExtensionRenameForm(UpstreamForm):
    api_fields = {"name": "name"}

    name = forms.CharField(max_length=200)


class StorageUploadForm(UpstreamForm):
    api_fields = {"path": "name"}

    file = forms.FileField(label="File")
    folder = forms.CharField(required=False, widget=forms.HiddenInput, max_length=1024)
    name = forms.CharField(
        required=False,
        max_length=255,
        help_text="Stored under this name in the folder; defaults to the file's.",
    )

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        upload = cleaned.get("file")
        if upload is not None:
            name = (cleaned.get("name") or upload.name).strip().strip("/")
            cleaned["path"] = f"{cleaned.get('folder') or ''}{name}"
        return cleaned

    def add_upstream_error(self, error: Any) -> None:
        if error.code in ("storage.too_large",) or error.status == 413:
            self.upstream_error = error
            self.add_error("file", error.message)
        elif error.code.startswith("storage.invalid"):
            self.upstream_error = error
            self.add_error("name", error.message)
        else:
            super().add_upstream_error(error)


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

    def add_upstream_error(self, error: Any) -> None:
        if error.code == "vault.invalid_key" and "key" in self.fields and not error.field_errors:
            self.upstream_error = error
            self.add_error("key", error.message)
        else:
            super().add_upstream_error(error)

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


class AiCredentialForm(UpstreamForm):
    api_fields = {
        "id": "id",
        "provider": "provider",
        "label": "label",
        "apiKey": "api_key",
        "baseUrl": "base_url",
        "defaultModel": "default_model",
        "enabled": "enabled",
    }

    id = forms.CharField(
        max_length=64,
        label="Id",
        validators=[RegexValidator(ID_PATTERN, "Start with a letter, then letters, digits, '_' or '-'.")],
        help_text="How workspaces' AI mounts name it, e.g. openai-prod. Cannot change later.",
    )
    provider = forms.ChoiceField(choices=[(p, p) for p in PROVIDERS])
    label = forms.CharField(max_length=200)
    api_key = secret_field("API key", required=True)
    base_url = forms.URLField(
        required=False,
        label="Base URL",
        assume_scheme="https",
        help_text="Only for openai-compatible servers, e.g. http://127.0.0.1:11434/v1.",
    )
    default_model = forms.CharField(required=False, max_length=200, label="Default model")
    enabled = forms.BooleanField(required=False, initial=True)

    def __init__(self, *args: Any, credential: Any = None, **kwargs: Any) -> None:
        if credential is not None:  # bound forms still read a disabled field (provider) from here
            kwargs["initial"] = {
                "provider": credential.provider,
                "label": credential.label,
                "base_url": credential.base_url,
                "default_model": credential.default_model,
                "enabled": credential.enabled,
            }
        super().__init__(*args, **kwargs)
        self.credential = credential
        if credential is not None:  # the id is the address; the provider is part of what the key is for
            del self.fields["id"]
            self.fields["provider"].disabled = True
            self.fields["api_key"].required = False
            self.fields["api_key"].widget.attrs.update(UNCHANGED)
            self.fields["api_key"].help_text = "Leave blank to keep the stored key."

    def payload(self) -> dict[str, Any]:
        data = self.cleaned_data
        payload: dict[str, Any] = {
            "label": data["label"],
            "baseUrl": data.get("base_url") or None,
            "defaultModel": data.get("default_model") or None,
            "enabled": bool(data.get("enabled")),
        }
        if self.credential is None:
            payload.update(id=data["id"], provider=data["provider"])
        if data.get("api_key"):
            payload["apiKey"] = data["api_key"]
        return payload
