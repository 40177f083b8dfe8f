"""Tags and video tags: resolve names, suggest from text, uploader confirmation, viewer votes, usage counts."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Count, IntegerField, OuterRef, Q, Subquery, Value
from django.db.models.functions import Coalesce
from django.utils.translation import gettext as _

from tagging import extraction
from tagging.models import Tag, VideoTag, ViewerTagVote
from tagging.services.library import extractor_get, library_get
from videoapp.models import Video

# How many keywords a video gets as suggestions (hashtags come on top of these).
SUGGEST_KEYWORDS = 8
MAX_MERGE_HOPS = 16
TAG_NAME_MAX = Tag._meta.get_field("name").max_length


class TagResolution:
    """Result of resolving names: the tags found (canonical, unique, in order) and the names refused."""

    def __init__(self) -> None:
        self.tags: list[Tag] = []
        self.invalid: list[str] = []

    def raise_if_invalid(self, *, field: str = "tags") -> None:
        if self.invalid:
            raise ValidationError(
                {
                    field: [_("未知或已屏蔽的标签：%(names)s") % {"names": "、".join(self.invalid)}],
                    "invalid_tags": list(self.invalid),
                }
            )


def tag_canonical(*, tag: Tag) -> Tag:
    """Follow ``merged_into`` to the canonical tag (merges flatten chains, the loop is a safety net)."""
    seen = {tag.pk}
    while tag.merged_into_id is not None and len(seen) < MAX_MERGE_HOPS:
        tag = Tag.objects.get(pk=tag.merged_into_id)
        if tag.pk in seen:
            break
        seen.add(tag.pk)
    return tag


def tags_resolve(*, refs: Iterable[str | int], create: bool) -> TagResolution:
    """Turn tag names (or ids) into canonical usable tags.

    Names are normalised, mapped through the keyword library's synonyms and followed through merges.
    Blocked tags, blocked words and unknown ids are refused; unknown names are created when ``create``.
    """
    library = library_get()
    result = TagResolution()
    seen: set[int] = set()
    for ref in refs:
        tag: Tag | None = None
        label = str(ref)
        if isinstance(ref, int) and not isinstance(ref, bool):
            tag = Tag.objects.filter(pk=ref).first()
        else:
            name = library.canonical(extraction.normalize_tag(label))
            if not name or len(name) > TAG_NAME_MAX or name in library.blocked:
                result.invalid.append(label)
                continue
            tag = Tag.objects.filter(name=name).first()
            if tag is None and create:
                tag, _created = _tag_get_or_create(name=name)
        if tag is None:
            result.invalid.append(label)
            continue
        tag = tag_canonical(tag=tag)
        if tag.is_blocked or tag.name in library.blocked:
            result.invalid.append(label)
            continue
        if tag.pk not in seen:
            seen.add(tag.pk)
            result.tags.append(tag)
    return result


def _tag_get_or_create(*, name: str) -> tuple[Tag, bool]:
    try:
        with transaction.atomic():
            return Tag.objects.get_or_create(name=name)
    except IntegrityError:  # created concurrently
        return Tag.objects.get(name=name), False


def tag_usage_refresh(*, tag_ids: Iterable[int] | None = None) -> int:
    """Recount ``usage_count`` (active video tags) in the database for these tags (all when None)."""
    active = (
        VideoTag.objects.filter(tag=OuterRef("pk"), state=VideoTag.State.ACTIVE)
        .order_by()
        .values("tag")
        .annotate(n=Count("pk"))
        .values("n")
    )
    qs = Tag.objects.all()
    if tag_ids is not None:
        ids = {int(i) for i in tag_ids}
        if not ids:
            return 0
        qs = qs.filter(pk__in=ids)
    return qs.update(usage_count=Coalesce(Subquery(active, output_field=IntegerField()), Value(0)))


# --- suggestion from text ----------------------------------------------------------------------


def _blocked_names(names: Iterable[str]) -> set[str]:
    return set(Tag.objects.filter(name__in=set(names), is_blocked=True).values_list("name", flat=True))


def video_tags_suggest(*, video: Video, k: int = SUGGEST_KEYWORDS) -> dict[str, int]:
    """Suggest tags from a video's title and description; idempotent.

    Hashtags in the uploader's own text become active uploader tags; keywords become
    ``extracted``/``suggested`` video tags with their score. Suggestions that the new text no longer
    yields are withdrawn (only while still ``suggested`` and ``extracted``); tags someone rejected stay
    rejected, blocked tags are never suggested.
    """
    extractor = extractor_get()
    title, description = video.title or "", video.description or ""
    hashtags: list[str] = []
    for tag in extractor.hashtags(title) + extractor.hashtags(description):
        if tag not in hashtags and len(tag) <= TAG_NAME_MAX:
            hashtags.append(tag)
    keywords = [
        (word, score)
        for word, score in extractor.extract(text=description, title=title, k=k)
        if len(word) <= TAG_NAME_MAX and word not in hashtags
    ]
    counts = {"uploader": 0, "suggested": 0, "withdrawn": 0}
    with transaction.atomic():
        # Lock the video row: two runs for the same video (publish + edit) apply one after the other.
        Video.objects.select_for_update().filter(pk=video.pk).first()
        blocked = _blocked_names([*hashtags, *(w for w, _s in keywords)])
        wanted: dict[int, tuple[Tag, str, float]] = {}
        for name in hashtags:
            if name not in blocked:
                tag = tag_canonical(tag=_tag_get_or_create(name=name)[0])
                if not tag.is_blocked:
                    wanted.setdefault(tag.pk, (tag, VideoTag.Source.UPLOADER, 1.0))
        for name, score in keywords:
            if name not in blocked:
                tag = tag_canonical(tag=_tag_get_or_create(name=name)[0])
                if not tag.is_blocked:
                    wanted.setdefault(tag.pk, (tag, VideoTag.Source.EXTRACTED, float(score)))
        existing = {vt.tag_id: vt for vt in VideoTag.objects.filter(video=video)}
        touched: set[int] = set()
        for tag_id, (tag, source, score) in wanted.items():
            row = existing.get(tag_id)
            if source == VideoTag.Source.UPLOADER:
                if row is None:
                    VideoTag.objects.create(
                        video=video, tag=tag, source=source, state=VideoTag.State.ACTIVE, score=1.0,
                        added_by_id=video.owner_id,
                    )
                    counts["uploader"] += 1
                    touched.add(tag_id)
                elif row.state == VideoTag.State.SUGGESTED:
                    # The uploader wrote it as a hashtag: that is their confirmation.
                    row.source, row.state, row.score = source, VideoTag.State.ACTIVE, 1.0
                    row.added_by_id = video.owner_id
                    row.save(update_fields=["source", "state", "score", "added_by", "updated_at"])
                    counts["uploader"] += 1
                    touched.add(tag_id)
            elif row is None:
                VideoTag.objects.create(
                    video=video, tag=tag, source=source, state=VideoTag.State.SUGGESTED, score=score
                )
                counts["suggested"] += 1
            elif (
                row.source == VideoTag.Source.EXTRACTED
                and row.state == VideoTag.State.SUGGESTED
                and abs(row.score - score) > 1e-9
            ):
                row.score = score
                row.save(update_fields=["score", "updated_at"])
        withdrawn = VideoTag.objects.filter(
            video=video, source=VideoTag.Source.EXTRACTED, state=VideoTag.State.SUGGESTED
        ).exclude(tag_id__in=list(wanted))
        counts["withdrawn"] = withdrawn.delete()[0]
        if touched:
            tag_usage_refresh(tag_ids=touched)
    return counts


# --- uploader confirmation ----------------------------------------------------------------------


def video_tags_confirm(
    *, video: Video, user, accept: Sequence[str] = (), reject: Sequence[str] = (), add: Sequence[str] = ()
) -> None:
    """The uploader accepts or rejects suggestions and adds tags of their own (one transaction).

    ``accept``/``reject`` name tags the video already has (any state); unknown names are a 400.
    Tags added by staff cannot be rejected here (the back office owns them).
    """
    with transaction.atomic():
        rows = {vt.tag.name: vt for vt in VideoTag.objects.select_related("tag").filter(video=video)}
        library = library_get()

        def lookup(names: Sequence[str]) -> tuple[list[VideoTag], list[str]]:
            found, missing = [], []
            for raw in names:
                name = extraction.normalize_tag(str(raw))
                row = rows.get(name) or rows.get(library.canonical(name))
                (found.append(row) if row is not None else missing.append(str(raw)))
            return found, missing

        accepted, missing_a = lookup(accept)
        rejected, missing_r = lookup(reject)
        missing = missing_a + missing_r
        if missing:
            raise ValidationError(
                {
                    "tags": [_("该视频没有这些标签：%(names)s") % {"names": "、".join(missing)}],
                    "invalid_tags": missing,
                }
            )
        both = {vt.pk for vt in accepted} & {vt.pk for vt in rejected}
        if both:
            raise ValidationError({"tags": [_("同一个标签不能同时接受和拒绝。")]})
        if any(vt.source == VideoTag.Source.ADMIN for vt in rejected):
            raise ValidationError({"reject": [_("管理员添加的标签只能由管理员移除。")]})
        added = tags_resolve(refs=list(add), create=True)
        added.raise_if_invalid(field="add")
        touched: set[int] = set()
        for vt in accepted:
            if vt.state != VideoTag.State.ACTIVE:
                vt.state, vt.added_by = VideoTag.State.ACTIVE, vt.added_by or user
                vt.save(update_fields=["state", "added_by", "updated_at"])
                touched.add(vt.tag_id)
        for vt in rejected:
            if vt.state != VideoTag.State.REJECTED:
                vt.state = VideoTag.State.REJECTED
                vt.save(update_fields=["state", "updated_at"])
                touched.add(vt.tag_id)
        for tag in added.tags:
            row = VideoTag.objects.filter(video=video, tag=tag).first()
            if row is None:
                VideoTag.objects.create(
                    video=video, tag=tag, source=VideoTag.Source.UPLOADER, state=VideoTag.State.ACTIVE,
                    score=1.0, added_by=user,
                )
                touched.add(tag.pk)
            elif row.state != VideoTag.State.ACTIVE:
                row.state, row.source, row.added_by = VideoTag.State.ACTIVE, VideoTag.Source.UPLOADER, user
                row.save(update_fields=["state", "source", "added_by", "updated_at"])
                touched.add(tag.pk)
        tag_usage_refresh(tag_ids=touched)


# --- viewers ------------------------------------------------------------------------------------


def video_tags_viewer_add(*, video: Video, user, names: Sequence[str]) -> list[VideoTag]:
    """A viewer proposes tags; each becomes active once ``VIEWER_TAG_ACTIVATION_COUNT`` distinct viewers did.

    The owner's own additions are uploader tags and active at once. A tag someone rejected stays
    rejected (the vote is still recorded so an admin sees the demand).
    """
    if video.owner_id == user.pk:
        video_tags_confirm(video=video, user=user, add=names)
        return list(VideoTag.objects.filter(video=video, tag__name__in=[extraction.normalize_tag(n) for n in names]))
    resolution = tags_resolve(refs=list(names), create=True)
    resolution.raise_if_invalid()
    needed = max(int(settings.VIEWER_TAG_ACTIVATION_COUNT), 1)
    rows: list[VideoTag] = []
    touched: set[int] = set()
    with transaction.atomic():
        for tag in resolution.tags:
            ViewerTagVote.objects.get_or_create(video=video, tag=tag, user=user)
            row, _created = VideoTag.objects.get_or_create(
                video=video, tag=tag,
                defaults={"source": VideoTag.Source.VIEWER, "state": VideoTag.State.SUGGESTED, "added_by": user},
            )
            row = VideoTag.objects.select_for_update().get(pk=row.pk)
            if row.state == VideoTag.State.SUGGESTED:
                votes = ViewerTagVote.objects.filter(video=video, tag=tag).count()
                if votes >= needed:
                    row.state = VideoTag.State.ACTIVE
                    row.save(update_fields=["state", "updated_at"])
                    touched.add(tag.pk)
            rows.append(row)
        tag_usage_refresh(tag_ids=touched)
    return rows


# --- the personal tag library --------------------------------------------------------------------


def tag_library_seed(*, per_category: int = 12) -> int:
    """Offer tags in onboarding from the catalogue: each video category as a tag, then the category's
    most used active tags (uploader hashtags of the demo catalogue), most used first.

    Safe to re-run: tags staff already categorised keep their category, display order is recomputed.
    Returns the number of tags offered.
    """
    offered = 0
    with transaction.atomic():
        tag_usage_refresh()
        categories = list(
            Video.objects.published()
            .exclude(category="")
            .values("category")
            .annotate(n=Count("pk"))
            .order_by("-n", "category")
            .values_list("category", flat=True)
        )
        for category in categories:
            name = extraction.normalize_tag(category)
            if not name:
                continue
            head, _created = _tag_get_or_create(name=name)
            head = tag_canonical(tag=head)
            if head.is_blocked:
                continue
            Tag.objects.filter(pk=head.pk).update(
                category=head.category or category, offered_in_onboarding=True, display_order=0
            )
            offered += 1
            top = (
                Tag.objects.usable()
                .exclude(pk=head.pk)
                .filter(
                    video_tags__state=VideoTag.State.ACTIVE,
                    video_tags__video__category=category,
                    video_tags__video__status=Video.Status.PUBLISHED,
                )
                .filter(Q(category="") | Q(category=category))
                .annotate(n=Count("video_tags"))
                .order_by("-n", "name")
                .values_list("pk", flat=True)[:per_category]
            )
            for order, tag_id in enumerate(list(top), start=1):
                Tag.objects.filter(pk=tag_id).update(category=category, offered_in_onboarding=True, display_order=order)
                offered += 1
    return offered
