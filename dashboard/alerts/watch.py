"""Where alert rules are evaluated: in every console process, and each event fires a rule once.

- **What it watches.** The updates relay of its process (dashboard/live/relay.py) tells it of
  every update: `runtime.failed`, `operation.failed` and `operation.timed_out` fire the
  "run failed" rules. Every few seconds it also reads the relay's state (down since when: the
  "API unreachable for N s" rules) and, twice a minute, the organisation's active runtimes (the
  "runtime ran longer than N min" rules). While any rule is enabled it keeps the relay running
  (as an open page does), so rules are watched with no page open.
- **Once, not once per process.** Every console process's relay sees every update, so every
  process tries to fire. The claim is a row: `AlertFiring` has one open row per rule and subject
  (a database constraint); the process whose insert wins fires, the others' inserts fail and they
  do nothing. An outage's firing is resolved when the API is back, so the next outage fires again;
  a run's never is, so a run fires a rule once whatever replays the update.
- **Deliveries are rows too.** Any process claims a due delivery (`claimed_until`, a conditional
  UPDATE) and attempts it; a failed attempt is scheduled again with backoff; a process that dies
  mid-attempt leaves a claim that expires, and another process takes the delivery over.
- **Started by the process's first request** (dashboard/asgi.py): daphne offers no start hook. A
  health check, a page or a socket starts it. Updates made while no console process ran are not
  replayed (the relay starts at the API's newest update).
"""

import asyncio
import contextlib
import logging
import time
import weakref
from datetime import UTC, datetime, timedelta
from typing import Any

from asgiref.sync import sync_to_async
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from dashboard.alerts import delivery
from dashboard.alerts.models import AlertDelivery, AlertFiring, AlertRule
from dashboard.bctrl import runtimes as runtimes_api
from dashboard.bctrl.errors import BctrlError
from dashboard.bctrl.updates import Update
from dashboard.bctrl.workspaces import get_workspace
from dashboard.live.relay import get_relay

logger = logging.getLogger("dashboard.alerts")

TICK_SECONDS = 2.0
LONG_RUNS_EVERY_SECONDS = 30.0
CLAIM_SECONDS = 60  # a delivery claimed longer ago than this by a process that went away is taken over
RUN_FAILURES = {"runtime.failed": "failed", "operation.failed": "failed", "operation.timed_out": "timed out"}


