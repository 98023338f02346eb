"""Settings of the console, read from the environment (django-environ). See .env.example.

Importing this module writes nothing, except on a laptop (CONSOLE_LOCAL=true, the default):
there it creates CONSOLE_VAR_DIR and generates the secrets nobody gave, under var/secrets/.
"""

import contextlib
import ipaddress
import os
import secrets
import sys
from pathlib import Path
from typing import Any

import environ
from django.core.exceptions import ImproperlyConfigured
from django.db.backends.signals import connection_created

from dashboard import logs
from dashboard.alerts.egress import parse_allow  # the alerts' egress rule: pure, no Django

BASE_DIR = Path(__file__).resolve().parent.parent

# FileAwareEnv: every NAME may also come from the file NAME_FILE names (Docker/Kubernetes secrets).
env = environ.FileAwareEnv()
if (BASE_DIR / ".env").exists():
    environ.FileAwareEnv.read_env(BASE_DIR / ".env", overwrite=False)

VAR_DIR = Path(env.path("CONSOLE_VAR_DIR", default=str(BASE_DIR / "var"))).resolve()
DEBUG = env.bool("DEBUG", default=False)
# A laptop run (`manage.py up`, tests) makes what it lacks under var/; a deployment sets
# CONSOLE_LOCAL=false, gives every secret itself and gets a loud refusal when one is missing.
LOCAL = env.bool("CONSOLE_LOCAL", default=True)
# `manage.py <command> --help` (or `manage.py help`) only prints: it must not make var/ or a secret
# in the checkout it is asked about, so it gets a secret that lives as long as the process.
ONLY_HELP = Path(sys.argv[0]).name == "manage.py" and (
    bool({"-h", "--help"} & set(sys.argv[1:])) or sys.argv[1:2] in (["help"], [])
)
if LOCAL and not ONLY_HELP:
    VAR_DIR.mkdir(mode=0o700, parents=True, exist_ok=True)


def _private(path: Path, directory: bool = False) -> None:
    """The console's own files are its alone (0700/0600), whoever else runs on the host."""
    with contextlib.suppress(OSError):
        if path.stat().st_uid == os.geteuid():
            path.chmod(0o700 if directory else 0o600)


if VAR_DIR.is_dir():
    _private(VAR_DIR, directory=True)


def secret(name: str) -> str:
    """The one reader of secrets: NAME, or the file NAME_FILE names; '' when neither is set.

    Read raw (django-environ would treat a value starting with `$` as a reference to another
    variable) and stripped of the newline a secret file usually ends with.
    """
    try:
        return (env.ENVIRON.get(name) or "").strip()
    except OSError as error:
        raise ImproperlyConfigured(
            f"{name}_FILE names {os.environ.get(name + '_FILE')!r}, which cannot be read ({error.strerror}). "
            f"Point it at a readable file holding the value, or set {name} instead."
        ) from error


def _generated_secret(name: str) -> str:
    """A secret nobody gave: made once into var/secrets/ on a laptop, refused in a deployment."""
    if ONLY_HELP:
        return secrets.token_urlsafe(50)
    if not LOCAL:
        raise ImproperlyConfigured(
            f"{name} is not set, and CONSOLE_LOCAL=false means nothing is generated. Set {name} "
            f"(or {name}_FILE, a file holding it) to a long random string, e.g. the output of "
            "`python -c 'import secrets; print(secrets.token_urlsafe(50))'`; keep it the same across "
            "restarts and processes. On a laptop, CONSOLE_LOCAL=true generates one under var/secrets/."
        )
    path = VAR_DIR / "secrets" / name.lower()
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    _private(path.parent, directory=True)
    try:
        # O_EXCL: two processes starting at once keep one secret; 0600 from the first byte
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text().strip()
    with os.fdopen(descriptor, "w") as file:
        file.write(secrets.token_urlsafe(50))
    sys.stderr.write(f"Generated {name} into {path} (CONSOLE_LOCAL=true). A deployment sets {name}.\n")
    return path.read_text().strip()


SECRET_KEY = secret("SECRET_KEY") or _generated_secret("SECRET_KEY")
# Tests add the test client's `testserver` themselves (Django's test set-up does).
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

# The BCTRL v1 API this console manages: the local engine by default, or the hosted service.
BCTRL_API_URL = env.str("BCTRL_API_URL", default="http://127.0.0.1:8787/v1").rstrip("/")
BCTRL_API_KEY_PATH = VAR_DIR / "secrets" / "bctrl_api_key"  # written by `manage.py up`
BCTRL_API_KEY = secret("BCTRL_API_KEY") or (
    BCTRL_API_KEY_PATH.read_text().strip() if BCTRL_API_KEY_PATH.exists() else ""
)
BCTRL_TIMEOUT_SECONDS = env.float("BCTRL_TIMEOUT_SECONDS", default=15.0)
BCTRL_RETRIES = env.int("BCTRL_RETRIES", default=2)
# Upstream calls one console process has in flight at once; more wait their turn (bench/load.py).
BCTRL_MAX_CALLS_IN_FLIGHT = env.int("BCTRL_MAX_CALLS_IN_FLIGHT", default=16)
if BCTRL_MAX_CALLS_IN_FLIGHT < 1:
    raise ImproperlyConfigured(
        f"BCTRL_MAX_CALLS_IN_FLIGHT is {BCTRL_MAX_CALLS_IN_FLIGHT}; it counts calls: 1 or more."
    )
