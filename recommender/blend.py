"""Merge recall channels, re-rank for diversity, explain every item (pure: no Django import).

Serving calls :func:`blend_candidates` with each channel's top-N list for one user (freshly
scored or precomputed by a worker).  Scores of different channels live on different scales,
so each channel's list is put on a common scale before the weighted sum: min-max to (0, 1]
(``normalisation="minmax"``, the default) or reciprocal-rank fusion (``"rrf"``: the item at
rank r gets ``(RRF_K + 1) / (RRF_K + r)``, best 1), which ignores the shape of a channel's
score curve.  An item missing from a channel's list gets 0 from it.  Weights (and which
normalisation) are tuned offline by :func:`tune_weights` on validation splits cut from the
training data (never on the test split).  A learned fusion (a ranking model over per-channel
rank / score / presence features) was tried and did not beat these weights on validation
(``docs/recommender.md``), so the blend stays a weighted sum that serving can apply with no model.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np


@dataclass
class Candidate:
    """One channel's proposal: an item, its raw score, and optional evidence for the reason."""

    item: int
    score: float
    evidence: dict | None = None


@dataclass
class BlendedItem:
    """A blended recommendation: the channel that contributed most and a Chinese reason."""

    item: int
    score: float
    channel: str
    reason: str
    channels: dict[str, float] = field(default_factory=dict)
    evidence: dict = field(default_factory=dict)


def _display_tag(tag: str) -> str:
    for prefix in ("genre:", "cat:", "tag:", "#"):
        if tag.startswith(prefix):
            return tag[len(prefix) :]
    return tag


def reason_text(channel: str, evidence: Mapping | None, *, titles: Mapping | None = None) -> str:
    """Human-readable (Simplified Chinese) reason for an item recalled by ``channel``."""
    evidence = evidence or {}
    kind = evidence.get("kind")
    if kind == "item" and evidence.get("item") is not None:
        anchor = evidence["item"]
        title = (titles or {}).get(anchor)
        return f"因为你看过《{title}》" if title else "因为你看过相似的视频"
    if kind == "tag" and evidence.get("tag"):
        return f"你关注的标签：{_display_tag(str(evidence['tag']))}"
    if kind == "hot" or channel == "hot":
        group = evidence.get("group")
        return f"{group}热门" if group else "热门"
    if kind == "similar_users" or channel == "usercf":
        return "和你口味相似的人也喜欢"
    if kind == "followed" or channel == "followed":
        return "你关注的作者更新了"
    if kind == "fresh" or channel == "fresh":
        return "新上传"
    return "猜你喜欢"


def normalise_scores(scores: np.ndarray) -> np.ndarray:
    """Min-max scale one channel's candidate scores to (0, 1]: best 1, worst a small epsilon.

    The worst candidate keeps a little credit so that being recalled at all beats being absent.
    """
    scores = np.asarray(scores, dtype=np.float64)
    if scores.size == 0:
        return scores
    lo, hi = scores.min(), scores.max()
    if not np.isfinite(lo) or not np.isfinite(hi):
        raise ValueError("candidate scores must be finite")
    if hi == lo:
        return np.ones_like(scores)
    return 0.05 + 0.95 * (scores - lo) / (hi - lo)


# Cormack et al. (SIGIR 2009)'s constant: ranks deep in a list still count, the head is not
# all-important.  Fixed, not tuned (k in 30..100 gave the same validation NDCG on MovieLens).
RRF_K = 60.0
NORMALISATIONS = ("minmax", "rrf")


def rank_scores(scores: np.ndarray) -> np.ndarray:
    """Reciprocal-rank scores of one channel's candidates: ``(RRF_K + 1) / (RRF_K + rank)``.

    Rank 1 is the highest score (ties keep the input order), so the best candidate gets 1 and the
    values fall slowly; only the order of ``scores`` matters, not their scale or spread.
    """
    scores = np.asarray(scores, dtype=np.float64)
    if scores.size and not np.isfinite(scores).all():
        raise ValueError("candidate scores must be finite")
    ranks = np.empty(scores.size, dtype=np.float64)
    ranks[np.argsort(-scores, kind="stable")] = np.arange(1, scores.size + 1)
    return (RRF_K + 1.0) / (RRF_K + ranks)


def scale_scores(scores: np.ndarray, *, normalisation: str = "minmax") -> np.ndarray:
    """One channel's candidate scores on the blend's common scale (see the module docstring)."""
    if normalisation == "minmax":
        return normalise_scores(scores)
    if normalisation == "rrf":
        return rank_scores(scores)
    raise ValueError(f"unknown normalisation {normalisation!r}; known: {', '.join(NORMALISATIONS)}")


def _as_candidates(entries: Sequence) -> list[Candidate]:
    out = []
    for entry in entries:
        if isinstance(entry, Candidate):
            out.append(entry)
        else:
            item, score = entry[0], entry[1]
            out.append(Candidate(item=item, score=float(score)))
    return out


