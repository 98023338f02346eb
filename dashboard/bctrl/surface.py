"""What the API the console talks to offers: the public BCTRL surface, and which of our own routes.

The console is built with this project's engine and must work unchanged against the hosted
service, which offers only the public surface (the routes below). Two decisions hang on it:

- **Not offered or gone?** A 404 (or 405/501) on one of our own routes (anything not in
  PUBLIC_ROUTES) means the API does not offer that route, and the page says so; it never says
  "no longer exists". Unless the API's own OpenAPI document lists the route: then a 404 names a
  thing that is gone, as it does on a public route.
- **May a create be sent again?** Only where the API is known to honour `Idempotency-Key` (its
  document declares the header on that operation). Sending a create again to an API that does
  not would make a second thing.

Learned once per API (per base URL) from its OpenAPI document (`openapi.json` under the API's
base), and kept: LEARNED_TTL_SECONDS when it answered, UNKNOWN_RETRY_SECONDS when it could not be
reached. An API without a readable document is "not known": none of our routes is assumed, no
create is retried.
"""

import json
import logging
import re
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx

logger = logging.getLogger("dashboard.bctrl")

LEARNED_TTL_SECONDS = 600.0
UNKNOWN_RETRY_SECONDS = 60.0
DOCUMENT_TIMEOUT_SECONDS = 10.0
# An API is not trusted with the console's memory: a document past these is not read (not known).
MAX_DOCUMENT_BYTES = 5 * 1024 * 1024
MAX_DOCUMENT_PATHS = 2_000
METHODS = {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"}

# The rows of the public reference (workspaces edition), relative to the API's base URL.
PUBLIC_ROUTES = (
    ("GET", "workspaces"),
    ("POST", "workspaces"),
    ("GET", "workspaces/{workspaceId}"),
    ("GET", "workspaces/{workspaceId}/state"),
    ("GET", "workspaces/{workspaceId}/help"),
    ("POST", "workspaces/{workspaceId}/execute"),
    ("GET", "workspaces/{workspaceId}/operations"),
    ("GET", "workspaces/{workspaceId}/artifacts"),
    ("GET", "workspaces/{workspaceId}/runtimes"),
    ("POST", "workspaces/{workspaceId}/runtimes"),
    ("GET", "workspaces/{workspaceId}/runtimes/{alias}"),
    ("POST", "workspaces/{workspaceId}/runtimes/{alias}/stop"),
    ("GET", "workspaces/{workspaceId}/runtimes/{alias}/events"),
    ("POST", "workspaces/{workspaceId}/runtimes/{alias}/events/wait"),
    ("POST", "workspaces/{workspaceId}/runtimes/{alias}/embed/live"),
    ("POST", "workspaces/{workspaceId}/runtimes/{alias}/embed/recording"),
    ("GET", "operations/{operationId}"),
    ("POST", "operations/{operationId}/wait"),
    ("POST", "operations/{operationId}/cancel"),
    ("GET", "ai-credentials"),
    ("POST", "ai-credentials"),
    ("GET", "ai-credentials/{credentialId}"),
    ("PATCH", "ai-credentials/{credentialId}"),
    ("DELETE", "ai-credentials/{credentialId}"),
    ("POST", "ai-credentials/{credentialId}/test"),
)

Route = tuple[str, re.Pattern[str]]


def _pattern(template: str) -> re.Pattern[str]:
    """`workspaces/{workspaceId}` as a regex of concrete paths; a `{path}` or `{key}` may hold `/`."""
    parts = re.split(r"(\{[^}]+\})", template.strip("/"))
    regex = "".join(
        (".+" if part[1:-1].split(":")[-1] in ("path", "key") else "[^/]+")
        if part.startswith("{")
        else re.escape(part)
        for part in parts
    )
    return re.compile(f"^{regex}$")


def _matches(routes: frozenset[Route], method: str, path: str) -> bool:
    path = path.strip("/")
    return any(m == method and pattern.match(path) for m, pattern in routes)


PUBLIC = frozenset((method, _pattern(template)) for method, template in PUBLIC_ROUTES)


def is_ours(method: str, path: str) -> bool:
    """Whether `method path` (relative to the API's base) is one of this project's own routes."""
    return not _matches(PUBLIC, method, path)


@dataclass(frozen=True)
class Surface:
    """What the API's OpenAPI document says it serves; `known` False when there was none to read."""

    known: bool
    routes: frozenset[Route] = frozenset()
    idempotent: frozenset[Route] = frozenset()  # operations declaring an Idempotency-Key header

    def offers(self, method: str, path: str) -> bool:
        return self.known and _matches(self.routes, method, path)

    def honours_idempotency_key(self, method: str, path: str) -> bool:
        return self.known and _matches(self.idempotent, method, path)


NOT_KNOWN = Surface(known=False)
_learned: dict[str, tuple[float, Surface]] = {}


def forget() -> None:
    """Learn every API afresh (tests switch APIs under the console)."""
    _learned.clear()


async def surface_of(http: httpx.AsyncClient, base_url: str) -> Surface:
    """The surface of the API at `base_url`, from what was learned or by reading its document now."""
    now = time.monotonic()
    cached = _learned.get(base_url)
    if cached is not None and cached[0] > now:
        return cached[1]
    try:
        document = await _document(http)
    except httpx.TransportError as exc:
        logger.info("Could not read the API's OpenAPI document (%s); its surface is not known", exc)
        _learned[base_url] = (now + UNKNOWN_RETRY_SECONDS, NOT_KNOWN)
        return NOT_KNOWN
    learned = _read(document, urlsplit(base_url).path.rstrip("/"))
    _learned[base_url] = (now + LEARNED_TTL_SECONDS, learned)
    return learned


async def _document(http: httpx.AsyncClient) -> Any:
    """The API's OpenAPI document as JSON; None when it has none, or sends something else or too much."""
    async with http.stream("GET", "openapi.json", timeout=DOCUMENT_TIMEOUT_SECONDS) as response:
        if not response.is_success:
            return None
        body = bytearray()
        async for chunk in response.aiter_bytes():
            body += chunk
            if len(body) > MAX_DOCUMENT_BYTES:
                logger.info("The API's OpenAPI document is over %d bytes: not read", MAX_DOCUMENT_BYTES)
                return None
    try:
        return json.loads(body)
    except ValueError:
        return None


def _read(document: Any, base_path: str) -> Surface:
    paths = document.get("paths") if isinstance(document, dict) else None
    if not isinstance(paths, dict) or len(paths) > MAX_DOCUMENT_PATHS:
        return NOT_KNOWN
    routes, idempotent = set(), set()
    for template, operations in paths.items():
        relative = template[len(base_path) :] if template.startswith(base_path + "/") else template
        pattern = _pattern(relative)
        if not isinstance(template, str) or not isinstance(operations, dict):
            continue
        for method, operation in operations.items():
            if str(method).upper() not in METHODS:
                continue  # a path item's "parameters", "summary"...
            routes.add((method.upper(), pattern))
            if _declares_idempotency_key(operation):
                idempotent.add((method.upper(), pattern))
    return Surface(known=True, routes=frozenset(routes), idempotent=frozenset(idempotent))


def _declares_idempotency_key(operation: Any) -> bool:
    parameters = operation.get("parameters") if isinstance(operation, dict) else None
    return any(
        isinstance(p, dict)
        and p.get("in") == "header"
        and str(p.get("name", "")).lower() == "idempotency-key"
        for p in parameters or []
    )
