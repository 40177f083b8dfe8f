"""The feed: merge precomputed recall lists, filter, blend, re-rank for diversity, explain, record.

Request path only: reads artefacts loaded once per process (``services.serving``), a handful of
small queries (dislikes, interests, the cards of the videos served) and cheap arithmetic.  When
artefacts are missing, stale or unreadable, or Redis is down, it degrades - stale lists, then hot
lists, then the latest uploads - and says so in ``source`` / ``why`` (and the log).
"""

from __future__ import annotations

import json
import logging
import math
import pickle
import uuid
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.serializers.json import DjangoJSONEncoder
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from recommender import selectors
from recommender.services import feed_queue
from recommender.services.exposure import (
    EXTERNAL_EXPOSURE_KEY,
    BloomExposure,
    ExactExposure,
    exposure_backend,
    exposure_mark_down,
    exposure_redis_down,
    exposure_seen,
    viewer_key,
)
from recommender.services.feed_queue import IMPRESSION_BUFFER_KEY, PLAN_VERSION_KEY, impression_buffer_cap
from recommender.services.jobs import _demographic_keys
from recommender.services.profile import recent_engagement_get
from recommender.services.serving import (
    ArtefactUnavailable,
    artefact_get,
    cards_for,
    fresh_ids,
    servable_ids,
    serving_stamp,
    titles_for,
)
from videoapp.models import Event, Video

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


@dataclass
class FeedResult:
    items: list[dict]
    source: str
    why: str
    degraded: list[str]
    versions: dict[str, str]
    request_id: str
    page: int
    size: int
    exposure: str = ""
    cold_start: bool = False
    suggested_users: list[dict] = field(default_factory=list)


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


def _recent_decode(raw) -> list[tuple[int, float]] | None:
    """The recent-engagement list from its raw cache value (read in the feed's pipeline), or None
    when the cache is not django-redis (then it is read the ordinary way)."""
    from django.core.cache import cache

    decode = getattr(getattr(cache, "client", None), "decode", None)
    if decode is None:
        return None
    if raw is None:
        return []
    return [(int(v), float(w)) for v, w in (decode(raw) or [])]


