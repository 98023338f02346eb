"""Storage: namespaces, one folder level at a time, upload, download, preview, delete.

Operators upload and delete (objects are not secrets); everyone browses and downloads.
Downloads stream through the console so the browser never needs an API key.
"""

import asyncio
import mimetypes

from asgiref.sync import sync_to_async
from django.contrib import messages
from django.http import HttpResponse
from django.urls import path, reverse
from django.views.decorators.http import require_GET, require_POST
from django.views.decorators.vary import vary_on_headers

from dashboard.accounts.roles import role_required
from dashboard.audit.log import audit
from dashboard.bctrl import meta
from dashboard.bctrl import storage as api
from dashboard.bctrl.errors import BctrlError
from dashboard.front.downloads import file_response, may_show_inline, media_type
from dashboard.front.folders import crumbs, folder_prefix, folder_url, parent_folder
from dashboard.front.forms.storage import StorageUploadForm
from dashboard.front.uploads import chunks, human_size, too_large
from dashboard.pages import HtmxHttpRequest, error_status, redirect_after_form, render_page, settle

PAGE_SIZE = 100
PREVIEW_BYTES = 64 * 1024
TEXT_TYPES = {"application/json", "application/xml", "application/javascript", "application/x-ndjson"}


def _folder_url(namespace: str, prefix: str) -> str:
    return folder_url(reverse("storage_folder", args=[namespace]), prefix)


def preview_kind(content_type: str) -> str:
    if may_show_inline(content_type):
        return "image"
    base = media_type(content_type)
    if base.startswith("text/") or base in TEXT_TYPES or base.endswith(("+json", "+xml")):
        return "text"
    return ""


@require_GET
@role_required("viewer")
async def storage_namespaces(request: HtmxHttpRequest) -> HttpResponse:
    context: dict[str, object] = {}
    try:
        context["namespaces"] = await api.list_namespaces()
    except BctrlError as error:
        context["error"] = error
    return render_page(request, "front/storage/namespaces.html", context)


async def _listing(request: HtmxHttpRequest, namespace: str) -> dict[str, object]:
    prefix = folder_prefix(request.GET.get("prefix", ""))
    cursor = request.GET.get("cursor") or None
    context: dict[str, object] = {
        "namespace": namespace,
        "prefix": prefix,
        "crumbs": crumbs(prefix),
        "cursor": cursor,
    }
    try:
        context["folder"] = await api.list_folder(namespace, prefix, cursor=cursor, limit=PAGE_SIZE)
    except BctrlError as error:
        context["error"] = error
    return context


@vary_on_headers("HX-Request")
@require_GET
@role_required("viewer")
async def storage_folder(request: HtmxHttpRequest, namespace: str) -> HttpResponse:
    context, namespaces, limits = await asyncio.gather(
        _listing(request, namespace), settle(api.list_namespaces()), settle(meta.limits())
    )
    context["form"] = StorageUploadForm(initial={"folder": context["prefix"]})
    context["limit"] = limits.storage_max_bytes if isinstance(limits, meta.Limits) else None
    folder = context.get("folder")
    # A namespace springs into being with its first object, so an empty one with no objects is
    # either new or mistyped: answer 404 (naming it) unless the operator asked to start it.
    unknown = (
        isinstance(namespaces, list)
        and namespace not in {n.name for n in namespaces}
        and isinstance(folder, api.Folder)
        and not folder.objects
        and not folder.folders
        and not context["prefix"]
    )
    if unknown and request.GET.get("new") != "1":
        context["unknown"] = True
        return render_page(request, "front/storage/folder.html", context, status=404)
    return render_page(request, "front/storage/folder.html", context, region="listing")


