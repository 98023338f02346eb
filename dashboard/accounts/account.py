"""The signed-in user's own account: their time zone, and changing their password.

Anyone signed in may change their own password (Django's form: the current one first); an admin
resets someone else's from the users page (dashboard.accounts.views.user_password).
"""

from asgiref.sync import sync_to_async
from django.contrib import messages
from django.contrib.auth import update_session_auth_hash
from django.contrib.auth.forms import PasswordChangeForm
from django.contrib.auth.models import User
from django.http import HttpResponse
from django.shortcuts import redirect
from django.views.decorators.http import require_http_methods

from dashboard.accounts.forms import TimeZoneForm
from dashboard.accounts.models import Preferences
from dashboard.accounts.roles import role_required
from dashboard.accounts.time_zones import SESSION_KEY
from dashboard.audit.log import audit, record
from dashboard.pages import HtmxHttpRequest, render_form


@require_http_methods(["GET", "POST"])
@role_required("viewer")
async def account(request: HtmxHttpRequest) -> HttpResponse:
    user = await request.auser()
    assert isinstance(user, User)
    preferences = await Preferences.objects.filter(user=user).afirst()
    form = TimeZoneForm(
        request.POST or None, initial={"time_zone": preferences.time_zone if preferences else ""}
    )
    if request.method == "POST" and form.is_valid():
        zone = form.cleaned_data["time_zone"]
        await Preferences.objects.aupdate_or_create(user=user, defaults={"time_zone": zone})
        await request.session.aset(SESSION_KEY, zone)
        await audit(
            request,
            "user.time_zone",
            user.username,
            target_name=user.username,
            message=zone or "default",
        )
        messages.success(request, f"Times are now shown in {zone or 'the default zone'}.")
        return redirect("account")
    return render_form(request, "accounts/account.html", {"form": form}, region=None)


@require_http_methods(["GET", "POST"])
@role_required("viewer")
async def account_password(request: HtmxHttpRequest) -> HttpResponse:
    user = await request.auser()
    assert isinstance(user, User)
    form = PasswordChangeForm(user, request.POST or None)
    if request.method == "POST" and await sync_to_async(form.is_valid)():
        await sync_to_async(form.save)()
        await sync_to_async(update_session_auth_hash)(request, form.user)  # stay signed in here
        await record(request, "user.password.change", "user", user.username, target_name=user.username)
        messages.success(request, "Your password has been changed.")
        return redirect("account")
    return render_form(request, "accounts/password.html", {"form": form, "own": True}, region=None)
