"""The step runner of a runtime page: build steps (or paste, import, pick a recipe), run them,
and see each result, the steps the failure skipped, a screenshot of the failure if asked, and the
same run as cURL, as Python (httpx) and as JSON to export or save as a team recipe.

Steps run through the API's execute call by alias, so they act on the alias's newest run (the
only one that can be active).
"""

import asyncio
import base64
import json
import pprint
from dataclasses import dataclass
from typing import Any

from django import forms
from django.conf import settings
from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import redirect
from django.urls import path, reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from dashboard.accounts.roles import role_required
from dashboard.audit.log import audit
from dashboard.bctrl import execute as execute_api
from dashboard.bctrl.artifacts import Artifact
from dashboard.bctrl.errors import BctrlError
from dashboard.bctrl.workspaces import Workspace, get_workspace
from dashboard.front.forms.runtimes import fresh_key
from dashboard.front.forms.steps import StepRow, StepsJsonForm, step_rows, steps_from_rows
from dashboard.front.models import StepRecipe
from dashboard.pages import HtmxHttpRequest, error_status, render_page, settle, with_toast

TEMPLATE = "front/runtimes/step_runner.html"


@require_GET
@role_required("operator")
async def runtime_step_row(request: HtmxHttpRequest, workspace_id: str, alias: str) -> HttpResponse:
    """One builder row (Add step), or (`part=args`) the argument inputs of the call a row chose:
    the row's call picker is not redrawn, so its focus and type-ahead stay."""
    index = _int(request.GET.get("row"), 0)
    if not request.htmx:  # the "Add step" link without htmx: the page with one more row
        url = reverse("runtime_detail", args=[workspace_id, alias])
        return redirect(f"{url}?rows={min(index + 1, 20)}#step-runner")
    chosen = request.GET.get(f"step-{index}-call", "")
    catalogue, keys = await asyncio.gather(
        settle(execute_api.get_help(str(workspace_id), runtime=alias)),
        settle(execute_api.vault_keys(str(workspace_id), alias)) if chosen.startswith("vault.") else _none(),
    )
    if isinstance(catalogue, BctrlError):
        context = {"workspace_id": workspace_id, "alias": alias, "help_error": catalogue, "help": None}
        return render_page(request, TEMPLATE, context, region="step_row_error")
    rows = step_rows(request.GET, {c.name: c for c in catalogue.calls})
    row = next((r for r in rows if r.index == index), StepRow(index, None, []))
    # a list the API cannot give (an older engine, another API) leaves the key as free text
    vault_keys = keys if isinstance(keys, execute_api.VaultKeys) else None
    context = {
        "workspace_id": workspace_id,
        "alias": alias,
        "help": catalogue,
        "row": row,
        "next_row": index + 1,
        "adding": "add" in request.GET,
        "vault_keys": vault_keys.keys if vault_keys else None,
        "vault_keys_truncated": vault_keys.truncated if vault_keys else False,
    }
    region = "step_args" if request.GET.get("part") == "args" else "step_row"
    return render_page(request, TEMPLATE, context, region=region)


async def _none() -> None:
    return None


@require_POST
@role_required("operator")
async def runtime_execute(request: HtmxHttpRequest, workspace_id: str, alias: str) -> HttpResponse:
    source = request.POST.get("source", "builder")
    context: dict[str, Any] = {"workspace_id": workspace_id, "alias": alias, "source": source}
    try:
        steps, key = await _steps_from_request(request)
    except forms.ValidationError as invalid:
        if not request.htmx:
            messages.error(request, " ".join(invalid.messages))
            return redirect("runtime_detail", workspace_id, alias)
        context["invalid"] = invalid.messages
        return render_page(request, TEMPLATE, context, region="step_results", status=422)
    target = f"{workspace_id}/{alias}"
    result, workspace = await asyncio.gather(
        settle(execute_api.execute(str(workspace_id), alias, steps, idempotency_key=key)),
        settle(get_workspace(str(workspace_id))),  # its name, for the audit log
    )
    name = f"{workspace.name} / {alias}" if isinstance(workspace, Workspace) else alias
    if isinstance(result, BctrlError):
        error = result
        await audit(request, "runtime.execute", target, target_name=name, error=error)
        if not request.htmx:
            messages.error(request, f"The steps were not run: {error.user_message}")
            return redirect("runtime_detail", workspace_id, alias)
        context.update(run_error=error, new_key=fresh_key(), **_as_code(str(workspace_id), alias, steps))
        response = render_page(request, TEMPLATE, context, region="step_results", status=error_status(error))
        return await with_toast(response, request, "The steps were not run.", "error")
    failed = next((s for s in result.steps if not s.ok), None)
    calls = ", ".join(s["call"] for s in steps)[:300]
    message = ""
    if failed is None:
        await audit(request, "runtime.execute", target, target_name=name, message=f"ran {calls}")
    else:
        # The API answered 200, but the run failed: the audit log says failed, and why.
        message = f"step {failed.index + 1} {failed.call} failed: {(failed.error or {}).get('message', '')}"
        await audit(request, "runtime.execute", target, target_name=name, outcome="failed", message=message)
    screenshot = None
    if failed is not None and request.POST.get("screenshot_on_failure"):
        screenshot = await _failure_screenshot(
            str(workspace_id), alias, steps[failed.index] if failed.index < len(steps) else {}
        )
    context.update(
        result=result,
        step_views=[_step_view(s) for s in result.steps],
        skipped=[
            (i, s.get("call", ""))
            for i, s in enumerate(steps)
            if i > (failed.index if failed else len(steps))
        ],
        failure_screenshot=screenshot,
        new_key=fresh_key(),
        **_as_code(str(workspace_id), alias, steps),
    )
    if not request.htmx:  # a form posted without htmx: the outcome as a message on the page
        text = f"{len(result.steps)} step(s) succeeded." if failed is None else f"The run failed: {message}"
        messages.add_message(request, messages.SUCCESS if failed is None else messages.ERROR, text)
        return redirect("runtime_detail", workspace_id, alias)
    response = render_page(request, TEMPLATE, context, region="step_results")
    if failed is None:
        return await with_toast(response, request, f"{len(result.steps)} step(s) succeeded.")
    return await with_toast(response, request, "A step failed; the rest were not run.", "error")