def feed_build(*, user, session_key: str | None, page: int = 1, size: int = 20, record: bool = True,
               queue: bool = False) -> FeedResult:
    """One page of the viewer's feed.  Everything already shown (exposure filter) is excluded, so
    page N+1 continues where page N stopped and never repeats it.

    ``queue`` (the API, with Redis, a logged-in viewer): also write the rest of the ranking as the
    viewer's served queue (``services.feed_queue``), from which :func:`feed_answer` serves the next
    pages without coming back here.

    With Redis: one pipelined round trip reads the viewer's plan, plan version, recent engagement
    and exposure bitmaps; one query checks the ~2 x size ids about to be served (servable, not
    disliked); one pipelined round trip writes the exposures, the impressions and (when rebuilt) the
    plan.  Without Redis the plan is rebuilt on every request and the exact filter reads the log.
    """
    request_id = uuid.uuid4().hex
    user_id = user.id if user is not None and user.is_authenticated else None
    viewer = viewer_key(user_id=user_id, session_key=session_key)
    # Anonymous viewers share one plan (hot + fresh): only their exposures differ.
    plan_viewer = viewer if user_id is not None else "anon"
    degraded: list[str] = []
    versions: dict[str, str] = {}

    interactions = _safe("interactions", degraded)
    model = _safe("model", degraded)
    hot = _safe("hot", degraded)
    for art in (interactions, model, hot):
        if art is not None:
            versions[art.kind] = art.version
            if art.stale:
                degraded.append(art.why)

    backend = exposure_backend()
    exposure_name = "exact (redis down)" if exposure_redis_down() else backend.name
    plan: FeedPlan | None = None
    plan_version = b""
    bitmaps: list = []
    recent: list[tuple[int, float]] | None = None
    counters = (b"0", b"0")  # the viewer's external exposure counter and the servable epoch, read first
    if isinstance(backend, BloomExposure):
        try:
            from django.core.cache import cache

            pipe = backend.client.pipeline(transaction=False)
            pipe.get(EXTERNAL_EXPOSURE_KEY.format(viewer=viewer))
            pipe.get(feed_queue.SERVABLE_EPOCH_KEY)
            pipe.get(PLAN_KEY.format(viewer=plan_viewer))
            pipe.get(PLAN_VERSION_KEY.format(viewer=plan_viewer))
            pipe.get(cache.make_key(f"rec:recent:u{user_id}") if user_id is not None else "rec:none")
            backend.queue_fold(pipe, viewer)
            backend.queue_read(pipe, viewer)
            replies = pipe.execute()
            counters = (replies[0] or b"0", replies[1] or b"0")
            raw_plan, plan_version, raw_recent, bitmaps = replies[2], replies[3] or b"", replies[4], replies[6:]
            recent = _recent_decode(raw_recent) if user_id is not None else []
            if raw_plan and _plan_ttl() > 0:
                try:
                    plan = pickle.loads(raw_plan)
                except Exception:  # a plan of an older code version: rebuild it
                    plan = None
        except Exception as exc:  # Redis went away: the exact filter, no plan cache
            exposure_mark_down(exc)
            backend, exposure_name = ExactExposure(), "exact (redis down)"
    if exposure_name.endswith("(redis down)"):
        degraded.append(_("Redis 不可用：曝光过滤改用数据库"))
    if recent is None:
        recent = recent_engagement_get(user_id=user_id)

    fresh = fresh_ids()
    stamp = (tuple(sorted(versions.items())), tuple(recent), plan_version)
    built = plan is None or plan.stamp != stamp
    if built:
        plan = _plan_build(user=user, user_id=user_id, stamp=stamp, interactions=interactions, model=model,
                           hot=hot, recent=recent, fresh=fresh)

    cold_start = plan.cold_start
    if interactions is None:
        source = "fallback"
        why = _("推荐数据不可用，改用热门榜单") if hot is not None else _("推荐数据和热门榜单都不可用，改用最新发布")
    elif interactions.stale:
        source, why = "stale", _("推荐数据已过期，使用上一版本")
    else:
        source = "personalised"
        why = _("新用户：热门、新发布和你选择的兴趣") if cold_start else _("个性化推荐")
    if degraded:
        logger.info("feed %s served %s: %s", request_id, source, " | ".join(degraded))

    # Filters: what may be shown at all (the plan may be older than a visibility change), then
    # what this viewer must not see again.
    allowed = servable_ids()
    disliked = plan.disliked
    ordered = [Candidate(video_id=v, channel=ch, version=ver, anchor=anchor, tag=tag)
               for v, ch, ver, anchor, tag in plan.candidates if v in allowed]
    ids = [c.video_id for c in ordered]
    if isinstance(backend, BloomExposure):
        seen = backend.seen_in(bitmaps, ids + fresh)
    else:
        seen, name = exposure_seen(user_id=user_id, session_key=session_key, candidates=ids)
        if name.endswith("(redis down)") and not exposure_name.endswith("(redis down)"):
            exposure_name = name
            degraded.append(_("Redis 不可用：曝光过滤改用数据库"))
    # Already watched: the viewer's history in the interactions artefact (the Bloom filter has the
    # engagements since), so hot and fresh items the viewer watched are not served either.
    history = _history_ids(interactions.payload if interactions else None, user_id)
    seen = set(seen) | history
    ordered = [c for c in ordered if c.video_id not in seen]

    # Cards of a few more than a page (plus an exploration candidate): the servable and dislike
    # check inside cards_for (one query on these ids) is the final, authoritative filter.  When a
    # served queue is written, the same check covers the whole ranking in one query that also
    # returns uploader and category (for the diversity re-rank); the queue's own cards come from
    # the shared Redis card cache when served.
    to_queue = queue and isinstance(backend, BloomExposure) and user_id is not None
    head = ordered[: size * 2]
    taken = {c.video_id for c in head}
    explore = next((v for v in fresh if v in allowed and v not in seen and v not in disliked
                    and v not in taken), None) if size >= 4 else None
    cards = cards_for(ids=[c.video_id for c in head] + ([explore] if explore is not None else []),
                      disliked_by=user_id)
    meta = {v: (card["owner"]["id"], card["category"] or "") for v, card in cards.items()}
    if to_queue:
        meta.update(selectors.servable_meta_among(ids=[c.video_id for c in ordered[size * 2:]] + fresh[:60],
                                                  disliked_by=user_id))
        head = ordered

    head = [c for c in head if c.video_id in meta and meta[c.video_id][0] != user_id]
    chosen = _diversify([c for c in head if c.video_id in cards], meta, size)
    # Exploration: the newest unseen upload gets a slot on every page (a new video with no views
    # gets its first audience), unless it is on the page already.
    if size >= 4:
        # The newest upload not seen yet whose card passed the servable check.
        on_page = {c.video_id for c in chosen}
        newest = next((v for v in fresh if v in cards and v not in seen and v not in disliked
                       and meta[v][0] != user_id), None)
        if newest is not None and newest not in on_page:
            explore_cand = Candidate(video_id=newest, channel="fresh")
            if len(chosen) >= size:
                chosen.pop()
            chosen.insert(min(3, len(chosen)), explore_cand)
    later: list[Candidate] = []
    if to_queue:
        # The rest of the ranking, diversified page by page, is what the served queue holds.
        on_page = {c.video_id for c in chosen}
        rest = [c for c in head if c.video_id not in on_page]
        # One exploration slot per later page too: the next newest uploads not seen yet (new uploads
        # after this ranking reach the viewer with the next one, at the latest after the hot refresh).
        explores = [Candidate(video_id=v, channel="fresh") for v in fresh
                    if v in meta and v not in seen and v not in disliked and v not in on_page
                    and meta[v][0] != user_id]
        explore_ids = {c.video_id for c in explores}
        rest = [c for c in rest if c.video_id not in explore_ids]
        while rest or (explores and later):
            page_items = _diversify(rest[: size * 4], meta, size - 1 if explores and size >= 4 else size)
            if explores and size >= 4:
                page_items.insert(min(3, len(page_items)), explores.pop(0))
            later += page_items
            picked = {c.video_id for c in page_items}
            rest = [c for c in rest if c.video_id not in picked]
            if not rest:
                break

    bundle = interactions.payload if interactions else None
    titles = _explain(bundle, chosen + later, user_id, getattr(plan, "interests", {}))

    def fields_of(c: Candidate) -> dict:
        return {
            "channel": "itemcf" if c.channel == "recent" else c.channel,
            "reason": _reason(c, titles),
            "artefact_version": c.version,
            "realtime": c.channel == "recent",
        }

    items = [{"video": cards[c.video_id], **fields_of(c)} for c in chosen]
    result = FeedResult(items=items, source=source, why=why, degraded=degraded, versions=versions,
                        request_id=request_id, page=page, size=size, exposure=exposure_name,
                        cold_start=cold_start)
    if cold_start and page == 1:
        result.suggested_users = suggested_users(user=user, limit=5)
    extra = {}
    if built and _plan_ttl() > 0:
        extra[PLAN_KEY.format(viewer=plan_viewer)] = pickle.dumps(plan, protocol=pickle.HIGHEST_PROTOCOL)
    if record:
        # The page a new queue starts after is accounted for by the queue (its skip list), so it
        # does not count as exposure from elsewhere.
        impressions_record(user_id=user_id, session_key=session_key, items=items, request_id=request_id,
                           surface="feed", source=source, backend=backend, extra_sets=extra, external=not to_queue)
    elif extra and isinstance(backend, BloomExposure):
        _plan_store(backend, extra)
    if to_queue:
        queued = [(c.video_id, meta[c.video_id][0], fields_of(c)) for c in later]
        header = feed_result_dict(result)
        for member in ("request_id", "page", "size", "results", "suggested_users"):
            header.pop(member)
        build = feed_queue.QueueBuild(
            user_id=user_id, lang=translation.get_language() or settings.LANGUAGE_CODE, stamp="",
            planver=plan_version.decode() if isinstance(plan_version, bytes) else str(plan_version or ""),
            external_exposure=counters[0].decode(), servable_epoch=counters[1].decode(),
            header=json.loads(_json_bytes(header)), source=source, items=queued,
            cards={c.video_id: cards[c.video_id] for c in chosen},
            skip=set(seen) | set(disliked) | {c.video_id for c in chosen} | {v for v, _o, _f in queued},
        )
        _queue_write(backend=backend, build=build, bitmaps=bitmaps, hot=hot)
    return result


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


