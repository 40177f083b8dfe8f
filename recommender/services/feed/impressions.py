"""Impressions: what a response showed, recorded in the event log (buffered in Redis, flushed by beat)
and added to the viewer's exposure filter."""

from __future__ import annotations

import json
import logging
from datetime import datetime

from django.conf import settings
from django.utils import timezone

from recommender.services.exposure import BloomExposure, exposure_backend, exposure_mark_down, viewer_key
from recommender.services.feed.plan import _plan_store, _plan_ttl
from recommender.services.feed_queue import IMPRESSION_BUFFER_KEY, impression_buffer_cap
from videoapp.models import Event, Video

logger = logging.getLogger(__name__)


def impressions_record(*, user_id: int | None, session_key: str | None, items: list[dict], request_id: str,
                       surface: str, source: str = "", backend=None, extra_sets: dict | None = None,
                       external: bool = True) -> None:
    """Record the impressions of one response and add them to the viewer's exposure filter.

    With Redis up: the exposure bits, the impression rows (appended to a Redis list) and
    ``extra_sets`` (key -> bytes, e.g. the viewer's rebuilt feed plan) go in one pipelined round
    trip; the rows reach the event log in bulk by :func:`impressions_flush`, run by beat, never on
    the request path.  The buffer is capped at ``RECOMMENDER_IMPRESSION_BUFFER_MAX`` rows (the oldest
    are dropped, with a warning, when no flush has run for that long).  Without Redis (or when it
    is down), one bulk INSERT per response, which the exact filter reads.
    """
    backend = backend if backend is not None else exposure_backend()
    if not items:
        if extra_sets and isinstance(backend, BloomExposure):
            _plan_store(backend, extra_sets)
        return
    # One buffered record per response (the served queue's script writes the same shape).
    batch = {"user_id": user_id, "session_key": "" if user_id else (session_key or ""),
             "created_at": timezone.now().isoformat(), "request_id": request_id, "surface": surface,
             "source": source,
             "items": [[item["video"]["id"], item["channel"], item["artefact_version"]] for item in items]}
    video_ids = [item["video"]["id"] for item in items]
    if isinstance(backend, BloomExposure):
        buffered = getattr(settings, "RECOMMENDER_IMPRESSION_BUFFER", True)
        cap = impression_buffer_cap()
        try:
            pipe = backend.client.pipeline(transaction=False)
            backend.queue_add(pipe, viewer_key(user_id=user_id, session_key=session_key), video_ids,
                              external=external)
            for key, value in (extra_sets or {}).items():
                pipe.set(key, value, ex=_plan_ttl())
            if buffered:
                pipe.rpush(IMPRESSION_BUFFER_KEY, json.dumps(batch))
            replies = pipe.execute()
            if buffered and replies[-1] > cap:
                # No flush for a long time (beat stopped): bound Redis memory, keep the newest records.
                backend.client.ltrim(IMPRESSION_BUFFER_KEY, -cap, -1)
                logger.warning("impression buffer over %d responses: the oldest were dropped (is beat running?)", cap)
            if buffered:
                return
        except Exception as exc:  # Redis went away: write them now, where the exact filter reads
            exposure_mark_down(exc)
    _impressions_insert(_impression_rows(batch))


def _buffered_batch(raw: bytes) -> dict:
    """One buffered response: a JSON record, or (written by the served queue's script) a JSON header
    line followed by the queue entries served, one a line, whose fourth field is the impression."""
    if b"\n" not in raw:
        return json.loads(raw)
    header, *entries = raw.split(b"\n")
    batch = json.loads(header)
    batch["items"] = [json.loads(entry.split(b"|", 4)[3]) for entry in entries]
    return batch


def _impression_rows(batch: dict) -> list[dict]:
    """The event rows of one buffered response (position = place in the answer)."""
    return [
        {"user_id": batch["user_id"], "session_key": batch["session_key"], "video_id": int(video_id),
         "created_at": batch["created_at"],
         "context": {"surface": batch["surface"], "channel": channel, "request_id": batch["request_id"],
                     "position": position, "artefact_version": version, "source": batch["source"]}}
        for position, (video_id, channel, version) in enumerate(batch["items"])
    ]


def _impressions_insert(rows: list[dict]) -> int:
    events = [
        Event(user_id=row["user_id"], session_key=row["session_key"], video_id=row["video_id"],
              kind=Event.Kind.IMPRESSION, context=row["context"],
              created_at=datetime.fromisoformat(row["created_at"]))
        for row in rows
    ]
    Event.objects.bulk_create(events, batch_size=1000)
    return len(events)


def impressions_flush(*, max_rows: int = 2_000, max_rounds: int = 50) -> int:
    """Move buffered impressions from Redis to the event log, ``max_rows`` buffered responses per
    round (atomic take: LRANGE + LTRIM in MULTI, then one bulk INSERT), until the buffer is empty or
    ``max_rounds`` rounds ran.  Returns the number of impression events written."""
    backend = exposure_backend()
    if not isinstance(backend, BloomExposure):
        return 0
    written = 0
    for _round in range(max_rounds):
        pipe = backend.client.pipeline(transaction=True)
        pipe.lrange(IMPRESSION_BUFFER_KEY, 0, max_rows - 1)
        pipe.ltrim(IMPRESSION_BUFFER_KEY, max_rows, -1)
        raw, _trimmed = pipe.execute()
        if not raw:
            break
        rows = [row for item in raw for row in _impression_rows(_buffered_batch(item))]
        # A video deleted since it was shown: its impression has nothing to point at.
        existing = set(Video.objects.filter(id__in={row["video_id"] for row in rows}).values_list("id", flat=True))
        written += _impressions_insert([row for row in rows if row["video_id"] in existing])
        if len(raw) < max_rows:
            break
    return written
