"""The launch form (new runtimes, relaunches) and what it reads: metadata labels, alias suggestions.

The step runner's forms are in `steps.py`."""

import json
import re
import secrets
import uuid
from typing import Any

from django import forms

from dashboard.bctrl.errors import BctrlError
from dashboard.bctrl.runtimes import ALIAS_PATTERN, DRIVERS, Choice, Runtime
from dashboard.front.forms.launch_config import LaunchConfigForm

# A run's metadata, as this engine bounds it: at most 20 keys, each a key=value label.
METADATA_KEY = re.compile(r"^[A-Za-z0-9_.:/-]{1,64}$")
METADATA_MAX_KEYS = 20
METADATA_VALUE_MAX = 256


def parse_metadata(raw: str, separators: str = "\r\n") -> dict[str, str]:
    """`team=payments` labels (one a line, or split by `separators`) as a dict; a clear
    ValidationError naming the first one that is not a label."""
    labels: dict[str, str] = {}
    for part in re.split(f"[{separators}]+", raw.strip()) if raw.strip() else []:
        key, equals, value = part.strip().partition("=")
        if not equals or not METADATA_KEY.match(key.strip()):
            raise forms.ValidationError(
                f"“{part.strip()[:80]}” is not a label: write key=value, the key 1-64 letters, digits and _ . : / -."
            )
        if any(ord(character) < 32 or ord(character) == 127 for character in value):
            raise forms.ValidationError(f"The value of {key.strip()} has a control character.")
        if len(value.strip()) > METADATA_VALUE_MAX:
            raise forms.ValidationError(
                f"The value of {key.strip()} is longer than {METADATA_VALUE_MAX} characters."
            )
        labels[key.strip()] = value.strip()
    if len(labels) > METADATA_MAX_KEYS:
        raise forms.ValidationError(f"At most {METADATA_MAX_KEYS} labels.")
    return labels


