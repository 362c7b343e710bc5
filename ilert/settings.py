"""Settings, all from environment variables (12-factor).

With nothing set, the product runs embedded: SQLite under var/, no broker (kicked tasks run in the
process that kicks them), a local-memory cache and a dev outbox for every channel.
DEBUG is off unless asked for, and without DEBUG a SECRET_KEY is required.
"""

import ipaddress
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
    "importers",
    "status",  # status pages (issue 17): depends on alerts and uptime, never the other way round
    "reports",
]

MIDDLEWARE = [
    "ilert.middleware.BodySizeLimitMiddleware",
    "status.fastpath.ConditionalFastPath",  # 304s for public status pages before the rest (docs/status-pages.md)
    "ilert.middleware.DatabaseUnavailableMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "ilert.csp.ContentSecurityPolicyMiddleware",
    "alerts.fastpath.IntakeFastPath",  # events and pings skip the rest (alerts/fastpath.py, docs/intake.md)
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "ilert.tenancy.TenantMiddleware",
    "ilert.readerzone.ReaderTimeZoneMiddleware",  # issue 15: pages show and read times in the reader's zone
    "status.middleware.CustomDomainMiddleware",  # a status page on its own domain (docs/status-pages.md)
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
    # WAL and IMMEDIATE transactions let the web server and the ticker share one file without
    # "database is locked" upgrades; the timeout waits for the other writer instead of failing.
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"]["OPTIONS"] = {
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        "transaction_mode": "IMMEDIATE",
        "timeout": 30,
    }
else:
    if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
        DATABASES["default"]["ENGINE"] = "ilert.db"  # Django's, with a health check without a round trip
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
# How many threads of each pool in a worker process (Celery's task threads, the notification sender
# threads) keep their database connection from one job to the next (ilert/threads.py); the others
# connect per job. 0: all of them. A connection per job forks a PostgreSQL process per message
# (bench/notify: half a core at 120 new incidents/s); keeping all of them needs their slots
# (docs/scaling.md counts them). Lower it when many worker processes share a database without a pooler.
DB_KEEP_THREAD_CONNECTIONS = int(env("DB_KEEP_THREAD_CONNECTIONS", "0"))
# The hottest statements are prepared on the server once per connection (ilert/db/prepared.py); off
# behind a pooler in transaction mode, which moves a session's statements between connections.
DB_PREPARED_STATEMENTS = env_bool("DB_PREPARED_STATEMENTS", True)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = env("REDIS_URL")
if REDIS_URL:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}}
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
# Storage for rate limits (the `limits` library): shared across processes when Redis is configured.
RATELIMIT_STORAGE_URL = REDIS_URL or "memory://"
# What a web request gives Redis (rate limits, task kicks): this long to connect and to answer, no
# retries; while Redis is unreachable, limits count in process memory and kicks are skipped (the
# sweepers find the work in the database), and Redis is tried again every REDIS_RETRY_SECONDS.
REDIS_TIMEOUT_SECONDS = float(env("REDIS_TIMEOUT_SECONDS", "0.25"))
REDIS_RETRY_SECONDS = float(env("REDIS_RETRY_SECONDS", "5"))

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
# Reverse proxies whose X-Forwarded-For names the client (addresses or networks, comma-separated).
# Without it the client is the TCP peer: behind a proxy every user would share one address.
TRUSTED_PROXIES = env_list("TRUSTED_PROXIES")
for _proxy in TRUSTED_PROXIES:
    try:
        ipaddress.ip_network(_proxy, strict=False)
    except ValueError:
        raise ImproperlyConfigured(f"TRUSTED_PROXIES: {_proxy!r} is not an address or a network.")
# Failed logins (dashboard and Django admin) allowed per account from one client, and per account
# from anywhere; a browser that has logged in to the account before is held only to the first, so
# strangers failing on purpose cannot lock its owner out. Password reset mails per account, and
# reset requests per client.
LOGIN_FAILURE_LIMIT = env("LOGIN_FAILURE_LIMIT", "5/5minute")
LOGIN_ACCOUNT_FAILURE_LIMIT = env("LOGIN_ACCOUNT_FAILURE_LIMIT", "20/hour")
PASSWORD_RESET_LIMIT = env("PASSWORD_RESET_LIMIT", "5/hour")
PASSWORD_RESET_CLIENT_LIMIT = env("PASSWORD_RESET_CLIENT_LIMIT", "50/hour")
# New organisations per client (each can send verification codes and invitations).
SIGNUP_CLIENT_LIMIT = env("SIGNUP_CLIENT_LIMIT", "10/hour")

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

