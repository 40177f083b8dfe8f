"""Request-time access to the artefacts: loaders (one load per process and version) and the small
process-local caches the feed reads.  Nothing here trains or touches the event log."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp
from django.conf import settings

from recommender import selectors
from recommender.services.artefacts import ArtefactUnavailable, LoadedArtefact, artefact_load, artefacts_forget


@dataclass
class CandidateBundle:
    """Per-user candidate lists of several channels (``candidates.npz``) plus loaded channels."""

    user_index: dict[int, int]
    item_ids: np.ndarray
    item_index: dict[int, int]
    lists: dict[str, sp.csr_matrix]
    itemcf: Any = None  # recommender.channels.ItemCF (neighbours, history) or None
    content: Any = None  # recommender.channels.ContentChannel or None

    def user_list(self, channel: str, user_id: int | None) -> list[tuple[int, float]]:
        row = self.user_index.get(user_id) if user_id is not None else None
        matrix = self.lists.get(channel)
        if row is None or matrix is None:
            return []
        start, stop = matrix.indptr[row], matrix.indptr[row + 1]
        cols, vals = matrix.indices[start:stop], matrix.data[start:stop]
        return [(int(self.item_ids[c]), float(v)) for c, v in zip(cols.tolist(), vals.tolist(), strict=True)]


def _load_candidates(path: Path) -> CandidateBundle:
    with np.load(path / "candidates.npz") as arrays:
        user_ids = arrays["user_ids"]
        item_ids = arrays["item_ids"]
        shape = (len(user_ids), len(item_ids))
        lists = {
            str(name): sp.csr_matrix(
                (arrays[f"{name}_data"], arrays[f"{name}_indices"], arrays[f"{name}_indptr"]), shape=shape
            )
            for name in arrays["channels"].tolist()
        }
    bundle = CandidateBundle(
        user_index={int(u): i for i, u in enumerate(user_ids.tolist())},
        item_ids=item_ids,
        item_index={int(v): i for i, v in enumerate(item_ids.tolist())},
        lists=lists,
    )
    if (path / "itemcf").exists():
        from recommender.channels import ItemCF

        bundle.itemcf = ItemCF.load(path / "itemcf")
    if (path / "content").exists():
        from recommender.channels import ContentChannel

        bundle.content = ContentChannel.load(path / "content")
    return bundle


def _load_hot(path: Path) -> dict:
    hot = json.loads((path / "hot.json").read_text())
    if not isinstance(hot, dict) or "global" not in hot:
        raise ValueError("hot.json has no global list")
    return hot


LOADERS: dict[str, Callable[[Path], Any]] = {
    "interactions": _load_candidates,
    "model": _load_candidates,
    "hot": _load_hot,
}


def artefact_get(kind: str) -> LoadedArtefact:
    """The loaded artefact of ``kind`` (see ``artefact_load``); raises ArtefactUnavailable."""
    return artefact_load(kind=kind, loader=LOADERS[kind])


_stamp_cache: list = [0.0, None]


def serving_stamp() -> tuple[str, str]:
    """(stamp of the artefacts a queue was ranked from, version of the hot lists): a queue built from
    other versions, or before an artefact went stale, is rebuilt.  Recomputed at most once a second
    per process (the artefact versions themselves are re-read every few seconds)."""
    now = time.monotonic()
    ttl = min(1.0, float(getattr(settings, "RECOMMENDER_VERSION_TTL_SECONDS", 5)))
    if _stamp_cache[1] is not None and now - _stamp_cache[0] < ttl:
        return _stamp_cache[1]
    _stamp_cache[:] = [now, _serving_stamp_compute()]
    return _stamp_cache[1]


def _serving_stamp_compute() -> tuple[str, str]:
    parts, hot_version = [], "none"
    for kind in ("interactions", "model", "hot"):
        try:
            art = artefact_get(kind)
        except ArtefactUnavailable:
            parts.append(f"{kind}=-")
            continue
        parts.append(f"{kind}={art.version}:{int(art.stale)}")
        if kind == "hot":
            hot_version = art.version
    return "|".join(parts), hot_version


# --------------------------------------------------------------------------- small TTL caches

_local: dict[str, tuple[float, Any]] = {}
_local_lock = threading.Lock()


def _ttl_cached(name: str, fn: Callable[[], Any]) -> Any:
    ttl = float(getattr(settings, "RECOMMENDER_LOCAL_CACHE_SECONDS", 30))
    now = time.monotonic()
    with _local_lock:
        hit = _local.get(name)
        if hit and now - hit[0] < ttl:
            return hit[1]
    value = fn()
    with _local_lock:
        _local[name] = (now, value)
    return value


def servable_ids() -> set[int]:
    """Published public videos without a blocked tag (cached per process for a few seconds; the
    card query of each response re-checks the few videos actually served)."""
    return _ttl_cached("servable", selectors.servable_video_ids)


def fresh_ids() -> list[int]:
    return _ttl_cached("fresh", lambda: selectors.latest_public_video_ids(limit=100))


_cards: dict[int, tuple[float, dict]] = {}


def cards_for(*, ids: list[int], disliked_by: int | None = None) -> dict[int, dict]:
    """Cards of the servable videos among ``ids`` (minus the videos ``disliked_by`` disliked).  Which
    videos may be shown is checked in the database on every call (one query); the card contents
    (title, owner, counts) are cached per process for ``RECOMMENDER_LOCAL_CACHE_SECONDS`` (counts
    may lag by that much)."""
    if not ids:
        return {}
    allowed = selectors.servable_among(ids=ids, disliked_by=disliked_by)
    ttl = float(getattr(settings, "RECOMMENDER_LOCAL_CACHE_SECONDS", 30))
    now = time.monotonic()
    out, missing = {}, []
    for video_id in allowed:
        hit = _cards.get(video_id)
        if hit and now - hit[0] < ttl:
            out[video_id] = hit[1]
        else:
            missing.append(video_id)
    if missing:
        fresh = selectors.video_cards(ids=missing, servable_only=False)
        if len(_cards) > 50_000:
            _cards.clear()
        for video_id, card in fresh.items():
            _cards[video_id] = (now, card)
        out.update(fresh)
    return out


_titles: dict[int, str] = {}


def titles_for(*, ids: list[int]) -> dict[int, str]:
    """Titles of the anchor videos of reasons ("因为你看过《…》"), cached per process."""
    for video_id in ids:  # a card already in the cache has the title: no query for it
        hit = _cards.get(video_id)
        if hit is not None and video_id not in _titles:
            _titles[video_id] = hit[1]["title"]
    missing = [v for v in ids if v not in _titles]
    if missing:
        if len(_titles) > 50_000:
            _titles.clear()
        _titles.update(selectors.video_titles(ids=missing))
    return {v: _titles[v] for v in ids if v in _titles}


def serving_caches_clear() -> None:
    """Forget every per-process cache (tests, or after a manual artefact switch)."""
    _stamp_cache[:] = [0.0, None]
    from recommender.services.feed_queue import card_bytes_forget

    card_bytes_forget()
    with _local_lock:
        _local.clear()
    _cards.clear()
    _titles.clear()
    artefacts_forget()


__all__ = ["ArtefactUnavailable", "CandidateBundle", "artefact_get", "cards_for", "fresh_ids", "servable_ids",
           "serving_caches_clear", "serving_stamp"]
