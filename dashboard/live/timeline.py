"""One run's timeline: what the inspector lists beside the live view or the recording.

Every event of the run becomes one entry, except a network request, whose events (request,
response, finished or failed) are one entry drawn again in place as they arrive (its row id is the
request's). The console adds what only it knows: who took and released control of the browser
(its audit log) and the run's artifacts (a failure screenshot beside the step that failed).

An entry has one moment (`at`, epoch ms on the page) where the list places it and the recording
player seeks to when it is picked; the kind it is filtered by; a line of text; and whether it is
a failure (what *Jump to first failure* looks for: a failed step or agent step, a crashed page, a
failed runtime; not a page's own errors or a failed request, which pages make all day).
"""

import json
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from dashboard.bctrl.artifacts import Artifact
from dashboard.bctrl.events import Event

# the kinds an entry is filtered by, in the operator's words
KINDS = (
    ("step", "Steps"),
    ("agent", "Agent"),
    ("page", "Pages"),
    ("console", "Console"),
    ("network", "Network"),
    ("download", "Downloads"),
    ("dialog", "Dialogs"),
    ("control", "Control"),
    ("viewers", "Viewers"),
    ("runtime", "Runtime"),
)
HIDDEN_KINDS = ("viewers",)  # shown when asked for: every page that watches a run makes them
FAMILY_KIND = {"navigation": "page", "embed": "control"}  # other families are their own kind
TYPE_KIND = {"embed.viewer_joined": "viewers", "embed.viewer_left": "viewers"}
NETWORK_TYPES = ("network.request", "network.response", "network.finished", "network.failed")
REQUESTS_KEPT = 2_000  # network requests remembered to pair with their later events
TEXT_MAX = 500  # characters of a message an entry shows (the drawer and the bundle have it all)


@dataclass
class Entry:
    id: str  # the row's id and a link's `entry=`: e-<sequence>, net-<requestId>, art-<id>, ctl-<id>
    kind: str
    at: datetime | None
    title: str
    detail: str = ""
    level: str = ""  # "error" or "warn": drawn in colour
    failure: bool = False
    event: Event | None = None
    request: dict[str, Any] | None = None
    artifact: Artifact | None = None
    seek: datetime | None = None  # where picking it seeks, when not `at`: a failed step, when it failed

    @property
    def at_ms(self) -> int | None:
        return _ms(self.at)

    @property
    def seek_ms(self) -> int | None:
        return _ms(self.seek)

    @property
    def label(self) -> str:
        """The badge: an event's type; a request or step (several events merged): what it is."""
        if self.request is not None:
            return "request"
        if self.event is not None:
            return "step" if self.event.event_type.startswith("step.") else self.event.event_type
        return self.kind

    @property
    def search(self) -> str:
        """What the search box matches: the text, and for an event its whole data."""
        merged = self.request is not None or self.id.startswith("step-")
        data = self.event.data_json if self.event is not None and not merged else ""
        return f"{self.label} {self.title} {self.detail} {data}"[:4000]


def _ms(moment: datetime | None) -> int | None:
    return round(moment.timestamp() * 1000) if moment else None


def kind_of(event_type: str) -> str:
    if event_type in TYPE_KIND:
        return TYPE_KIND[event_type]
    family = event_type.split(".", 1)[0]
    return FAMILY_KIND.get(family, family)


def _text(value: Any, limit: int = TEXT_MAX) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= limit else text[: limit - 1] + "…"


