"""Sending what an alert says: a signed JSON webhook, or an e-mail through Django's e-mail backend.

Each attempt is logged (`DeliveryAttempt`) with what happened; a failed one is tried again later
(`BACKOFF_SECONDS`), until the attempts run out. Webhooks:

- the body is JSON (`body_of`); `X-BCTRL-Signature: sha256=<hex>` is the HMAC-SHA256 of
  `<timestamp>.<body>` keyed with the rule's secret, and `X-BCTRL-Timestamp` is that timestamp
  (seconds): a receiver recomputes it, compares in constant time, and refuses old timestamps, so
  a captured delivery cannot be replayed later. `X-BCTRL-Delivery` is the delivery's id (the same
  on every attempt: a receiver that saw it already can skip it).
- only to a destination the egress rule allows (egress.py), connecting to the address it judged;
  no redirects; 10 s at most; any 2xx is delivered.

The console's one other outbound HTTP client (the API's is dashboard/bctrl): webhook targets are
anyone's servers, with a policy of their own, and share nothing with the API's client.
"""

import hashlib
import hmac
import json
import time
from dataclasses import dataclass
from typing import Any

import httpx
from asgiref.sync import sync_to_async
from django.conf import settings
from django.core.mail import send_mail

from dashboard.alerts import egress
from dashboard.alerts.models import AlertDelivery, AlertFiring

TIMEOUT_SECONDS = 10.0
# after attempt n fails, the next waits BACKOFF_SECONDS[n - 1]; past the list the delivery has failed
BACKOFF_SECONDS = (5, 30, 120, 600, 1800)
USER_AGENT = "BCTRL-Console-Alerts/1"


@dataclass(frozen=True)
class Outcome:
    ok: bool
    result: str
    status_code: int | None = None
    final: bool = False  # no later attempt can do better (a refused address)


def body_of(firing: AlertFiring, delivery_id: int) -> dict[str, Any]:
    rule = firing.rule
    return {
        "type": f"alert.{rule.event}",
        "delivery": delivery_id,
        "rule": {"id": rule.id, "name": rule.name, "event": rule.event, "threshold": rule.threshold},
        "subject": firing.subject,
        "summary": firing.summary,
        "firedAt": firing.fired_at.isoformat(),
        "details": firing.payload,
    }


def signature(secret: str, timestamp: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()


async def send_webhook(delivery: AlertDelivery, firing: AlertFiring) -> Outcome:
    try:
        destination = await egress.resolve(delivery.target, settings.ALERT_WEBHOOK_ALLOW_ENTRIES)
    except egress.Refused as refusal:
        return Outcome(False, str(refusal), final=True)
    body = json.dumps(body_of(firing, delivery.id), separators=(",", ":")).encode()
    timestamp = str(int(time.time()))
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "Host": destination.host_header,
        "X-BCTRL-Timestamp": timestamp,
        "X-BCTRL-Signature": signature(firing.rule.webhook_secret, timestamp, body),
        "X-BCTRL-Delivery": str(delivery.id),
    }
    extensions = {"sni_hostname": destination.host} if destination.scheme == "https" else {}
    try:
        async with httpx.AsyncClient(
            timeout=TIMEOUT_SECONDS, follow_redirects=False, trust_env=False
        ) as client:
            response = await client.post(
                destination.pinned_url, content=body, headers=headers, extensions=extensions
            )
    except httpx.TimeoutException:
        return Outcome(False, f"{destination.host} did not answer within {TIMEOUT_SECONDS:g} s.")
    except httpx.HTTPError as error:
        return Outcome(
            False,
            f"{destination.host} ({destination.address}) could not be reached: {error or type(error).__name__}.",
        )
    words = f"{response.status_code} {response.reason_phrase}".strip()
    if response.is_success:
        return Outcome(True, f"{words} from {destination.address}", response.status_code)
    if response.is_redirect:
        return Outcome(
            False, f"{words}: webhooks do not follow redirects; use the final URL.", response.status_code
        )
    return Outcome(False, f"{words} from {destination.address}", response.status_code)


async def send_email(delivery: AlertDelivery, firing: AlertFiring) -> Outcome:
    rule = firing.rule
    lines = [
        firing.summary,
        "",
        f"Rule: {rule.name} ({rule.get_event_display()})",
        f"Fired at: {firing.fired_at.isoformat()}",
    ]
    lines += [f"{key}: {value}" for key, value in firing.payload.items() if value not in (None, "")]
    recipients = [address for address in delivery.target.split(",") if address]
    try:
        sent = await sync_to_async(send_mail, thread_sensitive=False)(
            f"[BCTRL alert] {firing.summary}"[:200],
            "\n".join(lines),
            settings.ALERT_EMAIL_FROM,
            recipients,
        )
    except Exception as error:  # the backend's own errors (SMTP, connection): logged per attempt
        return Outcome(False, f"The e-mail backend failed: {type(error).__name__}: {error}"[:500])
    return Outcome(
        bool(sent),
        f"Handed to the e-mail backend for {len(recipients)} address(es)."
        if sent
        else "The e-mail backend sent nothing.",
    )
