"""Test suite: fast hashing, mail in memory, tasks inline unless a test starts a real worker."""

from .base import *  # noqa: F403

SECRET_KEY = "test-secret-key-not-for-production"  # noqa: S105
DEBUG = False
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
CELERY_TASK_ALWAYS_EAGER = True
PRIVATE_MEDIA_ROOT = BASE_DIR / ".pytest_cache" / "private_media"  # noqa: F405
MEDIA_ROOT = BASE_DIR / ".pytest_cache" / "media"  # noqa: F405
ALLOWED_HOSTS = ["testserver", "127.0.0.1", "localhost"]

# The cache is cleared between tests (rate limits): keep it in its own Redis database so
# clearing it never touches the broker's queues.
if REDIS_URL:  # noqa: F405
    from urllib.parse import urlsplit, urlunsplit

    _parts = urlsplit(REDIS_URL)  # noqa: F405
    _cache_db = env.int("TEST_CACHE_REDIS_DB", default=15)  # noqa: F405
    CACHES["default"]["LOCATION"] = urlunsplit(_parts._replace(path=f"/{_cache_db}"))  # noqa: F405
