"""Ranking metrics against values computed by hand."""

from __future__ import annotations

import math

import pytest

from recommender.metrics import coverage, evaluate_rankings, hit_rate_at_k, ndcg_at_k, recall_at_k


def test_recall_hit_rate_and_ndcg_by_hand():
    ranked = ["a", "b", "c", "d"]
    relevant = {"b", "d", "z"}
    assert recall_at_k(ranked, relevant, 4) == pytest.approx(2 / 3)
    assert recall_at_k(ranked, relevant, 1) == 0.0
    assert hit_rate_at_k(ranked, relevant, 2) == 1.0
    assert hit_rate_at_k(ranked, relevant, 1) == 0.0
    # hits at ranks 2 and 4: 1/log2(3) + 1/log2(5); ideal: 3 hits at the top of 4 slots.
    dcg = 1 / math.log2(3) + 1 / math.log2(5)
    idcg = 1 + 1 / math.log2(3) + 1 / math.log2(4)
    assert ndcg_at_k(ranked, relevant, 4) == pytest.approx(dcg / idcg)


def test_ideal_dcg_is_over_min_of_relevant_and_k():
    # 5 relevant items, k = 2, both slots hit: perfect despite 3 relevant items left over.
    assert ndcg_at_k([1, 2], {1, 2, 3, 4, 5}, 2) == pytest.approx(1.0)
    # one relevant item found at rank 2 of 10
    assert ndcg_at_k(list(range(10)), {1}, 10) == pytest.approx(1 / math.log2(3))


def test_metrics_cut_the_list_at_k():
    assert recall_at_k([1, 2, 3], {3}, 2) == 0.0
    assert ndcg_at_k([1, 2, 3], {3}, 2) == 0.0


def test_bad_input_is_refused():
    with pytest.raises(ValueError, match="relevant"):
        ndcg_at_k([1], set(), 10)
    with pytest.raises(ValueError, match="k must be positive"):
        recall_at_k([1], {1}, 0)
    with pytest.raises(ValueError, match="duplicates"):
        ndcg_at_k([1, 1], {1}, 2)


def test_coverage_and_mean_over_users():
    assert coverage([[1, 2], [2, 3]], 10) == pytest.approx(0.3)
    result = evaluate_rankings(
        rankings={"u1": [1, 2], "u2": [3, 4], "u3": [9]},
        relevant={"u1": {1}, "u2": {5}, "u4": set()},
        k=2,
        n_items=10,
    )
    assert result["users"] == 2  # u4 has nothing relevant: skipped
    assert result["hr"] == pytest.approx(0.5)
    assert result["recall"] == pytest.approx(0.5)
    assert result["ndcg"] == pytest.approx(0.5)
    assert result["coverage"] == pytest.approx(0.5)


def test_a_user_without_ranking_counts_as_a_miss():
    result = evaluate_rankings(rankings={}, relevant={"u": {1}}, k=5, n_items=3)
    assert result["ndcg"] == 0.0 and result["hr"] == 0.0
