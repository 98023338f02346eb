"""Browser extensions: list (search, pages) with upload, detail, rename, enable/disable, delete.

Operators manage (as an operator API key may), everyone reads.
"""

import asyncio
from collections.abc import Awaitable
from uuid import UUID

from asgiref.sync import sync_to_async
from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import redirect
from django.urls import path, reverse
from django.views.decorators.http import require_GET, require_POST
from django.views.decorators.vary import vary_on_headers

from dashboard.accounts.roles import role_required
from dashboard.audit.log import audit
from dashboard.bctrl import extensions as api
from dashboard.bctrl import meta
from dashboard.bctrl.errors import BctrlError
from dashboard.front.forms.extensions import ExtensionRenameForm, ExtensionUploadForm
from dashboard.front.uploads import too_large
from dashboard.front.views.deleting import audited_delete, refused_delete
from dashboard.pages import (
    HtmxHttpRequest,
    error_status,
    redirect_after_form,
    render_page,
    search_listing,
    settle,
    with_toast,
)

PAGE_SIZE = 25


async def _listing(request: HtmxHttpRequest) -> dict[str, object]:
    return await search_listing(request, api.list_extensions, PAGE_SIZE)


@vary_on_headers("HX-Request")
@require_GET
@role_required("viewer")
async def extension_list(request: HtmxHttpRequest) -> HttpResponse:
    listing, limits = await asyncio.gather(_listing(request), settle(meta.limits()))
    context = {**listing, "form": ExtensionUploadForm(), "limit": _limit(limits)}
    return render_page(request, "front/extensions/list.html", context, region="table")


def _limit(limits: meta.Limits | BctrlError) -> int | None:
    return limits.extension_max_bytes if isinstance(limits, meta.Limits) else None


@require_POST
@role_required("operator")
async def extension_upload(request: HtmxHttpRequest) -> HttpResponse:
    post, files = await sync_to_async(lambda: (request.POST, request.FILES))()
    form = ExtensionUploadForm(post, files)
    limit = _limit(await settle(meta.limits()))
    if form.is_valid() and (refusal := too_large(form.cleaned_data["file"], limit)):
        form.add_error("file", refusal)
    elif form.is_valid():
        upload = form.cleaned_data["file"]
        try:
            extension = await api.upload_extension(
                upload.name,
                upload,  # read in chunks by httpx as the request goes out, not into memory first
                name=form.cleaned_data["name"] or None,
                idempotency_key=form.cleaned_data["idempotency_key"],
            )
        except BctrlError as error:
            await audit(request, "browser_extension.upload", upload.name, error=error)
            form.add_upstream_error(error)
        else:
            await audit(
                request,
                "browser_extension.upload",
                extension.id,
                target_name=extension.name,
            )
            messages.success(request, f"Extension “{extension.name}” {extension.version} uploaded.")
            return redirect_after_form(request, reverse("extension_detail", args=[extension.id]))
    context = {"form": form, "limit": limit, **({} if request.htmx else await _listing(request))}
    return render_page(request, "front/extensions/list.html", context, region="upload", status=422)


@require_GET
@role_required("viewer")
async def extension_detail(request: HtmxHttpRequest, extension_id: UUID) -> HttpResponse:
    try:
        extension = await api.get_extension(str(extension_id))
    except BctrlError as error:
        return render_page(
            request, "front/extensions/detail.html", {"error": error}, status=error_status(error)
        )
    context = {
        "extension": extension,
        "extension_id": extension.id,
        "rename_form": ExtensionRenameForm(initial={"name": extension.name}),
    }
    return render_page(request, "front/extensions/detail.html", context)


@require_POST
@role_required("operator")
async def extension_rename(request: HtmxHttpRequest, extension_id: UUID) -> HttpResponse:
    form = ExtensionRenameForm(request.POST)
    if form.is_valid():
        try:
            extension = await api.update_extension(str(extension_id), name=form.cleaned_data["name"])
        except BctrlError as error:
            await audit(request, "browser_extension.rename", str(extension_id), error=error)
            form.add_upstream_error(error)
        else:
            await audit(
                request,
                "browser_extension.rename",
                extension.id,
                target_name=extension.name,
            )
            messages.success(request, f"Extension renamed to “{extension.name}”.")
            return redirect_after_form(request, reverse("extension_detail", args=[extension.id]))
    context = {"rename_form": form, "extension_id": extension_id}
    return render_page(request, "front/extensions/detail.html", context, region="rename", status=422)


@require_POST
@role_required("operator")
async def extension_toggle(request: HtmxHttpRequest, extension_id: UUID) -> HttpResponse:
    enable = request.POST.get("enabled") == "true"
    try:
        extension = await api.update_extension(str(extension_id), enabled=enable)
    except BctrlError as error:
        await audit(request, "browser_extension.toggle", str(extension_id), error=error)
        if not request.htmx:
            return render_page(
                request, "front/extensions/detail.html", {"error": error}, status=error_status(error)
            )
        response = HttpResponse(status=204)
        return await with_toast(response, request, error.user_message, "error")
    else:
        action = "enable" if enable else "disable"
        await audit(
            request,
            f"browser_extension.{action}",
            extension.id,
            target_name=extension.name,
        )
        text = (
            f"“{extension.name}” {action}d. Runtimes launched from now on {'load' if enable else 'skip'} it."
        )
        if not request.htmx:
            messages.success(request, text)
            return redirect("extension_detail", extension_id=extension.id)
        response = render_page(
            request, "front/extensions/detail.html", {"extension": extension}, region="toggle"
        )
        return await with_toast(response, request, text)


@require_POST
@role_required("operator")
async def extension_delete(request: HtmxHttpRequest, extension_id: UUID) -> HttpResponse:
    def fetch() -> Awaitable[api.Extension]:
        return api.get_extension(str(extension_id))

    error = await audited_delete(
        request,
        "browser_extension.delete",
        str(extension_id),
        fetch,
        lambda: api.delete_extension(str(extension_id)),
    )
    if error is not None:
        context = {"extension_id": extension_id}
        return await refused_delete(
            request, "front/extensions/detail.html", context, error, fetch, "extension"
        )
    messages.success(request, "Extension deleted.")
    return redirect_after_form(request, reverse("extensions"))


urlpatterns = [
    path("extensions/", extension_list, name="extensions"),
    path("extensions/upload/", extension_upload, name="extension_upload"),
    path("extensions/<uuid:extension_id>/", extension_detail, name="extension_detail"),
    path("extensions/<uuid:extension_id>/rename/", extension_rename, name="extension_rename"),
    path("extensions/<uuid:extension_id>/toggle/", extension_toggle, name="extension_toggle"),
    path("extensions/<uuid:extension_id>/delete/", extension_delete, name="extension_delete"),
]
