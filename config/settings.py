"""Settings of the Atrium platform.

Every value comes from the environment, read once here through ``Environment`` and typed.
With no environment at all the platform runs in development mode on a SQLite file and a
Celery broker on the local filesystem, so ``make run`` needs no server. ``ATRIUM_ENV=production``
makes the secret key, hosts, database and broker required and turns on the secure defaults
that ``manage.py check --deploy`` expects. ``.env.example`` lists every variable.
"""

from __future__ import annotations

import ipaddress
from pathlib import Path

from django.utils.translation import gettext_lazy as _

from config.datasources import build_databases, enforce_row_level_security
from config.environment import Environment

BASE_DIR = Path(__file__).resolve().parent.parent
env = Environment()
PRODUCTION = env.production

# The working folder for everything the embedded default writes (SQLite file, broker queues).
VAR_DIR = Path(env.str("ATRIUM_VAR_DIR", str(BASE_DIR / "var")))

# ---------------------------------------------------------------------------
# Core
# ---------------------------------------------------------------------------
DEBUG = env.bool("DJANGO_DEBUG", not PRODUCTION)
SECRET_KEY = env.str(
    "DJANGO_SECRET_KEY",
    env.required_in_production("development-only-insecure-key-never-use-in-production"),
)
ALLOWED_HOSTS = env.list(
    "DJANGO_ALLOWED_HOSTS", env.required_in_production(["localhost", "127.0.0.1", "[::1]"])
)
CSRF_TRUSTED_ORIGINS = env.list("DJANGO_CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "config.apps.AtriumAdminConfig",  # django.contrib.admin on the platform's site
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "mptt",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "core",
    "config",
    "tenants",
    "accounts",
    "rbac",
    "notifications",
    "gateway",  # app label "mcp" (gateway/apps.py)
    "testing",
    "logs",
]

# The platform's own apps (labels) whose models are resources: the permission catalogue
# (rbac.catalogue) and the audit trail (logs.audit) cover exactly these.
PLATFORM_APPS = ("tenants", "accounts", "rbac", "notifications", "mcp", "testing", "logs")

MIDDLEWARE = [
    # Request counts and latencies by route for /metrics (issue 19, item 3): outermost, so
    # the time covers every other layer.
    "config.metrics.RequestMetricsMiddleware",
    # Every refusal under /api/ answers in the API's JSON error format, whichever
    # layer refused (size, parse, routing, a server error).
    "core.api.middleware.ApiErrorFormatMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "tenants.middleware.TenantContextMiddleware",
    # One access record per request, inside its request context (core/logjson.py).
    "core.logjson.RequestLogMiddleware",
    # Operation and audit logs of every write (issue 4, items 1-2).
    "logs.middleware.OperationLogMiddleware",
    # The signed-in user's own language over the browser's (issue 3, item 10).
    "accounts.middleware.UserLanguageMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"
ASGI_APPLICATION = "config.asgi.application"

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
                "tenants.context_processors.current_tenant",
                "rbac.navigation.navigation",
                "notifications.context_processors.unread_notifications",
            ],
        },
    },
]

# ---------------------------------------------------------------------------
# Datasources (config/datasources.py, config/routers.py)
# ---------------------------------------------------------------------------
DATABASES = build_databases(env, default_url=f"sqlite:///{VAR_DIR / 'atrium.sqlite3'}")
# PostgreSQL row-level security, the database's own line of tenant isolation (core/rls):
# off by default, recommended on in production; PostgreSQL only (refused elsewhere at
# start-up). The web process signs in as an everyday role; the owner role below owns the
# tables and bypasses the policies for the platform's own paths.
DATABASE_RLS = env.bool("DATABASE_RLS", False)
DATABASE_RLS_OWNER_ROLE = env.str("DATABASE_RLS_OWNER_ROLE", "atrium_owner")
DATABASES = enforce_row_level_security(DATABASES, enabled=DATABASE_RLS)
if not env.is_set("DATABASE_URL"):
    VAR_DIR.mkdir(parents=True, exist_ok=True)  # the embedded SQLite file lives here
