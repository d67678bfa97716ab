"""The one settings module: every value comes from the environment, with a default that runs on a laptop.

With no variable set the platform runs on embedded defaults (SQLite and a filesystem Celery broker under
``var/``, a local-memory cache). ``DATABASE_URL`` and ``REDIS_URL`` switch to PostgreSQL and Redis.
``.env.example`` lists every variable with its default.
"""

import base64
import os
import secrets
from pathlib import Path

import environ
from celery.schedules import crontab
from django.core.exceptions import ImproperlyConfigured

from csintegration.auth.rsa import new_rsa_private_key_pem
from csintegration.observability.logs import configure_structlog, logging_config

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
    # The admin theme, its templates before django.contrib.admin's; the basic config, which leaves
    # admin.site to PlatformAdminConfig (the default one would swap in a site without the second factor).
    "unfold.apps.BasicAppConfig",
    "csintegration.adminsite.admin_config.PlatformAdminConfig",  # django.contrib.admin, with 2FA
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",  # Swagger UI and ReDoc served from here, not from a CDN
    "oauth2_provider",
    "django_celery_beat",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
    "axes",
    "csintegration.api",
    "csintegration.clients",
    "csintegration.events",
    "csintegration.auth",
    "csintegration.encryption",
    "csintegration.audit",
    "csintegration.adminsite",
    "csintegration.observability",
    "domains.customers",
    "domains.marketing",
    "domains.sales",
    "domains.product",
    "domains.finance",
    "domains.operations",
    "webhooks",
]

