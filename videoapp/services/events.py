"""The behaviour log: writes only, and only appends (no update or delete service exists on purpose).

Every action service writes its event through :func:`event_record` inside its own transaction; the beacon
writes batches through :func:`event_bulk_record`.  Follow-up work (the viewer's interest profile) is queued
on commit so a worker never reads an event that is not committed.
"""

from __future__ import annotations

import importlib
import logging
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.db import transaction
from django.utils import timezone

from videoapp.models import Event, Video

logger = logging.getLogger(__name__)

# A view at or above this watch ratio counts as completed and refreshes the viewer's interest profile.
COMPLETED_VIEW_RATIO = 0.9
# Kinds after which a logged-in viewer's interest profile is recomputed (contract with recommender.tasks).
PROFILE_REFRESH_KINDS = frozenset({Event.Kind.LIKE, Event.Kind.FAVOURITE, Event.Kind.COMMENT, Event.Kind.DISLIKE})


def task_queue_on_commit(*, task_path: str, args: tuple = ()) -> None:
    """Queue ``module.task.delay(*args)`` once the current transaction commits.

    The task's module is imported lazily and a missing module or task is skipped quietly: the tasks of
    other apps are optional for the core site (they may not be deployed, or not written yet).  The
    callback is robust, so a broker outage is logged and never fails the user's action after commit.
    """
    module_name, _, attribute = task_path.rpartition(".")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name and module_name.startswith(exc.name):
            logger.debug("task module %s is not installed; %s skipped", module_name, task_path)
            return
        raise
    task = getattr(module, attribute, None)
    if task is None:
        logger.debug("task %s does not exist; skipped", task_path)
        return
    transaction.on_commit(lambda: task.delay(*args), robust=True)


def user_profile_refresh_queue(*, user_id: int) -> None:
    """Ask the recommender to recompute one viewer's interest profile after this transaction commits."""
    task_queue_on_commit(task_path="recommender.tasks.user_profile_refresh", args=(user_id,))


def event_refreshes_profile(*, kind: str, watch_ratio: float | None) -> bool:
    if kind in PROFILE_REFRESH_KINDS:
        return True
    return kind == Event.Kind.VIEW and watch_ratio is not None and watch_ratio >= COMPLETED_VIEW_RATIO


@transaction.atomic
def event_record(
    *,
    user,
    session_key: str | None,
    video: Video | None,
    kind: str,
    watch_seconds: float | None = None,
    watch_ratio: float | None = None,
    context: dict[str, Any] | None = None,
    created_at: datetime | None = None,
) -> Event:
    """Append one behaviour event; queue the viewer's profile refresh when the kind calls for it.

    ``user`` may be anonymous (or None): the event is then keyed by ``session_key``.
    """
    if kind not in Event.Kind.values:
        raise ValueError(f"unknown event kind {kind!r}")
    is_user = user is not None and user.is_authenticated
    event = Event.objects.create(
        user=user if is_user else None,
        session_key=session_key or "",
        video=video,
        kind=kind,
        watch_seconds=watch_seconds,
        watch_ratio=watch_ratio,
        context=context or {},
        created_at=created_at or timezone.now(),
    )
    if is_user and event_refreshes_profile(kind=kind, watch_ratio=watch_ratio):
        user_profile_refresh_queue(user_id=user.pk)
    return event


@dataclass(frozen=True)
class EventInput:
    """One validated event of a batch (the beacon's items after validation)."""

    video_id: int
    kind: str
    event_id: uuid.UUID = field(default_factory=uuid.uuid4)
    watch_seconds: float | None = None
    watch_ratio: float | None = None
    context: dict[str, Any] = field(default_factory=dict)
    created_at: datetime | None = None


@dataclass(frozen=True)
class BulkRecordResult:
    inserted: int
    duplicates: int


@transaction.atomic
def event_bulk_record(*, user, session_key: str | None, events: list[EventInput]) -> BulkRecordResult:
    """Append a batch of events in one INSERT; an ``event_id`` already stored (a resend) is kept once.

    Preconditions: the items are validated and their videos exist.  Queues one profile refresh for a
    logged-in viewer when the batch holds a completed view.
    """
    is_user = user is not None and user.is_authenticated
    unique: dict[uuid.UUID, EventInput] = {}
    for item in events:
        unique.setdefault(item.event_id, item)
    already = set(Event.objects.filter(event_id__in=list(unique)).values_list("event_id", flat=True))
    fresh = [item for key, item in unique.items() if key not in already]
    now = timezone.now()
    # ignore_conflicts covers a concurrent resend of the same batch between the SELECT and the INSERT.
    Event.objects.bulk_create(
        [
            Event(
                user=user if is_user else None,
                session_key=session_key or "",
                video_id=item.video_id,
                kind=item.kind,
                watch_seconds=item.watch_seconds,
                watch_ratio=item.watch_ratio,
                context=item.context,
                event_id=item.event_id,
                created_at=item.created_at or now,
            )
            for item in fresh
        ],
        ignore_conflicts=True,
    )
    if is_user and any(event_refreshes_profile(kind=item.kind, watch_ratio=item.watch_ratio) for item in fresh):
        user_profile_refresh_queue(user_id=user.pk)
    return BulkRecordResult(inserted=len(fresh), duplicates=len(events) - len(fresh))