DATABASE_ROUTERS = ["config.routers.DatasourceRouter"]
# Table name -> datasource alias; tables not listed live on "default" (seed 000 section 4.2).
DATABASE_ROUTES = env.json_object(
    "DATABASE_ROUTES",
    {
        "legacy_orders": "oracle_db",
        "legacy_products": "oracle_db",
        "analytics_data": "postgres_db",
        "report_data": "postgres_db",
    },
)
# Development only: send routes whose alias is not configured to "default" instead of
# failing the start-up check (config/checks.py refuses this in production). The embedded
# default (no DATABASE_URL) is one SQLite file by design, so there it defaults to on.
DATABASE_ROUTE_FALLBACK = env.bool(
    "DATABASE_ROUTE_FALLBACK", not PRODUCTION and not env.is_set("DATABASE_URL")
)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# ---------------------------------------------------------------------------
# Authentication and accounts
# ---------------------------------------------------------------------------
AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = ["rbac.backends.TenantAuthenticationBackend"]
LOGIN_URL = "accounts:login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "accounts:login"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
# Password hashing (issue 17, item 8): Argon2id with Django's default parameters (the
# algorithm Django's docs recommend; needs argon2-cffi) hashes new and changed passwords.
# It verifies faster than PBKDF2 at Django's default 1,000,000 iterations here
# (bench/signin.py). The rest is Django's default list, so existing PBKDF2 hashes still
# verify and are rehashed with Argon2 the next time their holder types the right password
# (User.check_password, called by accounts.services). The tests use MD5 (tests/settings.py).
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2SHA1PasswordHasher",
    "django.contrib.auth.hashers.BCryptSHA256PasswordHasher",
    "django.contrib.auth.hashers.ScryptPasswordHasher",
]
# Lockout (issue 2): this many failures of one tenant+username within the window lock the
# account for the lock duration.
LOGIN_LOCKOUT_THRESHOLD = env.int("LOGIN_LOCKOUT_THRESHOLD", 5, minimum=1)
LOGIN_LOCKOUT_WINDOW = env.int("LOGIN_LOCKOUT_WINDOW_MINUTES", 15, minimum=1) * 60  # seconds
LOGIN_LOCKOUT_DURATION = env.int("LOGIN_LOCKOUT_DURATION_MINUTES", 30, minimum=1) * 60  # seconds
# Code of the tenant that holds the platform operators (created by migrations).
PLATFORM_TENANT_CODE = "platform"

SILENCED_SYSTEM_CHECKS = [
    # Usernames are unique per tenant, not globally (seed 000 section 3.2); the
    # authentication backend always looks a user up by tenant code and username.
    "auth.W004",
    # HSTS preload stays an explicit opt-in (SECURE_HSTS_PRELOAD, false by default): leaving
    # the browsers' preload list takes months, so it is not a default. Django warns about
    # its absence under check --deploy, which would fail --fail-level WARNING.
    "security.W021",
]

