"""Artifacts: runtime outputs (downloads, screenshots, PDFs, exports) kept as storage objects.

`create_artifact` is the one entry point the runtime manager and the output steps call.
"""

import re
import uuid
from collections.abc import AsyncIterable
from typing import TYPE_CHECKING
from uuid import UUID

from engine.models import Artifact
from engine.mounts import storage_namespace
from engine.storage.objects import put_object, save_object
from engine.updates import record_update

if TYPE_CHECKING:
    from engine.models import Runtime

KINDS = ("download", "screenshot", "pdf", "export")
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def safe_file_name(name: str, fallback: str = "artifact") -> str:
    """A name usable as one storage path segment: no '/', no '..', no control characters."""
    cleaned = _UNSAFE.sub("_", name.strip()).strip("._") or fallback
    return cleaned[:150]


async def create_artifact(
    *,
    runtime: "Runtime",
    kind: str,
    name: str,
    content_type: str,
    content: bytes | AsyncIterable[bytes],
    workspace_id: UUID | str | None = None,
    operation_id: UUID | str | None = None,
) -> Artifact:
    """Store `content` (bytes, or chunks streamed as they come) as an artifact of `runtime`.

    The bytes become a storage object in the runtime's storage namespace
    (`engine.mounts.storage_namespace(runtime.mounts, workspace_id)`) at
    `artifacts/<runtime alias>/<artifact id>-<safe name>`, with `source` = `kind` and
    `runtimeId` = the runtime's id; then the Artifact row is written and an `artifact.created`
    update recorded. `kind` is one of download | screenshot | pdf | export (ValueError otherwise).
    `name` is kept as given on the Artifact (what the user downloaded or asked for) and made
    safe for the storage path. Raises ApiError(413 storage.too_large) over STORAGE_MAX_BYTES.

    `workspace_id` defaults to `runtime.workspace_id`. The result is the model row:
    `wire.jsonable(wire.artifact(row))` is what a step result or an event carries.
    """
    if workspace_id is None:
        workspace_id = runtime.workspace_id
    if kind not in KINDS:
        raise ValueError(f"artifact kind must be one of {KINDS}, not {kind!r}")
    artifact_id = uuid.uuid4()
    namespace = storage_namespace(runtime.mounts or {}, workspace_id)
    path = f"artifacts/{runtime.alias}/{artifact_id}-{safe_file_name(name)}"
    content_type = content_type or "application/octet-stream"
    if isinstance(content, bytes):
        stored = await put_object(namespace, path, content, content_type, source=kind, runtime_id=runtime.id)
    else:
        stored, _ = await save_object(
            namespace, path, content, content_type, source=kind, runtime_id=runtime.id
        )
    artifact = await Artifact.objects.acreate(
        id=artifact_id,
        workspace_id=workspace_id,
        runtime_alias=runtime.alias,
        runtime_id=runtime.id,
        operation_id=operation_id,
        kind=kind,
        # Only the file name: a download's suggested name must not carry a directory.
        name=(name.replace("\\", "/").rsplit("/", 1)[-1].strip() or safe_file_name(name))[:255],
        content_type=stored.content_type,
        size_bytes=stored.size_bytes,
        storage_namespace=namespace,
        storage_path=path,
    )
    await _announce(artifact, runtime, workspace_id)
    return artifact


async def _announce(artifact: Artifact, runtime: "Runtime", workspace_id: UUID | str) -> None:
    """The organisation's updates stream says an artifact was made (its name and size, no bytes)."""
    data = {
        "id": str(artifact.id),
        "kind": artifact.kind,
        "name": artifact.name,
        "runtime": runtime.alias,
        "runtimeId": str(runtime.id),
        "sizeBytes": artifact.size_bytes,
    }
    await record_update("artifact.created", data, workspace_id)
