"""Alert rules (admins): list, create, edit, delete, send a test, rotate the webhook secret; and
the delivery log, each delivery with every attempt and its result."""

import secrets
import uuid
from typing import Any

from asgiref.sync import sync_to_async
from django.contrib import messages
from django.db.models import Prefetch
from django.http import Http404, HttpResponse
from django.shortcuts import redirect
from django.urls import path, reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from dashboard.accounts.roles import role_required
from dashboard.alerts import watch
from dashboard.alerts.forms import AlertRuleForm
from dashboard.alerts.models import AlertDelivery, AlertRule, DeliveryAttempt
from dashboard.audit.log import audit
from dashboard.bctrl.errors import BctrlError
from dashboard.bctrl.workspaces import list_workspaces
from dashboard.pages import HtmxHttpRequest, render_form, render_page

LOG_PAGE_SIZE = 50


def new_secret() -> str:
    return "whsec_" + secrets.token_urlsafe(32)


async def _workspaces() -> list[tuple[str, str]]:
    """The workspaces a rule may be limited to; none (a free choice of every one) if the API fails."""
    try:
        page = await list_workspaces(limit=500)
    except BctrlError:
        return []
    return [(w.id, w.name) for w in page.items]


@sync_to_async
def _rules() -> list[AlertRule]:
    return list(AlertRule.objects.all())


@require_GET
@role_required("admin")
async def rule_list(request: HtmxHttpRequest) -> HttpResponse:
    names = dict(await _workspaces())
    rows = [(rule, names.get(rule.workspace_id, rule.workspace_id)) for rule in await _rules()]
    return render_page(request, "alerts/list.html", {"rows": rows})


@require_http_methods(["GET", "POST"])
@role_required("admin")
async def rule_create(request: HtmxHttpRequest) -> HttpResponse:
    form = AlertRuleForm(request.POST or None, workspaces=await _workspaces())
    if request.method == "POST" and form.is_valid():
        await form.ajudge_webhook()
    if request.method == "POST" and form.is_valid():
        rule = form.save(commit=False)
        rule.created_by = await request.auser()  # type: ignore[assignment]
        rule.webhook_secret = new_secret() if rule.webhook_url else ""
        await rule.asave()
        await audit(request, "alert_rule.create", str(rule.id), target_name=rule.name)
        return _saved(request, rule, shown_secret=rule.webhook_secret)
    return render_form(request, "alerts/form.html", {"form": form}, region=None)


def _saved(request: HtmxHttpRequest, rule: AlertRule, shown_secret: str = "") -> HttpResponse:
    # the secret is shown once, on the page the redirect lands on, and kept in the session no longer
    if shown_secret:
        request.session["alert_secret"] = [rule.id, shown_secret]
    messages.success(request, f"Saved the rule “{rule.name}”.")
    return redirect("alert_rule_edit", rule.id)


async def _rule(rule_id: int) -> AlertRule:
    rule = await AlertRule.objects.filter(id=rule_id).afirst()
    if rule is None:
        raise Http404("No such alert rule.")
    return rule


@require_http_methods(["GET", "POST"])
@role_required("admin")
async def rule_edit(request: HtmxHttpRequest, rule_id: int) -> HttpResponse:
    rule = await _rule(rule_id)
    had_webhook = bool(rule.webhook_url)
    form = AlertRuleForm(request.POST or None, instance=rule, workspaces=await _workspaces())
    if request.method == "POST" and form.is_valid():
        await form.ajudge_webhook()
    if request.method == "POST" and form.is_valid():
        rule = form.save(commit=False)
        fresh = new_secret() if rule.webhook_url and not had_webhook else ""
        if fresh:
            rule.webhook_secret = fresh
        await rule.asave()
        await audit(request, "alert_rule.update", str(rule.id), target_name=rule.name)
        return _saved(request, rule, shown_secret=fresh)
    shown = request.session.pop("alert_secret", None)  # the session is loaded: who is asking read it
    context = {
        "form": form,
        "rule": rule,
        "secret": shown[1] if shown and shown[0] == rule.id else "",
        "firings": [f async for f in rule.firings.all()[:10]],
    }
    return render_form(request, "alerts/form.html", context, region=None)


@require_POST
@role_required("admin")
async def rule_delete(request: HtmxHttpRequest, rule_id: int) -> HttpResponse:
    rule = await _rule(rule_id)
    await rule.adelete()
    await audit(request, "alert_rule.delete", str(rule_id), target_name=rule.name)
    messages.success(request, f"Deleted the rule “{rule.name}” and its delivery log.")
    return redirect("alert_rules")


@require_POST
@role_required("admin")
async def rule_rotate(request: HtmxHttpRequest, rule_id: int) -> HttpResponse:
    rule = await _rule(rule_id)
    rule.webhook_secret = new_secret()
    await rule.asave(update_fields=["webhook_secret", "updated_at"])
    await audit(request, "alert_rule.rotate_secret", str(rule.id), target_name=rule.name)
    request.session["alert_secret"] = [rule.id, rule.webhook_secret]
    messages.success(request, "A new secret signs this rule's webhooks from now on; update the receiver.")
    return redirect("alert_rule_edit", rule.id)


@require_POST
@role_required("admin")
async def rule_test(request: HtmxHttpRequest, rule_id: int) -> HttpResponse:
    """Fire the rule now with a test subject: its deliveries go out as a real alert's would."""
    rule = await _rule(rule_id)
    user = await request.auser()
    summary = f"A test of the alert rule “{rule.name}”, sent by {user.get_username()}."
    await watch.fire(rule, f"test:{uuid.uuid4().hex}", summary, {"test": True})
    await watch.deliver_due()
    await audit(request, "alert_rule.test", str(rule.id), target_name=rule.name)
    messages.success(request, "Test alert sent: its deliveries are at the top of the log.")
    return redirect(f"{reverse('alert_deliveries')}?rule={rule.id}")


@sync_to_async
def _deliveries(rule_id: str, before: str) -> list[AlertDelivery]:
    rows = AlertDelivery.objects.select_related("firing__rule").prefetch_related(
        Prefetch("attempt_log", queryset=DeliveryAttempt.objects.order_by("number"))
    )
    if rule_id.isdigit():
        rows = rows.filter(firing__rule_id=int(rule_id))
    if before.isdigit():
        rows = rows.filter(id__lt=int(before))
    return list(rows.order_by("-id")[: LOG_PAGE_SIZE + 1])


@require_GET
@role_required("admin")
async def delivery_log(request: HtmxHttpRequest) -> HttpResponse:
    rule_id, before = request.GET.get("rule", ""), request.GET.get("before", "")
    rows = await _deliveries(rule_id, before)
    context: dict[str, Any] = {
        "deliveries": rows[:LOG_PAGE_SIZE],
        "older": rows[LOG_PAGE_SIZE - 1].id if len(rows) > LOG_PAGE_SIZE else None,
        "rule_id": rule_id,
        "rules": await _rules(),
    }
    return render_page(request, "alerts/deliveries.html", context)


urlpatterns = [
    path("alerts/", rule_list, name="alert_rules"),
    path("alerts/new/", rule_create, name="alert_rule_create"),
    path("alerts/deliveries/", delivery_log, name="alert_deliveries"),
    path("alerts/<int:rule_id>/", rule_edit, name="alert_rule_edit"),
    path("alerts/<int:rule_id>/delete/", rule_delete, name="alert_rule_delete"),
    path("alerts/<int:rule_id>/rotate/", rule_rotate, name="alert_rule_rotate"),
    path("alerts/<int:rule_id>/test/", rule_test, name="alert_rule_test"),
]
