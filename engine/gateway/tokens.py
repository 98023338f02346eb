"""CDP connect tokens: signed as embed tokens are (the engine's secret key, a salt of their own),
bound to one runtime and to the API key that minted it, and short-lived.

A token opens a gateway connection to its runtime while the runtime is active and the token has
not expired; an open connection lives on until its client leaves or the runtime ends (it is closed
then, with the reason). It carries who minted it (the key's id, for the per-key limits; its name
and the caller's label, for "who is connected") and whether that caller may read filled vault
secrets (an admin key), so the gateway needs no database read to judge a message. Tokens travel
only in the URL's query (`?token=`), which every log redacts (engine.live.tokens.RedactTokens).
"""

import time
from dataclasses import dataclass
from datetime import UTC, datetime
from uuid import UUID

from django.conf import settings
from django.core import signing

from engine.live.tokens import TokenRefused  # the same refusal as an embed token's (a salt of its own)

SALT = "engine.cdp"  # a live-view or recording token can never open a CDP connection, nor the reverse
MAX_TOKEN_CHARS = 2000


@dataclass(frozen=True)
class CdpGrant:
    runtime_id: UUID
    key_id: str
    key_name: str
    label: str
    raw_reads: bool  # an admin key: may read what the vault filled
    expires_at: datetime


def mint(
    runtime_id: UUID, key_id: str, key_name: str, label: str, raw_reads: bool, ttl_seconds: int | None
) -> tuple[str, datetime]:
    """A new token and when it expires (ttl: ENGINE_CDP_TOKEN_TTL_SECONDS unless given)."""
    expires_ms = int((time.time() + (ttl_seconds or settings.CDP_TOKEN_TTL_SECONDS)) * 1000)
    payload = {"r": str(runtime_id), "k": key_id, "n": key_name, "l": label, "a": raw_reads, "x": expires_ms}
    token = signing.dumps(payload, salt=SALT, compress=False)
    return token, datetime.fromtimestamp(expires_ms / 1000, tz=UTC)


def read(token: str | None, runtime_id: UUID | str) -> CdpGrant:
    """The grant a token carries for this runtime, or TokenRefused."""
    if not token or len(token) > MAX_TOKEN_CHARS:
        raise TokenRefused("invalid")
    try:
        payload = signing.loads(token, salt=SALT)
        grant = CdpGrant(
            runtime_id=UUID(payload["r"]),
            key_id=str(payload["k"]),
            key_name=str(payload["n"]),
            label=str(payload["l"]),
            raw_reads=bool(payload["a"]),
            expires_at=datetime.fromtimestamp(int(payload["x"]) / 1000, tz=UTC),
        )
    except (signing.BadSignature, KeyError, TypeError, ValueError) as exc:
        raise TokenRefused("invalid") from exc
    if str(grant.runtime_id) != str(runtime_id):
        raise TokenRefused("invalid")  # a token of another runtime
    if grant.expires_at.timestamp() <= time.time():
        raise TokenRefused("expired")
    return grant
