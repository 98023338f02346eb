"""Forms of the workspace pages: name and mounts (with the editor's choices), and delete."""

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from django import forms
from django.template.loader import render_to_string
from django.utils.safestring import SafeString

from dashboard.bctrl.ai_credentials import PROVIDERS as AI_PROVIDERS
from dashboard.bctrl.errors import BctrlError
from dashboard.front.forms.upstream import UpstreamForm

NAMESPACE_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$"
VAULT_PREFIX_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/-]{0,255}$")


def _default_field(provider: str) -> str:
    return "ai_default_" + provider.replace("-", "_")


@dataclass(frozen=True)
class CredentialChoice:
    id: str
    provider: str
    label: str


@dataclass(frozen=True)
class MountChoices:
    """What the mounts editor offers. A list the API could not give is None, with its error:
    the editor then falls back to free text for it."""

    credentials: list[CredentialChoice] | None = None
    credentials_error: BctrlError | None = None
    vault_prefixes: list[str] = field(default_factory=list)
    vault_error: BctrlError | None = None
    namespaces: list[str] = field(default_factory=list)
    storage_error: BctrlError | None = None


class LinesWidget(forms.Widget):
    """One text input per value, all offering the same <datalist>, plus blank rows for new ones."""

    def __init__(
        self, datalist: str, row_label: str, spare: int = 2, attrs: dict[str, Any] | None = None
    ) -> None:
        super().__init__(attrs)
        self.datalist = datalist
        self.row_label = (
            row_label  # names the 2nd, 3rd... input for screen readers (the <label> names the 1st)
        )
        self.spare = spare

    def value_from_datadict(self, data: Any, files: Any, name: str) -> list[str]:
        return data.getlist(name) if hasattr(data, "getlist") else list(data.get(name) or [])

    def render(
        self, name: str, value: Any, attrs: dict[str, Any] | None = None, renderer: Any = None
    ) -> SafeString:
        values = [v for v in (value or []) if v] if not isinstance(value, str) else value.splitlines()
        context = {
            "name": name,
            "id": (attrs or {}).get("id") or f"id_{name}",
            "rows": [*values, *([""] * self.spare)],
            "datalist": self.datalist,
            "row_label": self.row_label,
            "placeholder": self.attrs.get("placeholder", ""),
        }
        return render_to_string("includes/lines_widget.html", context)


class LinesTextarea(forms.Textarea):
    """Free text, one value per line (the fallback when the API could not list the choices)."""

    def format_value(self, value: Any) -> str | None:
        return "\n".join(value) if isinstance(value, list | tuple) else super().format_value(value)


class LinesField(forms.Field):
    """A list of short strings, however they were typed (rows of inputs or lines of a textarea)."""

    def __init__(self, *, pattern: re.Pattern[str] | None = None, **kwargs: Any) -> None:
        kwargs.setdefault("required", False)
        super().__init__(**kwargs)
        self.pattern = pattern

    def to_python(self, value: Any) -> list[str]:
        if isinstance(value, str):
            value = value.splitlines()
        return list(dict.fromkeys(v.strip() for v in value or [] if v and v.strip()))

    def validate(self, value: list[str]) -> None:
        super().validate(value)
        bad = [v for v in value if self.pattern and not self.pattern.match(v)]
        if bad:
            raise forms.ValidationError(
                "Not a valid prefix: %(bad)s. Use letters, digits, . _ - and / (like prod/crm/).",
                params={"bad": ", ".join(bad)},
            )


