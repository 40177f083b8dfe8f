"""Tagging reads: tags, a video's tags, onboarding groups, interests, the correction audit."""

from __future__ import annotations

from itertools import groupby

from django.db.models import Count, IntegerField, OuterRef, QuerySet, Subquery, Value
from django.db.models.functions import Coalesce
from django.http import Http404

from tagging import extraction
from tagging.models import KeywordEntry, Tag, TagCorrection, UserInterest, VideoTag, ViewerTagVote
from tagging.services.tags import tag_canonical
from videoapp.models import Video


def tag_list(*, q: str = "") -> QuerySet[Tag]:
    """Usable tags, most used first; ``q`` is a prefix of the (normalised) name."""
    qs = Tag.objects.usable()
    prefix = extraction.normalize_tag(q or "")
    if prefix:
        qs = qs.filter(name__startswith=prefix)
    return qs.order_by("-usage_count", "name")


def tag_get_by_name(*, name: str) -> Tag:
    """The canonical tag for a name (merged names lead to their canonical tag); 404 when blocked or unknown."""
    tag = Tag.objects.filter(name=extraction.normalize_tag(name or "")).first()
    if tag is None:
        raise Http404
    tag = tag_canonical(tag=tag)
    if tag.is_blocked:
        raise Http404
    return tag


def tag_video_list(*, tag: Tag) -> QuerySet[Video]:
    """Published public videos on which the tag is active, newest first."""
    return (
        Video.objects.public()
        .filter(video_tags__tag=tag, video_tags__state=VideoTag.State.ACTIVE)
        .select_related("owner")
        .order_by("-published_at", "-pk")
    )


def video_tag_list(*, video: Video, user=None) -> QuerySet[VideoTag]:
    """A video's tags: active ones for everyone, all states for the owner and staff; with viewer votes."""
    votes = (
        ViewerTagVote.objects.filter(video_id=OuterRef("video_id"), tag_id=OuterRef("tag_id"))
        .order_by()
        .values("tag_id")
        .annotate(n=Count("pk"))
        .values("n")
    )
    qs = (
        VideoTag.objects.filter(video=video, tag__is_blocked=False)
        .select_related("tag")
        .annotate(votes=Coalesce(Subquery(votes, output_field=IntegerField()), Value(0)))
        .order_by("-score", "tag__name")
    )
    is_manager = user is not None and user.is_authenticated and (user.is_staff or user.pk == video.owner_id)
    if not is_manager:
        qs = qs.filter(state=VideoTag.State.ACTIVE)
    return qs


def onboarding_tag_groups() -> list[dict]:
    """Tags offered in onboarding grouped by category, in display order."""
    tags = list(Tag.objects.onboarding())
    return [{"category": category, "tags": list(items)} for category, items in groupby(tags, key=lambda t: t.category)]


def user_interest_list(*, user) -> QuerySet[UserInterest]:
    return UserInterest.objects.filter(user=user).select_related("tag").order_by("-weight", "tag__name")


def tag_correction_list(*, action: str = "") -> QuerySet[TagCorrection]:
    qs = TagCorrection.objects.select_related("actor").order_by("-created_at", "-pk")
    if action:
        qs = qs.filter(action=action)
    return qs


def keyword_entry_list(*, kind: str = "", q: str = "") -> QuerySet[KeywordEntry]:
    qs = KeywordEntry.objects.select_related("created_by").order_by("kind", "word")
    if kind:
        qs = qs.filter(kind=kind)
    if q:
        qs = qs.filter(word__startswith=extraction.normalize_tag(q))
    return qs


def video_tag_review_list(*, state: str = VideoTag.State.SUGGESTED, source: str = "") -> QuerySet[VideoTag]:
    """Video tags for staff review (bulk approve / reject), most confident first."""
    qs = VideoTag.objects.filter(state=state, tag__is_blocked=False).select_related("tag", "video", "added_by")
    if source:
        qs = qs.filter(source=source)
    return qs.order_by("-score", "-pk")
