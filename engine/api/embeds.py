"""Embeds: mint the token and iframe URL of a runtime's live view or of its recording.

A read key may mint view-only tokens (watching changes nothing); `interactive: true` lets the
viewer's mouse and keyboard reach the browser, so it needs an operator key. The pages these URLs
open, and the viewer's websocket, are in engine/live/.
"""

from typing import Any, Literal
from urllib.parse import quote

from django.conf import settings
from django.http import HttpRequest
from ninja import Router, Schema
from pydantic import BaseModel, Field, field_validator

from engine.api.auth import READ, require
from engine.api.common import Timestamp, WorkspaceId
from engine.api.runtimes import get_runtime, not_active
from engine.api.workspaces import get_workspace
from engine.errors import ApiError, invalid
from engine.live import recorder as recordings
from engine.live import tokens
from engine.live.hub import hubs
from engine.models import Recording, Runtime

router = Router(tags=["embeds"])


class _Ttl(Schema):
    ttlSeconds: int | None = Field(
        default=None,
        ge=1,
        description="How long the token lasts (default ENGINE_EMBED_TOKEN_TTL_SECONDS, 1 hour; at most "
        "ENGINE_EMBED_TOKEN_MAX_TTL_SECONDS).",
    )

    @field_validator("ttlSeconds")
    @classmethod
    def _bounded(cls, value: int | None) -> int | None:
        if value is not None and value > settings.EMBED_TOKEN_MAX_TTL_SECONDS:
            raise ValueError(
                f"must be at most {settings.EMBED_TOKEN_MAX_TTL_SECONDS} (ENGINE_EMBED_TOKEN_MAX_TTL_SECONDS)"
            )
        return value


class EmbedLiveIn(_Ttl):
    interactive: bool = Field(
        default=False, description="Let the viewer's input reach the browser (operator key)."
    )
    showControls: bool = Field(default=True, description="Tab strip, URL bar, back/forward/reload.")
    viewerMode: Literal["last_used", "automation"] = Field(
        default="last_used",
        description="`automation`: show the tab the automation last used; `last_used`: the tab a viewer picked.",
    )
    thumbnail: bool = Field(
        default=False,
        description="A low-rate, view-only picture without controls (a wall of runtimes): at most one frame "
        "per ENGINE_LIVE_THUMBNAIL_INTERVAL_MS, and while only thumbnails watch, the screencast is sampled at "
        "that rate instead of running at full rate. Not with `interactive`.",
    )


class EmbedRecordingIn(_Ttl):
    pass


class EmbedLiveOut(BaseModel):
    iframeUrl: str
    token: str
    expiresAt: Timestamp


class EmbedRecordingOut(EmbedLiveOut):
    status: Literal["encoding", "ready", "expired"]
    durationMs: int | None = Field(description="Set once the recording is ready.")
    tabIds: list[str]


def _page_url(request: HttpRequest, page: str, runtime: Runtime, token: str) -> str:
    # Behind a proxy the engine cannot see its public address: ENGINE_PUBLIC_URL names it.
    base = settings.PUBLIC_URL.rstrip("/") or request.build_absolute_uri("/").rstrip("/")
    return f"{base}/embed/{page}/{runtime.id}?token={quote(token, safe='')}"


@router.post(
    "/{workspaceId}/runtimes/{alias}/embed/live",
    operation_id="runtimes-embed-live",
    auth=READ,
    response=EmbedLiveOut,
    summary="Mint a live view of an active runtime (iframe URL and token)",
)
async def embed_live(
    request: HttpRequest, workspace_id: WorkspaceId, alias: str, payload: EmbedLiveIn | None = None
) -> dict[str, Any]:
    options = payload or EmbedLiveIn()
    if options.thumbnail and options.interactive:
        raise invalid(
            "A thumbnail is view-only: ask for `thumbnail` or `interactive`, not both.",
            [{"path": "thumbnail", "message": "Not with interactive: true."}],
        )
    if options.interactive:  # taking control of the browser is an operator's act
        require(request.auth, "operator", "an interactive live view (interactive: false is view-only)")  # type: ignore[attr-defined]
    runtime = await get_runtime(await get_workspace(workspace_id), alias)
    if runtime.status != Runtime.Status.ACTIVE or hubs.get(runtime.id) is None:
        raise not_active(runtime)
    token, expires_at = tokens.mint(
        runtime.id,
        "live",
        interactive=options.interactive,
        show_controls=options.showControls,
        viewer_mode=options.viewerMode,
        ttl_seconds=options.ttlSeconds,
        thumbnail=options.thumbnail,
    )
    return {"iframeUrl": _page_url(request, "live", runtime, token), "token": token, "expiresAt": expires_at}


@router.post(
    "/{workspaceId}/runtimes/{alias}/embed/recording",
    operation_id="runtimes-embed-recording",
    auth=READ,
    response=EmbedRecordingOut,
    summary="Mint a player of a runtime's recording (iframe URL, token and the recording's status)",
)
async def embed_recording(
    request: HttpRequest, workspace_id: WorkspaceId, alias: str, payload: EmbedRecordingIn | None = None
) -> dict[str, Any]:
    runtime = await get_runtime(await get_workspace(workspace_id), alias)
    recording = await Recording.objects.filter(runtime_id=runtime.id).afirst()
    if recording is None:
        raise ApiError(
            404,
            "recording.not_found",
            f"Runtime '{alias}' has no recording: it was launched with recording off "
            "(launch config `recording: false`, or ENGINE_RECORDING_ENABLED=false).",
        )
    recording = await recordings.expire_if_due(recording)
    tab_ids = recordings.tab_ids(recording)
    hub = hubs.get(runtime.id)
    if recording.status == Recording.Status.ENCODING and hub is not None and hub.recorder is not None:
        tab_ids = list(hub.recorder.tabs)  # what is recorded so far
    token, expires_at = tokens.mint(
        runtime.id, "recording", ttl_seconds=(payload or EmbedRecordingIn()).ttlSeconds
    )
    return {
        "iframeUrl": _page_url(request, "recording", runtime, token),
        "token": token,
        "expiresAt": expires_at,
        "status": recording.status,
        "durationMs": recording.duration_ms if recording.status != Recording.Status.ENCODING else None,
        "tabIds": tab_ids,
    }
