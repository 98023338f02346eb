"""Forms of the user admin page."""

from typing import Any

from django import forms
from django.contrib.auth.models import User
from django.contrib.auth.password_validation import validate_password
from django.contrib.auth.validators import UnicodeUsernameValidator

from dashboard.accounts.roles import ROLES

ROLE_CHOICES = [(role, role.capitalize()) for role in ROLES]
ROLE_HELP = "Viewers read; operators also launch, stop and run; admins also manage secrets and users."


class UserCreateForm(forms.Form):
    username = forms.CharField(max_length=150, validators=[UnicodeUsernameValidator()])
    role = forms.ChoiceField(choices=ROLE_CHOICES, initial="viewer", help_text=ROLE_HELP)
    password = forms.CharField(
        label="Initial password",
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        help_text="Give it to them over a safe channel; at least 8 characters, not a common one.",
    )

    def clean_username(self) -> str:
        username = self.cleaned_data["username"]
        if User.objects.filter(username__iexact=username).exists():
            raise forms.ValidationError("A user with that name already exists.")
        return username

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if cleaned.get("username") and cleaned.get("password"):
            try:
                validate_password(cleaned["password"], User(username=cleaned["username"]))
            except forms.ValidationError as error:
                self.add_error("password", error)
        return cleaned


class UserRoleForm(forms.Form):
    role = forms.ChoiceField(choices=ROLE_CHOICES)


class UserActiveForm(forms.Form):
    active = forms.BooleanField(required=False)


class TimeZoneForm(forms.Form):
    time_zone = forms.ChoiceField(
        label="Time zone",
        required=False,
        help_text="Every date and time in the console is shown in this zone, which is named next to it.",
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        from django.conf import settings

        from dashboard.accounts.time_zones import zone_names

        super().__init__(*args, **kwargs)
        field = self.fields["time_zone"]
        assert isinstance(field, forms.ChoiceField)
        field.choices = [("", f"The console's default ({settings.TIME_ZONE})")] + [
            (z, z) for z in zone_names()
        ]
