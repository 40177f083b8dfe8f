"""The whole import: :func:`kuairec_import`."""

from __future__ import annotations

import time
from datetime import datetime
from pathlib import Path

from django.db import transaction
from django.utils import timezone

from videoapp.services.demo.bulk import KuairecImportResult
from videoapp.services.demo.catalogue import import_catalogue
from videoapp.services.demo.files import DEFAULT_PATH, read_videos, read_watch_log
from videoapp.services.demo.timeline import watch_times
from videoapp.services.demo.viewers import import_watch_log


def kuairec_import(
    *,
    path: Path | str | None = None,
    limit_users: int | None = None,
    with_events: bool = True,
    now: datetime | None = None,
    progress: bool = False,
    batch_size: int = 2000,
) -> KuairecImportResult:
    """Import the KuaiRec catalogue, viewers and watch log from ``path`` (default ``demo/kuairec``).

    ``limit_users`` keeps the first N viewers of the watch log (file order) and their rows;
    ``with_events=False`` creates the viewers but no view events. Safe to run again: only what is
    missing is added. ``now`` anchors the generated timestamps (default: the current time).
    """
    started = time.monotonic()
    path = Path(path) if path is not None else DEFAULT_PATH
    now = now or timezone.now().replace(microsecond=0)
    result = KuairecImportResult()

    videos = read_videos(path)
    records = read_watch_log(path)
    # Publication dates depend on the whole log, so --limit-users never changes a video.
    all_times = watch_times(records=records, now=now)
    first_views: dict[int, datetime] = {}
    for record, created_at in zip(records, all_times, strict=True):
        if record.video_id not in first_views or created_at < first_views[record.video_id]:
            first_views[record.video_id] = created_at

    with transaction.atomic():
        video_ids = import_catalogue(
            videos=videos, first_views=first_views, now=now, batch_size=batch_size, progress=progress, result=result
        )

    if limit_users is not None:
        kept = set(list(dict.fromkeys(record.user_id for record in records))[: max(limit_users, 0)])
        selected = [(r, t) for r, t in zip(records, all_times, strict=True) if r.user_id in kept]
        records = [r for r, _ in selected]
        all_times = [t for _, t in selected]
    if records:
        import_watch_log(
            records=records, times=all_times, video_ids=video_ids, batch_size=batch_size,
            with_events=with_events, progress=progress, result=result,
        )
    result.seconds = time.monotonic() - started
    return result
