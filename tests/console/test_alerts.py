"""Alert rules: the admin's pages, the egress rule for webhooks, one firing however many processes
try, signed deliveries with retries to a real loopback receiver, e-mail through Django's backend."""

import asyncio
import hashlib
import hmac
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from django.core import mail
from django.test import Client
from django.utils import timezone

from dashboard.alerts import egress, watch
from dashboard.alerts.models import AlertDelivery, AlertFiring, AlertRule
from dashboard.audit.models import AuditEntry
from dashboard.bctrl.updates import Update
from tests.support.html import region
from tests.support.webhook_receiver import WebhookReceiver


@pytest.fixture
def receiver(settings) -> Iterator[WebhookReceiver]:
    served = WebhookReceiver().start()
    # the receiver is on loopback: allowed by the setting, as a deployment would name an internal host
    settings.ALERT_WEBHOOK_ALLOW_ENTRIES = egress.parse_allow(served.host_port)
    yield served
    served.stop()


def _form(**fields: str) -> dict[str, str]:
    return {"name": "Failed runs", "event": "run_failed", "enabled": "on", **fields}


def test_an_admin_makes_a_rule_and_sees_its_secret_once(
    admin_client: Client, receiver: WebhookReceiver
) -> None:
    response = admin_client.post("/alerts/new/", _form(webhook_url=receiver.url, emails="ops@example.com"))
    assert response.status_code == 302
    rule = AlertRule.objects.get()
    assert rule.webhook_secret.startswith("whsec_") and rule.email_list == ["ops@example.com"]
    first = admin_client.get(response["Location"]).content.decode()
    assert rule.webhook_secret in first
    assert rule.webhook_secret not in admin_client.get(response["Location"]).content.decode()
    assert "Failed runs" in admin_client.get("/alerts/").content.decode()
    assert AuditEntry.objects.get(action="alert_rule.create").target_name == "Failed runs"


def test_a_webhook_to_a_private_or_loopback_address_is_refused(admin_client: Client) -> None:
    for url, words in (
        ("http://10.1.2.3/hook", "10.1.2.3, a private or reserved address"),
        ("http://127.0.0.1:9/hook", "127.0.0.1, a loopback address"),
        ("http://[::ffff:192.168.1.4]/hook", "a private or reserved address"),  # IPv4 inside IPv6
        ("http://169.254.169.254/latest/meta-data", "a private or reserved address"),
        ("ftp://example.com/hook", "http:// or https://"),
    ):
        response = admin_client.post("/alerts/new/", _form(webhook_url=url))
        body = response.content.decode()
        assert response.status_code == 422 and words in body, (url, region(body, "main")[:2000])
        assert "ALERT_WEBHOOK_ALLOW" in body or "http://" in words
    assert not AlertRule.objects.exists()


def test_a_rule_needs_somewhere_to_go_and_its_n(admin_client: Client) -> None:
    body = admin_client.post("/alerts/new/", _form()).content.decode()
    assert "Give a webhook URL, e-mail addresses, or both" in body
    body = admin_client.post(
        "/alerts/new/", _form(event="runtime_long", emails="a@example.com")
    ).content.decode()
    assert "Give N in minutes, from 1" in body
    body = admin_client.post("/alerts/new/", _form(emails="not an address")).content.decode()
    assert "is not an e-mail address" in body


def test_only_admins_see_alerts(operator_client: Client, viewer_client: Client) -> None:
    for client in (operator_client, viewer_client):
        assert client.get("/alerts/").status_code == 403
        assert client.get("/alerts/deliveries/").status_code == 403
        assert client.post("/alerts/new/", _form(emails="a@example.com")).status_code == 403
    assert not AlertRule.objects.exists()


def _failed_update(workspace: dict, runtime_id: str = "0b7e6c1a-0000-4000-8000-000000000001") -> Update:
    data = {"alias": "crm", "runtimeId": runtime_id, "code": "runtime.browser_crashed"}
    return Update(99, "runtime.failed", datetime.now(UTC), workspace["id"], data)


