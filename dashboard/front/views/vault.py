"""Vault: a tree of entries by key prefix, detail with TOTP code, create, edit, delete, reveal.

Secrets travel one way: from a form to the API. Pages show only whether a password or TOTP seed
is set; the single exception is an admin's reveal, rendered once into its response and never
kept, logged or audited by value.
"""

from dataclasses import dataclass

from asgiref.sync import sync_to_async
from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import redirect
from django.urls import path, reverse
from django.utils.cache import add_never_cache_headers
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django.views.decorators.vary import vary_on_headers

from dashboard.accounts.roles import has_role, role_required
from dashboard.audit.log import audit, record
from dashboard.bctrl import vault as api
from dashboard.bctrl.errors import BctrlError, Conflict, NotFound
from dashboard.front.folders import crumbs, folder_prefix, folder_url, parent_folder
from dashboard.front.forms.vault import VaultEntryForm
from dashboard.pages import HtmxHttpRequest, error_status, redirect_after_form, render_form, render_page

PAGE_SIZE = 500  # one folder's worth: folders are derived from the keys of this page


@dataclass(frozen=True)
class VaultFolder:
    name: str
    prefix: str
    entry_count: int


def _prefix(raw: str) -> str:
    """A folder prefix from the URL; anything that is not a key path becomes the root."""
    return folder_prefix(raw, api.KEY_PATTERN)


def split_folder(
    entries: list[api.VaultEntry], prefix: str
) -> tuple[list[VaultFolder], list[api.VaultEntry]]:
    """The entries directly in `prefix`, and its sub-folders with how many entries each holds."""
    counts: dict[str, int] = {}
    direct = []
    for entry in entries:
        rest = entry.key[len(prefix) :]
        if "/" in rest:
            name = rest.split("/", 1)[0]
            counts[name] = counts.get(name, 0) + 1
        else:
            direct.append(entry)
    folders = [VaultFolder(name, f"{prefix}{name}/", n) for name, n in sorted(counts.items())]
    return folders, direct


@vary_on_headers("HX-Request")
@require_GET
@role_required("viewer")
async def vault_tree(request: HtmxHttpRequest) -> HttpResponse:
    prefix = _prefix(request.GET.get("prefix", ""))
    has_totp = True if request.GET.get("totp") == "1" else None
    cursor = request.GET.get("cursor") or None
    context: dict[str, object] = {
        "prefix": prefix,
        "crumbs": crumbs(prefix),
        "totp": has_totp,
        "cursor": cursor,
    }
    try:
        page = await api.list_entries(prefix=prefix, has_totp=has_totp, cursor=cursor, limit=PAGE_SIZE)
    except BctrlError as error:
        context["error"] = error
    else:
        context["folders"], context["entries"] = split_folder(page.items, prefix)
        context["next_cursor"] = page.next_cursor
    return render_page(request, "front/vault/tree.html", context, region="tree")


@require_GET
@role_required("viewer")
async def vault_detail(request: HtmxHttpRequest, key: str) -> HttpResponse:
    context: dict[str, object] = {"key": key, "crumbs": crumbs(parent_folder(key))}
    try:
        context["entry"] = entry = await api.get_entry(key)
    except BctrlError as error:
        return render_page(
            request, "front/vault/detail.html", {**context, "error": error}, status=error_status(error)
        )
    if entry.has_totp and await _may(request, "admin"):
        context.update(await _totp_context(key))
    response = render_page(request, "front/vault/detail.html", context)
    add_never_cache_headers(response)
    return response


async def _may(request: HtmxHttpRequest, role: str) -> bool:
    return await sync_to_async(has_role)(await request.auser(), role)


async def _totp_context(key: str) -> dict[str, object]:
    try:
        return {"totp": await api.totp(key)}
    except BctrlError as error:
        return {"totp_error": error}


@require_GET
@role_required("admin")
async def vault_totp(request: HtmxHttpRequest, key: str) -> HttpResponse:
    """The current TOTP code, which htmx asks for again when it expires. Admins only: below admin a
    secret is used (typed into a page by a runtime), never read; the API refuses it too."""
    if not request.htmx:
        return redirect("vault_detail", key=key)
    response = render_page(
        request, "front/vault/detail.html", {"key": key, **await _totp_context(key)}, region="totp"
    )
    add_never_cache_headers(response)
    return response


