"""Workspaces: list (search, pages), create, detail (its runtimes, operations, artifacts, state), edit, delete."""

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any
from uuid import UUID

from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import redirect
from django.urls import path, reverse
from django.utils.html import format_html
from django.views.decorators.http import require_GET, require_http_methods
from django.views.decorators.vary import vary_on_headers

from dashboard.accounts.roles import has_role, role_required
from dashboard.audit.log import audit
from dashboard.bctrl import ai_credentials as ai_api
from dashboard.bctrl import artifacts as artifacts_api
from dashboard.bctrl import runtimes as runtimes_api
from dashboard.bctrl import storage as storage_api
from dashboard.bctrl import vault as vault_api
from dashboard.bctrl import workspaces as api
from dashboard.bctrl.errors import BctrlError
from dashboard.bctrl.meta import COUNT_LIMIT
from dashboard.front.forms.workspaces import (
    CredentialChoice,
    MountChoices,
    WorkspaceDeleteForm,
    WorkspaceForm,
)
from dashboard.front.views.deleting import audited_delete
from dashboard.pages import (
    HtmxHttpRequest,
    error_status,
    failure,
    redirect_after_form,
    render_page,
    search_listing,
    settle,
)

PAGE_SIZE = 25
DETAIL_PAGE_SIZE = 25

# Each region of the detail page and the upstream call that fills it; an htmx retry of one
# region (?region=...) makes only that call. Operations and bindings both come from /state.
DETAIL_CALLS: dict[str, Callable[[str], Awaitable[Any]]] = {
    "runtimes": lambda ws: runtimes_api.list_runtimes(ws, limit=DETAIL_PAGE_SIZE),
    "state": runtimes_api.get_state,
    "artifacts": lambda ws: artifacts_api.list_artifacts(ws, limit=DETAIL_PAGE_SIZE),
}
DETAIL_REGIONS = {
    "runtimes": "runtimes",
    "operations": "state",
    "bindings": "state",
    "artifacts": "artifacts",
}


@vary_on_headers("HX-Request")
@require_GET
@role_required("viewer")
async def workspace_list(request: HtmxHttpRequest) -> HttpResponse:
    context = await search_listing(request, api.list_workspaces, PAGE_SIZE)
    return render_page(request, "front/workspaces/list.html", context, region="table")


def _form_status(form: WorkspaceForm) -> int:
    if form.upstream_error:
        return error_status(form.upstream_error)
    return 422 if form.errors else 200


async def _mount_choices() -> MountChoices:
    """What the mounts editor offers, fetched concurrently; a list that fails becomes free text."""
    credentials, vault, storage = await asyncio.gather(
        settle(ai_api.list_credentials(limit=COUNT_LIMIT)),
        settle(vault_api.list_entries(limit=COUNT_LIMIT)),
        settle(storage_api.list_namespaces()),
    )
    return MountChoices(
        credentials=None
        if isinstance(credentials, BctrlError)
        else [CredentialChoice(c.id, c.provider, c.label) for c in credentials.items],
        credentials_error=failure(credentials),
        vault_prefixes=[] if isinstance(vault, BctrlError) else _prefixes(e.key for e in vault.items),
        vault_error=failure(vault),
        namespaces=[] if isinstance(storage, BctrlError) else [n.name for n in storage],
        storage_error=failure(storage),
    )


def _prefixes(keys: Any) -> list[str]:
    """Every parent folder of the vault keys: prod/crm/login → prod/, prod/crm/."""
    found: set[str] = set()
    for key in keys:
        parts = key.split("/")[:-1]
        found.update("/".join(parts[: i + 1]) + "/" for i in range(len(parts)))
    return sorted(found)


async def _name_taken(name: str, except_id: str = "") -> api.Workspace | None:
    """Another workspace already named `name` (case and outer spaces aside), if the API says so.

    Runtimes, audit entries and alerts name a workspace by its name, so two of one name would be
    confused: the console refuses a second one (the API itself allows it). A list that fails
    does not block the form: the check is the console's courtesy, the API has the last word.
    """
    wanted = name.strip().casefold()
    found = await settle(api.list_workspaces(q=name.strip(), limit=100))
    if isinstance(found, BctrlError):
        return None
    return next((w for w in found.items if w.name.strip().casefold() == wanted and w.id != except_id), None)


def _refuse_taken_name(form: WorkspaceForm, taken: api.Workspace) -> None:
    url = reverse("workspace_detail", args=[taken.id])
    form.add_error(
        "name",
        format_html(
            'A workspace named “{}” already exists (<a href="{}">open it</a>); choose another name, '
            "so runtimes, audit entries and alerts cannot be confused between the two.",
            taken.name,
            url,
        ),
    )


@require_http_methods(["GET", "POST"])
@role_required("operator")
async def workspace_create(request: HtmxHttpRequest) -> HttpResponse:
    form = WorkspaceForm(
        request.POST or None,
        choices=await _mount_choices(),
        may_grant_raw_reads=has_role(request.user, "admin"),
    )
    if request.method == "POST" and form.is_valid():
        name = form.cleaned_data["name"]
        if taken := await _name_taken(name):
            _refuse_taken_name(form, taken)
            return render_page(
                request,
                "front/workspaces/form.html",
                {"form": form, "action": "create"},
                region="form",
                status=422,
            )
        try:
            workspace = await api.create_workspace(
                name, form.cleaned_data["mounts"], idempotency_key=form.cleaned_data["idempotency_key"]
            )
        except BctrlError as error:
            await audit(request, "workspace.create", name, target_name=name, error=error)
            form.add_upstream_error(error)
        else:
            await audit(request, "workspace.create", workspace.id, target_name=name)
            return redirect_after_form(request, reverse("workspace_detail", args=[workspace.id]))
    context = {"form": form, "action": "create"}
    status = _form_status(form)
    return render_page(request, "front/workspaces/form.html", context, region="form", status=status)


