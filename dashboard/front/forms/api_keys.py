"""The API key form: a name and a scope (the key itself is made, and shown once, by the API)."""

from django import forms

from dashboard.bctrl.api_keys import SCOPES
from dashboard.front.forms.upstream import UpstreamForm

SCOPE_HELP = (
    "read: GETs and waits only; operator: everything but vault, AI credential and API key changes; "
    "admin: everything."
)


class ApiKeyForm(UpstreamForm):
    api_fields = {"name": "name", "scope": "scope", "team": "team"}

    name = forms.CharField(max_length=200, help_text="Who or what uses it, e.g. “nightly export job”.")
    scope = forms.ChoiceField(
        choices=[(s, s.capitalize()) for s in SCOPES], initial="read", help_text=SCOPE_HELP
    )
    team = forms.BooleanField(
        required=False,
        label="Team key",
        help_text="For a console a whole team uses: the engine's per-key limits (10 runtimes, 20 waits, "
        "requests a minute) do not apply to it, only the engine's own. Leave it off for a script's key.",
    )
