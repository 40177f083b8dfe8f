"""Blending: weights, dedupe, exclusion, diversity, reasons; plus the no-duplicates property."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from recommender.blend import (
    Candidate,
    blend_candidates,
    blend_ndcg,
    candidate_matrix,
    normalise_scores,
    rank_scores,
    reason_text,
    scale_scores,
    tune_weights,
)


def test_weighted_merge_dedupes_and_keeps_the_main_channel():
    cands = {
        "itemcf": [(1, 0.9), (2, 0.5), (3, 0.1)],
        "hot": [(3, 100.0), (4, 50.0), (1, 10.0)],
    }
    out = blend_candidates(cands, weights={"itemcf": 1.0, "hot": 0.5}, n=10)
    items = [b.item for b in out]
    assert len(items) == len(set(items)) == 4
    assert items[0] == 1  # top of itemcf and also recalled by hot
    by_item = {b.item: b for b in out}
    assert by_item[1].channel == "itemcf" and set(by_item[1].channels) == {"itemcf", "hot"}
    assert by_item[4].channel == "hot" and by_item[4].reason == "热门"
    assert [b.score for b in out] == sorted((b.score for b in out), reverse=True)


def test_zero_weight_channels_and_excluded_items_never_come_back():
    cands = {"itemcf": [(1, 0.9), (2, 0.5)], "hot": [(3, 1.0)]}
    out = blend_candidates(cands, weights={"itemcf": 1.0, "hot": 0.0}, n=10, exclude={1})
    assert [b.item for b in out] == [2]
    assert blend_candidates({}, weights={}, n=5) == []


def test_reasons_in_chinese_from_evidence_or_explain_callback():
    titles = {7: "舌尖上的中国"}
    cands = {
        "itemcf": [Candidate(item=1, score=1.0, evidence={"kind": "item", "item": 7})],
        "content": [(2, 0.5)],
        "hot": [(3, 0.2)],
        "usercf": [(4, 0.1)],
    }

    def explain(channel, item):
        return (
            {"kind": "tag", "tag": "cat:美食"} if channel == "content" else {"kind": "hot", "group": "科技"}
        )

    out = {
        b.item: b.reason
        for b in blend_candidates(
            cands, weights=dict.fromkeys(cands, 1.0), n=4, explain=explain, titles=titles
        )
    }
    assert out[1] == "因为你看过《舌尖上的中国》"
    assert out[2] == "你关注的标签：美食"
    assert out[3] == "科技热门"
    assert out[4] == "科技热门"  # the callback's evidence wins over the channel default
    assert reason_text("usercf", None) == "和你口味相似的人也喜欢"
    assert reason_text("tf", {"kind": "model"}) == "猜你喜欢"


def test_diversity_rerank_and_caps():
    cands = {"c": [(i, 10.0 - i) for i in range(6)]}
    groups = {0: "美食", 1: "美食", 2: "美食", 3: "科技", 4: "科技", 5: "旅行"}
    plain = [b.item for b in blend_candidates(cands, weights={"c": 1.0}, n=3)]
    assert plain == [0, 1, 2]
    mmr = [
        b.item for b in blend_candidates(cands, weights={"c": 1.0}, n=3, item_groups=groups, diversity=0.5)
    ]
    assert len({groups[i] for i in mmr}) == 3
    capped = [
        b.item
        for b in blend_candidates(
            cands, weights={"c": 1.0}, n=3, item_owner={0: "a", 1: "a", 2: "a"}, max_per_owner=1
        )
    ]
    assert capped == [0, 3, 4]
    # caps never leave the feed short when the pool runs out
    short = blend_candidates(
        {"c": [(0, 1.0), (1, 0.5)]}, weights={"c": 1.0}, n=2, item_groups={0: "x", 1: "x"}, max_per_group=1
    )
    assert [b.item for b in short] == [0, 1]


def test_normalise_scores():
    np.testing.assert_allclose(normalise_scores(np.array([2.0, 1.0, 0.0])), [1.0, 0.525, 0.05])
    np.testing.assert_allclose(normalise_scores(np.array([3.0, 3.0])), [1.0, 1.0])
    with pytest.raises(ValueError, match="finite"):
        normalise_scores(np.array([1.0, np.inf]))


def test_rank_scores_depend_on_order_only():
    # rank 1 -> 1, rank 2 -> 61/62, rank 3 -> 61/63, whatever the scale of the raw scores
    expected = [61 / 62, 1.0, 61 / 63]
    np.testing.assert_allclose(rank_scores(np.array([5.0, 900.0, -3.0])), expected)
    np.testing.assert_allclose(rank_scores(np.array([0.2, 0.3, 0.1])), expected)
    assert rank_scores(np.array([])).size == 0
    with pytest.raises(ValueError, match="finite"):
        rank_scores(np.array([1.0, np.nan]))
    with pytest.raises(ValueError, match="unknown normalisation"):
        scale_scores(np.array([1.0]), normalisation="zscore")


def test_rrf_blend_is_immune_to_one_channel_score_outlier():
    # "a" has one huge score: min-max squashes its other candidates to ~0.05, so both of the
    # lower-weighted "b"'s items jump ahead of them; with reciprocal ranks "a"'s runners-up keep
    # nearly full credit and, "a" weighing more, stay ahead of "b".
    cands = {"a": [(1, 1000.0), (2, 2.0), (3, 1.0)], "b": [(4, 1.0), (5, 0.9), (6, 0.0)]}
    weights = {"a": 1.0, "b": 0.9}
    minmax = [b.item for b in blend_candidates(cands, weights=weights, n=4)]
    rrf = [b.item for b in blend_candidates(cands, weights=weights, n=4, normalisation="rrf")]
    assert minmax == [1, 4, 5, 2]
    assert rrf == [1, 2, 3, 4]
    with pytest.raises(ValueError, match="unknown normalisation"):
        blend_candidates(cands, weights=weights, normalisation="zscore")


def test_candidate_matrix_uses_the_blend_scaling():
    items = np.array([[2, 0, 1]])
    scores = np.array([[3.0, 2.0, -np.inf]])
    np.testing.assert_allclose(candidate_matrix(items, scores, 4), [[0.05, 0.0, 1.0, 0.0]], rtol=1e-6)
    np.testing.assert_allclose(
        candidate_matrix(items, scores, 4, normalisation="rrf"), [[61 / 62, 0.0, 1.0, 0.0]], rtol=1e-6
    )


def test_tune_weights_finds_the_useful_channel():
    # channel "good" ranks each user's relevant item first; "noise" ranks it last.
    n_users, n_items = 20, 30
    rng = np.random.default_rng(0)
    relevant = [np.array([u % n_items]) for u in range(n_users)]
    good_items = np.array([[u % n_items] + [(u + j) % n_items for j in range(1, 10)] for u in range(n_users)])
    noise_items = np.array(
        [rng.permutation([i for i in range(n_items) if i != u % n_items])[:10] for u in range(n_users)]
    )
    scores = np.tile(np.linspace(1.0, 0.1, 10), (n_users, 1))
    mats = {
        "noise": candidate_matrix(noise_items, scores, n_items),
        "good": candidate_matrix(good_items, scores, n_items),
    }
    weights, ndcg = tune_weights(channel_matrices=mats, relevant=relevant, k=5)
    assert weights["good"] == 1.0 and weights["noise"] < 1.0
    assert ndcg == pytest.approx(1.0)


def test_blend_ndcg_scores_the_weighted_sum():
    # Two users, one relevant item each; "a" ranks it first for user 0, "b" for user 1.
    relevant = [np.array([0]), np.array([1])]
    a = np.array([[1.0, 0.5, 0.0], [0.0, 0.5, 1.0]], dtype=np.float32)
    b = np.array([[0.2, 0.5, 1.0], [0.5, 1.0, 0.0]], dtype=np.float32)
    mats = {"a": a, "b": b}
    first_hit = 1.0
    third_hit = 1.0 / np.log2(4)
    assert blend_ndcg(channel_matrices=mats, weights={"a": 1.0}, relevant=relevant, k=3) == pytest.approx(
        (first_hit + 1.0 / np.log2(3)) / 2
    )
    assert blend_ndcg(channel_matrices=mats, weights={"b": 1.0}, relevant=relevant, k=3) == pytest.approx(
        (third_hit + first_hit) / 2
    )
    # Zero and unknown weights are ignored; no channel at all scores 0.
    both = blend_ndcg(channel_matrices=mats, weights={"a": 1.0, "b": 0.0, "c": 2.0}, relevant=relevant, k=3)
    assert both == blend_ndcg(channel_matrices=mats, weights={"a": 1.0}, relevant=relevant, k=3)
    assert blend_ndcg(channel_matrices=mats, weights={"a": 0.0}, relevant=relevant, k=3) == 0.0


channel_lists = st.lists(st.tuples(st.integers(0, 40), st.floats(-5, 5, allow_nan=False)), max_size=30)


@settings(max_examples=150, deadline=None)
@given(
    cands=st.dictionaries(st.sampled_from(["itemcf", "usercf", "content", "hot", "tf"]), channel_lists),
    weights=st.dictionaries(
        st.sampled_from(["itemcf", "usercf", "content", "hot", "tf"]), st.floats(0, 3, allow_nan=False)
    ),
    exclude=st.sets(st.integers(0, 40)),
    n=st.integers(1, 25),
    diversity=st.floats(0, 1),
    cap=st.one_of(st.none(), st.integers(1, 3)),
)
def test_property_no_duplicates_and_no_excluded_items(cands, weights, exclude, n, diversity, cap):
    groups = {i: f"g{i % 4}" for i in range(41)}
    out = blend_candidates(
        cands,
        weights=weights,
        n=n,
        exclude=exclude,
        item_groups=groups,
        diversity=diversity,
        max_per_group=cap,
    )
    items = [b.item for b in out]
    assert len(items) == len(set(items))
    assert not set(items) & exclude
    assert len(items) <= n
    offered = {i for ch, lst in cands.items() if weights.get(ch, 0) > 0 for i, _ in lst} - exclude
    assert len(items) == min(n, len(offered))
    assert all(b.reason for b in out)
