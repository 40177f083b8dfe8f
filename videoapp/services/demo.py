"""Import the KuaiRec demo catalogue (``demo/kuairec/``) into the site.

What it writes, and why it looks the way it does:

- **Videos** (10,728): caption -> ``title`` (hashtags and @mentions removed, cut at about 60
  characters on a sentence or clause boundary) and ``description`` (the full caption);
  ``manual_cover_text`` -> ``cover_text``; the three-level category -> ``category`` /
  ``subcategory`` / ``subsubcategory``; ``external_id`` = the KuaiRec ``video_id``. Published,
  public, no media file (the site draws a poster from category and cover text).
- **Uploaders**: one generated "official" account per first-level category (``kuai_official_08``
  shown as ``官方·颜值``; ``kuai_official_misc`` for the videos without a category). KuaiRec has no
  author ids, and a per-category channel keeps "follow an uploader" meaningful.
- **Tags**: every ``topic_tag`` hashtag becomes an active uploader tag of its video, and each
  video also carries its first-level category as a tag, so that an onboarding choice such as
  ``美食`` reaches the catalogue through tag recall. New tags seed the personal tag library: the
  usage rank is ``display_order``; a hashtag's ``category`` is the first-level category that holds
  at least half of its uses (blank for diffuse ones); the category tags and the top
  :data:`ONBOARDING_TAGS_PER_CATEGORY` specific hashtags of each category are offered in onboarding.
  Platform boilerplate (``#感谢快手我要上热门``, ``#作品推广``...) is kept as a tag but never offered.
- **Viewers** (1,411, ``kuai_00014``...) with an unusable password and a finished onboarding.
- **Watch log** (117,113 rows) -> ``Event(kind=view)`` with the watch ratio; ``watch_seconds`` stays
  empty (KuaiRec gives no durations). ``event_id`` is a uuid5 of (user, video), so a re-import adds
  nothing.
- **Time**: KuaiRec has no timestamps here. Each viewer's rows keep their file order in time
  inside a per-viewer activity window within the last :data:`EVENT_WINDOW_DAYS` days; videos are
  published over the last :data:`PUBLISH_WINDOW_DAYS` days and always before their first view.
  Everything is derived from a hash of the ids (never ``random``), so two imports agree.

Idempotent: existing rows (matched by uploader + ``external_id``, username, ``event_id``) are left
alone, admin corrections included (a tag an admin blocked is not re-attached; a merged tag
resolves to its canonical tag). No Celery task is queued.
"""

from __future__ import annotations

import csv
import hashlib
import re
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.db import connection, transaction
from django.db.models import Count, F, OuterRef, Subquery, Value
from django.db.models.functions import Coalesce
from django.utils import timezone
from tqdm import tqdm

from tagging.extraction import normalize_tag
from tagging.models import Tag, VideoTag
from videoapp.models import Event, Profile, Video

DEFAULT_PATH = Path(settings.BASE_DIR) / "demo" / "kuairec"
VIDEOS_FILE = "kuairec_caption_category.csv"
WATCH_LOG_FILE = "interactions.csv"

PUBLISH_WINDOW_DAYS = 90
EVENT_WINDOW_DAYS = 60
TITLE_MAX_CHARS = 60

ONBOARDING_TAGS_PER_CATEGORY = 8
# A hashtag is offered in onboarding only when it is specific: used a few times, mostly inside one
# category, short enough for a chip, and not platform boilerplate ("please put me on the hot list").
ONBOARDING_MIN_USES = 3
ONBOARDING_MIN_SHARE = 0.5
ONBOARDING_MAX_CHARS = 8
# Categories holding less than this share of the catalogue (one-off labels) are not offered.
ONBOARDING_MIN_CATEGORY_SHARE = 0.001
NOT_AN_INTEREST = frozenset({"其他"})
PLATFORM_TAG_RE = re.compile(
    "热门|推广|快手|快影|官方|感谢|谢谢|助手|创作者|主播|涨粉|双击|关注|点赞|作品|同城|高清|视频|小黄车|商家号"
)
# A hashtag's library category is the first-level category holding at least this share of its uses.
TAG_CATEGORY_MIN_SHARE = 0.5

