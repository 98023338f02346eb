"""Settings of the engine, read from the environment (django-environ).

Everything the engine keeps lives under ENGINE_VAR_DIR (its SQLite database, storage blobs,
extension packages, profile data dirs) except its secrets, which are given (ENGINE_VAULT_KEY,
ENGINE_SECRET_KEY or their _FILE twins) or, while ENGINE_LOCAL=true, generated beside it.
"""

import os
import secrets
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

from engine import logs
from engine.egress.policy import parse_allow
from engine.runtimes import chromium

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
if (BASE_DIR / ".env").exists():
    environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

VAR_DIR = Path(env.path("ENGINE_VAR_DIR", default=str(BASE_DIR / "var" / "engine"))).resolve()
VAR_DIR.mkdir(parents=True, exist_ok=True)
if VAR_DIR.stat().st_uid == os.geteuid():
    VAR_DIR.chmod(0o700)  # the database, profiles and blobs are the engine's alone


# Local use (`bin/up` on a laptop) generates the engine's secrets on first start; a deployment
# (ENGINE_LOCAL=false) must be given them, and stops at start with the name of what is missing.
LOCAL = env.bool("ENGINE_LOCAL", default=True)
# Generated secrets live beside ENGINE_VAR_DIR, never inside it: runtimes' browsers work in that
# tree, and the vault key plus the database would decrypt every vault secret and AI key offline.
LOCAL_SECRETS_DIR = Path(
    env.path("ENGINE_LOCAL_SECRETS_DIR", default=str(VAR_DIR.parent / "secrets"))
).resolve()


def _secret(name: str) -> tuple[str, Path | None]:
    """A secret and the file it came from: NAME, else NAME_FILE, else (local only) generated once."""
    value = env.str(name, default="")
    if value:
        return value, None
    if env.str(f"{name}_FILE", default=""):
        path = Path(env.str(f"{name}_FILE")).resolve()
        return path.read_text().strip(), path
    if not LOCAL:
        raise ImproperlyConfigured(
            f"{name} (or {name}_FILE) must be set when ENGINE_LOCAL=false; generate one with "
            + (
                "`python -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())'`"
                if name == "ENGINE_VAULT_KEY"
                else "`python -c 'import secrets; print(secrets.token_urlsafe(48))'`"
            )
            + f" and keep it outside ENGINE_VAR_DIR ({VAR_DIR})."
        )
    return _generated(name), LOCAL_SECRETS_DIR / name.lower()


def _generated(name: str) -> str:
    path = LOCAL_SECRETS_DIR / name.lower()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.parent.chmod(0o700)
    legacy = VAR_DIR / "secrets" / name.lower()  # where earlier versions kept it: move it out
    if legacy.exists() and not path.exists():
        os.replace(legacy, path)
    if name == "ENGINE_VAULT_KEY":
        from cryptography.fernet import Fernet

        generated = Fernet.generate_key().decode()
    else:
        generated = secrets.token_urlsafe(48)
    try:  # O_EXCL: two engines starting together agree on one key
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text().strip()
    with os.fdopen(descriptor, "w") as file:
        file.write(generated)
    return generated


VAULT_KEY, VAULT_KEY_PATH = _secret("ENGINE_VAULT_KEY")
SECRET_KEY, _ = _secret("ENGINE_SECRET_KEY")


def _optional_secret(name: str) -> str:
    """A secret from the environment or NAME_FILE, or "" when neither is set (nothing generated)."""
    value = env.str(name, default="")
    if not value and env.str(f"{name}_FILE", default=""):
        value = Path(env.str(f"{name}_FILE")).read_text().strip()
    return value


# /metrics answers only this bearer token; unset, metrics are off (engine/api/probes.py).
METRICS_TOKEN = _optional_secret("ENGINE_METRICS_TOKEN")

