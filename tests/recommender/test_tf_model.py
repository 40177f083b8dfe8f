"""The TensorFlow recall channel (recommender/models/mf.py) on small synthetic data.

Two user groups, each liking its own half of the catalogue: a working model must rank the
user's own group first.  Training takes a few seconds per fit, so fitted models are shared
per module.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp

from recommender.base import Interactions

pytest.importorskip("tensorflow", reason="TensorFlow is not installed (tensorflow-cpu in requirements.txt)")

from recommender.models.mf import (  # noqa: E402 - after the importorskip on purpose
    TFMatrixFactorization,
    export_training_tfrecords,
    training_examples,
)

REPO_ROOT = Path(__file__).resolve().parents[2]
N_USERS, N_ITEMS = 60, 40  # users 0..29 and items 0..19 are group A; the rest group B
SMALL = {"dim": 8, "epochs": 25, "batch_size": 64, "learning_rate": 0.03, "temperature": 0.2, "seed": 7}


def group(index: int, n: int) -> int:
    return int(index >= n // 2)


def two_group_interactions(*, seed: int = 0, with_features: bool = False) -> Interactions:
    """Each user has 8 random items of their own group; one group-A item has no interactions."""
    rng = np.random.default_rng(seed)
    rows, cols = [], []
    half = N_ITEMS // 2
    for user in range(N_USERS):
        offset = half * group(user, N_USERS)
        # Item 0 (group A) is left without interactions: a new video known only by its features.
        pool = np.arange(offset + (1 if offset == 0 else 0), offset + half)
        for item in rng.choice(pool, size=8, replace=False):
            rows.append(user)
            cols.append(int(item))
    matrix = sp.csr_matrix((np.ones(len(rows), np.float32), (rows, cols)), shape=(N_USERS, N_ITEMS))
    features = None
    if with_features:
        # Feature 0 = "group A tag", feature 1 = "group B tag".
        feature_cols = [group(i, N_ITEMS) for i in range(N_ITEMS)]
        features = sp.csr_matrix(
            (np.ones(N_ITEMS, np.float32), (np.arange(N_ITEMS), feature_cols)), shape=(N_ITEMS, 2)
        )
    return Interactions(
        matrix=matrix,
        user_ids=np.array([f"u{i}" for i in range(N_USERS)]),
        item_ids=np.arange(1000, 1000 + N_ITEMS),
        item_features=features,
        feature_names=["tag:a", "tag:b"] if with_features else [],
    )


def share_own_group_in_top(channel: TFMatrixFactorization, interactions: Interactions, *, n: int = 5
                           ) -> float:
    hits = 0
    for user in range(N_USERS):
        seen = set(interactions.matrix[user].indices.tolist())
        top = [item for item, _ in channel.recommend(user, n=n, exclude=seen)]
        hits += sum(group(item, N_ITEMS) == group(user, N_USERS) for item in top)
    return hits / (N_USERS * n)


@pytest.fixture(scope="module")
def interactions() -> Interactions:
    return two_group_interactions()


@pytest.fixture(scope="module")
def fitted(interactions: Interactions) -> TFMatrixFactorization:
    return TFMatrixFactorization(**SMALL).fit(interactions)


def test_ranks_the_users_own_group_first(fitted, interactions):
    assert fitted.user_emb.shape == (N_USERS, SMALL["dim"])
    assert fitted.item_emb.shape == (N_ITEMS, SMALL["dim"])
    assert share_own_group_in_top(fitted, interactions) >= 0.95
    scores = fitted.score(np.arange(N_USERS))
    assert scores.shape == (N_USERS, N_ITEMS) and scores.dtype == np.float32
    # Exported vectors are the normalised tower outputs; item 0 (no interactions, no features)
    # is zero rather than its random initialisation.
    np.testing.assert_allclose(np.linalg.norm(fitted.user_emb, axis=1), 1.0, rtol=1e-4)
    assert not fitted.item_emb[0].any()
    # Loss went down: the optimiser did something.
    assert fitted.loss_history[-1] < fitted.loss_history[0]


def test_bpr_loss_learns_the_groups_too(interactions):
    bpr = {**SMALL, "loss": "bpr", "normalize": False, "l2": 1e-5}
    channel = TFMatrixFactorization(**bpr).fit(interactions)
    assert share_own_group_in_top(channel, interactions) >= 0.9


def test_same_seed_same_embeddings_other_seed_differs(fitted, interactions):
    again = TFMatrixFactorization(**SMALL).fit(interactions)
    np.testing.assert_array_equal(again.user_emb, fitted.user_emb)
    np.testing.assert_array_equal(again.item_emb, fitted.item_emb)
    other = TFMatrixFactorization(**{**SMALL, "seed": SMALL["seed"] + 1}).fit(interactions)
    assert not np.allclose(other.item_emb, fitted.item_emb)


def test_similar_items_stay_in_group(fitted):
    similar = fitted.similar_items(25, n=5)
    assert len(similar) == 5 and 25 not in [item for item, _ in similar]
    assert all(group(item, N_ITEMS) == 1 for item, _ in similar)


def test_fold_in_for_an_unseen_user(fitted):
    scores = fitted.score_history(np.array([21, 22, 23, 24]))
    scores[[21, 22, 23, 24]] = -np.inf
    top = np.argsort(-scores)[:5]
    assert all(group(int(item), N_ITEMS) == 1 for item in top)
    # No history at all: the mean user vector, still a full score vector.
    assert fitted.score_history(np.array([], dtype=np.int64)).shape == (N_ITEMS,)


def test_save_load_round_trip_without_tensorflow(fitted, tmp_path):
    fitted.save(tmp_path / "tf")
    meta = json.loads((tmp_path / "tf" / "meta.json").read_text())
    assert meta["channel"] == "tf" and meta["dim"] == SMALL["dim"]
    expected = fitted.score(np.arange(N_USERS))
    np.save(tmp_path / "expected.npy", expected)
    # A fresh interpreter where importing TensorFlow or Keras fails: serving must not need them.
    script = f"""