def _lookup(mapping, item):
    if mapping is None:
        return None
    if isinstance(mapping, Mapping):
        return mapping.get(item)
    return mapping[item] if 0 <= item < len(mapping) else None


def blend_candidates(
    candidates_by_channel: Mapping[str, Sequence],
    *,
    weights: Mapping[str, float],
    n: int = 20,
    exclude: set | frozenset = frozenset(),
    explain: Callable[[str, int], dict] | None = None,
    titles: Mapping | None = None,
    item_groups: Mapping | Sequence | None = None,
    item_tags: Mapping | Sequence | None = None,
    item_owner: Mapping | Sequence | None = None,
    diversity: float = 0.0,
    max_per_group: int | None = None,
    max_per_owner: int | None = None,
    normalisation: str = "minmax",
) -> list[BlendedItem]:
    """Merge per-channel candidate lists into one ranked, de-duplicated, explained list.

    ``candidates_by_channel`` maps a channel name to its candidates: :class:`Candidate` or
    ``(item, score)`` pairs, best first or not.  ``weights`` per channel (missing = 0, i.e.
    the channel is ignored).  ``exclude`` (already shown / watched / disliked / unpublished)
    never comes back.  ``diversity`` in [0, 1] is the MMR trade-off: 0 ranks by blended score
    only; higher values penalise an item by its similarity to what is already picked (Jaccard
    of ``item_tags``, or 1 for the same ``item_groups`` label).  ``max_per_group`` and
    ``max_per_owner`` cap items per category / uploader; when the caps leave fewer than ``n``
    items, capped items fill the tail rather than leaving the feed short.  ``explain(channel,
    item)`` supplies evidence for the reason when a candidate carries none.  ``normalisation``
    (``"minmax"`` or ``"rrf"``) puts each channel's scores on a common scale; use the one the
    weights were tuned with.
    """
    if normalisation not in NORMALISATIONS:
        raise ValueError(f"unknown normalisation {normalisation!r}; known: {', '.join(NORMALISATIONS)}")
    if not 0.0 <= diversity <= 1.0:
        raise ValueError("diversity must be in [0, 1]")
    if n <= 0:
        return []
    totals: dict = {}
    parts: dict = {}
    evidence: dict = {}
    for channel, entries in candidates_by_channel.items():
        weight = float(weights.get(channel, 0.0))
        if weight <= 0:
            continue
        cands = [c for c in _as_candidates(entries) if c.item not in exclude]
        if not cands:
            continue
        # Keep each item's best entry within a channel (lists may repeat an item).
        best: dict = {}
        for cand in cands:
            if cand.item not in best or cand.score > best[cand.item].score:
                best[cand.item] = cand
        cands = list(best.values())
        scaled = scale_scores(np.array([c.score for c in cands]), normalisation=normalisation) * weight
        for cand, value in zip(cands, scaled.tolist(), strict=True):
            totals[cand.item] = totals.get(cand.item, 0.0) + value
            parts.setdefault(cand.item, {})[channel] = value
            if cand.evidence is not None:
                evidence.setdefault(cand.item, {})[channel] = cand.evidence
    if not totals:
        return []
    # Ties broken by item id so that the order is deterministic.
    ranked = sorted(totals, key=lambda item: (-totals[item], str(item)))
    chosen = _rerank(
        ranked,
        totals,
        n=n,
        diversity=diversity,
        item_groups=item_groups,
        item_tags=item_tags,
        item_owner=item_owner,
        max_per_group=max_per_group,
        max_per_owner=max_per_owner,
    )
    out = []
    for item in chosen:
        channel = max(parts[item], key=lambda c: (parts[item][c], c))
        ev = evidence.get(item, {}).get(channel)
        if ev is None and explain is not None:
            ev = explain(channel, item)
        out.append(
            BlendedItem(
                item=item,
                score=float(totals[item]),
                channel=channel,
                reason=reason_text(channel, ev, titles=titles),
                channels=dict(parts[item]),
                evidence=ev or {},
            )
        )
    return out


def _similarity(a, b, item_groups, item_tags) -> float:
    if item_tags is not None:
        ta, tb = _lookup(item_tags, a), _lookup(item_tags, b)
        if ta and tb:
            ta, tb = set(ta), set(tb)
            return len(ta & tb) / len(ta | tb)
    if item_groups is not None:
        ga, gb = _lookup(item_groups, a), _lookup(item_groups, b)
        return 1.0 if ga and ga == gb else 0.0
    return 0.0


