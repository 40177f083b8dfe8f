"""Staying up: missing, stale or unreadable artefacts, no model, Redis down -> still 200, and it says so."""

import logging
from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone

from recommender.records import ArtefactVersion
from recommender.services import jobs
from tests.recommender.serving_support import build_catalogue, fresh_serving_state, served_ids  # noqa: F401

pytestmark = pytest.mark.django_db


@pytest.fixture
def catalogue():
    return build_catalogue(per_category=4, fans_per_category=3, watched=2)


def _feed(api_client, user, **params):
    api_client.force_authenticate(user)
    response = api_client.get("/api/v1/feed", {"size": 5, **params})
    assert response.status_code == 200
    return response.json()


def test_nothing_built_yet_serves_the_latest_uploads(api_client, catalogue, caplog):
    with caplog.at_level(logging.WARNING):
        body = _feed(api_client, catalogue.fans["美食"][0])
    assert body["source"] == "fallback"
    assert "最新发布" in body["why"]
    assert len(body["results"]) == 5 and body["artefact_versions"] == {}
    assert any("no interactions artefact" in d for d in body["degraded"])
    assert "no interactions artefact" in caplog.text


def test_only_hot_lists_serves_hot(api_client, catalogue):
    jobs.hot_refresh()
    body = _feed(api_client, catalogue.fans["美食"][0])
    assert body["source"] == "fallback" and "热门" in body["why"]
    assert {item["channel"] for item in body["results"]} <= {"hot", "fresh"}
    assert "hot" in {item["channel"] for item in body["results"]}


def test_unreadable_current_artefact_falls_back_to_the_previous_version(api_client, catalogue, caplog):
    previous = jobs.interactions_rebuild().artefact_version
    current = jobs.interactions_rebuild().artefact_version
    path = Path(ArtefactVersion.objects.get(kind="interactions").path)
    (path / "candidates.npz").write_bytes(b"this is not a zip file")
    with caplog.at_level(logging.WARNING):
        body = _feed(api_client, catalogue.fans["美食"][0])
    assert body["source"] == "stale"
    assert body["artefact_versions"]["interactions"] == previous != current
    assert any("unreadable" in d for d in body["degraded"])
    assert any(r.levelno == logging.ERROR and "unreadable" in r.getMessage() for r in caplog.records)
    assert body["results"]


def test_unreadable_only_version_falls_back_to_hot(api_client, catalogue):
    jobs.interactions_rebuild()
    jobs.hot_refresh()
    path = Path(ArtefactVersion.objects.get(kind="interactions").path)
    (path / "meta.json").unlink()
    body = _feed(api_client, catalogue.fans["美食"][0])
    assert body["source"] == "fallback" and body["results"]
    assert "hot" in body["artefact_versions"] and "interactions" not in body["artefact_versions"]


def test_workers_stopped_old_artefacts_are_served_as_stale(api_client, catalogue):
    jobs.interactions_rebuild()
    jobs.hot_refresh()
    ArtefactVersion.objects.update(built_at=timezone.now() - timedelta(days=5))
    body = _feed(api_client, catalogue.fans["美食"][0])
    assert body["source"] == "stale"
    assert any("interactions built" in d for d in body["degraded"])
    assert any("hot built" in d for d in body["degraded"])
    assert body["results"][0]["channel"] != "hot", "stale personal lists still beat hot lists"


def test_model_not_trained_yet_is_reported_but_the_feed_is_personalised(api_client, catalogue):
    jobs.interactions_rebuild()
    body = _feed(api_client, catalogue.fans["美食"][0])
    assert body["source"] == "personalised"
    assert "model" not in body["artefact_versions"]
    assert any("no model artefact" in d for d in body["degraded"])


def test_redis_down_the_exposure_filter_uses_the_database(api_client, catalogue, settings):
    pytest.importorskip("django_redis")
    jobs.interactions_rebuild()
    jobs.hot_refresh()
    dead = "redis://127.0.0.1:1/0"  # nothing listens on port 1
    settings.REDIS_URL = dead
    settings.CACHES = {"default": {"BACKEND": "django_redis.cache.RedisCache", "LOCATION": dead,
                                   "OPTIONS": {"SOCKET_CONNECT_TIMEOUT": 0.2, "SOCKET_TIMEOUT": 0.2,
                                               "IGNORE_EXCEPTIONS": True}}}
    settings.DJANGO_REDIS_IGNORE_EXCEPTIONS = True
    user = catalogue.fans["科技"][0]
    page1 = _feed(api_client, user)
    page2 = _feed(api_client, user, page=2)
    assert page1["exposure_filter"] == "exact (redis down)"
    assert any("Redis" in d for d in page1["degraded"])
    assert page1["results"] and not set(served_ids(page1)) & set(served_ids(page2))
