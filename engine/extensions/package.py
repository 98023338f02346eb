"""Safe reading and unpacking of an uploaded extension package (.zip, or .crx v2/v3).

An upload is hostile until proven otherwise. Before a byte is written the whole archive is
checked: every entry must be a plain file or folder with a relative name (no absolute paths,
no `..`, no backslashes, no symlinks, no encryption), the declared uncompressed total must fit
ENGINE_EXTENSION_MAX_BYTES, manifest.json must be valid and ask for nothing that reaches around
a runtime's isolation (permissions.py). Extraction then writes only
through paths that resolve inside the target folder, with O_NOFOLLOW|O_EXCL, and counts the
bytes actually written (declared sizes can lie). Unpacking goes to a temp folder renamed into
place at the end; on any failure the extension's folder is removed, so a refused package
leaves nothing behind.
"""

import hashlib
import io
import json
import os
import shutil
import stat
import struct
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from django.conf import settings

from engine import paths
from engine.errors import ApiError
from engine.extensions import permissions

MAX_ENTRIES = 20_000
CRX_MAGIC = b"Cr24"
ZIP_MAGICS = (b"PK\x03\x04", b"PK\x05\x06")


class InvalidPackage(ApiError):
    def __init__(self, message: str) -> None:
        super().__init__(400, "extension.invalid_package", message)


@dataclass
class Package:
    """What the API records about a checked package."""

    format: str  # zip | crx
    name: str
    version: str
    manifest_version: int
    permissions: list[str]
    content_hash: str
    size_bytes: int
    zip_bytes: bytes = field(repr=False)
    root: str = ""  # a single top folder the zip wraps everything in ("" when manifest is at the root)


def read_package(data: bytes) -> Package:
    """Check an upload and parse its manifest (raises InvalidPackage; writes nothing)."""
    limit = settings.EXTENSION_MAX_BYTES
    if len(data) > limit:
        raise InvalidPackage(f"The package is {len(data)} bytes; this engine accepts at most {limit} bytes.")
    if data.startswith(CRX_MAGIC):
        kind, zip_bytes = "crx", _crx_payload(data)
    elif data[:4] in ZIP_MAGICS:
        kind, zip_bytes = "zip", data
    else:
        raise InvalidPackage("The file is neither a .zip nor a .crx archive.")
    try:
        archive = zipfile.ZipFile(io.BytesIO(zip_bytes))
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise InvalidPackage(f"The {kind} archive cannot be read: {exc}.") from exc
    with archive:
        entries = archive.infolist()
        _check_entries(entries, limit)
        root = _manifest_root(entries)
        manifest = _read_manifest(archive, root)
        permissions.check(manifest, archive, root)
        name = _display_name(archive, root, manifest)
    return Package(
        format=kind,
        name=name,
        version=manifest["version"],
        manifest_version=manifest["manifest_version"],
        permissions=[p for p in manifest.get("permissions", []) if isinstance(p, str)],
        content_hash="sha256:" + hashlib.sha256(data).hexdigest(),
        size_bytes=len(data),
        zip_bytes=zip_bytes,
        root=root,
    )


def _crx_payload(data: bytes) -> bytes:
    """The zip inside a CRX: v3 is magic, version, header length, header; v2 has key and signature."""
    try:
        version, first = struct.unpack_from("<II", data, 4)
        if version == 3:
            start = 12 + first
        elif version == 2:
            (signature_length,) = struct.unpack_from("<I", data, 12)
            start = 16 + first + signature_length
        else:
            raise InvalidPackage(f"CRX version {version} is not supported (only 2 and 3).")
    except struct.error as exc:
        raise InvalidPackage("The .crx header is truncated.") from exc
    if start >= len(data) or data[start : start + 4] not in ZIP_MAGICS:
        raise InvalidPackage("The .crx file does not contain a zip archive after its header.")
    return data[start:]


def _check_entries(entries: list[zipfile.ZipInfo], limit: int) -> None:
    if len(entries) > MAX_ENTRIES:
        raise InvalidPackage(f"The archive has {len(entries)} entries; at most {MAX_ENTRIES} are accepted.")
    declared = 0
    for info in entries:
        name = info.filename
        mode = info.external_attr >> 16
        if "\\" in name or "\x00" in name or name.startswith("/") or (len(name) > 1 and name[1] == ":"):
            raise InvalidPackage(f"The archive entry '{name[:200]}' has an absolute or non-portable path.")
        if any(part == ".." for part in name.split("/")):
            raise InvalidPackage(f"The archive entry '{name[:200]}' points outside the archive ('..').")
        if stat.S_ISLNK(mode):
            raise InvalidPackage(
                f"The archive entry '{name[:200]}' is a symbolic link; links are not accepted."
            )
        # Zips written without file-type bits (mode 0o600) are plain files; other types are not.
        if stat.S_IFMT(mode) and not (stat.S_ISREG(mode) or stat.S_ISDIR(mode)):
            raise InvalidPackage(f"The archive entry '{name[:200]}' is not a plain file or folder.")
        if info.flag_bits & 0x1:
            raise InvalidPackage(f"The archive entry '{name[:200]}' is encrypted.")
        declared += info.file_size
        if declared > limit:
            raise InvalidPackage(
                f"The archive unpacks to more than {limit} bytes (declared sizes); this engine refuses it."
            )


