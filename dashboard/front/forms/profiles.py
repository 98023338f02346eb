"""The browser profile form: name, description, browser settings and extensions."""

from typing import Any, cast

from django import forms

from dashboard.bctrl.extensions import Extension
from dashboard.bctrl.profiles import Profile
from dashboard.front.forms.launch_config import LaunchConfigForm
from dashboard.front.forms.upstream import UNCHANGED


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
