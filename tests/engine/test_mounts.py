"""Mount narrowing rules (pure functions): narrow never widens, deny beats allow.

These run in the test process, whose Django settings are the console's: the rules and the
domain errors they raise import nothing that needs the engine's settings or database.
"""

import pytest

from engine.errors import ApiError
from engine.mounts import follow, key_matches, narrow, storage_namespace, vault_allowed, vault_refusal

WORKSPACE = {
    "ai": {"allow": ["openai-prod", "claude"], "defaults": {"openai": "openai-prod", "anthropic": "claude"}},
    "vault": {"allow": ["prod/crm/"], "deny": ["prod/crm/admin/"], "allowRawReads": False},
    "storage": {"workspace": "shared-exports"},
}


def forbidden(requested: dict) -> str:
    with pytest.raises(ApiError) as caught:
        narrow(WORKSPACE, requested)
    assert caught.value.status == 403 and caught.value.code == "auth.forbidden"
    return caught.value.message


def test_it_inherits_everything_without_a_narrowing() -> None:
    assert narrow(WORKSPACE, None) == WORKSPACE
    assert narrow(WORKSPACE, {}) == WORKSPACE


def test_it_narrows_ai_and_keeps_only_usable_defaults() -> None:
    effective = narrow(WORKSPACE, {"ai": {"allow": ["claude"]}})
    assert effective["ai"] == {"allow": ["claude"], "defaults": {"anthropic": "claude"}}
    assert effective["vault"] == WORKSPACE["vault"]


def test_it_refuses_an_ai_credential_the_workspace_does_not_allow() -> None:
    assert "other" in forbidden({"ai": {"allow": ["other"]}})


def test_it_refuses_a_default_the_narrowing_leaves_out() -> None:
    forbidden({"ai": {"allow": ["claude"], "defaults": {"openai": "openai-prod"}}})


def test_it_narrows_vault_to_a_sub_prefix_and_keeps_the_deny_list() -> None:
    effective = narrow(WORKSPACE, {"vault": {"allow": ["prod/crm/sales/"], "deny": ["prod/crm/sales/old/"]}})
    assert effective["vault"]["allow"] == ["prod/crm/sales/"]
    assert effective["vault"]["deny"] == ["prod/crm/admin/", "prod/crm/sales/old/"]
    assert vault_allowed(effective, "prod/crm/sales/bob")
    assert not vault_allowed(effective, "prod/crm/sales/old/bob")
    assert not vault_allowed(effective, "prod/crm/other")


def test_it_refuses_widening_the_vault() -> None:
    forbidden({"vault": {"allow": ["prod/"]}})
    forbidden({"vault": {"allow": ["prod/crm/admin/"]}})  # denied by the workspace
    forbidden({"vault": {"allow": ["prod/crm/"], "allowRawReads": True}})


def test_deny_beats_allow() -> None:
    assert vault_allowed(WORKSPACE, "prod/crm/sales")
    assert not vault_allowed(WORKSPACE, "prod/crm/admin/root")
    assert not vault_allowed({}, "prod/crm/sales")


def test_prefixes_match_whole_segments() -> None:
    assert key_matches("prod/crm", "prod/crm")
    assert key_matches("prod/crm", "prod/crm/a")
    assert not key_matches("prod/crm", "prod/crm-archive/a")
    assert key_matches("prod/crm/", "prod/crm/a")
    assert not key_matches("prod/crm/", "prod/crm")
    assert not key_matches("", "anything")
    assert not vault_allowed({"vault": {"allow": ["prod/crm"]}}, "prod/crm-archive/a")


def test_it_refuses_another_storage_namespace() -> None:
    assert narrow(WORKSPACE, {"storage": {"workspace": "shared-exports"}})["storage"] == WORKSPACE["storage"]
    assert "elsewhere" in forbidden({"storage": {"workspace": "elsewhere"}})


def test_storage_namespace_defaults_to_the_workspace() -> None:
    assert storage_namespace(WORKSPACE, "w1") == "shared-exports"
    assert storage_namespace({}, "w1") == "workspace-w1"


def test_a_running_runtime_follows_its_workspace_within_its_launch() -> None:
    widened = {
        **WORKSPACE,
        "vault": {"allow": ["prod/crm/", "prod/erp/"], "deny": [], "allowRawReads": False},
    }
    # launched without a vault narrowing: it takes the workspace's new prefixes
    assert follow(widened, {})["vault"]["allow"] == ["prod/crm/", "prod/erp/"]
    # launched narrowed to prod/crm/sales/: it keeps that, and only that, while the workspace covers it
    narrowed = {"vault": {"allow": ["prod/crm/sales/"]}}
    assert follow(widened, narrowed)["vault"]["allow"] == ["prod/crm/sales/"]
    # the workspace stops allowing it: the runtime loses it at once (never an error, never kept)
    assert follow({"vault": {"allow": ["prod/erp/"]}}, narrowed)["vault"]["allow"] == []


def test_a_vault_refusal_says_which_to_change() -> None:
    workspace = {"vault": {"allow": ["prod/crm/"], "deny": ["prod/crm/admin/"]}}
    assert "workspace's mounts.vault" in vault_refusal("prod/erp/login", workspace, {}, workspace)
    assert "mounts.vault.deny" in vault_refusal("prod/crm/admin/root", workspace, {}, workspace)
    narrowed = {"vault": {"allow": ["prod/crm/sales/"]}}
    used = follow(workspace, narrowed)
    message = vault_refusal("prod/crm/support/login", workspace, narrowed, used)
    assert "this runtime's launch narrowed" in message and "relaunch" in message
