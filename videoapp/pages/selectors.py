"""Reads the site pages need and no other module offers: cards, the following feed, search, dashboard figures.

Cards are plain dicts shaped like ``recommender.selectors.video_cards`` so that one template renders a card
whatever list it came from (feed, hot, search, tag, profile, history).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import jieba
from django.contrib.auth.models import AbstractBaseUser
from django.db import connection
from django.db.models import Case, Count, F, FloatField, Q, QuerySet, TextField, Value, When
from django.db.models.functions import Coalesce
from django.utils import timezone

from tagging import extraction
from tagging.models import Tag, VideoTag
from videoapp.models import Event, Follow, Video
from videoapp.selectors.social import video_annotate_counts
from videoapp.services.media import seconds_label

SEARCH_MAX_TERMS = 8
_WORD_RE = re.compile(r"^[0-9a-z\u3400-\u4dbf\u4e00-\u9fff][0-9a-z\u3400-\u4dbf\u4e00-\u9fff+#.\-]*$")
_CJK_RE = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff]")


def video_card(video: Video) -> dict[str, Any]:
    """The card of a video annotated by ``video_annotate_counts`` (no query per card)."""
    owner = video.owner
    profile = getattr(owner, "profile", None)
    return {
        "id": video.pk,
        "title": video.title,
        "poster_url": f"/api/v1/videos/{video.pk}/poster",
        "owner": {
            "id": owner.pk,
            "username": owner.get_username(),
            "display_name": (profile.display_name if profile else "") or owner.get_username(),
        },
        "category": video.category,
        "duration_seconds": video.duration_seconds,
        "duration_label": seconds_label(video.duration_seconds),
        "published_at": video.published_at.isoformat() if video.published_at else None,
        "counts": {
            "likes": getattr(video, "like_count", 0),
            "favourites": getattr(video, "favourite_count", 0),
            "comments": getattr(video, "comment_count", 0),
        },
        "status": video.status,
    }


def video_cards_of(videos) -> list[dict[str, Any]]:
    return [video_card(video) for video in videos]


def following_video_list(*, user: AbstractBaseUser) -> QuerySet[Video]:
    """Public uploads of the accounts ``user`` follows, newest first (a stable order: pages never repeat)."""
    followees = Follow.objects.filter(follower=user).values("followee_id")
    queryset = Video.objects.public().filter(owner_id__in=followees)
    return video_annotate_counts(queryset=queryset).order_by("-published_at", "-pk")


def uploader_video_list(*, owner: AbstractBaseUser, viewer: AbstractBaseUser | None) -> QuerySet[Video]:
    """An uploader's public videos; the uploader (and staff) also see their unlisted, private and unfinished ones."""
    if viewer is not None and viewer.is_authenticated and (viewer.pk == owner.pk or viewer.is_staff):
        queryset = Video.objects.filter(owner=owner)
    else:
        queryset = Video.objects.public().filter(owner=owner)
    return video_annotate_counts(queryset=queryset).order_by("-created_at", "-pk")


def tag_video_cards(*, tag: Tag) -> QuerySet[Video]:
    queryset = Video.objects.public().filter(video_tags__tag=tag, video_tags__state=VideoTag.State.ACTIVE)
    return video_annotate_counts(queryset=queryset).order_by("-published_at", "-pk")


def video_active_tags(*, video_ids: list[int]) -> dict[int, list[str]]:
    """Active, unblocked tag names per video, best first (one query)."""
    tags: dict[int, list[str]] = {}
    rows = (
        VideoTag.objects.filter(video_id__in=video_ids, state=VideoTag.State.ACTIVE, tag__is_blocked=False)
        .order_by("video_id", "-score", "tag__name")
        .values_list("video_id", "tag__name")
    )
    for video_id, name in rows:
        tags.setdefault(video_id, []).append(name)
    return tags


# --- search -------------------------------------------------------------------------------------------


def search_terms(*, q: str) -> list[str]:
    """The query cut by jieba's search mode into words worth matching (stop words and punctuation dropped).

    A query of one short word is kept whole even when it is a stop word: the viewer typed it on purpose.
    """
    text = extraction.normalize_text(q or "").strip()
    if not text:
        return []
    stop = extraction.default_stop_words()
    terms: list[str] = []
    for token in jieba.cut_for_search(text):
        token = token.strip()
        if not token or not _WORD_RE.match(token) or token in stop or token in terms:
            continue
        # Single CJK characters match almost everything; keep them only when nothing longer was found.
        terms.append(token)
    longer = [t for t in terms if not (len(t) == 1 and _CJK_RE.match(t))]
    terms = longer or terms
    if not terms and _WORD_RE.match(text.replace(" ", "")):
        terms = [text.replace(" ", "")]
    return terms[:SEARCH_MAX_TERMS]


