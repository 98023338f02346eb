"""Sign-in with a failed-attempt limit, and the admins' user page."""

import hashlib
from typing import Any

from asgiref.sync import sync_to_async
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.forms import SetPasswordForm
from django.contrib.auth.models import User
from django.contrib.auth.views import LoginView
from django.core.cache import cache
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django.views.decorators.vary import vary_on_headers

from dashboard.accounts import sso, users
from dashboard.accounts.forms import UserActiveForm, UserCreateForm, UserRoleForm
from dashboard.accounts.roles import ROLES, role_required
from dashboard.audit.log import audit, record
from dashboard.audit.models import AuditEntry
from dashboard.live import control as live_control
from dashboard.pages import HtmxHttpRequest, render_form, render_page, with_toast

LOGIN_WINDOW_SECONDS = 15 * 60
LOCKED_MESSAGE = (
    "Too many failed sign-in attempts. Wait 15 minutes and try again, or ask an admin to check your account."
)


def _attempts_key(request: HttpRequest) -> str:
    # Keyed on the name as typed (existing or not) and the address, hashed so no name lands in the cache.
    username = (request.POST.get("username") or "").strip().lower()
    address = request.META.get("REMOTE_ADDR") or ""
    return "login-failures:" + hashlib.sha256(f"{username}\0{address}".encode()).hexdigest()


def _address_key(request: HttpRequest) -> str:
    # The same address trying many names is guessing too; REMOTE_ADDR is the client's (see
    # dashboard.front.middleware.client_address: behind a trusted proxy, the address it saw).
    address = request.META.get("REMOTE_ADDR") or ""
    return "login-failures-address:" + hashlib.sha256(address.encode()).hexdigest()


def _count_failure(key: str) -> int:
    cache.add(key, 0, LOGIN_WINDOW_SECONDS)  # the window starts at the first failure
    try:
        return cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.set(key, 1, LOGIN_WINDOW_SECONDS)
        return 1


def _locked(request: HttpRequest) -> bool:
    return (
        cache.get(_attempts_key(request), 0) >= settings.LOGIN_RATE_LIMIT
        or cache.get(_address_key(request), 0) >= settings.LOGIN_ADDRESS_RATE_LIMIT
    )


class RateLimitedLoginView(LoginView):
    """Django's sign-in, refusing a username+address after LOGIN_RATE_LIMIT failures in 15 minutes,
    and an address after LOGIN_ADDRESS_RATE_LIMIT failures whatever names it tried.

    A locked pair is refused before the password is checked, with the same words whether the
    user exists or not, so the lock tells an attacker nothing.
    """

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        context.update(
            local_accounts=settings.LOCAL_ACCOUNTS,
            sso_name=settings.OIDC_PROVIDER_NAME if settings.OIDC_ISSUER else "",
            # why the last single sign-on was refused, said once
            sso_error=self.request.session.pop(sso.ERROR_KEY, ""),
        )
        return context

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not settings.LOCAL_ACCOUNTS:
            form = self.get_form_class()(request)
            return self.render_to_response(self.get_context_data(form=form), status=403)
        if _locked(request):
            # an unbound form: binding it would check the password, which a locked pair must not get
            form = self.get_form_class()(request, initial={"username": request.POST.get("username", "")})
            context = self.get_context_data(form=form, locked=LOCKED_MESSAGE)
            return self.render_to_response(context, status=429)
        return super().post(request, *args, **kwargs)

    def form_invalid(self, form: Any) -> HttpResponse:
        failures = _count_failure(_attempts_key(self.request))
        from_address = _count_failure(_address_key(self.request))
        if failures == settings.LOGIN_RATE_LIMIT:
            self._audit_lock(
                f"{failures} failed sign-ins within 15 minutes; refused for the rest of the window."
            )
        if from_address == settings.LOGIN_ADDRESS_RATE_LIMIT:
            self._audit_lock(
                f"{from_address} failed sign-ins from this address within 15 minutes, whatever the names; "
                "the address is refused for the rest of the window."
            )
        return super().form_invalid(form)

    def _audit_lock(self, message: str) -> None:
        AuditEntry.objects.create(
            username=(self.request.POST.get("username") or "")[:150] or "anonymous",
            action="login.locked",
            outcome=AuditEntry.Outcome.DENIED,
            message=message,
            remote_addr=self.request.META.get("REMOTE_ADDR") or None,
        )

    def form_valid(self, form: Any) -> HttpResponse:
        cache.delete(_attempts_key(self.request))
        return super().form_valid(form)


# --- the user admin page ----------------------------------------------------------------------


async def _user_or_none(user_id: int) -> User | None:
    return await User.objects.filter(pk=user_id).afirst()


async def _table(request: HtmxHttpRequest, status: int = 200) -> HttpResponse:
    rows = await sync_to_async(users.list_users)()
    me = await request.auser()
    context = {"rows": rows, "me": me, "role_form": UserRoleForm()}
    return render_page(request, "accounts/users.html", context, region="table", status=status)


