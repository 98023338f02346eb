"""The step recipe form: a name, a note, and the steps as the contract's JSON array."""

from typing import Any

from django import forms

from dashboard.front.forms.steps import parse_steps
from dashboard.front.models import StepRecipe


class RecipeForm(forms.Form):
    name = forms.CharField(max_length=100, help_text="What the team calls it, e.g. “Sign in to the CRM”.")
    description = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="What it does, and on which sites.",
    )
    steps_json = forms.CharField(
        label="Steps (JSON)",
        widget=forms.Textarea(attrs={"rows": 12, "spellcheck": "false", "class": "mono"}),
        help_text='A JSON array of steps, e.g. [{"call": "page.goto", "args": ["https://example.com"]}].',
    )

    def __init__(self, *args: Any, recipe: StepRecipe | None = None, **kwargs: Any) -> None:
        if recipe is not None and "initial" not in kwargs:
            kwargs["initial"] = {
                "name": recipe.name,
                "description": recipe.description,
                "steps_json": recipe.steps_json,
            }
        super().__init__(*args, **kwargs)
        self.recipe = recipe

    def clean_name(self) -> str:
        name = self.cleaned_data["name"].strip()
        taken = StepRecipe.objects.filter(name=name)
        if self.recipe is not None:
            taken = taken.exclude(pk=self.recipe.pk)
        if taken.exists():
            raise forms.ValidationError("A recipe with this name exists; choose another name.")
        return name

    def clean_steps_json(self) -> list[dict[str, Any]]:
        return parse_steps(self.cleaned_data["steps_json"])
