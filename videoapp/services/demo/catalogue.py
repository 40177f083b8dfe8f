"""Uploaders, the tag library, the videos and their tags."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

from django.db.models import F
from tqdm import tqdm

from recommender.kuairec import KuaiVideo
from tagging.models import Tag, VideoTag
from tagging.services import tags as tags_services
from videoapp.models import Profile, Video
from videoapp.services.demo.bulk import KuairecImportResult, chunks, users_ensure
from videoapp.services.demo.tag_plan import TagPlan, plan_tag_library, video_tag_names
from videoapp.services.demo.timeline import publish_times
from videoapp.services.demo.titles import caption_title

UPLOADER_PREFIX = "kuai_official_"
UPLOADER_MISC = f"{UPLOADER_PREFIX}misc"


def _uploader_username(category_id: int | None) -> str:
    return UPLOADER_MISC if category_id is None else f"{UPLOADER_PREFIX}{category_id:02d}"


def _tags_ensure(*, plan: dict[str, TagPlan], batch_size: int) -> tuple[dict[str, int | None], int]:
    """Create the planned tags that do not exist yet; existing tags keep their curation.

    Returns (name -> id of the tag to attach, or None when an admin blocked it; number created).
    """
    names = list(plan)
    existing: set[str] = set()
    for chunk in chunks(names, 900):
        existing.update(Tag.objects.filter(name__in=chunk).values_list("name", flat=True))
    new = [
        Tag(
            name=item.name,
            category=item.category,
            display_order=item.display_order,
            offered_in_onboarding=item.offered_in_onboarding,
        )
        for item in plan.values()
        if item.name not in existing
    ]
    Tag.objects.bulk_create(new, batch_size=batch_size, ignore_conflicts=True)
    resolved: dict[str, int | None] = {}
    for chunk in chunks(names, 900):
        for name, pk, blocked, merged_into in Tag.objects.filter(name__in=chunk).values_list(
            "name", "pk", "is_blocked", "merged_into_id"
        ):
            # A merged tag points at its canonical tag (one level: merges are flattened by tagging).
            resolved[name] = None if blocked else (merged_into or pk)
    return resolved, len(new)


def tag_usage_refresh(*, tag_ids: Iterable[int]) -> None:
    """The tagging service's recount, in chunks (SQLite caps the parameters of one statement)."""
    for chunk in chunks(sorted(set(tag_ids)), 900):
        tags_services.tag_usage_refresh(tag_ids=chunk)


def import_catalogue(
    *, videos: Sequence[KuaiVideo], first_views: dict[int, datetime], now: datetime, batch_size: int,
    progress: bool, result: KuairecImportResult,
) -> dict[int, int]:
    """Uploaders, the tag library, the videos and their tags. Returns KuaiRec video id -> Video id."""
    category_names = {v.category_id: v.category for v in videos}
    uploaders, result.uploaders_created = users_ensure(
        accounts={
            _uploader_username(category_id): {
                "display_name": f"官方·{name or '综合'}",
                "bio": f"KuaiRec 演示数据：{name or '未分类'}视频",
                "onboarding_state": Profile.Onboarding.SKIPPED,
                "external_id": f"kuairec-category:{'none' if category_id is None else category_id}",
            }
            for category_id, name in sorted(category_names.items(), key=lambda item: (item[0] is None, item[0] or 0))
        },
        batch_size=batch_size,
    )

    def video_map() -> dict[int, int]:
        rows = Video.objects.filter(owner_id__in=uploaders.values()).order_by().values_list("external_id", "pk")
        return {int(external): pk for external, pk in rows if external.isdigit()}

    existing = video_map()
    new_videos = [v for v in videos if v.video_id not in existing]
    result.videos_existing = len(videos) - len(new_videos)
    plan = plan_tag_library(videos)
    tag_ids, result.tags_created = _tags_ensure(plan=plan, batch_size=batch_size)
    published = publish_times(video_ids=[v.video_id for v in new_videos], first_views=first_views, now=now)

    bar = tqdm(total=len(new_videos), desc="videos", unit="video", disable=not (progress and new_videos))
    for chunk in chunks(new_videos, batch_size):
        Video.objects.bulk_create(
            [
                Video(
                    owner_id=uploaders[_uploader_username(v.category_id)],
                    title=caption_title(
                        caption=v.caption,
                        cover_text=v.cover_text,
                        hashtags=v.topic_tags,
                        fallback=f"{v.subsubcategory or v.subcategory or v.category or '快手'} · 短视频 {v.video_id}",
                    ),
                    description=v.caption,
                    cover_text=v.cover_text[:200],
                    category=v.category,
                    subcategory=v.subcategory,
                    subsubcategory=v.subsubcategory,
                    external_id=str(v.video_id),
                    status=Video.Status.PUBLISHED,
                    visibility=Video.Visibility.PUBLIC,
                    published_at=published[v.video_id],
                )
                for v in chunk
            ],
            batch_size=batch_size,
        )
        bar.update(len(chunk))
    bar.close()
    result.videos_created = len(new_videos)

    ids = video_map()
    new_pks = [ids[v.video_id] for v in new_videos]
    # ``created_at`` is auto_now_add; an imported video was created when it was published.
    for chunk in chunks(new_pks, 900):
        Video.objects.filter(pk__in=chunk).update(created_at=F("published_at"))

    # Tags only for the videos created now: a re-import never undoes an admin's correction.
    video_tags = []
    for v in new_videos:
        owner_id = uploaders[_uploader_username(v.category_id)]
        attached: set[int] = set()
        for name in video_tag_names(v):
            tag_id = tag_ids.get(name)
            if tag_id is None or tag_id in attached:
                continue
            attached.add(tag_id)
            video_tags.append(
                VideoTag(
                    video_id=ids[v.video_id],
                    tag_id=tag_id,
                    source=VideoTag.Source.UPLOADER,
                    state=VideoTag.State.ACTIVE,
                    score=1.0,
                    added_by_id=owner_id,
                )
            )
    VideoTag.objects.bulk_create(video_tags, batch_size=batch_size, ignore_conflicts=True)
    result.video_tags_created = len(video_tags)
    tag_usage_refresh(tag_ids=[pk for pk in tag_ids.values() if pk is not None])
    return ids
