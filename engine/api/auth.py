"""API-key authentication, scopes and the per-key rate limit.

Scopes (contract, "Scopes of API keys"): `read` may GET, call the two `wait` endpoints and mint
view-only embeds; `operator` may do everything except change or reveal vault entries and AI
credentials, and anything about API keys (listing them included: names and scopes tell an
attacker which key to steal); `admin` may do everything. Every route declares the scope it needs with its `auth=`
(READ, OPERATOR or ADMIN, below), never by the shape of its URL: `GET .../totp` is ADMIN
though it is a GET (a one-time code is a secret, used below admin, never read), `POST .../wait` READ though it is a POST, `POST /ai-credentials/{id}/test`
OPERATOR whatever the id. `engine.api` refuses to start if a route declares none, and
tests/engine/test_scopes.py walks the OpenAPI document against a table of what each scope may do.
A rule that depends on the body (an interactive embed token) calls `require` in its handler.

A request may be treated with LESS than its key's scope, never more: `BCTRL-Acting-Scope`
(ours, ACTING_SCOPE_HEADER) names the scope to act with, and the request's key (`request.auth`)
then carries the lower of the two (`acting`). A console that shares one admin key with its whole
team sends its signed-in user's role there, so an operator using the console gets an operator's
rights in the engine: route checks, raw reads of what the vault filled (steps, CDP tokens, kept
bodies), `allowRawReads` mounts (`whoami` still names the key's own scope). Everything that judges a request reads
`request.auth.scope`, never the stored key's.
"""

import asyncio
import copy
import hashlib
import secrets
import time
from collections import defaultdict
from datetime import timedelta

from django.conf import settings
from django.http import HttpRequest
from django.utils import timezone
from ninja.security import HttpBearer

from engine.errors import ApiError
from engine.models import ApiKey

KEY_PREFIX = "bctrl_"
# How stale an API key's lastUsedAt may be: one write per key per minute, not one per request.
LAST_USED_RESOLUTION = timedelta(minutes=1)


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def new_key() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(32)


def create_api_key(name: str, scope: str, team: bool = False) -> tuple[ApiKey, str]:
    key = new_key()
    return ApiKey.objects.create(name=name, scope=scope, key_hash=hash_key(key), team=team), key


SCOPE_RANK = {"read": 0, "operator": 1, "admin": 2}
# Ours: a request acts with the lower of its key's scope and this header's (`acting`).
ACTING_SCOPE_HEADER = "BCTRL-Acting-Scope"


def require(api_key: ApiKey, needed: str, what: str) -> None:
    """403 unless `api_key` has at least the `needed` scope; `what` names the call in the message."""
    if SCOPE_RANK[api_key.scope] < SCOPE_RANK[needed]:
        has = (
            f"This request acts with the '{api_key.scope}' scope ({ACTING_SCOPE_HEADER})"
            if getattr(api_key, "acting_lowered", False)
            else f"This API key has the '{api_key.scope}' scope"
        )
        raise ApiError(
            403,
            "auth.forbidden",
            f"{has}; {what} needs '{needed}'.",
            {"scope": api_key.scope, "needed": needed},
        )


def acting(api_key: ApiKey, request: HttpRequest) -> ApiKey:
    """The key as this request may use it: its scope lowered to `BCTRL-Acting-Scope`, never raised.

    Without the header, the key itself. With it, a copy whose `scope` is the lower of the key's and
    the header's (the copy is never saved; the key remembered by the keyring stays as it is). A
    value that is no scope is a 400: a caller that meant to lower its rights must not go on with
    all of them.
    """
    value = request.headers.get(ACTING_SCOPE_HEADER)
    if value is None:
        return api_key
    wanted = value.strip()
    if wanted not in SCOPE_RANK:
        raise ApiError(
            400,
            "request.invalid_header",
            f"{ACTING_SCOPE_HEADER} must be one of read, operator, admin (it can only lower this key's scope).",
            {"header": ACTING_SCOPE_HEADER, "allowed": list(SCOPE_RANK)},
        )
    if SCOPE_RANK[wanted] >= SCOPE_RANK[api_key.scope]:
        return api_key
    lowered = copy.copy(api_key)
    lowered.scope = wanted
    lowered.acting_lowered = True  # type: ignore[attr-defined]  # require's message says why
    lowered.own_scope = api_key.scope  # type: ignore[attr-defined]  # whoami names the key as it is
    return lowered


def may_use(request: HttpRequest) -> bool:
    """Whether the request's key may keep a runtime in use (alive): operator and admin keys.

    A read key only watches: whatever it asks (`keepAlive`), it never holds a runtime past its
    idle timeout, nor its cost.
    """
    api_key = getattr(request, "auth", None)
    return isinstance(api_key, ApiKey) and SCOPE_RANK[api_key.scope] >= SCOPE_RANK["operator"]


