"""The one settings module: every value comes from the environment, with a default that runs on a laptop.

With no variable set the platform runs on embedded defaults (SQLite and a filesystem Celery broker under
``var/``, a local-memory cache). ``DATABASE_URL`` and ``REDIS_URL`` switch to PostgreSQL and Redis.
``.env.example`` lists every variable with its default.
"""

import secrets
from pathlib import Path

import environ
from celery.schedules import crontab
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent
env = environ.Env()

VAR_DIR = Path(env.str("VAR_DIR", default=str(BASE_DIR / "var")))
VAR_DIR.mkdir(parents=True, exist_ok=True)

# "development" (the default) may generate local secrets under var/; "production" requires them.
ENVIRONMENT = env.str("ENVIRONMENT", default="development")
PRODUCTION = ENVIRONMENT == "production"


def _local_secret(name: str, generate) -> str:
    """A secret kept in var/ so that it survives restarts of a development instance."""
    if PRODUCTION:
        raise ImproperlyConfigured(f"{name} must be set in the environment when ENVIRONMENT=production.")
    path = VAR_DIR / name.lower()
    if not path.exists():
        path.write_text(generate())
        path.chmod(0o600)
    return path.read_text().strip()


SECRET_KEY = env.str("SECRET_KEY", default="") or _local_secret(
    "SECRET_KEY", lambda: secrets.token_urlsafe(50)
)
DEBUG = env.bool("DEBUG", default=False)
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "testserver", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "oauth2_provider",
    "django_celery_beat",
    "csintegration.api",
    "csintegration.clients",
    "domains.customers",
    "webhooks",
]

MIDDLEWARE = [
    "csintegration.api.middleware.RequestIdMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "csintegration.urls"
WSGI_APPLICATION = "csintegration.wsgi.application"

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
            ],
        },
    },
]

# --- Database -----------------------------------------------------------------------------------------
DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'db.sqlite3'}")}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL and IMMEDIATE transactions let the web process and Celery workers share the file safely.
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 30,
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
else:
    DATABASES["default"]["CONN_MAX_AGE"] = env.int("DATABASE_CONN_MAX_AGE", default=60)
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Redis, cache and Celery --------------------------------------------------------------------------
REDIS_URL = env.str("REDIS_URL", default="")
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1},
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default=REDIS_URL or "filesystem://")
if CELERY_BROKER_URL.startswith("filesystem://"):
    _broker_dir = VAR_DIR / "celery" / "broker"
    (_broker_dir / "processed").mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_broker_dir),
        "data_folder_out": str(_broker_dir),
        "processed_folder": str(_broker_dir / "processed"),
        "store_processed": False,
    }
else:
    # Long retry delays live in the database, so no task waits past this visibility timeout.
    CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600}
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_DEFAULT_QUEUE = "default"
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=False)
CELERY_TIMEZONE = "UTC"
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
# Periodic jobs: sections add entries here; django-celery-beat copies them into its tables when beat
# starts, where the admin can edit, disable or reschedule them.
CELERY_BEAT_SCHEDULE: dict = {
    "worker-heartbeat": {"task": "api.worker_heartbeat", "schedule": 30.0},
    "purge-idempotency-records": {"task": "api.purge_idempotency_records", "schedule": crontab(minute=17)},
}

# --- Internationalisation and static files ------------------------------------------------------------
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"
STATIC_ROOT.mkdir(exist_ok=True)
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = DEBUG

# --- REST framework and OpenAPI -----------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["oauth2_provider.contrib.rest_framework.OAuth2Authentication"],
    "DEFAULT_PERMISSION_CLASSES": ["csintegration.api.permissions.HasAreaScope"],
    "DEFAULT_THROTTLE_CLASSES": [],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "DEFAULT_FILTER_BACKENDS": [
        "django_filters.rest_framework.DjangoFilterBackend",
        "csintegration.api.filters.StrictOrderingFilter",
    ],
    "DEFAULT_PAGINATION_CLASS": "csintegration.api.pagination.CursorPagination",
    "PAGE_SIZE": 50,
    "EXCEPTION_HANDLER": "csintegration.api.exceptions.problem_exception_handler",
    "DEFAULT_SCHEMA_CLASS": "csintegration.api.schema.PlatformAutoSchema",
    "UNAUTHENTICATED_USER": None,
    "DATETIME_FORMAT": "%Y-%m-%dT%H:%M:%SZ",
    "COERCE_DECIMAL_TO_STRING": False,
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
}
PROBLEM_TYPE_BASE = env.str("PROBLEM_TYPE_BASE", default="https://csintegration.dev/problems/")