UPLOADER_PREFIX = "kuai_official_"
UPLOADER_MISC = f"{UPLOADER_PREFIX}misc"
VIEWER_PREFIX = "kuai_"
EVENT_CONTEXT = {"source": "kuairec"}
# uuid5 namespace of every id derived from KuaiRec; changing it would duplicate a re-import.
KUAIREC_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "https://github.com/chongminggao/KuaiRec")

_MISSING = "UNKNOWN"
# Four captions hold a bare carriage return inside an unquoted field, which ``csv`` rejects; it is
# swapped for this private-use character while parsing and restored as a newline afterwards.
_CR_STANDIN = "\ue000"


# ---------------------------------------------------------------------------------------------
# Reading the files (no database)
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class KuaiVideo:
    video_id: int
    caption: str
    cover_text: str
    topic_tags: tuple[str, ...]
    category_id: int | None
    category: str
    subcategory: str
    subsubcategory: str


@dataclass(frozen=True)
class WatchRecord:
    user_id: int
    video_id: int
    watch_ratio: float


def _category_name(category_id: str, name: str | None) -> str:
    """UNKNOWN names and negative ids both mean "no category"."""
    name = (name or "").strip()
    if not name or name == _MISSING or category_id.strip().startswith("-"):
        return ""
    return name


def parse_topic_tags(value: str) -> list[str]:
    """``[tag1,tag2]`` -> ``["tag1", "tag2"]`` (KuaiRec hashtags never contain a comma)."""
    value = value.strip()
    if value.startswith("[") and value.endswith("]"):
        value = value[1:-1]
    return [item.strip() for item in value.split(",") if item.strip()]


def read_videos(path: Path) -> list[KuaiVideo]:
    """The videos of ``kuairec_caption_category.csv`` in file order."""
    with open(Path(path) / VIDEOS_FILE, encoding="utf-8", newline="") as handle:  # no newline translation
        text = handle.read()
    # Records end with "\n" only; a lone "\r" belongs to a caption.
    lines = (line for line in text.replace("\r\n", "\n").replace("\r", _CR_STANDIN).split("\n") if line)
    videos = []
    for row in csv.DictReader(lines):
        first_id = row["first_level_category_id"]
        category = _category_name(first_id, row["first_level_category_name"])
        cover = row["manual_cover_text"].replace(_CR_STANDIN, " ").strip()
        videos.append(
            KuaiVideo(
                video_id=int(row["video_id"]),
                caption=row["caption"].replace(_CR_STANDIN, "\n").strip(),
                cover_text="" if cover == _MISSING else cover,
                topic_tags=tuple(parse_topic_tags(row["topic_tag"])),
                category_id=int(first_id) if category else None,
                category=category,
                subcategory=_category_name(row["second_level_category_id"], row["second_level_category_name"]),
                subsubcategory=_category_name(row["third_level_category_id"], row["third_level_category_name"]),
            )
        )
    return videos


def read_watch_log(path: Path) -> list[WatchRecord]:
    """The rows of ``interactions.csv`` in file order (grouped by user, each user's rows in order)."""
    with open(Path(path) / WATCH_LOG_FILE, encoding="utf-8", newline="") as handle:
        reader = csv.reader(handle)
        header = next(reader)
        user_col, video_col, ratio_col = (header.index(name) for name in ("user_id", "video_id", "watch_ratio"))
        return [
            WatchRecord(user_id=int(row[user_col]), video_id=int(row[video_col]), watch_ratio=float(row[ratio_col]))
            for row in reader
            if row
        ]


# ---------------------------------------------------------------------------------------------
# Titles
# ---------------------------------------------------------------------------------------------

# Kuaishou mentions carry the account id in parentheses: ``@快手小助手(O40300112)``.
_MENTION_RE = re.compile(r"@[^\s@#]{0,40}?\([A-Za-z]?\d+\)|@[^\s@#，。！？]{1,40}")
# What is left of a mention whose name held a space: ``heben(O580319244)``.
_ACCOUNT_ID_RE = re.compile(r"\S{0,40}\([A-Za-z]\d{5,}\)|@(?=\s|$)")
# A Kuaishou hashtag runs to the next whitespace or ``#``; Weibo style closes it with ``#`` (``#话题# ``).
_HASHTAG = r"(?>#+[^\s#]*(?:#(?=\s|$))?)"  # atomic: "###" never backtracks into 2^n splits
_LEADING_TAGS_RE = re.compile(rf"^(?:\s*{_HASHTAG})+")
_TRAILING_TAGS_RE = re.compile(rf"(?:{_HASHTAG}\s*)+$")
_TAG_RUN_RE = re.compile(rf"(?:{_HASHTAG}\s*){{2,}}")
_INLINE_TAG_RE = re.compile(r"#+([^\s#]+)(?:#(?=\s|$))?")
_SPACE_RE = re.compile(r"[\s\u00a0\u3000\u200b-\u200f\ufeff]+")
_WORD_RE = re.compile(r"\w")
_SENTENCE_END = "。！？!?；;…~～"
_CLAUSE_END = "，,、：: "