def impressions_record(*, user_id: int | None, session_key: str | None, items: list[dict], request_id: str,
                       surface: str, source: str = "", backend=None, extra_sets: dict | None = None,
                       external: bool = True) -> None:
    """Record the impressions of one response and add them to the viewer's exposure filter.

    With Redis up: the exposure bits, the impression rows (appended to a Redis list) and
    ``extra_sets`` (key -> bytes, e.g. the viewer's rebuilt feed plan) go in one pipelined round
    trip; the rows reach the event log in bulk by :func:`impressions_flush`, run by beat, never on
    the request path.  The buffer is capped at ``RECOMMENDER_IMPRESSION_BUFFER_MAX`` rows (the oldest
    are dropped, with a warning, when no flush has run for that long).  Without Redis (or when it
    is down), one bulk INSERT per response, which the exact filter reads.
    """
    backend = backend if backend is not None else exposure_backend()
    if not items:
        if extra_sets and isinstance(backend, BloomExposure):
            _plan_store(backend, extra_sets)
        return
    # One buffered record per response (the served queue's script writes the same shape).
    batch = {"user_id": user_id, "session_key": "" if user_id else (session_key or ""),
             "created_at": timezone.now().isoformat(), "request_id": request_id, "surface": surface,
             "source": source,
             "items": [[item["video"]["id"], item["channel"], item["artefact_version"]] for item in items]}
    video_ids = [item["video"]["id"] for item in items]
    if isinstance(backend, BloomExposure):
        buffered = getattr(settings, "RECOMMENDER_IMPRESSION_BUFFER", True)
        cap = impression_buffer_cap()
        try:
            pipe = backend.client.pipeline(transaction=False)
            backend.queue_add(pipe, viewer_key(user_id=user_id, session_key=session_key), video_ids,
                              external=external)
            for key, value in (extra_sets or {}).items():
                pipe.set(key, value, ex=_plan_ttl())
            if buffered:
                pipe.rpush(IMPRESSION_BUFFER_KEY, json.dumps(batch))
            replies = pipe.execute()
            if buffered and replies[-1] > cap:
                # No flush for a long time (beat stopped): bound Redis memory, keep the newest records.
                backend.client.ltrim(IMPRESSION_BUFFER_KEY, -cap, -1)
                logger.warning("impression buffer over %d responses: the oldest were dropped (is beat running?)", cap)
            if buffered:
                return
        except Exception as exc:  # Redis went away: write them now, where the exact filter reads
            exposure_mark_down(exc)
    _impressions_insert(_impression_rows(batch))


