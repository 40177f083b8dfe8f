"""The TensorFlow channel's seed ensemble (``n_models``): one wider model whose score is the mean."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("tensorflow", reason="TensorFlow is not installed (tensorflow-cpu in requirements.txt)")

from recommender.channels import load_channel  # noqa: E402 - after the importorskip on purpose
from recommender.models.mf import MEMBER_SEED_STEP, TFMatrixFactorization  # noqa: E402
from tests.recommender.test_tf_model import (  # noqa: E402
    N_ITEMS,
    N_USERS,
    SMALL,
    share_own_group_in_top,
    two_group_interactions,
)

FAST = {**SMALL, "epochs": 10}


@pytest.fixture(scope="module")
def interactions():
    return two_group_interactions(with_features=True)


@pytest.fixture(scope="module")
def ensemble(interactions):
    return TFMatrixFactorization(**FAST, n_models=2).fit(interactions)


def test_ensemble_score_is_the_mean_of_its_members(ensemble, interactions):
    members = [
        TFMatrixFactorization(**{**FAST, "seed": FAST["seed"] + MEMBER_SEED_STEP * m}).fit(interactions)
        for m in range(2)
    ]
    rows = np.arange(N_USERS)
    assert ensemble.user_emb.shape == (N_USERS, 2 * FAST["dim"])
    assert ensemble.item_emb.shape == (N_ITEMS, 2 * FAST["dim"])
    mean = (members[0].score(rows) + members[1].score(rows)) / 2
    np.testing.assert_allclose(ensemble.score(rows), mean, rtol=1e-4, atol=1e-5)
    # The members really differ (else averaging would buy nothing).
    assert not np.allclose(members[0].score(rows), members[1].score(rows), atol=1e-3)
    assert share_own_group_in_top(ensemble, interactions) >= 0.95


def test_ensemble_is_deterministic_and_survives_save_and_load(ensemble, interactions, tmp_path):
    again = TFMatrixFactorization(**FAST, n_models=2).fit(interactions)
    np.testing.assert_array_equal(again.user_emb, ensemble.user_emb)
    np.testing.assert_array_equal(again.item_emb, ensemble.item_emb)
    ensemble.save(tmp_path / "tf")
    loaded = load_channel(tmp_path / "tf")
    assert loaded.params()["n_models"] == 2
    rows = np.array([0, 5, 40])
    np.testing.assert_allclose(loaded.score(rows), ensemble.score(rows), rtol=1e-6)
    # Fold-in and item similarity work on the concatenated vectors too.
    history = np.array([21, 22, 23, 24])
    scores = loaded.score_history(history)
    scores[history] = -np.inf
    assert all(item >= N_ITEMS // 2 for item in np.argsort(-scores)[:5])
    assert all(item >= N_ITEMS // 2 for item, _ in loaded.similar_items(25, n=5))


def test_n_models_must_be_positive():
    with pytest.raises(ValueError, match="n_models"):
        TFMatrixFactorization(n_models=0)
