"""Bring your own automation: mint a CDP connect URL for an active runtime, list who is connected.

The URL (`webSocketDebuggerUrl`) is what Playwright's `connect_over_cdp` and Puppeteer's
`connect({browserWSEndpoint})` take as they are; its token is short-lived and bound to the runtime
and the minting key (engine/gateway/). Minting one is an operator's act: the client drives the
browser. The gateway's rules are in engine/cdp/rules.py and docs/api.md.
"""

from typing import Any
from urllib.parse import quote

from django.conf import settings
from django.http import HttpRequest
from ninja import Router, Schema
from pydantic import BaseModel, Field, field_validator

from engine.api.auth import OPERATOR
from engine.api.common import Timestamp, WorkspaceId
from engine.api.runtimes import get_runtime, not_active
from engine.api.workspaces import get_workspace
from engine.gateway import tokens
from engine.models import ApiKey, Runtime
from engine.runtimes.manager import manager

router = Router(tags=["cdp"])


class CdpIn(Schema):
    ttlSeconds: int | None = Field(
        default=None,
        ge=1,
        description="How long the URL opens connections (default ENGINE_CDP_TOKEN_TTL_SECONDS, 300; at most "
        "ENGINE_CDP_TOKEN_MAX_TTL_SECONDS). An open connection lives on until its client leaves or the runtime ends.",
    )
    label: str = Field(
        default="",
        max_length=100,
        description="Who connects, in your words (shown in the runtime's connections and events).",
    )

    @field_validator("ttlSeconds")
    @classmethod
    def _bounded(cls, value: int | None) -> int | None:
        if value is not None and value > settings.CDP_TOKEN_MAX_TTL_SECONDS:
            raise ValueError(
                f"must be at most {settings.CDP_TOKEN_MAX_TTL_SECONDS} (ENGINE_CDP_TOKEN_MAX_TTL_SECONDS)"
            )
        return value

    @field_validator("label")
    @classmethod
    def _printable(cls, value: str) -> str:
        if not value.isprintable():
            raise ValueError("must be printable text")
        return value.strip()


class CdpOut(BaseModel):
    webSocketDebuggerUrl: str = Field(description="ws(s):// URL for connect_over_cdp / browserWSEndpoint.")
    expiresAt: Timestamp


class CdpConnection(BaseModel):
    id: str
    keyId: str
    keyName: str
    label: str
    connectedAt: Timestamp
    messages: int = Field(description="CDP messages the client has sent.")


class CdpConnectionsOut(BaseModel):
    connections: list[CdpConnection]


def _socket_url(request: HttpRequest, runtime: Runtime, token: str) -> str:
    # Behind a proxy the engine cannot see its public address: ENGINE_PUBLIC_URL names it.
    base = settings.PUBLIC_URL.rstrip("/") or request.build_absolute_uri("/").rstrip("/")
    scheme, rest = base.split("://", 1)
    return f"{'wss' if scheme == 'https' else 'ws'}://{rest}/cdp/{runtime.id}?token={quote(token, safe='')}"


async def _live_runtime(workspace_id: WorkspaceId, alias: str) -> Runtime:
    runtime = await get_runtime(await get_workspace(workspace_id), alias)
    session = manager.session(runtime.id)
    if runtime.status != Runtime.Status.ACTIVE or session is None or session.browser is None:
        raise not_active(runtime)
    return runtime


@router.post(
    "/{workspaceId}/runtimes/{alias}/cdp",
    auth=OPERATOR,
    response=CdpOut,
    operation_id="runtimes-cdp-create",
    summary="Mint a CDP connect URL for an active runtime (Playwright, Puppeteer)",
)
async def create_cdp_url(
    request: HttpRequest, workspace_id: WorkspaceId, alias: str, payload: CdpIn | None = None
) -> dict[str, Any]:
    options = payload or CdpIn()
    runtime = await _live_runtime(workspace_id, alias)
    api_key: ApiKey = request.auth  # type: ignore[attr-defined]
    token, expires_at = tokens.mint(
        runtime.id,
        key_id=str(api_key.id),
        key_name=api_key.name,
        label=options.label,
        raw_reads=api_key.scope == "admin",
        ttl_seconds=options.ttlSeconds,
    )
    return {"webSocketDebuggerUrl": _socket_url(request, runtime, token), "expiresAt": expires_at}


@router.get(
    "/{workspaceId}/runtimes/{alias}/cdp",
    auth=OPERATOR,
    response=CdpConnectionsOut,
    operation_id="runtimes-cdp-list",
    summary="The CDP clients connected to an active runtime now",
)
async def list_cdp_connections(request: HttpRequest, workspace_id: WorkspaceId, alias: str) -> dict[str, Any]:
    runtime = await _live_runtime(workspace_id, alias)
    session = manager.session(runtime.id)
    assert session is not None and session.browser is not None
    clients = session.browser.mux.guarded_clients()
    return {"connections": [c.public() for c in clients if "keyId" in c.info]}
