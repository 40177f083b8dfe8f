"""Near-real-time profile: a viewer's new like / favourite / comment / dislike / completed view
updates their behaviour interests and a small "recent engagement" list within seconds, so the
next feed request reflects it without waiting for the batch rebuild."""

from __future__ import annotations

import logging
from collections import defaultdict
from datetime import timedelta

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.utils import timezone

from tagging.models import Tag, UserInterest, VideoTag
from videoapp.models import Comment, Dislike, Event, Favourite, Like

logger = logging.getLogger(__name__)

RECENT_LIMIT = 20
RECENT_TTL_SECONDS = 7 * 86400
COMPLETED_VIEW_RATIO = 0.9


def _recent_key(user_id: int) -> str:
    return f"rec:recent:u{user_id}"


def recent_engagement_get(*, user_id: int | None) -> list[tuple[int, float]]:
    """The viewer's latest positive engagements ``[(video_id, weight)]``, newest first."""
    if user_id is None:
        return []
    try:
        value = cache.get(_recent_key(user_id))
    except Exception:  # the cache being down must not fail a feed request
        return []
    return [(int(v), float(w)) for v, w in (value or [])]


def _engagements(*, user_id: int, since) -> list[tuple[int, float, object]]:
    """(video_id, weight, when) for each engagement of the viewer since ``since``."""
    weights = settings.EVENT_WEIGHTS
    rows: list[tuple[int, float, object]] = []
    for model, kind in ((Like, "like"), (Favourite, "favourite"), (Dislike, "dislike")):
        for video_id, created in model.objects.filter(user_id=user_id, created_at__gte=since).values_list(
            "video_id", "created_at"
        ):
            rows.append((video_id, weights.get(kind, 0.0), created))
    for video_id, created in Comment.objects.filter(author_id=user_id, created_at__gte=since).values_list(
        "video_id", "created_at"
    ):
        rows.append((video_id, weights.get("comment", 0.0), created))
    views = Event.objects.filter(user_id=user_id, kind=Event.Kind.VIEW, created_at__gte=since,
                                 watch_ratio__gte=COMPLETED_VIEW_RATIO, video__isnull=False)
    for video_id, created in views.values_list("video_id", "created_at"):
        rows.append((video_id, weights.get("view", 1.0), created))
    return rows


def user_profile_refresh(*, user_id: int) -> dict:
    """Recompute the viewer's behaviour interests (``UserInterest`` source=behaviour) and recent list.

    Interest of a tag = sum over engaged videos carrying it (active, usable tags) of event weight x
    tag score, dislikes counting negatively; the top tags are kept, scaled so the strongest is 1.
    Idempotent: running it twice writes the same rows.
    """
    now = timezone.now()
    days = float(getattr(settings, "RECOMMENDER_PROFILE_DAYS", 90))
    rows = _engagements(user_id=user_id, since=now - timedelta(days=days))
    per_video: dict[int, float] = defaultdict(float)
    latest: dict[int, object] = {}
    for video_id, weight, created in rows:
        per_video[video_id] += weight
        if video_id not in latest or created > latest[video_id]:
            latest[video_id] = created
    tag_weight: dict[int, float] = defaultdict(float)
    tags = VideoTag.objects.filter(video_id__in=list(per_video), state=VideoTag.State.ACTIVE,
                                   tag__is_blocked=False, tag__merged_into__isnull=True)
    for video_id, tag_id, score in tags.values_list("video_id", "tag_id", "score"):
        tag_weight[tag_id] += per_video[video_id] * (float(score) if score and score > 0 else 1.0)
    positive = sorted(((t, w) for t, w in tag_weight.items() if w > 0), key=lambda p: -p[1])
    positive = positive[: int(getattr(settings, "RECOMMENDER_PROFILE_MAX_TAGS", 50))]
    top = positive[0][1] if positive else 1.0
    with transaction.atomic():
        UserInterest.objects.filter(user_id=user_id, source=UserInterest.Source.BEHAVIOUR).exclude(
            tag_id__in=[t for t, _ in positive]
        ).delete()
        UserInterest.objects.bulk_create(
            [UserInterest(user_id=user_id, tag_id=t, weight=round(w / top, 4), source=UserInterest.Source.BEHAVIOUR,
                          updated_at=now) for t, w in positive],
            update_conflicts=True,
            unique_fields=["user", "tag", "source"],
            update_fields=["weight", "updated_at"],
        )
    recent = sorted(((v, w) for v, w in per_video.items() if w > 0), key=lambda p: latest[p[0]], reverse=True)
    recent = recent[:RECENT_LIMIT]
    try:
        cache.set(_recent_key(user_id), recent, RECENT_TTL_SECONDS)
    except Exception:
        logger.warning("profile refresh: cache unavailable, recent engagement not stored")
    # What the viewer engaged with (liked, watched, disliked) is never shown to them again.
    from recommender.services.exposure import exposure_add

    exposure_add(user_id=user_id, session_key=None, video_ids=list(per_video))
    # The next feed request ranks afresh with the new interests and recent list (served queue too).
    from recommender.services.feed_queue import feed_plan_invalidate

    feed_plan_invalidate(user_id=user_id)
    return {"tags": len(positive), "recent": len(recent), "engaged_videos": len(per_video),
            "top_tags": list(Tag.objects.filter(id__in=[t for t, _ in positive[:5]]).values_list("name", flat=True))}
