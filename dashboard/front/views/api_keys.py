"""The API's keys (admin): list, create (the secret shown once, on the answer page only), revoke.

The console's own key (BCTRL_API_KEY, found through whoami) is marked and cannot be revoked from
here: the console would cut itself off mid-request (the API refuses it too, 409). A new key's
secret is rendered into the one response that creates it and kept nowhere else: not in the
session, not in a message, not in the audit log.
"""

import asyncio
from typing import Any

from django.http import HttpResponse
from django.urls import path
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from dashboard.accounts.roles import role_required
from dashboard.audit.log import audit
from dashboard.bctrl import api_keys as api
from dashboard.bctrl import meta
from dashboard.bctrl.errors import BctrlError
from dashboard.front.forms.api_keys import ApiKeyForm
from dashboard.pages import HtmxHttpRequest, error_status, failure, render_page, settle, settled, with_toast


async def _listing(request: HtmxHttpRequest) -> dict[str, Any]:
    keys, connection = await asyncio.gather(
        settle(api.list_api_keys(cursor=request.GET.get("cursor") or None)), settle(meta.connection())
    )
    return {
        "page": settled(keys),
        "error": failure(keys),
        "console_key_id": connection.key_id if isinstance(connection, meta.Connection) else "",
        "console_key": connection
        if isinstance(connection, meta.Connection) and connection.identified
        else None,
    }


@require_GET
@role_required("admin")
async def api_key_list(request: HtmxHttpRequest) -> HttpResponse:
    context = {**await _listing(request), "form": ApiKeyForm()}
    return render_page(request, "front/api_keys.html", context, region="table")


@never_cache
@require_http_methods(["POST"])
@role_required("admin")
async def api_key_create(request: HtmxHttpRequest) -> HttpResponse:
    form = ApiKeyForm(request.POST)
    created = None
    if form.is_valid():
        name, scope, team = form.cleaned_data["name"], form.cleaned_data["scope"], form.cleaned_data["team"]
        try:
            created = await api.create_api_key(name, scope, team)
        except BctrlError as error:
            await audit(request, "api_key.create", name, target_name=name, error=error)
            form.add_upstream_error(error)
        else:
            await audit(
                request,
                "api_key.create",
                created.api_key.id,
                target_name=name,
                message=f"scope {scope}, team key" if team else f"scope {scope}",
            )
            form = ApiKeyForm()
    # A plain form post answered with the whole page: the secret is in this one response.
    context = {**await _listing(request), "form": form, "created": created}
    return render_page(request, "front/api_keys.html", context, status=201 if created else 422)


@require_POST
@role_required("admin")
async def api_key_revoke(request: HtmxHttpRequest, api_key_id: str) -> HttpResponse:
    listing = await _listing(request)
    known = listing["page"].items if listing["page"] else []
    name = next((key.name for key in known if key.id == str(api_key_id)), "")
    if str(api_key_id) == listing["console_key_id"]:
        message = "This is the console's own key; revoke it with another admin key after giving the console a new one."
        await audit(
            request,
            "api_key.revoke",
            str(api_key_id),
            target_name=name,
            outcome="denied",
            message=message,
        )
        response = render_page(request, "front/api_keys.html", {**listing}, region="table", status=409)
        return await with_toast(response, request, message, "error")
    try:
        await api.revoke_api_key(str(api_key_id))
    except BctrlError as error:
        await audit(request, "api_key.revoke", str(api_key_id), target_name=name, error=error)
        response = render_page(
            request,
            "front/api_keys.html",
            {**listing, "revoke_error": error},
            region="table",
            status=error_status(error),
        )
        return await with_toast(response, request, f"Could not revoke {name}: {error.user_message}", "error")
    await audit(request, "api_key.revoke", str(api_key_id), target_name=name)
    response = render_page(request, "front/api_keys.html", await _listing(request), region="table")
    return await with_toast(response, request, f"Revoked {name}: it is refused from now on.")


urlpatterns = [
    path("api-keys/", api_key_list, name="api_keys"),
    path("api-keys/new/", api_key_create, name="api_key_create"),
    path("api-keys/<uuid:api_key_id>/revoke/", api_key_revoke, name="api_key_revoke"),
]