@require_POST
@role_required("operator")
async def storage_upload(request: HtmxHttpRequest, namespace: str) -> HttpResponse:
    # Parsing the multipart body writes the file to disk: done off the event loop.
    post, files = await sync_to_async(lambda: (request.POST, request.FILES))()
    form = StorageUploadForm(post, files)
    limits = await settle(meta.limits())
    limit = limits.storage_max_bytes if isinstance(limits, meta.Limits) else None
    if form.is_valid() and (refusal := too_large(form.cleaned_data["file"], limit)):
        form.add_error("file", refusal)
    elif form.is_valid():
        upload, object_path = form.cleaned_data["file"], form.cleaned_data["path"]
        content_type = (
            upload.content_type or mimetypes.guess_type(upload.name)[0] or "application/octet-stream"
        )
        target = f"{namespace}/{object_path}"
        try:
            stored = await api.put_object(
                namespace, object_path, chunks(upload), content_type, size=upload.size
            )
        except BctrlError as error:
            await audit(request, "storage.object.upload", target, error=error)
            form.add_upstream_error(error)
        else:
            await audit(request, "storage.object.upload", target)
            messages.success(request, f"Uploaded {stored.path} ({human_size(stored.size_bytes)}).")
            return redirect_after_form(request, _folder_url(namespace, form.cleaned_data.get("folder") or ""))
    context = {
        "form": form,
        "namespace": namespace,
        "limit": limit,
        **({} if request.htmx else await _listing(request, namespace)),
    }
    return render_page(request, "front/storage/folder.html", context, region="upload", status=422)


@require_GET
@role_required("viewer")
async def storage_object(request: HtmxHttpRequest, namespace: str, object_path: str) -> HttpResponse:
    folder = parent_folder(object_path)
    context: dict[str, object] = {
        "namespace": namespace,
        "object_path": object_path,
        "crumbs": crumbs(folder),
    }
    try:
        stored = context["object"] = await api.get_object(namespace, object_path)
        context["preview"] = kind = preview_kind(stored.content_type)
        if kind == "text":
            head = await api.read_head(namespace, object_path, PREVIEW_BYTES)
            context["text"] = head.decode("utf-8", errors="replace")
            context["truncated"] = stored.size_bytes > PREVIEW_BYTES
    except BctrlError as error:
        context["error"] = error
        return render_page(request, "front/storage/object.html", context, status=error_status(error))
    return render_page(request, "front/storage/object.html", context)


@require_GET
@role_required("viewer")
async def storage_download(request: HtmxHttpRequest, namespace: str, object_path: str) -> HttpResponse:
    """Stream the bytes from the API; metadata first, so a failure is a page, not a cut download."""
    try:
        stored = await api.get_object(namespace, object_path)
    except BctrlError as error:
        context = {"namespace": namespace, "object_path": object_path, "error": error}
        return render_page(request, "front/storage/object.html", context, status=error_status(error))
    response = file_response(
        api.iter_content(namespace, object_path),
        content_type=stored.content_type,
        filename=stored.name,
        size=stored.size_bytes,
        inline=request.GET.get("inline") == "1",
    )
    return response  # type: ignore[return-value]  # role_required types views as HttpResponse


@require_POST
@role_required("operator")
async def storage_delete(request: HtmxHttpRequest, namespace: str, object_path: str) -> HttpResponse:
    folder = parent_folder(object_path)
    try:
        await api.delete_object(namespace, object_path)
    except BctrlError as error:
        await audit(request, "storage.object.delete", f"{namespace}/{object_path}", error=error)
        context = {"delete_error": error, "namespace": namespace, "object_path": object_path}
        return render_page(
            request, "front/storage/object.html", context, region="delete", status=error_status(error)
        )
    else:
        await audit(request, "storage.object.delete", f"{namespace}/{object_path}")
        messages.success(request, f"Deleted {object_path}.")
        return redirect_after_form(request, _folder_url(namespace, folder))


urlpatterns = [
    path("storage/", storage_namespaces, name="storage"),
    path("storage/<str:namespace>/", storage_folder, name="storage_folder"),
    path("storage/<str:namespace>/upload/", storage_upload, name="storage_upload"),
    path("storage/<str:namespace>/objects/<path:object_path>", storage_object, name="storage_object"),
    path("storage/<str:namespace>/download/<path:object_path>", storage_download, name="storage_download"),
    path("storage/<str:namespace>/delete/<path:object_path>", storage_delete, name="storage_delete"),
]
