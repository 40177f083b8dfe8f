"""Exposure filter: Bloom filter in Redis (false-positive rate measured), exact filter in the database."""

import os
from datetime import timedelta

import numpy as np
import pytest
from django.utils import timezone

from recommender.services.exposure import (
    EXTERNAL_EXPOSURE_KEY,
    SERVED_LOG_KEY,
    BloomExposure,
    ExactExposure,
    bloom_false_positive_rate,
    bloom_positions,
)
from tests.factories import EventFactory, UserFactory, VideoFactory
from tests.recommender.serving_support import fresh_serving_state  # noqa: F401


def test_bloom_positions_are_deterministic_and_in_range():
    a = bloom_positions([1, 2, 3], m=1000, k=4)
    assert a.shape == (3, 4) and a.min() >= 0 and a.max() < 1000
    assert np.array_equal(a, bloom_positions([1, 2, 3], m=1000, k=4))
    assert not np.array_equal(a[0], a[1])


def test_bloom_false_positive_rate_matches_theory_and_has_no_false_negatives():
    """Measured on 10,000 inserted and 100,000 other ids with the production m and k."""
    m, k, n = 1 << 16, 5, 10_000
    bits = np.zeros(m, dtype=bool)
    inserted = np.arange(1, n + 1)
    bits[bloom_positions(inserted, m=m, k=k).ravel()] = True
    assert bits[bloom_positions(inserted, m=m, k=k)].all(axis=1).all(), "no false negatives"
    others = np.arange(10_000_000, 10_100_000)
    measured = bits[bloom_positions(others, m=m, k=k)].all(axis=1).mean()
    theory = bloom_false_positive_rate(n=n, m=m, k=k)
    assert theory == pytest.approx(0.0434, abs=0.001)
    assert measured == pytest.approx(theory, rel=0.15)
    # At a realistic 1,000 impressions per viewer in the window, it is negligible.
    assert bloom_false_positive_rate(n=1000, m=m, k=k) < 1e-5


def test_bloom_exposure_on_real_redis(redis_client):
    bloom = BloomExposure(redis_client)
    viewer = f"test-{os.getpid()}-{timezone.now().timestamp()}"
    bloom.add_for(viewer, list(range(100, 200)))
    assert bloom.seen_for(viewer, list(range(150, 250))) >= set(range(150, 200))
    assert len(bloom.seen_for(viewer, list(range(150, 250))) - set(range(150, 200))) <= 1
    assert bloom.seen_for(f"{viewer}-other", [100, 101]) == set(), "filters are per viewer"
    key = bloom._keys(viewer)[0]
    assert 0 < redis_client.ttl(key) <= bloom._keys(viewer)[2], "every bitmap expires"
    assert int(redis_client.get(EXTERNAL_EXPOSURE_KEY.format(viewer=viewer))) == 1, "other writers are counted"


def test_the_served_log_is_folded_into_the_filter_before_it_is_read(redis_client):
    """What the feed's serve script logs (bit positions, not bits) counts as shown for every reader."""
    bloom = BloomExposure(redis_client)
    viewer = f"test-fold-{os.getpid()}-{timezone.now().timestamp()}"
    positions = bloom_positions([7, 8], m=bloom.m, k=bloom.k).ravel().tolist()
    redis_client.rpush(SERVED_LOG_KEY.format(viewer=viewer), ",".join(map(str, positions)))
    assert bloom.seen_for(viewer, [7, 8, 9]) == {7, 8}
    assert not redis_client.exists(SERVED_LOG_KEY.format(viewer=viewer)), "the log is emptied once folded"
    assert bloom.seen_for(viewer, [7, 8, 9]) == {7, 8}


@pytest.mark.django_db
def test_exact_exposure_respects_the_window(settings):
    settings.RECOMMENDER_EXPOSURE_WINDOW_HOURS = 1
    user = UserFactory(username="viewer")
    old, recent, watched, never = (VideoFactory() for _ in range(4))
    now = timezone.now()
    EventFactory(user=user, video=old, kind="impression", created_at=now - timedelta(hours=2))
    EventFactory(user=user, video=recent, kind="impression", created_at=now - timedelta(minutes=10))
    EventFactory(user=user, video=watched, kind="view", created_at=now - timedelta(minutes=5))
    seen = ExactExposure().seen(user_id=user.id, session_key=None,
                                candidates=[old.id, recent.id, watched.id, never.id])
    assert seen == {recent.id, watched.id}


def test_seen_in_tests_the_same_bits_as_unpacking_the_bitmap():
    bloom = BloomExposure(None, m=1 << 12, k=4)
    shown = list(range(1000, 1040))
    bits = np.zeros(1 << 12, dtype=np.uint8)
    bits[bloom_positions(shown, m=bloom.m, k=bloom.k).ravel()] = 1
    raw = np.packbits(bits).tobytes()  # Redis bit order: bit 0 is the top bit of byte 0
    candidates = list(range(990, 1100))
    got = bloom.seen_in([raw, None], candidates)
    assert set(shown) <= got
    expected = {c for c, row in zip(candidates, bloom_positions(candidates, m=bloom.m, k=bloom.k), strict=True)
                if bits[row].all()}
    assert got == expected
    assert bloom.seen_in([raw[:10]], [1000]) <= {1000}, "a short bitmap (bits past its end unset) does not fail"


@pytest.mark.django_db
def test_exact_exposure_counts_engagements_as_watched():
    user = UserFactory(username="liker")
    liked, other = VideoFactory(), VideoFactory()
    EventFactory(user=user, video=liked, kind="like")
    assert ExactExposure().seen(user_id=user.id, session_key=None, candidates=[liked.id, other.id]) == {liked.id}
