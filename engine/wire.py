"""How each row looks on the wire: the one place a table row becomes the contract's JSON shape.

One function per resource, named after it (`wire.runtime(row)`), returning the camelCase body
with Python values (UUIDs, datetimes). The API's response schemas check and dump those bodies;
anything else that sends a resource (a step result, an event, an SSE frame) passes the body
through `jsonable`, which writes ids and timestamps exactly as the schemas do. So a field is
named, derived and hidden in one place only: add it here and every caller shows it.
"""

from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from engine.models import (
    AiCredential,
    ApiKey,
    Artifact,
    BrowserExtension,
    BrowserProfile,
    Operation,
    OperationTraceEntry,
    Runtime,
    RuntimeEvent,
    StorageObject,
    Update,
    VaultEntry,
    Workspace,
)
from engine.mounts import storage_namespace


def iso(value: datetime) -> str:
    """The contract's timestamp form: ISO-8601 UTC with milliseconds and a Z."""
    return value.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def jsonable(value: Any) -> Any:
    """A body from this module with ids and timestamps as the API writes them (strings)."""
    if isinstance(value, datetime):
        return iso(value)
    if isinstance(value, UUID):
        return str(value)
    if isinstance(value, dict):
        return {key: jsonable(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(item) for item in value]
    return value


def api_key(row: ApiKey) -> dict[str, Any]:
    return {
        "id": row.id,
        "name": row.name,
        "scopes": [row.scope],
        "team": row.team,
        "createdAt": row.created_at,
        "lastUsedAt": row.last_used_at,
        "revokedAt": row.revoked_at,
    }


def workspace(row: Workspace, runtime_count: int, active_count: int) -> dict[str, Any]:
    return {
        "id": row.id,
        "name": row.name,
        "mounts": row.mounts,
        "runtimeCount": runtime_count,
        "activeRuntimeCount": active_count,
        "createdAt": row.created_at,
        "updatedAt": row.updated_at,
    }


def runtime(row: Runtime, with_bindings: bool = False) -> dict[str, Any]:
    active = row.status == Runtime.Status.ACTIVE
    body: dict[str, Any] = {
        "id": row.id,
        "alias": row.alias,
        "workspaceId": row.workspace_id,
        "kind": row.kind,
        "driver": row.driver,
        "status": row.status,
        "summary": {
            "browserRunning": active,
            "currentDriver": row.driver,
            "defaultContextId": row.default_context_id or None,
            "defaultPageId": row.default_page_id or None,
            "launchMode": row.launch_mode,
            "profileId": row.profile_id,
            "storageWorkspace": storage_namespace(row.mounts, row.workspace_id),
        },
        "config": row.config,
        "mounts": row.mounts,
        "metadata": row.metadata,
        "createdAt": row.created_at,
        "startedAt": row.started_at,
        "stoppedAt": row.stopped_at,
        "failure": ({"code": row.failure_code, "message": row.failure_message} if row.failure_code else None),
        "stopReason": row.stop_reason or None,
    }
    if with_bindings:
        # A binding names a live page or context: an ended runtime has none.
        body["bindings"] = row.bindings if active else []
    return body


def operation(row: Operation) -> dict[str, Any]:
    return {
        "id": row.id,
        "workspaceId": row.workspace_id,
        "runtime": row.runtime_alias or None,
        "call": row.call,
        "status": row.status,
        "progress": row.progress or {},
        "result": row.result,
        "error": row.error,
        "createdAt": row.created_at,
        "startedAt": row.started_at,
        "finishedAt": row.finished_at,
    }


def trace_entry(row: OperationTraceEntry) -> dict[str, Any]:
    """One model request of an agent operation (GET /v1/operations/{operationId}/trace)."""
    return {
        "sequence": row.sequence,
        "step": row.step,
        "provider": row.provider,
        "model": row.model,
        "request": {"system": row.system, "prompt": row.prompt, "tools": row.tools},
        "response": row.response,
        "outcome": row.outcome,
        "error": row.error,
        "usage": row.usage or {},
        "durationMs": row.duration_ms,
        "createdAt": row.created_at,
    }


def event(row: RuntimeEvent, alias: str, kind: str = "browser") -> dict[str, Any]:
    return {
        "id": row.id,
        "eventType": row.event_type,
        "eventData": row.event_data,
        "createdAt": row.created_at,
        "runtime": alias,
        "runtimeKind": kind,
        "workspaceId": row.workspace_id,
        "operationId": row.operation_id,
        "sequence": row.sequence,
    }


def artifact(row: Artifact) -> dict[str, Any]:
    return {
        "id": row.id,
        "workspaceId": row.workspace_id,
        "runtime": row.runtime_alias or None,
        "operationId": row.operation_id,
        "kind": row.kind,
        "name": row.name,
        "contentType": row.content_type,
        "sizeBytes": row.size_bytes,
        "storage": {"namespace": row.storage_namespace, "path": row.storage_path},
        "createdAt": row.created_at,
    }


def storage_object(row: StorageObject) -> dict[str, Any]:
    return {
        "namespace": row.namespace,
        "path": row.path,
        "sizeBytes": row.size_bytes,
        "contentType": row.content_type,
        "sha256": row.sha256,
        "source": row.source,
        "runtimeId": row.runtime_id,
        "createdAt": row.created_at,
    }


def profile(row: BrowserProfile, size_bytes: int, holder: Runtime | None) -> dict[str, Any]:
    """`holder` is the active runtime using the profile, if any; the proxy password never shows."""
    config = dict(row.config or {})
    proxy = config.get("proxy")
    config["proxy"] = (
        {
            "server": proxy["server"],
            "username": proxy.get("username"),
            "hasPassword": bool(proxy.get("passwordCiphertext")),
        }
        if proxy
        else None
    )
    config["extensionIds"] = row.extension_ids
    return {
        "id": row.id,
        "name": row.name,
        "description": row.description,
        "config": config,
        "extensionIds": row.extension_ids,
        "sizeBytes": size_bytes,
        "lastUsedAt": row.last_used_at,
        "inUse": {"workspaceId": holder.workspace_id, "runtime": holder.alias} if holder else None,
        "createdAt": row.created_at,
        "updatedAt": row.updated_at,
    }


def extension(row: BrowserExtension, profile_count: int) -> dict[str, Any]:
    return {
        "id": row.id,
        "name": row.name,
        "version": row.version,
        "format": row.format,
        "manifestVersion": row.manifest_version,
        "permissions": row.permissions,
        "contentHash": row.content_hash,
        "sizeBytes": row.size_bytes,
        "enabled": row.enabled,
        "profileCount": profile_count,
        "createdAt": row.created_at,
        "updatedAt": row.updated_at,
    }


def vault_entry(row: VaultEntry) -> dict[str, Any]:
    """Never the password or the TOTP seed: only whether there is one."""
    return {
        "key": row.key,
        "label": row.label,
        "username": row.username,
        "hasPassword": row.password_ciphertext is not None,
        "hasTotp": row.totp_ciphertext is not None,
        "origins": row.origins,
        "originPatterns": row.origin_patterns,
        "notes": row.notes,
        "createdAt": row.created_at,
        "updatedAt": row.updated_at,
    }


def ai_credential(row: AiCredential) -> dict[str, Any]:
    """Never the key."""
    return {
        "id": row.id,
        "provider": row.provider,
        "label": row.label,
        "enabled": row.enabled,
        "baseUrl": row.base_url or None,
        "defaultModel": row.default_model or None,
        "createdAt": row.created_at,
        "updatedAt": row.updated_at,
    }


def update(row: Update) -> dict[str, Any]:
    return {
        "id": row.id,
        "type": row.type,
        "createdAt": row.created_at,
        "workspaceId": str(row.workspace_id) if row.workspace_id else None,
        "data": row.data,
    }