import sys
sys.modules["tensorflow"] = None
sys.modules["keras"] = None
import numpy as np
from recommender.models.mf import TFMatrixFactorization
channel = TFMatrixFactorization.load({str(tmp_path / "tf")!r})
assert channel.dim == {SMALL["dim"]}
expected = np.load({str(tmp_path / "expected.npy")!r})
np.testing.assert_array_equal(channel.score(np.arange({N_USERS})), expected)
print("ok", channel.recommend(0, n=3, exclude=set()))
"""
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("ok")


def test_load_refuses_another_channels_artefact(tmp_path):
    (tmp_path / "meta.json").write_text(json.dumps({"channel": "ease"}))
    with pytest.raises(ValueError, match="not 'tf'"):
        TFMatrixFactorization.load(tmp_path)


def test_tfrecord_export_then_training_from_files(interactions, tmp_path):
    shards = export_training_tfrecords(interactions, directory=tmp_path / "examples", n_shards=3)
    assert len(shards) == 3 and all(p.stat().st_size > 0 for p in shards)
    spec = json.loads((tmp_path / "examples" / "spec.json").read_text())
    assert spec["n_examples"] == interactions.matrix.nnz
    assert spec["n_users"] == N_USERS and spec["n_items"] == N_ITEMS
    channel = TFMatrixFactorization(**SMALL).fit_tfrecords(tmp_path / "examples")
    assert share_own_group_in_top(channel, interactions) >= 0.95


def test_item_feature_tower_places_an_item_without_interactions():
    interactions = two_group_interactions(with_features=True)
    assert interactions.matrix[:, 0].nnz == 0
    channel = TFMatrixFactorization(**SMALL).fit(interactions)
    np.testing.assert_allclose(np.linalg.norm(channel.item_emb[0]), 1.0, rtol=1e-4)
    scores = channel.score(np.arange(N_USERS))[:, 0]
    # Item 0 is only known by its "group A" tag: group A users rank it above group B users do.
    assert scores[: N_USERS // 2].mean() > scores[N_USERS // 2 :].mean() + 0.2
    assert share_own_group_in_top(channel, interactions) >= 0.95


@pytest.mark.parametrize(
    ("values", "message"),
    [([1.0, -1.0], "negative"), ([1.0, np.nan], "NaN"), ([0.0, 0.0], "no positive")],
)
def test_bad_interaction_values_give_clear_errors(values, message):
    matrix = sp.csr_matrix((values, ([0, 1], [0, 1])), shape=(2, 2))
    interactions = Interactions(matrix=matrix, user_ids=np.arange(2), item_ids=np.arange(2))
    with pytest.raises(ValueError, match=message):
        training_examples(interactions)


def test_unfitted_channel_and_bad_rows(fitted):
    with pytest.raises(RuntimeError, match="not fitted"):
        TFMatrixFactorization().score(np.array([0]))
    with pytest.raises(ValueError, match="user rows"):
        fitted.score(np.array([N_USERS]))
    with pytest.raises(ValueError, match="item column"):
        fitted.fold_in(np.array([-1]))
    with pytest.raises(ValueError, match="item column"):
        fitted.similar_items(N_ITEMS)
    with pytest.raises(ValueError, match="unknown loss"):
        TFMatrixFactorization(loss="hinge")


def test_mirrored_strategy_hook_trains_on_two_devices():
    # A fresh interpreter: logical devices must be configured before TensorFlow initialises.
    script = """
import sys
sys.path.insert(0, "tests/recommender")
import tensorflow as tf
from test_tf_model import SMALL, share_own_group_in_top, two_group_interactions
from recommender.models.mf import TFMatrixFactorization
cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
assert strategy.num_replicas_in_sync == 2
interactions = two_group_interactions()
channel = TFMatrixFactorization(**{**SMALL, "epochs": 10}, strategy=strategy).fit(interactions)
print("share", share_own_group_in_top(channel, interactions))
"""
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT), "TF_CPP_MIN_LOG_LEVEL": "2"}
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=env, cwd=REPO_ROOT, timeout=120
    )
    assert done.returncode == 0, done.stderr[-2000:]
    share = float(done.stdout.split("share")[-1])
    assert share >= 0.9