@vary_on_headers("HX-Request")
@require_GET
@role_required("viewer")
async def workspace_detail(request: HtmxHttpRequest, workspace_id: UUID) -> HttpResponse:
    ws = str(workspace_id)
    region = request.GET.get("region")
    if request.htmx and region in DETAIL_REGIONS:
        call = DETAIL_REGIONS[region]
        context = {"workspace_id": ws, call: await settle(DETAIL_CALLS[call](ws))}
        return render_page(request, "front/workspaces/detail.html", context, region=region)
    names = list(DETAIL_CALLS)
    workspace, *results = await asyncio.gather(
        settle(api.get_workspace(ws)), *(settle(DETAIL_CALLS[name](ws)) for name in names)
    )
    if isinstance(workspace, BctrlError):
        context = {"error": workspace, "workspace_id": ws}
        return render_page(request, "front/workspaces/detail.html", context, status=error_status(workspace))
    context = {"workspace": workspace, "workspace_id": ws, **dict(zip(names, results, strict=True))}
    return render_page(request, "front/workspaces/detail.html", context)


@require_http_methods(["GET", "POST"])
@role_required("operator")
async def workspace_edit(request: HtmxHttpRequest, workspace_id: UUID) -> HttpResponse:
    ws = str(workspace_id)
    workspace, choices = await asyncio.gather(settle(api.get_workspace(ws)), _mount_choices())
    if isinstance(workspace, BctrlError):
        context = {"error": workspace, "action": "edit"}
        return render_page(request, "front/workspaces/form.html", context, status=error_status(workspace))
    initial = WorkspaceForm.initial_from(workspace.name, workspace.mounts)
    form = WorkspaceForm(
        request.POST or None,
        initial=initial,
        choices=choices,
        may_grant_raw_reads=has_role(request.user, "admin"),
    )
    renaming = request.method == "POST" and form.is_valid() and form.cleaned_data["name"] != workspace.name
    if renaming and (taken := await _name_taken(form.cleaned_data["name"], except_id=ws)):
        _refuse_taken_name(form, taken)  # the form is no longer valid
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        # Mounts go only when one of their fields changed: under raw reads (allowRawReads) any
        # change of mounts is an admin's in the API, and the console's calls act with the user's
        # role (bctrl/acting.py), so an operator may still rename such a workspace.
        mounts_changed = any(name != "name" for name in form.changed_data)
        try:
            saved = await api.update_workspace(
                ws, name=data["name"], mounts=data["mounts"] if mounts_changed else None
            )
        except BctrlError as error:
            await audit(request, "workspace.update", ws, target_name=workspace.name, error=error)
            form.add_upstream_error(error)
        else:
            renamed = f"renamed from {workspace.name}" if workspace.name != data["name"] else ""
            await audit(request, "workspace.update", ws, target_name=data["name"], message=renamed)
            messages.success(request, _saved_message(data["name"], saved, workspace))
            return redirect_after_form(request, reverse("workspace_detail", args=[ws]))
    context = {"form": form, "workspace": workspace, "action": "edit"}
    status = _form_status(form)
    return render_page(request, "front/workspaces/form.html", context, region="form", status=status)


def _saved_message(name: str, saved: api.Workspace, before: api.Workspace) -> str:
    """What saving did to the running runtimes: they follow (this engine says how many), or the
    API does not say, and the user should know to relaunch them."""
    if saved.mounts == before.mounts or not before.active_runtime_count:
        return f"Saved {name}."
    if saved.runtimes_updated is None:
        return (
            f"Saved {name}. This API does not say whether running runtimes follow a change of mounts: "
            "relaunch them to be sure they use the new ones."
        )
    if saved.runtimes_updated:
        return f"Saved {name}. {saved.runtimes_updated} running runtime(s) now run with the new mounts."
    return f"Saved {name}. Its running runtimes' mounts did not change (their launches narrowed them)."


@require_http_methods(["GET", "POST"])
@role_required("operator")
async def workspace_delete(request: HtmxHttpRequest, workspace_id: UUID) -> HttpResponse:
    """A confirm page; a refusal because runtimes are live offers to stop them and delete (force)."""
    ws = str(workspace_id)
    refusal: BctrlError | None = None
    if request.method == "POST":
        form = WorkspaceDeleteForm(request.POST)
        force = form.is_valid() and form.cleaned_data["force"]
        refusal = await audited_delete(
            request,
            "workspace.delete",
            ws,
            lambda: api.get_workspace(ws),
            lambda: api.delete_workspace(ws, force=force),
            message="forced: its live runtimes were stopped" if force else "",
        )
        if refusal is None:
            messages.success(request, "Deleted the workspace.")
            return redirect("workspaces")
    workspace = await settle(api.get_workspace(ws))
    missing = workspace if isinstance(workspace, BctrlError) else None
    context = {
        "workspace_id": ws,
        "refusal": refusal,
        "error": missing,
        "workspace": None if missing else workspace,
    }
    failed = refusal or missing
    status = error_status(failed) if failed else 200
    return render_page(request, "front/workspaces/delete.html", context, status=status)


urlpatterns = [
    path("workspaces/", workspace_list, name="workspaces"),
    path("workspaces/new/", workspace_create, name="workspace_create"),
    path("workspaces/<uuid:workspace_id>/", workspace_detail, name="workspace_detail"),
    path("workspaces/<uuid:workspace_id>/edit/", workspace_edit, name="workspace_edit"),
    path("workspaces/<uuid:workspace_id>/delete/", workspace_delete, name="workspace_delete"),
]
