"""Settings for the whole site, driven by environment variables.

The defaults need no server: SQLite, a local-memory cache and Celery tasks run eagerly.
``DATABASE_URL``, ``REDIS_URL`` and ``CELERY_BROKER_URL`` switch to PostgreSQL, Redis and a
separate Celery worker.  Production sets ``DEBUG=0``, ``SECRET_KEY`` and ``ALLOWED_HOSTS``.
"""

import os
from pathlib import Path

import dj_database_url
from django.utils.translation import gettext_lazy as _

from recommender.weights import EVENT_WEIGHTS as _EVENT_WEIGHTS

BASE_DIR = Path(__file__).resolve().parent.parent


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: str) -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


DEBUG = env_bool("DEBUG", True)
_DEV_SECRET = "dev-only-insecure-secret-key-change-me-0123456789abcdefghijklmnopqrstuvwxyz"
SECRET_KEY = os.environ.get("SECRET_KEY", _DEV_SECRET if DEBUG else "")
if not SECRET_KEY:
    raise RuntimeError("SECRET_KEY must be set when DEBUG is off")
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "127.0.0.1,localhost,testserver" if DEBUG else "")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", "")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "videoapp",
    "tagging",
    "recommender",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "videoapp.middleware.ContentSecurityPolicyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "videoapp.middleware.NulByteMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "videoapp.middleware.DatabaseUnavailableMiddleware",
]

ROOT_URLCONF = "videoapp.urls"
WSGI_APPLICATION = "videoapp.wsgi.application"
ASGI_APPLICATION = "videoapp.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# --- Database: SQLite unless DATABASE_URL names another (PostgreSQL via psycopg 3) ---
DATA_DIR = Path(os.environ.get("DATA_DIR", BASE_DIR / "var"))
DATA_DIR.mkdir(parents=True, exist_ok=True)
DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL", f"sqlite:///{DATA_DIR / 'db.sqlite3'}"),
        conn_max_age=int(os.environ.get("DB_CONN_MAX_AGE", "60")),
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL lets the in-process worker and the web server read while the other writes.
    DATABASES["default"]["OPTIONS"] = {"init_command": "PRAGMA journal_mode=WAL;", "timeout": 20}
    DATABASES["default"]["CONN_MAX_AGE"] = 0
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Cache: Redis when REDIS_URL is set, local memory otherwise ---
REDIS_URL = os.environ.get("REDIS_URL", "")
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": REDIS_URL,
            "OPTIONS": {
                "SOCKET_CONNECT_TIMEOUT": 0.5,
                "SOCKET_TIMEOUT": 0.5,
                # A Redis outage degrades the site (cache misses), never fails a request.
                "IGNORE_EXCEPTIONS": True,
            },
        }
    }
    DJANGO_REDIS_IGNORE_EXCEPTIONS = True
    DJANGO_REDIS_LOG_IGNORED_EXCEPTIONS = True
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# --- Celery: eager without a broker, a real worker when CELERY_BROKER_URL is set ---
CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL", "")
CELERY_RESULT_BACKEND = os.environ.get("CELERY_RESULT_BACKEND", REDIS_URL or None)
CELERY_TASK_ALWAYS_EAGER = not CELERY_BROKER_URL
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = "UTC"
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TASK_DEFAULT_QUEUE = os.environ.get("CELERY_TASK_DEFAULT_QUEUE", "celery")
# Recommender jobs (recommender/tasks.py) and the IDF of tag extraction; intervals in seconds.
CELERY_BEAT_SCHEDULE: dict = {
    "recommender-hot-refresh": {
        "task": "recommender.hot_refresh",
        "schedule": float(os.environ.get("SCHEDULE_HOT_REFRESH_SECONDS", "300")),
    },
    "recommender-interactions-rebuild": {
        "task": "recommender.interactions_rebuild",
        "schedule": float(os.environ.get("SCHEDULE_INTERACTIONS_REBUILD_SECONDS", "3600")),
    },
    "recommender-model-train": {
        "task": "recommender.model_train",
        "schedule": float(os.environ.get("SCHEDULE_MODEL_TRAIN_SECONDS", str(6 * 3600))),
    },
    "recommender-impressions-flush": {
        "task": "recommender.impressions_flush",
        "schedule": float(os.environ.get("SCHEDULE_IMPRESSIONS_FLUSH_SECONDS", "10")),
    },
    "recommender-offline-evaluate": {
        "task": "recommender.offline_evaluate",
        "schedule": float(os.environ.get("SCHEDULE_OFFLINE_EVALUATE_SECONDS", str(24 * 3600))),
    },
    "tagging-idf-recompute": {
        "task": "tagging.idf_recompute",
        "schedule": float(os.environ.get("SCHEDULE_IDF_RECOMPUTE_SECONDS", str(24 * 3600))),
    },
}

# --- Auth, i18n ---
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 8}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "/accounts/login/"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "/"

