"""AI credentials: typed results and calls. The API never returns a key, and neither do we."""

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from dashboard.bctrl.client import get_client
from dashboard.bctrl.creates import create_once, find_at
from dashboard.bctrl.errors import InvalidRequest
from dashboard.bctrl.pages import Page, page_of, parse_time, split_cursor

PROVIDERS = ("openai", "anthropic", "google", "openai-compatible")
ID_PATTERN = re.compile(r"^[A-Za-z][A-Za-z0-9_-]{0,63}$")


@dataclass(frozen=True)
class AiCredential:
    id: str
    provider: str
    label: str
    enabled: bool
    base_url: str
    default_model: str
    created_at: datetime | None
    updated_at: datetime | None

    @classmethod
    def from_api(cls, body: dict[str, Any]) -> "AiCredential":
        return cls(
            id=body["id"],
            provider=body["provider"],
            label=body.get("label") or "",
            enabled=bool(body.get("enabled", True)),
            base_url=body.get("baseUrl") or "",
            default_model=body.get("defaultModel") or "",
            created_at=parse_time(body.get("createdAt")),
            updated_at=parse_time(body.get("updatedAt")),
        )


@dataclass(frozen=True)
class CredentialCheck:
    ok: bool
    message: str
    provider: str


def check_id(credential_id: str) -> str:
    if not ID_PATTERN.match(credential_id):
        raise InvalidRequest(
            400,
            "request.invalid",
            "Credential ids start with a letter, then letters, digits, '_' or '-' (at most 64).",
            details={"fields": [{"path": "id", "message": "Not a valid credential id."}]},
        )
    return credential_id


async def list_credentials(
    provider: str | None = None, cursor: str | None = None, limit: int = 50
) -> Page[AiCredential]:
    api_cursor, offset = split_cursor(cursor)
    body = await get_client().get(
        "ai-credentials", params={"provider": provider, "cursor": api_cursor, "limit": limit}
    )
    page = page_of(body, "credentials", AiCredential.from_api)
    # `provider` is this engine's filter, not the public surface's: an API that ignores it still gets filtered
    page = page.where(lambda credential: credential.provider == provider) if provider else page
    return page.window(limit, offset)


async def get_credential(credential_id: str) -> AiCredential:
    return AiCredential.from_api(await get_client().get(f"ai-credentials/{check_id(credential_id)}"))


async def create_credential(payload: dict[str, Any], idempotency_key: str | None = None) -> AiCredential:
    """`payload`: {id, provider, label, apiKey, baseUrl?, defaultModel?, enabled?}."""
    credential_id = check_id(payload.get("id", ""))
    body = await create_once(
        "ai-credentials",
        payload,
        what=f"the AI credential “{credential_id}”",
        find=find_at(f"ai-credentials/{credential_id}"),
        idempotency_key=idempotency_key,
    )
    return AiCredential.from_api(body)


async def update_credential(credential_id: str, payload: dict[str, Any]) -> AiCredential:
    """PATCH: only the fields given change; without `apiKey` the stored key stays."""
    return AiCredential.from_api(
        await get_client().patch(f"ai-credentials/{check_id(credential_id)}", json=payload)
    )


async def delete_credential(credential_id: str) -> None:
    await get_client().delete(f"ai-credentials/{check_id(credential_id)}")


async def try_credential(credential_id: str) -> CredentialCheck:
    body = await get_client().post(f"ai-credentials/{check_id(credential_id)}/test", timeout=60)
    return CredentialCheck(
        ok=bool(body.get("ok")), message=body.get("message") or "", provider=body.get("provider") or ""
    )
