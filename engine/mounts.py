"""Workspace mounts: what AI credentials, vault keys and storage namespace a workspace may use.

A runtime or one agent call may narrow its workspace's mounts, never widen them. Vault `deny`
beats `allow`. Storage namespaces spring into being on first use.

Vault prefixes match whole key segments: `prod/crm/` (trailing slash) matches every key under
that folder; `prod/crm` (no slash) matches the key `prod/crm` itself and every key under
`prod/crm/`, but never `prod/crm-archive/...`. Plain string prefixes would let a mount for
`prod/crm` silently reach a sibling folder that merely shares its first letters.
"""

from typing import Any

from pydantic import BaseModel as Schema  # see engine/api/common.py: why not ninja's Schema
from pydantic import Field

from engine.errors import forbidden, invalid

# engine.models is imported inside the one function that queries: the pure rules below (narrow,
# vault_allowed...) stay usable without a configured engine database (tests/engine/test_mounts.py).

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
    """Mounts name AI credentials that must exist (400 otherwise).

    Also: a default must be one of the allowed credentials, and of the provider it is the
    default for (`{"openai": "claude-key"}` would send an Anthropic key to OpenAI).
    """
    from engine.models import AiCredential

    ai = mounts.get("ai") or {}
    named = set(ai.get("allow", [])) | set((ai.get("defaults") or {}).values())
    if not named:
        return
    providers = {
        cid: provider
        async for cid, provider in AiCredential.objects.filter(id__in=named).values_list("id", "provider")
    }
    missing = sorted(named - set(providers))
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
    mismatched = sorted(
        (provider, cid) for provider, cid in (ai.get("defaults") or {}).items() if providers[cid] != provider
    )
    if mismatched:
        raise invalid(
            "mounts.ai.defaults maps a provider to a credential of another provider.",
            [
                {
                    "path": f"mounts.ai.defaults.{provider}",
                    "message": f"'{cid}' is a {providers[cid]} credential, not {provider}.",
                }
                for provider, cid in mismatched
            ],
        )


def require_admin_for_raw_reads(mounts: dict[str, Any], scope: str) -> None:
    """`allowRawReads: true` hands vault passwords to whoever runs steps: only an admin may set it.

    Checked on every write that sends it (workspace create and update, runtime create), whether
    or not it changes: an operator resending it would otherwise keep what only an admin may grant.
    """
    if (mounts.get("vault") or {}).get("allowRawReads") and scope != "admin":
        raise forbidden(
            "mounts.vault.allowRawReads lets steps read vault passwords; only an admin key may set it. "
            "Leave it out (or false), or ask an admin."
        )


def narrow(workspace: dict[str, Any], requested: dict[str, Any] | None) -> dict[str, Any]:
    """The effective mounts of a runtime or agent call: `requested` within `workspace`.

    Parts the request leaves out (or sends as null) are inherited whole; a part it names
    replaces the workspace's part, within its bounds. Anything that would widen → 403
    auth.forbidden. The workspace's vault `deny` list always carries over.
    """
    effective = {name: part for name, part in workspace.items() if part is not None}
    if not requested:
        return effective
    if requested.get("ai") is not None:
        effective["ai"] = _narrow_ai(workspace.get("ai") or {}, requested["ai"])
    if requested.get("vault") is not None:
        effective["vault"] = _narrow_vault(workspace.get("vault") or {}, requested["vault"])
    if requested.get("storage") is not None:
        wanted = requested["storage"].get("workspace")
        current = (workspace.get("storage") or {}).get("workspace")
        if wanted and wanted != current:
            raise forbidden(
                f"The workspace does not allow storage namespace '{wanted}'"
                + (f"; its runtimes use '{current}'." if current else "; it has no storage mount.")
            )
    return effective


def follow(workspace: dict[str, Any], requested: dict[str, Any] | None) -> dict[str, Any]:
    """A running runtime's mounts after its workspace's changed: the workspace's new mounts, and
    within them the narrowing its launch asked for (`requested`), minus what the workspace no
    longer allows. Never raises: what a launch may no longer use is dropped, not kept.

    So a workspace is the ceiling of its runtimes at every moment: a prefix it adds reaches the
    runtimes that did not narrow their vault mount, and one it removes leaves every runtime at once.
    """
    effective = {name: part for name, part in workspace.items() if part is not None}
    requested = requested or {}
    if requested.get("ai") is not None:
        allowed = set((workspace.get("ai") or {}).get("allow") or [])
        kept = [cid for cid in requested["ai"].get("allow") or [] if cid in allowed]
        defaults = {
            **((workspace.get("ai") or {}).get("defaults") or {}),
            **(requested["ai"].get("defaults") or {}),
        }
        effective["ai"] = {"allow": kept, "defaults": {p: c for p, c in defaults.items() if c in kept}}
    if requested.get("vault") is not None:
        vault = workspace.get("vault") or {}
        kept = [
            prefix
            for prefix in requested["vault"].get("allow") or []
            if any(key_matches(allowed, prefix) for allowed in vault.get("allow") or [])
            and not vault_denied(vault, prefix)
        ]
        effective["vault"] = {
            "allow": kept,
            "deny": sorted(set(vault.get("deny") or []) | set(requested["vault"].get("deny") or [])),
            "allowRawReads": bool(requested["vault"].get("allowRawReads") and vault.get("allowRawReads")),
        }
    return effective