class _RateLimiter:
    """Fixed one-minute windows per key; the engine is a single process, so memory is enough."""

    def __init__(self) -> None:
        self.windows: dict[str, tuple[int, int]] = defaultdict(lambda: (0, 0))

    def check(self, key_id: str) -> None:
        limit = settings.RATE_LIMIT_PER_MINUTE
        if not limit:
            return
        now = time.monotonic()
        window = int(now // 60)
        current, count = self.windows[key_id]
        count = count + 1 if current == window else 1
        self.windows[key_id] = (window, count)
        if count > limit:
            retry_after = max(1, int(60 - now % 60))
            raise ApiError(
                429,
                "rate_limited",
                f"Too many requests for this API key ({limit} a minute, ENGINE_RATE_LIMIT_PER_MINUTE); "
                f"try again in {retry_after} s.",
                {"limit": "ENGINE_RATE_LIMIT_PER_MINUTE", "rateLimitPerMinute": limit},
                headers={"Retry-After": str(retry_after)},
            )


rate_limiter = _RateLimiter()


class KeyRing:
    """API keys resolved from memory: the database is asked once per key, not once per request.

    A hit is trusted for REFRESH_SECONDS, then read again (so a key changed behind the engine's
    back, in its database, is noticed within that time). Revoking through the API (`forget`) takes
    effect at once: the key leaves memory before the route answers, and a read that began before
    the revocation cannot put it back (generations). Lookups of one key at the same moment share
    one query. Unknown keys are not remembered: a key made by `manage.py createapikey` works at once.
    """

    REFRESH_SECONDS = 10.0

    def __init__(self) -> None:
        self._keys: dict[str, tuple[ApiKey, float]] = {}  # sha256 of the secret -> (row, read at)
        self._loading: dict[str, asyncio.Future[ApiKey | None]] = {}
        self._generation = 0

    def remembered(self, token: str) -> tuple[ApiKey | None, bool]:
        """(the key memory holds for `token`, whether it is fresh) without the database.

        A stale entry still says the secret belonged to a key (admission counts it as keyed);
        `find` reads it again before it is trusted. A revoked key is never remembered (`forget`).
        """
        hit = self._keys.get(hash_key(token))
        if hit is None:
            return None, False
        return hit[0], time.monotonic() - hit[1] < self.REFRESH_SECONDS

    async def find(self, token: str) -> ApiKey | None:
        """The unrevoked key whose secret is `token`, or None."""
        digest = hash_key(token)
        hit = self._keys.get(digest)
        if hit is not None and time.monotonic() - hit[1] < self.REFRESH_SECONDS:
            return hit[0]
        loading = self._loading.get(digest)
        if loading is None:
            loading = asyncio.ensure_future(self._load(digest, self._generation))
            self._loading[digest] = loading
            loading.add_done_callback(lambda _f: self._loading.pop(digest, None))
        return await asyncio.shield(loading)

    async def _load(self, digest: str, generation: int) -> ApiKey | None:
        api_key = await ApiKey.objects.filter(key_hash=digest, revoked_at=None).afirst()
        if generation != self._generation:
            return api_key  # revoked meanwhile (maybe this one): answer the request that asked, keep nothing
        if api_key is None:
            self._keys.pop(digest, None)
        else:
            self._keys[digest] = (api_key, time.monotonic())
        return api_key

    def forget(self, key_id: object) -> None:
        """A key was revoked: drop it now (and anything being read at this moment)."""
        self._generation += 1
        for digest, (api_key, _read_at) in list(self._keys.items()):
            if str(api_key.id) == str(key_id):
                del self._keys[digest]


keyring = KeyRing()


class KeyAuth(HttpBearer):
    """A route's authentication: a known key with at least `scope` (use READ, OPERATOR, ADMIN)."""

    is_async = True

    def __init__(self, scope: str) -> None:
        super().__init__()
        self.scope = scope

    async def authenticate(self, request: HttpRequest, token: str) -> ApiKey | None:  # type: ignore[override]
        # The ASGI guard (engine/api/guard.py) already found this request's key before its body.
        api_key = getattr(request, "scope", {}).get("engine.api_key")
        if api_key is None:
            api_key = await keyring.find(token)
        if api_key is None:
            return None
        acting_key = acting(api_key, request)  # every check from here on, and request.auth, use its scope
        require(acting_key, self.scope, "this call")
        if not api_key.team:  # a team's key is held to the engine-wide limits only (models.ApiKey)
            rate_limiter.check(str(api_key.id))
        now = timezone.now()
        if api_key.last_used_at is None or now - api_key.last_used_at > LAST_USED_RESOLUTION:
            api_key.last_used_at = now  # on the remembered key, not a lowered copy of it
            await ApiKey.objects.filter(id=api_key.id).aupdate(last_used_at=now)
        return acting_key


READ = KeyAuth("read")
OPERATOR = KeyAuth("operator")
ADMIN = KeyAuth("admin")


def whoami_payload(api_key: ApiKey) -> dict[str, object]:
    return {
        "organization": {"id": organization_id(), "name": settings.ORGANIZATION_NAME},
        "apiKey": {
            "id": str(api_key.id),
            "name": api_key.name,
            # the key's own scope (it describes the key; what this request may do is another
            # matter: `acting`), so a console's shared answers read the same whoever asked
            "scopes": [getattr(api_key, "own_scope", api_key.scope)],
            "createdAt": api_key.created_at,
        },
    }


def organization_id() -> str:
    import uuid

    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"bctrl-engine:{settings.ORGANIZATION_NAME}"))
