"""Reads for social actions: visible videos, comment threads, per-video counts and the viewer's marks."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.db.models import Count, IntegerField, Max, OuterRef, Prefetch, QuerySet, Subquery
from django.db.models.functions import Coalesce
from django.http import Http404
from django.utils.translation import gettext as _

from videoapp.models import Comment, Dislike, Favourite, Follow, Like, Video


def count_subquery(*, queryset: QuerySet, outer_field: str = "video") -> Coalesce:
    """``COUNT(*)`` of ``queryset`` rows whose ``outer_field`` is the outer row, as a correlated subquery.

    Subqueries instead of ``Count`` over joins: several counts on one list would multiply the joined rows.
    """
    counted = (
        queryset.filter(**{outer_field: OuterRef("pk")})
        .order_by()
        .values(outer_field)
        .annotate(n=Count("pk"))
        .values("n")
    )
    return Coalesce(Subquery(counted, output_field=IntegerField()), 0)


def video_annotate_counts(*, queryset: QuerySet[Video]) -> QuerySet[Video]:
    """Add ``like_count``, ``favourite_count`` and ``comment_count`` to each video, in the same query."""
    return queryset.select_related("owner__profile").annotate(
        like_count=count_subquery(queryset=Like.objects.all()),
        favourite_count=count_subquery(queryset=Favourite.objects.all()),
        comment_count=count_subquery(queryset=Comment.objects.all()),
    )


def video_get_visible(*, video_id: int, user: AbstractBaseUser | None) -> Video:
    """The video if ``user`` may see it; a 404 otherwise (a private video's existence is not revealed)."""
    video = Video.objects.visible_to(user).select_related("owner").filter(pk=video_id).first()
    if video is None:
        raise Http404(_("视频不存在或无权查看。"))
    return video


def comment_list(*, video: Video) -> QuerySet[Comment]:
    """Top-level comments of a video, newest first, each with its replies (oldest first) prefetched.

    Three queries for any page size: comments, replies, and (in pagination) the count.
    """
    replies = Comment.objects.select_related("author__profile").order_by("created_at", "pk")
    return (
        Comment.objects.filter(video=video, parent__isnull=True)
        .select_related("author__profile")
        .prefetch_related(Prefetch("replies", queryset=replies))
        .annotate(reply_count=Count("replies"))
        .order_by("-created_at", "-pk")
    )


def comment_get(*, comment_id: int, video: Video | None = None) -> Comment:
    queryset = Comment.objects.select_related("video", "author")
    if video is not None:
        queryset = queryset.filter(video=video)
    comment = queryset.filter(pk=comment_id).first()
    if comment is None:
        raise Http404(_("评论不存在。"))
    return comment


def video_social_state(*, video: Video, user: AbstractBaseUser | None) -> dict[str, Any]:
    """Counts of a video's likes, favourites and comments, and the viewer's own marks on it."""
    counts = video_annotate_counts(queryset=Video.objects.filter(pk=video.pk)).values(
        "like_count", "favourite_count", "comment_count"
    )[0]
    is_user = user is not None and user.is_authenticated
    return {
        **counts,
        "liked": is_user and Like.objects.filter(user=user, video=video).exists(),
        "favourited": is_user and Favourite.objects.filter(user=user, video=video).exists(),
        "disliked": is_user and Dislike.objects.filter(user=user, video=video).exists(),
        "following_owner": is_user and Follow.objects.filter(follower=user, followee_id=video.owner_id).exists(),
    }


def favourite_video_list(*, user: AbstractBaseUser) -> QuerySet[Video]:
    """The videos ``user`` favourited and may still see, most recently favourited first."""
    queryset = (
        Video.objects.visible_to(user)
        .filter(favourites__user=user)
        .annotate(favourited_at=Max("favourites__created_at"))
        .order_by("-favourited_at", "-pk")
    )
    return video_annotate_counts(queryset=queryset)
