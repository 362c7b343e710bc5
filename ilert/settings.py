"""Settings, all from environment variables (12-factor).

With nothing set, the product runs embedded: SQLite under var/, a filesystem
Celery broker, a local-memory cache and a dev outbox for every channel.
DEBUG is off unless asked for, and without DEBUG a SECRET_KEY is required.
"""

import os
import sys
from pathlib import Path
from urllib.parse import urlparse

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent


def env(name, default=None):
    value = os.environ.get(name)
    return default if value in (None, "") else value


def env_bool(name, default=False):
    value = env(name)
    if value is None:
        return default
    return value.strip().lower() in ("1", "true", "yes", "on")


def env_list(name, default=""):
    return [item.strip() for item in env(name, default).split(",") if item.strip()]


DATA_DIR = Path(env("ILERT_DATA_DIR", BASE_DIR / "var"))
DEBUG = env_bool("DEBUG")
SECRET_KEY = env("SECRET_KEY")
# Commands that build or inspect the project (never serve a request, sign or encrypt anything).
BUILD_COMMANDS = {"makemigrations", "collectstatic", "check", "help", "showmigrations", "spectacular"}
if not SECRET_KEY:
    if DEBUG:
        SECRET_KEY = "insecure-development-key-do-not-use-in-production"  # noqa: S105
    elif len(sys.argv) > 1 and sys.argv[0].endswith("manage.py") and sys.argv[1] in BUILD_COMMANDS:
        SECRET_KEY = "build-only-key-this-process-serves-nothing"  # noqa: S105
    else:
        raise ImproperlyConfigured(
            "SECRET_KEY is not set. Set SECRET_KEY (or DEBUG=true for local development only)."
        )

# Fernet keys for secrets stored encrypted (newest first; see ilert/secrets.py).
ENCRYPTION_KEYS = env_list("ENCRYPTION_KEYS")

# Public base URL: links in emails and pages, Twilio webhook URLs and their signatures.
SITE_URL = env("SITE_URL", "http://127.0.0.1:8000").rstrip("/")
_site = urlparse(SITE_URL)
SERVED_OVER_HTTPS = _site.scheme == "https"

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", f"localhost,127.0.0.1,[::1],{_site.hostname}")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", f"{_site.scheme}://{_site.netloc}")
if env_bool("TRUST_X_FORWARDED_PROTO"):
    # Behind a TLS-terminating proxy: build_absolute_uri() must give https:// (signatures depend on it).
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SESSION_COOKIE_SECURE = env_bool("SECURE_COOKIES", SERVED_OVER_HTTPS)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
SECURE_REFERRER_POLICY = "same-origin"
if SERVED_OVER_HTTPS:
    SECURE_HSTS_SECONDS = int(env("SECURE_HSTS_SECONDS", "31536000"))

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "anymail",
    "ilert",
    "accounts",
    "alerts",
    "schedules",
    "escalation",
    "notifications",
    "connectors",
    "uptime",
]

MIDDLEWARE = [
    "ilert.middleware.BodySizeLimitMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "ilert.tenancy.TenantMiddleware",
]

ROOT_URLCONF = "ilert.urls"
WSGI_APPLICATION = "ilert.wsgi.application"

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
                "ilert.context.dashboard",
            ],
        },
    },
]

# Database: DATABASE_URL (PostgreSQL in production), else SQLite under DATA_DIR.
DATABASE_URL = env("DATABASE_URL")
if not DATABASE_URL:
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    DATABASE_URL = f"sqlite:///{DATA_DIR / 'ilert.sqlite3'}"
DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=int(env("DB_CONN_MAX_AGE", "60")))}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL and IMMEDIATE transactions let the web server, worker and beat share one file without
    # "database is locked" upgrades; the timeout waits for the other writer instead of failing.
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"]["OPTIONS"] = {
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        "transaction_mode": "IMMEDIATE",
        "timeout": 30,
    }
else:
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = env("REDIS_URL")
if REDIS_URL:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}}
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
# Storage for rate limits (the `limits` library): shared across processes when Redis is configured.
RATELIMIT_STORAGE_URL = REDIS_URL or "memory://"

AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = ["django.contrib.auth.backends.ModelBackend"]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 10}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"
PASSWORD_RESET_TIMEOUT = 60 * 60 * 24
INVITATION_MAX_AGE = 60 * 60 * 24 * 7
# Outbound requests (connectors, uptime checks) may reach private/loopback addresses only when
# this is on: for self-hosters watching their own network. Off in SaaS mode.
ALLOW_PRIVATE_TARGETS = env_bool("ALLOW_PRIVATE_TARGETS")
# Connectors: timeout of each outbound request, and Slack's Web API base URL.
CONNECTOR_TIMEOUT_SECONDS = float(env("CONNECTOR_TIMEOUT_SECONDS", "10"))
SLACK_API_URL = env("SLACK_API_URL", "https://slack.com/api/")
# Events accepted per integration key (a `limits` string); more get 429 with Retry-After.
INGEST_RATE_LIMIT = env("INGEST_RATE_LIMIT", "1000/minute")
# Inbound email alert sources receive mail at <integration key>@INBOUND_EMAIL_DOMAIN (point the
# domain's MX at your ESP and its inbound webhook at /anymail/<esp>/inbound/).
INBOUND_EMAIL_DOMAIN = env("INBOUND_EMAIL_DOMAIN", _site.hostname or "localhost").lower()
# Validates X-Twilio-Signature of inbound SMS to SMS alert sources (/integrations/twilio/sms).
TWILIO_AUTH_TOKEN = env("TWILIO_AUTH_TOKEN", "")
# Failed logins allowed per email and per client address before a pause.
LOGIN_FAILURE_LIMIT = env("LOGIN_FAILURE_LIMIT", "5/5minute")

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = False
USE_TZ = True

STATIC_URL = "/static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = DATA_DIR / "static"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
# Serve straight from the finders when collectstatic has not run (embedded mode, tests).
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = DEBUG

# Email: any anymail ESP by settings (EMAIL_BACKEND=anymail.backends.mailgun.EmailBackend and
# ANYMAIL_* credentials); the default keeps every message in the dev outbox shown in the dashboard.
EMAIL_BACKEND = env("EMAIL_BACKEND", "ilert.devoutbox.EmailBackend")
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", "ilert <alerts@localhost>")
ANYMAIL = {key[len("ANYMAIL_"):]: value for key, value in os.environ.items() if key.startswith("ANYMAIL_")}

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "accounts.auth.ApiKeyAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["ilert.api_defaults.RolePermission"],
    "DEFAULT_PAGINATION_CLASS": "ilert.api_defaults.Pagination",
    "DEFAULT_FILTER_BACKENDS": [
        "ilert.api_defaults.TenantFilterBackend",
        "rest_framework.filters.SearchFilter",
        "rest_framework.filters.OrderingFilter",
    ],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "ilert.api.exception_handler",
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
}
SPECTACULAR_SETTINGS = {
    "TITLE": "ilert API",
    "DESCRIPTION": "Alerting, on-call management and uptime monitoring.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "APPEND_COMPONENTS": {
        "securitySchemes": {"ApiKey": {"type": "http", "scheme": "bearer", "description": "ilert API key"}}
    },
    "SECURITY": [{"ApiKey": []}],
}
# Request bodies above this many bytes are refused with 413 before parsing.
DATA_UPLOAD_MAX_MEMORY_SIZE = int(env("MAX_REQUEST_BYTES", str(512 * 1024)))

# Celery: Redis when configured, else a filesystem broker under DATA_DIR (no server needed).
# Nothing relies on a message surviving: sweepers find every due row in the database.
CELERY_BROKER_URL = REDIS_URL or "filesystem://"
if not REDIS_URL:
    _broker_dir = str(DATA_DIR / "broker")
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": _broker_dir,
        "data_folder_out": _broker_dir,
        "processed_folder": str(DATA_DIR / "broker-processed"),
        "store_processed": False,
    }
else:
    CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600}
# Uptime checks hold a worker for a whole sweep (and wait on slow targets): they get their own
# queue, so they can never take the slots that escalation and notifications need. A worker for
# both runs `-Q celery,uptime` (the embedded run does); production runs one worker per queue.
CELERY_TASK_ROUTES = {"uptime.tasks.*": {"queue": "uptime"}}
WORKER_QUEUES = "celery,uptime"
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_IGNORE_RESULT = True
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TIMEZONE = "UTC"
# Sweepers: each app's periodic catch-up for due rows that no task handled, ticked by beat.
SWEEP_INTERVAL_SECONDS = float(env("SWEEP_INTERVAL_SECONDS", "2"))
SWEEPER_TASKS = [
    "alerts.tasks.sweep",
    "alerts.tasks.sweep_heartbeats",
    "escalation.tasks.sweep",
    "notifications.tasks.sweep",
    "connectors.tasks.sweep",
    "uptime.tasks.sweep",
]
CELERY_BEAT_SCHEDULE = {
    name: {"task": name, "schedule": SWEEP_INTERVAL_SECONDS, "options": {"expires": SWEEP_INTERVAL_SECONDS * 3}}
    for name in SWEEPER_TASKS
}
# Uptime history housekeeping (roll-ups and pruning); idempotent, any interval works.
CELERY_BEAT_SCHEDULE["uptime.tasks.maintain"] = {"task": "uptime.tasks.maintain", "schedule": 300.0,
                                                 "options": {"expires": 600}}
