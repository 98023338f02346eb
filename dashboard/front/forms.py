"""Forms of the console. Every create form carries an idempotency key, so a double submit makes one thing."""

import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from django import forms
from django.template.loader import render_to_string
from django.utils.safestring import SafeString

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

    def add_upstream_error(self, error: BctrlError) -> None:
        """Show the API's refusal next to the fields it names, the rest above the form."""
        self.upstream_error = error
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


# --- launch configuration ---------------------------------------------------------------------

# The contract's LaunchConfig keys, relative to where a body carries it, → this form's fields.
LAUNCH_CONFIG_FIELDS = {
    "viewport": "viewport_width",
    "viewport.width": "viewport_width",
    "viewport.height": "viewport_height",
    "userAgent": "user_agent",
    "locale": "locale",
    "timezoneId": "timezone_id",
    "proxy": "proxy_server",
    "proxy.server": "proxy_server",
    "proxy.username": "proxy_username",
    "proxy.password": "proxy_password",
    "idleTimeoutSeconds": "idle_timeout_seconds",
}


class LaunchConfigForm(UpstreamForm):
    """The browser settings (the contract's LaunchConfig) a profile keeps and a launch may give.

    Bounds follow the engine's own; `config_path` is where the body carries the config, so the
    API's field errors land on these fields.
    """

    config_path = "config"

    viewport_width = forms.IntegerField(required=False, min_value=100, max_value=7680, label="Viewport width")
    viewport_height = forms.IntegerField(
        required=False, min_value=100, max_value=4320, label="Viewport height"
    )
    user_agent = forms.CharField(required=False, max_length=1000, label="User agent")
    locale = forms.CharField(required=False, max_length=35, help_text="E.g. en-GB.")
    timezone_id = forms.CharField(
        required=False, max_length=64, label="Timezone", help_text="E.g. Europe/Paris."
    )
    proxy_server = forms.CharField(
        required=False, max_length=500, label="Proxy server", help_text="E.g. http://proxy.internal:3128."
    )
    proxy_username = forms.CharField(required=False, max_length=200, label="Proxy username")
    proxy_password = secret_field("Proxy password")
    idle_timeout_seconds = forms.IntegerField(
        required=False,
        min_value=10,
        max_value=7 * 24 * 3600,
        label="Idle timeout (seconds)",
        help_text="The browser stops after this long without activity (default 900).",
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.api_fields = {
            **{f"{self.config_path}.{key}": name for key, name in LAUNCH_CONFIG_FIELDS.items()},
            **type(self).api_fields,
        }

    def check_launch_config(self, cleaned: Mapping[str, Any]) -> None:
        width, height = cleaned.get("viewport_width"), cleaned.get("viewport_height")
        if (width is None) != (height is None):
            self.add_error(
                "viewport_height" if height is None else "viewport_width",
                "Give both width and height, or neither.",
            )
        if (cleaned.get("proxy_username") or cleaned.get("proxy_password")) and not cleaned.get(
            "proxy_server"
        ):
            self.add_error("proxy_server", "A proxy username or password needs a proxy server.")

    def launch_config(self) -> dict[str, Any]:
        """The LaunchConfig these fields describe, with only what was given."""
        data = self.cleaned_data
        config: dict[str, Any] = {}
        if data.get("viewport_width") is not None and data.get("viewport_height") is not None:
            config["viewport"] = {"width": data["viewport_width"], "height": data["viewport_height"]}
        for name, key in (("user_agent", "userAgent"), ("locale", "locale"), ("timezone_id", "timezoneId")):
            if data.get(name):
                config[key] = data[name]
        if data.get("proxy_server"):
            proxy = {"server": data["proxy_server"]}
            for name, key in (("proxy_username", "username"), ("proxy_password", "password")):
                if data.get(name):
                    proxy[key] = data[name]
            config["proxy"] = proxy
        if data.get("idle_timeout_seconds") is not None:
            config["idleTimeoutSeconds"] = data["idle_timeout_seconds"]
        return config


# --- workspace mounts -------------------------------------------------------------------------

AI_PROVIDERS = ("openai", "anthropic", "google", "openai-compatible")
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
