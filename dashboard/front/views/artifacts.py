"""Artifacts: a workspace's list (filters, pages, thumbnails), and their bytes proxied from the API.

The browser never talks to the API: the API key stays on the server, so images and downloads
go through `artifact_content`, which streams the upstream body through.
"""

import asyncio

from django.http import HttpResponse
from django.urls import path
from django.views.decorators.http import require_GET
from django.views.decorators.vary import vary_on_headers

from dashboard.accounts.roles import role_required
from dashboard.bctrl import artifacts as api
from dashboard.bctrl.errors import BctrlError
from dashboard.bctrl.workspaces import Workspace, get_workspace
from dashboard.front.downloads import file_response
from dashboard.pages import HtmxHttpRequest, chosen, error_status, render_page, settle

PAGE_SIZE = 24


@vary_on_headers("HX-Request")
@require_GET
@role_required("viewer")
async def artifact_list(request: HtmxHttpRequest, workspace_id: str) -> HttpResponse:
    runtime = request.GET.get("runtime", "").strip()
    kind = chosen(request, "kind", api.KINDS)
    cursor = request.GET.get("cursor") or None
    context: dict[str, object] = {
        "workspace_id": workspace_id,
        "runtime": runtime,
        "kind": kind,
        "kinds": api.KINDS,
        "cursor": cursor,
    }
    page, workspace = await asyncio.gather(
        settle(
            api.list_artifacts(
                str(workspace_id), runtime=runtime or None, kind=kind or None, cursor=cursor, limit=PAGE_SIZE
            )
        ),
        settle(get_workspace(str(workspace_id))),  # its name, for the breadcrumbs
    )
    context["page" if not isinstance(page, BctrlError) else "error"] = page
    context["workspace"] = workspace if isinstance(workspace, Workspace) else None
    return render_page(request, "front/artifacts/list.html", context, region="artifact_grid")


@require_GET
@role_required("viewer")
async def artifact_content(request: HtmxHttpRequest, artifact_id: str) -> HttpResponse:
    try:
        content = await api.open_content(str(artifact_id))
    except BctrlError as error:
        return HttpResponse(
            f"The artifact could not be loaded: {error.user_message} (request id {error.request_id or 'none'})",
            status=error_status(error),
            content_type="text/plain; charset=utf-8",
        )
    # inline: step results and the artifact grid show images straight from this URL
    response = file_response(
        content.chunks,
        content_type=content.content_type,
        filename=content.filename or str(artifact_id),
        size=content.content_length or None,
        inline=True,
    )
    response["Cache-Control"] = "private, max-age=3600"  # artifacts never change once stored
    return response  # type: ignore[return-value]  # role_required types views as HttpResponse


urlpatterns = [
    path("workspaces/<uuid:workspace_id>/artifacts/", artifact_list, name="artifacts"),
    path("artifacts/<uuid:artifact_id>/content/", artifact_content, name="artifact_content"),
]
