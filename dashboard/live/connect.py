"""The runtime page's Connect panel: a CDP URL for an operator's own Playwright or Puppeteer, and
who is connected now.

Minting is an operator's act and is audited; the URL is shown once, to the operator who asked
(a short-lived token in it; it is never logged). Viewers see the panel's purpose and who is
connected is listed to operators only (API key names are an attacker's map).
"""

from django.http import HttpResponse
from django.template.loader import render_to_string
from django.urls import path
from django.views.decorators.http import require_GET, require_POST

from dashboard.accounts.roles import role_required
from dashboard.audit.log import record
from dashboard.bctrl import cdp as cdp_api
from dashboard.bctrl.errors import BctrlError
from dashboard.pages import HtmxHttpRequest, with_toast

TTL_SECONDS = 300


def _panel(request: HtmxHttpRequest, context: dict[str, object]) -> HttpResponse:
    return HttpResponse(render_to_string("live/connect.html#connect_panel", context, request=request))


@require_GET
@role_required("operator")
async def runtime_connections(request: HtmxHttpRequest, workspace_id: str, alias: str) -> HttpResponse:
    ws = str(workspace_id)
    try:
        connections = await cdp_api.connections(ws, alias)
        error = None
    except BctrlError as failure:
        connections, error = [], failure
    return _panel(request, {"workspace_id": ws, "alias": alias, "connections": connections, "error": error})


@require_POST
@role_required("operator")
async def runtime_connect(request: HtmxHttpRequest, workspace_id: str, alias: str) -> HttpResponse:
    ws = str(workspace_id)
    user = await request.auser()
    context: dict[str, object] = {"workspace_id": ws, "alias": alias}
    try:
        minted = await cdp_api.connect_url(
            ws, alias, label=user.get_username()[:100], ttl_seconds=TTL_SECONDS
        )
        context["connections"] = await cdp_api.connections(ws, alias)
    except BctrlError as failure:
        context["error"] = failure
        return await with_toast(_panel(request, context), request, failure.user_message, "error")
    await record(request, "runtime.cdp.connect_url", "runtime", f"{ws}/{alias}", message="minted a CDP URL")
    context.update(url=minted.url, expires_at=minted.expires_at)
    return await with_toast(
        _panel(request, context), request, f"A CDP URL for {alias}: it opens for 5 minutes."
    )


urlpatterns = [
    path(
        "workspaces/<uuid:workspace_id>/runtimes/<slug:alias>/connect/",
        runtime_connections,
        name="runtime_connections",
    ),
    path(
        "workspaces/<uuid:workspace_id>/runtimes/<slug:alias>/connect/url/",
        runtime_connect,
        name="runtime_connect",
    ),
]
