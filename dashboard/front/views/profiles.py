"""Browser profiles: list (search, pages), detail, create, edit, delete, launch with one.

Operators manage them (as an operator API key may), everyone reads.
"""

import asyncio
from collections.abc import Awaitable
from uuid import UUID

from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import redirect
from django.urls import path, reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django.views.decorators.vary import vary_on_headers

from dashboard.accounts.roles import role_required
from dashboard.audit.log import audit
from dashboard.bctrl import extensions as extensions_api
from dashboard.bctrl import profiles as api
from dashboard.bctrl import runtimes as runtimes_api
from dashboard.bctrl.errors import BctrlError
from dashboard.bctrl.pages import Page
from dashboard.bctrl.workspaces import Workspace, get_workspace, list_workspaces
from dashboard.front.forms.profiles import ProfileForm
from dashboard.front.forms.runtimes import fresh_key, suggest_alias
from dashboard.front.views.deleting import audited_delete, refused_delete
from dashboard.pages import (
    HtmxHttpRequest,
    error_status,
    failure,
    redirect_after_form,
    render_form,
    render_page,
    search_listing,
    settle,
)

PAGE_SIZE = 25


@vary_on_headers("HX-Request")
@require_GET
@role_required("viewer")
async def profile_list(request: HtmxHttpRequest) -> HttpResponse:
    context = await search_listing(request, api.list_profiles, PAGE_SIZE)
    return render_page(request, "front/profiles/list.html", context, region="table")


@require_GET
@role_required("viewer")
async def profile_detail(request: HtmxHttpRequest, profile_id: UUID) -> HttpResponse:
    profile, extensions, workspaces = await asyncio.gather(
        settle(api.get_profile(str(profile_id))),
        settle(extensions_api.all_extensions()),
        settle(list_workspaces(limit=500)),  # names, and where "Launch with this profile" may go
    )
    if isinstance(profile, BctrlError):
        return render_page(
            request, "front/profiles/detail.html", {"error": profile}, status=error_status(profile)
        )
    by_id = {e.id: e for e in extensions} if isinstance(extensions, list) else {}
    choices = workspaces.items if isinstance(workspaces, Page) else []
    in_use_workspace = next(
        (w for w in choices if profile.in_use and w.id == profile.in_use.workspace_id), None
    )
    context = {
        "profile": profile,
        "profile_id": profile.id,
        "extensions": [by_id.get(i) or i for i in profile.extension_ids],
        "extensions_error": failure(extensions),
        "workspaces": choices,
        "workspaces_error": failure(workspaces),
        "in_use_workspace": in_use_workspace,
        "launch_key": fresh_key(),
    }
    return render_page(request, "front/profiles/detail.html", context)


@require_POST
@role_required("operator")
async def profile_launch(request: HtmxHttpRequest, profile_id: UUID) -> HttpResponse:
    """Launch with this profile, now: a runtime named after it in the chosen workspace, its page
    next. "Other settings…" (`then=form`) opens that workspace's launch form filled in with it.
    """
    workspace_id = request.POST.get("workspace", "")
    try:
        UUID(workspace_id)
    except ValueError:
        messages.error(request, "Choose the workspace to launch the profile in.")
        return redirect_after_form(request, reverse("profile_detail", args=[profile_id]))
    if request.POST.get("then") == "form":
        return redirect(f"{reverse('runtime_launch', args=[workspace_id])}?profile={profile_id}")
    name = request.POST.get("name", "")[:200] or "browser"
    alias = suggest_alias(name)
    launched, workspace = await asyncio.gather(
        settle(
            runtimes_api.launch_runtime(
                workspace_id,
                alias=alias,
                driver="playwright",
                launch={"mode": "profile", "profileId": str(profile_id)},
                idempotency_key=request.POST.get("idempotency_key") or None,
            )
        ),
        settle(get_workspace(workspace_id)),  # its name, for the audit log
    )
    shown = f"{workspace.name} / {alias}" if isinstance(workspace, Workspace) else alias
    if isinstance(launched, BctrlError):
        target = f"{workspace_id}/{alias}"
        await audit(request, "runtime.launch", target, target_name=shown, error=launched)
        messages.error(request, f"The profile was not launched: {launched.user_message}")
        return redirect_after_form(request, reverse("profile_detail", args=[profile_id]))
    runtime = launched
    await audit(request, "runtime.launch", runtime.id, target_name=shown)
    messages.success(request, f"Runtime {runtime.alias} is running with profile “{name}”.")
    return redirect_after_form(request, reverse("runtime_detail", args=[workspace_id, runtime.alias]))


