"""Settings of the console, read from the environment (django-environ). See .env.example."""

import ipaddress
import secrets
from pathlib import Path

import environ

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
if (BASE_DIR / ".env").exists():
    environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

VAR_DIR = Path(env.path("CONSOLE_VAR_DIR", default=str(BASE_DIR / "var"))).resolve()
VAR_DIR.mkdir(parents=True, exist_ok=True)

DEBUG = env.bool("DEBUG", default=False)


def _secret(name: str, generate_locally: bool) -> str:
    """A secret from NAME or NAME_FILE; generated once into var/ only for local (DEBUG or `up`) use."""
    value = env.str(name, default="")
    if not value and env.str(f"{name}_FILE", default=""):
        value = Path(env.str(f"{name}_FILE")).read_text().strip()
    if value:
        return value
    if not generate_locally:
        raise environ.ImproperlyConfigured(f"Set {name} (or {name}_FILE): it has no production default.")
    path = VAR_DIR / "secrets" / name.lower()
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_urlsafe(50))
        path.chmod(0o600)
    return path.read_text().strip()


# A laptop run (`manage.py up`, tests) generates its own secret; a deployment must set one.
LOCAL = env.bool("CONSOLE_LOCAL", default=True)
SECRET_KEY = _secret("SECRET_KEY", generate_locally=LOCAL)
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "[::1]", "testserver"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

# The BCTRL v1 API this console manages: the local engine by default, or the hosted service.
BCTRL_API_URL = env.str("BCTRL_API_URL", default="http://127.0.0.1:8787/v1").rstrip("/")
BCTRL_API_KEY_PATH = VAR_DIR / "secrets" / "bctrl_api_key"


def _api_key() -> str:
    value = env.str("BCTRL_API_KEY", default="")
    if not value and env.str("BCTRL_API_KEY_FILE", default=""):
        value = Path(env.str("BCTRL_API_KEY_FILE")).read_text().strip()
    if not value and BCTRL_API_KEY_PATH.exists():
        value = BCTRL_API_KEY_PATH.read_text().strip()  # written by `manage.py up`
    return value


BCTRL_API_KEY = _api_key()
BCTRL_TIMEOUT_SECONDS = env.float("BCTRL_TIMEOUT_SECONDS", default=15.0)
BCTRL_RETRIES = env.int("BCTRL_RETRIES", default=2)

INSTALLED_APPS = [
    "daphne",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_htmx",
    "template_partials",
    "channels",
    "dashboard.accounts",
    "dashboard.audit",
    "dashboard.front",
]

MIDDLEWARE = [
    "dashboard.front.middleware.client_address",
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.auth.middleware.LoginRequiredMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "dashboard.front.middleware.content_security_policy",
]

ROOT_URLCONF = "dashboard.urls"
ASGI_APPLICATION = "dashboard.asgi.application"
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "dashboard.accounts.context_processors.role",
            ],
        },
    }
]

DATABASES = {"default": env.db_url("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'console.sqlite3'}")}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"].setdefault("OPTIONS", {}).update({"timeout": 20, "transaction_mode": "IMMEDIATE"})

REDIS_URL = env.str("REDIS_URL", default="")
# Redis, when set, is shared by every console process: the channel layer and the cache (the
# sign-in limit counts failures there). Without it each process keeps its own, in memory.
CACHES = {
    "default": (
        {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}
        if REDIS_URL
        else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
    )
}
CHANNEL_LAYERS = {
    "default": (
        {"BACKEND": "channels_redis.core.RedisChannelLayer", "CONFIG": {"hosts": [REDIS_URL]}}
        if REDIS_URL
        else {"BACKEND": "channels.layers.InMemoryChannelLayer"}
    )
}

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "overview"
LOGOUT_REDIRECT_URL = "login"
LOGIN_RATE_LIMIT = env.int("LOGIN_RATE_LIMIT", default=10)  # failed sign-ins per 15 minutes per user+IP
# Failed sign-ins per 15 minutes from one address, whatever the names tried (guessing many users).
LOGIN_ADDRESS_RATE_LIMIT = env.int("LOGIN_ADDRESS_RATE_LIMIT", default=50)
# Reverse proxies (addresses or CIDR networks) whose X-Forwarded-For the console believes; the
# client address of a request from anyone else is its own peer address, whatever it claims.
TRUSTED_PROXIES = [ipaddress.ip_network(p, strict=False) for p in env.list("TRUSTED_PROXIES", default=[])]

LANGUAGE_CODE = "en-us"
TIME_ZONE = env.str("TIME_ZONE", default="UTC")
USE_I18N = False
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = VAR_DIR / "staticfiles"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Security headers. HTTPS deployments set SECURE_COOKIES=true (and a proxy header if needed).
SECURE_COOKIES = env.bool("SECURE_COOKIES", default=False)
SESSION_COOKIE_SECURE = SECURE_COOKIES
CSRF_COOKIE_SECURE = SECURE_COOKIES
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=False)
SECURE_HSTS_SECONDS = 31536000 if SECURE_COOKIES else 0
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
if env.str("SECURE_PROXY_SSL_HEADER", default=""):
    SECURE_PROXY_SSL_HEADER = (env.str("SECURE_PROXY_SSL_HEADER"), "https")

MESSAGE_STORAGE = "django.contrib.messages.storage.session.SessionStorage"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    # one line per upstream request is noise; the client logs retries and failures itself
    "loggers": {"httpx": {"level": "WARNING"}, "httpcore": {"level": "WARNING"}},
}
