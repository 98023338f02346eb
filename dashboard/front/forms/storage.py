"""The storage upload form: a file, stored under a name in the folder being browsed."""

from typing import Any

from django import forms

from dashboard.bctrl.errors import BctrlError
from dashboard.front.forms.upstream import UpstreamForm


class StorageUploadForm(UpstreamForm):
    api_fields = {"path": "name"}

    file = forms.FileField(label="File")
    folder = forms.CharField(required=False, widget=forms.HiddenInput, max_length=1024)
    name = forms.CharField(
        required=False,
        max_length=255,
        help_text="Stored under this name in the folder; defaults to the file's.",
    )

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        upload = cleaned.get("file")
        if upload is not None:
            name = (cleaned.get("name") or upload.name).strip().strip("/")
            cleaned["path"] = f"{cleaned.get('folder') or ''}{name}"
        return cleaned

    def field_for_refusal(self, error: BctrlError) -> str | None:
        if error.code == "storage.too_large" or error.status == 413:
            return "file"
        return "name" if error.code.startswith("storage.invalid") else None
