"""Vault entries: key rules, origin rules, TOTP seeds, and encryption of the secrets."""

import base64
import binascii
import hmac
import re
import struct
import time
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from engine import crypto
from engine.errors import ApiError
from engine.models import VaultEntry
from engine.mounts import vault_allowed

KEY_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*(/[A-Za-z0-9][A-Za-z0-9._-]*)*$")
MAX_KEY_LENGTH = 256
# Sub-resources of an entry (`GET /v1/vault/{key}/totp`, `POST .../reveal`): a key ending in one
# of them could never be read back by its own URL, so it is refused at write time.
RESERVED_LAST_SEGMENTS = ("totp", "reveal")
DEFAULT_PORTS = {"http": 80, "https": 443}


def check_key(key: str, *, for_write: bool = False) -> str:
    problem = None
    if len(key) > MAX_KEY_LENGTH:
        problem = f"is longer than {MAX_KEY_LENGTH} characters"
    elif not KEY_PATTERN.match(key):
        problem = (
            "is not a vault key: use '/'-separated segments of letters, digits, '.', '_' and '-', "
            "each starting with a letter or digit (e.g. 'prod/crm/admin')"
        )
    elif for_write and key.rsplit("/", 1)[-1] in RESERVED_LAST_SEGMENTS:
        problem = f"ends with a reserved segment ({', '.join(RESERVED_LAST_SEGMENTS)})"
    if problem:
        raise ApiError(
            400,
            "vault.invalid_key",
            f"The key '{key[:80]}' {problem}.",
            {"fields": [{"path": "key", "message": problem[0].upper() + problem[1:] + "."}]},
        )
    return key


def normalise_origin(value: str, path: str) -> str:
    """`scheme://host[:port]` with a lowercase host and the default port dropped (400 otherwise)."""
    raw = value.strip()
    # A bare host ("crm.example.com") means its https origin: what a user pasting a host means.
    parts = urlsplit(raw if "://" in raw else f"https://{raw}")
    try:
        port = parts.port
    except ValueError:
        port = -1
    if parts.scheme not in ("http", "https") or not parts.hostname or port == -1 or parts.username:
        raise ApiError(
            400,
            "request.invalid",
            f"'{value[:100]}' is not an origin; write it as https://host or https://host:port.",
            {"fields": [{"path": path, "message": "Not an http(s) origin."}]},
        )
    origin = f"{parts.scheme}://{parts.hostname.lower()}"
    if port and port != DEFAULT_PORTS[parts.scheme]:
        origin += f":{port}"
    return origin


def check_pattern(value: str, path: str) -> str:
    pattern = value.strip().lower()
    if "://" not in pattern:
        pattern = f"https://{pattern}"
    scheme = pattern.split("://", 1)[0]
    if scheme not in ("http", "https", "*") or "/" in pattern.split("://", 1)[1] or len(pattern) > 300:
        raise ApiError(
            400,
            "request.invalid",
            f"'{value[:100]}' is not an origin pattern; write it like https://*.example.com.",
            {"fields": [{"path": path, "message": "Not an origin pattern."}]},
        )
    return pattern


def split_origins(
    origins: list[str], patterns: list[str], match_origins: list[str]
) -> tuple[list[str], list[str]]:
    """Exact origins and glob patterns; `matchOrigins` items with a `*` are patterns."""
    exact = [normalise_origin(o, f"origins.{i}") for i, o in enumerate(origins)]
    globs = [check_pattern(p, f"originPatterns.{i}") for i, p in enumerate(patterns)]
    for i, item in enumerate(match_origins):
        if "*" in item:
            globs.append(check_pattern(item, f"matchOrigins.{i}"))
        else:
            exact.append(normalise_origin(item, f"matchOrigins.{i}"))
    return sorted(set(exact)), sorted(set(globs))


def _pattern_regex(pattern: str) -> re.Pattern[str]:
    # `*` stands for any run of characters within the origin (never a path: origins have none).
    return re.compile("^" + ".*".join(re.escape(part) for part in pattern.split("*")) + "$")


def origin_allowed(entry: VaultEntry, page_url: str) -> bool:
    """Whether an http(s) page's origin is one of the entry's origins or matches one of its patterns.

    An entry that names none matches no page (`vault.fill` refuses it with vault.origin_required).
    """
    try:
        origin = normalise_origin(page_url, "url")
    except ApiError:
        return False  # about:blank, data:, file: pages never match an origin rule
    if origin in entry.origins:
        return True
    return any(_pattern_regex(p).match(origin) for p in entry.origin_patterns)