LANGUAGE_CODE = "zh-hans"
LANGUAGES = [("zh-hans", _("简体中文")), ("en", _("English"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = os.environ.get("TIME_ZONE", "Asia/Shanghai")
USE_I18N = True
USE_TZ = True

# --- Static and media ---
STATIC_URL = "/static/"
STATIC_ROOT = Path(os.environ.get("STATIC_ROOT", DATA_DIR / "static"))
STATIC_ROOT.mkdir(parents=True, exist_ok=True)
STATICFILES_DIRS = [BASE_DIR / "static"]
MEDIA_URL = "/media/"
MEDIA_ROOT = Path(os.environ.get("MEDIA_ROOT", DATA_DIR / "media"))
WHITENOISE_USE_FINDERS = DEBUG

# Uploads: everything above the memory threshold streams to a temporary file in chunks.
VIDEO_MAX_UPLOAD_BYTES = int(os.environ.get("VIDEO_MAX_UPLOAD_BYTES", str(2 * 1024**3)))
VIDEO_MAX_DURATION_SECONDS = int(os.environ.get("VIDEO_MAX_DURATION_SECONDS", str(3 * 3600)))
FILE_UPLOAD_MAX_MEMORY_SIZE = 2 * 1024 * 1024
DATA_UPLOAD_MAX_MEMORY_SIZE = 10 * 1024 * 1024
FILE_UPLOAD_TEMP_DIR = os.environ.get("FILE_UPLOAD_TEMP_DIR") or None
FILE_UPLOAD_PERMISSIONS = 0o644

# --- Behaviour-event weights (documented in docs/events.md; the recommender reads them) ---
EVENT_WEIGHTS = dict(_EVENT_WEIGHTS)
EVENT_VIEW_MIN_RATIO = float(os.environ.get("EVENT_VIEW_MIN_RATIO", "0.1"))
EVENT_VIEW_MIN_SECONDS = float(os.environ.get("EVENT_VIEW_MIN_SECONDS", "2"))
EVENT_HALF_LIFE_DAYS = float(os.environ.get("EVENT_HALF_LIFE_DAYS", "14"))
BEACON_MAX_ITEMS = 200

# --- Tagging ---
VIEWER_TAG_ACTIVATION_COUNT = int(os.environ.get("VIEWER_TAG_ACTIVATION_COUNT", "3"))

# --- Recommender artefacts ---
ARTEFACT_ROOT = Path(os.environ.get("ARTEFACT_ROOT", DATA_DIR / "artefacts"))

# --- Recommender serving (docs/serving.md, "Settings").  Set here rather than left to the readers'
# defaults: the feed reads them on every request, and a setting that is not defined is looked up the
# slow way (an exception inside django.conf) every time. ---
RECOMMENDER_EXPOSURE_WINDOW_HOURS = float(os.environ.get("RECOMMENDER_EXPOSURE_WINDOW_HOURS", "72"))
RECOMMENDER_BLOOM_BITS = 1 << 16
RECOMMENDER_BLOOM_HASHES = 5
RECOMMENDER_REDIS_RETRY_SECONDS = 10
RECOMMENDER_VERSION_TTL_SECONDS = 5
RECOMMENDER_LOCAL_CACHE_SECONDS = 30
RECOMMENDER_QUEUE_SECONDS = 3600
RECOMMENDER_IMPRESSION_BUFFER = True
RECOMMENDER_IMPRESSION_BUFFER_MAX = int(os.environ.get("RECOMMENDER_IMPRESSION_BUFFER_MAX", "25000"))

# --- REST framework and OpenAPI ---
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.SessionAuthentication",
        "rest_framework.authentication.TokenAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticatedOrReadOnly"],
    "DEFAULT_PAGINATION_CLASS": "videoapp.pagination.StandardPagination",
    "PAGE_SIZE": 20,
    "DEFAULT_SCHEMA_CLASS": "videoapp.apis.schema.AutoSchema",
    "DEFAULT_THROTTLE_RATES": {
        "login": os.environ.get("THROTTLE_LOGIN", "10/min"),
        "register": os.environ.get("THROTTLE_REGISTER", "20/hour"),
        "comment": os.environ.get("THROTTLE_COMMENT", "30/min"),
        "tag": os.environ.get("THROTTLE_TAG", "30/min"),
        "events": os.environ.get("THROTTLE_EVENTS", "600/min"),
        "upload": os.environ.get("THROTTLE_UPLOAD", "30/hour"),
    },
    "EXCEPTION_HANDLER": "videoapp.apis.errors.exception_handler",
    # Proxies in front of the site whose X-Forwarded-For is trusted (0: use the socket address). Without it
    # DRF believes any client's X-Forwarded-For, and a new fake address per request escapes the IP limits.
    "NUM_PROXIES": int(os.environ.get("NUM_PROXIES", "0")),
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Video platform API",
    "DESCRIPTION": "Videos, social actions, behaviour events, tags and recommendations.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    # Swagger UI from the sidecar package: served by the site itself, no CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "ENUM_NAME_OVERRIDES": {
        "EventKindEnum": "videoapp.models.Event.Kind",
        "KeywordKindEnum": "tagging.models.KeywordEntry.Kind",
    },
}

# --- Security: strict in production (DEBUG off), relaxed for local development ---
SESSION_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
if not DEBUG:
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = int(os.environ.get("SECURE_HSTS_SECONDS", "31536000"))
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}