def _impression_rows(batch: dict) -> list[dict]:
    """The event rows of one buffered response (position = place in the answer)."""
    return [
        {"user_id": batch["user_id"], "session_key": batch["session_key"], "video_id": int(video_id),
         "created_at": batch["created_at"],
         "context": {"surface": batch["surface"], "channel": channel, "request_id": batch["request_id"],
                     "position": position, "artefact_version": version, "source": batch["source"]}}
        for position, (video_id, channel, version) in enumerate(batch["items"])
    ]


def _impressions_insert(rows: list[dict]) -> int:
    events = [
        Event(user_id=row["user_id"], session_key=row["session_key"], video_id=row["video_id"],
              kind=Event.Kind.IMPRESSION, context=row["context"],
              created_at=datetime.fromisoformat(row["created_at"]))
        for row in rows
    ]
    Event.objects.bulk_create(events, batch_size=1000)
    return len(events)


def impressions_flush(*, max_rows: int = 2_000, max_rounds: int = 50) -> int:
    """Move buffered impressions from Redis to the event log, ``max_rows`` buffered responses per
    round (atomic take: LRANGE + LTRIM in MULTI, then one bulk INSERT), until the buffer is empty or
    ``max_rounds`` rounds ran.  Returns the number of impression events written."""
    backend = exposure_backend()
    if not isinstance(backend, BloomExposure):
        return 0
    written = 0
    for _round in range(max_rounds):
        pipe = backend.client.pipeline(transaction=True)
        pipe.lrange(IMPRESSION_BUFFER_KEY, 0, max_rows - 1)
        pipe.ltrim(IMPRESSION_BUFFER_KEY, max_rows, -1)
        raw, _trimmed = pipe.execute()
        if not raw:
            break
        rows = [row for item in raw for row in _impression_rows(json.loads(item))]
        # A video deleted since it was shown: its impression has nothing to point at.
        existing = set(Video.objects.filter(id__in={row["video_id"] for row in rows}).values_list("id", flat=True))
        written += _impressions_insert([row for row in rows if row["video_id"] in existing])
        if len(raw) < max_rows:
            break
    return written