async def _no_longer_operating(user_id: int, username: str, text: str) -> tuple[str, str]:
    """A user who may no longer operate loses control of every live view at once (the engine is
    told); (the toast's text, its level)."""
    problem = await live_control.release_user(user_id, username)
    return (f"{text} {problem}", "warning") if problem else (text, "success")


async def _after_change(request: HtmxHttpRequest, text: str, level: str = "success") -> HttpResponse:
    """htmx: the refreshed table and a toast; a plain form post: back to the list with a message."""
    if request.htmx:
        table = await _table(request, 409 if level == "error" else 200)
        return await with_toast(table, request, text, level)
    messages.add_message(request, messages.SUCCESS if level == "success" else messages.ERROR, text)
    return redirect("users")


@vary_on_headers("HX-Request")
@require_GET
@role_required("admin")
async def user_list(request: HtmxHttpRequest) -> HttpResponse:
    return await _table(request)


@require_http_methods(["GET", "POST"])
@role_required("admin")
async def user_create(request: HtmxHttpRequest) -> HttpResponse:
    form = UserCreateForm(request.POST or None)
    if request.method == "POST" and await sync_to_async(form.is_valid)():
        username, role = form.cleaned_data["username"], form.cleaned_data["role"]
        await sync_to_async(users.create_user)(username, role, form.cleaned_data["password"])
        await audit(request, "user.create", username, message=f"role {role}")
        messages.success(request, f"Created {username} ({role}).")
        return redirect("users")
    return render_form(request, "accounts/user_form.html", {"form": form}, region=None)


@require_POST
@role_required("admin")
async def user_role(request: HtmxHttpRequest, user_id: int) -> HttpResponse:
    user, form = await _user_or_none(user_id), UserRoleForm(request.POST)
    if user is None or not form.is_valid():
        return await _after_change(request, "Choose a role for an existing user.", "error")
    old, new = await sync_to_async(users.stated_role)(user), form.cleaned_data["role"]
    try:
        await sync_to_async(users.set_role)(user, new)
    except users.LastAdminError as error:
        await audit(request, "user.role", user.username, outcome="denied", message=str(error))
        return await _after_change(request, str(error), "error")
    await audit(request, "user.role", user.username, message=f"{old} → {new}")
    text, level = f"{user.username} is now {new}.", "success"
    if ROLES.index(new) < ROLES.index("operator"):
        text, level = await _no_longer_operating(user.pk, user.username, text)
    return await _after_change(request, text, level)


@require_POST
@role_required("admin")
async def user_active(request: HtmxHttpRequest, user_id: int) -> HttpResponse:
    user, form = await _user_or_none(user_id), UserActiveForm(request.POST)
    if user is None or not form.is_valid():
        return await _after_change(request, "That user no longer exists.", "error")
    active = form.cleaned_data["active"]
    action = "user.activate" if active else "user.deactivate"
    try:
        await sync_to_async(users.set_active)(user, active)
    except users.LastAdminError as error:
        await record(request, action, "user", user.username, outcome="denied", message=str(error))
        return await _after_change(request, str(error), "error")
    await record(request, action, "user", user.username)
    text, level = f"{user.username} can {'' if active else 'no longer '}sign in.", "success"
    if not active:
        text, level = await _no_longer_operating(user.pk, user.username, text)
    return await _after_change(request, text, level)


@require_http_methods(["GET", "POST"])
@role_required("admin")
async def user_delete(request: HtmxHttpRequest, user_id: int) -> HttpResponse:
    user = await _user_or_none(user_id)
    if user is None:
        messages.error(request, "That user no longer exists.")
        return redirect("users")
    error, user_id = None, user.pk
    if request.method == "POST":
        try:
            await sync_to_async(users.delete_user)(user)
        except users.LastAdminError as refused:
            error = str(refused)
            await audit(request, "user.delete", user.username, outcome="denied", message=error)
        else:
            await audit(request, "user.delete", user.username)
            text, level = await _no_longer_operating(user_id, user.username, f"Deleted {user.username}.")
            messages.add_message(request, messages.SUCCESS if level == "success" else messages.WARNING, text)
            return redirect("users")
    context = {"target": user, "error": error}
    return render_page(request, "accounts/user_delete.html", context, status=409 if error else 200)


@require_http_methods(["GET", "POST"])
@role_required("admin")
async def user_password(request: HtmxHttpRequest, user_id: int) -> HttpResponse:
    """An admin sets a new password for someone who lost theirs (they may change it themselves after)."""
    user = await _user_or_none(user_id)
    if user is None:
        messages.error(request, "That user no longer exists.")
        return redirect("users")
    form = SetPasswordForm(user, request.POST or None)
    if request.method == "POST" and await sync_to_async(form.is_valid)():
        await sync_to_async(form.save)()
        await record(request, "user.password.reset", "user", user.username, target_name=user.username)
        messages.success(
            request, f"Set a new password for {user.username}; give it to them over a safe channel."
        )
        return redirect("users")
    context = {"form": form, "target": user, "own": False}
    return render_form(request, "accounts/password.html", context, region=None)
