"""Offline ranking metrics (pure: no Django import).

Binary relevance.  For one user with ranked list ``r`` (length <= K) and relevant set ``R``:

* Recall@K = |r ∩ R| / |R|
* HR@K     = 1 if r ∩ R is not empty, else 0
* NDCG@K   = DCG / IDCG, DCG = sum over hits at 0-based rank i of 1 / log2(i + 2),
  IDCG = the DCG of min(|R|, K) hits at the top.

Users with no relevant item are skipped by :func:`evaluate_rankings` (they cannot score).
Coverage = distinct items recommended to anyone / catalogue size.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

import numpy as np


def _check(ranked: Sequence, k: int) -> list:
    if k <= 0:
        raise ValueError("k must be positive")
    ranked = list(ranked)[:k]
    if len(set(ranked)) != len(ranked):
        raise ValueError("a ranked list must not contain duplicates")
    return ranked


def recall_at_k(ranked: Sequence, relevant: Iterable, k: int) -> float:
    """Share of the relevant items found in the top ``k``."""
    relevant = set(relevant)
    if not relevant:
        raise ValueError("recall is undefined without relevant items")
    ranked = _check(ranked, k)
    return sum(1 for item in ranked if item in relevant) / len(relevant)


def hit_rate_at_k(ranked: Sequence, relevant: Iterable, k: int) -> float:
    """1.0 if any relevant item is in the top ``k``."""
    relevant = set(relevant)
    if not relevant:
        raise ValueError("hit rate is undefined without relevant items")
    return float(any(item in relevant for item in _check(ranked, k)))


def ndcg_at_k(ranked: Sequence, relevant: Iterable, k: int) -> float:
    """Binary-relevance NDCG with a log2 discount; ideal DCG over min(|relevant|, k) hits."""
    relevant = set(relevant)
    if not relevant:
        raise ValueError("NDCG is undefined without relevant items")
    ranked = _check(ranked, k)
    dcg = sum(1.0 / np.log2(i + 2) for i, item in enumerate(ranked) if item in relevant)
    idcg = sum(1.0 / np.log2(i + 2) for i in range(min(len(relevant), k)))
    return float(dcg / idcg)


def coverage(recommended: Iterable[Iterable], n_items: int) -> float:
    """Distinct recommended items / catalogue size."""
    if n_items <= 0:
        raise ValueError("n_items must be positive")
    seen: set = set()
    for items in recommended:
        seen.update(items)
    return len(seen) / n_items


def evaluate_rankings(*, rankings: Mapping, relevant: Mapping, k: int, n_items: int) -> dict[str, float]:
    """Mean Recall@K, NDCG@K, HR@K over users with relevant items, plus catalogue coverage.

    ``rankings`` maps user -> ranked items (best first), ``relevant`` user -> relevant items.
    A user with relevant items but no ranking counts as all-miss.
    """
    users = [u for u, rel in relevant.items() if len(rel)]
    if not users:
        raise ValueError("no user has a relevant test item: nothing to evaluate")
    recalls, ndcgs, hits = [], [], []
    for user in users:
        ranked = list(rankings.get(user, []))[:k]
        recalls.append(recall_at_k(ranked, relevant[user], k))
        ndcgs.append(ndcg_at_k(ranked, relevant[user], k))
        hits.append(hit_rate_at_k(ranked, relevant[user], k))
    return {
        "recall": float(np.mean(recalls)),
        "ndcg": float(np.mean(ndcgs)),
        "hr": float(np.mean(hits)),
        "coverage": coverage((list(r)[:k] for r in rankings.values()), n_items),
        "users": len(users),
    }