MIDDLEWARE = [
    "csintegration.api.middleware.RequestIdMiddleware",
    "csintegration.observability.middleware.ObservabilityMiddleware",
    "csintegration.api.middleware.ProblemFallbackMiddleware",
    "csintegration.audit.middleware.AuditMiddleware",
    "csintegration.api.ratelimit.InFlightMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "axes.middleware.AxesMiddleware",
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
    # The test database is a file too (not shared-cache memory, which locks whole tables), so that a
    # Celery worker thread in the tests sees the same data and waits for locks like a real worker.
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / "test.sqlite3")}
else:
    DATABASES["default"]["CONN_MAX_AGE"] = env.int("DATABASE_CONN_MAX_AGE", default=60)
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Redis, cache and Celery --------------------------------------------------------------------------
REDIS_URL = env.str("REDIS_URL", default="")
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "csintegration.cache.RedisCache",
            "LOCATION": REDIS_URL,
            "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1},
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# The filesystem transport ignores the host, but kombu warns "No hostname was supplied" at every
# connection when the URL has none; "localhost" names the local machine, which is what it is.
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default=REDIS_URL or "filesystem://localhost/")
if CELERY_BROKER_URL.startswith("filesystem://"):
    _broker_dir = VAR_DIR / "celery" / "broker"
    (_broker_dir / "processed").mkdir(parents=True, exist_ok=True)
    (_broker_dir / "control").mkdir(exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_broker_dir),
        "data_folder_out": str(_broker_dir),
        "processed_folder": str(_broker_dir / "processed"),
        # The exchange tables; kombu's default is ./control, i.e. wherever the process was started.
        "control_folder": str(_broker_dir / "control"),
        "store_processed": False,
        # A worker whose prefetch is full sleeps this long before it looks again (1 s by default,
        # which caps a worker at about one task per second per process with late acks).
        "polling_interval": 0.1,
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
# A worker keeps its database connections between tasks (csintegration/celery.py checks them at every
# task's start and end, with CONN_MAX_AGE and CONN_HEALTH_CHECKS); Celery recycles them after this many.
CELERY_DB_REUSE_MAX = env.int("CELERY_DB_REUSE_MAX", default=1000)
# Python's garbage collector in web and worker processes (csintegration/runtime.py): the first generation
# is collected after this many new objects (Python's default: 700), the next two after this many of the
# one before; empty leaves Python's defaults.
GC_THRESHOLDS = tuple(env.list("GC_THRESHOLDS", cast=int, default=[10000, 10, 10]))
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
# Periodic jobs of the platform; each app adds its own from AppConfig.ready() (csintegration/schedules.py).
# django-celery-beat copies them into its tables when beat starts, where the admin can edit them.
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
    "DEFAULT_AUTHENTICATION_CLASSES": ["csintegration.auth.authentication.JWTAccessTokenAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": [
        "csintegration.api.permissions.HasAreaScope",
        "csintegration.api.client_ip.ClientAddressAllowed",
        "csintegration.api.signing.SignedRequestRequired",
    ],
    "DEFAULT_THROTTLE_CLASSES": ["csintegration.api.ratelimit.ClientRateThrottle"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["csintegration.api.parsers.StrictJSONParser"],
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
    # OpenAPI 3.1 is JSON Schema 2020-12, which can say what the API refuses (e.g. ``propertyNames``).
    "OAS_VERSION": "3.1.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    "SERVE_AUTHENTICATION": [],
    "COMPONENT_SPLIT_REQUEST": True,
    # /api/docs/ and /api/redoc/ load their pinned assets from this server, so they work offline.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
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
# Encryption at rest (AES-256-GCM): "kid:base64key" entries; the first encrypts, every one decrypts.
FIELD_ENCRYPTION_KEYS = env.list("FIELD_ENCRYPTION_KEYS", default=[]) or [
    _local_secret("FIELD_ENCRYPTION_KEYS", lambda: "dev1:" + base64.b64encode(os.urandom(32)).decode())
]
# Overload shedding: a request of a listed category is refused (503) when at least this many other API
# requests are in flight in its web process; bulk gives way first, then realtime; others are never shed.
OVERLOAD_SHED_AT = {
    "bulk": env.int("OVERLOAD_SHED_BULK_AT", default=3),
    "realtime": env.int("OVERLOAD_SHED_REALTIME_AT", default=6),
}
OVERLOAD_RETRY_AFTER_SECONDS = env.int("OVERLOAD_RETRY_AFTER_SECONDS", default=5)
# Audit log of API calls: rows older than this are pruned nightly.
AUDIT_RETENTION_DAYS = env.int("AUDIT_RETENTION_DAYS", default=365)
# Audit rows are queued and written in batches by a thread per process (False: one INSERT per call,
# after its response is sent).
AUDIT_BATCH_WRITES = env.bool("AUDIT_BATCH_WRITES", default=True)
AUDIT_FLUSH_SECONDS = env.float("AUDIT_FLUSH_SECONDS", default=0.2)
AUDIT_BATCH_SIZE = env.int("AUDIT_BATCH_SIZE", default=200)
CELERY_BEAT_SCHEDULE["audit-prune-api-calls"] = {
    "task": "audit.prune_api_calls",
    "schedule": crontab(hour=3, minute=41),
}
# The authorization-code flow signs users in through the admin's login: password and TOTP code.
LOGIN_URL = "admin:login"
# Admin: a TOTP second factor (django-otp) and lockout after repeated failed logins (django-axes).
AUTHENTICATION_BACKENDS = [
    "csintegration.adminsite.backends.LockoutBackend",
    "django.contrib.auth.backends.ModelBackend",
]
OTP_TOTP_ISSUER = env.str("OTP_TOTP_ISSUER", default="CS Integration Hub")
AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = env.int("AXES_COOLOFF_MINUTES", default=15) / 60  # hours
# Locks the attacking address, and the targeted account against guessing from many addresses.
AXES_LOCKOUT_PARAMETERS = ["ip_address", "username"]
AXES_RESET_ON_SUCCESS = True
AXES_ONLY_ADMIN_SITE = True
AXES_LOCKOUT_TEMPLATE = "admin/lockout.html"
AXES_CLIENT_IP_CALLABLE = "csintegration.api.client_ip.client_address"
SESSION_COOKIE_AGE = env.int("SESSION_COOKIE_AGE", default=8 * 3600)
# The back-office theme (django-unfold). Its sidebar and dashboard are built from what each app registers
# (csintegration/adminsite/navigation.py and dashboard.py), so this names no domain.
UNFOLD = {
    "SITE_TITLE": "CS Integration Hub",
    "SITE_HEADER": "CS Integration Hub",
    "SITE_SUBHEADER": "Customer Success back-office",
    "SITE_URL": "/api/docs/",
    "SITE_SYMBOL": "monitoring",
    "SHOW_VIEW_ON_SITE": False,
    "DASHBOARD_CALLBACK": "csintegration.adminsite.dashboard.dashboard_callback",
    "SIDEBAR": {
        "show_search": True,
        "show_all_applications": True,
        "navigation": "csintegration.adminsite.navigation.sidebar_navigation",
    },
}
# HTTPS: TLS terminates at the reverse proxy (README, "Deployment"), which sets X-Forwarded-Proto.
_proxy_ssl_header = env.list(
    "SECURE_PROXY_SSL_HEADER", default=["HTTP_X_FORWARDED_PROTO", "https"] if PRODUCTION else []
)
SECURE_PROXY_SSL_HEADER = tuple(_proxy_ssl_header) if _proxy_ssl_header else None
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=PRODUCTION)
# Load balancers probe health over plain HTTP inside the private network.
SECURE_REDIRECT_EXEMPT = env.list("SECURE_REDIRECT_EXEMPT", default=[r"^api/v1/cs-integration/health/?$"])
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31536000 if PRODUCTION else 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=PRODUCTION)
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=PRODUCTION)
SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=PRODUCTION)
CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=PRODUCTION)
SESSION_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
# OAuth 2.0 Security BCP (RFC 9700): no implicit or password grant, PKCE S256 only, no tokens in query
# strings, `iss` in authorization responses; https redirect URIs in production.
OAUTH2_PROVIDER.update(
    {
        "COMPLIANT_BCP_RFC9700_IMPLICIT_GRANT": True,
        "COMPLIANT_BCP_RFC9700_PASSWORD_GRANT": True,
        "COMPLIANT_BCP_RFC9700_PKCE_METHOD": True,
        "COMPLIANT_BCP_RFC9700_ACCESS_TOKEN_TRANSPORT": True,
        "COMPLIANT_BCP_RFC9700_AUTHZ_RESPONSE_ISS": True,
        "COMPLIANT_BCP_RFC9700_TOKEN_STORAGE": True,
        "ALLOWED_REDIRECT_URI_SCHEMES": env.list(
            "OAUTH_REDIRECT_URI_SCHEMES", default=["https"] if PRODUCTION else ["http", "https"]
        ),
    }
)