def vault_refusal(
    key: str, workspace: dict[str, Any], requested: dict[str, Any] | None, used: dict[str, Any]
) -> str:
    """Why a step may not use vault entry `key`, and what to change: the workspace's mounts, the
    runtime's launch (its narrowing), or the call's own mounts (`used`, an agent call's)."""
    if not vault_allowed(workspace, key):
        why = (
            "names it in mounts.vault.deny"
            if vault_denied(workspace.get("vault") or {}, key)
            else ("does not allow it")
        )
        return (
            f"The workspace's vault mount {why} ('{key}'): change the workspace's mounts.vault "
            "(running runtimes follow the change at once)."
        )
    narrowed = (requested or {}).get("vault")
    if narrowed is not None and not vault_allowed({"vault": narrowed}, key):
        allow = ", ".join(narrowed.get("allow") or []) or "nothing"
        return (
            f"The workspace allows '{key}', but this runtime's launch narrowed its vault mount to {allow}: "
            "relaunch the runtime with its prefix in mounts.vault.allow (or without a vault narrowing)."
        )
    if not vault_allowed(used, key):
        return f"The workspace and the runtime allow '{key}', but this call's own mounts leave it out."
    return f"The vault mount does not allow '{key}'."


def _narrow_ai(workspace_ai: dict[str, Any], requested_ai: dict[str, Any]) -> dict[str, Any]:
    allowed = list(workspace_ai.get("allow") or [])
    wanted = list(requested_ai.get("allow") or [])
    wanted_defaults = dict(requested_ai.get("defaults") or {})
    extra = sorted((set(wanted) | set(wanted_defaults.values())) - set(allowed))
    if extra:
        raise forbidden(f"The workspace does not allow AI credential(s): {', '.join(extra)}.")
    # A default named by the narrowing must also be one it keeps: a default you may not use is
    # a promise the runtime cannot keep.
    dropped = sorted(cid for cid in wanted_defaults.values() if cid not in wanted)
    if dropped:
        raise forbidden(
            f"mounts.ai.defaults names {', '.join(dropped)}, which this narrowing's mounts.ai.allow leaves out."
        )
    defaults = {**(workspace_ai.get("defaults") or {}), **wanted_defaults}
    return {"allow": wanted, "defaults": {p: c for p, c in defaults.items() if c in wanted}}


def _narrow_vault(workspace_vault: dict[str, Any], requested_vault: dict[str, Any]) -> dict[str, Any]:
    for prefix in requested_vault.get("allow") or []:
        covered = any(key_matches(allowed, prefix) for allowed in workspace_vault.get("allow") or [])
        if not covered or vault_denied(workspace_vault, prefix):
            raise forbidden(f"The workspace does not allow vault prefix '{prefix}'.")
    if requested_vault.get("allowRawReads") and not workspace_vault.get("allowRawReads"):
        raise forbidden("The workspace does not allow raw vault reads (mounts.vault.allowRawReads).")
    return {
        "allow": list(requested_vault.get("allow") or []),
        "deny": sorted(set(workspace_vault.get("deny") or []) | set(requested_vault.get("deny") or [])),
        "allowRawReads": bool(requested_vault.get("allowRawReads")),
    }


def key_matches(prefix: str, key: str) -> bool:
    """Whether a vault mount prefix covers `key` (whole segments; see the module docstring).

    `key` may itself be a prefix ("prod/crm/"): then it answers whether every key it covers is
    covered by `prefix`, which is what narrowing needs.
    """
    if not prefix:
        return False
    if prefix.endswith("/"):
        return key.startswith(prefix)
    return key == prefix or key.startswith(prefix + "/")


def vault_denied(vault: dict[str, Any], key: str) -> bool:
    return any(key_matches(prefix, key) for prefix in vault.get("deny") or [])


def vault_allowed(mounts: dict[str, Any], key: str) -> bool:
    """Deny beats allow; without a vault mount nothing is allowed."""
    vault = mounts.get("vault") or {}
    return any(key_matches(p, key) for p in vault.get("allow") or []) and not vault_denied(vault, key)


def storage_namespace(mounts: dict[str, Any], workspace_id: Any) -> str:
    """Where a workspace's artifacts land: the storage mount, else a namespace of its own."""
    return ((mounts.get("storage") or {}).get("workspace")) or f"workspace-{workspace_id}"
