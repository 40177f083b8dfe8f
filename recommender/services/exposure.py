"""Exposure filter (已下发过滤): what a viewer was already shown or watched is not shown again.

Two implementations behind one interface:

* :class:`BloomExposure` (when ``REDIS_URL`` is set): one Bloom filter per viewer and time bucket,
  a Redis bitmap of ``m`` bits written with one ``BITFIELD SET u1`` per response, ``k`` bit positions per video
  from double hashing.  Buckets expire (``EXPIRE``), so "shown within the window" needs no cleanup.
  A lookup fetches the few live bitmaps of the viewer with one pipelined ``GET`` each and tests the
  bits in numpy (cheaper than ``k x candidates x buckets`` GETBITs); the feed sends those GETs in
  the same round trip as its other reads (``queue_read`` / ``seen_in``).  False positives (a never-shown video
  taken for shown) are possible and bounded (see docs/serving.md); false negatives are not.
* :class:`ExactExposure` (embedded default, and the fallback when Redis is down): the impression /
  view / engagement events of the window from the database, exact.
"""

from __future__ import annotations

import logging
import math
import time
from datetime import timedelta

import numpy as np
from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver
from django.utils import timezone

from videoapp.models import Event

logger = logging.getLogger(__name__)

_MASK64 = np.uint64(0xFFFFFFFFFFFFFFFF)


def _window_seconds() -> float:
    return float(getattr(settings, "RECOMMENDER_EXPOSURE_WINDOW_HOURS", 72)) * 3600.0


def viewer_key(*, user_id: int | None, session_key: str | None) -> str:
    return f"u{user_id}" if user_id is not None else f"s{session_key or ''}"


def _splitmix64(x: np.ndarray) -> np.ndarray:
    """A well-mixed 64-bit hash of integers (vectorised; no per-item Python hashing)."""
    with np.errstate(over="ignore"):
        z = (x.astype(np.uint64) + np.uint64(0x9E3779B97F4A7C15)) & _MASK64
        z = ((z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)) & _MASK64
        z = ((z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)) & _MASK64
        return z ^ (z >> np.uint64(31))


def bloom_positions(ids, *, m: int, k: int) -> np.ndarray:
    """Bit positions (len(ids) x k) of each id: Kirsch-Mitzenmacher double hashing h1 + i*h2 mod m."""
    ids = np.asarray(list(ids), dtype=np.uint64)
    h1 = _splitmix64(ids)
    h2 = _splitmix64(ids ^ np.uint64(0xD6E8FEB86659FD93)) | np.uint64(1)
    i = np.arange(k, dtype=np.uint64)
    with np.errstate(over="ignore"):
        return ((h1[:, None] + i[None, :] * h2[:, None]) % np.uint64(m)).astype(np.int64)


def bloom_false_positive_rate(*, n: int, m: int, k: int) -> float:
    """Theoretical false-positive probability after ``n`` insertions: (1 - e^(-kn/m))^k."""
    return (1.0 - math.exp(-k * n / m)) ** k


class ExactExposure:
    """The viewer's impressions and views of the window, from the event log (exact)."""

    name = "exact"

    def seen(self, *, user_id: int | None, session_key: str | None, candidates: list[int]) -> set[int]:
        since = timezone.now() - timedelta(seconds=_window_seconds())
        # Engagements count as "already watched" too (the Bloom filter gets them from the profile refresh).
        qs = Event.objects.filter(created_at__gte=since, video_id__isnull=False,
                                  kind__in=[Event.Kind.IMPRESSION, Event.Kind.VIEW, Event.Kind.LIKE,
                                            Event.Kind.FAVOURITE, Event.Kind.COMMENT, Event.Kind.SHARE])
        if user_id is not None:
            qs = qs.filter(user_id=user_id)
        elif session_key:
            qs = qs.filter(session_key=session_key, user__isnull=True)
        else:
            return set()
        return set(qs.values_list("video_id", flat=True).distinct())

    def add(self, *, user_id: int | None, session_key: str | None, video_ids: list[int]) -> None:
        # The impression events themselves are the record (written by the feed).
        return None