# A Server-Timing header (app, identity, upstream, render) on every response: where a page's time
# goes (bench/console_pages.py). Off by default: it tells any client how long the API took.
CONSOLE_SERVER_TIMING = env.bool("CONSOLE_SERVER_TIMING", default=False)

# Alerts (dashboard/alerts): webhooks go to public addresses only, unless this names a loopback or
# private destination (host, host:port, address[:port] or CIDR, comma-separated; parsed here so a
# typo stops the start). E-mail goes through Django's e-mail backend, configured by EMAIL_URL
# (smtp://user:password@host:587/?tls=True; consolemail:// prints them; default: smtp on localhost).
ALERT_WEBHOOK_ALLOW = env.str("ALERT_WEBHOOK_ALLOW", default="")
ALERT_WEBHOOK_ALLOW_ENTRIES = parse_allow(ALERT_WEBHOOK_ALLOW)
ALERT_EMAIL_FROM = env.str("ALERT_EMAIL_FROM", default="BCTRL Console <bctrl-console@localhost>")
# EMAIL_BACKEND, EMAIL_HOST, EMAIL_PORT, EMAIL_HOST_USER, EMAIL_HOST_PASSWORD, EMAIL_USE_TLS...
# (EMAIL_URL_FILE: the URL, password included, from a secret file)
globals().update(env.email_url("EMAIL_URL", default="smtp://localhost:25"))
# Whether this process evaluates alert rules (every console process does by default; see
# dashboard/alerts/watch.py for why they fire once across processes).
ALERTS_ENABLED = env.bool("ALERTS_ENABLED", default=True)

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
    "dashboard.alerts",
    "dashboard.front",
    "dashboard.live",
    "dashboard.devserver",
]

MIDDLEWARE = [
    # /healthz, /readyz and /metrics, answered before the rest (and whatever the Host header says)
    "dashboard.probes.probes_middleware",
    "dashboard.front.middleware.request_id",
    "dashboard.front.middleware.server_timing",
    "dashboard.front.middleware.client_address",
    # Django's own middleware, run on the event loop instead of in worker threads (see the module)
    "dashboard.front.middleware.SecurityMiddleware",
    "dashboard.front.middleware.SessionMiddleware",
    "dashboard.front.middleware.CommonMiddleware",
    "dashboard.front.middleware.CsrfViewMiddleware",
    "dashboard.front.middleware.AuthenticationMiddleware",
    # the session, the user and their role in one hop, cached (dashboard/accounts/identity.py)
    "dashboard.accounts.identity.identity_middleware",
    "dashboard.front.middleware.LoginRequiredMiddleware",
    "dashboard.front.middleware.MessageMiddleware",
    "dashboard.accounts.time_zones.time_zone_middleware",
    "dashboard.front.middleware.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "dashboard.front.middleware.content_security_policy",
    "dashboard.front.middleware.styled_method_not_allowed",
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
                "dashboard.live.context_processors.live",
                "dashboard.accounts.time_zones.time_zone_name",
            ],
            "builtins": ["dashboard.templatetags.console"],
        },
    }
]

DATABASES = {"default": env.db_url("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'console.sqlite3'}")}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    database_dir = Path(DATABASES["default"]["NAME"]).parent
    if DATABASES["default"]["NAME"] != ":memory:" and not database_dir.is_dir() and not ONLY_HELP:
        raise ImproperlyConfigured(
            f"The console's SQLite database would be in {database_dir}, which does not exist. "
            "Create it (or point CONSOLE_VAR_DIR at a directory that exists), or set DATABASE_URL."
        )
    DATABASES["default"].setdefault("OPTIONS", {}).update({"timeout": 20, "transaction_mode": "IMMEDIATE"})
elif DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # a database that does not answer fails a request (and /readyz) in seconds, not minutes
    DATABASES["default"].setdefault("OPTIONS", {}).setdefault("connect_timeout", 5)


def _private_database(sender: object, connection: Any, **kwargs: object) -> None:
    # SQLite makes the file 0644 when it first connects; its journal files take its mode.
    if connection.vendor == "sqlite":
        _private(Path(str(connection.settings_dict["NAME"])))


connection_created.connect(_private_database)