DEBUG = env.bool("ENGINE_DEBUG", default=False)
# Runtimes may reach loopback/private addresses only where this names them (host, host:port or
# CIDR, comma-separated); the engine's own ports never. Parsed here so a typo stops the start.
EGRESS_ALLOW = env.str("ENGINE_EGRESS_ALLOW", default="")
parse_allow(EGRESS_ALLOW)
ALLOWED_HOSTS = env.list("ENGINE_ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "[::1]"])
# The public base URL of the engine, used for iframe URLs it hands out.
PUBLIC_URL = env.str("ENGINE_PUBLIC_URL", default="")

INSTALLED_APPS = ["engine"]
MIDDLEWARE = [
    "engine.api.middleware.request_id_middleware",
    "engine.api.middleware.method_not_allowed_middleware",
]
ROOT_URLCONF = "engine.urls"
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {},
    }
]
DATABASES = {"default": env.db_url("ENGINE_DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'engine.sqlite3'}")}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # IMMEDIATE: a transaction takes the write lock when it begins, so two writers queue on the
    # busy timeout instead of one failing at once with "database is locked" when it upgrades.
    DATABASES["default"].setdefault("OPTIONS", {}).update({"timeout": 20, "transaction_mode": "IMMEDIATE"})
elif DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # a database that does not answer fails a query (and /readyz) in seconds, not minutes
    DATABASES["default"].setdefault("OPTIONS", {}).setdefault("connect_timeout", 5)
# The engine's ORM work runs on one thread (engine/asgi.py), which keeps its connection for good;
# engine/lifecycle.py closes it when it breaks or is due (never per request).
DATABASES["default"]["CONN_MAX_AGE"] = None
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
USE_TZ = True
TIME_ZONE = "UTC"
# Request bodies are bounded before they are read by engine/api/guard.py (per route); Django's
# own limits say the same for what it parses: JSON and form fields in memory up to the JSON
# limit, uploaded files spooled to disk past 5 MB (storage objects are streamed, not parsed).
JSON_MAX_BYTES = env.int("ENGINE_JSON_MAX_BYTES", default=1024 * 1024)
DATA_UPLOAD_MAX_MEMORY_SIZE = JSON_MAX_BYTES
FILE_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
DATA_UPLOAD_MAX_NUMBER_FILES = 5