# The feed's serve script (``services.feed_queue``) does not set Bloom bits for what it serves: it
# appends the bit positions of each answer to the viewer's *served log*, and whoever reads the
# filter first folds the log into the current bucket (this Lua function, shared with that script).
# Every other writer of a viewer's filter bumps the viewer's *external exposure* counter, which
# tells the serve script whether its queue can still skip the filter test.
SERVED_LOG_KEY = "rec:served:{viewer}"
EXTERNAL_EXPOSURE_KEY = "rec:expgen:{viewer}"
FOLD_FUNCTION = r"""
local function fold(served, current, ttl)
  local log = redis.call('LRANGE', served, 0, -1)
  if #log == 0 then return end
  local args = {}
  for _, positions in ipairs(log) do
    for p in string.gmatch(positions, '%d+') do
      args[#args + 1] = 'SET'; args[#args + 1] = 'u1'; args[#args + 1] = p; args[#args + 1] = 1
      if #args >= 4000 then redis.call('BITFIELD', current, unpack(args)); args = {} end
    end
  end
  if #args > 0 then redis.call('BITFIELD', current, unpack(args)) end
  redis.call('EXPIRE', current, ttl)
  redis.call('DEL', served)
end
"""
FOLD_SCRIPT = FOLD_FUNCTION + "fold(KEYS[1], KEYS[2], tonumber(ARGV[1]))\nreturn 1\n"


