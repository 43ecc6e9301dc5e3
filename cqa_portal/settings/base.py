"""Settings shared by every environment.

Everything that differs between machines comes from the environment (django-environ):
DATABASE_URL, REDIS_URL, SECRET_KEY, DEBUG, ALLOWED_HOSTS, SITE_URL, TRUSTED_PROXY_COUNT,
EMAIL_URL, DEFAULT_FROM_EMAIL, ICP_FILING_NUMBER. Without DATABASE_URL the portal uses a SQLite
file; without REDIS_URL background jobs run inline and the cache is in process memory.
"""

from pathlib import Path

import environ
from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent.parent.parent

env = environ.Env()

DEBUG = env.bool("DEBUG", default=False)
SECRET_KEY = env("SECRET_KEY", default="")
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])
# A form that expired gets a page in the portal's layout with the way back to it.
CSRF_FAILURE_VIEW = "cqa_portal.core.views.csrf_failure"
# The portal's public address: every absolute link (mails, calendars) is built from it, never
# from a request's Host header (cqa_portal.core.site). Required in production.
SITE_URL = env("SITE_URL", default="http://127.0.0.1:8000")
# Reverse proxies in front of the portal that append to X-Forwarded-For. The client address of
# allauth's rate limits and of every portal throttle is the Nth from the right of that header;
# with 0 the header is ignored and REMOTE_ADDR is the client (cqa_portal.core.clientip).
TRUSTED_PROXY_COUNT = env.int("TRUSTED_PROXY_COUNT", default=0)

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django.forms",
    "allauth",
    "allauth.account",
    "import_export",
    "cqa_portal.core",
    "members",
    "pledges",
    "surveys",
    "courses",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "cqa_portal.core.middleware.SecurityHeadersMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "cqa_portal.core.middleware.StaticFilesMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "cqa_portal.core.middleware.ChineseFirstMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "cqa_portal.core.middleware.LanguageFromLinkMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    # Anonymous pages held by this process are served here (headers above still apply).
    "cqa_portal.core.middleware.PageCacheMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "cqa_portal.core.middleware.AdminQueryCheckMiddleware",
    "cqa_portal.core.middleware.MethodNotAllowedPageMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    "cqa_portal.core.middleware.PrivacyNoticeMiddleware",
]

# No inline script anywhere (styles: the admin and Bootstrap use style attributes).
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; font-src 'self'; connect-src 'self'; frame-ancestors 'none'; "
    "form-action 'self'; base-uri 'self'; object-src 'none'"
)
PERMISSIONS_POLICY = "camera=(), microphone=(), geolocation=(), payment=(), usb=()"

ROOT_URLCONF = "cqa_portal.urls"
WSGI_APPLICATION = "cqa_portal.wsgi.application"
AUTH_USER_MODEL = "core.User"

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
                "cqa_portal.core.context_processors.portal",
                "cqa_portal.core.pagecache.context",
            ],
        },
    },
]
# One form layout for the whole portal (labels, errors and help text tied to their field).
FORM_RENDERER = "cqa_portal.core.forms.PortalFormRenderer"

