"""Exposure filter: Bloom filter in Redis (false-positive rate measured), exact filter in the database."""

import os
from datetime import timedelta

import numpy as np
import pytest
from django.utils import timezone

from recommender.services.exposure import (
    BloomExposure,
    ExactExposure,
    bloom_false_positive_rate,
    bloom_positions,
)
from tests.factories import EventFactory, UserFactory, VideoFactory
from tests.recommender.serving_support import fresh_serving_state  # noqa: F401


class FakeRedis:
    """Just enough of redis-py for BloomExposure (bit order as Redis: bit 0 = MSB of byte 0)."""

    def __init__(self) -> None:
        self.data: dict[str, bytearray] = {}
        self.ttl: dict[str, int] = {}

    def pipeline(self, transaction: bool = False):
        return _FakePipe(self)


class _FakePipe:
    def __init__(self, redis: FakeRedis) -> None:
        self.redis, self.ops = redis, []

    def setbit(self, key, pos, value):
        self.ops.append(("setbit", key, pos, value))

    def execute_command(self, name, key, *args):
        assert name == "BITFIELD"
        for i in range(0, len(args), 4):
            assert args[i:i + 2] == ("SET", "u1") and args[i + 3] == 1
            self.setbit(key, args[i + 2], 1)

    def get(self, key):
        self.ops.append(("get", key))

    def expire(self, key, ttl):
        self.ops.append(("expire", key, ttl))

    def execute(self):
        out = []
        for op, key, *args in self.ops:
            if op == "setbit":
                buf = self.redis.data.setdefault(key, bytearray())
                byte = args[0] // 8
                if len(buf) <= byte:
                    buf.extend(b"\0" * (byte + 1 - len(buf)))
                buf[byte] |= 0x80 >> (args[0] % 8)
                out.append(0)
            elif op == "get":
                out.append(bytes(self.redis.data[key]) if key in self.redis.data else None)
            else:
                self.redis.ttl[key] = args[0]
                out.append(True)
        return out


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


def test_bloom_exposure_remembers_what_was_added():
    bloom = BloomExposure(FakeRedis())
    bloom.add_for("u1", [10, 11, 12])
    assert bloom.seen_for("u1", [10, 11, 12, 13, 14]) == {10, 11, 12}
    assert bloom.seen_for("u2", [10, 11]) == set(), "filters are per viewer"
    assert all(ttl > 0 for ttl in bloom.client.ttl.values()), "every bitmap expires"


@pytest.mark.skipif(not os.environ.get("REDIS_URL"), reason="needs REDIS_URL (a real Redis)")
def test_bloom_exposure_on_real_redis():
    import redis

    client = redis.Redis.from_url(os.environ["REDIS_URL"])
    bloom = BloomExposure(client)
    viewer = f"test-{os.getpid()}-{timezone.now().timestamp()}"
    bloom.add_for(viewer, list(range(100, 200)))
    assert bloom.seen_for(viewer, list(range(150, 250))) >= set(range(150, 200))
    assert len(bloom.seen_for(viewer, list(range(150, 250))) - set(range(150, 200))) <= 1
    key = bloom._keys(viewer)[0]
    assert 0 < client.ttl(key) <= bloom._keys(viewer)[2]
    client.delete(key)


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
    bloom = BloomExposure(FakeRedis(), m=1 << 12, k=4)
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