class BloomExposure:
    """Per-viewer Bloom filters in Redis, one bitmap per time bucket of the window."""

    name = "bloom"

    def __init__(self, client, *, m: int | None = None, k: int | None = None, buckets: int = 4) -> None:
        self.client = client
        self.m = int(m or getattr(settings, "RECOMMENDER_BLOOM_BITS", 1 << 16))
        self.k = int(k or getattr(settings, "RECOMMENDER_BLOOM_HASHES", 5))
        self.buckets = buckets

    def _keys(self, viewer: str, now: float | None = None) -> tuple[str, list[str], int]:
        # The current bucket plus enough older ones to cover the whole window.
        first, current, ttl = self.bucket_span(now)
        keys = [f"rec:exp:{viewer}:{b}" for b in range(first, current + 1)]
        return keys[-1], keys, ttl

    def bucket_span(self, now: float | None = None) -> tuple[int, int, int]:
        """(first live bucket number, current bucket number, TTL of a bucket) - what ``_keys`` names."""
        window = _window_seconds()
        width = max(window / self.buckets, 1.0)
        current = int((now or time.time()) // width)
        return current - self.buckets, current, int(window + 2 * width)

    def queue_fold(self, pipe, viewer: str) -> None:
        """Queue the folding of the viewer's served log into the filter (before reading it)."""
        key, _, ttl = self._keys(viewer)
        script = _fold_scripts.get(id(self.client))
        if script is None:
            script = _fold_scripts[id(self.client)] = self.client.register_script(FOLD_SCRIPT)
        script(keys=[SERVED_LOG_KEY.format(viewer=viewer), key], args=[ttl], client=pipe)

    def queue_add(self, pipe, viewer: str, video_ids: list[int], *, external: bool = True) -> None:
        """Queue the writes of ``video_ids`` into ``pipe`` (so a caller can send them together with
        its own commands in one round trip).  ``external``: bump the viewer's external exposure
        counter (everything but a feed answer whose items the served queue already accounts for)."""
        if not video_ids:
            return
        if external:
            pipe.incr(EXTERNAL_EXPOSURE_KEY.format(viewer=viewer))
        key, _, ttl = self._keys(viewer)
        positions = np.unique(bloom_positions(video_ids, m=self.m, k=self.k).ravel()).tolist()
        # One BITFIELD (SET u1 <bit> 1 for every position) instead of one SETBIT per bit: the same
        # bits, one command to encode and execute instead of k x videos.
        args: list = []
        for pos in positions:
            args += ["SET", "u1", pos, 1]
        pipe.execute_command("BITFIELD", key, *args)
        pipe.expire(key, ttl)

    def add_for(self, viewer: str, video_ids: list[int]) -> None:
        if not video_ids:
            return
        pipe = self.client.pipeline(transaction=False)
        self.queue_add(pipe, viewer, video_ids)
        pipe.execute()

    def queue_read(self, pipe, viewer: str) -> int:
        """Queue the GETs of the viewer's live bitmaps into ``pipe``; returns how many replies they take."""
        _, keys, _ = self._keys(viewer)
        for key in keys:
            pipe.get(key)
        return len(keys)

    def seen_in(self, bitmaps: list, candidates: list[int]) -> set[int]:
        """Which of ``candidates`` are set in any of ``bitmaps`` (the raw replies of :meth:`queue_read`)."""
        bitmaps = [b for b in bitmaps if b]
        if not bitmaps or not candidates:
            return set()
        positions = bloom_positions(candidates, m=self.m, k=self.k)
        # Test the bits in place (Redis bit 0 = the most significant bit of byte 0), no unpacking.
        byte_index, shift = positions >> 3, (7 - (positions & 7)).astype(np.uint8)
        hit = np.zeros(len(candidates), dtype=bool)
        for raw in bitmaps:
            data = np.frombuffer(raw, dtype=np.uint8)
            inside = byte_index < len(data)
            present = np.zeros(positions.shape, dtype=bool)
            present[inside] = ((data[byte_index[inside]] >> shift[inside]) & 1).astype(bool)
            hit |= present.all(axis=1)
        return {c for c, h in zip(candidates, hit.tolist(), strict=True) if h}

    def seen_for(self, viewer: str, candidates: list[int]) -> set[int]:
        if not candidates:
            return set()
        pipe = self.client.pipeline(transaction=False)
        self.queue_fold(pipe, viewer)
        self.queue_read(pipe, viewer)
        return self.seen_in(pipe.execute()[1:], candidates)

    def seen(self, *, user_id: int | None, session_key: str | None, candidates: list[int]) -> set[int]:
        return self.seen_for(viewer_key(user_id=user_id, session_key=session_key), candidates)

    def add(self, *, user_id: int | None, session_key: str | None, video_ids: list[int]) -> None:
        self.add_for(viewer_key(user_id=user_id, session_key=session_key), video_ids)


_fold_scripts: dict[int, object] = {}

# Circuit breaker: after a Redis failure, use the database for a while instead of timing out
# on every request.
_redis_down_until = 0.0


def _redis_client():
    from django_redis import get_redis_connection

    return get_redis_connection("default")


_current: list = [None]  # the Bloom backend in use, once made (a settings change forgets it)


def exposure_backend():
    """Bloom filter when Redis is configured and up, else the exact database filter."""
    if settings.REDIS_URL and time.monotonic() >= _redis_down_until:
        if _current[0] is not None:  # the feed asks on every request: no cache-handler lookup each time
            return _current[0]
        try:
            _current[0] = BloomExposure(_redis_client())
            return _current[0]
        except Exception as exc:  # misconfigured or unreachable: degrade, do not fail
            exposure_mark_down(exc)
    return ExactExposure()


@receiver(setting_changed)
def _settings_changed(**_kwargs) -> None:
    _current[0] = None


def exposure_mark_down(exc: Exception) -> None:
    global _redis_down_until
    _redis_down_until = time.monotonic() + float(getattr(settings, "RECOMMENDER_REDIS_RETRY_SECONDS", 10))
    logger.warning("exposure filter: Redis unavailable (%s), using the database", exc.__class__.__name__)


def exposure_redis_down() -> bool:
    """Redis is configured but was found down a moment ago (the database answers meanwhile)."""
    return bool(settings.REDIS_URL) and time.monotonic() < _redis_down_until


def exposure_reset() -> None:
    global _redis_down_until
    _redis_down_until = 0.0
    _current[0] = None


def exposure_seen(*, user_id: int | None, session_key: str | None, candidates: list[int]) -> tuple[set[int], str]:
    """(videos of ``candidates`` already shown/watched, name of the filter that answered)."""
    backend = exposure_backend()
    try:
        return backend.seen(user_id=user_id, session_key=session_key, candidates=candidates), backend.name
    except Exception as exc:
        if isinstance(backend, ExactExposure):
            raise
        exposure_mark_down(exc)
        exact = ExactExposure()
        return exact.seen(user_id=user_id, session_key=session_key, candidates=candidates), "exact (redis down)"


def exposure_add(*, user_id: int | None, session_key: str | None, video_ids: list[int]) -> None:
    backend = exposure_backend()
    try:
        backend.add(user_id=user_id, session_key=session_key, video_ids=video_ids)
    except Exception as exc:
        if isinstance(backend, ExactExposure):
            raise
        exposure_mark_down(exc)
