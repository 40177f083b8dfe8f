"""The tag library seeded from the catalogue (no database writes; see the package docstring)."""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from recommender.kuairec import KuaiVideo
from tagging.extraction import normalize_tag
from tagging.models import Tag

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
