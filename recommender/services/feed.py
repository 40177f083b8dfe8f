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
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from recommender import selectors
from recommender.services.exposure import (
    BloomExposure,
    ExactExposure,
    exposure_backend,
    exposure_mark_down,
    exposure_seen,
    viewer_key,
)
from recommender.services.jobs import _demographic_keys
from recommender.services.profile import recent_engagement_get
from recommender.services.serving import (
    ArtefactUnavailable,
    artefact_get,
    cards_for,
    fresh_ids,
    servable_ids,
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


def _diversify(ordered: list[Candidate], cards: dict[int, dict], size: int) -> list[Candidate]:
    """Greedy re-rank: at most PER_OWNER_CAP videos per uploader and ~40 % per category in a page;
    the caps are relaxed when the candidates run out rather than returning a short page."""
    category_cap = max(2, math.ceil(size * 0.4))
    chosen: list[Candidate] = []
    owners: dict[int, int] = {}
    categories: dict[str, int] = {}
    rest: list[Candidate] = []
    for cand in ordered:
        card = cards[cand.video_id]
        owner, category = card["owner"]["id"], card["category"] or ""
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
PLAN_VERSION_KEY = "rec:planver:{viewer}"
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


def feed_plan_invalidate(*, user_id: int) -> None:
    """Make the viewer's next feed request rebuild their plan (after a dislike, an interest edit...).
    The dislike itself is enforced by the database check of every answer in any case; this also
    brings the viewer's changed interests into the ranking at once."""
    backend = exposure_backend()
    if isinstance(backend, BloomExposure):
        try:
            backend.client.incr(PLAN_VERSION_KEY.format(viewer=viewer_key(user_id=user_id, session_key=None)))
        except Exception as exc:
            exposure_mark_down(exc)


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
        if cand.channel == "content" and cand.tag is None and col is not None:
            if interests:
                cand.tag = _best_tag(bundle.content, col, interests)
            elif user_id in bundle.user_index:
                cand.tag = bundle.content.explain(bundle.user_index[user_id], col).get("tag")


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


def feed_build(*, user, session_key: str | None, page: int = 1, size: int = 20, record: bool = True) -> FeedResult:
    """One page of the viewer's feed.  Everything already shown (exposure filter) is excluded, so
    page N+1 continues where page N stopped and never repeats it.

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
    exposure_name = backend.name
    plan: FeedPlan | None = None
    plan_version = b""
    bitmaps: list = []
    recent: list[tuple[int, float]] | None = None
    if isinstance(backend, BloomExposure):
        try:
            from django.core.cache import cache

            pipe = backend.client.pipeline(transaction=False)
            pipe.get(PLAN_KEY.format(viewer=plan_viewer))
            pipe.get(PLAN_VERSION_KEY.format(viewer=plan_viewer))
            pipe.get(cache.make_key(f"rec:recent:u{user_id}") if user_id is not None else "rec:none")
            backend.queue_read(pipe, viewer)
            replies = pipe.execute()
            raw_plan, plan_version, raw_recent, bitmaps = replies[0], replies[1] or b"", replies[2], replies[3:]
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
    ordered = [c for c in ordered if c.video_id not in seen]

    # Cards of a few more than a page (plus an exploration candidate): the servable and dislike
    # check inside cards_for (one query on these ids) is the final, authoritative filter.
    head = ordered[: size * 2]
    taken = {c.video_id for c in head}
    explore = next((v for v in fresh if v in allowed and v not in seen and v not in disliked
                    and v not in taken), None) if size >= 4 else None
    cards = cards_for(ids=[c.video_id for c in head] + ([explore] if explore is not None else []),
                      disliked_by=user_id)

    def mine(video_id: int) -> bool:
        return user_id is not None and cards[video_id]["owner"]["id"] == user_id

    head = [c for c in head if c.video_id in cards and not mine(c.video_id)]
    chosen = _diversify(head, cards, size)
    # Exploration: the newest unseen upload gets a slot on every page (a new video with no views
    # gets its first audience), unless it is on the page already.
    if size >= 4:
        # The newest upload not seen yet whose card passed the servable check.
        on_page = {c.video_id for c in chosen}
        newest = next((v for v in fresh if v in cards and v not in seen and v not in disliked
                       and not mine(v)), None)
        if newest is not None and newest not in on_page:
            explore_cand = Candidate(video_id=newest, channel="fresh")
            if len(chosen) >= size:
                chosen.pop()
            chosen.insert(min(3, len(chosen)), explore_cand)

    # Reasons need the anchor titles (item-CF items explained by the viewer's own history).
    bundle = interactions.payload if interactions else None
    anchors = [c.anchor for c in chosen if c.anchor is not None]
    if bundle is not None and bundle.itemcf is not None:
        for cand in chosen:
            if cand.channel == "itemcf" and cand.anchor is None:
                row, col = bundle.user_index.get(user_id), bundle.item_index.get(cand.video_id)
                if row is not None and col is not None:
                    info = bundle.itemcf.explain(row, col)
                    if info.get("kind") == "item" and info.get("item") is not None:
                        cand.anchor = int(bundle.item_ids[info["item"]])
                        anchors.append(cand.anchor)
    titles = titles_for(ids=anchors) if anchors else {}
    unexplained = [c for c in chosen if c.channel == "content" and c.tag is None]
    _content_tags(bundle, unexplained, user_id, getattr(plan, "interests", {}))

    items = [
        {
            "video": cards[c.video_id],
            "channel": "itemcf" if c.channel == "recent" else c.channel,
            "reason": _reason(c, titles),
            "artefact_version": c.version,
            "realtime": c.channel == "recent",
        }
        for c in chosen
    ]
    result = FeedResult(items=items, source=source, why=why, degraded=degraded, versions=versions,
                        request_id=request_id, page=page, size=size, exposure=exposure_name,
                        cold_start=cold_start)
    if cold_start and page == 1:
        result.suggested_users = suggested_users(user=user, limit=5)
    extra = {}
    if built and _plan_ttl() > 0:
        extra[PLAN_KEY.format(viewer=plan_viewer)] = pickle.dumps(plan, protocol=pickle.HIGHEST_PROTOCOL)
    if record:
        impressions_record(user_id=user_id, session_key=session_key, items=items, request_id=request_id,
                           surface="feed", source=source, backend=backend, extra_sets=extra)
    elif extra and isinstance(backend, BloomExposure):
        _plan_store(backend, extra)
    return result


def _plan_store(backend, extra: dict[str, bytes]) -> None:
    try:
        pipe = backend.client.pipeline(transaction=False)
        for key, value in extra.items():
            pipe.set(key, value, ex=_plan_ttl())
        pipe.execute()
    except Exception as exc:
        exposure_mark_down(exc)


IMPRESSION_BUFFER_KEY = "rec:impressions"


def impressions_record(*, user_id: int | None, session_key: str | None, items: list[dict], request_id: str,
                       surface: str, source: str = "", backend=None, extra_sets: dict | None = None) -> None:
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
    now = timezone.now()
    rows = [
        {"user_id": user_id, "session_key": "" if user_id else (session_key or ""), "video_id": item["video"]["id"],
         "created_at": now.isoformat(),
         "context": {"surface": surface, "channel": item["channel"], "request_id": request_id,
                     "position": position, "artefact_version": item["artefact_version"], "source": source}}
        for position, item in enumerate(items)
    ]
    video_ids = [row["video_id"] for row in rows]
    if isinstance(backend, BloomExposure):
        buffered = getattr(settings, "RECOMMENDER_IMPRESSION_BUFFER", True)
        cap = int(getattr(settings, "RECOMMENDER_IMPRESSION_BUFFER_MAX", 500_000))
        try:
            pipe = backend.client.pipeline(transaction=False)
            backend.queue_add(pipe, viewer_key(user_id=user_id, session_key=session_key), video_ids)
            for key, value in (extra_sets or {}).items():
                pipe.set(key, value, ex=_plan_ttl())
            if buffered:
                pipe.rpush(IMPRESSION_BUFFER_KEY, *[json.dumps(row) for row in rows])
            replies = pipe.execute()
            if buffered and replies[-1] > cap:
                # No flush for a long time (beat stopped): bound Redis memory, keep the newest rows.
                backend.client.ltrim(IMPRESSION_BUFFER_KEY, -cap, -1)
                logger.warning("impression buffer over %d rows: the oldest were dropped (is beat running?)", cap)
            if buffered:
                return
        except Exception as exc:  # Redis went away: write them now, where the exact filter reads
            exposure_mark_down(exc)
    _impressions_insert(rows)


def _impressions_insert(rows: list[dict]) -> int:
    events = [
        Event(user_id=row["user_id"], session_key=row["session_key"], video_id=row["video_id"],
              kind=Event.Kind.IMPRESSION, context=row["context"],
              created_at=datetime.fromisoformat(row["created_at"]))
        for row in rows
    ]
    Event.objects.bulk_create(events, batch_size=1000)
    return len(events)


def impressions_flush(*, max_rows: int = 20_000) -> int:
    """Move buffered impressions from Redis to the event log (atomic take: LRANGE + LTRIM in MULTI)."""
    backend = exposure_backend()
    if not isinstance(backend, BloomExposure):
        return 0
    pipe = backend.client.pipeline(transaction=True)
    pipe.lrange(IMPRESSION_BUFFER_KEY, 0, max_rows - 1)
    pipe.ltrim(IMPRESSION_BUFFER_KEY, max_rows, -1)
    raw, _trimmed = pipe.execute()
    if not raw:
        return 0
    rows = [json.loads(item) for item in raw]
    # A video deleted since it was shown: its impression has nothing to point at.
    existing = set(Video.objects.filter(id__in={row["video_id"] for row in rows}).values_list("id", flat=True))
    return _impressions_insert([row for row in rows if row["video_id"] in existing])


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
