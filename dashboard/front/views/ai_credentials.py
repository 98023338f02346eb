"""AI credentials: list (provider filter, pages), detail, create, edit, delete, test.

Admins manage; operators may test (a cheap real call to the provider); everyone reads. The API
never returns a key and no page ever shows one: the key field is write-only.
"""

from django.contrib import messages
from django.http import HttpResponse
from django.urls import path, reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django.views.decorators.vary import vary_on_headers

from dashboard.accounts.roles import role_required
from dashboard.audit.log import audit
from dashboard.bctrl import ai_credentials as api
from dashboard.bctrl.errors import BctrlError
from dashboard.front.forms.ai_credentials import AiCredentialForm
from dashboard.pages import (
    HtmxHttpRequest,
    chosen,
    error_status,
    redirect_after_form,
    render_form,
    render_page,
)

PAGE_SIZE = 50


@vary_on_headers("HX-Request")
@require_GET
@role_required("viewer")
async def credential_list(request: HtmxHttpRequest) -> HttpResponse:
    provider = chosen(request, "provider", api.PROVIDERS)
    cursor = request.GET.get("cursor") or None
    context: dict[str, object] = {"provider": provider, "providers": api.PROVIDERS, "cursor": cursor}
    try:
        context["page"] = await api.list_credentials(
            provider=provider or None, cursor=cursor, limit=PAGE_SIZE
        )
    except BctrlError as error:
        context["error"] = error
    return render_page(request, "front/ai_credentials/list.html", context, region="table")


@require_GET
@role_required("viewer")
async def credential_detail(request: HtmxHttpRequest, credential_id: str) -> HttpResponse:
    try:
        credential = await api.get_credential(credential_id)
    except BctrlError as error:
        context = {"error": error, "credential_id": credential_id}
        return render_page(request, "front/ai_credentials/detail.html", context, status=error_status(error))
    context = {"credential": credential, "credential_id": credential.id}
    return render_page(request, "front/ai_credentials/detail.html", context)


@require_http_methods(["GET", "POST"])
@role_required("admin")
async def credential_create(request: HtmxHttpRequest) -> HttpResponse:
    form = AiCredentialForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            credential = await api.create_credential(form.payload(), form.cleaned_data["idempotency_key"])
        except BctrlError as error:
            await audit(request, "ai_credential.create", form.cleaned_data["id"], error=error)
            form.add_upstream_error(error)
        else:
            await audit(request, "ai_credential.create", credential.id)
            messages.success(request, f"AI credential “{credential.id}” created.")
            return redirect_after_form(request, reverse("ai_credential_detail", args=[credential.id]))
    context = {"form": form, "action": reverse("ai_credential_create")}
    return render_form(request, "front/ai_credentials/form.html", context)


@require_http_methods(["GET", "POST"])
@role_required("admin")
async def credential_edit(request: HtmxHttpRequest, credential_id: str) -> HttpResponse:
    try:
        credential = await api.get_credential(credential_id)
    except BctrlError as error:
        context = {"error": error, "credential_id": credential_id}
        return render_page(request, "front/ai_credentials/form.html", context, status=error_status(error))
    form = AiCredentialForm(request.POST or None, credential=credential)
    if request.method == "POST" and form.is_valid():
        try:
            credential = await api.update_credential(credential.id, form.payload())
        except BctrlError as error:
            await audit(request, "ai_credential.update", credential.id, error=error)
            form.add_upstream_error(error)
        else:
            await audit(request, "ai_credential.update", credential.id)
            messages.success(request, f"AI credential “{credential.id}” saved.")
            return redirect_after_form(request, reverse("ai_credential_detail", args=[credential.id]))
    context = {
        "form": form,
        "credential": credential,
        "action": reverse("ai_credential_edit", args=[credential.id]),
    }
    return render_form(request, "front/ai_credentials/form.html", context)


@require_POST
@role_required("admin")
async def credential_delete(request: HtmxHttpRequest, credential_id: str) -> HttpResponse:
    try:
        await api.delete_credential(credential_id)
    except BctrlError as error:
        await audit(request, "ai_credential.delete", credential_id, error=error)
        context = {"delete_error": error, "credential_id": credential_id}
        return render_page(
            request, "front/ai_credentials/detail.html", context, region="delete", status=error_status(error)
        )
    else:
        await audit(request, "ai_credential.delete", credential_id)
        messages.success(request, f"AI credential “{credential_id}” deleted.")
        return redirect_after_form(request, reverse("ai_credentials"))


@require_POST
@role_required("operator")
async def credential_test(request: HtmxHttpRequest, credential_id: str) -> HttpResponse:
    """One cheap real call to the provider; the answer ({ok, message}) is shown in place."""
    context: dict[str, object] = {"credential_id": credential_id}
    try:
        context["result"] = result = await api.try_credential(credential_id)
    except BctrlError as error:
        context["test_error"] = error
        await audit(request, "ai_credential.test", credential_id, error=error)
    else:
        outcome = "succeeded" if result.ok else "failed"
        await audit(
            request,
            "ai_credential.test",
            credential_id,
            outcome=outcome,
            message=result.message,
        )
    if not request.htmx:  # no script: the whole page, with the result in place
        try:
            context["credential"] = await api.get_credential(credential_id)
        except BctrlError as error:
            context["error"] = error
    return render_page(request, "front/ai_credentials/detail.html", context, region="test_result")


urlpatterns = [
    path("ai-credentials/", credential_list, name="ai_credentials"),
    path("ai-credentials/new/", credential_create, name="ai_credential_create"),
    path("ai-credentials/<str:credential_id>/", credential_detail, name="ai_credential_detail"),
    path("ai-credentials/<str:credential_id>/edit/", credential_edit, name="ai_credential_edit"),
    path("ai-credentials/<str:credential_id>/delete/", credential_delete, name="ai_credential_delete"),
    path("ai-credentials/<str:credential_id>/test/", credential_test, name="ai_credential_test"),
]