def normalise_totp(value: str) -> str:
    """A TOTP seed as stored: an otpauth:// URI kept whole, else upper-case base32 without spaces."""
    raw = value.strip()
    try:
        if raw.lower().startswith("otpauth://"):
            _totp_parameters(raw)
            return raw
        seed = re.sub(r"[\s-]", "", raw).upper().rstrip("=")
        _decode_seed(seed)
        return seed
    except ValueError as exc:
        raise ApiError(
            400,
            "request.invalid",
            f"totp must be a base32 TOTP seed (at least 16 characters) or an otpauth://totp/ URI: {exc}.",
            {"fields": [{"path": "totp", "message": "Not a base32 TOTP seed."}]},
        ) from exc


def _decode_seed(seed: str) -> bytes:
    if len(seed) < 16:
        raise ValueError("the seed is shorter than 16 characters")
    try:
        return base64.b32decode(seed + "=" * (-len(seed) % 8))
    except binascii.Error as exc:
        raise ValueError("the seed is not base32 (letters A-Z and digits 2-7)") from exc


def _totp_parameters(seed: str) -> tuple[bytes, int, int, str]:
    """(key, digits, period, hash name) of a stored seed or otpauth:// URI (RFC 6238 defaults)."""
    if not seed.lower().startswith("otpauth://"):
        return _decode_seed(seed), 6, 30, "sha1"
    parts = urlsplit(seed)
    if parts.netloc.lower() != "totp":
        raise ValueError("only otpauth://totp/ URIs are TOTP seeds")
    query = dict(parse_qsl(parts.query))
    key = _decode_seed(query.get("secret", "").replace(" ", "").upper().rstrip("="))
    digits = int(query.get("digits", "6")) if query.get("digits", "6").isdigit() else 0
    period = int(query.get("period", "30")) if query.get("period", "30").isdigit() else 0
    algorithm = query.get("algorithm", "SHA1").lower()
    if digits not in (6, 7, 8) or not 1 <= period <= 300 or algorithm not in ("sha1", "sha256", "sha512"):
        raise ValueError("digits must be 6-8, period 1-300 s and algorithm SHA1, SHA256 or SHA512")
    return key, digits, period, algorithm


def _hotp(key: bytes, counter: int, digits: int, algorithm: str) -> str:
    mac = hmac.new(key, struct.pack(">Q", counter), algorithm).digest()
    offset = mac[-1] & 0x0F
    value = struct.unpack(">I", mac[offset : offset + 4])[0] & 0x7FFFFFFF
    return str(value % 10**digits).zfill(digits)


def totp_code(entry: VaultEntry, now: float | None = None) -> dict[str, Any]:
    """The current code of the entry's TOTP seed (RFC 6238) and how long it stays valid.

    Computed here rather than with pyotp, which refuses the 80-bit (16-character) seeds many
    real sites still hand out.
    """
    if entry.totp_ciphertext is None:
        raise ApiError(
            400,
            "vault.no_totp",
            f"The vault entry '{entry.key}' has no TOTP seed; PUT it with a 'totp' seed first.",
        )
    key, digits, period, algorithm = _totp_parameters(crypto.decrypt(entry.totp_ciphertext))
    now = time.time() if now is None else now
    return {
        "code": _hotp(key, int(now // period), digits, algorithm),
        "expiresInSeconds": period - int(now % period),
    }


def secrets_of(entry: VaultEntry) -> dict[str, str | None]:
    """The plaintext secrets (reveal, vault.read): the only place they are decrypted together."""
    return {
        "username": entry.username,
        "password": crypto.decrypt(entry.password_ciphertext)
        if entry.password_ciphertext is not None
        else None,
        "totp": crypto.decrypt(entry.totp_ciphertext) if entry.totp_ciphertext is not None else None,
    }


async def allowed_keys(mounts: dict[str, Any], limit: int) -> tuple[list[str], bool]:
    """The keys of the vault entries `mounts` allow (names only, in order), at most `limit`, and
    whether there were more: what a picker of keys offers (never a value)."""
    if not (mounts.get("vault") or {}).get("allow"):
        return [], False
    keys: list[str] = []
    async for key in VaultEntry.objects.order_by("key").values_list("key", flat=True):
        if vault_allowed(mounts, key):
            if len(keys) == limit:
                return keys, True
            keys.append(key)
    return keys, False
