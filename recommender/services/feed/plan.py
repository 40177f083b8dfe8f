"""The feed's ranking: candidates of every recall channel fused by reciprocal rank, filtered, explained
(reasons) and re-ranked for diversity; the per-viewer plan (the fused ranking) kept in Redis.

Request path only: reads artefacts loaded once per process (``services.serving``) and a handful of
small queries (dislikes, interests), then cheap arithmetic.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field

import numpy as np
from django.conf import settings
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from recommender import selectors
from recommender.services.exposure import exposure_mark_down
from recommender.services.jobs import _demographic_keys
from recommender.services.serving import ArtefactUnavailable, artefact_get, servable_ids, titles_for

logger = logging.getLogger(__name__)

# Channel weights of the rank fusion (reciprocal rank, ``weight / (RRF_K + rank)``).  Why these: the
# history-based channels are the most accurate offline; the request-time "recent" list reflects
# the viewer's latest action and so outranks the batch lists; hot and fresh are fillers and
# exploration, not the main course.
CHANNEL_WEIGHTS = {
    "recent": 1.5,
    "itemcf": 1.0,
    "ease": 1.0,
    "tf": 0.9,
    "usercf": 0.7,
    "content": 0.8,
    "hot_group": 0.45,
    "hot": 0.3,
    "fresh": 0.2,
    "latest": 0.1,
}
RRF_K = 10
PER_OWNER_CAP = 2


@dataclass
class Candidate:
    video_id: int
    channel: str
    score: float = 0.0
    best: float = 0.0  # the largest single channel contribution (decides the channel shown)
    anchor: int | None = None  # the video that explains an item-based recommendation
    tag: str | None = None
    version: str = ""


class _Pool:
    """Candidates from every channel, fused by reciprocal rank."""

    def __init__(self) -> None:
        self.items: dict[int, Candidate] = {}

    def offer(self, channel: str, ranked: list[tuple[int, float]], *, version: str = "", anchor: int | None = None,
              weight_scale: float = 1.0, limit: int = 200) -> None:
        weight = CHANNEL_WEIGHTS.get(channel, 0.5) * weight_scale
        for rank, (video_id, _score) in enumerate(ranked[:limit]):
            contribution = weight / (RRF_K + rank)
            cand = self.items.get(video_id)
            if cand is None:
                cand = self.items[video_id] = Candidate(video_id=video_id, channel=channel, version=version)
            cand.score += contribution
            if contribution > cand.best:
                cand.best, cand.channel, cand.version = contribution, channel, version
                cand.anchor = anchor
                cand.tag = None

    def ranked(self) -> list[Candidate]:
        return sorted(self.items.values(), key=lambda c: (-c.score, -c.video_id))


def _safe(kind: str, degraded: list[str]):
    try:
        return artefact_get(kind)
    except ArtefactUnavailable as exc:
        degraded.append(str(exc))
        logger.warning("feed: %s", exc)
        return None


def _content_scores(content, interests: dict[str, float], n: int = 100) -> list[tuple[int, float]]:
    scores = content.score_tags(interests)
    if not len(scores) or not np.any(scores > 0):
        return []
    # Equal tag match: the newer video first (columns follow video ids), so that a new upload
    # with no views yet gets its first viewers from the content channel.
    cols = np.lexsort((-np.arange(len(scores)), -np.round(scores, 5)))[:n]
    return [(int(c), float(scores[c])) for c in cols if scores[c] > 0]


def _best_tag(content, col: int, interests: dict[str, float]) -> str | None:
    """Of the viewer's interest tags, the one weighing most in this video's tag vector."""
    row = content.item_vectors[col]
    best, best_value = None, 0.0
    for feature, value in zip(row.indices.tolist(), row.data.tolist(), strict=True):
        name = content.feature_names[feature]
        weight = value * interests.get(name, 0.0)
        if weight > best_value:
            best, best_value = name, weight
    return best


_GENERIC_REASONS = {
    "usercf": gettext_lazy("和你口味相似的人也喜欢"),
    "ease": gettext_lazy("猜你喜欢"),
    "tf": gettext_lazy("猜你喜欢"),
    "itemcf": gettext_lazy("猜你喜欢"),
    "recent": gettext_lazy("猜你喜欢"),
    "content": gettext_lazy("符合你的兴趣"),
    "hot_group": gettext_lazy("和你同龄同性别的人都在看"),
    "hot": gettext_lazy("热门"),
    "fresh": gettext_lazy("新发布"),
    "latest": gettext_lazy("新发布"),
    "other": gettext_lazy("推荐"),
}


def _reason(cand: Candidate, titles: dict[int, str]) -> str:
    if cand.channel in ("itemcf", "recent") and cand.anchor is not None and cand.anchor in titles:
        return _("因为你看过《%(title)s》") % {"title": titles[cand.anchor]}
    if cand.channel == "content" and cand.tag:
        return _("你关注的标签：%(tag)s") % {"tag": cand.tag.split(":", 1)[-1]}
    return str(_GENERIC_REASONS.get(cand.channel, _GENERIC_REASONS["other"]))


def _diversify(ordered: list[Candidate], meta: dict[int, tuple[int, str]], size: int) -> list[Candidate]:
    """Greedy re-rank: at most PER_OWNER_CAP videos per uploader and ~40 % per category in a page;
    the caps are relaxed when the candidates run out rather than returning a short page.  ``meta``:
    video id -> (uploader id, category)."""
    category_cap = max(2, math.ceil(size * 0.4))
    chosen: list[Candidate] = []
    owners: dict[int, int] = {}
    categories: dict[str, int] = {}
    rest: list[Candidate] = []
    for cand in ordered:
        owner, category = meta[cand.video_id]
        if len(chosen) < size and owners.get(owner, 0) < PER_OWNER_CAP and (
            not category or categories.get(category, 0) < category_cap
        ):
            chosen.append(cand)
            owners[owner] = owners.get(owner, 0) + 1
            categories[category] = categories.get(category, 0) + 1
        else:
            rest.append(cand)
    for cand in rest:
        if len(chosen) >= size:
            break
        chosen.append(cand)
    return chosen


PLAN_KEY = "rec:plan:2:{viewer}"  # bump the number when FeedPlan changes shape
PLAN_LENGTH = 300  # ranked candidates kept per viewer: ~15 pages of 20 before a rebuild of the plan
PLAN_EXPLAINED = 40  # content reasons computed with the plan (explaining all 300 cost ~50 ms)


@dataclass
class FeedPlan:
    """A viewer's fused, ranked candidate list: everything of a feed answer that does not change
    from one page to the next.  Built on the first request (or when its inputs change) and kept in
    Redis, so that a page is one round trip of reads + the exposure filter + one query + one round
    trip of writes."""

    stamp: tuple  # artefact versions, the recent-engagement list and the viewer's plan version
    candidates: list[tuple[int, str, str, int | None, str | None]]  # id, channel, version, anchor, tag
    disliked: frozenset[int]
    cold_start: bool
    interests: dict[str, float] = field(default_factory=dict)  # to explain later content items


def _plan_ttl() -> int:
    return int(getattr(settings, "RECOMMENDER_PLAN_SECONDS", 300))


def _plan_build(*, user, user_id: int | None, stamp: tuple, interactions, model, hot, recent, fresh) -> FeedPlan:
    """Gather, fuse and rank the candidates of every channel (the expensive part of a feed answer)."""
    pool = _Pool()
    bundle = interactions.payload if interactions else None
    personal_history = False
    if bundle is not None:
        for channel in ("itemcf", "ease", "usercf", "content"):
            ranked = bundle.user_list(channel, user_id)
            personal_history |= bool(ranked)
            pool.offer(channel, ranked, version=interactions.version)
    if model is not None:
        ranked = model.payload.user_list("tf", user_id)
        personal_history |= bool(ranked)
        pool.offer("tf", ranked, version=model.version)

    # Near-real-time: neighbours of what the viewer just engaged with, from the neighbour artefact.
    if bundle is not None and bundle.itemcf is not None:
        for position, (video_id, _weight) in enumerate(recent[:10]):
            col = bundle.item_index.get(video_id)
            if col is None:
                continue
            neighbours = [(int(bundle.item_ids[c]), s) for c, s in bundle.itemcf.similar_items(col, n=30)]
            pool.offer("recent", neighbours, version=interactions.version, anchor=video_id,
                       weight_scale=1.0 / (1 + 0.3 * position))

    # Declared and behaviour interests (onboarding tags work from the first request).
    interests = selectors.user_interests(user_id=user_id) if user_id is not None else {}
    if bundle is not None and bundle.content is not None and interests:
        ranked = [(int(bundle.item_ids[c]), s) for c, s in _content_scores(bundle.content, interests)]
        pool.offer("content", ranked, version=interactions.version, weight_scale=1.2)

    profile = getattr(user, "profile", None) if user_id is not None else None
    if hot is not None:
        groups = hot.payload.get("group", {})
        if profile is not None and (profile.age_range or profile.gender):
            # The most specific group that has a list (age x gender, then age or gender alone).
            exact = f"{profile.age_range or '*'}:{profile.gender or '*'}"
            keys = [exact] + [k for k in _demographic_keys(profile.age_range, profile.gender) if k != exact]
            key = next((k for k in keys if groups.get(k)), None)
            if key is not None:
                pool.offer("hot_group", [tuple(p) for p in groups[key]], version=hot.version)
        pool.offer("hot", [tuple(p) for p in hot.payload.get("global", [])], version=hot.version)
    pool.offer("fresh", [(v, 0.0) for v in fresh[:30]])
    if hot is None:
        pool.offer("latest", [(v, 0.0) for v in fresh])

    allowed = servable_ids()
    disliked = selectors.disliked_video_ids(user_id=user_id)
    ordered = [c for c in pool.ranked() if c.video_id in allowed and c.video_id not in disliked][:PLAN_LENGTH]
    # Reasons of content items (the first pages' worth; later ones are explained when served).
    _content_tags(bundle, [c for c in ordered[:PLAN_EXPLAINED] if c.channel == "content"], user_id, interests)
    return FeedPlan(
        stamp=stamp,
        candidates=[(c.video_id, c.channel, c.version, c.anchor, c.tag) for c in ordered],
        disliked=frozenset(disliked),
        cold_start=not personal_history and not recent and not interests,
        interests=interests,
    )


def _content_tags(bundle, cands: list[Candidate], user_id: int | None, interests: dict[str, float] | None) -> None:
    """Set ``tag`` of content items: the viewer's interest tag weighing most in the video's tags,
    else the content channel's own explanation of the viewer's history."""
    if bundle is None or bundle.content is None:
        return
    for cand in cands:
        col = bundle.item_index.get(cand.video_id)
        if cand.channel == "content" and cand.tag is None and col is not None and interests:
            cand.tag = _best_tag(bundle.content, col, interests)
    if not interests and user_id in bundle.user_index:
        todo = [c for c in cands if c.channel == "content" and c.tag is None and c.video_id in bundle.item_index]
        if todo:
            tags = _content_best_tags(bundle.content, bundle.user_index[user_id],
                                      [bundle.item_index[c.video_id] for c in todo])
            for cand, tag in zip(todo, tags, strict=True):
                cand.tag = tag


def _explain(bundle, cands: list[Candidate], user_id: int | None, interests: dict[str, float]) -> dict[int, str]:
    """Fill in the anchors of item-CF items (the viewer's own video linked most strongly to each) and
    the tags of content items; returns the anchor titles the reasons need."""
    anchors = [c.anchor for c in cands if c.anchor is not None]
    if bundle is not None and bundle.itemcf is not None and user_id in bundle.user_index:
        todo = [c for c in cands if c.channel == "itemcf" and c.anchor is None and c.video_id in bundle.item_index]
        if todo:
            cols = [bundle.item_index[c.video_id] for c in todo]
            found = _top_contributors(bundle.itemcf, bundle.user_index[user_id], cols)
            for cand, anchor in zip(todo, found, strict=True):
                if anchor is not None:
                    cand.anchor = int(bundle.item_ids[anchor])
                    anchors.append(cand.anchor)
    titles = titles_for(ids=anchors) if anchors else {}
    _content_tags(bundle, [c for c in cands if c.channel == "content" and c.tag is None], user_id, interests)
    return titles


def _history_ids(bundle, user_id: int | None) -> set[int]:
    """The videos in the viewer's history row of the interactions artefact (what they watched)."""
    if bundle is None or bundle.itemcf is None or user_id not in bundle.user_index:
        return set()
    row = bundle.itemcf.user_items[bundle.user_index[user_id]]
    return {int(v) for v in bundle.item_ids[row.indices].tolist()}


def _top_contributors(itemcf, user_row: int, cols: list[int]) -> list[int | None]:
    """For each target column, the viewer's history item whose strength x similarity to it is largest
    (``ItemCF.explain`` for many targets at once: one sparse slice instead of one column each)."""
    history = itemcf.user_items[user_row]
    if history.nnz == 0:
        return [None] * len(cols)
    links = itemcf.neighbours[history.indices][:, cols].toarray()  # history items x targets
    contrib = history.data[:, None] * links
    best = contrib.argmax(axis=0)
    return [int(history.indices[b]) if contrib[b, j] > 0 else None for j, b in enumerate(best.tolist())]


def _content_best_tags(content, user_row: int, cols: list[int]) -> list[str | None]:
    """For each item column, the feature weighing most in (user vector x item vector) - what
    ``ContentChannel.explain`` returns, for many items at once."""
    user = content.user_vectors[user_row].toarray().ravel()
    rows = content.item_vectors[cols]
    weights = (rows.data * user[rows.indices]).tolist()
    indices, indptr = rows.indices.tolist(), rows.indptr.tolist()
    out: list[str | None] = []
    for r in range(len(cols)):
        segment = range(indptr[r], indptr[r + 1])
        best = max(segment, key=weights.__getitem__, default=None)
        out.append(content.feature_names[indices[best]] if best is not None and weights[best] > 0 else None)
    return out


def _plan_store(backend, extra: dict[str, bytes]) -> None:
    try:
        pipe = backend.client.pipeline(transaction=False)
        for key, value in extra.items():
            pipe.set(key, value, ex=_plan_ttl())
        pipe.execute()
    except Exception as exc:
        exposure_mark_down(exc)