CHROMIUM_PATH = env.str("CHROMIUM_PATH", default=chromium.DEFAULT_EXECUTABLE)
# Runtimes run isolated (engine/egress/launcher.py): each browser in network and mount namespaces
# of its own, as one uid of ENGINE_BROWSER_UID .. + ENGINE_BROWSER_UID_COUNT - 1 (no accounts
# needed), with Chromium's sandbox on. Where the engine cannot isolate them (not root, no
# namespaces) it refuses to launch runtimes unless ENGINE_ALLOW_UNISOLATED=true.
BROWSER_UID = env.int("ENGINE_BROWSER_UID", default=61287)
BROWSER_UID_COUNT = env.int("ENGINE_BROWSER_UID_COUNT", default=1000)
ALLOW_UNISOLATED = env.bool("ENGINE_ALLOW_UNISOLATED", default=False)
# What one runtime may download (all its downloads together, and how many), checked as the
# bytes arrive; a download past either is cancelled (`download.refused`).
DOWNLOAD_MAX_BYTES = env.int("ENGINE_DOWNLOAD_MAX_BYTES", default=500 * 1024 * 1024)
DOWNLOAD_MAX_COUNT = env.int("ENGINE_DOWNLOAD_MAX_COUNT", default=100)
ORGANIZATION_NAME = env.str("ENGINE_ORGANIZATION_NAME", default="Local engine")
MAX_ACTIVE_RUNTIMES = env.int("ENGINE_MAX_ACTIVE_RUNTIMES", default=20)
# Browsers launched ahead for default-shaped ephemeral launches (engine/runtimes/pool.py); 0: none.
WARM_POOL_SIZE = env.int("ENGINE_WARM_POOL_SIZE", default=1)
DEFAULT_IDLE_TIMEOUT_SECONDS = env.int("ENGINE_IDLE_TIMEOUT_SECONDS", default=900)
# Per-key limits (0 turns one off): what one API key may hold at once, and for how long.
MAX_RUNTIMES_PER_KEY = env.int("ENGINE_MAX_RUNTIMES_PER_KEY", default=10)
MAX_WAITS_PER_KEY = env.int("ENGINE_MAX_WAITS_PER_KEY", default=20)
MAX_EXECUTE_SECONDS = env.int("ENGINE_MAX_EXECUTE_SECONDS", default=600)
MAX_IDLE_TIMEOUT_SECONDS = env.int("ENGINE_MAX_IDLE_TIMEOUT_SECONDS", default=24 * 3600)
STORAGE_MAX_BYTES = env.int("ENGINE_STORAGE_MAX_BYTES", default=100 * 1024 * 1024)
EXTENSION_MAX_BYTES = env.int("ENGINE_EXTENSION_MAX_BYTES", default=50 * 1024 * 1024)
# How long an Idempotency-Key's first response is replayed (then it is forgotten).
IDEMPOTENCY_TTL_SECONDS = env.int("ENGINE_IDEMPOTENCY_TTL_SECONDS", default=24 * 3600)
# Requests per minute per API key before 429 rate_limited; 0 turns the limit off.
RATE_LIMIT_PER_MINUTE = env.int("ENGINE_RATE_LIMIT_PER_MINUTE", default=6000)
# Admission (engine/api/guard.py): requests served at once before 503 server.busy, and long polls
# and update streams at once (counted apart: they are meant to stay open).
MAX_REQUESTS_IN_FLIGHT = env.int("ENGINE_MAX_REQUESTS_IN_FLIGHT", default=256)
MAX_STREAMS_IN_FLIGHT = env.int("ENGINE_MAX_STREAMS_IN_FLIGHT", default=1000)
# Requests without a valid API key or embed token (a typo'd key, the viewer's assets, anything
# else) at once, counted apart: they never take the capacity keyed callers share.
MAX_UNAUTHENTICATED_IN_FLIGHT = env.int("ENGINE_MAX_UNAUTHENTICATED_IN_FLIGHT", default=32)
# A request body must arrive at least this fast (bytes per second, after its first second) or
# the request is cut with 408 request.timeout; 0 turns the floor off.
BODY_MIN_BYTES_PER_SECOND = env.int("ENGINE_BODY_MIN_BYTES_PER_SECOND", default=64 * 1024)
# How long a request's line and headers may take to arrive (then 408 and the connection closes).
HEADERS_TIMEOUT_SECONDS = env.float("ENGINE_HEADERS_TIMEOUT_SECONDS", default=5.0)
# How long an idle keep-alive connection stays open: well past the time clients keep theirs pooled
# (httpx and the console: 5 s), so the server never closes one just as a request is sent on it
# (uvicorn's own default, 5 s, was the same as httpx's: that race dropped requests under load).
KEEP_ALIVE_SECONDS = env.int("ENGINE_KEEP_ALIVE_SECONDS", default=75)

# The "platform" AI credential (agent calls with `config.auth: "platform"`): off unless set.
AI_PROVIDER = env.str("ENGINE_AI_PROVIDER", default="")
AI_API_KEY = _optional_secret("ENGINE_AI_API_KEY")
AI_BASE_URL = env.str("ENGINE_AI_BASE_URL", default="")
AI_MODEL = env.str("ENGINE_AI_MODEL", default="")
if AI_PROVIDER and AI_PROVIDER not in ("openai", "anthropic", "google", "openai-compatible"):
    raise ValueError(
        f"ENGINE_AI_PROVIDER={AI_PROVIDER!r}: use openai, anthropic, google or openai-compatible."
    )
if AI_PROVIDER == "openai-compatible" and not AI_BASE_URL:
    raise ValueError("ENGINE_AI_PROVIDER=openai-compatible needs ENGINE_AI_BASE_URL.")