# ---------------------------------------------------------------------------
# REST API: DRF under /api/v1/ (routes in config/api/urls.py, base classes in
# tenants/api/base.py, error format and parsing in core/api/), OpenAPI 3 by drf-spectacular,
# docs served from the sidecar's local assets.
# ---------------------------------------------------------------------------
# The function narrowing a queryset to a user's data scope (tenants/scoping.py): RBAC's.
DATA_SCOPE_RESTRICT = "rbac.access.restrict"
# Deepest nesting of arrays and objects a JSON body of the API or of /mcp/ may have
# (core/json.py); deeper bodies are a 400 before they are parsed.
API_JSON_MAX_DEPTH = env.int("API_JSON_MAX_DEPTH", 64, minimum=8)
# Largest request body (bytes) outside file uploads; bigger ones get 413 before reading.
DATA_UPLOAD_MAX_MEMORY_SIZE = env.int("DATA_UPLOAD_MAX_MEMORY_SIZE", 2_621_440, minimum=1024)
REST_FRAMEWORK = {
    "DEFAULT_PARSER_CLASSES": [
        "core.api.parsers.JSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "DEFAULT_AUTHENTICATION_CLASSES": [
        # The first class's challenge decides 401 over 403 for anonymous requests.
        "accounts.api.authentication.ApiKeyAuthentication",
        "accounts.api.authentication.InProcessAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    # Signed in, then the one permission decision with the endpoint registry's switches.
    "DEFAULT_PERMISSION_CLASSES": [
        "rest_framework.permissions.IsAuthenticated",
        "rbac.api.permissions.RbacPermission",
    ],
    "DEFAULT_FILTER_BACKENDS": [
        "django_filters.rest_framework.DjangoFilterBackend",
        "rest_framework.filters.SearchFilter",
        "rest_framework.filters.OrderingFilter",
    ],
    "DEFAULT_PAGINATION_CLASS": "core.api.pagination.PageNumberPagination",
    "PAGE_SIZE": 50,
    "EXCEPTION_HANDLER": "core.api.exceptions.exception_handler",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Atrium API",
    "DESCRIPTION": "The Atrium platform's REST API. Authenticate with `Authorization: Bearer <api key>`.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "SCHEMA_PATH_PREFIX": "/api/v1",
    # The enum components (drf-spectacular's default hook), and no base class's docstring
    # given to a serializer as its description (config/api/schema.py).
    "POSTPROCESSING_HOOKS": ["drf_spectacular.hooks.postprocess_schema_enums",
                             "config.api.schema.drop_inherited_descriptions"],
    "ENUM_NAME_OVERRIDES": {
        "RecordStatusEnum": "accounts.choices.RecordStatus",
        "UserStatusEnum": "accounts.choices.UserStatus",
        "NotificationTypeEnum": "notifications.models.NotificationType",
        "PermissionTypeEnum": "rbac.models.PermissionType",
        "OutcomeEnum": "logs.models.LoginStatus",
        "NotificationStatusEnum": "notifications.models.NotificationStatus",
        "HttpMethodEnum": "core.choices.HttpMethod",
        "KeywordTypeEnum": "testing.choices.KeywordType",
        "DatabaseTypeEnum": "testing.choices.DatabaseType",
        "RequestMethodEnum": "testing.choices.RequestMethod",
        "BodyTypeEnum": "testing.choices.BodyType",
        "StepKindEnum": "testing.choices.StepKind",
        "ConnectionStatusEnum": "testing.choices.ConnectionStatus",
        "ImportStatusEnum": "testing.models.imports.ImportStatus",
        "NotifyOnEnum": "testing.choices.NotifyOn",
    },
}

# ---------------------------------------------------------------------------
# Internationalisation
# ---------------------------------------------------------------------------
LANGUAGE_CODE = env.str("LANGUAGE_CODE", "en")
LANGUAGES = [("en", _("English")), ("zh-hans", _("Simplified Chinese"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = env.str("TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

# ---------------------------------------------------------------------------
# Static files: served by WhiteNoise from the project itself, never from a CDN.
# ---------------------------------------------------------------------------
STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
# collectstatic's target, served by WhiteNoise in production. Development serves the
# files straight from STATICFILES_DIRS and the apps (WhiteNoise's finders), so it needs none.
STATIC_ROOT = env.str("STATIC_ROOT", str(BASE_DIR / "staticfiles") if PRODUCTION else None)
WHITENOISE_USE_FINDERS = not PRODUCTION
# Files the platform writes (the stored allure-results of test runs): the default storage,
# a folder here. Never served as static files: the pages and API hand them out after their
# permission and tenant checks. Several hosts need a shared folder or another storage.
MEDIA_ROOT = env.str("MEDIA_ROOT", str(VAR_DIR / "media"))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "whitenoise.storage.CompressedManifestStaticFilesStorage"
            if PRODUCTION
            else "django.contrib.staticfiles.storage.StaticFilesStorage"
        )
    },
}

# ---------------------------------------------------------------------------
# Cache
# ---------------------------------------------------------------------------
CACHES = {"default": env.cache("CACHE_URL", "locmemcache://")}

# ---------------------------------------------------------------------------
# Celery (config/celery.py). The embedded default is kombu's filesystem transport, so a
# real worker and beat run with no broker server; production uses Redis.
# ---------------------------------------------------------------------------
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", env.required_in_production("filesystem://"))
CELERY_BROKER_FOLDER = VAR_DIR / "celery" / "broker"
# Task results (``check_worker`` reads them): the broker when it is Redis, else a folder.
CELERY_RESULT_BACKEND = env.str(
    "CELERY_RESULT_BACKEND",
    CELERY_BROKER_URL
    if CELERY_BROKER_URL.startswith("redis")
    else f"file://{VAR_DIR / 'celery' / 'results'}",
)
CELERY_TASK_TIME_LIMIT = env.int("CELERY_TASK_TIME_LIMIT", 1800, minimum=1)  # seconds, hard
CELERY_TASK_SOFT_TIME_LIMIT = env.int(
    "CELERY_TASK_SOFT_TIME_LIMIT", CELERY_TASK_TIME_LIMIT - 60, minimum=1
)  # seconds
# Seconds before Redis redelivers an unacknowledged message; must outlive the longest task
# because tasks acknowledge late (config/checks.py enforces it).
CELERY_VISIBILITY_TIMEOUT = env.int("CELERY_VISIBILITY_TIMEOUT", 2 * CELERY_TASK_TIME_LIMIT)
CELERY_BEAT_SCHEDULE_FILE = VAR_DIR / "celery" / "beat-schedule"
# Seconds between two looks for due schedules of test plans (testing.tasks.fire_schedules);
# cron's resolution is a minute, the tests of the real beat lower it.
TESTING_SCHEDULE_TICK_SECONDS = env.float("TESTING_SCHEDULE_TICK_SECONDS", 60.0, minimum=0.5)
CELERY_BEAT_SCHEDULE = {
    "release-expired-account-locks": {
        "task": "accounts.tasks.release_expired_locks",
        "schedule": 300.0,  # seconds
    },
    "clear-expired-sessions": {
        "task": "accounts.tasks.clear_expired_sessions",
        "schedule": 24 * 3600.0,  # seconds
    },
    "maintain-log-partitions": {
        "task": "logs.tasks.maintain_partitions",
        "schedule": 24 * 3600.0,  # seconds
    },
    "rollup-usage": {
        "task": "logs.tasks.rollup_usage",
        "schedule": 24 * 3600.0,  # seconds
    },
    "recover-test-runs": {
        "task": "testing.tasks.recover_runs",
        "schedule": 30.0,  # seconds
    },
    "prune-test-runs": {
        "task": "testing.tasks.prune_runs",
        "schedule": 3600.0,  # seconds: small batches often rather than one large purge
    },
    "fire-test-plan-schedules": {
        "task": "testing.tasks.fire_schedules",
        "schedule": TESTING_SCHEDULE_TICK_SECONDS,
    },
}

# How long each monthly-partitioned log table keeps its rows ("N months" or "N days");
# logs.maintenance drops partitions past it (seeds 000 section 6.4 and 003 section 6.2).
LOG_PARTITION_RETENTION = env.json_object(
    "LOG_PARTITION_RETENTION",
    {
        "operation_logs": "12 months",
        "audit_logs": "90 days",
        "login_logs": "12 months",
        "mcp_tool_call_logs": "6 months",
    },
)

# ---------------------------------------------------------------------------
# Security
# ---------------------------------------------------------------------------
# Fernet keys sealing secrets stored for reuse (external tools' credentials, core.crypto):
# the first seals, all open. Development derives one from DJANGO_SECRET_KEY.
FIELD_ENCRYPTION_KEYS = env.list("FIELD_ENCRYPTION_KEYS", env.required_in_production([]))
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_AGE = env.int("SESSION_COOKIE_AGE", 12 * 3600, minimum=60)  # seconds
SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", PRODUCTION)
CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", PRODUCTION)
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", PRODUCTION)
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", 31536000 if PRODUCTION else 0, minimum=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", PRODUCTION)
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", False)
if env.bool("SECURE_PROXY_SSL_HEADER", False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
X_FRAME_OPTIONS = "DENY"
# Number of trusted reverse proxies in front of the app; the client IP recorded in login
# logs is taken that many hops from the right of X-Forwarded-For (0: REMOTE_ADDR only).
TRUSTED_PROXY_COUNT = env.int("TRUSTED_PROXY_COUNT", 0, minimum=0)
# Operation and audit logs (logs.audit, logs.middleware): reads are logged only when on;
# payloads (request parameters, old/new values) over the limit (bytes) are truncated.
LOG_READS = env.bool("LOG_READS", False)
# Widest time range (days) a log list or export may ask for: a query reads only the
# monthly partitions it needs.
LOG_QUERY_MAX_DAYS = env.int("LOG_QUERY_MAX_DAYS", 93, minimum=1)
LOG_PAYLOAD_LIMIT = env.int("LOG_PAYLOAD_LIMIT", 64 * 1024, minimum=1024)

# ---------------------------------------------------------------------------
# MCP gateway (issue 5): /mcp/ serves the platform's tools to AI agents.
# ---------------------------------------------------------------------------
# Largest JSON-RPC request body (bytes); bigger ones get 413 before any parsing.
MCP_MAX_REQUEST_BYTES = env.int("MCP_MAX_REQUEST_BYTES", 1024 * 1024, minimum=1024)
# Largest tool answer handed to an agent whole (bytes); longer ones are cut with a marker.
MCP_TOOL_RESULT_MAX_BYTES = env.int("MCP_TOOL_RESULT_MAX_BYTES", 1024 * 1024, minimum=1024)
# Bytes of a tool's answer kept in its call log row (six months of calls: enough to see
# what came back, not a copy of every answer); longer ones keep a marked preview.
MCP_CALL_LOG_RESPONSE_BYTES = env.int("MCP_CALL_LOG_RESPONSE_BYTES", 4096, minimum=256)
# Calls whose log row and counter increments wait in a process's memory for the writer
# thread (gateway/calllog.py), which writes them in batches after the answers, at most
# MCP_CALL_LOG_FLUSH_SECONDS (seconds) apart, and at exit. A crash loses what waits; with
# the queue full a call writes its own row. 0 writes every call in its request (the
# default outside production: whatever reads the log right after a call sees it).
MCP_CALL_LOG_QUEUE = env.int("MCP_CALL_LOG_QUEUE", 10_000 if PRODUCTION else 0, minimum=0)
MCP_CALL_LOG_FLUSH_SECONDS = env.float("MCP_CALL_LOG_FLUSH_SECONDS", 0.2, minimum=0.01)
# Tools per tools/list page, and how long (milliseconds) a client may reuse a listing.
MCP_TOOLS_PAGE_SIZE = env.int("MCP_TOOLS_PAGE_SIZE", 100, minimum=1)
MCP_TOOLS_LIST_TTL_MS = env.int("MCP_TOOLS_LIST_TTL_MS", 60_000, minimum=0)
# First delay (seconds) before retrying an idempotent call; it doubles on each retry.
MCP_RETRY_BASE_DELAY = env.float("MCP_RETRY_BASE_DELAY", 0.2, minimum=0)
# Rate limits per tenant plan: {"tenant": rate, "key": rate}; a rate is "N/second",
# "N/minute" or "N/hour", null for unlimited; "default" serves a plan not listed. GCRA: a
# burst of N, then one call every period/N (gateway/limits.py).
MCP_RATE_LIMITS = env.json_object(
    "MCP_RATE_LIMITS",
    {
        "free": {"tenant": "120/minute", "key": "60/minute"},
        "pro": {"tenant": "600/minute", "key": "300/minute"},
        "enterprise": {"tenant": "3000/minute", "key": "1000/minute"},
        "default": {"tenant": "120/minute", "key": "60/minute"},
    },
)
# Redis holding the limits of every process (required in production); empty: per process.
MCP_RATE_LIMIT_REDIS_URL = env.str("MCP_RATE_LIMIT_REDIS_URL", env.required_in_production(""))
MCP_RATE_LIMIT_KEY_PREFIX = env.str("MCP_RATE_LIMIT_KEY_PREFIX", "atrium:mcp:rl")
# Seconds to connect and per command before falling back to per-process limits.
MCP_RATE_LIMIT_REDIS_TIMEOUT = env.float("MCP_RATE_LIMIT_REDIS_TIMEOUT", 0.5, minimum=0.001)
# Outbound calls of external tools (gateway/outbound.py): private networks (CIDR) they may
# call even so (empty: public addresses only), the largest answer read (bytes), the
# redirects followed (each hop checked again), and a PEM bundle of CAs to trust for https
# targets (empty: the system's).
MCP_OUTBOUND_ALLOWED_NETWORKS = env.list("MCP_OUTBOUND_ALLOWED_NETWORKS", [])
MCP_OUTBOUND_MAX_RESPONSE_BYTES = env.int(
    "MCP_OUTBOUND_MAX_RESPONSE_BYTES", 1024 * 1024, minimum=1024
)
MCP_OUTBOUND_MAX_REDIRECTS = env.int("MCP_OUTBOUND_MAX_REDIRECTS", 5, minimum=0)
MCP_OUTBOUND_CA_BUNDLE = env.str("MCP_OUTBOUND_CA_BUNDLE", "") or None
# OAuth authorization servers to name in /mcp/'s protected-resource metadata (RFC 9728);
# empty: agents use the platform's API keys, issued in the admin or the API.
MCP_AUTHORIZATION_SERVERS = env.list("MCP_AUTHORIZATION_SERVERS", [])
# Browser origins allowed to call /mcp/ (agents send no Origin; a browser page must be listed).
MCP_ALLOWED_ORIGINS = env.list("MCP_ALLOWED_ORIGINS", [])

# ---------------------------------------------------------------------------
# Metrics and the operations page (issue 19, items 3-4; config/metrics.py, config/ops.py)
# ---------------------------------------------------------------------------
# /metrics answers a scraper that sends "Authorization: Bearer METRICS_TOKEN" or comes from
# one of METRICS_ALLOWED_NETWORKS (CIDR, the client address as core.context.client_ip reads
# it); with neither set it answers 404. Never public.
METRICS_TOKEN = env.str("METRICS_TOKEN", "")
METRICS_ALLOWED_NETWORKS = env.list("METRICS_ALLOWED_NETWORKS", [])
for _network in METRICS_ALLOWED_NETWORKS:
    try:
        ipaddress.ip_network(_network, strict=False)
    except ValueError:
        from django.core.exceptions import ImproperlyConfigured

        raise ImproperlyConfigured(
            f"METRICS_ALLOWED_NETWORKS: {_network!r} is not a network (CIDR, e.g. 10.0.0.0/8)."
        ) from None
# Thresholds of seed 001 section 8.1 shown on the operations page and in /readyz details:
# pool usage and disk usage (fractions), replication lag (seconds); slow queries and
# deadlocks in the last hour at or above which the page warns; queued Celery messages;
# seconds after which Celery beat counts as silent.
OPS_POOL_USAGE_WARN = env.float("OPS_POOL_USAGE_WARN", 0.80, minimum=0)
OPS_DISK_USAGE_WARN = env.float("OPS_DISK_USAGE_WARN", 0.85, minimum=0)
OPS_REPLICATION_LAG_WARN = env.float("OPS_REPLICATION_LAG_WARN", 10.0, minimum=0)
OPS_SLOW_QUERIES_WARN = env.int("OPS_SLOW_QUERIES_WARN", 1, minimum=1)
OPS_DEADLOCKS_WARN = env.int("OPS_DEADLOCKS_WARN", 1, minimum=1)
OPS_BROKER_BACKLOG_WARN = env.int("OPS_BROKER_BACKLOG_WARN", 1000, minimum=1)
OPS_BEAT_SILENT_SECONDS = env.float("OPS_BEAT_SILENT_SECONDS", 300.0, minimum=1)

# ---------------------------------------------------------------------------
# Logging
# ---------------------------------------------------------------------------
LOG_LEVEL = env.str("LOG_LEVEL", "INFO")
# "json": one JSON object per line (core/logjson.py), the production default; "text": the
# readable lines of development. Both carry the request id, tenant and actor.
LOG_FORMAT = env.str("LOG_FORMAT", "json" if PRODUCTION else "text")
if LOG_FORMAT not in {"json", "text"}:
    from django.core.exceptions import ImproperlyConfigured

    raise ImproperlyConfigured(f"LOG_FORMAT must be 'json' or 'text', not {LOG_FORMAT!r}.")
# Statements slower than this (milliseconds) are logged on "atrium.db.slow" (core/dbwatch.py,
# seed 001 section 8.1).
SLOW_QUERY_MS = env.int("SLOW_QUERY_MS", 1000, minimum=1)
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        # core/logjson.py: both carry the request id, tenant and actor (the filter below).
        "json": {"()": "core.logjson.JsonFormatter"},
        "text": {"()": "core.logjson.TextFormatter"},
        "django.server": {
            "()": "django.utils.log.ServerFormatter",
            "format": "[{server_time}] {message}",
            "style": "{",
        },
    },
    # API keys and Authorization header values never reach the output (core/redaction.py).
    # Django's own "django" and "django.server" handlers are redefined below only to carry
    # this filter: Django's defaults would otherwise print and mail records unfiltered.
    "filters": {
        "redact_secrets": {"()": "core.redaction.RedactSecretsFilter"},
        "request_context": {"()": "core.logjson.ContextFilter"},
        "require_debug_false": {"()": "django.utils.log.RequireDebugFalse"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": LOG_FORMAT,
            "filters": ["request_context", "redact_secrets"],
        },
        "django.server": {
            "class": "logging.StreamHandler",
            "formatter": "django.server",
            "filters": ["redact_secrets"],
        },
        "mail_admins": {
            "level": "ERROR",
            "class": "django.utils.log.AdminEmailHandler",
            "filters": ["require_debug_false", "redact_secrets"],
        },
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        # Reaches the console through the root logger.
        "django": {"handlers": ["mail_admins"], "level": "INFO"},
        "django.server": {"handlers": ["django.server"], "level": "INFO", "propagate": False},
        # The MCP SDK reports every stateless exchange at INFO; its warnings still show.
        "mcp": {"level": env.str("MCP_SDK_LOG_LEVEL", "WARNING")},
        # httpx reports every request at INFO: a test run's steps are in its results, and
        # the outbound client logs refusals and failures itself.
        "httpx2": {"level": "WARNING"},
        "httpcore2": {"level": "WARNING"},
    },
}

