"""The /embed pages: the live viewer, the recording player, what the player fetches, their assets.

Every page is made to sit in an iframe on the console's origin: a strict CSP (only this
engine's own script, style and websocket; `frame-ancestors` from ENGINE_EMBED_FRAME_ANCESTORS),
no referrer (the URL carries the token), never cached. A token that opens nothing gets a page
saying why, never a frame.
"""

import asyncio
import functools
import json
from pathlib import Path
from uuid import UUID

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from engine import wire
from engine.live import recordings
from engine.live.hub import hubs
from engine.live.recorder import recorders
from engine.live.tokens import EmbedGrant, TokenRefused, read
from engine.models import Recording, Runtime

ASSETS = Path(__file__).resolve().parent / "assets"
ASSET_TYPES = {
    "embed.js": "text/javascript",
    "live.js": "text/javascript",
    "player.js": "text/javascript",
    "embed.css": "text/css",
}
REFUSALS = {
    "expired": (
        "This link has expired",
        "Embed links last a limited time. Open the runtime again in the console for a new one.",
    ),
    "invalid": (
        "This link is not valid",
        "It was changed, or it belongs to another runtime. Open the runtime in the console for a new one.",
    ),
    "stopped": (
        "The runtime has stopped",
        "Its live view ended with it; its recording, if it had one, can be played from the console.",
    ),
    "failed": ("The runtime failed", "Its live view ended with it. Launch it again from the console."),
    "no_recording": (
        "No recording",
        "This runtime was launched with recording off, so there is nothing to play.",
    ),
    "recording_expired": (
        "This recording has expired",
        "Recordings are kept for a limited time (ENGINE_RECORDING_RETENTION_SECONDS); this one is gone.",
    ),
}


def content_security_policy(request: HttpRequest) -> str:
    host = request.get_host()
    ancestors = " ".join(settings.EMBED_FRAME_ANCESTORS) or "'none'"
    return "; ".join(
        [
            "default-src 'none'",
            "script-src 'self'",
            "style-src 'self'",
            "img-src 'self' blob:",
            f"connect-src 'self' ws://{host} wss://{host}",
            f"frame-ancestors {ancestors}",
            "base-uri 'none'",
            "form-action 'none'",
        ]
    )


def _ancestors() -> str:
    """Who may frame the page, for its script: the parent it talks to by postMessage must be one."""
    return json.dumps(list(settings.EMBED_FRAME_ANCESTORS))


def _page(request: HttpRequest, template: str, context: dict[str, object], status: int = 200) -> HttpResponse:
    response = render(request, template, context, status=status)
    response["Content-Security-Policy"] = content_security_policy(request)
    response["Referrer-Policy"] = "no-referrer"
    response["Cache-Control"] = "no-store"
    response["X-Content-Type-Options"] = "nosniff"
    return response


def _refused(request: HttpRequest, reason: str, detail: str = "") -> HttpResponse:
    title, advice = REFUSALS[reason]
    status = 410 if reason in ("stopped", "failed", "recording_expired") else 403
    if reason == "no_recording":
        status = 404
    return _page(
        request,
        "embed/refused.html",
        {"title": title, "advice": advice, "detail": detail, "reason": reason},
        status,
    )


@require_GET
async def live_page(request: HttpRequest, runtime_id: UUID) -> HttpResponse:
    try:
        grant = read(request.GET.get("token"), runtime_id, "live")
    except TokenRefused as refused:
        return _refused(request, refused.reason)
    hub = hubs.get(runtime_id)
    if hub is None or hub.closed:
        runtime = await Runtime.objects.filter(id=runtime_id).afirst()
        failed = runtime is not None and runtime.status == Runtime.Status.FAILED
        return _refused(
            request, "failed" if failed else "stopped", runtime.failure_message if failed and runtime else ""
        )
    return _page(
        request,
        "embed/live.html",
        {"grant": grant, "alias": hub.session.runtime.alias, "ancestors_json": _ancestors()},
    )