# One model request: seconds to wait for an answer, and tries after the first on 429/5xx/timeouts.
AI_TIMEOUT_SECONDS = env.float("ENGINE_AI_TIMEOUT_SECONDS", default=60.0)
AI_MAX_RETRIES = env.int("ENGINE_AI_MAX_RETRIES", default=2)

# Live view and recordings (engine/live/).
EMBED_TOKEN_TTL_SECONDS = env.int("ENGINE_EMBED_TOKEN_TTL_SECONDS", default=3600)
EMBED_TOKEN_MAX_TTL_SECONDS = env.int("ENGINE_EMBED_TOKEN_MAX_TTL_SECONDS", default=24 * 3600)
# Who may frame the viewer and player pages (CSP frame-ancestors): the console's origin, which is
# loopback unless you deploy it elsewhere. Name your console's origin here when it is not.
EMBED_FRAME_ANCESTORS = env.list(
    "ENGINE_EMBED_FRAME_ANCESTORS",
    default=[
        "'self'",
        "http://127.0.0.1:*",
        "http://localhost:*",
        "https://127.0.0.1:*",
        "https://localhost:*",
    ],  # CSP cannot name IPv6 literals such as [::1]: a console there must be reached by name
)
LIVE_JPEG_QUALITY = env.int("ENGINE_LIVE_JPEG_QUALITY", default=70)
# A thumbnail viewer (a wall of runtimes) gets at most one frame per interval, and while only
# thumbnails watch, the screencast is sampled at that interval instead of running at full rate.
LIVE_THUMBNAIL_INTERVAL_MS = env.int("ENGINE_LIVE_THUMBNAIL_INTERVAL_MS", default=1000)
RECORDING_ENABLED = env.bool("ENGINE_RECORDING_ENABLED", default=True)
# A recording takes at most one frame per tab per interval while the page changes (80 ms: up to
# 12.5 frames per second, so at least 10 on a busy machine), and none while it does not.
RECORDING_FRAME_INTERVAL_MS = env.int("ENGINE_RECORDING_FRAME_INTERVAL_MS", default=80)
RECORDING_JPEG_QUALITY = env.int("ENGINE_RECORDING_JPEG_QUALITY", default=60)
# ... and every tab of every runtime together at most this many frames per second: past it, each
# changing tab gets an equal share, so recordings never take the CPU the runtimes need.
RECORDING_MAX_FPS = env.int("ENGINE_RECORDING_MAX_FPS", default=50)
RECORDING_MAX_BYTES = env.int("ENGINE_RECORDING_MAX_BYTES", default=100 * 1024 * 1024)
RECORDING_MAX_SECONDS = env.int("ENGINE_RECORDING_MAX_SECONDS", default=2 * 3600)
RECORDING_RETENTION_SECONDS = env.int("ENGINE_RECORDING_RETENTION_SECONDS", default=7 * 24 * 3600)
# Video exports of recordings (PyAV in a child process each) running at once; more get 429.
RECORDING_EXPORTS_MAX = env.int("ENGINE_RECORDING_EXPORTS_MAX", default=2)
# What a run keeps of its network besides its events: the bodies of text responses, each up to
# NETWORK_BODY_MAX_BYTES and together up to NETWORK_BODIES_MAX_BYTES per run, for
# NETWORK_RETENTION_SECONDS after the run ended (the events stay as long as the run).
NETWORK_BODY_MAX_BYTES = env.int("ENGINE_NETWORK_BODY_MAX_BYTES", default=1024 * 1024)
NETWORK_BODIES_MAX_BYTES = env.int("ENGINE_NETWORK_BODIES_MAX_BYTES", default=25 * 1024 * 1024)
NETWORK_RETENTION_SECONDS = env.int("ENGINE_NETWORK_RETENTION_SECONDS", default=RECORDING_RETENTION_SECONDS)

