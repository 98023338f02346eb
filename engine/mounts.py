"""Workspace mounts: what AI credentials, vault keys and storage namespace a workspace may use.

A runtime or one agent call may narrow its workspace's mounts, never widen them. Vault `deny`
beats `allow`. Storage namespaces spring into being on first use.
"""

from typing import Any

from ninja import Schema
from pydantic import Field

from engine.api.errors import ApiError, invalid
from engine.models import AiCredential

NAMESPACE_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$"


class AiMount(Schema):
    allow: list[str] = Field(default_factory=list, max_length=100)
    defaults: dict[str, str] = Field(default_factory=dict)


class VaultMount(Schema):
    allow: list[str] = Field(default_factory=list, max_length=100)
    deny: list[str] = Field(default_factory=list, max_length=100)
    allowRawReads: bool = False


class StorageMount(Schema):
    workspace: str | None = Field(default=None, pattern=NAMESPACE_PATTERN)


class Mounts(Schema):
    ai: AiMount | None = None
    vault: VaultMount | None = None
    storage: StorageMount | None = None


def dump(mounts: Mounts | None) -> dict[str, Any]:
    return mounts.model_dump(exclude_none=True) if mounts else {}


async def validate_credentials_exist(mounts: dict[str, Any]) -> None:
    """Mounts name AI credentials that must exist (400 otherwise)."""
    ai = mounts.get("ai") or {}
    named = set(ai.get("allow", [])) | set((ai.get("defaults") or {}).values())
    if not named:
        return
    existing = {cid async for cid in AiCredential.objects.filter(id__in=named).values_list("id", flat=True)}
    missing = sorted(named - existing)
    if missing:
        raise invalid(
            f"Unknown AI credential(s) in mounts: {', '.join(missing)}.",
            [{"path": "mounts.ai", "message": f"No AI credential '{m}'."} for m in missing],
        )
    not_allowed = sorted(set((ai.get("defaults") or {}).values()) - set(ai.get("allow", [])))
    if not_allowed:
        raise invalid(
            "mounts.ai.defaults names credentials that mounts.ai.allow does not list.",
            [{"path": "mounts.ai.defaults", "message": f"'{m}' is not allowed."} for m in not_allowed],
        )


def _forbidden(message: str) -> ApiError:
    return ApiError(403, "auth.forbidden", message)


def narrow(workspace: dict[str, Any], requested: dict[str, Any] | None) -> dict[str, Any]:
    """The effective mounts of a runtime or agent call: `requested` within `workspace`.

    Parts the request leaves out are inherited whole. Anything that would widen → 403.
    """
    if not requested:
        return dict(workspace)
    effective = dict(workspace)
    if "ai" in requested:
        ws_ai = workspace.get("ai") or {"allow": [], "defaults": {}}
        req_ai = requested["ai"]
        extra = sorted(set(req_ai.get("allow", [])) - set(ws_ai.get("allow", [])))
        if extra:
            raise _forbidden(f"The workspace does not allow AI credential(s): {', '.join(extra)}.")
        defaults = {**ws_ai.get("defaults", {}), **req_ai.get("defaults", {})}
        defaults = {p: c for p, c in defaults.items() if c in req_ai.get("allow", [])}
        effective["ai"] = {"allow": req_ai.get("allow", []), "defaults": defaults}
    if "vault" in requested:
        ws_vault = workspace.get("vault") or {"allow": [], "deny": [], "allowRawReads": False}
        req_vault = requested["vault"]
        for prefix in req_vault.get("allow", []):
            if not any(prefix.startswith(p) for p in ws_vault.get("allow", [])) or vault_denied(
                ws_vault, prefix
            ):
                raise _forbidden(f"The workspace does not allow vault prefix '{prefix}'.")
        if req_vault.get("allowRawReads") and not ws_vault.get("allowRawReads"):
            raise _forbidden("The workspace does not allow raw vault reads.")
        effective["vault"] = {
            "allow": req_vault.get("allow", []),
            "deny": sorted(set(ws_vault.get("deny", [])) | set(req_vault.get("deny", []))),
            "allowRawReads": bool(req_vault.get("allowRawReads")),
        }
    if "storage" in requested:
        wanted = (requested["storage"] or {}).get("workspace")
        current = (workspace.get("storage") or {}).get("workspace")
        if wanted and wanted != current:
            raise _forbidden(f"The workspace does not allow storage namespace '{wanted}'.")
    return effective


def vault_denied(vault: dict[str, Any], key: str) -> bool:
    return any(key.startswith(prefix) for prefix in vault.get("deny", []))


def vault_allowed(mounts: dict[str, Any], key: str) -> bool:
    """Deny beats allow; without a vault mount nothing is allowed."""
    vault = mounts.get("vault") or {}
    return any(key.startswith(p) for p in vault.get("allow", [])) and not vault_denied(vault, key)


def storage_namespace(mounts: dict[str, Any], workspace_id: Any) -> str:
    """Where a workspace's artifacts land: the storage mount, else a namespace of its own."""
    return ((mounts.get("storage") or {}).get("workspace")) or f"workspace-{workspace_id}"