# Access tokens are RS256 JWTs (RFC 9068) signed with JWT_PRIVATE_KEY (PEM); the PEMs in
# JWT_PRIVATE_KEYS_INACTIVE (comma separated) still verify tokens signed before a key rotation, and all of
# them are published at /o/.well-known/jwks.json. Development generates a 2048-bit key under var/.
JWT_ISSUER = env.str("JWT_ISSUER", default="http://127.0.0.1:8000")
JWT_AUDIENCE = env.str("JWT_AUDIENCE", default="cs-integration-api")
JWT_PRIVATE_KEY = env.str("JWT_PRIVATE_KEY", default="").replace("\\n", "\n") or _local_secret(
    "JWT_PRIVATE_KEY", new_rsa_private_key_pem
)
JWT_PRIVATE_KEYS_INACTIVE = [
    pem.replace("\\n", "\n") for pem in env.list("JWT_PRIVATE_KEYS_INACTIVE", default=[]) if pem.strip()
]
OAUTH2_PROVIDER.update(
    {
        "ACCESS_TOKEN_GENERATOR": "csintegration.auth.access_tokens.generate_access_token",
        # Refresh tokens stay opaque: without this oauthlib would mint them with the JWT generator.
        "REFRESH_TOKEN_GENERATOR": "oauthlib.oauth2.rfc6749.tokens.random_token_generator",
        "OIDC_ENABLED": True,  # DOT then serves the JWKS document
        "OIDC_ISS_ENDPOINT": JWT_ISSUER,
        "OIDC_RSA_PRIVATE_KEY": JWT_PRIVATE_KEY,
        "OIDC_RSA_PRIVATE_KEYS_INACTIVE": JWT_PRIVATE_KEYS_INACTIVE,
    }
)
CELERY_BEAT_SCHEDULE["clear-expired-tokens"] = {
    "task": "auth.clear_expired_tokens",
    "schedule": crontab(minute="*/15"),
}
# Client authentication at /o/ (csintegration/clients/auth_guard.py): failed attempts are throttled
# per client id and per address, secret hashing has a bounded share of the CPU, and a client (per user,
# for user-facing apps) holds at most this many live access tokens, its oldest revoked past it (0: no bound).
OAUTH_FAILED_AUTH_PER_CLIENT = env.str("OAUTH_FAILED_AUTH_PER_CLIENT", default="10/minute")
OAUTH_FAILED_AUTH_PER_ADDRESS = env.str("OAUTH_FAILED_AUTH_PER_ADDRESS", default="30/minute")
OAUTH_SECRET_CHECKS_AT_ONCE = env.int("OAUTH_SECRET_CHECKS_AT_ONCE", default=2)
OAUTH_SECRET_CHECK_WAIT_SECONDS = env.float("OAUTH_SECRET_CHECK_WAIT_SECONDS", default=0.2)
OAUTH_MAX_LIVE_TOKENS_PER_CLIENT = env.int("OAUTH_MAX_LIVE_TOKENS_PER_CLIENT", default=100)
# Request signing (RFC 9421): how far a signature's "created" may be from the server's clock, in seconds.
SIGNATURE_MAX_AGE_SECONDS = env.int("SIGNATURE_MAX_AGE_SECONDS", default=300)