def _manifest_root(entries: list[zipfile.ZipInfo]) -> str:
    names = {info.filename for info in entries}
    if "manifest.json" in names:
        return ""
    # Zips made by "compress this folder" wrap everything in one top folder: accept that too.
    tops = {name.split("/", 1)[0] for name in names}
    if len(tops) == 1:
        top = tops.pop()
        if f"{top}/manifest.json" in names:
            return f"{top}/"
    raise InvalidPackage("The archive has no manifest.json at its root; it is not an unpacked extension.")


def _read_manifest(archive: zipfile.ZipFile, root: str) -> dict[str, Any]:
    info = archive.getinfo(f"{root}manifest.json")
    if info.file_size > 1024 * 1024:
        raise InvalidPackage("manifest.json is larger than 1 MB.")
    try:
        manifest = json.loads(archive.read(info).decode("utf-8-sig"))
    except (ValueError, UnicodeDecodeError, zipfile.BadZipFile) as exc:
        raise InvalidPackage(f"manifest.json is not valid JSON: {exc}.") from exc
    if not isinstance(manifest, dict):
        raise InvalidPackage("manifest.json must be a JSON object.")
    problems = []
    if not isinstance(manifest.get("name"), str) or not manifest["name"].strip():
        problems.append("a 'name'")
    if not isinstance(manifest.get("version"), str) or not manifest["version"].strip():
        problems.append("a 'version' string")
    if manifest.get("manifest_version") not in (2, 3):
        problems.append("'manifest_version' 2 or 3")
    if "permissions" in manifest and not isinstance(manifest["permissions"], list):
        problems.append("'permissions' as a list")
    if problems:
        raise InvalidPackage("manifest.json needs " + ", ".join(problems) + ".")
    manifest["name"] = manifest["name"].strip()[:200]
    manifest["version"] = manifest["version"].strip()[:64]
    return manifest


def _display_name(archive: zipfile.ZipFile, root: str, manifest: dict[str, Any]) -> str:
    """The manifest name, resolved through _locales when it is a `__MSG_x__` placeholder."""
    name: str = manifest["name"]
    if not (name.startswith("__MSG_") and name.endswith("__")):
        return name
    key = name[6:-2].lower()
    locale = manifest.get("default_locale")
    try:
        messages = json.loads(archive.read(f"{root}_locales/{locale}/messages.json").decode("utf-8-sig"))
        for message_key, value in messages.items():
            if message_key.lower() == key and isinstance(value.get("message"), str):
                return value["message"][:200] or name
    except (KeyError, ValueError, AttributeError, UnicodeDecodeError, zipfile.BadZipFile):
        pass
    return name


def install(extension_id: object, package: Package, upload: bytes) -> Path:
    """Unpack a checked package into paths.extension_unpacked_dir(id); keep the upload beside it.

    On failure nothing of the extension stays on disk.
    """
    home = paths.extension_dir(extension_id)
    home.mkdir(parents=True, exist_ok=False)
    staging = home / ".unpacking"
    try:
        staging.mkdir()
        try:
            _extract(package, staging)
        except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError) as exc:
            # A corrupt entry (bad CRC, truncated data, unknown compression) shows only on reading.
            raise InvalidPackage(f"The archive is damaged: {exc}.") from exc
        (home / "package").write_bytes(upload)
        _readable(staging)
        staging.rename(paths.extension_unpacked_dir(extension_id))
    except BaseException:
        shutil.rmtree(home, ignore_errors=True)
        raise
    return paths.extension_unpacked_dir(extension_id)


def _readable(root: Path) -> None:
    """Readable by every runtime's own uid (Chromium loads it read-only), whatever the umask."""
    for path in (root, *root.rglob("*")):
        path.chmod(0o755 if path.is_dir() else 0o644)


def remove(extension_id: object) -> None:
    shutil.rmtree(paths.extension_dir(extension_id), ignore_errors=True)


def _extract(package: Package, target: Path) -> None:
    limit = settings.EXTENSION_MAX_BYTES
    written = 0
    base = os.path.realpath(target)
    with zipfile.ZipFile(io.BytesIO(package.zip_bytes)) as archive:
        for info in archive.infolist():
            relative = info.filename[len(package.root) :] if info.filename.startswith(package.root) else None
            if not relative:
                continue  # the wrapping folder itself, or (impossible after the check) outside it
            parts = [p for p in PurePosixPath(relative).parts if p not in ("", ".")]
            if not parts:
                continue
            destination = os.path.join(base, *parts)
            # Belt and braces after the name checks: the final path must still be inside `target`.
            if os.path.commonpath([base, os.path.realpath(os.path.dirname(destination))]) != base:
                raise InvalidPackage(
                    f"The archive entry '{info.filename[:200]}' resolves outside its folder."
                )
            if info.is_dir():
                os.makedirs(destination, exist_ok=True)
                continue
            os.makedirs(os.path.dirname(destination), exist_ok=True)
            flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
            try:
                fd = os.open(destination, flags, 0o644)
            except FileExistsError as exc:
                raise InvalidPackage(f"The archive lists '{info.filename[:200]}' twice.") from exc
            with os.fdopen(fd, "wb") as out, archive.open(info) as source:
                while chunk := source.read(256 * 1024):
                    written += len(chunk)
                    if written > limit:
                        raise InvalidPackage(
                            f"The archive unpacks to more than {limit} bytes; this engine refuses it."
                        )
                    out.write(chunk)
