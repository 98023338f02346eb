"""Settings of the engine, read from the environment (django-environ).

Everything the engine keeps lives under ENGINE_VAR_DIR: its SQLite database, storage blobs,
extension packages, profile data dirs and the generated local secrets.
"""

import secrets
from pathlib import Path

import environ

from engine.runtimes import chromium

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
if (BASE_DIR / ".env").exists():
    environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

VAR_DIR = Path(env.path("ENGINE_VAR_DIR", default=str(BASE_DIR / "var" / "engine"))).resolve()
VAR_DIR.mkdir(parents=True, exist_ok=True)


def _local_secret(name: str, maker: "type[str] | None" = None) -> str:
    """A secret from the environment (or NAME_FILE), else generated once into VAR_DIR.

    Generating is what makes `up` work on a laptop with no set-up; a deployment sets the
    variable (or its _FILE twin) and nothing is generated.
    """
    value = env.str(name, default="")
    if not value and env.str(f"{name}_FILE", default=""):
        value = Path(env.str(f"{name}_FILE")).read_text().strip()
    if value:
        return value
    path = VAR_DIR / "secrets" / name.lower()
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.parent.chmod(0o700)
        if name == "ENGINE_VAULT_KEY":
            from cryptography.fernet import Fernet

            generated = Fernet.generate_key().decode()
        else:
            generated = secrets.token_urlsafe(48)
        path.write_text(generated)
        path.chmod(0o600)
    return path.read_text().strip()


def _optional_secret(name: str) -> str:
    """A secret from the environment or NAME_FILE, or "" when neither is set (nothing generated)."""
    value = env.str(name, default="")
    if not value and env.str(f"{name}_FILE", default=""):
        value = Path(env.str(f"{name}_FILE")).read_text().strip()
    return value


SECRET_KEY = _local_secret("ENGINE_SECRET_KEY")
VAULT_KEY = _local_secret("ENGINE_VAULT_KEY")
DEBUG = env.bool("ENGINE_DEBUG", default=False)
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
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
USE_TZ = True
TIME_ZONE = "UTC"
DATA_UPLOAD_MAX_MEMORY_SIZE = None  # storage uploads are bounded by STORAGE_MAX_BYTES instead
FILE_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024

CHROMIUM_PATH = env.str("CHROMIUM_PATH", default=chromium.DEFAULT_EXECUTABLE)
ORGANIZATION_NAME = env.str("ENGINE_ORGANIZATION_NAME", default="Local engine")
MAX_ACTIVE_RUNTIMES = env.int("ENGINE_MAX_ACTIVE_RUNTIMES", default=20)
DEFAULT_IDLE_TIMEOUT_SECONDS = env.int("ENGINE_IDLE_TIMEOUT_SECONDS", default=900)
STORAGE_MAX_BYTES = env.int("ENGINE_STORAGE_MAX_BYTES", default=100 * 1024 * 1024)
EXTENSION_MAX_BYTES = env.int("ENGINE_EXTENSION_MAX_BYTES", default=50 * 1024 * 1024)
# Requests per minute per API key before 429 rate_limited; 0 turns the limit off.
RATE_LIMIT_PER_MINUTE = env.int("ENGINE_RATE_LIMIT_PER_MINUTE", default=6000)

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
RECORDING_ENABLED = env.bool("ENGINE_RECORDING_ENABLED", default=True)
RECORDING_FRAME_INTERVAL_MS = env.int("ENGINE_RECORDING_FRAME_INTERVAL_MS", default=500)
RECORDING_MAX_BYTES = env.int("ENGINE_RECORDING_MAX_BYTES", default=100 * 1024 * 1024)
RECORDING_MAX_SECONDS = env.int("ENGINE_RECORDING_MAX_SECONDS", default=2 * 3600)
RECORDING_RETENTION_SECONDS = env.int("ENGINE_RECORDING_RETENTION_SECONDS", default=7 * 24 * 3600)


def _check_live_settings() -> None:
    """Refuse values that would make live view unsafe or meaningless, at start, loudly."""
    from django.core.exceptions import ImproperlyConfigured

    if not DEBUG and any(source.strip() in ("*", "http:", "https:") for source in EMBED_FRAME_ANCESTORS):
        raise ImproperlyConfigured(
            "ENGINE_EMBED_FRAME_ANCESTORS must name origins (e.g. https://console.example.com): "
            "'*' would let any site frame a live browser. It is accepted only with ENGINE_DEBUG=true."
        )
    if not 1 <= LIVE_JPEG_QUALITY <= 100:
        raise ImproperlyConfigured("ENGINE_LIVE_JPEG_QUALITY must be from 1 to 100.")
    if not 0 < EMBED_TOKEN_TTL_SECONDS <= EMBED_TOKEN_MAX_TTL_SECONDS:
        raise ImproperlyConfigured(
            "ENGINE_EMBED_TOKEN_TTL_SECONDS must be positive and at most ENGINE_EMBED_TOKEN_MAX_TTL_SECONDS."
        )
    positive = {
        "ENGINE_RECORDING_FRAME_INTERVAL_MS": RECORDING_FRAME_INTERVAL_MS,
        "ENGINE_RECORDING_MAX_BYTES": RECORDING_MAX_BYTES,
        "ENGINE_RECORDING_MAX_SECONDS": RECORDING_MAX_SECONDS,
        "ENGINE_RECORDING_RETENTION_SECONDS": RECORDING_RETENTION_SECONDS,
    }
    for name, value in positive.items():
        if value <= 0:
            raise ImproperlyConfigured(f"{name} must be a positive number.")


_check_live_settings()

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env.str("ENGINE_LOG_LEVEL", default="INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}
