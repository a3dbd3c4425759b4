"""Leadcaller settings: every value comes from the environment (see README, "Configuration").

Each variable is read once, here. A missing or malformed value that the project cannot run
without stops start-up with ImproperlyConfigured naming the variable.
"""

from __future__ import annotations

import secrets
from datetime import timedelta
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

from leadcaller import config

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(environ.Env().str("LEADCALLER_VAR_DIR", default=str(BASE_DIR / "var")))
# The SQLite database, the secret key, the broker's messages: for this user's eyes only.
config.private_dir(VAR_DIR)

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)


def _secret_key() -> str:
    """SECRET_KEY from the environment, else one generated once and kept in var/ (0600)."""
    value = env.str("SECRET_KEY", default="")
    if value:
        return value
    path = VAR_DIR / "secret_key"
    if not path.exists():
        path.write_text(secrets.token_urlsafe(50))
        path.chmod(0o600)
    return path.read_text().strip()


SECRET_KEY = _secret_key()
DEBUG = config.read(env.bool, "DEBUG", default=False)
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"])
PUBLIC_BASE_URL = config.url("PUBLIC_BASE_URL", env.str("PUBLIC_BASE_URL", default="http://localhost:8000"))
CSRF_TRUSTED_ORIGINS = [PUBLIC_BASE_URL]
# Set by `make run` (demo/launcher.py) when it runs provider simulators: their state, for /demo/.
# Unset, the /demo/ page does not exist.
DEMO_SIMULATORS_URL = env.str("DEMO_SIMULATORS_URL", default="")

INSTALLED_APPS = [
    "leadcaller.admin_site.LeadcallerAdminConfig",  # django.contrib.admin, with the queue size in the menu
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",  # the do-not-call API's tokens (dnc/api.py)
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "corsheaders",
    "leads",
    "telephony",
    "notifications",
    "dashboard",
    "dnc",
    "consent",
    "sellers",
    "messaging",
    "leads.apps.LoginLockoutConfig",  # django-axes, under a translated name in the admin
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "leadcaller.logging.RequestContextMiddleware",
    "leadcaller.csp.ContentSecurityPolicyMiddleware",
    "corsheaders.middleware.CorsMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last: turns a locked-out log-in into the lock-out page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "leadcaller.urls"
WSGI_APPLICATION = "leadcaller.wsgi.application"

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
                "demo.context_processors.demo_page",
                "dashboard.context_processors.dashboard_link",
            ],
        },
    },
]

# --- Database ---------------------------------------------------------------------------------
DATABASES = {
    "default": config.database(
        "DATABASE_URL",
        config.read(env.db_url, "DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'leadcaller.sqlite3'}"),
    )
}
config.tune_database(DATABASES["default"], test_dir=VAR_DIR)
config.private_sqlite_file(DATABASES["default"])
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Cache (throttles and short-lived look-ups; must be shared by every web process) ----------
# The default is the embedded broker (leadcaller/broker.py; kombu's `filesystem://` gets it too).
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default="leadcaller-fs://localhost//")
# Isolates several deployments (or test runs) that share one Redis: prefixes broker and cache keys.
REDIS_KEY_PREFIX = env.str("REDIS_KEY_PREFIX", default="")
CACHES = {
    "default": config.cache_settings(
        config.read(env.cache_url, "CACHE_URL", default=config.default_cache_url(CELERY_BROKER_URL, VAR_DIR)),
        key_prefix=REDIS_KEY_PREFIX,
    )
}

# --- Log-in lock-out (django-axes): the admin's and the dashboard's log-in ---------------------------
# A user name from one address is locked after LOGIN_FAILURE_LIMIT wrong passwords in a row, for
# LOGIN_LOCKOUT_MINUTES (0: until unlocked in the admin, Log-in lock-outs -> Access attempts).
AUTHENTICATION_BACKENDS = ["axes.backends.AxesStandaloneBackend", "django.contrib.auth.backends.ModelBackend"]
AXES_FAILURE_LIMIT = config.at_least("LOGIN_FAILURE_LIMIT", config.read(env.int, "LOGIN_FAILURE_LIMIT", default=5), 1)
LOGIN_LOCKOUT_MINUTES = config.not_negative("LOGIN_LOCKOUT_MINUTES",
                                      config.read(env.int, "LOGIN_LOCKOUT_MINUTES", default=15))
