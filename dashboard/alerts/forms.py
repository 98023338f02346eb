"""The alert rule form: what to watch, and where to send it (a webhook, e-mail addresses, or both)."""

from typing import Any

from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import validate_email

from dashboard.alerts import egress
from dashboard.alerts.models import AlertRule

THRESHOLDS = {
    AlertRule.Event.RUNTIME_LONG: ("minutes", 1, 7 * 24 * 60),
    AlertRule.Event.API_UNREACHABLE: ("seconds", 5, 24 * 3600),
}


class AlertRuleForm(forms.ModelForm):
    workspace_id = forms.ChoiceField(
        required=False,
        label="Workspace",
        help_text="Only this workspace's runs and runtimes (the API's outages concern every workspace).",
    )

    class Meta:
        model = AlertRule
        fields = ["name", "event", "threshold", "workspace_id", "webhook_url", "emails", "enabled"]
        labels = {
            "event": "When",
            "threshold": "N (minutes or seconds)",
            "webhook_url": "Webhook URL",
            "emails": "E-mail addresses",
        }
        help_texts = {
            "threshold": "Minutes for a long-running runtime; seconds for an unreachable API (5 or more).",
            "webhook_url": "A JSON POST signed with the rule's secret (X-BCTRL-Signature); public addresses only "
            "unless ALERT_WEBHOOK_ALLOW names the host.",
            "emails": "One per line; sent through the console's e-mail backend (EMAIL_URL).",
        }
        widgets = {"emails": forms.Textarea(attrs={"rows": 3, "spellcheck": "false"})}

    def __init__(self, *args: Any, workspaces: list[tuple[str, str]] | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        choices = [("", "Every workspace"), *(workspaces or [])]
        current = self.initial.get("workspace_id") or (self.instance.workspace_id if self.instance else "")
        if current and current not in dict(choices):
            choices.append((current, f"workspace {current}"))  # a workspace the API did not list
        self.fields["workspace_id"].choices = choices  # type: ignore[attr-defined]
        self.fields["threshold"].widget.attrs.update(min=1)

    def clean_emails(self) -> str:
        addresses = [line.strip() for line in self.cleaned_data["emails"].replace(",", "\n").splitlines()]
        addresses = [address for address in addresses if address]
        for address in addresses:
            try:
                validate_email(address)
            except ValidationError:
                raise ValidationError(f"“{address}” is not an e-mail address.") from None
        return "\n".join(addresses)

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        event = cleaned.get("event")
        if event in THRESHOLDS:
            unit, least, most = THRESHOLDS[event]
            threshold = cleaned.get("threshold")
            if threshold is None or not least <= threshold <= most:
                self.add_error("threshold", f"Give N in {unit}, from {least} to {most}.")
        else:
            cleaned["threshold"] = None
        if not cleaned.get("webhook_url") and not cleaned.get("emails") and not self.errors.get("emails"):
            self.add_error(
                "webhook_url", "Give a webhook URL, e-mail addresses, or both: where should it go?"
            )
        return cleaned

    async def ajudge_webhook(self) -> None:
        """The egress rule, on what the URL's host resolves to now (again at every delivery)."""
        url = self.cleaned_data.get("webhook_url") if hasattr(self, "cleaned_data") else None
        if not url:
            return
        try:
            await egress.resolve(url, settings.ALERT_WEBHOOK_ALLOW_ENTRIES)
        except egress.Refused as refusal:
            self.add_error("webhook_url", str(refusal))
