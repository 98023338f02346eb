"""Vault entries: typed results and calls.

Listings and gets never carry secrets (only `has_password`/`has_totp`); the one call that does,
`reveal`, returns a `Revealed` that callers must render once and never keep or log.
"""

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import quote

from dashboard.bctrl.client import get_client
from dashboard.bctrl.errors import InvalidRequest
from dashboard.bctrl.pages import Page, page_of, parse_time

KEY_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*(/[A-Za-z0-9][A-Za-z0-9._-]*)*$")
MAX_KEY_LENGTH = 256


@dataclass(frozen=True)
class VaultEntry:
    key: str
    label: str
    username: str
    has_password: bool
    has_totp: bool
    origins: list[str]
    origin_patterns: list[str]
    notes: str
    created_at: datetime | None
    updated_at: datetime | None

    @property
    def name(self) -> str:
        """The last part of the key, as shown inside its folder."""
        return self.key.rsplit("/", 1)[-1]

    @property
    def match_origins(self) -> list[str]:
        return [*self.origins, *self.origin_patterns]

    @classmethod
    def from_api(cls, body: dict[str, Any]) -> "VaultEntry":
        return cls(
            key=body["key"],
            label=body.get("label") or "",
            username=body.get("username") or "",
            has_password=bool(body.get("hasPassword")),
            has_totp=bool(body.get("hasTotp")),
            origins=list(body.get("origins") or []),
            origin_patterns=list(body.get("originPatterns") or []),
            notes=body.get("notes") or "",
            created_at=parse_time(body.get("createdAt")),
            updated_at=parse_time(body.get("updatedAt")),
        )


@dataclass(frozen=True)
class Totp:
    code: str
    expires_in_seconds: int


@dataclass(frozen=True)
class Revealed:
    username: str
    password: str
    totp: str | None

    def __repr__(self) -> str:  # a stray log line or traceback must not print the secret
        return "Revealed(<hidden>)"


def check_key(key: str) -> str:
    if len(key) > MAX_KEY_LENGTH or not KEY_PATTERN.match(key):
        raise InvalidRequest(
            400,
            "vault.invalid_key",
            "Keys are /-separated names of letters, digits, '.', '_' and '-', each starting with a "
            "letter or digit, at most 256 characters (e.g. prod/crm/admin).",
            details={"fields": [{"path": "key", "message": "Not a valid vault key."}]},
        )
    return key


def _entry_url(key: str, action: str = "") -> str:
    return f"vault/{quote(check_key(key), safe='/')}" + (f"/{action}" if action else "")


async def list_entries(
    prefix: str = "", has_totp: bool | None = None, cursor: str | None = None, limit: int = 100
) -> Page[VaultEntry]:
    params: dict[str, Any] = {"prefix": prefix, "cursor": cursor, "limit": limit}
    if has_totp is not None:
        params["hasTotp"] = "true" if has_totp else "false"
    body = await get_client().get("vault", params=params)
    return page_of(body, "entries", VaultEntry.from_api)


async def get_entry(key: str) -> VaultEntry:
    return VaultEntry.from_api(await get_client().get(_entry_url(key)))


async def put_entry(key: str, payload: dict[str, Any]) -> VaultEntry:
    """Create or replace; `payload` without `password`/`totp` keeps the stored ones."""
    return VaultEntry.from_api(await get_client().put(_entry_url(key), json=payload))


async def delete_entry(key: str) -> None:
    await get_client().delete(_entry_url(key))


async def totp(key: str) -> Totp:
    body = await get_client().get(_entry_url(key, "totp"))
    return Totp(code=body["code"], expires_in_seconds=int(body["expiresInSeconds"]))


async def reveal(key: str) -> Revealed:
    body = await get_client().post(_entry_url(key, "reveal"))
    return Revealed(
        username=body.get("username") or "", password=body.get("password") or "", totp=body.get("totp")
    )
