import pytest
from django.test import override_settings


@pytest.mark.django_db
def test_healthz_reports_database_up(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["checks"]["database"] == "ok"


@pytest.mark.django_db
def test_healthz_with_redis_checks_broker_and_cache(client, redis_url):
    body = client.get("/healthz").json()
    assert body["checks"] == {"database": "ok", "broker": "ok", "cache": "ok"}


@pytest.mark.django_db
def test_healthz_broker_unreachable_is_503(client):
    with override_settings(CELERY_BROKER_URL="redis://127.0.0.1:1/0"):
        response = client.get("/healthz")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "error"
    assert body["checks"]["database"] == "ok"
    assert body["checks"]["broker"].startswith("error")


@pytest.mark.django_db
def test_healthz_database_down_is_503(client, monkeypatch):
    from django.db import OperationalError

    from cqa_portal.core import health

    def broken():
        raise OperationalError("server closed the connection")

    monkeypatch.setattr(health, "_database", broken)
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["checks"]["database"].startswith("error")