class Requests:
    """Network requests and steps seen lately: each one's events merged into the one entry it is
    (a request's into its row; a step's `step.finished` into the row of its `step.started`)."""

    def __init__(self) -> None:
        self._seen: OrderedDict[str, dict[str, Any]] = OrderedDict()
        self._steps: OrderedDict[tuple[Any, ...], dict[str, Any]] = OrderedDict()

    def merge_step(self, event: Event) -> dict[str, Any]:
        data = event.event_data
        # `step.finished` says less than `step.started` (no page or context): what both say
        key = (event.operation_id, data.get("index"), data.get("call"))
        if event.event_type == "step.started":
            step = {"id": f"step-{event.sequence or event.id}", "started_at": event.created_at, **data}
            self._steps[key] = step
            while len(self._steps) > REQUESTS_KEPT:
                self._steps.popitem(last=False)
            return step
        started = self._steps.pop(key, None)  # its start; none when it was read in an earlier chunk
        step = started or {"id": f"e-{event.sequence or event.id}", "started_at": event.created_at}
        step.update(data, finished_at=event.created_at)
        return step

    def merge(self, event: Event) -> dict[str, Any]:
        data = event.event_data
        request_id = str(data.get("requestId") or event.id)
        entry = self._seen.get(request_id) or {
            "request_id": request_id,
            "started_at": event.created_at,
            "url": data.get("url", ""),
            "seqs": [],
        }
        if event.sequence is not None and event.sequence not in entry["seqs"]:
            entry["seqs"] = [*entry["seqs"], event.sequence][-6:]
        if event.event_type == "network.request":
            entry.update(
                method=data.get("method", ""),
                url=data.get("url", entry["url"]),
                resource_type=data.get("resourceType", ""),
                started_at=event.created_at,
                sequence=event.sequence,
            )
        elif event.event_type == "network.response":
            entry.update(
                status=data.get("status"),
                status_text=data.get("statusText", ""),
                mime_type=data.get("mimeType", ""),
                size=data.get("size"),
                responded_at=event.created_at,
                ended_at=event.created_at,
            )
        elif event.event_type == "network.finished":
            size = data.get("encodedBodySize")
            entry.update(ended_at=event.created_at, body_kept=bool(data.get("bodyKept")))
            if isinstance(size, int) and size >= 0:
                entry["size"] = size
        else:  # network.failed
            entry.update(failed=data.get("errorText") or "failed", ended_at=event.created_at)
        entry.setdefault("sequence", event.sequence)
        self._seen[request_id] = entry
        self._seen.move_to_end(request_id)
        while len(self._seen) > REQUESTS_KEPT:
            self._seen.popitem(last=False)
        return entry


def entry_of(event: Event, requests: Requests) -> Entry:
    """The entry an event is (a network or step event: its request's or step's entry, as merged so far)."""
    kind = kind_of(event.event_type)
    if kind == "network":
        return _request_entry(event, requests.merge(event))
    if event.event_type in ("step.started", "step.finished"):
        return _step_entry(event, requests.merge_step(event))
    entry = Entry(id=f"e-{event.sequence or event.id}", kind=kind, at=event.created_at, title="", event=event)
    describe = DESCRIBE.get(event.event_type)
    if describe is not None:
        describe(entry, event.event_data)
    else:
        entry.title = event.event_type
        entry.detail = _text(event.event_data)
    return entry


def _request_entry(event: Event, request: dict[str, Any]) -> Entry:
    status = request.get("failed") or request.get("status") or "…"
    return Entry(
        id=f"net-{request['request_id']}",
        kind="network",
        at=request["started_at"],
        title=f"{request.get('method') or ''} {request.get('url') or ''}".strip(),
        detail=str(status),
        level="error" if request.get("failed") or _int(request.get("status")) >= 400 else "",
        event=event,
        request=request,
    )


def _step_entry(event: Event, step: dict[str, Any]) -> Entry:
    """A step, one entry from its start: running, then ok or failed (seeking to when it failed)."""
    call = step.get("call", "step")
    entry = Entry(id=step["id"], kind="step", at=step["started_at"], title=f"{call} running…", event=event)
    entry.detail = f"step {_int(step.get('index')) + 1}" + (
        f" · {step['scriptName']}" if isinstance(step.get("scriptName"), str) else ""
    )
    if "finished_at" not in step:
        return entry
    took = step.get("durationMs")
    took_text = f" after {took} ms" if isinstance(took, int) else ""
    if step.get("ok", True):
        entry.title = f"{call} ok{took_text}"
        return entry
    error = step.get("error")
    error = error if isinstance(error, dict) else {}
    entry.title = f"{call} failed{took_text}"
    entry.detail = _text(f"{error.get('message', '')} {error.get('code', '')}".strip())
    entry.level, entry.failure, entry.seek = "error", True, step["finished_at"]
    return entry


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