class WorkspaceForm(UpstreamForm):
    """Name and mounts of a workspace (create and edit)."""

    api_fields = {
        "name": "name",
        "mounts.ai": "ai_allow",
        "mounts.vault.allow": "vault_allow",
        "mounts.vault.deny": "vault_deny",
        "mounts.storage": "storage_namespace",
    }

    name = forms.CharField(
        max_length=200, help_text="What the team calls this workspace, e.g. “CRM exports”."
    )
    vault_allow = LinesField(
        label="Vault: allowed key prefixes",
        widget=LinesWidget("vault-prefixes", "Allowed prefix", attrs={"placeholder": "prod/crm/"}),
        pattern=VAULT_PREFIX_PATTERN,
        help_text="Runtimes may use vault entries under these prefixes.",
    )
    vault_deny = LinesField(
        label="Vault: denied key prefixes",
        widget=LinesWidget("vault-prefixes", "Denied prefix", attrs={"placeholder": "prod/crm/admin/"}),
        pattern=VAULT_PREFIX_PATTERN,
        help_text="Denied beats allowed.",
    )
    vault_raw_reads = forms.BooleanField(
        required=False,
        label="Allow raw reads (vault.read returns secrets to the caller; vault.fill never does)",
    )
    storage_namespace = forms.RegexField(
        regex=NAMESPACE_PATTERN,
        required=False,
        max_length=128,
        label="Storage namespace",
        widget=forms.TextInput(attrs={"list": "storage-namespaces", "autocomplete": "off"}),
        help_text="Where downloads and storage.put land. A new name is created on first use.",
        error_messages={"invalid": "Use letters, digits, . _ and -, starting with a letter or digit."},
    )

    def __init__(
        self,
        *args: Any,
        choices: MountChoices | None = None,
        may_grant_raw_reads: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.choices = choices or MountChoices()
        self._add_ai_fields(self.choices.credentials)
        if not may_grant_raw_reads:
            # Raw reads hand vault passwords to whoever runs steps: only an admin grants (or
            # withdraws) them; for anyone else the field shows, and keeps, what is set.
            raw_reads = self.fields["vault_raw_reads"]
            raw_reads.disabled = True
            raw_reads.help_text = "Only an admin can change this."

    def _add_ai_fields(self, credentials: list[CredentialChoice] | None) -> None:
        """Checkboxes and selects from the API's credentials, or free text when it could not list them."""
        current = list(self.initial.get("ai_allow") or [])
        current_defaults = {p: self.initial.get(_default_field(p)) for p in AI_PROVIDERS}
        if credentials is None:
            self.fields["ai_allow"] = LinesField(
                label="AI credentials allowed (ids, one per line)",
                widget=LinesTextarea(attrs={"rows": 3}),
                help_text="The credential list could not be loaded; type credential ids.",
            )
            for provider in AI_PROVIDERS:
                self.fields[_default_field(provider)] = forms.CharField(
                    required=False, max_length=64, label=f"Default for {provider}"
                )
            return
        known = {c.id for c in credentials}
        options = [(c.id, f"{c.label} ({c.id}, {c.provider})") for c in credentials]
        # a credential the workspace names but the API no longer lists stays visible, so saving
        # the form does not silently drop it
        options += [(cid, f"{cid} (missing)") for cid in current if cid not in known]
        self.fields["ai_allow"] = forms.MultipleChoiceField(
            choices=options,
            required=False,
            widget=forms.CheckboxSelectMultiple,
            label="AI credentials allowed",
        )
        for provider in AI_PROVIDERS:
            mine = [(c.id, c.label) for c in credentials if c.provider == provider]
            named = current_defaults[provider]
            if named and named not in {cid for cid, _ in mine}:
                mine.append((named, f"{named} (missing)"))
            self.fields[_default_field(provider)] = forms.ChoiceField(
                choices=[("", "No default"), *mine], required=False, label=f"Default for {provider}"
            )

    @property
    def default_fields(self) -> list[forms.BoundField]:
        return [self[_default_field(p)] for p in AI_PROVIDERS]

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        allowed = set(cleaned.get("ai_allow") or [])
        for provider in AI_PROVIDERS:
            name = _default_field(provider)
            chosen = cleaned.get(name)
            if chosen and chosen not in allowed:
                self.add_error(name, f"Allow {chosen} above to make it the {provider} default.")
        if not self.errors:
            cleaned["mounts"] = self.mounts_from(cleaned)
        return cleaned

    @staticmethod
    def mounts_from(cleaned: Mapping[str, Any]) -> dict[str, Any]:
        """The contract's `mounts` object; parts left empty are left out (runtimes then get none)."""
        mounts: dict[str, Any] = {}
        defaults = {p: cleaned[_default_field(p)] for p in AI_PROVIDERS if cleaned.get(_default_field(p))}
        if cleaned.get("ai_allow") or defaults:
            mounts["ai"] = {"allow": list(cleaned.get("ai_allow") or []), "defaults": defaults}
        if cleaned.get("vault_allow") or cleaned.get("vault_deny") or cleaned.get("vault_raw_reads"):
            mounts["vault"] = {
                "allow": cleaned.get("vault_allow") or [],
                "deny": cleaned.get("vault_deny") or [],
                "allowRawReads": bool(cleaned.get("vault_raw_reads")),
            }
        if cleaned.get("storage_namespace"):
            mounts["storage"] = {"workspace": cleaned["storage_namespace"]}
        return mounts

    @staticmethod
    def initial_from(name: str, mounts: Mapping[str, Any]) -> dict[str, Any]:
        """Form initial values from a workspace's `mounts`."""
        ai, vault, storage = mounts.get("ai") or {}, mounts.get("vault") or {}, mounts.get("storage") or {}
        initial: dict[str, Any] = {
            "name": name,
            "ai_allow": list(ai.get("allow") or []),
            "vault_allow": list(vault.get("allow") or []),
            "vault_deny": list(vault.get("deny") or []),
            "vault_raw_reads": bool(vault.get("allowRawReads")),
            "storage_namespace": storage.get("workspace") or "",
        }
        for provider, credential in (ai.get("defaults") or {}).items():
            if provider in AI_PROVIDERS:
                initial[_default_field(provider)] = credential
        return initial


class WorkspaceDeleteForm(forms.Form):
    """`force` stops the workspace's live runtimes first (the API refuses otherwise)."""

    force = forms.BooleanField(required=False)
