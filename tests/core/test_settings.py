import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _manage(*args, **env):
    environment = {
        k: v
        for k, v in os.environ.items()
        if k not in {"SECRET_KEY", "ALLOWED_HOSTS", "SITE_URL", "DJANGO_SETTINGS_MODULE"}
    }
    environment.update(DJANGO_SETTINGS_MODULE="cqa_portal.settings.production", **env)
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_production_refuses_to_start_without_secret_key():
    result = _manage("check", ALLOWED_HOSTS="portal.example.org")
    assert result.returncode != 0
    assert "SECRET_KEY must be set" in result.stderr


def test_production_refuses_to_start_without_allowed_hosts():
    result = _manage("check", SECRET_KEY="x" * 60)
    assert result.returncode != 0
    assert "ALLOWED_HOSTS must be set" in result.stderr


def test_production_refuses_to_start_without_site_url():
    result = _manage("check", SECRET_KEY="x" * 60, ALLOWED_HOSTS="portal.example.org")
    assert result.returncode != 0
    assert "SITE_URL must be set" in result.stderr


def test_production_refuses_a_site_url_that_is_not_an_http_address():
    result = _manage(
        "check", SECRET_KEY="x" * 60, ALLOWED_HOSTS="portal.example.org", SITE_URL="portal.example"
    )
    assert result.returncode != 0
    assert "SITE_URL must be the portal's public address" in result.stderr


def test_check_deploy_is_clean():
    result = _manage(
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
        SECRET_KEY="k3$v9-!a7Qz0wLm2Rt8YpXc4Nb6Vd1Hs5Jf3Gk9Le7Ui2Oa0Pq4Zw8Xe6Ry1Tu3Iv5",
        ALLOWED_HOSTS="portal.example.org",
        SITE_URL="https://portal.example.org",
    )
    assert result.returncode == 0, result.stderr
    assert "System check identified no issues" in result.stdout


def test_production_cookie_flags_and_security_headers():
    code = (
        "import json; from django.conf import settings as s; print(json.dumps({k: getattr(s, k) "
        "for k in ['SESSION_COOKIE_SECURE', 'SESSION_COOKIE_HTTPONLY', 'CSRF_COOKIE_SECURE', "
        "'LANGUAGE_COOKIE_SECURE', 'SECURE_HSTS_SECONDS', 'SECURE_CONTENT_TYPE_NOSNIFF', "
        "'X_FRAME_OPTIONS', 'SECURE_REFERRER_POLICY', 'SECURE_SSL_REDIRECT', 'DEBUG', "
        "'SITE_URL', 'TRUSTED_PROXY_COUNT', 'ALLAUTH_TRUSTED_PROXY_COUNT']}))"
    )
    environment = {
        k: v
        for k, v in os.environ.items()
        if k not in {"DJANGO_SETTINGS_MODULE", "DEBUG", "TRUSTED_PROXY_COUNT"}
    }
    environment.update(
        DJANGO_SETTINGS_MODULE="cqa_portal.settings.production",
        SECRET_KEY="k" * 60,
        ALLOWED_HOSTS="portal.example.org",
        SITE_URL="https://portal.example.org/",
    )
    result = subprocess.run(
        [sys.executable, "-c", "import django; django.setup(); " + code],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
    )
    import json

    values = json.loads(result.stdout)
    assert values == {
        "SESSION_COOKIE_SECURE": True,
        "SESSION_COOKIE_HTTPONLY": True,
        "CSRF_COOKIE_SECURE": True,
        "LANGUAGE_COOKIE_SECURE": True,
        "SECURE_HSTS_SECONDS": 31536000,
        "SECURE_CONTENT_TYPE_NOSNIFF": True,
        "X_FRAME_OPTIONS": "DENY",
        "SECURE_REFERRER_POLICY": "same-origin",
        "SECURE_SSL_REDIRECT": True,
        "DEBUG": False,
        "SITE_URL": "https://portal.example.org",
        # No proxy trusted unless configured: X-Forwarded-For is ignored.
        "TRUSTED_PROXY_COUNT": 0,
        "ALLAUTH_TRUSTED_PROXY_COUNT": 0,
    }
