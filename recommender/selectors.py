"""Reads of the recommender: the event log and side information the jobs train on, and the
small per-request lookups of the feed (dislikes, interests, video cards)."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db.models import Count, Exists, IntegerField, OuterRef, Q, Subquery
from django.db.models.functions import Coalesce

from tagging.models import UserInterest, VideoTag
from videoapp.models import Comment, Dislike, Event, Favourite, Follow, Like, Video


def servable_video_ids() -> set[int]:
    """Published, public videos with no active blocked tag: the only ones a list may show."""
    blocked = VideoTag.objects.filter(state=VideoTag.State.ACTIVE, tag__is_blocked=True).values("video_id")
    return set(Video.objects.public().exclude(id__in=blocked).values_list("id", flat=True))


def training_event_log(*, since: datetime | None = None) -> dict[str, list]:
    """Behaviour events of logged-in viewers on servable videos, as plain columns for recommender.data.

    Impressions are left out (weight 0; the exposure filter reads them separately).
    """
    weights = settings.EVENT_WEIGHTS
    kinds = [kind for kind, weight in weights.items() if weight != 0]
    qs = Event.objects.filter(user__isnull=False, video__isnull=False, kind__in=kinds)
    if since is not None:
        qs = qs.filter(created_at__gte=since)
    columns: dict[str, list] = {"user": [], "item": [], "kind": [], "value": [], "seconds": [], "timestamp": []}
    rows = qs.values_list("user_id", "video_id", "kind", "watch_ratio", "watch_seconds", "created_at")
    for user_id, video_id, kind, ratio, seconds, created in rows.iterator(chunk_size=20_000):
        columns["user"].append(user_id)
        columns["item"].append(video_id)
        columns["kind"].append(kind)
        columns["value"].append(ratio)
        columns["seconds"].append(seconds)
        columns["timestamp"].append(created.timestamp())
    return columns


def video_tag_map(*, video_ids: set[int] | None = None) -> dict[int, dict[str, float]]:
    """``{video_id: {tag name: score}}`` over active, usable tags."""
    qs = VideoTag.objects.filter(state=VideoTag.State.ACTIVE, tag__is_blocked=False, tag__merged_into__isnull=True)
    if video_ids is not None:
        qs = qs.filter(video_id__in=video_ids)
    out: dict[int, dict[str, float]] = defaultdict(dict)
    for video_id, name, score in qs.values_list("video_id", "tag__name", "score").iterator(chunk_size=20_000):
        out[video_id][name] = max(float(score or 0.0), 0.0) or 1.0
    return dict(out)


def user_interest_map(*, exclude_sources: tuple[str, ...] = ()) -> dict[int, dict[str, float]]:
    """``{user_id: {tag name: weight}}`` summed over every interest source but ``exclude_sources``."""
    out: dict[int, dict[str, float]] = defaultdict(dict)
    rows = UserInterest.objects.filter(tag__is_blocked=False, weight__gt=0).exclude(
        source__in=exclude_sources
    ).values_list("user_id", "tag__name", "weight")
    for user_id, name, weight in rows.iterator(chunk_size=20_000):
        out[user_id][name] = out[user_id].get(name, 0.0) + float(weight)
    return dict(out)


def user_interests(*, user_id: int) -> dict[str, float]:
    """One viewer's tag interests (onboarding, behaviour, comments, manual), summed per tag."""
    out: dict[str, float] = {}
    rows = UserInterest.objects.filter(user_id=user_id, tag__is_blocked=False, weight__gt=0)
    for name, weight in rows.values_list("tag__name", "weight"):
        out[name] = out.get(name, 0.0) + float(weight)
    return out


def disliked_video_ids(*, user_id: int | None) -> set[int]:
    if user_id is None:
        return set()
    return set(Dislike.objects.filter(user_id=user_id).values_list("video_id", flat=True))


def _servable_queryset(*, ids: list[int], disliked_by: int | None):
    blocked = VideoTag.objects.filter(video_id=OuterRef("pk"), state=VideoTag.State.ACTIVE, tag__is_blocked=True)
    qs = Video.objects.public().filter(id__in=ids).filter(~Exists(blocked))
    if disliked_by is not None:
        qs = qs.filter(~Exists(Dislike.objects.filter(user_id=disliked_by, video_id=OuterRef("pk"))))
    return qs.order_by()