# Change events older than 90 days are forgotten; idempotent, any interval works.
CELERY_BEAT_SCHEDULE["alerts.tasks.prune_changes"] = {"task": "alerts.tasks.prune_changes", "schedule": 3600.0,
                                                      "options": {"expires": 3600.0}}
# Uptime checks: how many run at once per engine loop, how long one sweep keeps claiming due
# monitors (the loop polls every 0.1 s), how soon a failed check is retried before "down", an
# extra CA bundle for HTTPS/TLS checks of internal services, and the history kept (raw results,
# then hourly and daily roll-ups).
UPTIME_CONCURRENCY = int(env("UPTIME_CONCURRENCY", "100"))
UPTIME_SWEEP_SECONDS = float(env("UPTIME_SWEEP_SECONDS", str(SWEEP_INTERVAL_SECONDS)))
UPTIME_RETRY_SECONDS = int(env("UPTIME_RETRY_SECONDS", "30"))
UPTIME_CA_BUNDLE = env("UPTIME_CA_BUNDLE")
UPTIME_RAW_RETENTION_DAYS = max(2, int(env("UPTIME_RAW_RETENTION_DAYS", "7")))
UPTIME_HOURLY_RETENTION_DAYS = max(3, int(env("UPTIME_HOURLY_RETENTION_DAYS", "35")))
UPTIME_DAILY_RETENTION_DAYS = max(91, int(env("UPTIME_DAILY_RETENTION_DAYS", "400")))
# Notifications (the notifications app). Platform provider credentials; tenants may bring their own
# (stored encrypted). With nothing configured every channel writes to the dev outbox.
TWILIO_ACCOUNT_SID = env("TWILIO_ACCOUNT_SID", "")
TWILIO_FROM_NUMBER = env("TWILIO_FROM_NUMBER", "")
# Re-host https://api.twilio.com (a regional proxy, or a local fake in tests and benchmarks).
TWILIO_API_BASE_URL = env("TWILIO_API_BASE_URL", "")
# Timeout of one provider call (Twilio, FCM): well inside the send deadline below.
NOTIFICATION_PROVIDER_TIMEOUT_SECONDS = float(env("NOTIFICATION_PROVIDER_TIMEOUT_SECONDS", "10"))
FIREBASE_CREDENTIALS_FILE = env("FIREBASE_CREDENTIALS_FILE", "")
# Replies to notification emails arrive at reply+<token>@INBOUND_EMAIL_DOMAIN (anymail inbound).
# A claimed notification must start its provider call within this, and the call must end within
# this from its start (keep it well above the provider timeout); afterwards the sweeper reconciles it.
NOTIFICATION_SEND_DEADLINE_SECONDS = int(env("NOTIFICATION_SEND_DEADLINE_SECONDS", "60"))
# Provider calls made side by side per worker process (one hanging recipient holds one of them).
NOTIFICATION_SEND_CONCURRENCY = int(env("NOTIFICATION_SEND_CONCURRENCY", "32"))
NOTIFICATION_MAX_ATTEMPTS = int(env("NOTIFICATION_MAX_ATTEMPTS", "4"))
# One-click links in notification emails (and push action tokens) expire after this.
NOTIFICATION_ACTION_MAX_AGE_SECONDS = int(env("NOTIFICATION_ACTION_MAX_AGE_SECONDS", str(24 * 3600)))
# Publishing a task after commit is only an early wake-up; tests may turn it off to prove the sweepers.
ILERT_KICK_TASKS = env_bool("ILERT_KICK_TASKS", True)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "filters": {"redact": {"()": "ilert.logging.RedactSecretsFilter"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain", "filters": ["redact"]}},
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", "INFO")},
    # HTTP client libraries log request URLs (some are secrets, e.g. incoming-webhook URLs) and signed
    # headers at DEBUG: keep them at INFO whatever LOG_LEVEL says.
    "loggers": {"django.db.backends": {"level": "WARNING"}, "urllib3": {"level": "INFO"},
                "botocore": {"level": "INFO"}, "boto3": {"level": "INFO"}, "google.auth": {"level": "INFO"},
                "slack_sdk": {"level": "INFO"}},
}