def _clean_caption(caption: str) -> str:
    text = caption.replace("＃", "#")
    text = _MENTION_RE.sub(" ", text)
    text = _ACCOUNT_ID_RE.sub(" ", text)
    text = _SPACE_RE.sub(" ", text).strip()
    text = _LEADING_TAGS_RE.sub("", text)
    text = _TRAILING_TAGS_RE.sub("", text)
    # A run of hashtags mid-caption is a tag block; a single specific hashtag inside a sentence is a
    # word of it (keep the word, drop the marker); platform boilerplate is never part of a title.
    text = _TAG_RUN_RE.sub(" ", text)
    text = _INLINE_TAG_RE.sub(lambda m: " " if PLATFORM_TAG_RE.search(m.group(1)) else m.group(1), text)
    text = text.replace("#", " ")
    return _SPACE_RE.sub(" ", text).strip()


def _cut(text: str, limit: int) -> str:
    """At most ``limit`` characters, cut after the last sentence or clause end that keeps a
    reasonable length; a cut that is not at a sentence end gets an ellipsis."""
    if len(text) <= limit:
        return text
    head = text[:limit]
    floor = limit // 3
    for ends, ellipsis in ((_SENTENCE_END, ""), (_CLAUSE_END, "…")):
        position = max(head.rfind(char) for char in ends)
        if position >= floor:
            return head[: position + 1].rstrip(_CLAUSE_END) + ellipsis
    return head[: limit - 1].rstrip() + "…"


def caption_title(*, caption: str, cover_text: str = "", hashtags: Sequence[str] = (), fallback: str) -> str:
    """A display title for a KuaiRec caption: hashtags and mentions removed, about
    :data:`TITLE_MAX_CHARS` characters. When no words are left (an empty or hashtag-only caption):
    the cover text, else the caption's specific hashtags (platform boilerplate skipped), else ``fallback``."""
    specific = " ".join(tag for tag in hashtags if not PLATFORM_TAG_RE.search(tag))
    for candidate in (_clean_caption(caption), _SPACE_RE.sub(" ", cover_text).strip(), specific):
        if _WORD_RE.search(candidate):
            return _cut(candidate, TITLE_MAX_CHARS)
    return _cut(fallback, TITLE_MAX_CHARS)


# ---------------------------------------------------------------------------------------------
# Deterministic spreading in time
# ---------------------------------------------------------------------------------------------


