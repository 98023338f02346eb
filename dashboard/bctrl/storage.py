"""Storage namespaces and objects: typed results and calls, and streaming downloads."""

from collections.abc import AsyncIterable, AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import quote

from dashboard.bctrl.client import get_client
from dashboard.bctrl.errors import InvalidRequest
from dashboard.bctrl.pages import items_of, parse_time

MAX_PATH_BYTES = 1024


@dataclass(frozen=True)
class Namespace:
    name: str
    object_count: int
    size_bytes: int


@dataclass(frozen=True)
class StorageObject:
    namespace: str
    path: str
    size_bytes: int
    content_type: str
    sha256: str
    source: str
    runtime_id: str | None
    created_at: datetime | None

    @property
    def name(self) -> str:
        return self.path.rsplit("/", 1)[-1]

    @classmethod
    def from_api(cls, body: dict[str, Any]) -> "StorageObject":
        return cls(
            namespace=body["namespace"],
            path=body["path"],
            size_bytes=body.get("sizeBytes") or 0,
            content_type=body.get("contentType") or "application/octet-stream",
            sha256=body.get("sha256") or "",
            source=body.get("source") or "",
            runtime_id=str(body["runtimeId"]) if body.get("runtimeId") else None,
            created_at=parse_time(body.get("createdAt")),
        )


@dataclass(frozen=True)
class SubFolder:
    name: str
    prefix: str


@dataclass(frozen=True)
class Folder:
    """One level of a namespace: the objects directly under `prefix` and its sub-folders."""

    prefix: str
    objects: list[StorageObject]
    folders: list[SubFolder]
    next_cursor: str | None


def _sub_folder(prefix: str, folder: str) -> SubFolder:
    """The API may name a sub-folder by its full prefix or by its last part; accept either."""
    name = folder.rstrip("/")
    if prefix and name.startswith(prefix):
        name = name[len(prefix) :]
    return SubFolder(name, f"{prefix}{name}/")


def check_path(path: str) -> str:
    """Refuse what the contract forbids before it reaches a URL (no `..`, no leading `/`)."""
    segments = path.split("/")
    if (
        not path
        or len(path.encode()) > MAX_PATH_BYTES
        or any(s in ("", ".", "..") for s in segments)
        or any(c in path for c in "\\\x00?#")
    ):
        raise InvalidRequest(
            400,
            "storage.invalid_path",
            "Paths are /-separated names without empty, '.' or '..' parts, at most 1024 bytes.",
        )
    return path


def check_namespace(namespace: str) -> str:
    if not namespace or "/" in namespace or namespace in (".", ".."):
        raise InvalidRequest(400, "storage.invalid_namespace", f"“{namespace}” is not a namespace name.")
    return namespace


def _object_url(kind: str, namespace: str, path: str) -> str:
    return f"storage/{quote(check_namespace(namespace), safe='')}/{kind}/{quote(check_path(path), safe='/')}"


async def list_namespaces() -> list[Namespace]:
    body = await get_client().get("storage")
    return items_of(
        body, "namespaces", lambda n: Namespace(n["name"], n.get("objectCount") or 0, n.get("sizeBytes") or 0)
    )


async def list_folder(
    namespace: str, prefix: str = "", cursor: str | None = None, limit: int = 100
) -> Folder:
    body = await get_client().get(
        f"storage/{quote(check_namespace(namespace), safe='')}/objects",
        params={"prefix": prefix, "cursor": cursor, "limit": limit},
    )
    return Folder(
        prefix=prefix,
        objects=items_of(body, "objects", StorageObject.from_api),
        folders=[_sub_folder(prefix, f) for f in body.get("folders") or []],
        next_cursor=body.get("nextCursor"),
    )


async def get_object(namespace: str, path: str) -> StorageObject:
    return StorageObject.from_api(await get_client().get(_object_url("objects", namespace, path)))


async def put_object(
    namespace: str,
    path: str,
    content: bytes | AsyncIterable[bytes],
    content_type: str,
    size: int | None = None,
) -> StorageObject:
    """Store an object. `content` may be streamed (an async iterator of chunks, then give its
    `size`): the console passes an upload on without holding it in memory."""
    headers = {"Content-Type": content_type or "application/octet-stream"}
    if size is not None:
        headers["Content-Length"] = str(size)  # so the API can refuse an object too large up front
    body = await get_client().put(_object_url("objects", namespace, path), content=content, headers=headers)
    return StorageObject.from_api(body)


async def delete_object(namespace: str, path: str) -> None:
    await get_client().delete(_object_url("objects", namespace, path))


async def iter_content(namespace: str, path: str) -> AsyncIterator[bytes]:
    """The object's bytes as they arrive; callers fetch `get_object` first so a failure is
    raised before a response has started."""
    async with get_client().stream("GET", _object_url("content", namespace, path)) as response:
        async for chunk in response.aiter_bytes():
            yield chunk


async def read_head(namespace: str, path: str, limit: int) -> bytes:
    """At most `limit` bytes from the start of an object (previews), without reading the rest."""
    head = b""
    async for chunk in iter_content(namespace, path):
        head += chunk
        if len(head) >= limit:
            break
    return head[:limit]