# The dev outbox: every channel without a provider writes its messages there and the dashboard
# shows them (admins: the organisation's; everyone: their own account messages). Off unless turned
# on (./scripts/run, the embedded demo, does): it holds password-reset and invitation links.
DEV_OUTBOX = env_bool("DEV_OUTBOX", DEBUG)
DEV_EMAIL_BACKEND = "ilert.devoutbox.EmailBackend"
UNCONFIGURED_EMAIL_BACKEND = "ilert.devoutbox.UnconfiguredEmailBackend"
# Email: any anymail ESP by settings (EMAIL_BACKEND=anymail.backends.mailgun.EmailBackend and
# ANYMAIL_* credentials). Without one, mail goes to the dev outbox when it is on, else nowhere:
# the product then says so (startup log, /readyz, a banner for admins) and sends fail visibly.
EMAIL_BACKEND = env("EMAIL_BACKEND", DEV_EMAIL_BACKEND if DEV_OUTBOX else UNCONFIGURED_EMAIL_BACKEND)
if EMAIL_BACKEND == DEV_EMAIL_BACKEND and not DEV_OUTBOX:
    raise ImproperlyConfigured("EMAIL_BACKEND is the dev outbox but DEV_OUTBOX is off: set DEV_OUTBOX=true "
                               "(development only) or configure an email provider.")
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

# Celery: kicked tasks (early wake-ups, ilert/kick.py) go through Redis when it is configured. The
# embedded default has no broker at all: the process that kicks a task runs it in a few threads of
# its own (ilert/localtasks.py), which no filesystem queue can corrupt (kombu's filesystem transport
# crashed the embedded worker under load, celery/kombu#1551). Nothing relies on a message surviving:
# the ticker's sweepers find every due row in the database.
TASK_RUNNER = "celery" if REDIS_URL else "local"
CELERY_BROKER_URL = REDIS_URL or "memory://"
# A worker's connection to a broker that has gone away (not refusing: unreachable) fails within
# seconds, not the operating system's connect timeout. Kicks have their own, shorter ones (kick.py).
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600, "socket_connect_timeout": 2, "socket_timeout": 10}
# Uptime checks hold a worker for a whole sweep (and wait on slow targets): they get their own
# queue, so they can never take the slots that escalation and notifications need. A worker for
# both runs `-Q celery,uptime`; production runs one worker per queue.
CELERY_TASK_ROUTES = {"uptime.tasks.*": {"queue": "uptime"}}
WORKER_QUEUES = "celery,uptime"
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_IGNORE_RESULT = True
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TIMEZONE = "UTC"
# Workers log through LOGGING (its handler redacts secrets) instead of replacing the root handlers.
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
# Celery's Django fixup closes a task's database connection before and after every task unless this
# is set: a new PostgreSQL connection per task. Set, it closes one only every 2 × this many tasks;
# ilert/celery.py looks at connections around each task as Django does around a request.
CELERY_DB_REUSE_MAX = 1000
# Sweepers: each app's periodic catch-up for due rows that no task handled.
SWEEP_INTERVAL_SECONDS = float(env("SWEEP_INTERVAL_SECONDS", "2"))
# Under a stream of new incidents a worker's escalation pass waits this long before it runs again for
# the kicks that came in meanwhile, so that it pages them in bigger batches (escalation/tasks.py).
# A lone incident is stepped at once.
ESCALATION_GATHER_SECONDS = float(env("ESCALATION_GATHER_SECONDS", "0.1"))
if not 0 <= ESCALATION_GATHER_SECONDS <= 1:  # each page of a stream may wait this long on top
    raise ImproperlyConfigured(f"ESCALATION_GATHER_SECONDS: {ESCALATION_GATHER_SECONDS} is not between 0 and 1.")