@pytest.mark.django_db(transaction=True)
async def test_a_failed_run_fires_once_however_many_processes_see_it(
    receiver: WebhookReceiver, workspace: dict
) -> None:
    rule = await AlertRule.objects.acreate(
        name="Failed runs", event="run_failed", webhook_url=receiver.url, webhook_secret="whsec_test"
    )
    update = _failed_update(workspace)
    # three console processes' watchers handle the same update at once: one firing, one delivery
    watchers = [watch.Watcher() for _ in range(3)]
    for watcher in watchers:
        watcher.watching = True  # no relay here: the update is handed over directly
        watcher.on_update(update)
    await asyncio.gather(*(watcher.tick() for watcher in watchers))
    assert await AlertFiring.objects.acount() == 1
    assert len(receiver.received) == 1
    hook = receiver.received[0]
    payload = json.loads(hook.body)
    assert payload["type"] == "alert.run_failed" and payload["rule"]["id"] == rule.id
    assert (
        payload["details"]["workspace"] == workspace["name"]
        and payload["details"]["code"] == "runtime.browser_crashed"
    )
    assert workspace["name"] in payload["summary"]
    # the signature: HMAC-SHA256 of "<timestamp>.<body>" keyed with the rule's secret
    signed = hook.headers["X-BCTRL-Timestamp"].encode() + b"." + hook.body
    expected = "sha256=" + hmac.new(b"whsec_test", signed, hashlib.sha256).hexdigest()
    assert hmac.compare_digest(hook.headers["X-BCTRL-Signature"], expected)
    delivery = await AlertDelivery.objects.aget()
    assert delivery.state == "delivered" and delivery.attempts == 1
    # the same update again (a relay's replay): the rule does not fire twice
    watchers[0].on_update(update)
    await watchers[0].tick()
    assert await AlertFiring.objects.acount() == 1 and len(receiver.received) == 1


@pytest.mark.django_db(transaction=True)
async def test_a_failed_delivery_is_retried_with_backoff_and_logged(
    receiver: WebhookReceiver, workspace: dict
) -> None:
    receiver.statuses = [503]
    rule = await AlertRule.objects.acreate(
        name="Failed runs", event="run_failed", webhook_url=receiver.url, webhook_secret="s"
    )
    await watch.fire(rule, "runtime:r1", "Runtime crm failed.", {})
    await watch.deliver_due()
    delivery = await AlertDelivery.objects.aget()
    assert delivery.state == "pending" and delivery.attempts == 1 and "503" in delivery.last_result
    assert delivery.next_attempt_at > timezone.now() + timedelta(seconds=3)  # backoff: not at once
    await watch.deliver_due()
    assert len(receiver.received) == 1  # not due yet
    await AlertDelivery.objects.filter(id=delivery.id).aupdate(next_attempt_at=timezone.now())
    await watch.deliver_due()
    delivery = await AlertDelivery.objects.aget()
    assert delivery.state == "delivered" and delivery.attempts == 2 and len(receiver.received) == 2
    # each attempt is in the log, with what it got; the receiver can tell a repeat by its id
    attempts = [(a.number, a.ok, a.status_code) async for a in delivery.attempt_log.all()]
    assert attempts == [(1, False, 503), (2, True, 200)]
    assert (
        receiver.received[0].headers["X-BCTRL-Delivery"] == receiver.received[1].headers["X-BCTRL-Delivery"]
    )


@pytest.mark.django_db(transaction=True)
async def test_a_webhook_refused_at_delivery_is_not_retried(settings) -> None:
    settings.ALERT_WEBHOOK_ALLOW_ENTRIES = []
    rule = await AlertRule.objects.acreate(
        name="Stale", event="run_failed", webhook_url="http://127.0.0.1:9/hook", webhook_secret="s"
    )  # saved while allowed; the allowance was withdrawn since
    await watch.fire(rule, "runtime:r2", "Runtime failed.", {})
    await watch.deliver_due()
    delivery = await AlertDelivery.objects.aget()
    assert delivery.state == "failed" and "loopback address" in delivery.last_result


@pytest.mark.django_db(transaction=True)
async def test_an_email_goes_through_djangos_backend(workspace: dict) -> None:
    rule = await AlertRule.objects.acreate(
        name="Mail me", event="run_failed", emails="ops@example.com\nlead@example.com"
    )
    await watch.fire(
        rule, "runtime:r3", "Runtime crm in Acme failed: runtime.browser_crashed", {"alias": "crm"}
    )
    await watch.deliver_due()
    [message] = mail.outbox
    assert message.to == ["ops@example.com", "lead@example.com"]
    assert "[BCTRL alert] Runtime crm in Acme failed" in message.subject and "alias: crm" in message.body
    assert (await AlertDelivery.objects.aget()).state == "delivered"


def test_the_delivery_log_shows_each_attempt(admin_client: Client) -> None:
    rule = AlertRule.objects.create(name="Logged", event="run_failed", webhook_url="https://hooks.example/x")
    firing = AlertFiring.objects.create(rule=rule, subject="runtime:x", summary="Runtime crm failed.")
    delivery = AlertDelivery.objects.create(
        firing=firing,
        channel="webhook",
        target=rule.webhook_url,
        next_attempt_at=timezone.now(),
        state="delivered",
    )
    delivery.attempt_log.create(
        number=1, ok=True, status_code=200, result="200 OK from 203.0.113.5", duration_ms=35
    )
    body = admin_client.get("/alerts/deliveries/").content.decode()
    assert "Runtime crm failed." in body and "200 OK from 203.0.113.5" in body and "delivered" in body