@require_POST
@role_required("admin")
async def vault_reveal(request: HtmxHttpRequest, key: str) -> HttpResponse:
    """Show the secrets once, in this response only: never stored, never logged, audited by key."""
    context: dict[str, object] = {"key": key}
    try:
        context["revealed"] = await api.reveal(key)
    except BctrlError as error:
        context["reveal_error"] = error
    await record(request, "vault.reveal", "vault_entry", key, error=context.get("reveal_error"))  # type: ignore[arg-type]
    if not request.htmx:
        return redirect("vault_detail", key=key)  # a reveal is only ever shown in place
    response = render_page(request, "front/vault/detail.html", context, region="reveal")
    add_never_cache_headers(response)
    return response


@require_http_methods(["GET", "POST"])
@role_required("admin")
async def vault_create(request: HtmxHttpRequest) -> HttpResponse:
    prefix = _prefix(request.GET.get("prefix", ""))
    form = VaultEntryForm(request.POST or None, initial={"key": prefix})
    if request.method == "POST" and form.is_valid():
        key = form.cleaned_data["key"]
        try:
            await _refuse_existing(key)
            entry = await api.put_entry(key, form.payload())
        except BctrlError as error:
            await audit(request, "vault.entry.create", key, error=error)
            form.add_upstream_error(error)
        else:
            await audit(request, "vault.entry.create", key)
            messages.success(request, f"Vault entry “{entry.key}” created.")
            return redirect_after_form(request, reverse("vault_detail", args=[entry.key]))
    context = {"form": form, "action": request.get_full_path(), "crumbs": crumbs(prefix)}
    return render_form(request, "front/vault/form.html", context)


async def _refuse_existing(key: str) -> None:
    """PUT would silently replace an entry; a create must not."""
    try:
        await api.get_entry(key)
    except NotFound:
        return
    raise Conflict(
        409,
        "vault.key_exists",
        "An entry with this key already exists.",
        details={
            "fields": [{"path": "key", "message": "An entry with this key already exists; edit it instead."}]
        },
    )


@require_http_methods(["GET", "POST"])
@role_required("admin")
async def vault_edit(request: HtmxHttpRequest, key: str) -> HttpResponse:
    try:
        entry = await api.get_entry(key)
    except BctrlError as error:
        return render_page(
            request, "front/vault/form.html", {"error": error, "key": key}, status=error_status(error)
        )
    form = VaultEntryForm(request.POST or None, entry=entry)
    if request.method == "POST" and form.is_valid():
        try:
            entry = await api.put_entry(key, form.payload())
        except BctrlError as error:
            await audit(request, "vault.entry.update", key, error=error)
            form.add_upstream_error(error)
        else:
            await audit(request, "vault.entry.update", key)
            messages.success(request, f"Vault entry “{key}” saved.")
            return redirect_after_form(request, reverse("vault_detail", args=[key]))
    context = {"form": form, "entry": entry, "key": key, "action": reverse("vault_edit", args=[key])}
    context["crumbs"] = crumbs(parent_folder(key))
    return render_form(request, "front/vault/form.html", context)


@require_POST
@role_required("admin")
async def vault_delete(request: HtmxHttpRequest, key: str) -> HttpResponse:
    try:
        await api.delete_entry(key)
    except BctrlError as error:
        await audit(request, "vault.entry.delete", key, error=error)
        context = {"delete_error": error, "key": key}
        return render_page(
            request, "front/vault/detail.html", context, region="delete", status=error_status(error)
        )
    else:
        await audit(request, "vault.entry.delete", key)
        messages.success(request, f"Vault entry “{key}” deleted.")
        return redirect_after_form(request, folder_url(reverse("vault"), parent_folder(key)))


# The action comes before the key: a key may itself end in "edit" or "totp".
urlpatterns = [
    path("vault/", vault_tree, name="vault"),
    path("vault/new/", vault_create, name="vault_create"),
    path("vault/entry/<path:key>", vault_detail, name="vault_detail"),
    path("vault/edit/<path:key>", vault_edit, name="vault_edit"),
    path("vault/delete/<path:key>", vault_delete, name="vault_delete"),
    path("vault/totp/<path:key>", vault_totp, name="vault_totp"),
    path("vault/reveal/<path:key>", vault_reveal, name="vault_reveal"),
]