REDIS_URL = env.str("REDIS_URL", default="")
# Redis, when set, is shared by every console process: the channel layer and the cache (the
# sign-in limit counts failures there). Without it each process keeps its own, in memory.
CACHES = {
    "default": (
        {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}
        if REDIS_URL
        # sessions and signed-in users live here too: room for many more than Django's 300 entries
        else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "OPTIONS": {"MAX_ENTRIES": 10000}}
    )
}
# Console processes `manage.py up` starts behind its one port; more than one needs REDIS_URL.
CONSOLE_WORKERS = env.int("CONSOLE_WORKERS", default=1)
if CONSOLE_WORKERS < 1:
    raise ImproperlyConfigured(f"CONSOLE_WORKERS is {CONSOLE_WORKERS}; it counts processes: 1 or more.")
CHANNEL_LAYERS = {
    "default": (
        # A socket timeout above channels_redis's 5 s blocking pop: redis-py 8 reads with a 5 s
        # default, which made every idle receive fail ("Timeout reading") and close the socket.
        {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {"hosts": [{"address": REDIS_URL, "socket_timeout": 30}]},
        }
        if REDIS_URL
        else {"BACKEND": "channels.layers.InMemoryChannelLayer"}
    )
}

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
# Sessions and users come from the cache (Redis when REDIS_URL is set, so every console process
# sees a sign-out, a deactivation or a role change at once); the database stays the record.
# See dashboard/accounts/identity.py.
SESSION_ENGINE = "django.contrib.sessions.backends.cached_db"
AUTHENTICATION_BACKENDS = ["dashboard.accounts.identity.CachedModelBackend"]
# Usernames and passwords kept by the console; false leaves single sign-on as the only way in.
LOCAL_ACCOUNTS = env.bool("LOCAL_ACCOUNTS", default=True)

# Single sign-on through an OpenID Connect provider (dashboard/accounts/sso.py): off unless
# OIDC_ISSUER is set. The role comes from the groups claim at every sign-in.
OIDC_ISSUER = env.str("OIDC_ISSUER", default="").rstrip("/")
OIDC_RP_CLIENT_ID = env.str("OIDC_CLIENT_ID", default="")
OIDC_RP_CLIENT_SECRET = secret("OIDC_CLIENT_SECRET")
OIDC_RP_SIGN_ALGO = env.str("OIDC_SIGN_ALGO", default="RS256")
OIDC_RP_SCOPES = env.str("OIDC_SCOPES", default="openid email profile")
OIDC_GROUPS_CLAIM = env.str("OIDC_GROUPS_CLAIM", default="groups")
OIDC_ROLE_GROUPS = {
    role: env.list(f"OIDC_{role.upper()}_GROUPS", default=[]) for role in ("viewer", "operator", "admin")
}
OIDC_PROVIDER_NAME = env.str("OIDC_PROVIDER_NAME", default="single sign-on")
OIDC_TIMEOUT = env.float("OIDC_TIMEOUT_SECONDS", default=10.0)
OIDC_USE_PKCE = True
OIDC_AUTHENTICATION_CALLBACK_URL = "sso_callback"
if OIDC_ISSUER:
    missing = [
        name
        for name, value in (
            ("OIDC_CLIENT_ID", OIDC_RP_CLIENT_ID),
            ("OIDC_CLIENT_SECRET", OIDC_RP_CLIENT_SECRET),
        )
        if not value
    ]
    if missing or not any(OIDC_ROLE_GROUPS.values()):
        raise ImproperlyConfigured(
            f"OIDC_ISSUER is set, so single sign-on is on, but {', '.join(missing) or 'no group maps to a role'}: "
            "set OIDC_CLIENT_ID and OIDC_CLIENT_SECRET (the client registered at the provider) and name the "
            "groups of at least one role in OIDC_VIEWER_GROUPS, OIDC_OPERATOR_GROUPS or OIDC_ADMIN_GROUPS."
        )
    AUTHENTICATION_BACKENDS.append("dashboard.accounts.sso.SingleSignOnBackend")
elif not LOCAL_ACCOUNTS:
    raise ImproperlyConfigured(
        "LOCAL_ACCOUNTS=false turns password sign-in off, and single sign-on is not set up (OIDC_ISSUER): "
        "nobody could sign in. Set OIDC_ISSUER (and its OIDC_* settings) or LOCAL_ACCOUNTS=true."
    )
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

# Prometheus /metrics (dashboard/probes.py) answers only this bearer token; unset, it is off.
METRICS_TOKEN = secret("METRICS_TOKEN")

# One line per record on stderr: plain, or JSON with the request id (dashboard/logs.py).
LOGGING = logs.logging_config(env.str("LOG_FORMAT", default="plain"), env.str("LOG_LEVEL", default="INFO"))
# A line per request answered (method, path, status, time, request id); off by default.
ACCESS_LOG = env.bool("ACCESS_LOG", default=False)
