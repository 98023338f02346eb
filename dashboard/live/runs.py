"""One run's inspector: its timeline, a request's details and kept body, its recording, and what
can be taken away (HAR, video, bundle).

Every region is served two ways: by run id (this engine's own routes: every run, an earlier run
of an alias too, active or ended) and by alias (the public routes: the alias's newest run), so the
alias page works against any BCTRL API and a run page reaches runs the public API cannot.
"""

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from django.contrib import messages
from django.http import HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect
from django.urls import path, register_converter, reverse
from django.utils.http import content_disposition_header
from django.views.decorators.http import require_GET
from django.views.decorators.vary import vary_on_headers
from django_htmx.http import HttpResponseClientRefresh

from dashboard.accounts.roles import has_role_async, role_required
from dashboard.audit.models import AuditEntry
from dashboard.bctrl import artifacts as artifacts_api
from dashboard.bctrl import events as events_api
from dashboard.bctrl import recordings as recordings_api
from dashboard.bctrl import runtimes as runtimes_api
from dashboard.bctrl.downloads import Download
from dashboard.bctrl.errors import BctrlError
from dashboard.bctrl.pages import Page
from dashboard.front.downloads import file_response
from dashboard.front.views.runtimes import ended_because, summary_context
from dashboard.live import bundle, har, timeline
from dashboard.live.views import refresh_seconds
from dashboard.pages import HtmxHttpRequest, error_status, render_page, settle

TEMPLATE = "live/inspector.html"
TIMELINE_EVENTS = 1_500  # the events a timeline opens with; more load on request
READ_PAGES = 20  # of 500: how far an active run's timeline reads to find its newest events
WINDOW = 500  # events a "show earlier / later" loads
REQUEST_EVENTS = 6  # a request's events the drawer reads (request, response, finished...)
SCAN_PAGES = 10  # of 500 network events: how far the drawer looks for a request without sequences
BODY_SHOWN = 256 * 1024  # bytes of a kept response body the drawer shows
ARTIFACTS_READ = 100
CONTROL_ACTIONS = ("runtime.control.take", "runtime.control.release")


class RequestId:
    """A request's id in a URL: the engine's `req_12`, or a CDP-style `1234.56`."""

    regex = r"[A-Za-z0-9_.:-]{1,100}"

    def to_python(self, value: str) -> str:
        return value

    def to_url(self, value: str) -> str:
        return value


register_converter(RequestId, "request_id")


@dataclass(frozen=True)
class Run:
    """Which run a region is about: by id, or by alias (its newest run)."""

    runtime_id: str = ""
    workspace_id: str = ""
    alias: str = ""

    async def runtime(self) -> runtimes_api.Runtime:
        if self.runtime_id:
            return await runtimes_api.get_run(self.runtime_id)
        return await runtimes_api.get_runtime(self.workspace_id, self.alias)

    async def events(
        self,
        types: list[str] | None = None,
        cursor: str | None = None,
        limit: int = 500,
        after: int | None = None,
    ) -> Page[events_api.Event]:
        """A page of the run's events after the opaque `cursor`, or (this engine's) after the
        sequence `after`: the windows around what the timeline shows."""
        position = str(after) if after is not None else cursor
        if self.runtime_id:
            return await events_api.list_run_events(self.runtime_id, types, position, limit)
        return await events_api.list_events(self.workspace_id, self.alias, types, position, limit)

    def url(self, name: str, *more: str) -> str:
        if self.runtime_id:
            return reverse(f"run_{name}", args=[self.runtime_id, *more])
        return reverse(f"runtime_{name}", args=[self.workspace_id, self.alias, *more])

    @property
    def page_url(self) -> str:
        if self.runtime_id:
            return reverse("run_detail", args=[self.runtime_id])
        return reverse("runtime_detail", args=[self.workspace_id, self.alias])


def _by_alias(workspace_id: str, alias: str) -> Run:
    return Run(workspace_id=str(workspace_id), alias=alias)


def _by_id(runtime_id: str) -> Run:
    return Run(runtime_id=str(runtime_id))


# --- the timeline -----------------------------------------------------------------------------


