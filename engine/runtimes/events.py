"""Runtime events: numbered in memory, written in batches by one writer task, waited on in memory.

A browser can raise events by the hundred per second (network), so `emit` never touches the
database: it numbers the event (per-runtime monotonic `sequence`), keeps it in the runtime's
in-memory tail, wakes waiters and queues it for the writer, which bulk-inserts a batch every
few tens of milliseconds in one transaction (with the runtime's `last_sequence` and any row
fields the manager asked to persist, such as bindings).

The tail of a live runtime holds every event with `sequence > tail.floor`, flushed or not; only
events already committed are trimmed from it, and trimming raises `floor`. So a `wait` can read
(after, floor] from the database and (floor, ...) from memory without missing one in between.
"""

import asyncio
import contextlib
import logging
import uuid
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from uuid import UUID

from asgiref.sync import sync_to_async
from django.db import IntegrityError, transaction
from django.utils import timezone

from engine.models import Runtime, RuntimeEvent

logger = logging.getLogger("engine.events")

BATCH_WINDOW_SECONDS = 0.05
TAIL_KEEP = 2000  # flushed events a live runtime keeps in memory for waiters


@dataclass(frozen=True)
class EventFilter:
    event_types: frozenset[str] = frozenset()
    page_id: str | None = None
    context_id: str | None = None

    def matches(self, event: RuntimeEvent) -> bool:
        if self.event_types and event.event_type not in self.event_types:
            return False
        if self.page_id is not None and event.event_data.get("pageId") != self.page_id:
            return False
        return self.context_id is None or event.event_data.get("contextId") == self.context_id

    def apply(self, queryset: Any) -> Any:
        if self.event_types:
            queryset = queryset.filter(event_type__in=self.event_types)
        if self.page_id is not None:
            queryset = queryset.filter(event_data__pageId=self.page_id)
        if self.context_id is not None:
            queryset = queryset.filter(event_data__contextId=self.context_id)
        return queryset


@dataclass
class RuntimeTail:
    """The in-memory end of one live runtime's event log."""

    runtime_id: UUID
    workspace_id: UUID
    sequence: int
    floor: int
    events: deque[RuntimeEvent] = field(default_factory=deque)
    waiters: set[asyncio.Event] = field(default_factory=set)
    closed: bool = False

    def wake(self) -> None:
        for waiter in self.waiters:
            waiter.set()

    def first_match(self, after: int, where: EventFilter) -> RuntimeEvent | None:
        for event in self.events:
            if event.sequence > after and where.matches(event):
                return event
        return None


