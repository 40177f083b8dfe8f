"""The viewers of the watch log and their view events."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from django.db import transaction
from tqdm import tqdm

from videoapp.models import Event, Profile
from videoapp.services.demo.bulk import KuairecImportResult, chunks, sqlite_large_cache, users_ensure
from videoapp.services.demo.files import WatchRecord
from videoapp.services.demo.timeline import watch_event_id

VIEWER_PREFIX = "kuai_"
EVENT_CONTEXT = {"source": "kuairec"}


def viewer_username(user_id: int) -> str:
    return f"{VIEWER_PREFIX}{user_id:05d}"


def import_watch_log(
    *, records: Sequence[WatchRecord], times: Sequence[datetime], video_ids: dict[int, int], batch_size: int,
    with_events: bool, progress: bool, result: KuairecImportResult,
) -> None:
    """The viewers of ``records`` and, with ``with_events``, their view events (only what is missing)."""
    user_ids = list(dict.fromkeys(record.user_id for record in records))
    with transaction.atomic():
        accounts, result.users_created = users_ensure(
            accounts={
                viewer_username(user_id): {
                    "display_name": f"快手用户{user_id}",
                    "onboarding_state": Profile.Onboarding.DONE,
                    "external_id": str(user_id),
                }
                for user_id in user_ids
            },
            batch_size=batch_size,
        )
    result.users_existing = len(user_ids) - result.users_created
    if not with_events:
        return

    pks = [accounts[viewer_username(user_id)] for user_id in user_ids]
    existing: set[uuid.UUID] = set()
    for chunk in chunks(pks, 500):
        existing.update(
            Event.objects.filter(user_id__in=chunk, kind=Event.Kind.VIEW).values_list("event_id", flat=True)
        )
    todo = []
    for record, created_at in zip(records, times, strict=True):
        event_id = watch_event_id(user_id=record.user_id, video_id=record.video_id)
        if record.video_id not in video_ids:
            result.events_skipped += 1
        elif event_id in existing:
            result.events_existing += 1
        else:
            todo.append((record, created_at, event_id))

    bar = tqdm(total=len(todo), desc="view events", unit="event", disable=not (progress and todo))
    # The cache setting wraps the transaction so that its reset never runs inside a failed atomic block.
    with sqlite_large_cache(), transaction.atomic():
        for chunk in chunks(todo, batch_size):
            Event.objects.bulk_create(
                [
                    Event(
                        user_id=accounts[viewer_username(record.user_id)],
                        video_id=video_ids[record.video_id],
                        kind=Event.Kind.VIEW,
                        watch_ratio=record.watch_ratio,
                        watch_seconds=None,
                        context=EVENT_CONTEXT,
                        event_id=event_id,
                        created_at=created_at,
                    )
                    for record, created_at, event_id in chunk
                ],
                batch_size=batch_size,
                ignore_conflicts=True,
            )
            bar.update(len(chunk))
    bar.close()
    result.events_created = len(todo)