def _rerank(
    ranked, totals, *, n, diversity, item_groups, item_tags, item_owner, max_per_group, max_per_owner
) -> list:
    capped = max_per_group is not None or max_per_owner is not None
    if diversity == 0.0 and not capped:
        return ranked[:n]
    pool = ranked[: max(4 * n, 100)]  # MMR is quadratic: only the head can be re-ordered
    top = totals[pool[0]] or 1.0
    chosen: list = []
    skipped: list = []
    group_count: dict = {}
    owner_count: dict = {}
    max_sim = dict.fromkeys(pool, 0.0)
    remaining = list(pool)
    while remaining and len(chosen) < n:
        if diversity > 0:
            best = max(remaining, key=lambda i: ((1 - diversity) * totals[i] / top - diversity * max_sim[i]))
        else:
            best = remaining[0]
        remaining.remove(best)
        group = _lookup(item_groups, best) if max_per_group is not None else None
        owner = _lookup(item_owner, best) if max_per_owner is not None else None
        if (group and group_count.get(group, 0) >= max_per_group) or (
            owner is not None and owner_count.get(owner, 0) >= max_per_owner
        ):
            skipped.append(best)
            continue
        chosen.append(best)
        if group:
            group_count[group] = group_count.get(group, 0) + 1
        if owner is not None:
            owner_count[owner] = owner_count.get(owner, 0) + 1
        if diversity > 0:
            for other in remaining:
                max_sim[other] = max(max_sim[other], _similarity(best, other, item_groups, item_tags))
    chosen.extend(skipped[: n - len(chosen)])
    if len(chosen) < n:
        chosen.extend([i for i in ranked[len(pool) :] if i not in set(chosen)][: n - len(chosen)])
    return chosen


# --------------------------------------------------------------------------- offline tuning


def candidate_matrix(
    top_items: np.ndarray, top_scores: np.ndarray, n_items: int, *, normalisation: str = "minmax"
) -> np.ndarray:
    """Dense users x items matrix of normalised candidate scores (0 where not a candidate).

    ``top_items`` / ``top_scores``: per user row, the channel's candidate columns and raw
    scores (``-inf`` scores = padding).  Uses :func:`scale_scores` per row, the same
    scaling as :func:`blend_candidates` with the same ``normalisation``.
    """
    out = np.zeros((top_items.shape[0], n_items), dtype=np.float32)
    for row in range(top_items.shape[0]):
        ok = np.isfinite(top_scores[row])
        if ok.any():
            out[row, top_items[row][ok]] = scale_scores(top_scores[row][ok], normalisation=normalisation)
    return out


def _ndcg_rows(blended: np.ndarray, relevant: Sequence[np.ndarray], k: int) -> float:
    from recommender.base import top_n

    top = top_n(blended, k)
    discounts = 1.0 / np.log2(np.arange(2, k + 2))
    total = 0.0
    for row, rel in enumerate(relevant):
        picked = top[row][blended[row, top[row]] > 0]
        hits = np.isin(picked, rel)
        idcg = discounts[: min(len(rel), k)].sum()
        total += float((hits * discounts[: len(picked)]).sum() / idcg)
    return total / max(len(relevant), 1)


def blend_ndcg(
    *,
    channel_matrices: Mapping[str, np.ndarray],
    weights: Mapping[str, float],
    relevant: Sequence[np.ndarray],
    k: int = 10,
) -> float:
    """NDCG@k of the weighted sum of ``channel_matrices`` (from :func:`candidate_matrix`)."""
    used = [name for name, weight in weights.items() if weight > 0 and name in channel_matrices]
    if not used:
        return 0.0
    blended = sum(weights[name] * channel_matrices[name] for name in used)
    return _ndcg_rows(np.asarray(blended), relevant, k)


def tune_weights(
    *,
    channel_matrices: Mapping[str, np.ndarray],
    relevant: Sequence[np.ndarray],
    k: int = 10,
    grid: Sequence[float] = (0.0, 0.1, 0.25, 0.5, 1.0, 2.0),
    rounds: int = 3,
    min_gain: float = 0.0025,
) -> tuple[dict[str, float], float]:
    """Coordinate ascent over channel weights maximising NDCG@k on a validation split.

    ``channel_matrices`` come from :func:`candidate_matrix` (rows aligned with ``relevant``,
    the relevant validation columns per user).  Starts from the best single channel at weight 1
    and the others at 0, so the blend is never worse than the best channel on validation.  A
    weight only moves when it lifts validation NDCG by ``min_gain`` (relative): smaller gains
    are noise on a few hundred users and do not carry over to the test split.
    Returns the weights and the validation NDCG.
    """
    names = list(channel_matrices)
    if not names:
        raise ValueError("no channel to blend")
    singles = {name: _ndcg_rows(channel_matrices[name], relevant, k) for name in names}
    best_name = max(names, key=lambda c: singles[c])
    weights = {name: (1.0 if name == best_name else 0.0) for name in names}
    best = singles[best_name]

    def value(w: Mapping[str, float]) -> float:
        blended = sum(w[c] * channel_matrices[c] for c in names if w[c] > 0)
        return _ndcg_rows(np.asarray(blended), relevant, k)

    for _ in range(rounds):
        improved = False
        for name in names:
            if name == best_name:
                continue  # the anchor channel's weight stays 1: only the ratios matter
            for candidate in grid:
                if candidate == weights[name]:
                    continue
                trial = {**weights, name: candidate}
                score = value(trial)
                if score > best * (1 + min_gain):
                    best, weights, improved = score, trial, True
        if not improved:
            break
    return weights, best