DATABASES = {
    "default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}"),
}
DATABASES["default"]["ATOMIC_REQUESTS"] = False
DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("CONN_MAX_AGE", default=0))
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = env("REDIS_URL", default="")
if REDIS_URL:
    # Fails soft (cqa_portal.core.cache): an outage reads as an empty cache, never a 500; the
    # short timeouts bound what a frozen server costs (once per process every few seconds).
    CACHES = {
        "default": {
            "BACKEND": "cqa_portal.core.cache.FailSoftRedisCache",
            "LOCATION": REDIS_URL,
            "OPTIONS": {
                "socket_connect_timeout": env.float("CACHE_SOCKET_TIMEOUT", default=0.25),
                "socket_timeout": env.float("CACHE_SOCKET_TIMEOUT", default=0.25),
            },
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
# Sessions are read from the cache (a signed-in page served from the page cache then runs one
# query, the user); written to both, so a cache outage or flush only costs a database read.
SESSION_ENGINE = "django.contrib.sessions.backends.cached_db"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
# Django's and allauth's, reading the signed-in user from an exact memo (core.backends).
AUTHENTICATION_BACKENDS = [
    "cqa_portal.core.backends.ModelBackend",
    "cqa_portal.core.backends.AuthenticationBackend",
]

# Internationalisation: Simplified Chinese first, English second.
LANGUAGE_CODE = "zh-hans"
LANGUAGES = [("zh-hans", "简体中文"), ("en", "English")]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "Asia/Shanghai"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = env.path("STATIC_ROOT", default=BASE_DIR / "staticfiles")
# Public uploads (none yet). Private documents live outside MEDIA_ROOT and are served by views.
MEDIA_URL = "/media/"
MEDIA_ROOT = env.path("MEDIA_ROOT", default=BASE_DIR / "media")
PRIVATE_MEDIA_ROOT = env.path("PRIVATE_MEDIA_ROOT", default=BASE_DIR / "private_media")
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}

# Mail: EMAIL_URL like smtp+tls://user:pass@host:587 ; consolemail:// ; filemail:///path
_email = env.email_url("EMAIL_URL", default="consolemail://")
vars().update(_email)
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", default="中国质量协会 <noreply@caq.example.org>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL
EMAIL_TIMEOUT = 20

# Accounts (django-allauth): login by email, mandatory verification.
SITE_ID = 1
LOGIN_URL = "account_login"
LOGIN_REDIRECT_URL = "/"
ACCOUNT_LOGIN_METHODS = {"email"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "password1*", "password2*"]
ACCOUNT_EMAIL_VERIFICATION = "mandatory"
ACCOUNT_UNIQUE_EMAIL = True
ACCOUNT_LOGIN_ON_EMAIL_CONFIRMATION = True
ACCOUNT_LOGOUT_REDIRECT_URL = "/"
ACCOUNT_SIGNUP_FORM_CLASS = "cqa_portal.core.forms.SignupForm"
ACCOUNT_ADAPTER = "cqa_portal.core.adapters.AccountAdapter"
# allauth asks the account adapter for the client address (core.clientip); its own setting says
# the same, for any allauth code that reads it.
ALLAUTH_TRUSTED_PROXY_COUNT = TRUSTED_PROXY_COUNT
ACCOUNT_RATE_LIMITS = {
    # allauth defaults, stated here so they are visible: failed logins per IP and per account.
    "login_failed": "10/m/ip,5/5m/key",
    "signup": "20/m/ip",
    "reset_password": "20/m/ip,5/m/key",
}

# Background work (Celery). Without a broker, tasks run inline.
CELERY_BROKER_URL = REDIS_URL or "memory://"
CELERY_RESULT_BACKEND = None
CELERY_TASK_ALWAYS_EAGER = not REDIS_URL
CELERY_TASK_EAGER_PROPAGATES = False
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = TIME_ZONE
CELERY_TASK_DEFAULT_QUEUE = "default"
CELERY_TASK_ROUTES = {"core.outbox.*": {"queue": "mail"}, "*.mail.*": {"queue": "mail"}}
CELERY_TASK_SOFT_TIME_LIMIT = env.int("CELERY_TASK_SOFT_TIME_LIMIT", default=120)
CELERY_TASK_TIME_LIMIT = env.int("CELERY_TASK_TIME_LIMIT", default=180)
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# Web processes publish after commit (core PortalTask): a broker that is down or frozen costs a
# request at most about twice these timeouts (one retry on a fresh connection, no backoff);
# then the process skips the broker for a few seconds and the outbox sweep sends later.
CELERY_BROKER_SOCKET_TIMEOUT = env.float("CELERY_BROKER_SOCKET_TIMEOUT", default=0.5)
CELERY_BROKER_CONNECTION_TIMEOUT = CELERY_BROKER_SOCKET_TIMEOUT
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# Redis redelivers a task not acknowledged within the visibility timeout (acks_late tasks whose
# worker died). It must be longer than the longest task (CELERY_TASK_TIME_LIMIT, 180 s: a mail
# batch of 300 on a slow server, a survey summary) and longer than any countdown (none are
# used); the default, 3,600 s, leaves a wide margin. Lower it to recover faster after a kill.
CELERY_VISIBILITY_TIMEOUT = env.int("CELERY_VISIBILITY_TIMEOUT", default=3600)
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": CELERY_VISIBILITY_TIMEOUT,
    "socket_connect_timeout": CELERY_BROKER_SOCKET_TIMEOUT,
    "socket_timeout": CELERY_BROKER_SOCKET_TIMEOUT,
}
CELERY_TASK_PUBLISH_RETRY_POLICY = {
    "max_retries": 1,
    "interval_start": 0,
    "interval_step": 0,
    "interval_max": 0,
}

# Admin exports go through cqa_portal.core.exports (formulas neutralised there), not the
# library's writer; these codes decide who may import (change) and export (view).
# Admin exports of this many rows or more run as background jobs (core/jobs.py); smaller ones
# are written in the request.
EXPORT_JOB_MIN_ROWS = env.int("EXPORT_JOB_MIN_ROWS", default=5000)
IMPORT_EXPORT_IMPORT_PERMISSION_CODE = "change"
IMPORT_EXPORT_EXPORT_PERMISSION_CODE = "view"

# Outbox: how long a claimed message may stay "sending" before the sweep takes it back.
OUTBOX_STALE_CLAIM_SECONDS = env.int("OUTBOX_STALE_CLAIM_SECONDS", default=600)
OUTBOX_MAX_ATTEMPTS = 6