def _tsquery_term(term: str) -> str:
    """One term as a ``to_tsquery('simple', ...)`` expression over the character-split document.

    The document has a space around every CJK character, so a Chinese word is the phrase of its
    characters (``红 <-> 烧 <-> 肉``); Latin words and numbers stay whole and match as prefixes.
    """
    parts: list[str] = []
    buffer = ""
    for char in term:
        if _CJK_RE.match(char):
            if buffer:
                parts.append(buffer)
                buffer = ""
            parts.append(char)
        elif char.isalnum():
            buffer += char
        else:  # punctuation inside a token (c++, node.js) is not in the 'simple' lexemes either
            if buffer:
                parts.append(buffer)
                buffer = ""
    if buffer:
        parts.append(buffer)
    if not parts:
        return ""
    if len(parts) == 1 and not _CJK_RE.match(parts[0]):
        return f"{parts[0]}:*"
    return "(" + " <-> ".join(parts) + ")"


@dataclass
class SearchResult:
    videos: QuerySet[Video]
    terms: list[str]
    engine: str  # "postgresql" (full-text) or "icontains"


def video_search(*, q: str) -> SearchResult:
    """Public videos whose title, description or active tags match the jieba-segmented query, best first.

    On PostgreSQL: full-text search with the ``simple`` configuration over title (weight A), tags (A)
    and description (B), CJK characters split into single lexemes so that a segmented word is a phrase
    query; ranked by ``ts_rank``. On SQLite: ``icontains`` per term, ranked by the number of fields
    and terms that match.
    """
    terms = search_terms(q=q)
    base = Video.objects.public()
    if not terms:
        return SearchResult(videos=video_annotate_counts(queryset=base.none()), terms=[], engine="none")
    tag_names = [extraction.normalize_tag(term) for term in terms]
    tagged = VideoTag.objects.filter(
        tag__name__in=tag_names, state=VideoTag.State.ACTIVE, tag__is_blocked=False
    ).values("video_id")
    if connection.vendor == "postgresql":
        from django.contrib.postgres.search import SearchQuery, SearchRank, SearchVector
        from django.db.models import Func

        def split_cjk(expression):
            # ' \1 ' around every CJK character: the 'simple' parser then makes each one a lexeme.
            return Func(
                Coalesce(expression, Value(""), output_field=TextField()), Value("([\u3400-\u4dbf\u4e00-\u9fff])"),
                Value(r" \1 "), Value("g"), function="regexp_replace", output_field=TextField(),
            )

        vector = SearchVector(split_cjk(F("title")), config="simple", weight="A") + SearchVector(
            split_cjk(F("description")), config="simple", weight="B"
        )
        raw = " | ".join(filter(None, (_tsquery_term(term) for term in terms)))
        query = SearchQuery(raw, config="simple", search_type="raw")
        videos = (
            base.annotate(search=vector)
            .filter(Q(search=query) | Q(pk__in=tagged))
            .annotate(rank=SearchRank(vector, query) + Case(
                When(pk__in=tagged, then=Value(0.5)), default=Value(0.0), output_field=FloatField()
            ))
        )
        engine = "postgresql"
    else:
        condition = Q(pk__in=tagged)
        score = Value(0.0, output_field=FloatField())
        for term in terms:
            in_title, in_description = Q(title__icontains=term), Q(description__icontains=term)
            condition |= in_title | in_description
            score = score + Case(When(in_title, then=Value(2.0)), default=Value(0.0), output_field=FloatField())
            score = score + Case(
                When(in_description, then=Value(1.0)), default=Value(0.0), output_field=FloatField()
            )
        score = score + Case(When(pk__in=tagged, then=Value(2.0)), default=Value(0.0), output_field=FloatField())
        videos = base.filter(condition).annotate(rank=score)
        engine = "icontains"
    videos = video_annotate_counts(queryset=videos).order_by("-rank", "-published_at", "-pk")
    return SearchResult(videos=videos, terms=terms, engine=engine)


def tag_search(*, terms: list[str], limit: int = 12) -> list[Tag]:
    names = [extraction.normalize_tag(term) for term in terms if term]
    if not names:
        return []
    query = Q()
    for name in names:
        query |= Q(name__startswith=name)
    return list(Tag.objects.usable().filter(query).order_by("-usage_count", "name")[:limit])


# --- my pages -----------------------------------------------------------------------------------------