# The CDP gateway (engine/gateway/): connect URLs live this long by default (a client connects
# with it at once; an open connection outlives it), at most the max; per API key, open
# connections and messages per second across them (0: no limit).
CDP_TOKEN_TTL_SECONDS = env.int("ENGINE_CDP_TOKEN_TTL_SECONDS", default=300)
CDP_TOKEN_MAX_TTL_SECONDS = env.int("ENGINE_CDP_TOKEN_MAX_TTL_SECONDS", default=3600)
CDP_MAX_CONNECTIONS_PER_KEY = env.int("ENGINE_CDP_MAX_CONNECTIONS_PER_KEY", default=5)
CDP_MAX_MESSAGES_PER_SECOND = env.int("ENGINE_CDP_MAX_MESSAGES_PER_SECOND", default=1000)


def _check_live_settings() -> None:
    """Refuse values that would make live view unsafe or meaningless, at start, loudly."""
    from django.core.exceptions import ImproperlyConfigured

    if not DEBUG and any(source.strip() in ("*", "http:", "https:") for source in EMBED_FRAME_ANCESTORS):
        raise ImproperlyConfigured(
            "ENGINE_EMBED_FRAME_ANCESTORS must name origins (e.g. https://console.example.com): "
            "'*' would let any site frame a live browser. It is accepted only with ENGINE_DEBUG=true."
        )
    for name, quality in (
        ("ENGINE_LIVE_JPEG_QUALITY", LIVE_JPEG_QUALITY),
        ("ENGINE_RECORDING_JPEG_QUALITY", RECORDING_JPEG_QUALITY),
    ):
        if not 1 <= quality <= 100:
            raise ImproperlyConfigured(f"{name} must be from 1 to 100.")
    if not 0 < EMBED_TOKEN_TTL_SECONDS <= EMBED_TOKEN_MAX_TTL_SECONDS:
        raise ImproperlyConfigured(
            "ENGINE_EMBED_TOKEN_TTL_SECONDS must be positive and at most ENGINE_EMBED_TOKEN_MAX_TTL_SECONDS."
        )
    if not 0 < CDP_TOKEN_TTL_SECONDS <= CDP_TOKEN_MAX_TTL_SECONDS:
        raise ImproperlyConfigured(
            "ENGINE_CDP_TOKEN_TTL_SECONDS must be positive and at most ENGINE_CDP_TOKEN_MAX_TTL_SECONDS."
        )
    positive = {
        "ENGINE_RECORDING_FRAME_INTERVAL_MS": RECORDING_FRAME_INTERVAL_MS,
        "ENGINE_LIVE_THUMBNAIL_INTERVAL_MS": LIVE_THUMBNAIL_INTERVAL_MS,
        "ENGINE_RECORDING_MAX_BYTES": RECORDING_MAX_BYTES,
        "ENGINE_RECORDING_MAX_SECONDS": RECORDING_MAX_SECONDS,
        "ENGINE_RECORDING_RETENTION_SECONDS": RECORDING_RETENTION_SECONDS,
        "ENGINE_RECORDING_EXPORTS_MAX": RECORDING_EXPORTS_MAX,
        "ENGINE_RECORDING_MAX_FPS": RECORDING_MAX_FPS,
        "ENGINE_NETWORK_BODY_MAX_BYTES": NETWORK_BODY_MAX_BYTES,
        "ENGINE_NETWORK_BODIES_MAX_BYTES": NETWORK_BODIES_MAX_BYTES,
        "ENGINE_NETWORK_RETENTION_SECONDS": NETWORK_RETENTION_SECONDS,
    }
    for name, value in positive.items():
        if value <= 0:
            raise ImproperlyConfigured(f"{name} must be a positive number.")


_check_live_settings()

# One line per record on stderr: plain, or JSON with the request id (engine/logs.py).
LOG_FORMAT = env.str("ENGINE_LOG_FORMAT", default=env.str("LOG_FORMAT", default="plain"))
LOGGING = logs.logging_config(LOG_FORMAT, env.str("ENGINE_LOG_LEVEL", default="INFO"))
# A line per request answered (method, path, status, time, request id); off by default (load).
ACCESS_LOG = env.bool("ENGINE_ACCESS_LOG", default=env.bool("ACCESS_LOG", default=False))
