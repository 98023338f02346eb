"""Where the engine keeps blobs on disk, under ENGINE_VAR_DIR. One place, so every room agrees."""

from pathlib import Path

from django.conf import settings


def var_dir() -> Path:
    return Path(settings.VAR_DIR)


def profile_user_data_dir(profile_id: object) -> Path:
    """The persistent Chromium --user-data-dir of a browser profile."""
    return var_dir() / "profiles" / str(profile_id) / "user-data"


def extension_dir(extension_id: object) -> Path:
    """An uploaded extension: `package` (the upload as received) and `unpacked/` (what Chromium loads)."""
    return var_dir() / "extensions" / str(extension_id)


def extension_unpacked_dir(extension_id: object) -> Path:
    return extension_dir(extension_id) / "unpacked"


def storage_blob_dir() -> Path:
    return var_dir() / "storage" / "blobs"


def runtime_scratch_dir(runtime_id: object) -> Path:
    """Per-runtime temporary files (ephemeral user-data dir, downloads in flight)."""
    return var_dir() / "runtimes" / str(runtime_id)


def recording_dir(runtime_id: object) -> Path:
    """A runtime's recording: per tab, its JPEG frames end to end and a fixed-width index."""
    return var_dir() / "recordings" / str(runtime_id)


def network_dir(runtime_id: object) -> Path:
    """A run's kept response bodies (engine/runtimes/network.py), one file per request id."""
    return var_dir() / "network" / str(runtime_id)


def browser_launcher_dir() -> Path:
    """The Chromium launcher the engine writes at start (engine/egress/launcher.py)."""
    return var_dir() / "browser"


def hidden_from_browsers() -> list[Path]:
    """What a runtime's browser must never read, even through a scheme that slipped past the policy:
    the engine's secrets, its SQLite database (with its journal files), every storage blob and
    every runtime's recording and kept response bodies."""
    hidden = [var_dir() / "secrets", storage_blob_dir(), var_dir() / "recordings", var_dir() / "network"]
    if settings.VAULT_KEY_PATH is not None:
        hidden.append(settings.VAULT_KEY_PATH)
    database = settings.DATABASES["default"]
    if database["ENGINE"] == "django.db.backends.sqlite3":
        name = Path(str(database["NAME"]))
        hidden += [name, *(name.with_name(name.name + tail) for tail in ("-wal", "-shm", "-journal"))]
    return hidden
