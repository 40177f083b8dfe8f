"""Reads for videos: the public list with filters and counts, one video for a viewer, its media files."""

from __future__ import annotations

from pathlib import Path

from django.conf import settings
from django.core.files.storage import default_storage
from django.db.models import F, FloatField, Q, QuerySet
from django.db.models.functions import Cast
from django.http import Http404
from django.utils.translation import gettext as _

from videoapp.models import Event, Video
from videoapp.selectors.social import count_subquery, video_annotate_counts

ORDERINGS = ("newest", "popular")


def video_list(
    *,
    user=None,
    owner_id: int | None = None,
    category: str = "",
    q: str = "",
    ordering: str = "newest",
    mine: bool = False,
) -> QuerySet[Video]:
    """Published public videos (or, with ``mine``, all of ``user``'s own), filtered, with counts.

    ``popular`` ranks by the engagement weights of ``settings.EVENT_WEIGHTS`` (views, likes,
    favourites, comments), then newest first. One query per page plus the count.
    """
    if mine and user is not None and user.is_authenticated:
        queryset = Video.objects.filter(owner=user)
    else:
        queryset = Video.objects.public()
    if owner_id is not None:
        queryset = queryset.filter(owner_id=owner_id)
    if category:
        queryset = queryset.filter(Q(category=category) | Q(subcategory=category) | Q(subsubcategory=category))
    if q:
        queryset = queryset.filter(Q(title__icontains=q) | Q(description__icontains=q) | Q(cover_text__icontains=q))
    queryset = video_annotate_counts(queryset=queryset).annotate(
        view_count=count_subquery(queryset=Event.objects.filter(kind=Event.Kind.VIEW))
    )
    if ordering == "popular":
        weights = settings.EVENT_WEIGHTS
        score = (
            Cast(F("view_count"), FloatField()) * weights.get("view", 1.0)
            + F("like_count") * weights.get("like", 1.0)
            + F("favourite_count") * weights.get("favourite", 1.0)
            + F("comment_count") * weights.get("comment", 1.0)
        )
        return queryset.annotate(popularity=score).order_by("-popularity", "-published_at", "-pk")
    if mine:
        return queryset.order_by("-created_at", "-pk")
    return queryset.order_by("-published_at", "-pk")


def video_get_for_viewer(*, video_id: int, user=None) -> Video:
    """One video with counts, if ``user`` may open it; 404 otherwise (private ones are not revealed).

    Owners and staff also see their processing and failed videos.
    """
    queryset = video_annotate_counts(queryset=Video.objects.visible_to(user)).annotate(
        view_count=count_subquery(queryset=Event.objects.filter(kind=Event.Kind.VIEW))
    )
    video = queryset.filter(pk=video_id).first()
    if video is None:
        raise Http404(_("视频不存在或无权查看。"))
    return video


def video_get_editable(*, video_id: int, user) -> Video:
    """The video for an edit or delete: 404 when ``user`` cannot see it (the caller checks ownership)."""
    video = Video.objects.visible_to(user).select_related("owner").filter(pk=video_id).first()
    if video is None:
        raise Http404(_("视频不存在或无权查看。"))
    return video


def video_playable_path(*, video: Video) -> Path | None:
    """The local path of the web-playable file, or None when the video has none (e.g. imported demo videos)."""
    if not video.playable or video.status != Video.Status.PUBLISHED:
        return None
    path = Path(default_storage.path(video.playable.name))
    return path if path.is_file() else None


def video_poster_path(*, video: Video) -> Path | None:
    if not video.poster:
        return None
    path = Path(default_storage.path(video.poster.name))
    return path if path.is_file() else None


# A small palette of saturated, readable backgrounds; a category always gets the same one.
_POSTER_COLOURS = (
    "#c0392b", "#d35400", "#b9770e", "#1e8449", "#117a65", "#1f618d", "#6c3483", "#a93226",
    "#2e4053", "#7d3c98", "#148f77", "#b03a2e",
)


def _wrap(text: str, *, width: int, lines: int) -> list[str]:
    """Cut text into lines of ``width`` characters (CJK has no spaces to break at); ellipsis when cut."""
    text = " ".join(text.split())
    chunks = [text[i : i + width] for i in range(0, len(text), width)] or [""]
    if len(chunks) > lines:
        chunks = chunks[:lines]
        chunks[-1] = chunks[-1][: width - 1] + "…"
    return chunks


def video_poster_svg(*, video: Video) -> str:
    """A generated poster for a video without a picture: category colour, category name, cover text.

    Every piece of text is XML-escaped: titles and cover texts are user content.
    """
    from xml.sax.saxutils import escape
    from zlib import crc32

    category = video.category or _("视频")
    colour = _POSTER_COLOURS[crc32(category.encode("utf-8")) % len(_POSTER_COLOURS)]
    text = video.cover_text or video.title or ""
    lines = _wrap(text, width=12, lines=4)
    top = 180 - (len(lines) - 1) * 26
    tspans = "".join(
        f'<tspan x="320" y="{top + i * 52}">{escape(line)}</tspan>' for i, line in enumerate(lines)
    )
    path = " / ".join(escape(part) for part in (video.category, video.subcategory) if part) or escape(category)
    font = "'PingFang SC','Noto Sans CJK SC','Microsoft YaHei','Source Han Sans SC',sans-serif"
    return (
        '<svg xmlns="http://www.w3.org/2000/svg" width="640" height="360" viewBox="0 0 640 360">'
        f'<rect width="640" height="360" fill="{colour}"/>'
        '<rect width="640" height="360" fill="url(#g)"/>'
        '<defs><linearGradient id="g" x1="0" y1="0" x2="0" y2="1">'
        '<stop offset="0" stop-color="#000" stop-opacity="0"/><stop offset="1" stop-color="#000" stop-opacity=".35"/>'
        "</linearGradient></defs>"
        f'<text x="24" y="44" font-family="{font}" font-size="22" fill="#fff" fill-opacity=".85">{path}</text>'
        f'<text text-anchor="middle" font-family="{font}" font-size="40" font-weight="bold" fill="#fff">'
        f"{tspans}</text>"
        "</svg>"
    )