class Watcher:
    def __init__(self) -> None:
        self.task: asyncio.Task[None] | None = None
        self.updates: asyncio.Queue[Update] = asyncio.Queue(maxsize=10_000)
        self.wake = asyncio.Event()
        self.watching = False
        self.long_runs_checked = 0.0

    def start(self) -> None:
        if self.task is None or self.task.done():
            # hears every update the relay delivers from now on (a page keeps it reading, or a rule)
            relay = get_relay()
            if self.on_update not in relay.listeners:
                relay.listeners.append(self.on_update)
            self.task = asyncio.get_running_loop().create_task(self._run(), name="alert-rules")

    async def stop(self) -> None:
        task, self.task = self.task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._watch_relay(False)
        with contextlib.suppress(ValueError):
            get_relay().listeners.remove(self.on_update)

    def on_update(self, update: Update) -> None:
        """The relay's listener: queued, handled by the watcher's own task."""
        if update.type in RUN_FAILURES:
            with contextlib.suppress(asyncio.QueueFull):
                self.updates.put_nowait(update)
                self.wake.set()

    async def _run(self) -> None:
        while True:
            try:
                await self.tick()
            except asyncio.CancelledError:
                raise
            except Exception:  # a bug must not stop alerts for good
                logger.exception("Evaluating alert rules failed; trying again")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.wake.wait(), TICK_SECONDS)
            self.wake.clear()

    async def tick(self) -> None:
        rules = await _enabled_rules()
        self._watch_relay(bool(rules))
        while not self.updates.empty():
            await self._run_failed(self.updates.get_nowait(), rules)
        await self._api_unreachable([r for r in rules if r.event == AlertRule.Event.API_UNREACHABLE])
        long_rules = [r for r in rules if r.event == AlertRule.Event.RUNTIME_LONG]
        if long_rules and time.monotonic() - self.long_runs_checked >= LONG_RUNS_EVERY_SECONDS:
            self.long_runs_checked = time.monotonic()
            await self._long_runs(long_rules)
        await deliver_due()

    def _watch_relay(self, wanted: bool) -> None:
        """Keep this process's relay reading while a rule is enabled, as an open page would."""
        if wanted == self.watching:
            return
        relay = get_relay()
        if wanted:
            relay.subscribe()
        else:
            relay.unsubscribe()
        self.watching = wanted

    async def _run_failed(self, update: Update, rules: list[AlertRule]) -> None:
        matching = [
            r
            for r in rules
            if r.event == AlertRule.Event.RUN_FAILED and r.workspace_id in ("", update.workspace_id)
        ]
        if not matching:
            return
        subject, summary, details = await _describe_failure(update)
        for rule in matching:
            await fire(rule, subject, summary, details)

    async def _api_unreachable(self, rules: list[AlertRule]) -> None:
        if not rules:
            return
        relay = get_relay()
        down_since = relay.down_since
        if down_since is None:
            if relay.connected:
                await _resolve(rules, "api")
            return
        down_for = time.time() - down_since
        for rule in rules:
            if down_for >= (rule.threshold or 0):
                since = datetime.fromtimestamp(down_since, UTC)
                summary = (
                    f"The API has been unreachable for {round(down_for)} s (since {since:%H:%M:%S} UTC)."
                )
                await fire(rule, "api", summary, {"downSince": since.isoformat(), "reason": relay.last_error})

    async def _long_runs(self, rules: list[AlertRule]) -> None:
        try:
            active = (await runtimes_api.list_every_runtime(status="active", limit=500)).items
        except BctrlError as error:
            logger.info("Long-running runtimes could not be listed: %s", error.code)
            return
        now = timezone.now()
        for runtime in active:
            started = runtime.started_at or runtime.created_at
            if started is None:
                continue
            minutes = (now - started).total_seconds() / 60
            for rule in rules:
                if rule.workspace_id in ("", runtime.workspace_id) and minutes >= (rule.threshold or 0):
                    name = await _workspace_name(runtime.workspace_id)
                    summary = (
                        f"Runtime {runtime.alias} in {name} has run for {round(minutes)} min "
                        f"(the rule's limit: {rule.threshold} min)."
                    )
                    details = {
                        "workspaceId": runtime.workspace_id,
                        "workspace": name,
                        "runtimeId": runtime.id,
                        "alias": runtime.alias,
                        "startedAt": started.isoformat(),
                        "consolePath": f"/runtimes/{runtime.id}/",
                    }
                    await fire(rule, f"runtime-long:{runtime.id}", summary, details)


_watchers: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Watcher]" = weakref.WeakKeyDictionary()


def get_watcher() -> Watcher:
    """The one watcher of the running loop (daphne: one loop per process)."""
    loop = asyncio.get_running_loop()
    watcher = _watchers.get(loop)
    if watcher is None:
        watcher = _watchers[loop] = Watcher()
    return watcher


@sync_to_async
def _enabled_rules() -> list[AlertRule]:
    return list(AlertRule.objects.filter(enabled=True))


async def _workspace_name(workspace_id: str | None) -> str:
    if not workspace_id:
        return "its workspace"
    try:
        return (await get_workspace(workspace_id)).name
    except BctrlError:
        return f"workspace {workspace_id}"


async def _describe_failure(update: Update) -> tuple[str, str, dict[str, Any]]:
    """(subject, summary, details) of a run that failed or timed out."""
    data, how = update.data, RUN_FAILURES[update.type]
    name = await _workspace_name(update.workspace_id)
    details: dict[str, Any] = {"workspaceId": update.workspace_id, "workspace": name, "update": update.type}
    if update.family == "runtime":
        runtime_id = str(data.get("runtimeId") or "")
        details.update(runtimeId=runtime_id, alias=data.get("alias"), code=data.get("code"))
        details["consolePath"] = f"/runtimes/{runtime_id}/"
        with contextlib.suppress(BctrlError):
            failure = (await runtimes_api.get_run(runtime_id)).failure if runtime_id else None
            if failure:
                details["message"] = failure.message
        summary = f"Runtime {data.get('alias')} in {name} {how}" + (
            f": {data['code']}" if data.get("code") else "."
        )
        return f"runtime:{runtime_id}", summary, details
    operation_id = str(data.get("id") or "")
    details.update(operationId=operation_id, call=data.get("call"), runtime=data.get("runtime"))
    details["consolePath"] = f"/operations/{operation_id}/"
    summary = f"Operation {data.get('call')} in {name} {how}."
    return f"operation:{operation_id}", summary, details


