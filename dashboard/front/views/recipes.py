"""Step recipes: steps the team saves once and runs on any runtime.

Everyone reads them; operators (who may run steps) create, change and delete them. A recipe runs
from a runtime page's step runner, or from its own page by choosing one of the active runtimes.
"""

from typing import Any

from asgiref.sync import sync_to_async
from django.contrib import messages
from django.contrib.auth.models import User
from django.http import Http404, HttpResponse
from django.shortcuts import redirect
from django.urls import path, reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from dashboard.accounts.roles import role_required
from dashboard.audit.log import audit
from dashboard.bctrl import runtimes as runtimes_api
from dashboard.bctrl.errors import BctrlError
from dashboard.front.forms.recipes import RecipeForm
from dashboard.front.models import StepRecipe
from dashboard.pages import HtmxHttpRequest, redirect_after_form, render_form, render_page


async def _recipe(recipe_id: int) -> StepRecipe:
    recipe = await StepRecipe.objects.filter(pk=recipe_id).afirst()
    if recipe is None:
        raise Http404("No such recipe.")
    return recipe


@require_GET
@role_required("viewer")
async def recipe_list(request: HtmxHttpRequest) -> HttpResponse:
    recipes = [recipe async for recipe in StepRecipe.objects.order_by("name")]
    return render_page(request, "front/recipes/list.html", {"recipes": recipes})


@require_http_methods(["GET", "POST"])
@role_required("operator")
async def recipe_create(request: HtmxHttpRequest) -> HttpResponse:
    """A new recipe; "Save as recipe" on a run's results posts its steps here (`from_run`)."""
    back = _safe_next(request)
    from_run = request.method == "POST" and request.POST.get("from_run") == "1"
    if from_run:
        form = RecipeForm(initial={"steps_json": request.POST.get("steps_json", "")})
    else:
        form = RecipeForm(request.POST or None)
    if request.method == "POST" and not from_run and await sync_to_async(form.is_valid)():
        user = await request.auser()
        recipe = await StepRecipe.objects.acreate(
            name=form.cleaned_data["name"],
            description=form.cleaned_data["description"],
            steps=form.cleaned_data["steps_json"],
            created_by=user if isinstance(user, User) else None,
            created_by_name=user.get_username(),
        )
        await audit(request, "recipe.create", str(recipe.pk), target_name=recipe.name)
        messages.success(request, f"Recipe “{recipe.name}” saved; the team can run it on any runtime.")
        return redirect_after_form(request, back or reverse("recipe_detail", args=[recipe.pk]))
    context = {"form": form, "next": back}
    return render_form(request, "front/recipes/form.html", context, region=None)


@require_GET
@role_required("viewer")
async def recipe_detail(request: HtmxHttpRequest, recipe_id: int) -> HttpResponse:
    recipe = await _recipe(recipe_id)
    context: dict[str, Any] = {"recipe": recipe}
    try:
        # Where it can run: every active runtime of every workspace (this engine's own route).
        context["runtimes"] = (await runtimes_api.list_every_runtime(status="active", limit=200)).items
    except BctrlError as error:
        context["runtimes_error"] = error
    return render_page(request, "front/recipes/detail.html", context)


@require_GET
@role_required("operator")
async def recipe_run(request: HtmxHttpRequest, recipe_id: int) -> HttpResponse:
    """Open the chosen runtime's page with this recipe loaded in its step runner."""
    recipe = await _recipe(recipe_id)
    workspace_id, _, alias = request.GET.get("runtime", "").partition("/")
    try:
        runtime = await runtimes_api.get_runtime(workspace_id, alias)
    except (BctrlError, ValueError):
        messages.error(request, "Choose one of the active runtimes to run the recipe on.")
        return redirect("recipe_detail", recipe.pk)
    url = reverse("runtime_detail", args=[runtime.workspace_id, runtime.alias])
    return redirect(f"{url}?recipe={recipe.pk}#step-runner")


@require_http_methods(["GET", "POST"])
@role_required("operator")
async def recipe_edit(request: HtmxHttpRequest, recipe_id: int) -> HttpResponse:
    recipe = await _recipe(recipe_id)
    form = RecipeForm(request.POST or None, recipe=recipe)
    if request.method == "POST" and await sync_to_async(form.is_valid)():
        recipe.name = form.cleaned_data["name"]
        recipe.description = form.cleaned_data["description"]
        recipe.steps = form.cleaned_data["steps_json"]
        await recipe.asave()
        await audit(request, "recipe.update", str(recipe.pk), target_name=recipe.name)
        messages.success(request, f"Recipe “{recipe.name}” saved.")
        return redirect_after_form(request, reverse("recipe_detail", args=[recipe.pk]))
    context = {"form": form, "recipe": recipe}
    return render_form(request, "front/recipes/form.html", context, region=None)


@require_POST
@role_required("operator")
async def recipe_delete(request: HtmxHttpRequest, recipe_id: int) -> HttpResponse:
    recipe = await _recipe(recipe_id)
    await recipe.adelete()
    await audit(request, "recipe.delete", str(recipe_id), target_name=recipe.name)
    messages.success(request, f"Recipe “{recipe.name}” deleted.")
    return redirect_after_form(request, reverse("recipes"))


def _safe_next(request: HtmxHttpRequest) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    allowed = url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()})
    return target if allowed else ""


urlpatterns = [
    path("recipes/", recipe_list, name="recipes"),
    path("recipes/new/", recipe_create, name="recipe_create"),
    path("recipes/<int:recipe_id>/", recipe_detail, name="recipe_detail"),
    path("recipes/<int:recipe_id>/run/", recipe_run, name="recipe_run"),
    path("recipes/<int:recipe_id>/edit/", recipe_edit, name="recipe_edit"),
    path("recipes/<int:recipe_id>/delete/", recipe_delete, name="recipe_delete"),
]