# ---------------------------------------------------------------------------
# API testing (the testing app)
# ---------------------------------------------------------------------------
# Largest dataset (bytes of CSV) and most rows of one dataset.
TESTING_DATASET_MAX_BYTES = env.int("TESTING_DATASET_MAX_BYTES", 2 * 1024 * 1024, minimum=1024)
TESTING_DATASET_MAX_ROWS = env.int("TESTING_DATASET_MAX_ROWS", 10_000, minimum=1)
# Largest user code (a keyword's, a global function's), in bytes.
TESTING_CODE_MAX_BYTES = env.int("TESTING_CODE_MAX_BYTES", 64 * 1024, minimum=1024)
# Largest request body of an interface or an inline step, in bytes.
# The largest file the importers read (OpenAPI, Postman, HAR, cURL, HttpRunner).
TESTING_IMPORT_MAX_BYTES = env.int("TESTING_IMPORT_MAX_BYTES", 16 * 1024 * 1024, minimum=1024)
TESTING_BODY_MAX_BYTES = env.int("TESTING_BODY_MAX_BYTES", 1024 * 1024, minimum=1024)
# Bytes up to which an import is parsed in the request; a larger file goes to a Celery task
# (testing.tasks.parse_import) and its preview page shows the progress.
TESTING_IMPORT_INLINE_BYTES = env.int("TESTING_IMPORT_INLINE_BYTES", 1024 * 1024, minimum=0)
# Seconds a "test connection" of a project's database may take.
TESTING_DB_CONNECT_TIMEOUT = env.float("TESTING_DB_CONNECT_TIMEOUT", 5.0, minimum=0.1)
# Runs (testing.services.runs): seconds per request unless a step says otherwise; bytes
# of a response body kept in a step's result (and read, at most); seconds per SQL
# statement and rows kept of its answer.
TESTING_REQUEST_TIMEOUT = env.float("TESTING_REQUEST_TIMEOUT", 30.0, minimum=0.1)
TESTING_STORED_BODY_BYTES = env.int("TESTING_STORED_BODY_BYTES", 64 * 1024, minimum=1024)
TESTING_RESPONSE_MAX_BYTES = env.int("TESTING_RESPONSE_MAX_BYTES", 10 * 1024 * 1024,
                                     minimum=1024)