@vary_on_headers("HX-Request")
@require_GET
@role_required("viewer")
async def runtime_events(request: HtmxHttpRequest, workspace_id: str, alias: str) -> HttpResponse:
    return await _timeline(request, _by_alias(workspace_id, alias))


@vary_on_headers("HX-Request")
@require_GET
@role_required("viewer")
async def run_events(request: HtmxHttpRequest, runtime_id: str) -> HttpResponse:
    return await _timeline(request, _by_id(runtime_id))


async def _timeline(request: HtmxHttpRequest, run: Run) -> HttpResponse:
    """The timeline region; `?watch=1` is the page asking whether its run ended (the relay said
    something happened to it); `?before=N` / `?after=N` are the rows around what it shows."""
    if not request.htmx:
        return redirect(run.page_url)
    if request.GET.get("watch") == "1":
        return await _watch(request, run)
    window = _window(request)
    if window is not None:
        return await _rows(request, run, *window)
    context: dict[str, Any] = {
        "run": run,
        "kinds": timeline.KINDS,
        "hidden_kinds": timeline.HIDDEN_KINDS,
        "timeline_url": run.url("events"),
        "request_url": run.url("request", "-")[:-2],  # + a request's id and /
    }
    runtime = await settle(run.runtime())
    if isinstance(runtime, BctrlError):
        context["events_error"] = runtime
        return render_page(request, f"{TEMPLATE}#timeline", context, status=error_status(runtime))
    context["runtime"] = runtime
    try:
        opening = await _opening_events(run, runtime)
    except BctrlError as error:
        context["events_error"] = error
        return render_page(request, f"{TEMPLATE}#timeline", context)
    controls, artifacts = await asyncio.gather(_controls(runtime), _artifacts(runtime))
    composed = timeline.compose(opening.events, controls, artifacts)
    context.update(
        timeline=composed,
        earlier=opening.earlier,
        later=opening.later,
        socket_after=opening.after,
        socket_skip=opening.skip,
        started_ms=_ms(runtime.started_at),
    )
    return render_page(request, f"{TEMPLATE}#timeline", context)


async def _watch(request: HtmxHttpRequest, run: Run) -> HttpResponse:
    """204; when the run has ended since the page was drawn, the whole page is drawn again (its
    summary, why it ended, the recording in place of the live view, no step runner)."""
    runtime = await settle(run.runtime())
    if isinstance(runtime, runtimes_api.Runtime) and runtime.ended:
        messages.info(request, f"Runtime {runtime.alias} has ended. {ended_because(runtime)}")
        return HttpResponseClientRefresh()
    return HttpResponse(status=204)


def _window(request: HtmxHttpRequest) -> tuple[str, int] | None:
    for side in ("before", "after"):
        raw = request.GET.get(side, "")
        if raw.isdigit() and len(raw) < 19:
            return side, int(raw)
    return None


@dataclass(frozen=True)
class Opening:
    """A timeline's opening events, whether earlier / later ones exist, and where an active run's
    socket goes on: after the API's opaque position `after`, past the `skip` events there the
    page shows already (an API whose last page gives no position, bctrl/events.py `position_after`)."""

    events: list[events_api.Event]
    earlier: bool
    later: bool
    after: str = ""
    skip: int = 0