AXES_COOLOFF_TIME = timedelta(minutes=LOGIN_LOCKOUT_MINUTES) if LOGIN_LOCKOUT_MINUTES else None
# The user name and address together: a guesser is stopped, and a colleague behind the same office
# address still logs in. The address is read as intake reads it (NUM_PROXIES), never from a
# forwarding header the client wrote.
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_CLIENT_IP_CALLABLE = "leadcaller.http.client_ip"
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_CALLABLE = "leads.login_lockout.locked_out_page"
AXES_VERBOSE = False  # no banner at every process start

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = env.str("LANGUAGE_CODE", default="en")
LANGUAGES = [("en", "English"), ("ru", "Русский")]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = config.time_zone("TIME_ZONE", env.str("TIME_ZONE", default="UTC"))
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"  # only for an optional collectstatic
STATIC_ROOT.mkdir(exist_ok=True)
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
# Serve straight from the finders so `migrate` is the only step before start (no collectstatic).
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = DEBUG

# --- HTTP API ---------------------------------------------------------------------------------
NUM_PROXIES = config.read(env.int, "NUM_PROXIES", default=0)
REST_FRAMEWORK = {
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_AUTHENTICATION_CLASSES": [],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.AllowAny"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    # JSON bounded in depth: no body can make a view raise RecursionError (leadcaller/parsers.py).
    "DEFAULT_PARSER_CLASSES": ["leadcaller.parsers.BoundedJSONParser", "rest_framework.parsers.FormParser",
                               "rest_framework.parsers.MultiPartParser"],
    "UNAUTHENTICATED_USER": None,
    # 0, not None: DRF trusts the whole X-Forwarded-For header when NUM_PROXIES is None.
    "NUM_PROXIES": NUM_PROXIES,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Leadcaller API",
    "DESCRIPTION": "Lead intake for web forms, the VoxImplant scenario callback and the do-not-call list.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}

# Browser forms post cross-origin; leads/cors.py allows the active sites' domains only.
# The widget (static/widget/) also reads its site's public settings and its lead's state.
CORS_URLS_REGEX = r"^/api/v1/(leads/|leads/status/|widget/config/)$"
CORS_ALLOW_HEADERS = ["accept", "content-type", "x-leadcaller-key", "x-requested-with"]

# --- Intake -----------------------------------------------------------------------------------
# store: a lead from an unregistered domain is kept (default site, flagged) and sent to the CRM, never
# dialled; accept: the same, and dialled; reject: 400.
UNKNOWN_SITES = config.choice("UNKNOWN_SITES", env.str("UNKNOWN_SITES", default="store"),
                              ["store", "accept", "reject"])
PHONE_REGION = config.region("PHONE_REGION", env.str("PHONE_REGION", default="RU"))
INTAKE_MAX_BYTES = config.read(env.int, "INTAKE_MAX_BYTES", default=64 * 1024)
# Leads (Corezoid ops) in one post; each counts against the throttles like a post of its own.
INTAKE_MAX_OPS = config.at_least("INTAKE_MAX_OPS", config.read(env.int, "INTAKE_MAX_OPS", default=10), 1)
INTAKE_HONEYPOT_FIELD = env.str("INTAKE_HONEYPOT_FIELD", default="hp_website")
THROTTLE_PER_IP = config.rate("THROTTLE_PER_IP", env.str("THROTTLE_PER_IP", default="30/min"))
THROTTLE_PER_PHONE = config.rate("THROTTLE_PER_PHONE", env.str("THROTTLE_PER_PHONE", default="5/hour"))
THROTTLE_PER_SITE = config.rate("THROTTLE_PER_SITE", env.str("THROTTLE_PER_SITE", default="600/min"))
# The widget's look at its own lead (GET /api/v1/leads/status/): per visitor IP, and how long the
# token handed out at intake stays good.
THROTTLE_STATUS = config.rate("THROTTLE_STATUS", env.str("THROTTLE_STATUS", default="60/min"))
STATUS_TOKEN_HOURS = config.at_least("STATUS_TOKEN_HOURS", config.read(env.int, "STATUS_TOKEN_HOURS", default=24), 1)
# A form builder's submission id (Tilda's tranid) answers repeats with the first lead for this many
# days; Tilda itself retries twice, a minute apart (docs/forms.md).
SUBMISSION_KEY_DAYS = config.at_least("SUBMISSION_KEY_DAYS",
                                      config.read(env.int, "SUBMISSION_KEY_DAYS", default=30), 1)
# A lead without the visitor's consent to be called is refused (422) and not stored; a site may say
# otherwise in the admin (docs/compliance.md).
CONSENT_REQUIRED = config.read(env.bool, "CONSENT_REQUIRED", default=False)

# --- Follow-up messages (messaging/, docs/messages.md) ----------------------------------------------
# The SMS gateway (messaging/gateways/): "voximplant" (A2P, with the VoxImplant credentials) or "off".
SMS_GATEWAY = config.choice("SMS_GATEWAY", env.str("SMS_GATEWAY", default="voximplant"), ["voximplant", "off"])
# The A2P sender (SenderID) VoxImplant installed for the account; a site may name another.
SMS_SENDER = env.str("SMS_SENDER", default="")

# --- Calling ----------------------------------------------------------------------------------
CALLING_HOURS = config.calling_hours("CALLING_HOURS", env.str("CALLING_HOURS", default="mon-sun 09:00-21:00"))
CALLING_TIME_ZONE = config.time_zone("CALLING_TIME_ZONE", env.str("CALLING_TIME_ZONE", default=TIME_ZONE))
# A call must also fall inside this window in the lead's own zone, as the number tells (telephony/
# call_window.py); per country another window: `US=08:00-20:00 | DE=mon-sat 09:00-20:00`.
LEAD_LOCAL_HOURS = config.local_hours("LEAD_LOCAL_HOURS", env.str("LEAD_LOCAL_HOURS", default="08:00-21:00"))
LEAD_LOCAL_HOURS_BY_COUNTRY = config.hours_by_country(
    "LEAD_LOCAL_HOURS_BY_COUNTRY", env.str("LEAD_LOCAL_HOURS_BY_COUNTRY", default=""))
# No calls on the public holidays of the number's country (a site may decide otherwise).
SKIP_HOLIDAYS = config.read(env.bool, "SKIP_HOLIDAYS", default=True)
# Leads that waited for a window are dialled over its first minutes, oldest first, not in one second.
WINDOW_RAMP_MINUTES = config.not_negative("WINDOW_RAMP_MINUTES", config.read(env.int, "WINDOW_RAMP_MINUTES", default=10))
CALL_ALLOWED_REGIONS = [
    config.region("CALL_ALLOWED_REGIONS", code)
    for code in env.list("CALL_ALLOWED_REGIONS", default=[PHONE_REGION])
]
# Kinds of numbers that may be dialled (leads/phones.py NUMBER_TYPES); a site may choose others.
CALL_NUMBER_TYPES = config.number_types("CALL_NUMBER_TYPES", env.list("CALL_NUMBER_TYPES",
                                                                      default=["mobile", "fixed_line"]))
# What anyone who can post a lead can spend: dials per site per day (a site may have another budget
# in the admin), and dials per hour over all sites. 0: no limit.
CALL_DAILY_BUDGET = config.not_negative("CALL_DAILY_BUDGET", config.read(env.int, "CALL_DAILY_BUDGET", default=200))
CALL_HOURLY_CEILING = config.not_negative("CALL_HOURLY_CEILING",
                                          config.read(env.int, "CALL_HOURLY_CEILING", default=500))
CALL_MAX_PER_NUMBER = config.read(env.int, "CALL_MAX_PER_NUMBER", default=3)
# The watchdog reconciles a call whose scenario has not reported after this many seconds.
CALL_RESULT_TIMEOUT = config.read(env.int, "CALL_RESULT_TIMEOUT", default=300)

# --- Do-not-call list and personal data (dnc/, leads/erasure.py) --------------------------------
# The key of the numbers' hashes on the do-not-call list. An erased person's number is kept as this
# hash alone, so changing the key (or SECRET_KEY while this is unset) unlists every erased number.
DNC_HASH_SECRET = env.str("DNC_HASH_SECRET", default="") or SECRET_KEY
# Days after which a lead's personal data is erased (a site may keep its own period); 0: kept.
DATA_RETENTION_DAYS = config.not_negative("DATA_RETENTION_DAYS", config.read(env.int, "DATA_RETENTION_DAYS",
                                                                            default=0))

# --- Providers (an integration is on only when its credentials are set) ------------------------
BITRIX_WEBHOOK_URL = config.optional_url("BITRIX_WEBHOOK_URL", env.str("BITRIX_WEBHOOK_URL", default=""))
BITRIX_PORTAL_URL = config.optional_url("BITRIX_PORTAL_URL", env.str("BITRIX_PORTAL_URL", default=""))
BITRIX_CLIENT_ID = env.str("BITRIX_CLIENT_ID", default="")
BITRIX_CLIENT_SECRET = env.str("BITRIX_CLIENT_SECRET", default="")
BITRIX_OAUTH_URL = config.url("BITRIX_OAUTH_URL", env.str("BITRIX_OAUTH_URL", default="https://oauth.bitrix.info/"))
config.all_or_none("BITRIX_PORTAL_URL", BITRIX_PORTAL_URL, BITRIX_CLIENT_ID=BITRIX_CLIENT_ID,
                   BITRIX_CLIENT_SECRET=BITRIX_CLIENT_SECRET)
# The portal's leaky bucket per plan (b24restdocs limits.md): X requests, drained Y per second.
BITRIX_PLAN = config.choice("BITRIX_PLAN", env.str("BITRIX_PLAN", default="standard").lower(),
                            ["standard", "enterprise"])
BITRIX_QUERY_LIMIT, _bitrix_drain = {"standard": (50, 2.0), "enterprise": (250, 5.0)}[BITRIX_PLAN]
# Our share of that bucket, held by all workers together: the sustained rate and the burst.
BITRIX_REQUESTS_PER_SECOND = config.read(env.float, "BITRIX_REQUESTS_PER_SECOND", default=_bitrix_drain)
BITRIX_BURST = config.read(env.int, "BITRIX_BURST", default=3)
# How long the portal may work on one request (the cloud's cap is 60 s): an add we stopped waiting
# for may take effect until then, so adds wait that long and a look-up trusts "absent" only after it.
BITRIX_MAX_EXECUTION_TIME = config.not_negative(
    "BITRIX_MAX_EXECUTION_TIME", config.read(env.float, "BITRIX_MAX_EXECUTION_TIME", default=60.0))
# A lead user field (UF_CRM_...) that names the lead's partner; validated against crm.lead.fields.
BITRIX_PARTNER_FIELD = config.bitrix_user_field(
    "BITRIX_PARTNER_FIELD", env.str("BITRIX_PARTNER_FIELD", default="").strip().upper())
BITRIX_PARTNER_FILTER = config.read(env.json, "BITRIX_PARTNER_FILTER", default={"COMPANY_TYPE": "PARTNER"})
BITRIX_PARTNER_SYNC_INTERVAL = config.read(env.int, "BITRIX_PARTNER_SYNC_INTERVAL", default=900)
# A call outcome is written back to its Bitrix24 lead this many seconds after it came, with every other
# outcome of that span: a stream of calls ending costs a `batch` per span, not one per claim (leads/crm.py).
CRM_WRITE_BACK_GATHER = config.not_negative(
    "CRM_WRITE_BACK_GATHER", config.read(env.float, "CRM_WRITE_BACK_GATHER", default=5.0))

VOXIMPLANT_API_URL = config.url(
    "VOXIMPLANT_API_URL", env.str("VOXIMPLANT_API_URL", default="https://api.voximplant.com/platform_api")
)
VOXIMPLANT_CREDENTIALS = env.str("VOXIMPLANT_CREDENTIALS", default="")
VOXIMPLANT_ACCOUNT_ID = env.str("VOXIMPLANT_ACCOUNT_ID", default="")
VOXIMPLANT_API_KEY = env.str("VOXIMPLANT_API_KEY", default="")
VOXIMPLANT_RULE_ID = env.str("VOXIMPLANT_RULE_ID", default="")
VOXIMPLANT_CALLER_ID = config.caller_id("VOXIMPLANT_CALLER_ID", env.str("VOXIMPLANT_CALLER_ID", default=""),
                                        region=PHONE_REGION)
VOXIMPLANT_CALLBACK_SECRET = env.str("VOXIMPLANT_CALLBACK_SECRET", default="")

TELEGRAM_API_URL = config.url("TELEGRAM_API_URL", env.str("TELEGRAM_API_URL", default="https://api.telegram.org"))
TELEGRAM_BOT_TOKEN = env.str("TELEGRAM_BOT_TOKEN", default="")
TELEGRAM_CHAT_ID = env.str("TELEGRAM_CHAT_ID", default="")
# Manual-handling alerts go here when set (else to the lead's chat); also the fallback for broken chats.
TELEGRAM_ALERT_CHAT_ID = env.str("TELEGRAM_ALERT_CHAT_ID", default="")

# Drills and tests shorten remote waits: a provider's read timeout in seconds (0: each client's
# own, 10-15 s), and a factor on every retry's backoff (1: the real waits, seconds to minutes).
PROVIDER_TIMEOUT = config.not_negative("PROVIDER_TIMEOUT", config.read(env.float, "PROVIDER_TIMEOUT", default=0.0))
RETRY_BACKOFF_SCALE = config.not_negative(
    "RETRY_BACKOFF_SCALE", config.read(env.float, "RETRY_BACKOFF_SCALE", default=1.0))

# --- Monitoring: GET /metrics (docs/operations.md) ----------------------------------------------
# Web and worker processes keep their metric files here, a folder per process group
# (leadcaller/multiprocess.py). Local to the machine; the group empties its folder when it starts.
METRICS_DIR = Path(env.str("METRICS_DIR", default=str(VAR_DIR / "metrics")))
# A scrape that brings `Authorization: Bearer <METRICS_TOKEN>` is let in from anywhere; empty: no token.
METRICS_TOKEN = env.str("METRICS_TOKEN", default="")
# Direct connections (no proxy in between) from these networks need no token.
METRICS_ALLOWED_IPS = config.networks(
    "METRICS_ALLOWED_IPS", env.list("METRICS_ALLOWED_IPS", default=["127.0.0.0/8", "::1"])
)

# --- Celery (copied once by leadcaller/celery_config.py, under Celery's own names where it has them) ---
# Embedded broker: files in var/broker, shared by web, worker and beat, no server (leadcaller/broker.py).
CELERY_BROKER_TRANSPORT_OPTIONS = config.broker_transport_options(
    CELERY_BROKER_URL, VAR_DIR / "broker", key_prefix=REDIS_KEY_PREFIX
)
# No result backend: outcomes live in the database, the source of truth.
CELERY_TASK_IGNORE_RESULT = True
# Ack after the task ran, and requeue when the worker process dies, so a killed worker loses nothing.
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
# One message at a time per process: a call task never sits behind prefetched slower work.
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# Intake publishes after commit; a flaky broker must not hold the web request long. The sweeper
# re-dispatches anything whose publish failed.
CELERY_TASK_PUBLISH_RETRY_POLICY = {"max_retries": 2, "interval_start": 0, "interval_step": 0.2, "interval_max": 0.5}
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# Hard limit below the step lease in leads/pipeline.py, so a lease never expires under a live task.
CELERY_TASK_TIME_LIMIT = 240
CELERY_TASK_SOFT_TIME_LIMIT = 200
CELERY_TASK_DEFAULT_QUEUE = "default"
# Keep a worker's database connection between tasks: Celery's Django fixup otherwise closes it
# around every task, and a new PostgreSQL session per task costs more than the task.
# leadcaller/celery.py applies CONN_MAX_AGE and the health check before each task instead.
CELERY_DB_REUSE_MAX = 1000
CELERY_TASK_ROUTES = {
    "leads.tasks.crm_step": {"queue": "crm"},
    "leads.tasks.crm_claim": {"queue": "crm"},
    "leads.tasks.sync_partners": {"queue": "crm"},
    "leads.tasks.sync_partners_at_start": {"queue": "crm"},
    "telephony.tasks.call_step": {"queue": "call"},
    "notifications.tasks.notify_step": {"queue": "notify"},
    "notifications.tasks.notify_claim": {"queue": "notify"},
    "notifications.tasks.deliver": {"queue": "notify"},
    "messaging.tasks.send": {"queue": "notify"},  # a slow SMS gateway waits beside Telegram, never a dial
    "messaging.tasks.dispatch_due": {"queue": "notify"},
}
# Our logging config stays in charge inside the worker.
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")
SWEEP_INTERVAL = config.read(env.float, "SWEEP_INTERVAL", default=5.0)
CELERY_BEAT_SCHEDULE = {
    "dispatch-due-leads": {"task": "leads.tasks.dispatch_due", "schedule": SWEEP_INTERVAL},
    "deliver-due-notifications": {"task": "notifications.tasks.deliver_due", "schedule": SWEEP_INTERVAL},
    "send-due-messages": {"task": "messaging.tasks.dispatch_due", "schedule": 30.0},
    "sync-partners": {"task": "leads.tasks.sync_partners", "schedule": BITRIX_PARTNER_SYNC_INTERVAL},
    # The dashboard's daily rollups (dashboard/rollups.py): recent and changed days every 5 minutes,
    # everything once a day (a deleted lead leaves no timeline entry to follow).
    "refresh-dashboard-rollups": {"task": "dashboard.tasks.refresh_rollups", "schedule": 300.0},
    "rebuild-dashboard-rollups": {"task": "dashboard.tasks.refresh_rollups", "schedule": 86_400.0,
                                  "kwargs": {"full": True}},
    # Leads past their site's retention period lose their personal data (leads/erasure.py).
    "erase-expired-personal-data": {"task": "leads.tasks.erase_expired", "schedule": 3_600.0},
    # Form builders' submission ids older than SUBMISSION_KEY_DAYS (leads/builders.py).
    "purge-submission-keys": {"task": "leads.tasks.purge_submission_keys", "schedule": 3_600.0},
}

# --- Logging ----------------------------------------------------------------------------------
LOG_LEVEL = config.choice("LOG_LEVEL", env.str("LOG_LEVEL", default="INFO").upper(), ["DEBUG", "INFO", "WARNING", "ERROR"])
LOG_FORMAT = config.choice("LOG_FORMAT", env.str("LOG_FORMAT", default="text"), ["text", "json"])
# The sweeps that beat starts every SWEEP_INTERVAL seconds: Celery's own INFO lines about them are
# dropped (a sweep that finds nothing says nothing; one that works logs each lead it moves).
QUIET_TASKS = [CELERY_BEAT_SCHEDULE[name]["task"] for name in ("dispatch-due-leads", "deliver-due-notifications")]
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"context": {"()": "leadcaller.logging.ContextFilter"},
                "quiet_sweeps": {"()": "leadcaller.logging.QuietTasksFilter", "tasks": QUIET_TASKS}},
    # Both formats leave out intake keys, callback tokens and full phone numbers (leadcaller/redact.py).
    "formatters": {
        "text": {
            "()": "leadcaller.logging.RedactingFormatter",
            "fmt": "%(asctime)s %(levelname)s %(name)s %(message)s [request=%(request_id)s lead=%(lead_id)s]",
        },
        "json": {
            "()": "leadcaller.logging.RedactingJsonFormatter",
            "fmt": "%(asctime)s %(levelname)s %(name)s %(message)s %(request_id)s %(lead_id)s",
        },
    },
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": LOG_FORMAT, "filters": ["context"]},
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {"django.db.backends": {"level": "INFO"},
                **{name: {"filters": ["quiet_sweeps"]}
                   for name in ("celery.beat", "celery.worker.strategy", "celery.app.trace")}},
}