SWEEPER_TASKS = [
    "alerts.tasks.sweep",
    "alerts.tasks.sweep_heartbeats",
    "escalation.tasks.sweep",
    "notifications.tasks.sweep",
    "connectors.tasks.sweep",
    "uptime.tasks.sweep",
    "status.tasks.sweep",  # maintenance start/end/reminders and subscriber notices
]
# Periodic tasks {task: seconds}, run by the ticker (ilert/ticker.py) of every worker and of the
# embedded run, each tick once across all of them. Celery beat is not used: it was one process whose
# loss stopped escalation. Housekeeping is idempotent, so any interval works: uptime roll-ups and
# pruning, forgetting change events older than 90 days, and forgetting webhook delivery ids.
TICK_SCHEDULE = {name: SWEEP_INTERVAL_SECONDS for name in SWEEPER_TASKS}
TICK_SCHEDULE["uptime.tasks.maintain"] = 300.0
TICK_SCHEDULE["alerts.tasks.prune_changes"] = 3600.0
TICK_SCHEDULE["ilert.tasks.prune_replays"] = 3600.0
TICK_SCHEDULE["importers.tasks.sweep"] = 30.0  # import jobs whose kick was lost (issue 20)
# Reports: fold changed incidents into the daily roll-ups (a report read folds what is left).
TICK_SCHEDULE["reports.tasks.sweep"] = 60.0
# Replay protection for inbound webhooks (ilert/replay.py): a signed Mailgun timestamp may be this
# old (Mailgun retries a failed delivery with its first signature for 8 hours), and the ids of
# deliveries already acted on are forgotten (ilert.tasks.prune_replays) once they could not be
# accepted anyway.
WEBHOOK_MAX_AGE_SECONDS = int(env("WEBHOOK_MAX_AGE_SECONDS", str(12 * 3600)))
# Uptime checks: how many run at once per engine loop, how long one sweep keeps claiming due
# monitors (the loop polls every 0.1 s), how soon a failed check is retried before "down", an
# extra CA bundle for HTTPS/TLS checks of internal services, and the history kept (raw results,
# then hourly and daily roll-ups).
# The DNS server that checks status pages' custom-domain TXT records ("ip" or "ip:port"); empty: the
# system resolver (docs/status-pages.md).
STATUS_DNS_RESOLVER = env("STATUS_DNS_RESOLVER", "")
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
# Operator metrics (GET /metrics, docs/metrics.md). Off (404) until METRICS_TOKEN is set; Prometheus
# then sends it as a bearer token. Every process writes its values under PROMETHEUS_MULTIPROC_DIR
# (var/metrics by default; `manage.py run` empties it at start), and /metrics adds them up.
# METRICS_MULTIPROCESS=false keeps each process's values to itself (one-process set-ups, tests).
METRICS_TOKEN = env("METRICS_TOKEN", "")
METRICS_MULTIPROCESS = env_bool("METRICS_MULTIPROCESS", True)
if METRICS_MULTIPROCESS:
    # Read by prometheus_client when ilert.metrics is first imported (after the settings).
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(env("PROMETHEUS_MULTIPROC_DIR", DATA_DIR / "metrics"))
else:
    os.environ.pop("PROMETHEUS_MULTIPROC_DIR", None)
# Web Push (notifications/vapid.py, docs/push.md): the VAPID key pair, from here or generated into
# DATA_DIR on first use (every process that sends must see the same key), and the `sub` claim.
WEBPUSH_VAPID_PRIVATE_KEY = env("WEBPUSH_VAPID_PRIVATE_KEY", "")
WEBPUSH_VAPID_SUBJECT = env("WEBPUSH_VAPID_SUBJECT", "")
# How long a push service keeps a page for a device that is offline (seconds).
WEBPUSH_TTL_SECONDS = int(env("WEBPUSH_TTL_SECONDS", "3600"))
# Publishing a task after commit is only an early wake-up; tests may turn it off to prove the sweepers.
ILERT_KICK_TASKS = env_bool("ILERT_KICK_TASKS", True)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "filters": {"redact": {"()": "ilert.logging.RedactSecretsFilter"},
                "client_errors": {"()": "ilert.logging.ClientErrorsAreInfoFilter"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain", "filters": ["redact"]}},
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", "INFO")},
    # HTTP client libraries log request URLs (some are secrets, e.g. incoming-webhook URLs) and signed
    # headers at DEBUG: keep them at INFO whatever LOG_LEVEL says.
    "loggers": {"django.db.backends": {"level": "WARNING"}, "urllib3": {"level": "INFO"},
                "django.request": {"filters": ["client_errors"]}, "django.security": {"filters": ["client_errors"]},
                "botocore": {"level": "INFO"}, "boto3": {"level": "INFO"}, "google.auth": {"level": "INFO"},
                "slack_sdk": {"level": "INFO"}, "httpx": {"level": "WARNING"}, "httpcore": {"level": "WARNING"}},
}