def _recording_grant(request: HttpRequest, runtime_id: UUID) -> EmbedGrant:
    return read(request.GET.get("token"), runtime_id, "recording")


async def _recording(runtime_id: UUID) -> Recording | None:
    recording = await Recording.objects.filter(runtime_id=runtime_id).afirst()
    return await recordings.expire_if_due(recording) if recording is not None else None


@require_GET
async def recording_page(request: HttpRequest, runtime_id: UUID) -> HttpResponse:
    try:
        _recording_grant(request, runtime_id)
    except TokenRefused as refused:
        return _refused(request, refused.reason)
    recording = await _recording(runtime_id)
    if recording is None:
        return _refused(request, "no_recording")
    if recording.status == Recording.Status.EXPIRED:
        return _refused(request, "recording_expired")
    runtime = await Runtime.objects.aget(id=runtime_id)
    return _page(request, "embed/recording.html", {"alias": runtime.alias, "ancestors_json": _ancestors()})


@require_GET
async def recording_index(request: HttpRequest, runtime_id: UUID) -> JsonResponse:
    """Everything the player needs but the pictures: status, start, length, each tab's frame times,
    marks. While the runtime runs (`encoding`, `live: true`), what is recorded so far: the player
    asks again every few seconds and can follow the live edge."""
    try:
        _recording_grant(request, runtime_id)
    except TokenRefused as refused:
        return JsonResponse({"status": "refused", "reason": refused.reason}, status=403)
    recording = await _recording(runtime_id)
    if recording is None:
        return JsonResponse({"status": "missing"}, status=404)
    body: dict[str, object] = {"status": recording.status, "startedAt": wire.iso(recording.started_at)}
    if recording.status != Recording.Status.EXPIRED:
        live = recording.status == Recording.Status.ENCODING
        listed = recording.tabs
        recorder = recorders.get(runtime_id)
        if live and recorder is not None:
            listed = [{"id": tab, "url": url} for tab, url in recorder.tabs.items()]
        elif live:  # its recorder is gone (it could not start): what reached the disk
            on_disk = await asyncio.to_thread(recordings.tabs_on_disk, runtime_id)
            listed = [{"id": tab, "url": ""} for tab in on_disk]
        tabs = []
        for tab in listed:
            times = await asyncio.to_thread(recordings.read_times, runtime_id, tab["id"])
            if times:
                tabs.append({"id": tab["id"], "url": tab.get("url", ""), "times": times})
        body.update(
            live=live,
            durationMs=recordings.live_duration_ms(recording) if live else recording.duration_ms,
            truncated=(recorder.truncated if live and recorder else recording.truncated) or None,
            tabs=tabs,
            marks=await recordings.marks(recording),
        )
    response = JsonResponse(body)
    response["Cache-Control"] = "no-store"
    return response


@require_GET
async def recording_frame(request: HttpRequest, runtime_id: UUID, tab_id: str, number: int) -> HttpResponse:
    try:
        _recording_grant(request, runtime_id)
    except TokenRefused:
        return HttpResponse(status=403)
    recording = await _recording(runtime_id)
    if recording is None or recording.status == Recording.Status.EXPIRED:
        raise Http404
    jpeg = await asyncio.to_thread(recordings.read_frame, runtime_id, tab_id, number)
    if jpeg is None:
        raise Http404
    response = HttpResponse(jpeg, content_type="image/jpeg")
    # A frame never changes once written (while recording too): let the player keep it.
    response["Cache-Control"] = "private, max-age=86400, immutable"
    response["X-Content-Type-Options"] = "nosniff"
    return response


@functools.cache
def _asset_bytes(name: str) -> bytes:
    return (ASSETS / name).read_bytes()


@require_GET
def asset(request: HttpRequest, name: str) -> HttpResponse:
    content_type = ASSET_TYPES.get(name)
    if content_type is None:
        raise Http404
    response = HttpResponse(_asset_bytes(name), content_type=f"{content_type}; charset=utf-8")
    response["Cache-Control"] = "public, max-age=300"
    response["X-Content-Type-Options"] = "nosniff"
    return response
