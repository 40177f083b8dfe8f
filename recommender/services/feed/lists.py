"""Related videos, hot lists and uploaders to follow: the non-feed recommendation lists."""

from __future__ import annotations

import uuid

from django.utils.translation import gettext as _

from recommender import selectors
from recommender.services.feed.impressions import impressions_record
from recommender.services.feed.plan import _Pool, _reason, _safe
from recommender.services.feed.result import FeedResult
from recommender.services.serving import cards_for, fresh_ids, servable_ids

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
