"""Execute calls on vault entries: fill a login form, read raw secrets, get a TOTP code.

`vault.fill` types the secrets into the page and returns only which fields it filled, so a
caller (or an agent) can log in without the secret ever being in a step result, an event or a
log. The entry must be allowed by the runtime's vault mount, must name its origins, and the page
must be an http(s) page on one of them: a phishing page cannot ask for the CRM password.

Without raw-read rights (an admin key, or `allowRawReads` in the vault mount) a filled secret
cannot come back either (engine/runtimes/seal.py): the fill is refused while the runtime shows a
document the caller scripted (`vault.document_tainted`), and the document it fills is sealed
until it is replaced (reads are `vault.sealed`). The password goes only into a password input
(the page, the live view and recordings show it masked, and a GET form cannot carry it into a
URL); the one-time code only into an input. `vault.totp` gives the code itself only to raw
readers; everyone else names the input it goes into.
"""

import time
from typing import Any

from asgiref.sync import sync_to_async
from playwright.async_api import Error as PlaywrightError
from playwright.async_api import Page
from playwright.async_api import TimeoutError as PlaywrightTimeoutError

from engine.models import VaultEntry
from engine.mounts import vault_allowed, vault_refusal
from engine.runtimes.seal import SECRET_ATTRIBUTE
from engine.steps.registry import Arg, StepContext, StepError, step
from engine.vault import entries

# Checks the element a secret is about to be typed into, and marks it (agent snapshots show a
# marked field as filled, never its value); '' when it may take the secret, else what it is.
_CHECK_AND_MARK = """(el, [attribute, field]) => {
  const input = el instanceof HTMLInputElement;
  const type = input ? (el.type || 'text').toLowerCase() : '';
  const fits = field === 'password' ? type === 'password'
    : field === 'totp' ? input && ['text', 'password', 'number', 'tel'].includes(type)
    : true;
  if (!fits) return input ? 'an input of type ' + type : 'a <' + el.tagName.toLowerCase() + '> element';
  el.setAttribute(attribute, '1');
  return '';
}"""
WHERE = {"password": "a password input (type=password)", "totp": "a text, number, tel or password input"}


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
    page_data="none",
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
    entry = await _usable_here(ctx, key)
    secrets = await sync_to_async(entries.secrets_of)(entry)
    values: dict[str, str | None] = {"username": entry.username, "password": secrets["password"]}
    if wanted["totp"]:
        values["totp"] = entries.totp_code(entry)["code"]
    for field, selector in wanted.items():
        if selector and values.get(field) is None:
            raise StepError("vault.incomplete_entry", f"The vault entry '{key}' has no {field} to fill.")
    chosen = {field: (selector, values[field] or "") for field, selector in wanted.items() if selector}
    return {"filled": await _type_secrets(ctx, ctx.page, key, chosen)}


async def _usable_here(ctx: StepContext, key: str) -> VaultEntry:
    """The entry, once its origins admit the page and the runtime shows no document the caller scripted."""
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
    if not ctx.raw_reads:
        reason = await ctx.session.seal.tainted()
        if reason is not None:
            raise StepError(
                "vault.document_tainted",
                f"The vault entry '{key}' is not filled: {reason}, and that document is still shown; script "
                "put into a page could read what is typed. Navigate that page to a new document (or close it), "
                "then fill.",
            )
    return entry


async def _type_secrets(
    ctx: StepContext, page: Page, key: str, chosen: dict[str, tuple[str, str]]
) -> list[str]:
    """Type each field's value into its selector: every field checked first, then the document
    sealed before the first key stroke (and again after the last: a navigation meanwhile)."""
    seal = ctx.session.seal
    selectors = [selector for selector, _ in chosen.values()]
    secrets = [value for field, (_, value) in chosen.items() if field != "username"]
    reason = f"the vault entry '{key}' was filled into page {ctx.page_id}"
    filled: list[str] = []
    field = selector = ""
    try:
        for field, (selector, _) in chosen.items():
            unfit = await page.locator(selector).evaluate(
                _CHECK_AND_MARK, [SECRET_ATTRIBUTE, field], timeout=ctx.timeout_ms
            )
            if unfit:
                raise StepError(
                    "vault.field_refused",
                    f"The {field} of '{key}' goes only into {WHERE[field]}; {selector[:200]!r} is {unfit}.",
                )
        await seal.seal(page, selectors, secrets, reason)
        # the fields share the step's time: a missing one ends the step with its own selector named
        deadline = time.monotonic() + ctx.timeout_ms / 1000
        try:
            for field, (selector, value) in chosen.items():
                await page.fill(selector, value, timeout=max(1.0, (deadline - time.monotonic()) * 1000))
                filled.append(field)
        finally:
            await seal.seal(page, selectors, secrets, reason)
    except PlaywrightTimeoutError as exc:
        raise StepError(
            "step.timeout",
            f"vault.fill could not fill the {field} field: nothing fillable matched {selector!r} within "
            f"{ctx.timeout_ms:g} ms (the step's timeout).",
        ) from exc
    except PlaywrightError as exc:
        # Playwright's message may quote what it typed: say what failed, never the value.
        first_line = (exc.message or "").strip().splitlines()[0:1]
        message = _redacted(first_line[0] if first_line else "", [v for _, v in chosen.values()])
        raise StepError(
            "step.failed", f"vault.fill could not fill the {field} field: {message[:300]}"
        ) from exc
    return filled


@step(
    "vault.read",
    args=[Arg("key", "string")],
    result="{username, password, totp: {code, expiresInSeconds} | null}",
    ref=None,
    description="Read a vault entry's secrets (only when the vault mount has allowRawReads).",
    page_data="none",
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
    args=[
        Arg("key", "string"),
        Arg("selector", "string", required=False, description="The input to type the code into."),
    ],
    result="{code, expiresInSeconds} (raw-read rights) | {filled: [totp], expiresInSeconds}",
    ref=None,
    description="The current TOTP code of a vault entry: typed into `selector`, or returned to raw readers.",
    page_data="none",
)
async def totp(ctx: StepContext, key: str, selector: str | None = None) -> dict[str, Any]:
    if selector is None:
        if not ctx.raw_reads:
            raise StepError(
                "vault.raw_read_denied",
                "A one-time code is returned only with raw-read rights (allowRawReads, or an admin key); "
                "pass a selector, vault.totp(key, selector), to type it into the page instead.",
            )
        return entries.totp_code(await _entry(ctx, key))
    entry = await _usable_here(ctx, key)
    if entry.totp_ciphertext is None:
        raise StepError("vault.incomplete_entry", f"The vault entry '{key}' has no totp to fill.")
    code = entries.totp_code(entry)
    filled = await _type_secrets(ctx, ctx.page, key, {"totp": (selector, code["code"])})
    return {"filled": filled, "expiresInSeconds": code["expiresInSeconds"]}