# --- Events and webhooks ------------------------------------------------------------------------------
# Domain events (csintegration/events/): publish() writes the outbox row, a fan-out task runs the
# subscribers after commit, and the sweeper re-enqueues what the broker never took.
EVENTS_DEFAULT_QUEUE = "default"
# The fan-out of a type registered critical=True goes to this queue, which has a worker of its own.
EVENTS_CRITICAL_QUEUE = "critical"
EVENTS_SWEEP_GRACE_SECONDS = env.int("EVENTS_SWEEP_GRACE_SECONDS", default=10)  # before a sweep may pick one
EVENTS_SWEEP_LEASE_SECONDS = env.int("EVENTS_SWEEP_LEASE_SECONDS", default=30)  # doubled per sweep, ≤ 1 h
EVENTS_SWEEP_BATCH_SIZE = env.int("EVENTS_SWEEP_BATCH_SIZE", default=500)
# publish_many() hands its fan-outs to the broker this many events per message
EVENTS_FANOUT_BATCH_SIZE = env.int("EVENTS_FANOUT_BATCH_SIZE", default=100)
# Critical events (churn risk) of one bulk write per fan-out message on the critical queue.
EVENTS_CRITICAL_BATCH_SIZE = env.int("EVENTS_CRITICAL_BATCH_SIZE", default=10)
# publish_many() of at most this many events runs inline subscribers (webhooks) in the transaction
EVENTS_INLINE_MAX_BATCH = env.int("EVENTS_INLINE_MAX_BATCH", default=10)
EVENTS_RETRY_BASE_SECONDS = env.float("EVENTS_RETRY_BASE_SECONDS", default=2.0)  # 2, 4, 8 … s, ±20 %
EVENTS_RETRY_MAX_SECONDS = env.float("EVENTS_RETRY_MAX_SECONDS", default=600.0)
EVENTS_MAX_DISPATCH_ATTEMPTS = env.int("EVENTS_MAX_DISPATCH_ATTEMPTS", default=12)
# A request must not hang on a dead broker: try briefly, then leave the work to its app's recovery
# (csintegration/tasks.py).
TASK_ENQUEUE_RETRY_POLICY = {
    "max_retries": 2,
    "interval_start": 0,
    "interval_step": 0.2,
    "interval_max": 0.5,
}
# Queues: critical (churn risk, its own worker), webhooks (deliveries), bulk (nightly and bulk jobs),
# default (the rest). A task's explicit queue= wins over these routes.
CELERY_TASK_ROUTES = {
    "webhooks.dispatch_due_deliveries": {"queue": "default"},
    "webhooks.*": {"queue": "webhooks"},
    "*.recompute*": {"queue": "bulk"},
    "*.bulk*": {"queue": "bulk"},
    "bulk.*": {"queue": "bulk"},
}
CELERY_TASK_ACKS_ON_FAILURE_OR_TIMEOUT = True  # a task that raised is done; its retry is a new message
CELERY_BEAT_SCHEDULE["events-sweep-undispatched"] = {
    "task": "events.sweep_undispatched",
    "schedule": 5.0,
    # A sweep that waited longer than the next one is pointless; drop it rather than pile them up.
    "options": {"expires": 5.0, "queue": "default"},
}
# Health check (GET …/health): every check at once, the answer within this; the outbox is failing past
# this many undispatched events or when its oldest is older than this.
HEALTH_CHECK_TIMEOUT_SECONDS = env.float("HEALTH_CHECK_TIMEOUT_SECONDS", default=2.0)
HEALTH_OUTBOX_MAX_BACKLOG = env.int("HEALTH_OUTBOX_MAX_BACKLOG", default=5000)
HEALTH_OUTBOX_MAX_AGE_SECONDS = env.int("HEALTH_OUTBOX_MAX_AGE_SECONDS", default=300)

