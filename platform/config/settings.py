"""OsteoLens settings, read entirely from the environment (see config/env.py).

With nothing set, everything runs on one machine with no server: SQLite, a Celery
broker on the filesystem, stored files under var/. DATABASE_URL and CELERY_BROKER_URL
switch to PostgreSQL and Redis.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

import dj_database_url

from config.env import env_bool, env_int, env_list, env_path, env_str, env_url

BASE_DIR = Path(__file__).resolve().parents[2]
VAR_DIR = env_path("OSTEOLENS_VAR_DIR", BASE_DIR / "var")
VAR_DIR.mkdir(parents=True, exist_ok=True)


def _secret_key() -> str:
    key = env_str("SECRET_KEY")
    if key:
        if len(key) < 32:
            from django.core.exceptions import ImproperlyConfigured

            raise ImproperlyConfigured("SECRET_KEY must be at least 32 characters")
        return key
    # One machine, nothing configured: keep a generated key beside the data so sessions
    # survive restarts, readable by this user only.
    path = VAR_DIR / "secret_key"
    if not path.exists():
        path.write_text(secrets.token_urlsafe(50))
        path.chmod(0o600)
    return path.read_text().strip()


SECRET_KEY = _secret_key()
# Keys the PatientID pseudonym written into stored files (cases.pseudonyms); set it once.
CASE_PSEUDONYM_KEY = env_str("CASE_PSEUDONYM_KEY", "") or ""
DEBUG = env_bool("DEBUG", False)
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]", "testserver"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "accounts",
    "cases",
    "cohorts",
    "ingest",
    "opinions",
    "modelhub",
    "viewer",
    "teaching",
    "demo",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "config.security.ContentSecurityPolicyMiddleware",
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
            ],
        },
    },
]

DATABASE_URL = env_url(
    "DATABASE_URL",
    f"sqlite:///{VAR_DIR / 'osteolens.sqlite3'}",
    ("sqlite", "postgres", "postgresql", "pgsql"),
)
DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=env_int("DB_CONN_MAX_AGE", 60))}
if DATABASES["default"]["ENGINE"].endswith("sqlite3"):
    # WAL lets the web server read while a worker writes.
    DATABASES["default"]["OPTIONS"] = {
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        "transaction_mode": "IMMEDIATE",
    }
    # A file, not memory, so worker processes in the integration tests share it.
    # One per test run (pid), so parallel runs on one machine never share it.
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / f"test-osteolens-{os.getpid()}.sqlite3")}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_USER_MODEL = "accounts.User"
# ModelBackend with a cheaper per-request user lookup (same fresh row, same checks).
AUTHENTICATION_BACKENDS = ["accounts.backends.SessionUserBackend"]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-gb"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = VAR_DIR / "staticfiles"
STATIC_ROOT.mkdir(parents=True, exist_ok=True)
# static/build holds the bundled viewer (git-ignored, built by `make`).
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = True
# esbuild names the viewer's chunks after their content (static/viewer/build.mjs): browsers
# may keep them for good, so a returning visit neither asks for them again nor recompiles
# them (Chromium reuses compiled code of cached scripts). Fixed names keep the 60 s default.
WHITENOISE_IMMUTABLE_FILE_TEST = r"/build/viewer/(chunk|interactive)-[A-Z0-9]{8}\.js$"

# Every stored file (de-identified DICOM, masks, heat-maps, reports) lives under here.
MEDIA_ROOT = env_path("MEDIA_ROOT", VAR_DIR / "media")
MODELS_DIR = env_path("MODELS_DIR", VAR_DIR / "models")

# Uploads: stream anything over 2.5 MB to disk; hard cap per request.
FILE_UPLOAD_MAX_MEMORY_SIZE = 2_621_440
DATA_UPLOAD_MAX_NUMBER_FILES = env_int("UPLOAD_MAX_FILES", 5000, minimum=1)
UPLOAD_MAX_BYTES = env_int("UPLOAD_MAX_BYTES", 2 * 1024**3, minimum=1)
# Every upload (all three endpoints) and every ingest work folder is staged here, never
# in the system temp dir; ingest.cleanup removes what a killed process left behind, at
# web start-up and periodically (entries older than the grace period only, so a live
# upload of another worker is never touched).
UPLOAD_TEMP_DIR = env_path("UPLOAD_TEMP_DIR", VAR_DIR / "tmp" / "uploads")
UPLOAD_TEMP_DIR.mkdir(parents=True, exist_ok=True)
FILE_UPLOAD_TEMP_DIR = str(UPLOAD_TEMP_DIR)
UPLOAD_TEMP_GRACE_SECONDS = env_int("UPLOAD_TEMP_GRACE_SECONDS", 6 * 3600, minimum=60)
# Stored objects no database row refers to, older than this, are orphans (ingest.cleanup).
INGEST_ORPHAN_GRACE_SECONDS = env_int("INGEST_ORPHAN_GRACE_SECONDS", 24 * 3600, minimum=3600)
# What one file may expand to when decoded or inflated, and the largest NIfTI volume.
INGEST_MAX_DECODED_BYTES = env_int("INGEST_MAX_DECODED_BYTES", 512 * 1024**2, minimum=1024**2)
INGEST_MAX_NIFTI_VOXELS = env_int("INGEST_MAX_NIFTI_VOXELS", 64 * 1024**2, minimum=1)
# Compressed pixels and PNG/JPEG are decoded in bounded child processes (ingest.decode_sandbox).
INGEST_DECODE_SANDBOX = env_bool("INGEST_DECODE_SANDBOX", True)
INGEST_DECODE_TIMEOUT_SECONDS = env_int("INGEST_DECODE_TIMEOUT_SECONDS", 60, minimum=1)

# Celery. The web side only sends tasks and reads their state; the inference worker
# (no Django) and the bookkeeping worker share the broker, result backend and storage,
# so all three read the same defaults from inference_worker.settings.
CELERY_BROKER_URL = env_url("CELERY_BROKER_URL", "filesystem://", ("filesystem", "redis", "rediss", "amqp"))
CELERY_RESULT_BACKEND = env_str("CELERY_RESULT_BACKEND", None)
# A running analysis whose worker heartbeat (every OSTEOLENS_HEARTBEAT_SECONDS, 15 s by
# default, on the worker) is older than this is lost and marked failed, so it can be
# retried; one that no worker finished this long after it was sent, too.
ANALYSIS_HEARTBEAT_TIMEOUT = env_int("ANALYSIS_HEARTBEAT_TIMEOUT", 120, minimum=1)
ANALYSIS_QUEUE_TIMEOUT = env_int("ANALYSIS_QUEUE_TIMEOUT", 24 * 3600, minimum=1)

# Teaching: pages and image endpoints hide a case's answers while a resident reads it.
VIEWER_ANSWER_POLICY = "teaching.selectors.answers_hidden_for"
# The cases a user is reading in a quiz, as SQL (the library hides them).
PENDING_READS = "teaching.selectors.pending_case_ids_sql"
TEACHING_AUTO_ANALYSE = env_bool("TEACHING_AUTO_ANALYSE", True)

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
}
SPECTACULAR_SETTINGS = {
    "TITLE": "OsteoLens API",
    "DESCRIPTION": "Second opinions on bone-tumour imaging. Research use only; not for clinical use.",
    "VERSION": "1",
    # The schema maps every endpoint; only signed-in users (token or session) may read it.
    "SERVE_PERMISSIONS": ["rest_framework.permissions.IsAuthenticated"],
}

# Sessions: in the database, read on every request (accounts.session_store); with a
# cache that every web process shares (CACHE_URL=redis://...), Django's cached_db on it
# (accounts.shared_cache_sessions). Never cached_db on the per-process memory caches
# below: a session ended in one web process (logout) would stay valid in the others.
SESSION_ENGINE = "accounts.session_store"
# The library list's rendered fragments (cases.library_cache) get a cache of their own,
# so that many distinct list pages never push other entries out of the default one.
CACHES = {
    "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
    "library": {
        "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
        "LOCATION": "library",
        "OPTIONS": {"MAX_ENTRIES": 2000},
    },
}
CACHE_URL = env_url("CACHE_URL", "", ("redis", "rediss")) if env_str("CACHE_URL") else ""
if CACHE_URL:
    CACHES["sessions"] = {
        "BACKEND": "config.redis_cache.RedisCache",
        "LOCATION": CACHE_URL,
        "KEY_PREFIX": "osteolens",
    }
    SESSION_ENGINE = "accounts.shared_cache_sessions"
    SESSION_CACHE_ALIAS = "sessions"
# Brute-force protection of password sign-in (accounts.ratelimit): failures per account
# and per client address within the window lock that account or address for a while.
LOGIN_MAX_FAILURES_PER_USER = env_int("LOGIN_MAX_FAILURES_PER_USER", 5, minimum=1)
LOGIN_MAX_FAILURES_PER_ADDRESS = env_int("LOGIN_MAX_FAILURES_PER_ADDRESS", 20, minimum=1)
LOGIN_FAILURE_WINDOW = env_int("LOGIN_FAILURE_WINDOW", 900, minimum=1)
LOGIN_LOCKOUT_SECONDS = env_int("LOGIN_LOCKOUT_SECONDS", 900, minimum=1)
# Behind our own reverse proxy the client address is the last X-Forwarded-For entry.
LOGIN_RATE_TRUST_FORWARDED_FOR = env_bool("LOGIN_RATE_TRUST_FORWARDED_FOR", False)
# Counted where every web process sees the same numbers: Redis when there is one.
CACHES["login-rate"] = (
    {"BACKEND": "config.redis_cache.RedisCache", "LOCATION": CACHE_URL, "KEY_PREFIX": "osteolens"}
    if CACHE_URL
    else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "login-rate"}
)
LOGIN_RATE_CACHE = "login-rate"

# Transport security. Off by default, for the one-machine demo on http://localhost; ON in
# docker/compose.yaml, which expects a TLS-terminating proxy in front of the web service.
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SECURE = env_bool("SECURE_COOKIES", False)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", False)
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 0, minimum=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", False)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", False)
# The proxy says the original request was https (needed with SECURE_SSL_REDIRECT behind
# a TLS proxy, or every request would be redirected again). Only set it when the proxy
# always sets or strips this header.
if env_bool("SECURE_PROXY_SSL", False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
# No page of the site is framed, by itself or others.
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
# config.security; see there why the viewer needs each non-'self' source.
CONTENT_SECURITY_POLICY = {
    "default-src": ["'self'"],
    "script-src": ["'self'", "'wasm-unsafe-eval'"],
    "worker-src": ["'self'", "blob:"],
    "style-src": ["'self'", "'unsafe-inline'"],
    "img-src": ["'self'", "data:", "blob:"],
    "connect-src": ["'self'", "data:", "blob:"],
    "font-src": ["'self'", "data:"],
    "object-src": ["'none'"],
    "base-uri": ["'self'"],
    "form-action": ["'self'"],
    "frame-ancestors": ["'none'"],
}
CONTENT_SECURITY_POLICY_REPORT_ONLY = env_bool("CSP_REPORT_ONLY", False)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
}