def servable_meta_among(*, ids: list[int], disliked_by: int | None = None) -> dict[int, tuple[int, str]]:
    """``{video_id: (owner_id, category)}`` of the ids :func:`servable_among` would keep (one query)."""
    if not ids:
        return {}
    rows = _servable_queryset(ids=ids, disliked_by=disliked_by).values_list("id", "owner_id", "category")
    return {video_id: (owner_id, category or "") for video_id, owner_id, category in rows}


def servable_among(*, ids: list[int], disliked_by: int | None = None) -> set[int]:
    """Which of ``ids`` may be shown right now (published, public, no active blocked tag and, with
    ``disliked_by``, not disliked by that viewer).

    A primary-key lookup with a NOT EXISTS per row: cheap enough to run on every response, so a
    video made private or blocked, or just disliked, disappears at once, whatever the caches hold.
    """
    if not ids:
        return set()
    return set(_servable_queryset(ids=ids, disliked_by=disliked_by).values_list("id", flat=True))


def video_cards(*, ids: list[int], servable_only: bool = True) -> dict[int, dict]:
    """Card data of ``ids`` (one query; counts by subquery, no N+1, no join fan-out).

    With ``servable_only`` unpublished, private and blocked-tag videos are absent from the result.
    """
    if not ids:
        return {}
    if servable_only:
        ids = list(servable_among(ids=ids))

    def count_of(model, field: str = "video"):
        sub = model.objects.filter(**{field: OuterRef("pk")}).order_by().values(field).annotate(
            c=Count("pk")).values("c")
        return Coalesce(Subquery(sub, output_field=IntegerField()), 0)

    qs = (
        Video.objects.filter(id__in=ids)
        .order_by()
        .select_related("owner__profile")
        .annotate(like_count=count_of(Like), favourite_count=count_of(Favourite), comment_count=count_of(Comment))
    )
    cards = {}
    for video in qs:
        profile = getattr(video.owner, "profile", None)
        cards[video.id] = {
            "id": video.id,
            "title": video.title,
            "poster_url": f"/api/v1/videos/{video.id}/poster",
            "owner": {
                "id": video.owner_id,
                "username": video.owner.get_username(),
                "display_name": (profile.display_name if profile else "") or video.owner.get_username(),
            },
            "category": video.category,
            "duration_seconds": float(video.duration_seconds) if video.duration_seconds is not None else None,
            "published_at": video.published_at.isoformat() if video.published_at else None,
            "counts": {
                "likes": video.like_count,
                "favourites": video.favourite_count,
                "comments": video.comment_count,
            },
        }
    return cards


def video_titles(*, ids: list[int]) -> dict[int, str]:
    return dict(Video.objects.filter(id__in=ids).values_list("id", "title"))


def latest_public_video_ids(*, limit: int = 100) -> list[int]:
    return list(Video.objects.public().order_by("-published_at", "-id").values_list("id", flat=True)[:limit])


def followed_user_ids(*, user_id: int | None) -> set[int]:
    if user_id is None:
        return set()
    return set(Follow.objects.filter(follower_id=user_id).values_list("followee_id", flat=True))


def user_cards(*, ids: list[int]) -> dict[int, dict]:
    """Uploader cards (follower and public video counts aggregated in the database)."""
    users = (
        get_user_model()
        .objects.filter(id__in=ids, is_active=True)
        .select_related("profile")
        .annotate(
            follower_count=Count("followers", distinct=True),
            video_count=Count("videos", filter=Q(videos__status=Video.Status.PUBLISHED,
                                                  videos__visibility=Video.Visibility.PUBLIC), distinct=True),
        )
    )
    out = {}
    for user in users:
        profile = getattr(user, "profile", None)
        out[user.id] = {
            "id": user.id,
            "username": user.get_username(),
            "display_name": (profile.display_name if profile else "") or user.get_username(),
            "follower_count": user.follower_count,
            "video_count": user.video_count,
        }
    return out
