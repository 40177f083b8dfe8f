"""A page of the feed: the ranked answer (:func:`feed_build`), the served queue it writes for the next
pages (``services.feed_queue``) and the API answer served from that queue.

When artefacts are missing, stale or unreadable, or Redis is down, it degrades - stale lists, then hot
lists, then the latest uploads - and says so in ``source`` / ``why`` (and the log).
"""

from __future__ import annotations

import json
import logging
import pickle
import uuid

from django.conf import settings
from django.contrib.auth import get_user_model
from django.utils import timezone, translation
from django.utils.translation import gettext as _

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
from recommender.services.feed.impressions import impressions_record
from recommender.services.feed.lists import suggested_users
from recommender.services.feed.plan import (
    PLAN_KEY,
    Candidate,
    FeedPlan,
    _diversify,
    _explain,
    _history_ids,
    _plan_build,
    _plan_store,
    _plan_ttl,
    _reason,
    _safe,
)
from recommender.services.feed.result import FeedResult, _json_bytes, feed_result_dict
from recommender.services.feed_queue import PLAN_VERSION_KEY
from recommender.services.profile import recent_engagement_get
from recommender.services.serving import cards_for, fresh_ids, servable_ids, serving_stamp

logger = logging.getLogger(__name__)


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
    # returns uploader and category (for the diversity re-rank); the queue's cards are joined when
    # its pages are served.
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
        while rest:
            page_items = _diversify(rest[: size * 4], meta, size - 1 if explores and size >= 4 else size)
            if explores and size >= 4:
                page_items.insert(min(3, len(page_items)), explores.pop(0))
            later += page_items
            picked = {c.video_id for c in page_items}
            rest = [c for c in rest if c.video_id not in picked]

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


# --------------------------------------------------------------------------- the API answer and its queue


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
    ids = [v for v, _item in served.items]
    cards = feed_queue.cards_json(backend=backend, ids=ids)
    missing = [v for v in ids if v not in cards]
    if missing:  # cards dropped from Redis (a like, an edit, expiry): read them once, store them again
        fetched = cards_for(ids=missing, disliked_by=served.user_id)
        _cards_put(backend, fetched)
        cards.update((v, _json_bytes(card)) for v, card in fetched.items())
    results = b",".join(b'{"video":' + cards[v] + b"," + item[1:] for v, item in served.items if v in cards)
    suggested = b"[]"
    if page == 1 and served.cold_start:
        if user is None:
            user = get_user_model().objects.filter(pk=served.user_id).first()
        suggested = _json_bytes(suggested_users(user=user, limit=5))
    return b"".join((served.head, results, b'],"suggested_users":', suggested, b"}"))


def _cards_put(backend: BloomExposure, cards: dict[int, dict]) -> None:
    try:
        pipe = backend.client.pipeline(transaction=False)
        feed_queue.cards_store(pipe, cards)
        pipe.execute()
    except Exception as exc:
        exposure_mark_down(exc)