@require_http_methods(["GET", "POST"])
@role_required("operator")
async def profile_create(request: HtmxHttpRequest) -> HttpResponse:
    try:
        extensions = await extensions_api.all_extensions()
    except BctrlError as error:
        return render_page(request, "front/profiles/form.html", {"error": error}, status=error_status(error))
    form = ProfileForm(request.POST or None, extensions=extensions)
    if request.method == "POST" and form.is_valid():
        try:
            profile = await api.create_profile(form.payload(), form.cleaned_data["idempotency_key"])
        except BctrlError as error:
            name = form.cleaned_data["name"]
            await audit(request, "browser_profile.create", name, target_name=name, error=error)
            form.add_upstream_error(error)
        else:
            await audit(request, "browser_profile.create", profile.id, target_name=profile.name)
            messages.success(request, f"Profile “{profile.name}” created.")
            return redirect_after_form(request, reverse("profile_detail", args=[profile.id]))
    context = {"form": form, "action": reverse("profile_create")}
    return render_form(request, "front/profiles/form.html", context)


@require_http_methods(["GET", "POST"])
@role_required("operator")
async def profile_edit(request: HtmxHttpRequest, profile_id: UUID) -> HttpResponse:
    try:
        profile, extensions = await asyncio.gather(
            api.get_profile(str(profile_id)), extensions_api.all_extensions()
        )
    except BctrlError as error:
        return render_page(request, "front/profiles/form.html", {"error": error}, status=error_status(error))
    form = ProfileForm(request.POST or None, extensions=extensions, profile=profile)
    if request.method == "POST" and form.is_valid():
        try:
            profile = await api.update_profile(profile.id, form.payload())
        except BctrlError as error:
            await audit(
                request,
                "browser_profile.update",
                profile.id,
                target_name=profile.name,
                error=error,
            )
            form.add_upstream_error(error)
        else:
            await audit(request, "browser_profile.update", profile.id, target_name=profile.name)
            messages.success(request, f"Profile “{profile.name}” saved.")
            return redirect_after_form(request, reverse("profile_detail", args=[profile.id]))
    context = {"form": form, "profile": profile, "action": reverse("profile_edit", args=[profile.id])}
    return render_form(request, "front/profiles/form.html", context)


@require_POST
@role_required("operator")
async def profile_delete(request: HtmxHttpRequest, profile_id: UUID) -> HttpResponse:
    def fetch() -> Awaitable[api.Profile]:
        return api.get_profile(str(profile_id))

    error = await audited_delete(
        request, "browser_profile.delete", str(profile_id), fetch, lambda: api.delete_profile(str(profile_id))
    )
    if error is not None:
        context = {"profile_id": profile_id}
        return await refused_delete(request, "front/profiles/detail.html", context, error, fetch, "profile")
    messages.success(request, "Profile deleted.")
    return redirect_after_form(request, reverse("profiles"))


urlpatterns = [
    path("profiles/", profile_list, name="profiles"),
    path("profiles/new/", profile_create, name="profile_create"),
    path("profiles/<uuid:profile_id>/", profile_detail, name="profile_detail"),
    path("profiles/<uuid:profile_id>/edit/", profile_edit, name="profile_edit"),
    path("profiles/<uuid:profile_id>/delete/", profile_delete, name="profile_delete"),
    path("profiles/<uuid:profile_id>/launch/", profile_launch, name="profile_launch"),
]