async def fire(rule: AlertRule, subject: str, summary: str, details: dict[str, Any]) -> AlertFiring | None:
    """Claim the firing of `rule` for `subject` and queue its deliveries; None if it fired already
    (in this process or another): the database's constraint decides, once."""
    firing = await sync_to_async(_claim)(rule, subject, summary, details)
    if firing is not None:
        logger.info("Alert rule %s fired for %s", rule.id, subject)
        watcher = _watchers.get(asyncio.get_running_loop())
        if watcher is not None:
            watcher.wake.set()  # deliver now, not at the next tick
    return firing


def _claim(rule: AlertRule, subject: str, summary: str, details: dict[str, Any]) -> AlertFiring | None:
    now = timezone.now()
    try:
        with transaction.atomic():
            firing = AlertFiring.objects.create(rule=rule, subject=subject, summary=summary, payload=details)
            channels = []
            if rule.webhook_url:
                channels.append((AlertDelivery.Channel.WEBHOOK, rule.webhook_url))
            if rule.email_list:
                channels.append((AlertDelivery.Channel.EMAIL, ",".join(rule.email_list)))
            AlertDelivery.objects.bulk_create(
                AlertDelivery(firing=firing, channel=channel, target=target, next_attempt_at=now)
                for channel, target in channels
            )
    except IntegrityError:
        return None  # fired already, here or in another process
    return firing


@sync_to_async
def _resolve(rules: list[AlertRule], subject: str) -> None:
    AlertFiring.objects.filter(rule__in=rules, subject=subject, resolved_at=None).update(
        resolved_at=timezone.now()
    )


async def deliver_due() -> None:
    """Attempt every delivery that is due and that this process could claim, at once."""
    claimed = await sync_to_async(_claim_due)()
    if claimed:
        await asyncio.gather(*(_attempt(d) for d in claimed))


def _claim_due(limit: int = 20) -> list[AlertDelivery]:
    now = timezone.now()
    due = Q(
        state__in=[AlertDelivery.State.PENDING, AlertDelivery.State.SENDING], next_attempt_at__lte=now
    ) & (Q(claimed_until__isnull=True) | Q(claimed_until__lt=now))
    claimed = []
    for candidate in (
        AlertDelivery.objects.filter(due).order_by("next_attempt_at").values_list("id", flat=True)[:limit]
    ):
        # the conditional UPDATE is the claim: of several processes, one changes the row
        if AlertDelivery.objects.filter(due, id=candidate).update(
            state=AlertDelivery.State.SENDING, claimed_until=now + timedelta(seconds=CLAIM_SECONDS)
        ):
            claimed.append(candidate)
    return list(AlertDelivery.objects.filter(id__in=claimed).select_related("firing__rule"))


async def _attempt(row: AlertDelivery) -> None:
    started = time.monotonic()
    send = delivery.send_webhook if row.channel == AlertDelivery.Channel.WEBHOOK else delivery.send_email
    try:
        outcome = await send(row, row.firing)
    except Exception as error:  # a bug in sending: logged as this attempt's result, retried
        logger.exception("Delivery %s failed unexpectedly", row.id)
        outcome = delivery.Outcome(False, f"The console failed to send it ({type(error).__name__}).")
    await sync_to_async(_record)(row, outcome, round((time.monotonic() - started) * 1000))


def _record(row: AlertDelivery, outcome: delivery.Outcome, duration_ms: int) -> None:
    attempts = row.attempts + 1
    row.attempt_log.create(
        number=attempts,
        ok=outcome.ok,
        status_code=outcome.status_code,
        result=outcome.result,
        duration_ms=duration_ms,
    )
    if outcome.ok:
        state, next_at = AlertDelivery.State.DELIVERED, row.next_attempt_at
    elif outcome.final or attempts > len(delivery.BACKOFF_SECONDS):
        state, next_at = AlertDelivery.State.FAILED, row.next_attempt_at
    else:
        state = AlertDelivery.State.PENDING
        next_at = timezone.now() + timedelta(seconds=delivery.BACKOFF_SECONDS[attempts - 1])
    AlertDelivery.objects.filter(id=row.id).update(
        state=state,
        attempts=attempts,
        next_attempt_at=next_at,
        claimed_until=None,
        last_result=outcome.result,
    )