# --------------------------------------------------------------------------- related, hot, suggested


def related_list(*, video, user, session_key: str | None, size: int = 20) -> FeedResult:
    """Videos related to ``video``: item-CF neighbours, then same tags (content), then its category's hot."""
    request_id = uuid.uuid4().hex
    degraded: list[str] = []
    versions: dict[str, str] = {}
    pool = _Pool()
    interactions = _safe("interactions", degraded)
    hot = _safe("hot", degraded)
    bundle = interactions.payload if interactions else None
    if interactions is not None:
        versions["interactions"] = interactions.version
        col = bundle.item_index.get(video.id)
        if col is not None and bundle.itemcf is not None:
            pool.offer("itemcf", [(int(bundle.item_ids[c]), s) for c, s in bundle.itemcf.similar_items(col, n=50)],
                       version=interactions.version, anchor=video.id)
        if col is not None and bundle.content is not None:
            pool.offer("content", [(int(bundle.item_ids[c]), s) for c, s in bundle.content.similar_items(col, n=50)],
                       version=interactions.version)
    if hot is not None:
        versions["hot"] = hot.version
        pool.offer("hot", [tuple(p) for p in hot.payload.get("category", {}).get(video.category, [])],
                   version=hot.version)
    if not pool.items:
        pool.offer("latest", [(v, 0.0) for v in fresh_ids()])
    user_id = user.id if user is not None and user.is_authenticated else None
    disliked = selectors.disliked_video_ids(user_id=user_id)
    allowed = servable_ids()
    ordered = [c for c in pool.ranked() if c.video_id != video.id and c.video_id in allowed
               and c.video_id not in disliked][: size * 2]
    cards = cards_for(ids=[c.video_id for c in ordered])
    chosen = [c for c in ordered if c.video_id in cards][:size]
    tags = {}
    if bundle is not None and bundle.content is not None and video.id in bundle.item_index:
        src = bundle.content.item_vectors[bundle.item_index[video.id]]
        names = {bundle.content.feature_names[f] for f in src.indices.tolist()}
        for cand in chosen:
            col = bundle.item_index.get(cand.video_id)
            if cand.channel == "content" and col is not None:
                common = [bundle.content.feature_names[f] for f in bundle.content.item_vectors[col].indices.tolist()
                          if bundle.content.feature_names[f] in names]
                tags[cand.video_id] = common[0] if common else None
    items = []
    for cand in chosen:
        if cand.channel == "itemcf":
            reason = _("看过《%(title)s》的人也在看") % {"title": video.title}
        elif cand.channel == "content" and tags.get(cand.video_id):
            reason = _("相同标签：%(tag)s") % {"tag": tags[cand.video_id]}
        elif cand.channel == "hot":
            reason = _("%(category)s热门") % {"category": video.category} if video.category else _("热门")
        else:
            reason = _reason(cand, {})
        items.append({"video": cards[cand.video_id], "channel": cand.channel, "reason": reason,
                      "artefact_version": cand.version, "realtime": False})
    source = "fallback" if interactions is None else ("stale" if interactions.stale else "personalised")
    why = _("相关视频") if source == "personalised" else _("推荐数据不可用或已过期，改用热门和最新发布")
    result = FeedResult(items=items, source=source, why=why, degraded=degraded, versions=versions,
                        request_id=request_id, page=1, size=size)
    impressions_record(user_id=user_id, session_key=session_key, items=items, request_id=request_id,
                       surface="related", source=source)
    return result