SPECTACULAR_SETTINGS = {
    "TITLE": "CS Integration Hub API",
    "DESCRIPTION": (
        "One record of every customer's success, shared with Marketing, Sales, Product, Finance and "
        "Operations. Authenticate with OAuth 2.0 (`POST /o/token/`); each operation names the scope it "
        "needs. Errors are `application/problem+json` (RFC 9457)."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    "SERVE_AUTHENTICATION": [],
    "COMPONENT_SPLIT_REQUEST": True,
    "SCHEMA_PATH_PREFIX": r"/api/v1/",
    "ENUM_NAME_OVERRIDES": {},
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "csintegration.api.schema.postprocess_schema",
    ],
}

# --- OAuth 2.0 ----------------------------------------------------------------------------------------
API_SCOPES = {
    "customers:read": "Read customers, their health and the event log",
    "customers:write": "Create, update and delete customers",
    "events:write": "Send health and other real-time events",
    "marketing:read": "Read marketing health, campaigns and journeys",
    "marketing:write": "Trigger campaigns and move journey stages",
    "sales:read": "Read expansion readiness and opportunities",
    "sales:write": "Complete sales-to-CS handoffs",
    "product:read": "Read feature adoption insights",
    "product:write": "Submit product feedback and usage",
    "finance:read": "Read value realisation",
    "finance:write": "Submit revenue forecasts and billing data",
    "operations:read": "Read CS operational performance",
    "operations:write": "Run workflows and manage tasks",
    "webhooks:manage": "Register and manage outbound webhooks",
    "metrics:read": "Read platform metrics",
}
OAUTH2_PROVIDER_APPLICATION_MODEL = "clients.IntegrationClient"
OAUTH2_PROVIDER = {
    "SCOPES": API_SCOPES,
    "SCOPES_BACKEND_CLASS": "csintegration.clients.scopes.ClientScopes",
    "ACCESS_TOKEN_EXPIRE_SECONDS": 3600,
    "REFRESH_TOKEN_EXPIRE_SECONDS": 30 * 24 * 3600,
    "ROTATE_REFRESH_TOKEN": True,
    "REFRESH_TOKEN_REUSE_PROTECTION": True,
    "PKCE_REQUIRED": True,
    "OAUTH2_VALIDATOR_CLASS": "csintegration.clients.validators.PlatformOAuth2Validator",
    "OAUTH2_SERVER_CLASS": "csintegration.clients.server.PlatformServer",
    "APPLICATION_ADMIN_CLASS": "csintegration.clients.admin.IntegrationClientAdmin",
}

# --- Security (JWT, rate limits, signing, IP allowlists, audit, encryption, admin 2FA) ----------------
TRUSTED_PROXY_COUNT = env.int("TRUSTED_PROXY_COUNT", default=0)
# Default quota per category ("N/second|minute|hour|day"); each client may override any of them.
RATE_LIMIT_DEFAULTS = {
    "standard": env.str("RATE_LIMIT_STANDARD", default="1000/hour"),
    "realtime": env.str("RATE_LIMIT_REALTIME", default="100/hour"),
    "bulk": env.str("RATE_LIMIT_BULK", default="100/day"),
    "admin": env.str("RATE_LIMIT_ADMIN", default="500/hour"),
}

# --- Events and webhooks ------------------------------------------------------------------------------

# --- Logging ------------------------------------------------------------------------------------------
LOG_LEVEL = env.str("LOG_LEVEL", default="INFO")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"request_id": {"()": "csintegration.api.middleware.RequestIdLogFilter"}},
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"},
    },
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": "plain", "filters": ["request_id"]},
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {"django.request": {"level": "ERROR"}},
}

EMAIL_BACKEND = env.str("EMAIL_BACKEND", default="django.core.mail.backends.console.EmailBackend")
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="cs-hub@localhost")
ADMINS = [("Operators", address) for address in env.list("OPERATOR_EMAILS", default=["ops@localhost"])]

APPEND_SLASH = False
CSRF_FAILURE_VIEW = "csintegration.api.exceptions.csrf_failure"