async def _steps_from_request(request: HtmxHttpRequest) -> tuple[list[dict[str, Any]], str]:
    if request.POST.get("source") == "json":
        form = StepsJsonForm(request.POST)
        if not form.is_valid():
            raise forms.ValidationError([e for errors in form.errors.values() for e in errors])
        return form.cleaned_data["steps_json"], form.cleaned_data["idempotency_key"]
    if request.POST.get("source") == "recipe":
        recipe = await StepRecipe.objects.filter(pk=_int(request.POST.get("recipe"), 0)).afirst()
        if recipe is None:
            raise forms.ValidationError("That recipe does not exist any more; choose another.")
        return recipe.steps, request.POST.get("idempotency_key") or fresh_key()
    # Builder rows carry their arg types with them, so the catalogue is not fetched again here.
    rows = step_rows(request.POST, {})
    return steps_from_rows(rows, request.POST), request.POST.get("idempotency_key") or fresh_key()


async def _failure_screenshot(
    workspace_id: str, alias: str, failed_step: dict[str, Any]
) -> "StepView | None":
    """A screenshot of the page the failing step acted on, as a separate run (the failed one is over)."""
    name = f"failure-{alias}-{timezone.now():%Y%m%d-%H%M%S}.png"
    step: dict[str, Any] = {"call": "page.screenshot", "args": [{"name": name}]}
    if failed_step.get("ref"):
        step["ref"] = failed_step["ref"]
    try:
        shot = await execute_api.execute(workspace_id, alias, [step])
    except BctrlError:
        return None
    return _step_view(shot.steps[0]) if shot.steps and shot.steps[0].ok else None


def _as_code(workspace_id: str, alias: str, steps: list[dict[str, Any]]) -> dict[str, str]:
    """The run as cURL, as Python (httpx) and as JSON. The key is a placeholder, never the console's."""
    url = f"{settings.BCTRL_API_URL.rstrip('/')}/workspaces/{workspace_id}/execute"
    body = {"runtime": alias, "steps": steps, "mode": "fail-fast"}
    curl = (
        f'curl -X POST "{url}" \\\n'
        '  -H "Authorization: Bearer $BCTRL_API_KEY" \\\n'
        '  -H "Content-Type: application/json" \\\n'
        "  --data-binary @- <<'JSON'\n"
        f"{json.dumps(body, indent=2, ensure_ascii=False)}\nJSON"
    )
    python = (
        "import os\n\nimport httpx\n\n"
        f"steps = {pprint.pformat(steps, width=88, sort_dicts=False)}\n\n"
        "response = httpx.post(\n"
        f"    {url!r},\n"
        '    headers={"Authorization": f"Bearer {os.environ[\'BCTRL_API_KEY\']}"},\n'
        f'    json={{"runtime": {alias!r}, "steps": steps, "mode": "fail-fast"}},\n'
        "    timeout=180,\n"
        ")\n"
        "response.raise_for_status()\n"
        'for step in response.json()["steps"]:\n'
        '    print(step["index"], step["call"], "ok" if step["ok"] else step["error"], step.get("result"))\n'
    )
    return {
        "as_curl": curl,
        "as_python": python,
        "steps_json": json.dumps(steps, indent=2, ensure_ascii=False),
    }


@dataclass(frozen=True)
class StepView:
    """A step result as the runner shows it: pretty JSON, and an image when it made one."""

    step: execute_api.StepResult
    pretty: str
    artifact: Artifact | None
    image_src: str | None


def _step_view(step: execute_api.StepResult) -> StepView:
    result = step.result
    artifact = Artifact.in_result(result)
    image_src = None
    if artifact and artifact.is_image:
        image_src = reverse("artifact_content", args=[artifact.id])
    elif isinstance(result, dict):
        image_src = _data_url(result)
    pretty = json.dumps(result, indent=2, ensure_ascii=False, default=str) if result is not None else ""
    if len(pretty) > 20_000:
        pretty = pretty[:20_000] + "\n… (cut: the result is longer than the console shows)"
    return StepView(step, pretty, artifact, image_src)


def _data_url(result: dict[str, Any]) -> str | None:
    """A base64 image in a result (some drivers return one instead of an artifact), as a data: URL."""
    data = result.get("base64") or result.get("data")
    content_type = result.get("contentType") or result.get("mimeType") or "image/png"
    if not isinstance(data, str) or not content_type.startswith("image/"):
        return None
    try:
        base64.b64decode(data, validate=True)
    except ValueError:
        return None
    return f"data:{content_type};base64,{data}"


def _int(raw: str | None, default: int) -> int:
    try:
        return max(0, min(10_000, int(raw or default)))
    except ValueError:
        return default


urlpatterns = [
    path(
        "workspaces/<uuid:workspace_id>/runtimes/<slug:alias>/steps/row/",
        runtime_step_row,
        name="runtime_step_row",
    ),
    path(
        "workspaces/<uuid:workspace_id>/runtimes/<slug:alias>/execute/",
        runtime_execute,
        name="runtime_execute",
    ),
]
