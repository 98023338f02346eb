"""The AI credential form (create and edit); the API key is write-only, blank on edit keeps it."""

from typing import Any

from django import forms
from django.core.validators import RegexValidator

from dashboard.bctrl.ai_credentials import ID_PATTERN, PROVIDERS
from dashboard.front.forms.upstream import UNCHANGED, UpstreamForm, secret_field


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