class EventLog:
    """Every live runtime's tail plus the one writer that persists them."""

    def __init__(self) -> None:
        self.tails: dict[UUID, RuntimeTail] = {}
        self._pending: list[RuntimeEvent] = []
        self._row_updates: dict[UUID, dict[str, Any]] = {}
        self._wakeup = asyncio.Event()
        self._flush_lock = asyncio.Lock()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run(), name="event-writer")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        await self.flush()

    def open(self, runtime: Runtime) -> RuntimeTail:
        tail = RuntimeTail(
            runtime.id, runtime.workspace_id, sequence=runtime.last_sequence, floor=runtime.last_sequence
        )
        self.tails[runtime.id] = tail
        return tail

    def close(self, runtime_id: UUID) -> None:
        """No more events for this runtime: waiters give up; its tail leaves memory."""
        tail = self.tails.pop(runtime_id, None)
        if tail is not None:
            tail.closed = True
            tail.wake()

    def emit(
        self,
        tail: RuntimeTail,
        event_type: str,
        data: dict[str, Any],
        operation_id: UUID | None = None,
        at: datetime | None = None,
    ) -> RuntimeEvent | None:
        if tail.closed:
            return None
        tail.sequence += 1
        event = RuntimeEvent(
            id=uuid.uuid4(),
            runtime_id=tail.runtime_id,
            workspace_id=tail.workspace_id,
            sequence=tail.sequence,
            event_type=event_type,
            event_data=data,
            operation_id=operation_id,
            created_at=at or timezone.now(),
        )
        tail.events.append(event)
        self._pending.append(event)
        tail.wake()
        self._wakeup.set()
        return event

    def update_row(self, runtime_id: UUID, **fields: Any) -> None:
        """Persist these Runtime fields with the next batch (not on the caller's hot path)."""
        self._row_updates.setdefault(runtime_id, {}).update(fields)
        self._wakeup.set()

    async def _run(self) -> None:
        while True:
            await self._wakeup.wait()
            # A short window turns a burst (page load: dozens of network events) into one insert.
            await asyncio.sleep(BATCH_WINDOW_SECONDS)
            self._wakeup.clear()
            try:
                await self.flush()
            except Exception:
                logger.exception("Writing runtime events failed; will retry with the next batch")

    async def flush(self) -> None:
        """Commit everything emitted so far (returns once it is in the database)."""
        async with self._flush_lock:
            batch, self._pending = self._pending, []
            rows, self._row_updates = self._row_updates, {}
            if not batch and not rows:
                return
            try:
                await sync_to_async(_write)(batch, rows)
            except Exception:
                # Put them back in front so order and nothing is lost; the next flush retries.
                self._pending[:0] = batch
                for runtime_id, fields in rows.items():
                    self._row_updates.setdefault(runtime_id, {}).update(fields)
                raise
            self._trim(batch)

    def _trim(self, batch: Iterable[RuntimeEvent]) -> None:
        flushed: dict[UUID, int] = {}
        for event in batch:
            flushed[event.runtime_id] = max(flushed.get(event.runtime_id, 0), event.sequence)
        for runtime_id, upto in flushed.items():
            tail = self.tails.get(runtime_id)
            if tail is None:
                continue
            while len(tail.events) > TAIL_KEEP and tail.events[0].sequence <= upto:
                tail.floor = tail.events.popleft().sequence

    async def wait(
        self, runtime_id: UUID, after: int, where: EventFilter, timeout: float
    ) -> tuple[RuntimeEvent | None, int, bool]:
        """The first matching event with sequence > after: (event, cursor, timed_out).

        Answers at once if one exists; else blocks until one is emitted, the runtime ends
        (None, cursor, False) or the timeout passes (None, cursor, True).
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            tail = self.tails.get(runtime_id)
            if tail is None:
                # Not live (stopped, failed, or from a previous process): the table is complete.
                event = await first_stored(runtime_id, after, where)
                return event, event.sequence if event else after, False
            floor = tail.floor
            if after < floor:
                event = await first_stored(runtime_id, after, where, upto=floor)
                if tail.floor != floor:
                    continue  # trimmed meanwhile: read the newly committed range too
                if event is not None:
                    return event, event.sequence, False
                after = floor
            event = tail.first_match(after, where)
            if event is not None:
                return event, event.sequence, False
            if tail.closed:
                return None, tail.sequence, False
            remaining = deadline - loop.time()
            if remaining <= 0:
                return None, max(after, tail.sequence), True
            # No await between the check above and registering: an emit cannot slip in between.
            waiter = asyncio.Event()
            tail.waiters.add(waiter)
            try:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(waiter.wait(), remaining)
            finally:
                tail.waiters.discard(waiter)


async def first_stored(
    runtime_id: UUID, after: int, where: EventFilter, upto: int | None = None
) -> RuntimeEvent | None:
    queryset = RuntimeEvent.objects.filter(runtime_id=runtime_id, sequence__gt=after)
    if upto is not None:
        queryset = queryset.filter(sequence__lte=upto)
    return await where.apply(queryset).order_by("sequence").afirst()


def _write(batch: list[RuntimeEvent], rows: dict[UUID, dict[str, Any]]) -> None:
    last: dict[UUID, int] = {}
    for event in batch:
        last[event.runtime_id] = max(last.get(event.runtime_id, 0), event.sequence)
    try:
        with transaction.atomic():
            _write_rows(batch, rows, last)
    except IntegrityError:
        # A runtime was deleted (its workspace force-deleted) between emit and flush: its events
        # have nowhere to go. Keep the others.
        alive = set(Runtime.objects.filter(id__in=last.keys()).values_list("id", flat=True))
        with transaction.atomic():
            _write_rows(
                [e for e in batch if e.runtime_id in alive],
                {k: v for k, v in rows.items() if k in alive},
                {k: v for k, v in last.items() if k in alive},
            )


def _write_rows(batch: list[RuntimeEvent], rows: dict[UUID, dict[str, Any]], last: dict[UUID, int]) -> None:
    RuntimeEvent.objects.bulk_create(batch)
    for runtime_id in set(last) | set(rows):
        fields = dict(rows.get(runtime_id, {}))
        if runtime_id in last:
            fields["last_sequence"] = last[runtime_id]
        Runtime.objects.filter(id=runtime_id).update(**fields)


event_log = EventLog()
