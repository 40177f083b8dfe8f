"""Staff tag correction (后台校正): every function is one transaction and writes one ``TagCorrection``.

Semantics (see docs/tagging.md):
- rename: the tag keeps its rows; a name another tag already has is refused (merge instead).
- merge: video tags, viewer votes and interests move to the canonical tag; duplicates collapse
  (a video keeps the strongest state and the higher score, interest weights add up); merged tags keep
  ``merged_into`` (chains are flattened) and become synonyms in the keyword library.
- block: video tags, votes and interests of the tag are deleted; the tag and everything merged into it
  is never suggested or accepted again (``is_blocked`` plus a blocked word in the keyword library).
- approve / reject: suggested (or any) video tags change state in bulk.
- add / remove on videos: admin tags are active; removal marks rows rejected so extraction does not
  bring them back.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Count
from django.utils.translation import gettext as _

from recommender.services.feed_queue import servable_refresh_on_commit
from tagging import extraction
from tagging.models import KeywordEntry, Tag, TagCorrection, UserInterest, VideoTag, ViewerTagVote
from tagging.services import library as library_services
from tagging.services.tags import TAG_NAME_MAX, tag_canonical, tag_usage_refresh, tags_resolve, video_tags_suggest
from videoapp.models import Video

STATE_RANK = {VideoTag.State.REJECTED: 0, VideoTag.State.SUGGESTED: 1, VideoTag.State.ACTIVE: 2}
MAX_BULK_VIDEOS = 500


def _record(*, actor, action: str, target: str, before: dict, after: dict, rows_changed: int) -> TagCorrection:
    return TagCorrection.objects.create(
        actor=actor, action=action, target=target[:200], before=before, after=after, rows_changed=rows_changed
    )


def _tag_summary(tag: Tag) -> dict:
    return {
        "id": tag.pk,
        "name": tag.name,
        "video_tags": VideoTag.objects.filter(tag=tag).count(),
        "interests": UserInterest.objects.filter(tag=tag).count(),
        "is_blocked": tag.is_blocked,
        "merged_into": tag.merged_into_id,
    }


def _refuse_merged(tag: Tag) -> None:
    # A merged tag has no rows of its own and its word is a synonym: act on the canonical tag instead.
    if tag.merged_into_id is not None:
        raise ValidationError(
            {"tag": [_("标签“%(name)s”已合并到“%(target)s”，请对后者操作。")
                     % {"name": tag.name, "target": tag.merged_into.name}]}
        )


def tag_rename(*, tag: Tag, name: str, actor) -> TagCorrection:
    new_name = extraction.normalize_tag(name or "")
    if not new_name or len(new_name) > TAG_NAME_MAX:
        raise ValidationError({"name": [_("标签名无效。")]})
    with transaction.atomic():
        tag = Tag.objects.select_for_update().get(pk=tag.pk)
        _refuse_merged(tag)
        if new_name == tag.name:
            raise ValidationError({"name": [_("新名称与原名称相同。")]})
        if Tag.objects.filter(name=new_name).exists():
            raise ValidationError({"name": [_("标签“%(name)s”已存在，请使用合并。") % {"name": new_name}]})
        old_name = tag.name
        tag.name = new_name
        tag.save(update_fields=["name"])
        # The old word keeps turning up in text: extraction maps it to the new name from now on.
        rows = 1 + KeywordEntry.objects.filter(kind=KeywordEntry.Kind.SYNONYM, canonical=old_name).update(
            canonical=new_name
        )
        KeywordEntry.objects.filter(kind=KeywordEntry.Kind.SYNONYM, word=new_name).delete()
        KeywordEntry.objects.update_or_create(
            word=old_name, kind=KeywordEntry.Kind.SYNONYM, defaults={"canonical": new_name, "created_by": actor}
        )
        library_services.library_version_bump()
        return _record(
            actor=actor, action=TagCorrection.Action.RENAME, target=f"tag:{tag.pk}",
            before={"name": old_name}, after={"name": new_name}, rows_changed=rows,
        )


def tag_merge(*, sources: Sequence[Tag], target: Tag, actor) -> TagCorrection:
    """Merge ``sources`` into ``target`` (followed to its canonical tag); see the module docstring."""
    with transaction.atomic():
        target = tag_canonical(tag=Tag.objects.select_for_update().get(pk=target.pk))
        if target.is_blocked:
            raise ValidationError({"target": [_("不能合并到已屏蔽的标签。")]})
        source_ids = sorted({tag_canonical(tag=s).pk for s in sources} - {target.pk})
        if not source_ids:
            raise ValidationError({"sources": [_("请选择要合并的其他标签。")]})
        source_tags = list(Tag.objects.select_for_update().filter(pk__in=source_ids).order_by("pk"))
        before = {"sources": [_tag_summary(t) for t in source_tags], "target": _tag_summary(target)}
        rows = 0
        for source in source_tags:
            rows += _merge_video_tags(source=source, target=target)
            rows += _merge_votes(source=source, target=target)
            rows += _merge_interests(source=source, target=target)
        # Flatten: whatever pointed at a source now points at the canonical tag.
        rows += Tag.objects.filter(merged_into_id__in=source_ids).update(merged_into=target)
        rows += Tag.objects.filter(pk__in=source_ids).update(merged_into=target, offered_in_onboarding=False)
        # Future extraction writes the canonical word directly.
        for source in source_tags:
            KeywordEntry.objects.update_or_create(
                word=source.name, kind=KeywordEntry.Kind.SYNONYM,
                defaults={"canonical": target.name, "created_by": actor},
            )
        library_services.library_version_bump()
        tag_usage_refresh(tag_ids=[*source_ids, target.pk])
        target.refresh_from_db()
        return _record(
            actor=actor, action=TagCorrection.Action.MERGE,
            target=f"{','.join(t.name for t in source_tags)} -> {target.name}",
            before=before, after={"target": _tag_summary(target)}, rows_changed=rows,
        )


def _merge_video_tags(*, source: Tag, target: Tag) -> int:
    rows = 0
    shared = VideoTag.objects.filter(tag=source).values("video_id")
    target_rows = {vt.video_id: vt for vt in VideoTag.objects.filter(tag=target, video_id__in=shared)}
    updated = []
    for vt in VideoTag.objects.filter(tag=source, video_id__in=list(target_rows)):
        keep = target_rows[vt.video_id]
        if STATE_RANK[vt.state] > STATE_RANK[keep.state]:
            keep.state, keep.source = vt.state, vt.source
        keep.score = max(keep.score, vt.score)
        updated.append(keep)
    if updated:
        VideoTag.objects.bulk_update(updated, ["state", "source", "score"])
        rows += len(updated)
        rows += VideoTag.objects.filter(tag=source, video_id__in=list(target_rows)).delete()[0]
    rows += VideoTag.objects.filter(tag=source).update(tag=target)
    return rows


def _merge_votes(*, source: Tag, target: Tag) -> int:
    target_pairs = set(ViewerTagVote.objects.filter(tag=target).values_list("video_id", "user_id"))
    duplicates = [
        pk
        for pk, video_id, user_id in ViewerTagVote.objects.filter(tag=source).values_list("pk", "video_id", "user_id")
        if (video_id, user_id) in target_pairs
    ]
    removed = ViewerTagVote.objects.filter(pk__in=duplicates).delete()[0] if duplicates else 0
    return removed + ViewerTagVote.objects.filter(tag=source).update(tag=target)


def _merge_interests(*, source: Tag, target: Tag) -> int:
    rows = 0
    existing = {
        (ui.user_id, ui.source): ui
        for ui in UserInterest.objects.filter(
            tag=target, user_id__in=UserInterest.objects.filter(tag=source).values("user_id")
        )
    }
    updated, collapsed = [], []
    for ui in UserInterest.objects.filter(tag=source):
        keep = existing.get((ui.user_id, ui.source))
        if keep is not None:
            keep.weight += ui.weight
            updated.append(keep)
            collapsed.append(ui.pk)
    if updated:
        UserInterest.objects.bulk_update(updated, ["weight"])
        rows += len(updated) + UserInterest.objects.filter(pk__in=collapsed).delete()[0]
    rows += UserInterest.objects.filter(tag=source).update(tag=target)
    return rows


def tag_block(*, tag: Tag, actor) -> TagCorrection:
    """Remove the tag everywhere and make sure it is never suggested or accepted again."""
    with transaction.atomic():
        tag = Tag.objects.select_for_update().get(pk=tag.pk)
        _refuse_merged(tag)
        before = _tag_summary(tag)
        family = [tag.pk, *Tag.objects.filter(merged_into=tag).values_list("pk", flat=True)]
        tagged = list(VideoTag.objects.filter(tag_id__in=family).values_list("video_id", flat=True).distinct())
        servable_refresh_on_commit(video_ids=tagged)
        rows = VideoTag.objects.filter(tag_id__in=family).delete()[0]
        rows += ViewerTagVote.objects.filter(tag_id__in=family).delete()[0]
        rows += UserInterest.objects.filter(tag_id__in=family).delete()[0]
        rows += Tag.objects.filter(pk=tag.pk).update(is_blocked=True, offered_in_onboarding=False, usage_count=0)
        names = list(Tag.objects.filter(pk__in=family).values_list("name", flat=True))
        for name in names:
            KeywordEntry.objects.get_or_create(
                word=name, kind=KeywordEntry.Kind.BLOCKED, defaults={"created_by": actor}
            )
        library_services.library_version_bump()
        tag.refresh_from_db()
        return _record(
            actor=actor, action=TagCorrection.Action.BLOCK, target=tag.name,
            before=before, after={**_tag_summary(tag), "blocked_words": names}, rows_changed=rows,
        )


def _state_counts(qs) -> dict:
    return {row["state"]: row["n"] for row in qs.order_by().values("state").annotate(n=Count("pk"))}


def video_tags_set_state(*, video_tag_ids: Iterable[int], state: str, actor) -> TagCorrection:
    """Approve (``active``) or reject (``rejected``) video tags in bulk."""
    ids = sorted({int(i) for i in video_tag_ids})
    if not ids:
        raise ValidationError({"ids": [_("请选择视频标签。")]})
    action = TagCorrection.Action.APPROVE if state == VideoTag.State.ACTIVE else TagCorrection.Action.REJECT
    with transaction.atomic():
        qs = VideoTag.objects.select_for_update().filter(pk__in=ids).exclude(tag__is_blocked=True)
        found = list(qs.values_list("pk", "tag_id"))
        missing = sorted(set(ids) - {pk for pk, _t in found})
        if missing:
            raise ValidationError({"ids": [_("找不到这些视频标签：%(ids)s") % {"ids": missing}]})
        before = _state_counts(VideoTag.objects.filter(pk__in=ids))
        rows = VideoTag.objects.filter(pk__in=ids).exclude(state=state).update(state=state)
        tag_usage_refresh(tag_ids={t for _pk, t in found})
        return _record(
            actor=actor, action=action, target=f"video_tags:{len(ids)}",
            before={"states": before, "ids": ids}, after={"states": {state: len(ids)}}, rows_changed=rows,
        )


def _videos(video_ids: Iterable[int]) -> list[int]:
    ids = sorted({int(i) for i in video_ids})
    if not ids:
        raise ValidationError({"video_ids": [_("请选择视频。")]})
    if len(ids) > MAX_BULK_VIDEOS:
        raise ValidationError({"video_ids": [_("一次最多 %(n)s 个视频。") % {"n": MAX_BULK_VIDEOS}]})
    found = set(Video.objects.filter(pk__in=ids).values_list("pk", flat=True))
    missing = sorted(set(ids) - found)
    if missing:
        raise ValidationError({"video_ids": [_("找不到这些视频：%(ids)s") % {"ids": missing}]})
    return ids


def video_tags_admin_add(*, video_ids: Iterable[int], names: Sequence[str], actor) -> TagCorrection:
    """Staff add tags to one or many videos: active ``admin`` tags (existing rows become active)."""
    ids = _videos(video_ids)
    resolution = tags_resolve(refs=list(names), create=True)
    resolution.raise_if_invalid()
    if not resolution.tags:
        raise ValidationError({"tags": [_("请输入标签。")]})
    with transaction.atomic():
        tag_ids = [t.pk for t in resolution.tags]
        existing = VideoTag.objects.filter(video_id__in=ids, tag_id__in=tag_ids)
        before = _state_counts(existing)
        have = set(existing.values_list("video_id", "tag_id"))
        rows = existing.exclude(state=VideoTag.State.ACTIVE).update(
            state=VideoTag.State.ACTIVE, source=VideoTag.Source.ADMIN, added_by=actor
        )
        new = [
            VideoTag(video_id=v, tag_id=t, source=VideoTag.Source.ADMIN, state=VideoTag.State.ACTIVE,
                     score=1.0, added_by=actor)
            for v in ids for t in tag_ids if (v, t) not in have
        ]
        VideoTag.objects.bulk_create(new)
        rows += len(new)
        tag_usage_refresh(tag_ids=tag_ids)
        return _record(
            actor=actor, action=TagCorrection.Action.ADD, target=",".join(t.name for t in resolution.tags),
            before={"video_ids": ids, "states": before}, after={"tags": [t.name for t in resolution.tags]},
            rows_changed=rows,
        )


def video_tags_admin_remove(*, video_ids: Iterable[int], names: Sequence[str], actor) -> TagCorrection:
    """Staff remove tags from videos: rows become ``rejected`` admin rows, so re-extraction keeps them off."""
    ids = _videos(video_ids)
    normalised = [extraction.normalize_tag(str(n)) for n in names]
    tags = list(Tag.objects.filter(name__in=[n for n in normalised if n]))
    missing = sorted(set(n for n in normalised) - {t.name for t in tags})
    if missing or not tags:
        raise ValidationError(
            {"tags": [_("未知的标签：%(names)s") % {"names": "、".join(missing)}], "invalid_tags": missing}
        )
    with transaction.atomic():
        qs = VideoTag.objects.filter(video_id__in=ids, tag__in=tags)
        before = _state_counts(qs)
        rows = qs.exclude(state=VideoTag.State.REJECTED).update(
            state=VideoTag.State.REJECTED, source=VideoTag.Source.ADMIN, added_by=actor
        )
        tag_usage_refresh(tag_ids=[t.pk for t in tags])
        return _record(
            actor=actor, action=TagCorrection.Action.REMOVE, target=",".join(t.name for t in tags),
            before={"video_ids": ids, "states": before}, after={"states": {VideoTag.State.REJECTED: rows}},
            rows_changed=rows,
        )


def keyword_correction_add(*, word: str, kind: str, canonical: str = "", actor) -> TagCorrection:
    with transaction.atomic():
        entry = library_services.keyword_entry_create(word=word, kind=kind, canonical=canonical, created_by=actor)
        return _record(
            actor=actor, action=TagCorrection.Action.KEYWORD, target=f"{entry.kind}:{entry.word}",
            before={}, after={"id": entry.pk, "word": entry.word, "kind": entry.kind, "canonical": entry.canonical},
            rows_changed=1,
        )


def keyword_correction_update(
    *, entry: KeywordEntry, word: str, kind: str, canonical: str = "", actor
) -> TagCorrection:
    with transaction.atomic():
        before = {"word": entry.word, "kind": entry.kind, "canonical": entry.canonical}
        entry = library_services.keyword_entry_update(entry=entry, word=word, kind=kind, canonical=canonical)
        return _record(
            actor=actor, action=TagCorrection.Action.KEYWORD, target=f"{entry.kind}:{entry.word}",
            before=before, after={"word": entry.word, "kind": entry.kind, "canonical": entry.canonical},
            rows_changed=1,
        )


def keyword_correction_delete(*, entry: KeywordEntry, actor) -> TagCorrection:
    with transaction.atomic():
        before = {"id": entry.pk, "word": entry.word, "kind": entry.kind, "canonical": entry.canonical}
        library_services.keyword_entry_delete(entry=entry)
        return _record(
            actor=actor, action=TagCorrection.Action.KEYWORD, target=f"{before['kind']}:{before['word']}",
            before=before, after={"deleted": True}, rows_changed=1,
        )


def videos_reextract(*, video_ids: Iterable[int], actor) -> TagCorrection:
    """Re-run suggestion for chosen videos now (with the current keyword library and IDF)."""
    ids = _videos(video_ids)
    totals = {"uploader": 0, "suggested": 0, "withdrawn": 0}
    with transaction.atomic():
        for video in Video.objects.filter(pk__in=ids):
            for key, value in video_tags_suggest(video=video).items():
                totals[key] += value
        return _record(
            actor=actor, action=TagCorrection.Action.REEXTRACT, target=f"videos:{len(ids)}",
            before={"video_ids": ids}, after=totals, rows_changed=sum(totals.values()),
        )