TESTING_STATEMENT_TIMEOUT = env.float("TESTING_STATEMENT_TIMEOUT", 10.0, minimum=0.1)
TESTING_SQL_MAX_ROWS = env.int("TESTING_SQL_MAX_ROWS", 1000, minimum=1)
# Step results are stored in batches: at the latest after this many seconds (and at every
# pause, failure and end). A worker that dies re-runs at most the steps of that window,
# whose results were not stored; 0 stores every step as it ends.
TESTING_RESULT_FLUSH_SECONDS = env.float("TESTING_RESULT_FLUSH_SECONDS", 0.25, minimum=0)
# A running scenario run's worker writes a heartbeat this often (seconds); one silent for
# TESTING_HEARTBEAT_TIMEOUT is taken over by another worker (testing.tasks.recover_runs).
TESTING_HEARTBEAT_SECONDS = env.float("TESTING_HEARTBEAT_SECONDS", 5.0, minimum=0.1)
TESTING_HEARTBEAT_TIMEOUT = env.float("TESTING_HEARTBEAT_TIMEOUT", 60.0, minimum=1)
# Scenario runs of one tenant running at once in a parallel plan, unless the tenant's
# package sets its own (TenantPackage.max_concurrent_runs).
TESTING_MAX_CONCURRENT_RUNS = env.int("TESTING_MAX_CONCURRENT_RUNS", 4, minimum=1)
# The platform's own address as people reach it (e.g. https://atrium.example.com), for links
# in messages sent elsewhere (a run's webhook and notification); empty: links are paths.
PLATFORM_BASE_URL = env.str("PLATFORM_BASE_URL", "")
# Retention of runs (seed 001 section 3.16): the steps' details (requests, responses,
# checks) are kept TEST_REPORT_RETENTION_DAYS after a run ended (a project may set its own),
# the run's summary (counts, durations, the history charts) TEST_RUN_SUMMARY_RETENTION_DAYS.
# testing.tasks.prune_runs removes at most TESTING_PRUNE_BATCH rows per statement and
# TESTING_PRUNE_MAX_BATCHES statements per run, and goes on at its next run.
TEST_REPORT_RETENTION_DAYS = env.int("TEST_REPORT_RETENTION_DAYS", 30, minimum=1)
TEST_RUN_SUMMARY_RETENTION_DAYS = env.int("TEST_RUN_SUMMARY_RETENTION_DAYS", 365, minimum=1)
TESTING_PRUNE_BATCH = env.int("TESTING_PRUNE_BATCH", 1000, minimum=1)
TESTING_PRUNE_MAX_BATCHES = env.int("TESTING_PRUNE_MAX_BATCHES", 100, minimum=1)
# A scenario run taken over this many times (its workers kept dying) is failed instead.
TESTING_MAX_RUN_ATTEMPTS = env.int("TESTING_MAX_RUN_ATTEMPTS", 3, minimum=1)
# The network policy of testers' outbound connections (TESTING.md): networks (CIDR) that
# every tenant may reach although private or loopback (development: make run allows
# loopback), and the platform's own service endpoints (host:port of its databases, broker
# and cache) that may be reached even so; each tenant may get more networks from an
# operator (Tenant.outbound_networks).
OUTBOUND_ALLOWED_NETWORKS = env.list("OUTBOUND_ALLOWED_NETWORKS", [])
OUTBOUND_ALLOWED_SERVICE_ENDPOINTS = env.list("OUTBOUND_ALLOWED_SERVICE_ENDPOINTS", [])

