"""Forms of the runtime pages: launch a runtime, and compose the steps the step runner executes."""

import json
import re
import uuid
from dataclasses import dataclass
from typing import Any

from django import forms
from django.http import QueryDict

from dashboard.bctrl.errors import BctrlError
from dashboard.bctrl.execute import Call
from dashboard.bctrl.runtimes import ALIAS_PATTERN, DRIVERS, Choice
from dashboard.front.forms.launch_config import LaunchConfigForm
from dashboard.front.forms.upstream import UpstreamForm

MAX_STEPS = 50


class RuntimeLaunchForm(LaunchConfigForm):
    config_path = "launch.config"
    api_fields = {
        "alias": "alias",
        "driver": "driver",
        "launch.profileId": "profile_id",
        "launch.config.extensionIds": "extension_ids",
        "mounts": "mounts_json",
    }

    alias = forms.RegexField(
        regex=ALIAS_PATTERN,
        max_length=63,
        error_messages={
            "invalid": "Start with a lowercase letter; then lowercase letters, digits and dashes."
        },
        help_text="How steps name this browser, e.g. “checkout”. Lowercase letters, digits, dashes.",
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
    profile_id = forms.ChoiceField(required=False, label="Profile", choices=[])
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

    def __init__(
        self,
        *args: Any,
        profiles: list[Choice] | None = None,
        extensions: list[Choice] | None = None,
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


class StepsJsonForm(UpstreamForm):
    """Steps pasted as the contract's JSON array: [{"call": "page.goto", "args": ["https://..."]}]."""

    steps_json = forms.CharField(
        label="Steps (JSON)",
        widget=forms.Textarea(attrs={"rows": 8, "spellcheck": "false"}),
        help_text='A JSON array, e.g. [{"call": "page.goto", "args": ["https://example.com"]}, {"call": "page.title"}]',
    )

    def clean_steps_json(self) -> list[dict[str, Any]]:
        try:
            steps = json.loads(self.cleaned_data["steps_json"])
        except ValueError as exc:
            raise forms.ValidationError(f"This is not valid JSON: {exc}.") from exc
        return validate_steps(steps)


def validate_steps(steps: Any) -> list[dict[str, Any]]:
    if not isinstance(steps, list) or not steps:
        raise forms.ValidationError("Give a non-empty array of steps.")
    if len(steps) > MAX_STEPS:
        raise forms.ValidationError(f"At most {MAX_STEPS} steps at a time.")
    for number, step in enumerate(steps, 1):
        if not isinstance(step, dict) or not isinstance(step.get("call"), str) or not step["call"]:
            raise forms.ValidationError(f'Step {number} needs a "call" name.')
        if not isinstance(step.get("args", []), list):
            raise forms.ValidationError(f'Step {number}: "args" must be an array.')
    return steps


@dataclass
class StepRow:
    """One row of the step builder: a call, its argument inputs, and what the operator typed."""

    index: int
    call: Call | None
    values: list[str]
    ref: str = ""
    bind: str = ""
    error: str = ""

    def args(self) -> list[tuple[Any, str]]:
        """(catalogue arg, typed value) pairs for rendering."""
        if self.call is None:
            return []
        return [(arg, self.values[i] if i < len(self.values) else "") for i, arg in enumerate(self.call.args)]


_ROW_KEY = re.compile(r"^step-(\d+)-call$")


def step_rows(data: QueryDict, calls: dict[str, Call]) -> list[StepRow]:
    """The builder's rows in the order they were added, read from `step-<n>-...` fields."""
    indexes = sorted({int(m.group(1)) for key in data for m in [_ROW_KEY.match(key)] if m})
    rows = []
    for index in indexes[:MAX_STEPS]:
        name = data.get(f"step-{index}-call", "")
        values = []
        arg = 0
        while f"step-{index}-arg-{arg}" in data:
            values.append(data.get(f"step-{index}-arg-{arg}", ""))
            arg += 1
        rows.append(
            StepRow(
                index=index,
                call=calls.get(name) or (Call(name, "", [], "", None, False, []) if name else None),
                values=values,
                ref=data.get(f"step-{index}-ref", "").strip(),
                bind=data.get(f"step-{index}-bind", "").strip(),
            )
        )
    return rows


def steps_from_rows(rows: list[StepRow], data: QueryDict) -> list[dict[str, Any]]:
    """Turn builder rows into contract steps; typed args (numbers, objects) are read as JSON."""
    steps = []
    for row in rows:
        if row.call is None:
            continue
        args: list[Any] = []
        for arg_index, raw in enumerate(row.values):
            kind = data.get(f"step-{row.index}-arg-{arg_index}-type", "string")
            args.append(_parse_arg(raw, kind, row, arg_index))
        while args and args[-1] is None:  # trailing optional args left empty
            args.pop()
        step: dict[str, Any] = {"call": row.call.name, "args": args}
        if row.ref:
            step["ref"] = row.ref
        if row.bind:
            step["bind"] = row.bind
        steps.append(step)
    if not steps:
        raise forms.ValidationError("Add at least one step and choose its call.")
    return steps


def _parse_arg(raw: str, kind: str, row: StepRow, arg_index: int) -> Any:
    if raw == "":
        return None
    if kind in ("string", "str", "selector", "url", "text"):
        return raw
    try:
        return json.loads(raw)
    except ValueError:
        if kind in ("number", "integer", "int", "float", "boolean", "bool", "object", "array"):
            name = (
                row.call.args[arg_index].name
                if row.call and arg_index < len(row.call.args)
                else arg_index + 1
            )
            raise forms.ValidationError(
                f"Step {row.index + 1}, {name}: expected {kind} as JSON, got {raw!r}."
            ) from None
        return raw


def fresh_key() -> str:
    return uuid.uuid4().hex
