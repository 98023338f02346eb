"""The step runner's forms: steps pasted as JSON, or composed row by row from the call catalogue."""

import json
import re
from dataclasses import dataclass
from typing import Any

from django import forms
from django.http import QueryDict

from dashboard.bctrl.execute import Call
from dashboard.front.forms.upstream import UpstreamForm

MAX_STEPS = 50
MAX_TIMEOUT_MS = 600_000  # the engine's bound on a step's timeoutMs


class StepsJsonForm(UpstreamForm):
    """Steps pasted as the contract's JSON array: [{"call": "page.goto", "args": ["https://..."]}]."""

    steps_json = forms.CharField(
        label="Steps (JSON)",
        widget=forms.Textarea(attrs={"rows": 8, "spellcheck": "false"}),
        help_text='A JSON array, e.g. [{"call": "page.goto", "args": ["https://example.com"]}, {"call": "page.title"}]',
    )

    def clean_steps_json(self) -> list[dict[str, Any]]:
        return parse_steps(self.cleaned_data["steps_json"])


def parse_steps(raw: str) -> list[dict[str, Any]]:
    """Steps typed or pasted as the contract's JSON array, checked enough to say what is wrong."""
    try:
        steps = json.loads(raw)
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
    timeout_ms: str = ""
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
                timeout_ms=data.get(f"step-{index}-timeout", "").strip(),
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
        if row.timeout_ms:
            if not row.timeout_ms.isdigit() or not 1 <= int(row.timeout_ms) <= MAX_TIMEOUT_MS:
                raise forms.ValidationError(
                    f"Step {row.index + 1}: the timeout is milliseconds, a whole number from 1 to {MAX_TIMEOUT_MS}."
                )
            step["options"] = {"timeoutMs": int(row.timeout_ms)}
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
