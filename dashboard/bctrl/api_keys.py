"""The API's keys (this engine's `/api-keys`, admin scope): list, create, revoke.

A key's secret comes back once, from `create_api_key`; nothing else ever has it. Callers pass it
straight to the page that shows it once and keep it out of logs and the audit log.
"""

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from dashboard.bctrl.client import get_client
from dashboard.bctrl.errors import BctrlError, OutcomeUnknown, UnexpectedAnswer
from dashboard.bctrl.pages import Page, page_of, parse_time

SCOPES = ("read", "operator", "admin")


@dataclass(frozen=True)
class ApiKey:
    id: str
    name: str
    scopes: list[str]
    created_at: datetime | None
    last_used_at: datetime | None
    revoked_at: datetime | None
    team: bool = False  # a team's key (a console's): the engine's per-key limits do not apply to it

    @property
    def scope(self) -> str:
        return self.scopes[0] if self.scopes else ""

    @property
    def revoked(self) -> bool:
        return self.revoked_at is not None

    @classmethod
    def from_api(cls, body: dict[str, Any]) -> "ApiKey":
        return cls(
            id=body["id"],
            name=body.get("name") or "",
            scopes=list(body.get("scopes") or []),
            created_at=parse_time(body.get("createdAt")),
            last_used_at=parse_time(body.get("lastUsedAt")),
            revoked_at=parse_time(body.get("revokedAt")),
            team=body.get("team") is True,
        )


@dataclass(frozen=True)
class CreatedApiKey:
    api_key: ApiKey
    secret: str

    def __repr__(self) -> str:  # never let the secret slip into a log line or a traceback
        return f"CreatedApiKey({self.api_key!r}, secret=<hidden>)"


async def list_api_keys(cursor: str | None = None, limit: int = 100) -> Page[ApiKey]:
    body = await get_client().get("api-keys", params={"cursor": cursor, "limit": limit})
    return page_of(body, "apiKeys", ApiKey.from_api)


async def create_api_key(name: str, scope: str, team: bool = False) -> CreatedApiKey:
    # No Idempotency-Key: the engine does not keep secrets to replay (a plain POST, never retried).
    payload: dict[str, Any] = {"name": name, "scope": scope}
    if team:
        payload["team"] = True
    try:
        body = await get_client().post("api-keys", json=payload)
    except BctrlError as error:
        if error.maybe_done:  # the key may exist, but its secret was only ever in the lost answer
            raise OutcomeUnknown(
                f"the key “{name}” (if it was made, its secret is lost: revoke it from this list)", error
            ) from error
        raise
    try:
        return CreatedApiKey(ApiKey.from_api(body["apiKey"]), str(body["secret"]))
    except (KeyError, TypeError) as exc:
        raise UnexpectedAnswer(
            502, "api.unexpected_answer", "The API answered the new key without its secret."
        ) from exc


async def revoke_api_key(api_key_id: str) -> None:
    await get_client().delete(f"api-keys/{api_key_id}")