# --- Logging and metrics ------------------------------------------------------------------------------
# One structured line per request and per task (csintegration/observability/logs.py): human-readable on
# the console by default, JSON with LOG_FORMAT=json.
LOG_LEVEL = env.str("LOG_LEVEL", default="INFO")
LOG_FORMAT = env.str("LOG_FORMAT", default="console")
configure_structlog()
LOGGING = logging_config(log_format=LOG_FORMAT, level=LOG_LEVEL)
# Housekeeping that runs every few seconds logs at DEBUG; a client's oversized body (answered 413) is a
# log line, not an email to ADMINS per request.
LOGGING["filters"] = {"quiet_housekeeping": {"()": "csintegration.logging_filters.QuietHousekeepingFilter"}}
LOGGING["handlers"]["console"]["filters"] = ["quiet_housekeeping"]
LOGGING["loggers"]["django.security.RequestDataTooBig"] = {
    "handlers": ["console"],
    "level": "WARNING",
    "propagate": False,
}
# Prometheus metrics of every process (gunicorn workers, Celery workers) are kept in files here and
# summed by GET …/metrics (prometheus-client's multiprocess mode).
PROMETHEUS_MULTIPROC_DIR = Path(env.str("PROMETHEUS_MULTIPROC_DIR", default=str(VAR_DIR / "metrics")))
PROMETHEUS_MULTIPROC_DIR.mkdir(parents=True, exist_ok=True)
os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(PROMETHEUS_MULTIPROC_DIR)

EMAIL_BACKEND = env.str("EMAIL_BACKEND", default="django.core.mail.backends.console.EmailBackend")
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="cs-hub@localhost")
ADMINS = [("Operators", address) for address in env.list("OPERATOR_EMAILS", default=["ops@localhost"])]

APPEND_SLASH = False
CSRF_FAILURE_VIEW = "csintegration.api.exceptions.csrf_failure"
