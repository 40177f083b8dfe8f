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

Modules: ``files`` (where the KuaiRec files are, reading them; the side-information CSV goes
through :mod:`recommender.kuairec`, shared with the offline evaluation), ``titles``, ``timeline``
(generated times and event ids), ``tag_plan`` (the tag library plan), ``bulk`` (bulk-writing
helpers, the import result), ``catalogue`` (uploaders, tags, videos), ``viewers`` (viewers, view
events), ``importer`` (:func:`kuairec_import`). Every public name is re-exported here.
"""

from videoapp.services.demo.bulk import KuairecImportResult
from videoapp.services.demo.catalogue import UPLOADER_MISC, UPLOADER_PREFIX, tag_usage_refresh
from videoapp.services.demo.files import (
    DEFAULT_PATH,
    VIDEOS_FILE,
    WATCH_LOG_FILE,
    KuaiVideo,
    WatchRecord,
    parse_topic_tags,
    read_videos,
    read_watch_log,
)
from videoapp.services.demo.importer import kuairec_import
from videoapp.services.demo.tag_plan import (
    NOT_AN_INTEREST,
    ONBOARDING_MAX_CHARS,
    ONBOARDING_MIN_CATEGORY_SHARE,
    ONBOARDING_MIN_SHARE,
    ONBOARDING_MIN_USES,
    ONBOARDING_TAGS_PER_CATEGORY,
    PLATFORM_TAG_RE,
    TAG_CATEGORY_MIN_SHARE,
    TagPlan,
    plan_tag_library,
    video_tag_names,
)
from videoapp.services.demo.timeline import (
    EVENT_WINDOW_DAYS,
    KUAIREC_NAMESPACE,
    PUBLISH_WINDOW_DAYS,
    publish_times,
    unit_hash,
    watch_event_id,
    watch_times,
)
from videoapp.services.demo.titles import TITLE_MAX_CHARS, caption_title
from videoapp.services.demo.viewers import EVENT_CONTEXT, VIEWER_PREFIX, viewer_username

__all__ = [
    "DEFAULT_PATH",
    "EVENT_CONTEXT",
    "EVENT_WINDOW_DAYS",
    "KUAIREC_NAMESPACE",
    "NOT_AN_INTEREST",
    "ONBOARDING_MAX_CHARS",
    "ONBOARDING_MIN_CATEGORY_SHARE",
    "ONBOARDING_MIN_SHARE",
    "ONBOARDING_MIN_USES",
    "ONBOARDING_TAGS_PER_CATEGORY",
    "PLATFORM_TAG_RE",
    "PUBLISH_WINDOW_DAYS",
    "TAG_CATEGORY_MIN_SHARE",
    "TITLE_MAX_CHARS",
    "UPLOADER_MISC",
    "UPLOADER_PREFIX",
    "VIDEOS_FILE",
    "VIEWER_PREFIX",
    "WATCH_LOG_FILE",
    "KuaiVideo",
    "KuairecImportResult",
    "TagPlan",
    "WatchRecord",
    "caption_title",
    "kuairec_import",
    "parse_topic_tags",
    "plan_tag_library",
    "publish_times",
    "read_videos",
    "read_watch_log",
    "tag_usage_refresh",
    "unit_hash",
    "video_tag_names",
    "viewer_username",
    "watch_event_id",
    "watch_times",
]
