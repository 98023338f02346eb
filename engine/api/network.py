"""A run's kept response bodies, by run id (what the inspector's request drawer shows).

The bytes are the page's, from any site it visited: they are served as an attachment that no
browser renders or runs (`Content-Security-Policy: sandbox`, `nosniff`), with the content type
the response had.

A body kept after a vault secret was typed into the run (`bodyWithheld: "vault"` on its
`network.finished`, engine/runtimes/network.py) is served only to callers with raw-read rights
(an admin key, or the run's vault mount `allowRawReads`: engine/runtimes/seal.py); anyone else is
answered 403 `vault.sealed`. Served, it carries `X-BCTRL-Body-Withheld: vault`, so a client that
shows it to others (the console's request drawer) can apply the same rule to its own users.
"""

from typing import Annotated
from uuid import UUID

from asgiref.sync import sync_to_async
from django.conf import settings
from django.http import HttpRequest, HttpResponse
from ninja import Path, Router

from engine.api.auth import READ
from engine.api.common import RuntimeId
from engine.api.runtimes import get_run
from engine.errors import ApiError
from engine.runtimes import network, seal

router = Router(tags=["network"])

RequestId = Annotated[str, Path(alias="requestId", description="A `requestId` of the run's network events.")]


@router.get(
    "/{runtimeId}/network/{requestId}/body",
    operation_id="runs-network-body",
    auth=READ,
    summary="The kept body of one response of a run (text types, up to ENGINE_NETWORK_BODY_MAX_BYTES)",
    response={200: None},
    openapi_extra={
        "responses": {
            "200": {
                "description": "The body's bytes (cut at the limit when `network.finished` says "
                "`bodyTruncated`), with the response's own Content-Type.",
                "content": {"*/*": {"schema": {"type": "string", "format": "binary"}}},
            }
        }
    },
)
async def body(request: HttpRequest, runtime_id: RuntimeId, request_id: RequestId) -> HttpResponse:
    runtime = await get_run(runtime_id)
    kept = await sync_to_async(_read, thread_sensitive=False)(runtime.id, request_id)
    if kept is None:
        raise ApiError(
            404,
            "network.body_not_kept",
            f"No body is kept for request '{request_id[:40]}' of runtime {runtime.id}: only text responses "
            f"(HTML, CSS, JavaScript, JSON, XML, SVG) up to {settings.NETWORK_BODY_MAX_BYTES} bytes are kept "
            f"(ENGINE_NETWORK_BODY_MAX_BYTES), for ENGINE_NETWORK_RETENTION_SECONDS after the run ended; "
            "`network.finished` says `bodyKept` per request.",
            {"requestId": request_id[:40]},
        )
    content_type, content, withheld = kept
    if withheld and not seal.raw_reads(request.auth.scope == "admin", runtime.mounts):  # type: ignore[attr-defined]
        raise ApiError(
            403,
            "vault.sealed",
            f"The body of request '{request_id[:40]}' is withheld: a vault secret was typed into runtime "
            f"{runtime.id} before it arrived, and a site may echo what was typed. It is served only with "
            "raw-read rights (an admin key, or allowRawReads in the runtime's vault mount); the request's "
            "URL, status, headers and timings stay in its events.",
            {"requestId": request_id[:40], "bodyWithheld": withheld},
        )
    response = HttpResponse(content, content_type=content_type)
    if withheld:
        response["X-BCTRL-Body-Withheld"] = withheld
    response["Content-Disposition"] = f'attachment; filename="{request_id}.body"'
    response["Content-Security-Policy"] = "sandbox; default-src 'none'"
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "private, no-store"
    return response


def _read(runtime_id: UUID, request_id: str) -> tuple[str, bytes, str | None] | None:
    found = network.read_body(runtime_id, request_id)
    if found is None:
        return None
    with open(found.path, "rb") as file:
        file.seek(found.offset)
        return found.content_type, file.read(), found.withheld