def history_video_list(*, user: AbstractBaseUser, limit: int = 100) -> list[Video]:
    """Videos ``user`` watched, most recent first, with ``last_viewed_at`` (two queries)."""
    from videoapp.selectors.events import video_list_by_ids, viewed_video_history

    rows = list(viewed_video_history(user=user)[:limit])
    videos = video_list_by_ids(video_ids=[row["video_id"] for row in rows])
    last = {row["video_id"]: row["last_viewed_at"] for row in rows}
    for video in videos:
        video.last_viewed_at = last[video.pk]
    return videos


# --- back office --------------------------------------------------------------------------------------


def channel_funnel(*, since: datetime) -> list[dict[str, Any]]:
    """Impressions, clicks (views that came from a recommendation) and click-through rate per channel.

    A click is a view event whose context names the channel it was recommended by (the watch page
    carries the channel of the card the viewer opened). Two grouped queries.
    """
    from django.db.models.fields.json import KeyTextTransform

    impressions = dict(
        Event.objects.filter(kind=Event.Kind.IMPRESSION, created_at__gte=since)
        .annotate(channel=KeyTextTransform("channel", "context"))
        .values_list("channel")
        .annotate(n=Count("pk"))
        .values_list("channel", "n")
    )
    clicks = dict(
        Event.objects.filter(kind=Event.Kind.VIEW, created_at__gte=since, context__has_key="channel")
        .annotate(channel=KeyTextTransform("channel", "context"))
        .values_list("channel")
        .annotate(n=Count("pk"))
        .values_list("channel", "n")
    )
    total = sum(impressions.values()) or 0
    rows = []
    for channel in sorted(set(impressions) | set(clicks), key=lambda c: -(impressions.get(c) or 0)):
        shown = impressions.get(channel) or 0
        clicked = clicks.get(channel) or 0
        rows.append({
            "channel": channel or "-",
            "impressions": shown,
            "share": (shown / total) if total else 0.0,
            "clicks": clicked,
            "ctr": (clicked / shown) if shown else None,
        })
    return rows


def catalogue_coverage(*, since: datetime) -> dict[str, Any]:
    """How much of the servable catalogue was recommended (impressed) and watched since ``since``."""
    servable = Video.objects.public().count()
    shown = (
        Event.objects.filter(kind=Event.Kind.IMPRESSION, created_at__gte=since).values("video_id").distinct().count()
    )
    watched = Event.objects.filter(kind=Event.Kind.VIEW, created_at__gte=since).values("video_id").distinct().count()
    return {
        "servable": servable,
        "shown": shown,
        "watched": watched,
        "shown_ratio": shown / servable if servable else 0.0,
        "watched_ratio": watched / servable if servable else 0.0,
    }


def daily_impressions(*, since: datetime) -> list[dict[str, Any]]:
    """Impressions and views per day since ``since`` (for the trend chart)."""
    from django.db.models.functions import TruncDate

    rows = (
        Event.objects.filter(kind__in=[Event.Kind.IMPRESSION, Event.Kind.VIEW], created_at__gte=since)
        .annotate(day=TruncDate("created_at"))
        .values("day", "kind")
        .annotate(n=Count("pk"))
        .order_by("day")
    )
    days: dict[Any, dict[str, Any]] = {}
    for row in rows:
        entry = days.setdefault(row["day"], {"day": row["day"], "impression": 0, "view": 0})
        entry[row["kind"]] = row["n"]
    return list(days.values())


def offline_metrics_history(*, limit: int = 30) -> list[dict[str, Any]]:
    """Offline metrics recorded by job runs (``stats["metrics"] = {channel: {metric: value}}``), oldest first,
    and the fit time per channel of each rebuild (always recorded)."""
    from recommender.records import JobRun

    # The newest ``limit`` runs of each job: the hourly rebuilds would otherwise push the daily
    # offline evaluation (recommender.offline_evaluate) out of the window.
    succeeded = JobRun.objects.filter(status=JobRun.Status.SUCCEEDED).order_by("-started_at")
    runs = sorted(
        (run for job in ("interactions_rebuild", "model_train", "offline_evaluate")
         for run in succeeded.filter(job=job)[:limit]),
        key=lambda run: (run.started_at, run.pk),
    )
    history = []
    for run in runs:
        stats = run.stats or {}
        history.append({
            "run": run,
            "metrics": stats.get("metrics") if isinstance(stats.get("metrics"), dict) else {},
            "fit_seconds": stats.get("fit_seconds") if isinstance(stats.get("fit_seconds"), dict) else (
                {"tf": stats["fit_seconds"]} if isinstance(stats.get("fit_seconds"), int | float) else {}
            ),
        })
    return history


def dashboard_since(*, days: int) -> datetime:
    return timezone.now() - timedelta(days=days)