async def _opening_events(run: Run, runtime: runtimes_api.Runtime) -> Opening:
    """An ended run opens at its start (a recording plays from there); an active one at its newest
    events (the socket continues from them)."""
    events: list[events_api.Event] = []
    cursor: str | None = None
    skip = 0
    more = False
    for _ in range(READ_PAGES if runtime.active else TIMELINE_EVENTS // 500):
        page = await run.events(cursor=cursor, limit=500)
        events.extend(page.items)
        if runtime.active:
            events = events[-TIMELINE_EVENTS:]
        more = page.next_cursor is not None
        following = events_api.position_after(page, cursor)
        if following is None:  # no position past this page: the socket starts before it
            skip = len(page.items)
            break
        if not more or following == cursor:
            cursor = following
            break
        cursor = following
    earlier = bool(events and (events[0].sequence or 0) > 1)
    return Opening(events, earlier, runtime.ended and more, cursor or "", skip)


async def _rows(request: HtmxHttpRequest, run: Run, side: str, sequence: int) -> HttpResponse:
    """The events before or after `sequence`, as rows for the timeline to add (X-Timeline-More says
    whether more lie beyond them)."""
    try:
        if side == "before":
            start = max(0, sequence - WINDOW - 1)
            page = await run.events(after=start, limit=WINDOW)
            events = [e for e in page.items if (e.sequence or 0) < sequence]
            more = start > 0
        else:
            page = await run.events(after=sequence, limit=WINDOW)
            events, more = page.items, page.next_cursor is not None
    except BctrlError as error:
        return HttpResponse(error.user_message, status=error_status(error), content_type="text/plain")
    composed = timeline.compose(events)
    response = render_page(request, f"{TEMPLATE}#rows", {"timeline": composed, "run": run})
    response["X-Timeline-More"] = "1" if more else "0"
    return response


async def _controls(runtime: runtimes_api.Runtime) -> list[timeline.ControlChange]:
    """Who took and released control of this run's browser, from the console's audit log."""
    if runtime.started_at is None:
        return []
    entries = AuditEntry.objects.filter(
        action__in=CONTROL_ACTIONS,
        target_id=f"{runtime.workspace_id}/{runtime.alias}",
        outcome=AuditEntry.Outcome.SUCCEEDED,
        created_at__gte=runtime.started_at,
    )
    if runtime.stopped_at is not None:
        entries = entries.filter(created_at__lte=runtime.stopped_at)
    return [
        timeline.ControlChange(e.pk, e.username, e.action.endswith("take"), e.created_at, e.message)
        async for e in entries.order_by("created_at")[:200]
    ]


async def _artifacts(runtime: runtimes_api.Runtime) -> list[artifacts_api.Artifact]:
    """The artifacts this run made (its alias's, within its lifetime); none when they cannot be read."""
    page = await settle(
        artifacts_api.list_artifacts(runtime.workspace_id, runtime=runtime.alias, limit=ARTIFACTS_READ)
    )
    if isinstance(page, BctrlError) or runtime.started_at is None:
        return []
    started, stopped = runtime.started_at, runtime.stopped_at
    return [
        a
        for a in page.items
        if a.created_at and a.created_at >= started and (stopped is None or a.created_at <= stopped)
    ]


def _ms(moment: Any) -> int | None:
    return round(moment.timestamp() * 1000) if moment else None


# --- a request's details ----------------------------------------------------------------------


@require_GET
@role_required("viewer")
async def runtime_request(
    request: HtmxHttpRequest, workspace_id: str, alias: str, request_id: str
) -> HttpResponse:
    return await _request_drawer(request, _by_alias(workspace_id, alias), request_id)


@require_GET
@role_required("viewer")
async def run_request(request: HtmxHttpRequest, runtime_id: str, request_id: str) -> HttpResponse:
    return await _request_drawer(request, _by_id(runtime_id), request_id)


async def _request_drawer(request: HtmxHttpRequest, run: Run, request_id: str) -> HttpResponse:
    """One request's events (the row names their sequences), read one by one and merged."""
    sequences = sorted({int(s) for s in request.GET.getlist("seq") if s.isdigit() and len(s) < 19})
    context: dict[str, Any] = {"run": run, "request_id": request_id}
    if not sequences:  # an API without sequences (the public surface): look for the request
        scanned = await settle(_scan_for_request(run, request_id))
        if isinstance(scanned, BctrlError):
            context["upstream_error"] = scanned
            return render_page(request, f"{TEMPLATE}#request_drawer", context, status=error_status(scanned))
        context.update(details(scanned), body_url="")  # bodies are kept by run id: ours only
        return render_page(request, f"{TEMPLATE}#request_drawer", context)
    reads = await asyncio.gather(
        *(
            settle(run.events(list(timeline.NETWORK_TYPES), after=s - 1, limit=1))
            for s in sequences[:REQUEST_EVENTS]
        )
    )
    failed = next((r for r in reads if isinstance(r, BctrlError)), None)
    # each read is the first network event at or after its sequence: only that very event, and
    # only if it is this request's, is kept (a sequence may name another request's, or no event)
    events = [
        e
        for s, r in zip(sequences, reads, strict=False)
        if isinstance(r, Page)
        for e in r.items
        if e.sequence == s and str(e.event_data.get("requestId") or "") == request_id
    ]
    if failed is not None and not events:
        context["upstream_error"] = failed
        return render_page(request, f"{TEMPLATE}#request_drawer", context, status=error_status(failed))
    runtime_id = run.runtime_id
    if not runtime_id:  # the body is kept by run id
        runtime = await settle(run.runtime())
        runtime_id = runtime.id if isinstance(runtime, runtimes_api.Runtime) else ""
    body_url = reverse("run_request_body", args=[runtime_id, request_id]) if runtime_id else ""
    context.update(details(events), body_url=body_url, may_read_withheld=await _may_read_withheld(request))
    return render_page(request, f"{TEMPLATE}#request_drawer", context)


async def _may_read_withheld(request: HtmxHttpRequest) -> bool:
    """A body the engine withholds after a vault fill (`bodyWithheld`) is the console's to show only
    to its admins, as the engine serves it only with raw-read rights (use without read in
    docs/api.md). The console's calls act with its user's role (dashboard/bctrl/acting.py), so the
    engine refuses its viewers and operators too; this check is what holds against an API that
    does not know that header."""
    return await has_role_async(request.user, "admin")


async def _scan_for_request(run: Run, request_id: str) -> list[events_api.Event]:
    """The request's events among the run's network events, read in order from its start, at
    most SCAN_PAGES pages (an API whose events have no sequence to read them by one by one)."""
    found: list[events_api.Event] = []
    cursor: str | None = None
    for _ in range(SCAN_PAGES):
        page = await run.events(list(timeline.NETWORK_TYPES), cursor=cursor, limit=500)
        found += [e for e in page.items if str(e.event_data.get("requestId") or "") == request_id]
        following = events_api.position_after(page, cursor)
        if page.next_cursor is None or following in (None, cursor):
            break
        cursor = following
    return found[:REQUEST_EVENTS]


def details(events: list[events_api.Event]) -> dict[str, Any]:
    """What the drawer shows of a request, from its events."""
    by_type = {e.event_type: e for e in events}
    sent = by_type.get("network.request")
    answer = by_type.get("network.response")
    finished = by_type.get("network.finished")
    failed = by_type.get("network.failed")
    data: dict[str, Any] = {}
    for event in (sent, answer, finished, failed):
        if event is not None:
            data.update(event.event_data)
    ending = finished or failed
    timing = ending.event_data.get("timing") if ending is not None else None
    return {
        "request": data,
        # what was actually sent and received (`network.finished`), else what the page asked for
        "request_headers": _pairs(
            data.get("requestHeaders") or (sent.event_data if sent else {}).get("headers")
        ),
        "response_headers": _pairs(
            data.get("responseHeaders") or (answer.event_data if answer else {}).get("headers")
        ),
        "timing": [
            (label, timing.get(key))
            for key, label in TIMING_PHASES
            if isinstance(timing, dict) and isinstance(timing.get(key), int | float) and timing[key] >= 0
        ],
        "started_at": sent.created_at if sent else None,
        "failed_text": failed.event_data.get("errorText", "failed") if failed else "",
        "initiator": data.get("initiator") if isinstance(data.get("initiator"), dict) else None,
        "body_kept": bool(finished and finished.event_data.get("bodyKept")),
        "body_withheld": bool(finished and finished.event_data.get("bodyWithheld")),
        "found": bool(events),
    }


TIMING_PHASES = (
    ("blocked", "Queued"),
    ("dns", "DNS lookup"),
    ("connect", "Connecting"),
    ("ssl", "TLS"),
    ("send", "Sending"),
    ("wait", "Waiting (TTFB)"),
    ("receive", "Downloading"),
)


def _pairs(headers: Any) -> list[tuple[str, str]]:
    if isinstance(headers, dict):
        return sorted((str(k), str(v)) for k, v in headers.items())
    if isinstance(headers, list):
        return [(str(h.get("name", "")), str(h.get("value", ""))) for h in headers if isinstance(h, dict)]
    return []


@require_GET
@role_required("viewer")
async def run_request_body(request: HtmxHttpRequest, runtime_id: str, request_id: str) -> HttpResponse:
    """A kept response body, shown as text inside the console's page (escaped, never served with
    its own type: an HTML or script body must not run in the console's origin)."""
    context: dict[str, Any] = {"request_id": request_id}
    try:
        body = await recordings_api.open_response_body(str(runtime_id), request_id)
    except BctrlError as error:
        if error.code == "vault.sealed":  # the API withheld it from this user's role (bctrl/acting.py)
            context["withheld"] = True
            return render_page(request, f"{TEMPLATE}#response_body", context, status=403)
        context["body_error"] = error
        return render_page(request, f"{TEMPLATE}#response_body", context, status=error_status(error))
    if body.withheld and not await _may_read_withheld(request):
        await body.chunks.aclose()  # type: ignore[attr-defined]
        context["withheld"] = True
        return render_page(request, f"{TEMPLATE}#response_body", context, status=403)
    shown, truncated = await _read_some(body, BODY_SHOWN)
    context.update(
        text=shown.decode(_charset(body.content_type), errors="replace"),
        truncated=truncated,
        content_type=body.content_type,
    )
    return render_page(request, f"{TEMPLATE}#response_body", context)


async def _read_some(download: Download, limit: int) -> tuple[bytes, bool]:
    kept = bytearray()
    async for chunk in download.chunks:
        kept.extend(chunk)
        if len(kept) > limit:
            await download.chunks.aclose()  # type: ignore[attr-defined]
            return bytes(kept[:limit]), True
    return bytes(kept), False


def _charset(content_type: str) -> str:
    for part in content_type.split(";")[1:]:
        name, _, value = part.strip().partition("=")
        if name.lower() == "charset" and value.strip('"'):
            try:
                "".encode(value.strip('"'))
            except LookupError:
                return "utf-8"
            return value.strip('"')
    return "utf-8"


# --- the recording ----------------------------------------------------------------------------


@require_GET
@role_required("viewer")
async def run_recording(request: HtmxHttpRequest, runtime_id: str) -> HttpResponse:
    """The recording player of any run, by id (the alias page's newest run uses `runtime_live`)."""
    context: dict[str, Any] = {"live_url": reverse("run_recording", args=[runtime_id])}
    runtime, embed = await asyncio.gather(
        settle(runtimes_api.get_run(str(runtime_id))), settle(recordings_api.recording(str(runtime_id)))
    )
    if isinstance(runtime, BctrlError):
        context["error"] = runtime
        return render_page(request, "live/runtime.html#live_view", context, status=error_status(runtime))
    context.update(runtime=runtime, alias=runtime.alias, workspace_id=runtime.workspace_id, recording=True)
    if isinstance(embed, BctrlError):
        context["embed_error"] = embed
    else:
        context.update(embed=embed, refresh_seconds=refresh_seconds(embed))
    return render_page(request, "live/runtime.html#live_view", context)


# --- exports ----------------------------------------------------------------------------------


@require_GET
@role_required("viewer")
async def runtime_har(request: HtmxHttpRequest, workspace_id: str, alias: str) -> HttpResponse:
    return await _har(_by_alias(workspace_id, alias))


@require_GET
@role_required("viewer")
async def run_har(request: HtmxHttpRequest, runtime_id: str) -> HttpResponse:
    return await _har(_by_id(runtime_id))


async def _har(run: Run) -> HttpResponse:
    """The run's network as a HAR 1.2 file (opens in Chrome DevTools' Network panel)."""
    try:
        runtime = await run.runtime()
        events: list[events_api.Event] = []
        async for page in _pages(run, har.EVENT_TYPES, har.MAX_PAGES):
            events.extend(page)
    except BctrlError as error:
        return _failed_export("The HAR", error)
    response = HttpResponse(json.dumps(har.build(runtime, events), indent=1), content_type="application/json")
    response["Content-Disposition"] = content_disposition_header(
        True, f"{runtime.alias}-{runtime.id[:8]}.har"
    )
    return response


async def _pages(run: Run, types: list[str] | None, most: int) -> AsyncIterator[list[events_api.Event]]:
    cursor: str | None = None
    for _ in range(most):
        page = await run.events(types, cursor=cursor, limit=500)
        yield page.items
        cursor = page.next_cursor
        if cursor is None:
            return


def _failed_export(what: str, error: BctrlError) -> HttpResponse:
    return HttpResponse(
        f"{what} could not be made: {error.user_message} (request id {error.request_id or 'none'})",
        status=error_status(error),
        content_type="text/plain; charset=utf-8",
    )


@require_GET
@role_required("viewer")
async def run_video(request: HtmxHttpRequest, runtime_id: str) -> HttpResponse:
    """The run's recording as a video file, streamed from the engine."""
    video_format = request.GET.get("format", "webm")
    if video_format not in recordings_api.VIDEO_FORMATS:
        return HttpResponse("Ask for format=webm or format=mp4.", status=400, content_type="text/plain")
    try:
        runtime = await runtimes_api.get_run(str(runtime_id))
        video = await recordings_api.open_video(str(runtime_id), video_format)
    except BctrlError as error:
        return _failed_export("The video", error)
    response = file_response(
        video.chunks,
        content_type=video.content_type,
        filename=f"{runtime.alias}-{runtime.id[:8]}.{video_format}",
        size=video.content_length,
    )
    return response  # type: ignore[return-value]  # role_required types views as HttpResponse


@require_GET
@role_required("viewer")
async def run_bundle(request: HtmxHttpRequest, runtime_id: str) -> HttpResponse:
    """Video, events and HAR as one zip. A run without a video (recording off, or not made yet)
    still gets its bundle, whose README says why the video is missing."""
    run = _by_id(runtime_id)
    try:
        runtime = await run.runtime()
    except BctrlError as error:
        return _failed_export("The bundle", error)
    video: Download | None = None
    note = ""
    try:
        video = await recordings_api.open_video(runtime.id)
    except BctrlError as error:
        if error.status not in (404, 409) and not error.not_offered:
            return _failed_export("The bundle", error)
        note = error.user_message
    described = {
        key: value
        for key, value in runtime.__dict__.items()
        if key not in ("config", "summary", "bindings", "failure")
    }
    described.update(
        config=json.loads(summary_context(runtime)["config_json"] or "{}"),
        failure=runtime.failure.__dict__ if runtime.failure else None,
        ended_because=ended_because(runtime),
    )
    chunks = bundle.stream(runtime, described, _pages(run, None, har.MAX_PAGES), video, note)
    response = StreamingHttpResponse(chunks, content_type="application/zip")
    response["Content-Disposition"] = content_disposition_header(
        True, f"{runtime.alias}-{runtime.id[:8]}.zip"
    )
    return response  # type: ignore[return-value]


urlpatterns = [
    path(
        "workspaces/<uuid:workspace_id>/runtimes/<slug:alias>/events/", runtime_events, name="runtime_events"
    ),
    path(
        "workspaces/<uuid:workspace_id>/runtimes/<slug:alias>/network/<request_id:request_id>/",
        runtime_request,
        name="runtime_request",
    ),
    path("workspaces/<uuid:workspace_id>/runtimes/<slug:alias>/har/", runtime_har, name="runtime_har"),
    path("runtimes/<uuid:runtime_id>/events/", run_events, name="run_events"),
    path("runtimes/<uuid:runtime_id>/network/<request_id:request_id>/", run_request, name="run_request"),
    path(
        "runtimes/<uuid:runtime_id>/network/<request_id:request_id>/body/",
        run_request_body,
        name="run_request_body",
    ),
    path("runtimes/<uuid:runtime_id>/recording/", run_recording, name="run_recording"),
    path("runtimes/<uuid:runtime_id>/har/", run_har, name="run_har"),
    path("runtimes/<uuid:runtime_id>/video/", run_video, name="run_video"),
    path("runtimes/<uuid:runtime_id>/bundle/", run_bundle, name="run_bundle"),
]
