import pytest


def test_live_answers_without_touching_anything(api_client):
    response = api_client.get("/api/v1/health/live")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


@pytest.mark.django_db
def test_ready_reports_each_dependency(api_client):
    response = api_client.get("/api/v1/health/ready")
    assert response.status_code == 200
    assert set(response.json()["checks"]) == {"database", "cache", "broker"}


@pytest.mark.django_db
def test_ready_is_503_when_the_broker_is_unreachable(api_client, settings):
    settings.CELERY_BROKER_URL = "redis://127.0.0.1:1/0"
    response = api_client.get("/api/v1/health/ready")
    assert response.status_code == 503
    assert response.json()["checks"]["broker"].startswith("down")


def test_openapi_schema_is_served(api_client, db):
    response = api_client.get("/api/schema/", HTTP_ACCEPT="application/json")
    assert response.status_code == 200