class RuntimeLaunchForm(LaunchConfigForm):
    config_path = "launch.config"
    api_fields = {
        "alias": "alias",
        "driver": "driver",
        "launch.profileId": "profile_id",
        "launch.config.extensionIds": "extension_ids",
        "mounts": "mounts_json",
        "metadata": "metadata_text",
    }

    alias = forms.RegexField(
        regex=ALIAS_PATTERN,
        max_length=63,
        error_messages={
            "invalid": "Start with a lowercase letter; then lowercase letters, digits and dashes."
        },
        help_text="How steps name this browser; a suggestion is filled in, change it if you like. "
        "Lowercase letters, digits, dashes.",
        widget=forms.TextInput(
            # the browser compiles `pattern` with the v flag, where a literal dash must be escaped
            attrs={"pattern": r"[a-z][a-z0-9\-]{0,62}", "autocomplete": "off", "spellcheck": "false"}
        ),
    )
    driver = forms.ChoiceField(choices=[(d, d.capitalize()) for d in DRIVERS], initial="playwright")
    launch_mode = forms.ChoiceField(
        choices=[
            ("ephemeral", "Ephemeral: a fresh browser, forgotten when stopped"),
            ("profile", "Profile: keeps cookies and storage between launches"),
        ],
        initial="ephemeral",
        widget=forms.RadioSelect,
    )
    # Required in profile mode only (checked in clean); the template marks it required there.
    profile_id = forms.ChoiceField(required=False, label="Profile (required in profile mode)", choices=[])
    extension_ids = forms.MultipleChoiceField(
        required=False, label="Extensions", choices=[], widget=forms.CheckboxSelectMultiple
    )
    mounts_json = forms.CharField(
        required=False,
        label="Narrow mounts (JSON)",
        widget=forms.Textarea(attrs={"rows": 3, "spellcheck": "false"}),
        help_text='Optional: give this runtime less than the workspace allows, e.g. {"vault": {"allow": ["prod/crm/"]}}. '
        "It can never get more.",
    )

    metadata_text = forms.CharField(
        required=False,
        label="Metadata",
        widget=forms.Textarea(attrs={"rows": 2, "spellcheck": "false", "placeholder": "team=payments"}),
        help_text="Optional labels to find this run by, one key=value a line; the runtimes lists filter by them.",
    )

    def __init__(
        self,
        *args: Any,
        profiles: list[Choice] | None = None,
        extensions: list[Choice] | None = None,
        alias_base: str = "browser",
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        profile_field = self.fields["profile_id"]
        assert isinstance(profile_field, forms.ChoiceField)
        profile_field.choices = [("", "Choose a profile")] + [
            (p.id, f"{p.name} ({p.note})" if p.note else p.name) for p in profiles or []
        ]
        extension_field = self.fields["extension_ids"]
        assert isinstance(extension_field, forms.ChoiceField)
        extension_field.choices = [(e.id, e.name) for e in extensions or []]
        if not self.is_bound:
            self.initial.setdefault("alias", suggest_alias(alias_base))

    def clean_mounts_json(self) -> dict[str, Any] | None:
        raw = self.cleaned_data.get("mounts_json", "").strip()
        if not raw:
            return None
        try:
            mounts = json.loads(raw)
        except ValueError as exc:
            raise forms.ValidationError(f"This is not valid JSON: {exc}.") from exc
        if not isinstance(mounts, dict):
            raise forms.ValidationError('Give a JSON object, e.g. {"storage": {"workspace": "exports"}}.')
        return mounts

    def clean_metadata_text(self) -> dict[str, str]:
        return parse_metadata(self.cleaned_data.get("metadata_text", ""))

    def field_for_refusal(self, error: BctrlError) -> str | None:
        # A 403 on launch with narrowed mounts is the mounts asking for more than the workspace
        # allows: say so next to them, in the API's words.
        narrowed = self.cleaned_data.get("mounts_json")
        return "mounts_json" if error.status == 403 and narrowed and not error.field_errors else None

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if cleaned.get("launch_mode") == "profile":
            if not cleaned.get("profile_id"):
                self.add_error("profile_id", "Choose the profile to launch.")
            cleaned["launch"] = {"mode": "profile", "profileId": cleaned.get("profile_id")}
            return cleaned
        self.check_launch_config(cleaned)
        config = self.launch_config()
        if cleaned.get("extension_ids"):
            config["extensionIds"] = cleaned["extension_ids"]
        cleaned["launch"] = {"mode": "ephemeral", "config": config} if config else {"mode": "ephemeral"}
        return cleaned


def suggest_alias(base: str) -> str:
    """An alias nobody has to type: `base` made alias-shaped, plus a short random suffix."""
    stem = re.sub(r"[^a-z0-9]+", "-", base.lower()).strip("-")[:40]
    if not stem or not stem[0].isalpha():
        stem = f"browser-{stem}".strip("-")[:40]
    return f"{stem}-{secrets.token_hex(2)}"


def launch_initial(runtime: Runtime) -> dict[str, Any]:
    """The launch form filled in from an earlier run: same alias, driver, mode, profile and config.

    A proxy password is never returned by the API, so it cannot be filled in: the form says so.
    """
    config = runtime.config or {}
    viewport = config.get("viewport") or {}
    proxy = config.get("proxy") or {}
    return {
        "alias": runtime.alias,
        "driver": runtime.driver,
        "launch_mode": runtime.summary.launch_mode,
        "profile_id": runtime.summary.profile_id or "",
        "viewport_width": viewport.get("width"),
        "viewport_height": viewport.get("height"),
        "user_agent": config.get("userAgent") or "",
        "locale": config.get("locale") or "",
        "timezone_id": config.get("timezoneId") or "",
        "proxy_server": proxy.get("server") or "",
        "proxy_username": proxy.get("username") or "",
        "idle_timeout_seconds": config.get("idleTimeoutSeconds"),
        "extension_ids": list(config.get("extensionIds") or []),
        "metadata_text": "\n".join(f"{key}={value}" for key, value in runtime.metadata.items()),
    }


def fresh_key() -> str:
    return uuid.uuid4().hex