def unit_hash(key: str) -> float:
    """A stable pseudo-random number in [0, 1) for ``key`` (the same in every process)."""
    digest = hashlib.blake2b(key.encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64


def watch_times(*, records: Sequence[WatchRecord], now: datetime) -> list[datetime]:
    """A timestamp for each watch record, aligned with ``records``.

    Each user gets an activity window inside the last :data:`EVENT_WINDOW_DAYS` days (starting in
    its first half, running at least half of what is left); their rows fill it in file order with a
    jitter smaller than one slot, so the order of a user's rows is their order in time.
    """
    window = timedelta(days=EVENT_WINDOW_DAYS)
    origin = now - window
    by_user: dict[int, list[int]] = defaultdict(list)
    for index, record in enumerate(records):
        by_user[record.user_id].append(index)
    times: list[datetime] = [origin] * len(records)
    for user_id, indexes in by_user.items():
        start = 0.45 * unit_hash(f"window-start:{user_id}")
        end = start + (1.0 - start) * (0.5 + 0.5 * unit_hash(f"window-end:{user_id}"))
        slot = (end - start) / len(indexes)
        for position, index in enumerate(indexes):
            jitter = unit_hash(f"watch:{user_id}:{records[index].video_id}")
            fraction = start + slot * (position + jitter)
            times[index] = (origin + window * fraction).replace(microsecond=0)
    return times


def publish_times(
    *, video_ids: Iterable[int], first_views: dict[int, datetime], now: datetime
) -> dict[int, datetime]:
    """When each video was published: spread over the last :data:`PUBLISH_WINDOW_DAYS` days,
    and 1-48 hours before its first view when it has one."""
    window = timedelta(days=PUBLISH_WINDOW_DAYS)
    result = {}
    for video_id in video_ids:
        published = now - window * unit_hash(f"publish:{video_id}")
        first_view = first_views.get(video_id)
        if first_view is not None and published >= first_view - timedelta(hours=1):
            published = first_view - timedelta(hours=1 + 47 * unit_hash(f"lead:{video_id}"))
        result[video_id] = published.replace(microsecond=0)
    return result


def watch_event_id(*, user_id: int, video_id: int) -> uuid.UUID:
    """The stable ``Event.event_id`` of KuaiRec user ``user_id`` watching ``video_id``."""
    return uuid.uuid5(KUAIREC_NAMESPACE, f"view:{user_id}:{video_id}")


# ---------------------------------------------------------------------------------------------
# The tag library plan (no database)
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TagPlan:
    name: str
    category: str
    usage: int
    display_order: int
    offered_in_onboarding: bool


def video_tag_names(video: KuaiVideo) -> list[str]:
    """The normalised tags of a video: its hashtags, then its first-level category."""
    names: list[str] = []
    for raw in (*video.topic_tags, video.category):
        # Cut to the column, then normalise again: a cut can leave a trailing space.
        name = normalize_tag(normalize_tag(raw)[: Tag._meta.get_field("name").max_length])
        if name and name not in names:
            names.append(name)
    return names


def plan_tag_library(videos: Sequence[KuaiVideo]) -> dict[str, TagPlan]:
    """The personal tag library seeded from the catalogue, most used first (see module docstring)."""
    category_tags = {normalize_tag(v.category): v.category for v in videos if v.category}
    category_sizes = Counter(v.category for v in videos if v.category)
    uses: dict[str, Counter] = defaultdict(Counter)
    for video in videos:
        for name in video_tag_names(video):
            uses[name][video.category] += 1
    usage = {name: sum(counter.values()) for name, counter in uses.items()}

    categories: dict[str, str] = {}
    eligible: dict[str, list[str]] = defaultdict(list)
    for name, counter in uses.items():
        if name in category_tags:
            categories[name] = category_tags[name]
            continue
        top_category, top_uses = max(counter.items(), key=lambda item: (item[1], item[0]))
        share = top_uses / usage[name]
        categories[name] = top_category if top_category and share >= TAG_CATEGORY_MIN_SHARE else ""
        if (
            categories[name]
            and usage[name] >= ONBOARDING_MIN_USES
            and share >= ONBOARDING_MIN_SHARE
            and 2 <= len(name) <= ONBOARDING_MAX_CHARS
            and not PLATFORM_TAG_RE.search(name)
        ):
            eligible[categories[name]].append(name)

    onboarding = set()
    for name, category in category_tags.items():
        large_enough = category_sizes[category] >= ONBOARDING_MIN_CATEGORY_SHARE * len(videos)
        if large_enough and category not in NOT_AN_INTEREST:
            onboarding.add(name)
            ranked = sorted(eligible[category], key=lambda tag: (-usage[tag], tag))
            onboarding.update(ranked[:ONBOARDING_TAGS_PER_CATEGORY])

    ranked_names = sorted(usage, key=lambda tag: (-usage[tag], tag))
    return {
        name: TagPlan(
            name=name,
            category=categories[name],
            usage=usage[name],
            display_order=rank,
            offered_in_onboarding=name in onboarding,
        )
        for rank, name in enumerate(ranked_names, start=1)
    }


# ---------------------------------------------------------------------------------------------
# Writing (services)
# ---------------------------------------------------------------------------------------------


@dataclass
class KuairecImportResult:
    videos_created: int = 0
    videos_existing: int = 0
    tags_created: int = 0
    video_tags_created: int = 0
    uploaders_created: int = 0
    users_created: int = 0
    users_existing: int = 0
    events_created: int = 0
    events_existing: int = 0
    events_skipped: int = 0
    seconds: float = 0.0

    def summary(self) -> str:
        return (
            f"videos: {self.videos_created} created, {self.videos_existing} existing; "
            f"tags: {self.tags_created} created, video tags: {self.video_tags_created} created; "
            f"viewers: {self.users_created} created, {self.users_existing} existing; "
            f"view events: {self.events_created} created, {self.events_existing} existing"
            + (f", {self.events_skipped} skipped (video not in the catalogue)" if self.events_skipped else "")
            + "; "
            f"{self.seconds:.1f} s"
        )


def _chunks(items: Sequence, size: int) -> Iterator[Sequence]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


@contextmanager
def _sqlite_large_cache(pages_kib: int = 256 * 1024) -> Iterator[None]:
    """A bigger SQLite page cache while bulk-inserting: the index on the random ``event_id`` uuids
    soon outgrows SQLite's 2 MB default cache. No-op on other databases."""
    if connection.vendor != "sqlite":
        yield
        return
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA cache_size")
        (previous,) = cursor.fetchone()
        cursor.execute(f"PRAGMA cache_size = -{int(pages_kib)}")
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute(f"PRAGMA cache_size = {int(previous)}")


def _uploader_username(category_id: int | None) -> str:
    return UPLOADER_MISC if category_id is None else f"{UPLOADER_PREFIX}{category_id:02d}"


def viewer_username(user_id: int) -> str:
    return f"{VIEWER_PREFIX}{user_id:05d}"


def _users_ensure(*, accounts: dict[str, dict], batch_size: int) -> tuple[dict[str, int], int]:
    """Create the missing accounts (unusable password) and their profiles.

    ``accounts`` maps username -> Profile field values. Returns (username -> user id, number created).
    """
    user_model = get_user_model()
    usernames = list(accounts)
    existing: set[str] = set()
    for chunk in _chunks(usernames, 900):
        existing.update(user_model.objects.filter(username__in=chunk).values_list("username", flat=True))
    missing = [name for name in usernames if name not in existing]
    user_model.objects.bulk_create(
        [user_model(username=name, password=make_password(None)) for name in missing],
        batch_size=batch_size,
        ignore_conflicts=True,
    )
    ids: dict[str, int] = {}
    for chunk in _chunks(usernames, 900):
        ids.update(user_model.objects.filter(username__in=chunk).values_list("username", "pk"))
    with_profile: set[int] = set()
    for chunk in _chunks(list(ids.values()), 900):
        with_profile.update(Profile.objects.filter(user_id__in=chunk).values_list("user_id", flat=True))
    Profile.objects.bulk_create(
        [Profile(user_id=ids[name], **accounts[name]) for name in usernames if ids[name] not in with_profile],
        batch_size=batch_size,
        ignore_conflicts=True,
    )
    return ids, len(missing)


def _tags_ensure(*, plan: dict[str, TagPlan], batch_size: int) -> tuple[dict[str, int | None], int]:
    """Create the planned tags that do not exist yet; existing tags keep their curation.

    Returns (name -> id of the tag to attach, or None when an admin blocked it; number created).
    """
    names = list(plan)
    existing: set[str] = set()
    for chunk in _chunks(names, 900):
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
    for chunk in _chunks(names, 900):
        for name, pk, blocked, merged_into in Tag.objects.filter(name__in=chunk).values_list(
            "name", "pk", "is_blocked", "merged_into_id"
        ):
            # A merged tag points at its canonical tag (one level: merges are flattened by tagging).
            resolved[name] = None if blocked else (merged_into or pk)
    return resolved, len(new)


def tag_usage_refresh(*, tag_ids: Iterable[int]) -> None:
    """Set ``Tag.usage_count`` to the number of active video tags, in the database."""
    active = (
        VideoTag.objects.filter(tag=OuterRef("pk"), state=VideoTag.State.ACTIVE)
        .order_by()
        .values("tag")
        .annotate(n=Count("pk"))
        .values("n")
    )
    for chunk in _chunks(sorted(set(tag_ids)), 900):
        Tag.objects.filter(pk__in=chunk).update(usage_count=Coalesce(Subquery(active), Value(0)))


def _import_catalogue(
    *, videos: Sequence[KuaiVideo], first_views: dict[int, datetime], now: datetime, batch_size: int,
    progress: bool, result: KuairecImportResult,
) -> dict[int, int]:
    """Uploaders, the tag library, the videos and their tags. Returns KuaiRec video id -> Video id."""
    category_names = {v.category_id: v.category for v in videos}
    uploaders, result.uploaders_created = _users_ensure(
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
    for chunk in _chunks(new_videos, batch_size):
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
    for chunk in _chunks(new_pks, 900):
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


def _import_watch_log(
    *, records: Sequence[WatchRecord], times: Sequence[datetime], video_ids: dict[int, int], batch_size: int,
    with_events: bool, progress: bool, result: KuairecImportResult,
) -> None:
    user_ids = list(dict.fromkeys(record.user_id for record in records))
    with transaction.atomic():
        accounts, result.users_created = _users_ensure(
            accounts={
                viewer_username(user_id): {
                    "display_name": f"快手用户{user_id}",
                    "onboarding_state": Profile.Onboarding.DONE,
                    "external_id": str(user_id),
                }
                for user_id in user_ids
            },
            batch_size=batch_size,
        )
    result.users_existing = len(user_ids) - result.users_created
    if not with_events:
        return

    pks = [accounts[viewer_username(user_id)] for user_id in user_ids]
    existing: set[uuid.UUID] = set()
    for chunk in _chunks(pks, 500):
        existing.update(
            Event.objects.filter(user_id__in=chunk, kind=Event.Kind.VIEW).values_list("event_id", flat=True)
        )
    todo = []
    for record, created_at in zip(records, times, strict=True):
        event_id = watch_event_id(user_id=record.user_id, video_id=record.video_id)
        if record.video_id not in video_ids:
            result.events_skipped += 1
        elif event_id in existing:
            result.events_existing += 1
        else:
            todo.append((record, created_at, event_id))

    bar = tqdm(total=len(todo), desc="view events", unit="event", disable=not (progress and todo))
    # The cache setting wraps the transaction so that its reset never runs inside a failed atomic block.
    with _sqlite_large_cache(), transaction.atomic():
        for chunk in _chunks(todo, batch_size):
            Event.objects.bulk_create(
                [
                    Event(
                        user_id=accounts[viewer_username(record.user_id)],
                        video_id=video_ids[record.video_id],
                        kind=Event.Kind.VIEW,
                        watch_ratio=record.watch_ratio,
                        watch_seconds=None,
                        context=EVENT_CONTEXT,
                        event_id=event_id,
                        created_at=created_at,
                    )
                    for record, created_at, event_id in chunk
                ],
                batch_size=batch_size,
                ignore_conflicts=True,
            )
            bar.update(len(chunk))
    bar.close()
    result.events_created = len(todo)


def kuairec_import(
    *,
    path: Path | str | None = None,
    limit_users: int | None = None,
    with_events: bool = True,
    now: datetime | None = None,
    progress: bool = False,
    batch_size: int = 2000,
) -> KuairecImportResult:
    """Import the KuaiRec catalogue, viewers and watch log from ``path`` (default ``demo/kuairec``).

    ``limit_users`` keeps the first N viewers of the watch log (file order) and their rows;
    ``with_events=False`` creates the viewers but no view events. Safe to run again: only what is
    missing is added. ``now`` anchors the generated timestamps (default: the current time).
    """
    started = time.monotonic()
    path = Path(path) if path is not None else DEFAULT_PATH
    now = now or timezone.now().replace(microsecond=0)
    result = KuairecImportResult()

    videos = read_videos(path)
    records = read_watch_log(path)
    # Publication dates depend on the whole log, so --limit-users never changes a video.
    all_times = watch_times(records=records, now=now)
    first_views: dict[int, datetime] = {}
    for record, created_at in zip(records, all_times, strict=True):
        if record.video_id not in first_views or created_at < first_views[record.video_id]:
            first_views[record.video_id] = created_at

    with transaction.atomic():
        video_ids = _import_catalogue(
            videos=videos, first_views=first_views, now=now, batch_size=batch_size, progress=progress, result=result
        )

    if limit_users is not None:
        kept = set(list(dict.fromkeys(record.user_id for record in records))[: max(limit_users, 0)])
        selected = [(r, t) for r, t in zip(records, all_times, strict=True) if r.user_id in kept]
        records = [r for r, _ in selected]
        all_times = [t for _, t in selected]
    if records:
        _import_watch_log(
            records=records, times=all_times, video_ids=video_ids, batch_size=batch_size,
            with_events=with_events, progress=progress, result=result,
        )
    result.seconds = time.monotonic() - started
    return result