def hot_list(*, category: str | None = None, size: int = 20) -> FeedResult:
    """The hot list (global or of one first-level category); the latest uploads when none is built."""
    degraded: list[str] = []
    hot = _safe("hot", degraded)
    versions = {"hot": hot.version} if hot else {}
    if hot is not None:
        ranked = hot.payload.get("category", {}).get(category, []) if category else hot.payload.get("global", [])
        channel = "hot"
        source, why = ("stale", hot.why) if hot.stale else ("personalised", _("热门榜单"))
        # "personalised" here means "served from the current artefact"; the list itself is the same for all.
    else:
        ranked, channel, source, why = [], "latest", "fallback", _("热门榜单不可用，改用最新发布")
    ids = [int(p[0]) for p in ranked] if ranked else []
    if not ids:
        if hot is not None and category:
            why = _("该分类暂无热门，改用最新发布")
        ids = selectors.latest_public_video_ids(limit=size * 3) if not category else list(
            selectors.Video.objects.public().filter(category=category).order_by("-published_at")
            .values_list("id", flat=True)[: size * 3]
        )
        channel = "latest"
    allowed = servable_ids()
    ids = [v for v in ids if v in allowed][: size * 2]
    cards = cards_for(ids=ids)
    items = []
    for video_id in ids:
        if video_id in cards and len(items) < size:
            card = cards[video_id]
            if channel == "hot":
                reason = _("%(category)s热门") % {"category": category} if category else _("热门")
            else:
                reason = _("新发布")
            items.append({"video": card, "channel": channel, "reason": reason,
                          "artefact_version": hot.version if hot and channel == "hot" else "", "realtime": False})
    return FeedResult(items=items, source=source, why=why, degraded=degraded, versions=versions,
                      request_id=uuid.uuid4().hex, page=1, size=size)


def suggested_users(*, user, limit: int = 10) -> list[dict]:
    """Hot uploaders to follow (by decayed engagement of their videos), minus self and already followed."""
    user_id = user.id if user is not None and user.is_authenticated else None
    degraded: list[str] = []
    hot = _safe("hot", degraded)
    ranked = [int(p[0]) for p in hot.payload.get("uploaders", [])] if hot else []
    if not ranked:
        # No hot list yet: the authors of the latest uploads.
        ranked = list(dict.fromkeys(
            selectors.Video.objects.public().order_by("-published_at").values_list("owner_id", flat=True)[:200]
        ))
    exclude = selectors.followed_user_ids(user_id=user_id) | ({user_id} if user_id else set())
    ranked = [u for u in ranked if u not in exclude][: limit * 2]
    cards = selectors.user_cards(ids=ranked)
    out = []
    for uid in ranked:
        if uid in cards and len(out) < limit:
            out.append({**cards[uid], "reason": _("热门创作者") if hot else _("最近有新作品")})
    return out


# --------------------------------------------------------------------------- the API answer and its queue


def feed_result_dict(result: FeedResult) -> dict:
    """The response body of a feed, related or hot answer (the shape ``RecommendationListSerializer``
    documents), built directly from the JSON-ready dicts the services return."""
    return {
        "source": result.source,
        "why": str(result.why),
        "degraded": [str(d) for d in result.degraded],
        "artefact_versions": result.versions,
        "request_id": result.request_id,
        "page": result.page,
        "size": result.size,
        "exposure_filter": result.exposure,
        "cold_start": result.cold_start,
        "results": result.items,
        "suggested_users": result.suggested_users,
    }


def _json_bytes(value) -> bytes:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), cls=DjangoJSONEncoder).encode()


def _owners(ids: list[int]) -> dict[int, int]:
    return selectors.video_owner_ids(ids=ids) if ids else {}


def _fallback_build(*, backend: BloomExposure, hot, version: str) -> feed_queue.Fallback:
    """The shared list a drained queue continues with: global hot, then the latest uploads,
    servable now (the epoch is read before the check)."""
    epoch = feed_queue.servable_epoch(backend=backend)
    hot_ids = [int(p[0]) for p in hot.payload.get("global", [])] if hot is not None else []
    latest = selectors.latest_public_video_ids(limit=feed_queue.FALLBACK_LENGTH)
    ids = list(dict.fromkeys(hot_ids + latest))[: feed_queue.FALLBACK_LENGTH]
    meta = selectors.servable_meta_among(ids=ids)
    hot_ids_set, hot_reason, new_reason = set(hot_ids), _("热门"), _("新发布")
    entries = []
    for v in ids:
        if v not in meta:
            continue
        if v in hot_ids_set:
            fields = {"channel": "hot", "reason": hot_reason, "artefact_version": hot.version, "realtime": False}
        else:
            fields = {"channel": "latest", "reason": new_reason, "artefact_version": "", "realtime": False}
        entries.append((v, meta[v][0], fields))
    return feed_queue.Fallback(version=version, ids=[v for v, _o, _f in entries],
                               owners=[o for _v, o, _f in entries], epoch=epoch, entries=entries)


