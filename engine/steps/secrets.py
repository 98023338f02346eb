"""Execute calls on vault entries: fill a login form, read raw secrets, get a TOTP code.

`vault.fill` types the secrets into the page and returns only which fields it filled, so a
caller (or an agent) can log in without the secret ever being in a step result, an event or a
log. The entry must be allowed by the runtime's vault mount, must name its origins, and the page
must be an http(s) page on one of them: a phishing page cannot ask for the CRM password.
"""

import time
from typing import Any

from asgiref.sync import sync_to_async
from playwright.async_api import Error as PlaywrightError
from playwright.async_api import TimeoutError as PlaywrightTimeoutError

from engine.models import VaultEntry
from engine.mounts import vault_allowed, vault_refusal
from engine.steps.registry import Arg, StepContext, StepError, step
from engine.vault import entries


async def _entry(ctx: StepContext, key: str) -> VaultEntry:
    if len(key) > entries.MAX_KEY_LENGTH or not entries.KEY_PATTERN.match(key):
        raise StepError("vault.invalid_key", f"'{key[:80]}' is not a vault key.")
    if not vault_allowed(ctx.mounts or {}, key):
        # says which to change: the workspace's mounts, the runtime's launch, or the call's own
        why = vault_refusal(key, ctx.workspace.mounts or {}, ctx.runtime.requested_mounts, ctx.mounts or {})
        raise StepError("vault.forbidden", why)
    entry = await VaultEntry.objects.filter(key=key).afirst()
    if entry is None:
        raise StepError("vault.not_found", f"No vault entry '{key}'.")
    return entry


def _redacted(message: str, secrets: list[str]) -> str:
    for secret in secrets:
        if secret:
            message = message.replace(secret, "[secret]")
    return message


@step(
    "vault.fill",
    args=[
        Arg("key", "string", description="The vault entry's key."),
        Arg("selectors", "object", description="{usernameSelector, passwordSelector, totpSelector?}"),
    ],
    result="{filled: [username|password|totp]}",
    description="Type a vault entry into the page's login form without returning it.",
)
async def fill(ctx: StepContext, key: str, selectors: dict[str, Any]) -> dict[str, Any]:
    wanted = {
        "username": selectors.get("usernameSelector"),
        "password": selectors.get("passwordSelector"),
        "totp": selectors.get("totpSelector"),
    }
    if not any(wanted.values()) or any(v is not None and not isinstance(v, str) for v in wanted.values()):
        raise StepError(
            "step.invalid_args",
            "selectors must be {usernameSelector?, passwordSelector?, totpSelector?} with at least one string.",
        )
    entry = await _entry(ctx, key)
    page = ctx.page
    if not entry.origins and not entry.origin_patterns:
        raise StepError(
            "vault.origin_required",
            f"The vault entry '{key}' names no origins, so vault.fill cannot tell a real login page from a "
            "phishing one; give it origins or originPatterns (PUT /v1/vault/{key}) first.",
        )
    if not entries.origin_allowed(entry, page.url):
        raise StepError(
            "vault.origin_mismatch",
            f"The vault entry '{key}' may only be filled on its origins; this page is not one of them.",
        )
    secrets = await sync_to_async(entries.secrets_of)(entry)
    values: dict[str, str | None] = {"username": entry.username, "password": secrets["password"]}
    if wanted["totp"]:
        values["totp"] = entries.totp_code(entry)["code"]
    filled = []
    # the fields share the step's time: a missing one ends the step with its own selector named
    deadline = time.monotonic() + ctx.timeout_ms / 1000
    try:
        for field, selector in wanted.items():
            if not selector:
                continue
            value = values.get(field)
            if value is None:
                raise StepError("vault.incomplete_entry", f"The vault entry '{key}' has no {field} to fill.")
            await page.fill(selector, value, timeout=max(1.0, (deadline - time.monotonic()) * 1000))
            filled.append(field)
    except PlaywrightTimeoutError as exc:
        raise StepError(
            "step.timeout",
            f"vault.fill could not fill the {field} field: nothing fillable matched {selector!r} within "
            f"{ctx.timeout_ms:g} ms (the step's timeout).",
        ) from exc
    except PlaywrightError as exc:
        # Playwright's message may quote what it typed: say what failed, never the value.
        first_line = (exc.message or "").strip().splitlines()[0:1]
        message = _redacted(first_line[0] if first_line else "", [v or "" for v in values.values()])
        raise StepError(
            "step.failed", f"vault.fill could not fill the {field} field: {message[:300]}"
        ) from exc
    return {"filled": filled}


@step(
    "vault.read",
    args=[Arg("key", "string")],
    result="{username, password, totp: {code, expiresInSeconds} | null}",
    ref=None,
    description="Read a vault entry's secrets (only when the vault mount has allowRawReads).",
)
async def read(ctx: StepContext, key: str) -> dict[str, Any]:
    if not (ctx.mounts or {}).get("vault", {}).get("allowRawReads"):
        raise StepError(
            "vault.raw_read_denied",
            "Raw vault reads are off for this runtime (mounts.vault.allowRawReads); use vault.fill instead.",
        )
    entry = await _entry(ctx, key)
    secrets = await sync_to_async(entries.secrets_of)(entry)
    return {
        "username": entry.username,
        "password": secrets["password"],
        "totp": entries.totp_code(entry) if entry.totp_ciphertext is not None else None,
    }


@step(
    "vault.totp",
    args=[Arg("key", "string")],
    result="{code, expiresInSeconds}",
    ref=None,
    description="The current TOTP code of a vault entry.",
)
async def totp(ctx: StepContext, key: str) -> dict[str, Any]:
    entry = await _entry(ctx, key)
    return entries.totp_code(entry)
