"""Deterministic spreading in time, and the stable ids of view events (no database).

Everything is derived from a hash of the ids (never ``random``), so two imports agree.
"""

from __future__ import annotations

import hashlib
import uuid
from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta

from videoapp.services.demo.files import WatchRecord

PUBLISH_WINDOW_DAYS = 90
EVENT_WINDOW_DAYS = 60
# uuid5 namespace of every id derived from KuaiRec; changing it would duplicate a re-import.
KUAIREC_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "https://github.com/chongminggao/KuaiRec")


def unit_hash(key: str) -> float:
    """A stable pseudo-random number in [0, 1) for ``key`` (the same in every process)."""
    digest = hashlib.blake2b(key.encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64


def watch_times(*, records: Sequence[WatchRecord], now: datetime) -> list[datetime]:
    """A timestamp for each watch record, aligned with ``records``.

    Each user gets an activity window inside the last :data:`EVENT_WINDOW_DAYS` days (starting in
    its first half, running at least half of what is left); their rows fill it in file order with a
    jitter smaller than one slot, so the order of a user's rows is their order in time.
    """
    window = timedelta(days=EVENT_WINDOW_DAYS)
    origin = now - window
    by_user: dict[int, list[int]] = defaultdict(list)
    for index, record in enumerate(records):
        by_user[record.user_id].append(index)
    times: list[datetime] = [origin] * len(records)
    for user_id, indexes in by_user.items():
        start = 0.45 * unit_hash(f"window-start:{user_id}")
        end = start + (1.0 - start) * (0.5 + 0.5 * unit_hash(f"window-end:{user_id}"))
        slot = (end - start) / len(indexes)
        for position, index in enumerate(indexes):
            jitter = unit_hash(f"watch:{user_id}:{records[index].video_id}")
            fraction = start + slot * (position + jitter)
            times[index] = (origin + window * fraction).replace(microsecond=0)
    return times


def publish_times(
    *, video_ids: Iterable[int], first_views: dict[int, datetime], now: datetime
) -> dict[int, datetime]:
    """When each video was published: spread over the last :data:`PUBLISH_WINDOW_DAYS` days,
    and 1-48 hours before its first view when it has one."""
    window = timedelta(days=PUBLISH_WINDOW_DAYS)
    result = {}
    for video_id in video_ids:
        published = now - window * unit_hash(f"publish:{video_id}")
        first_view = first_views.get(video_id)
        if first_view is not None and published >= first_view - timedelta(hours=1):
            published = first_view - timedelta(hours=1 + 47 * unit_hash(f"lead:{video_id}"))
        result[video_id] = published.replace(microsecond=0)
    return result


def watch_event_id(*, user_id: int, video_id: int) -> uuid.UUID:
    """The stable ``Event.event_id`` of KuaiRec user ``user_id`` watching ``video_id``."""
    return uuid.uuid5(KUAIREC_NAMESPACE, f"view:{user_id}:{video_id}")
