"""Step recipes: saved by the team in the console's database, runnable on any runtime."""

import json
import uuid
from collections.abc import Iterator

import pytest
from django.test import Client

from dashboard.audit.models import AuditEntry
from dashboard.front.models import StepRecipe
from tests.console.runtime_support import LiveRuntime, live_runtime
from tests.support import site as served
from tests.support.engine_process import EngineProcess
from tests.support.html import region

pytestmark = pytest.mark.database  # run again on PostgreSQL (bin/test)

STEPS = [{"call": "page.title"}, {"call": "page.url"}]


@pytest.fixture(scope="module")
def live(engine: EngineProcess) -> Iterator[LiveRuntime]:
    with live_runtime(engine, "recipes") as runtime:
        yield runtime


def _create(client: Client, name: str = "Read the title", steps: list | str = STEPS, **extra: str):
    body = steps if isinstance(steps, str) else json.dumps(steps)
    return client.post("/recipes/new/", {"name": name, "description": "", "steps_json": body, **extra})


def test_an_operator_saves_a_recipe_the_team_sees(operator_client: Client, viewer_client: Client) -> None:
    response = _create(operator_client)
    recipe = StepRecipe.objects.get(name="Read the title")
    assert response.status_code == 302 and response["Location"] == f"/recipes/{recipe.pk}/"
    assert recipe.steps == STEPS and recipe.created_by_name == "oscar"
    listing = viewer_client.get("/recipes/").content.decode()
    assert "Read the title" in listing and "page.title, page.url" in listing
    assert AuditEntry.objects.get(action="recipe.create").target_name == "Read the title"


def test_it_refuses_bad_steps_and_taken_names(operator_client: Client) -> None:
    assert "not valid JSON" in _create(operator_client, steps="[{").content.decode()
    assert "Step 1 needs a" in _create(operator_client, steps=[{"args": []}]).content.decode()
    _create(operator_client)
    again = _create(operator_client)
    assert again.status_code == 422 and "A recipe with this name exists" in again.content.decode()
    assert StepRecipe.objects.count() == 1


def test_a_run_is_saved_as_a_recipe_from_its_results(operator_client: Client, live: LiveRuntime) -> None:
    prefilled = operator_client.post(
        "/recipes/new/", {"from_run": "1", "steps_json": json.dumps(STEPS), "next": live.url}
    ).content.decode()
    assert "page.title" in prefilled and f'name="next" value="{live.url}"' in prefilled
    assert not StepRecipe.objects.exists()  # prefilled, not saved: it needs a name
    response = _create(operator_client, name="From a run", next=live.url)
    assert response["Location"] == live.url


def test_it_runs_on_a_runtime_from_the_step_runner(
    operator_client: Client, live: LiveRuntime, site: served.TestSite
) -> None:
    recipe = StepRecipe.objects.create(
        name="Visit the site",
        steps=[{"call": "page.goto", "args": [f"{site.url}/index.html"]}, {"call": "page.title"}],
    )
    page = operator_client.get(live.url).content.decode()
    assert f'<option value="{recipe.pk}"' in page and "Run the recipe" in page
    response = operator_client.post(
        f"{live.url}execute/",
        {"source": "recipe", "recipe": str(recipe.pk), "idempotency_key": uuid.uuid4().hex},
        headers={"HX-Request": "true"},
    )
    body = response.content.decode()
    assert response.status_code == 200 and "badge-succeeded" in body and "Test home" in body
    loaded = operator_client.get(live.url, {"recipe": recipe.pk}).content.decode()
    assert "Loaded the recipe" in loaded and "index.html" in region(loaded, "step-json")


def test_it_opens_on_any_active_runtime(operator_client: Client, live: LiveRuntime) -> None:
    recipe = StepRecipe.objects.create(name="Anywhere", steps=STEPS)
    detail = operator_client.get(f"/recipes/{recipe.pk}/").content.decode()
    assert f'value="{live.workspace_id}/{live.alias}"' in detail
    response = operator_client.get(
        f"/recipes/{recipe.pk}/run/", {"runtime": f"{live.workspace_id}/{live.alias}"}
    )
    assert (
        response.status_code == 302 and response["Location"] == f"{live.url}?recipe={recipe.pk}#step-runner"
    )


def test_a_viewer_reads_recipes_but_may_not_change_or_run_them(viewer_client: Client) -> None:
    recipe = StepRecipe.objects.create(name="Read only", steps=STEPS)
    detail = viewer_client.get(f"/recipes/{recipe.pk}/").content.decode()
    assert "needs the operator role" in detail and f"/recipes/{recipe.pk}/edit/" not in detail
    assert _create(viewer_client, name="Sneaky").status_code == 403
    assert viewer_client.post(f"/recipes/{recipe.pk}/delete/").status_code == 403
    assert viewer_client.get(f"/recipes/{recipe.pk}/run/").status_code == 403
    assert StepRecipe.objects.filter(name="Read only").exists()


def test_an_operator_edits_and_deletes_a_recipe(operator_client: Client) -> None:
    recipe = StepRecipe.objects.create(name="Old name", steps=STEPS)
    response = operator_client.post(
        f"/recipes/{recipe.pk}/edit/",
        {"name": "New name", "description": "d", "steps_json": json.dumps(STEPS[:1])},
    )
    assert response.status_code == 302
    recipe.refresh_from_db()
    assert recipe.name == "New name" and recipe.steps == STEPS[:1]
    assert operator_client.post(f"/recipes/{recipe.pk}/delete/").status_code == 302
    assert not StepRecipe.objects.exists()
    assert operator_client.get(f"/recipes/{recipe.pk}/").status_code == 404