# --- what each event says, in words ----------------------------------------------------------


def _agent_step(entry: Entry, data: dict[str, Any]) -> None:
    message = str(data.get("message", ""))
    entry.title = f"Agent step {data.get('step', '')}: {data.get('action', '')}".strip()
    entry.detail = _text(message)
    if message.endswith("(failed)"):
        entry.level, entry.failure = "error", True


def _page(title: str, level: str = "", failure: bool = False) -> Any:
    def describe(entry: Entry, data: dict[str, Any]) -> None:
        entry.title = title
        entry.detail = _text(data.get("url") or data.get("message") or data.get("pageId") or "")
        entry.level, entry.failure = level, failure

    return describe


def _page_error(entry: Entry, data: dict[str, Any]) -> None:
    entry.title = "Page error"
    entry.detail = _text(data.get("message") or data.get("error") or "")
    entry.level = "error"


def _blocked(entry: Entry, data: dict[str, Any]) -> None:
    entry.title = "Navigation blocked"
    entry.detail = _text(f"{data.get('url', '')} {data.get('reason') or data.get('message') or ''}".strip())
    entry.level = "warn"


def _console(entry: Entry, data: dict[str, Any]) -> None:
    level = str(data.get("level") or data.get("type") or "log")
    entry.title = _text(data.get("text", ""))
    entry.detail = level
    entry.level = {"error": "error", "warning": "warn", "warn": "warn"}.get(level, "")


def _download_started(entry: Entry, data: dict[str, Any]) -> None:
    entry.title = f"Download started: {data.get('suggestedFilename') or data.get('url', '')}"
    entry.detail = _text(data.get("url", ""))


def _download_finished(entry: Entry, data: dict[str, Any]) -> None:
    name = data.get("suggestedFilename") or data.get("name") or data.get("path") or ""
    failure = data.get("failure") or data.get("error")
    if failure:
        entry.title, entry.detail, entry.level = f"Download failed: {name}", _text(failure), "error"
        return
    size = data.get("size")
    entry.title = f"Downloaded {name}".strip()
    entry.detail = f"{size} bytes" if isinstance(size, int) else ""


def _dialog(entry: Entry, data: dict[str, Any]) -> None:
    entry.title = f"{str(data.get('type') or 'dialog').capitalize()} dialog"
    entry.detail = _text(data.get("message", ""))


def _viewer(joined: bool) -> Any:
    def describe(entry: Entry, data: dict[str, Any]) -> None:
        who = "An interactive viewer" if data.get("interactive") else "A viewer"
        entry.title = f"{who} {'joined' if joined else 'left'}"
        entry.detail = f"{data.get('viewers', 0)} watching"

    return describe


def _input(entry: Entry, data: dict[str, Any]) -> None:
    entry.title = "Input from the person in control"
    entry.detail = f"{_int(data.get('count'))} input(s)"


def _runtime_started(entry: Entry, data: dict[str, Any]) -> None:
    entry.title = "Runtime started"


def _runtime_stopped(entry: Entry, data: dict[str, Any]) -> None:
    entry.title = "Runtime stopped"
    entry.detail = _text(data.get("reason") or "")


def _runtime_failed(entry: Entry, data: dict[str, Any]) -> None:
    entry.title = "Runtime failed"
    entry.detail = _text(f"{data.get('message', '')} {data.get('code', '')}".strip())
    entry.level, entry.failure = "error", True


def _cdp_connected(entry: Entry, data: dict[str, Any]) -> None:
    who = data.get("label") or data.get("keyName")
    entry.title = f"CDP client connected: {_text(who)}" if who else "CDP client connected"
    entry.detail = _text(f"API key {data.get('keyName')}" if data.get("keyName") else "")


