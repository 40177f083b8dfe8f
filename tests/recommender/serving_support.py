"""Fixtures and a small demo catalogue shared by the serving tests (test_jobs*, test_feed*, ...)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta

import pytest
from django.utils import timezone

from tests.factories import EventFactory, TagFactory, UserFactory, VideoFactory, VideoTagFactory

CATEGORIES = ("美食", "科技", "旅行")


@pytest.fixture(autouse=True)
def fresh_serving_state(settings):
    """No per-process caching between tests: every test sees its own artefacts at once."""
    from recommender.services.exposure import exposure_reset
    from recommender.services.serving import serving_caches_clear

    settings.RECOMMENDER_VERSION_TTL_SECONDS = 0
    settings.RECOMMENDER_LOCAL_CACHE_SECONDS = 0
    # The catalogue creates dozens of users: a fast hasher keeps these tests quick.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    serving_caches_clear()
    exposure_reset()
    yield
    serving_caches_clear()
    exposure_reset()


@dataclass
class Catalogue:
    videos: dict[str, list] = field(default_factory=dict)  # category -> videos
    tags: dict[str, object] = field(default_factory=dict)  # category -> Tag
    fans: dict[str, list] = field(default_factory=dict)  # category -> users who watch it

    @property
    def all_videos(self) -> list:
        return [v for vs in self.videos.values() for v in vs]


def build_catalogue(*, per_category: int = 6, fans_per_category: int = 5, watched: int = 4) -> Catalogue:
    """Videos in three categories, each tagged with its category; fans of a category watched
    ``watched`` of its videos (overlapping windows, so item-CF has co-occurrences)."""
    cat = Catalogue()
    now = timezone.now()
    for c_index, category in enumerate(CATEGORIES):
        tag = TagFactory(name=category, category=category)
        cat.tags[category] = tag
        videos = []
        for i in range(per_category):
            video = VideoFactory(title=f"{category}视频{i}", category=category,
                                 published_at=now - timedelta(days=10 + i))
            VideoTagFactory(video=video, tag=tag)
            videos.append(video)
        cat.videos[category] = videos
        fans = []
        for u in range(fans_per_category):
            user = UserFactory(username=f"fan_{c_index}_{u}")
            fans.append(user)
            for j in range(watched):
                video = videos[(u + j) % per_category]
                EventFactory(user=user, video=video, kind="view", watch_ratio=0.95, watch_seconds=30,
                             created_at=now - timedelta(hours=2, minutes=u * 5 + j))
        cat.fans[category] = fans
    return cat


def served_ids(response_json: dict) -> list[int]:
    return [item["video"]["id"] for item in response_json["results"]]


@contextmanager
def lock_held_elsewhere(job: str) -> Iterator[None]:
    """Another worker holds ``job``'s lock: a PostgreSQL advisory lock from a second database session,
    or the cache key on SQLite (the two mechanisms ``jobs.job_lock`` uses)."""
    from django.core.cache import cache
    from django.db import connection, connections

    from recommender.services import jobs

    if connection.vendor == "postgresql":
        other = connections.create_connection("default")
        with other.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_lock(%s)", [jobs.advisory_key(job)])
        try:
            yield
        finally:
            with other.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_unlock(%s)", [jobs.advisory_key(job)])
            other.close()
    else:
        assert cache.add(jobs.lock_cache_key(job), "other worker", 60)
        try:
            yield
        finally:
            cache.delete(jobs.lock_cache_key(job))