# App settings: each app reads its own only through its typed ``<app>/conf.py``.
# Free courses: reminders go this many minutes before the start; one whose moment passed more
# than the grace minutes ago is skipped, never sent late.
COURSES_REMINDER_OFFSETS = env.list("COURSES_REMINDER_OFFSETS", cast=int, default=[1440, 60])
COURSES_REMINDER_GRACE_MINUTES = env.int("COURSES_REMINDER_GRACE_MINUTES", default=30)
# Seconds a visitor's email confirmation link stays valid.
COURSES_CONFIRM_MAX_AGE = env.int("COURSES_CONFIRM_MAX_AGE", default=48 * 3600)
# Mails per SMTP connection and task, and per claiming statement of the batch sender.
COURSES_MAIL_BATCH_SIZE = env.int("COURSES_MAIL_BATCH_SIZE", default=300)
COURSES_MAIL_CLAIM_WINDOW = env.int("COURSES_MAIL_CLAIM_WINDOW", default=20)
COURSES_CALENDAR_DOMAIN = env("COURSES_CALENDAR_DOMAIN", default="courses.caq.example.org")
# Visitors' registration requests per client address: (requests, window in seconds).
COURSES_REGISTER_RATE = (
    env.int("COURSES_REGISTER_RATE_REQUESTS", default=10),
    env.int("COURSES_REGISTER_RATE_WINDOW", default=600),
)

# Open letters and initiatives: a confirmation link works this many days; signing again
# re-sends it at most every PLEDGES_RESEND_INTERVAL seconds and PLEDGES_MAX_MAILS times.
PLEDGES_CONFIRM_MAX_AGE_DAYS = env.int("PLEDGES_CONFIRM_MAX_AGE_DAYS", default=7)
PLEDGES_RESEND_INTERVAL = env.int("PLEDGES_RESEND_INTERVAL", default=600)
PLEDGES_MAX_MAILS = env.int("PLEDGES_MAX_MAILS", default=5)
# Per client address: (requests, window in seconds); generous for one office network.
PLEDGES_SIGN_RATE = (
    env.int("PLEDGES_SIGN_RATE_REQUESTS", default=20),
    env.int("PLEDGES_SIGN_RATE_WINDOW", default=3600),
)
PLEDGES_COSIGN_RATE = (
    env.int("PLEDGES_COSIGN_RATE_REQUESTS", default=5),
    env.int("PLEDGES_COSIGN_RATE_WINDOW", default=3600),
)
# A withdraw link works this many days; its page then mails a new one on request.
PLEDGES_WITHDRAW_LINK_MAX_AGE_DAYS = env.int("PLEDGES_WITHDRAW_LINK_MAX_AGE_DAYS", default=90)
PLEDGES_WALL_PAGE_SIZE = env.int("PLEDGES_WALL_PAGE_SIZE", default=50)

# The privacy notice's version: every consent records it; raising it asks signed-in people to
# accept the new notice (cqa_portal/core/privacy.py).
PRIVACY_NOTICE_VERSION = env("PRIVACY_NOTICE_VERSION", default="2026-12-01")
# Hours a mailed link to one's own data (people without an account) works.
PERSONAL_DATA_LINK_HOURS = env.int("PERSONAL_DATA_LINK_HOURS", default=24)

# How long personal data is kept (days): the privacy notice shows these numbers and the beat
# jobs enforce them (cqa_portal/core/retention.py).
PORTAL_RETENTION = {
    "unconfirmed_signature_days": env.int("RETENTION_UNCONFIRMED_SIGNATURE_DAYS", default=30),
    "unconfirmed_registration_days": env.int("RETENTION_UNCONFIRMED_REGISTRATION_DAYS", default=30),
    "ip_hash_days": env.int("RETENTION_IP_HASH_DAYS", default=30),
    "rejected_cosign_days": env.int("RETENTION_REJECTED_COSIGN_DAYS", default=30),
    "expired_invitation_days": env.int("RETENTION_EXPIRED_INVITATION_DAYS", default=30),
    "sent_mail_days": env.int("RETENTION_SENT_MAIL_DAYS", default=365),
    "relief_document_days": env.int("RETENTION_RELIEF_DOCUMENT_DAYS", default=3 * 365),
    "data_request_days": env.int("RETENTION_DATA_REQUEST_DAYS", default=7),
}

# Members: an invitation link works this many days; a company sends at most this many
# invitations a day.
MEMBERS_INVITATION_MAX_AGE_DAYS = env.int("MEMBERS_INVITATION_MAX_AGE_DAYS", default=14)
MEMBERS_INVITATIONS_PER_DAY = env.int("MEMBERS_INVITATIONS_PER_DAY", default=20)

# The association, shown in the footer.
PORTAL = {
    "name": _("China Association for Quality"),
    "address": _("No. 33 Zengguang Road, Haidian District, Beijing"),
    "phone": "010-68419999",
    "email": "service@caq.example.org",
    "privacy_contact": "privacy@caq.example.org",
}
ICP_FILING_NUMBER = env("ICP_FILING_NUMBER", default="")
ICP_REGISTRY_URL = "https://beian.miit.gov.cn/"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", default="INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}
