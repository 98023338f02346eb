"""Forms of the extension pages: upload a package, rename."""

from typing import Any

from django import forms

from dashboard.bctrl.errors import BctrlError
from dashboard.front.forms.upstream import UpstreamForm


class ExtensionUploadForm(UpstreamForm):
    api_fields = {"file": "file", "name": "name"}

    file = forms.FileField(
        label="Extension package",
        help_text="A .zip or .crx of an unpacked extension with a manifest.json.",
        widget=forms.ClearableFileInput(attrs={"accept": ".zip,.crx"}),
    )
    name = forms.CharField(
        required=False, max_length=200, help_text="Defaults to the name in the extension's manifest."
    )

    def clean_file(self) -> Any:
        upload = self.cleaned_data["file"]
        if not upload.name.lower().endswith((".zip", ".crx")):
            raise forms.ValidationError("Choose a .zip or .crx file.")
        return upload

    def field_for_refusal(self, error: BctrlError) -> str | None:
        return "file" if error.code == "extension.invalid_package" or error.status == 413 else None


class ExtensionRenameForm(UpstreamForm):
    api_fields = {"name": "name"}

    name = forms.CharField(max_length=200)