def _queue_write(*, backend: BloomExposure, build: feed_queue.QueueBuild, bitmaps: list, hot) -> None:
    stamp, hot_version = serving_stamp()
    build.stamp = stamp
    try:
        if not backend.client.exists(feed_queue.SERVABLE_KEY):
            feed_queue.servable_set_sync(client=backend)
        fallback = feed_queue.fallback_read(backend=backend, lang=build.lang, version=hot_version)
        if fallback is None:
            fallback = _fallback_build(backend=backend, hot=hot, version=hot_version)
        # What the fallback walk must skip: also what the viewer has seen among its ids.
        build.skip |= backend.seen_in(bitmaps, fallback.ids)
        # Cards the queue (and a new fallback list) will need that the shared card cache lacks: one
        # query now rather than one per page later.
        wanted = [v for v, _o, _f in build.items] + ([v for v, _o, _f in fallback.entries] if fallback.entries else [])
        missing = feed_queue.cards_missing(backend=backend, ids=[v for v in wanted if v not in build.cards])
        if missing:
            build.cards.update(selectors.video_cards(ids=missing, servable_only=False))
        feed_queue.queue_store(backend=backend, build=build, fallback=fallback)
    except Exception as exc:  # Redis went away: the next request takes the slow path again
        exposure_mark_down(exc)


def feed_answer(*, user, session_key: str | None, page: int = 1, size: int = 20) -> bytes:
    """The feed API's response body.  A logged-in viewer with Redis is served from their queue (one
    script call); otherwise, or when the queue must be rebuilt, :func:`feed_build` ranks afresh and
    writes the queue for the next pages."""
    body = feed_answer_from_queue(user=user, page=page, size=size)
    if body is not None:
        return body
    result = feed_build(user=user, session_key=session_key, page=page, size=size, queue=True)
    return _json_bytes(feed_result_dict(result))


def feed_answer_from_queue(*, page: int, size: int, user=None, token: str | None = None) -> bytes | None:
    """The next page from the viewer's served queue - the viewer given as ``user``, or as the
    request's API ``token`` when it is in the token cache - or None when there is none to serve
    from (no Redis, an anonymous viewer, a token not cached yet, a queue to rebuild)."""
    user_id = user.id if user is not None and user.is_authenticated else None
    if user_id is None and token is None:
        return None
    backend = exposure_backend()
    if not isinstance(backend, BloomExposure):
        return None
    lang = translation.get_language() or settings.LANGUAGE_CODE
    stamp, hot_version = serving_stamp()
    try:
        served = feed_queue.queue_serve(
            backend=backend, lang=lang, stamp=stamp, size=size, page=page, request_id=uuid.uuid4().hex,
            created_at=timezone.now().isoformat(), fallback_version=hot_version, user_id=user_id, token=token)
    except Exception as exc:  # Redis went away: the slow path has the database fallbacks
        exposure_mark_down(exc)
        return None
    if served.status != "served":
        return None
    results = [served.head]
    if served.missing:  # cards dropped from Redis (a like, an edit, expiry): read them once, store them again
        cards = cards_for(ids=[v for v, _item in served.missing], disliked_by=served.user_id)
        _cards_put(backend, cards)
        extra = [b'{"video":' + _json_bytes(cards[v]) + b"," + item[1:] for v, item in served.missing if v in cards]
        if extra:
            results.append(b"," + b",".join(extra) if not served.head.endswith(b"[") else b",".join(extra))
    suggested = b"[]"
    if page == 1 and served.cold_start:
        if user is None:
            user = get_user_model().objects.filter(pk=served.user_id).first()
        suggested = _json_bytes(suggested_users(user=user, limit=5))
    return b"".join((*results, b'],"suggested_users":', suggested, b"}"))


def _cards_put(backend: BloomExposure, cards: dict[int, dict]) -> None:
    try:
        pipe = backend.client.pipeline(transaction=False)
        feed_queue.cards_store(pipe, cards)
        pipe.execute()
    except Exception as exc:
        exposure_mark_down(exc)