if not DEBUG:
    SESSION_COOKIE_HTTPONLY = True
    X_FRAME_OPTIONS = "DENY"
    SECURE_CONTENT_TYPE_NOSNIFF = True

# --- HTTPS: one switch for a deployment behind a TLS proxy (docs/operations.md) -----------------
HTTPS = config.read(env.bool, "HTTPS", default=False)
if HTTPS:
    if not PUBLIC_BASE_URL.startswith("https://"):
        raise ImproperlyConfigured("HTTPS is true, so PUBLIC_BASE_URL must be an https:// address.")
    SECURE_SSL_REDIRECT = True
    # Load balancers and Prometheus call these over plain HTTP from inside; each has its own guard.
    SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^metrics$"]
    # The proxy sets this header on every request (nginx: X-Forwarded-Proto $scheme), replacing any
    # the client sent; the web process must be reachable only through it.
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = True
    # A year (common practice, and the browsers' preload list minimum). Try a first deployment with
    # HSTS_SECONDS=300: once sent, browsers keep it for the whole period, even if HTTPS goes away.
    SECURE_HSTS_SECONDS = config.not_negative("HSTS_SECONDS", config.read(env.int, "HSTS_SECONDS", default=31_536_000))
    # On leads.shop.ru this covers only *.leads.shop.ru; turn it off when serving from a domain whose
    # other subdomains still need plain HTTP.
    SECURE_HSTS_INCLUDE_SUBDOMAINS = config.read(env.bool, "HSTS_INCLUDE_SUBDOMAINS", default=True)
# HSTS `preload` puts a whole registrable domain into the browsers' built-in lists, a decision for
# the owner of that domain, not for one service on it: never sent, so its warning is silenced.
SILENCED_SYSTEM_CHECKS = ["security.W021"]

if VOXIMPLANT_RULE_ID and not VOXIMPLANT_CALLBACK_SECRET:
    raise ImproperlyConfigured("VOXIMPLANT_CALLBACK_SECRET must be set when VOXIMPLANT_RULE_ID is set.")
