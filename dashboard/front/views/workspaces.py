"""Workspaces: list (search, pages), create, detail, edit, delete."""

from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import path
from django.views.decorators.http import require_http_methods
from django.views.decorators.vary import vary_on_headers

from dashboard.accounts.roles import role_required
from dashboard.audit.log import record
from dashboard.bctrl import workspaces as api
from dashboard.bctrl.errors import BctrlError
from dashboard.front.forms import WorkspaceForm
from dashboard.front.views.helpers import error_status, render_page

PAGE_SIZE = 25


@vary_on_headers("HX-Request")
@role_required("viewer")
async def workspace_list(request: HttpRequest) -> HttpResponse:
    q = request.GET.get("q", "").strip()
    cursor = request.GET.get("cursor") or None
    context: dict[str, object] = {"q": q, "cursor": cursor}
    try:
        context["page"] = await api.list_workspaces(q=q or None, cursor=cursor, limit=PAGE_SIZE)
    except BctrlError as error:
        context["error"] = error
    return render_page(request, "front/workspaces/list.html", context, region="table")


@require_http_methods(["GET", "POST"])
@role_required("operator")
async def workspace_create(request: HttpRequest) -> HttpResponse:
    form = WorkspaceForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            workspace = await api.create_workspace(
                form.cleaned_data["name"],
                form.cleaned_data["mounts"],
                idempotency_key=form.cleaned_data["idempotency_key"],
            )
        except BctrlError as error:
            await record(request, "workspace.create", "workspace", form.cleaned_data["name"], error=error)
            form.add_upstream_error(error)
        else:
            await record(request, "workspace.create", "workspace", workspace.id)
            return redirect("workspace_detail", workspace_id=workspace.id)
    return render_page(
        request,
        "front/workspaces/form.html",
        {"form": form},
        region="form",
        status=422 if form.errors else 200,
    )


@role_required("viewer")
async def workspace_detail(request: HttpRequest, workspace_id: str) -> HttpResponse:
    try:
        workspace = await api.get_workspace(workspace_id)
    except BctrlError as error:
        return render_page(
            request, "front/workspaces/detail.html", {"error": error}, status=error_status(error)
        )
    return render_page(request, "front/workspaces/detail.html", {"workspace": workspace})


urlpatterns = [
    path("workspaces/", workspace_list, name="workspaces"),
    path("workspaces/new/", workspace_create, name="workspace_create"),
    path("workspaces/<uuid:workspace_id>/", workspace_detail, name="workspace_detail"),
]