# ---------------------------------------------------------------------------
# The sandbox of user code (custom keywords, global functions, MCP script tools)
# ---------------------------------------------------------------------------
# User code runs only behind bubblewrap (core.sandbox). Each call's ceilings: CPU and
# wall-clock seconds, memory (address space), processes, the size of a file it writes,
# open files, and what it prints or returns; a breach ends the call with the limit named.
SANDBOX_BWRAP = env.str("SANDBOX_BWRAP", "bwrap")
SANDBOX_PYTHON = env.str("SANDBOX_PYTHON", "")  # default: this Python's real interpreter
SANDBOX_POOL_SIZE = env.int("SANDBOX_POOL_SIZE", 2, minimum=1)
SANDBOX_CPU_SECONDS = env.float("SANDBOX_CPU_SECONDS", 2.0, minimum=0.1)
SANDBOX_WALL_SECONDS = env.float("SANDBOX_WALL_SECONDS", 5.0, minimum=0.1)
SANDBOX_MEMORY_MB = env.int("SANDBOX_MEMORY_MB", 256, minimum=64)
SANDBOX_PROCESSES = env.int("SANDBOX_PROCESSES", 32, minimum=1)
SANDBOX_FILE_MB = env.int("SANDBOX_FILE_MB", 8, minimum=1)
SANDBOX_OPEN_FILES = env.int("SANDBOX_OPEN_FILES", 64, minimum=16)
SANDBOX_OUTPUT_KB = env.int("SANDBOX_OUTPUT_KB", 1024, minimum=16)
SANDBOX_TMP_MB = env.int("SANDBOX_TMP_MB", 16, minimum=1)
# Development only: where bubblewrap cannot run, run user code in a plain subprocess (the
# limits and the system call filter apply, the namespaces do not). Refused in production.
SANDBOX_ALLOW_UNPROTECTED = env.bool("SANDBOX_ALLOW_UNPROTECTED", False)
if SANDBOX_ALLOW_UNPROTECTED and PRODUCTION:
    from django.core.exceptions import ImproperlyConfigured

    raise ImproperlyConfigured(
        "SANDBOX_ALLOW_UNPROTECTED=true runs user code without the operating-system barrier; "
        "it is refused when ATRIUM_ENV=production. Install bubblewrap and enable user "
        "namespaces instead (README, 'User code').")
