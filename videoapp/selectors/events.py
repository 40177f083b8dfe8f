"""Reads of the behaviour log."""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser
from django.db.models import Max, QuerySet

from videoapp.models import Event, Video
from videoapp.selectors.social import video_annotate_counts


def viewed_video_history(*, user: AbstractBaseUser) -> QuerySet:
    """One row per video ``user`` viewed and may still see: ``{"video_id", "last_viewed_at"}``, newest first."""
    return (
        Event.objects.filter(user=user, kind=Event.Kind.VIEW, video__in=Video.objects.visible_to(user).values("pk"))
        .values("video_id")
        .annotate(last_viewed_at=Max("created_at"))
        .order_by("-last_viewed_at", "-video_id")
    )


def video_list_by_ids(*, video_ids: list[int]) -> list[Video]:
    """The videos with counts, in the order of ``video_ids`` (ids that no longer exist are left out)."""
    by_id = video_annotate_counts(queryset=Video.objects.filter(pk__in=video_ids)).in_bulk()
    return [by_id[pk] for pk in video_ids if pk in by_id]