def _cdp_disconnected(entry: Entry, data: dict[str, Any]) -> None:
    entry.title = "CDP client left"
    entry.detail = f"{_int(data.get('messages'))} message(s)"


def _cdp_refused(entry: Entry, data: dict[str, Any]) -> None:
    entry.title = f"CDP method refused: {_text(data.get('method') or '')}"
    entry.detail = _text(data.get("rule") or "")
    entry.level = "warn"


DESCRIBE = {
    "agent.step": _agent_step,
    "page.created": _page("New tab"),
    "page.navigated": _page("Navigated"),
    "page.loaded": _page("Loaded"),
    "page.closed": _page("Tab closed"),
    "page.crashed": _page("Page crashed", "error", failure=True),
    "page.error": _page_error,
    "navigation.blocked": _blocked,
    "console.message": _console,
    "download.started": _download_started,
    "download.finished": _download_finished,
    "dialog.opened": _dialog,
    "embed.viewer_joined": _viewer(joined=True),
    "embed.viewer_left": _viewer(joined=False),
    "embed.input": _input,
    "runtime.started": _runtime_started,
    "runtime.stopped": _runtime_stopped,
    "runtime.failed": _runtime_failed,
    "cdp.connected": _cdp_connected,
    "cdp.disconnected": _cdp_disconnected,
    "cdp.refused": _cdp_refused,
}


# --- the console's own moments of a run ------------------------------------------------------


@dataclass(frozen=True)
class ControlChange:
    """Someone took or released control of the browser (the console's audit log)."""

    id: int
    username: str
    took: bool
    at: datetime
    note: str = ""


def control_entry(change: ControlChange) -> Entry:
    title = f"{change.username} {'took' if change.took else 'released'} control"
    return Entry(id=f"ctl-{change.id}", kind="control", at=change.at, title=title, detail=change.note)


def artifact_entry(artifact: Artifact) -> Entry:
    entry = Entry(
        id=f"art-{artifact.id}",
        kind="step",
        at=artifact.created_at,
        title=f"{artifact.kind.capitalize()}: {artifact.name or artifact.id}",
        detail=artifact.content_type,
        artifact=artifact,
    )
    return entry


@dataclass
class Timeline:
    entries: list[Entry] = field(default_factory=list)
    first_failure: str = ""  # the id of the first failure's entry
    after: int = 0  # the newest event sequence it holds: the live socket resumes from it
    first: int = 0  # the oldest


def compose(
    events: Sequence[Event], controls: Sequence[ControlChange] = (), artifacts: Sequence[Artifact] = ()
) -> Timeline:
    """The run's entries in time order: events by their sequence, the console's own moments
    placed among them by time. A step is one entry from its start; a failed one seeks to the
    moment it failed, and a failure screenshot taken after it is an entry of its own below."""
    requests = Requests()
    by_id: dict[str, Entry] = {}
    for event in events:
        entry = entry_of(event, requests)
        by_id[entry.id] = entry  # a request's later events redraw its one entry
    entries = list(by_id.values())
    extra = [control_entry(c) for c in controls] + [
        artifact_entry(a)
        for a in artifacts
        if a.kind != "download"  # downloads have their events
    ]
    entries = _place(entries, extra)
    sequences = [e.event.sequence for e in entries if e.event is not None and e.event.sequence]
    first_failure = next((e.id for e in entries if e.failure), "")
    return Timeline(entries, first_failure, max(sequences, default=0), min(sequences, default=0))


def _place(entries: list[Entry], extra: list[Entry]) -> list[Entry]:
    """Merge entries without events (in time order) into the event entries (in sequence order)."""
    timed = sorted(((e.at, e) for e in extra if e.at is not None), key=lambda pair: pair[0])
    placed: list[Entry] = []
    for entry in entries:
        while timed and entry.at is not None and timed[0][0] < entry.at:
            placed.append(timed.pop(0)[1])
        placed.append(entry)
    return placed + [e for _, e in timed]
