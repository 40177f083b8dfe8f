"""Bulk-writing helpers shared by the catalogue and the viewer import."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.db import connection

from videoapp.models import Profile


@dataclass
class KuairecImportResult:
    videos_created: int = 0
    videos_existing: int = 0
    tags_created: int = 0
    video_tags_created: int = 0
    uploaders_created: int = 0
    users_created: int = 0
    users_existing: int = 0
    events_created: int = 0
    events_existing: int = 0
    events_skipped: int = 0
    seconds: float = 0.0

    def summary(self) -> str:
        return (
            f"videos: {self.videos_created} created, {self.videos_existing} existing; "
            f"tags: {self.tags_created} created, video tags: {self.video_tags_created} created; "
            f"viewers: {self.users_created} created, {self.users_existing} existing; "
            f"view events: {self.events_created} created, {self.events_existing} existing"
            + (f", {self.events_skipped} skipped (video not in the catalogue)" if self.events_skipped else "")
            + "; "
            f"{self.seconds:.1f} s"
        )


def chunks(items: Sequence, size: int) -> Iterator[Sequence]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


@contextmanager
def sqlite_large_cache(pages_kib: int = 256 * 1024) -> Iterator[None]:
    """A bigger SQLite page cache while bulk-inserting: the index on the random ``event_id`` uuids
    soon outgrows SQLite's 2 MB default cache. No-op on other databases."""
    if connection.vendor != "sqlite":
        yield
        return
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA cache_size")
        (previous,) = cursor.fetchone()
        cursor.execute(f"PRAGMA cache_size = -{int(pages_kib)}")
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute(f"PRAGMA cache_size = {int(previous)}")


def users_ensure(*, accounts: dict[str, dict], batch_size: int) -> tuple[dict[str, int], int]:
    """Create the missing accounts (unusable password) and their profiles.

    ``accounts`` maps username -> Profile field values. Returns (username -> user id, number created).
    """
    user_model = get_user_model()
    usernames = list(accounts)
    existing: set[str] = set()
    for chunk in chunks(usernames, 900):
        existing.update(user_model.objects.filter(username__in=chunk).values_list("username", flat=True))
    missing = [name for name in usernames if name not in existing]
    user_model.objects.bulk_create(
        [user_model(username=name, password=make_password(None)) for name in missing],
        batch_size=batch_size,
        ignore_conflicts=True,
    )
    ids: dict[str, int] = {}
    for chunk in chunks(usernames, 900):
        ids.update(user_model.objects.filter(username__in=chunk).values_list("username", "pk"))
    with_profile: set[int] = set()
    for chunk in chunks(list(ids.values()), 900):
        with_profile.update(Profile.objects.filter(user_id__in=chunk).values_list("user_id", flat=True))
    Profile.objects.bulk_create(
        [Profile(user_id=ids[name], **accounts[name]) for name in usernames if ids[name] not in with_profile],
        batch_size=batch_size,
        ignore_conflicts=True,
    )
    return ids, len(missing)
