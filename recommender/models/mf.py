"""Model-based recall channel: matrix factorisation trained with TensorFlow on implicit feedback.

Training needs TensorFlow (imported inside the training functions only); serving does not: the
artefact is two numpy tables and a user is scored against every item by a dot product, so
``TFMatrixFactorization.load(path).score(rows)`` runs in a process without TensorFlow.

Scale: training reads a ``tf.data`` pipeline, either built from an :class:`Interactions` in
memory (:meth:`TFMatrixFactorization.fit`) or from TFRecord shards written by
:func:`export_training_tfrecords` (:meth:`TFMatrixFactorization.fit_tfrecords`), so the examples
can be copied to and trained on other hosts.  Pass ``strategy=tf.distribute.MirroredStrategy()``
(several devices on one host) or ``MultiWorkerMirroredStrategy()`` (several hosts, ``TF_CONFIG``
set on each) and the model and optimiser are created under ``strategy.scope()``; see
``docs/tf_model.md``.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp

from recommender.base import Interactions, RecallChannel

# Bumped when the artefact layout changes; load() refuses artefacts it does not understand.
ARTEFACT_VERSION = 1
# Ensemble members are seeded this far apart: the Keras model derives a few seeds of its own from
# ``seed`` (``seed + 1`` ... ``seed + 3``), which must not coincide between members.
MEMBER_SEED_STEP = 100
_SPEC_FILE = "spec.json"


def training_examples(interactions: Interactions) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One (user row, item column, weight) example per stored positive of the interaction matrix.

    Weights are the matrix values rescaled to mean 1, so the learning rate and L2 strength do not
    depend on how ``data.py`` normalised them.  Zeros are dropped; NaN, infinite or negative values
    are rejected (dislikes belong in the exposure filter, not in this matrix).
    """
    matrix = sp.coo_matrix(interactions.matrix)
    values = matrix.data.astype(np.float64)
    if not np.all(np.isfinite(values)):
        raise ValueError("interaction matrix holds NaN or infinite values")
    if np.any(values < 0):
        raise ValueError("interaction matrix holds negative values; implicit feedback must be >= 0")
    keep = values > 0
    users, items, values = matrix.row[keep], matrix.col[keep], values[keep]
    if len(values) == 0:
        raise ValueError("no positive interactions to train on")
    weights = (values / values.mean()).astype(np.float32)
    return users.astype(np.int64), items.astype(np.int64), weights


def _item_feature_ids(features: sp.csr_matrix | None, *, max_features: int) -> tuple[np.ndarray | None, int]:
    """Per item, the indices (+1; 0 pads) of its ``max_features`` strongest features."""
    if features is None or features.nnz == 0:
        return None, 0
    features = sp.csr_matrix(features)
    n_items, n_features = features.shape
    ids = np.zeros((n_items, max_features), dtype=np.int32)
    for row in range(n_items):
        start, end = features.indptr[row], features.indptr[row + 1]
        cols, vals = features.indices[start:end], features.data[start:end]
        cols = cols[vals > 0]
        vals = vals[vals > 0]
        strongest = cols[np.argsort(-vals, kind="stable")[:max_features]]
        ids[row, : len(strongest)] = strongest + 1
    return ids, n_features


@dataclass
class _TrainingSpec:
    """Everything the trainer needs besides the examples themselves (shapes, logQ counts)."""

    n_users: int
    n_items: int
    n_examples: int
    item_counts: np.ndarray
    user_counts: np.ndarray
    item_feature_ids: np.ndarray | None = None
    n_features: int = 0


def export_training_tfrecords(
    interactions: Interactions,
    *,
    directory: str | Path,
    n_shards: int = 4,
    max_item_features: int = 16,
) -> list[Path]:
    """Write the training examples of ``interactions`` as TFRecord shards plus their spec.

    The directory is self-contained: ``train-*.tfrecord`` (one ``tf.train.Example`` per positive:
    int64 ``user``, int64 ``item``, float ``weight``), ``spec.json`` (shapes), ``item_counts.npy`` /
    ``user_counts.npy`` (for the logQ correction and for users without examples), the id maps and
    the item feature table.  Copy it to any host and call
    :meth:`TFMatrixFactorization.fit_tfrecords` there.  Returns the shard paths.
    """
    from recommender.models import keras_mf

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    users, items, weights = training_examples(interactions)
    paths = keras_mf.write_tfrecords(
        users=users, items=items, weights=weights, directory=directory, n_shards=n_shards
    )
    feature_ids, n_features = _item_feature_ids(interactions.item_features, max_features=max_item_features)
    np.save(directory / "item_counts.npy", np.bincount(items, minlength=interactions.n_items))
    np.save(directory / "user_counts.npy", np.bincount(users, minlength=interactions.n_users))
    np.save(directory / "user_ids.npy", _plain_ids(interactions.user_ids))
    np.save(directory / "item_ids.npy", _plain_ids(interactions.item_ids))
    if feature_ids is not None:
        np.save(directory / "item_feature_ids.npy", feature_ids)
    spec = {
        "n_users": interactions.n_users,
        "n_items": interactions.n_items,
        "n_examples": len(users),
        "n_features": n_features,
        "shards": [p.name for p in paths],
    }
    (directory / _SPEC_FILE).write_text(json.dumps(spec, indent=1))
    return paths


def _plain_ids(ids: np.ndarray) -> np.ndarray:
    # Saved without pickle: object arrays (e.g. mixed str ids) become unicode arrays.
    ids = np.asarray(ids)
    return ids.astype(str) if ids.dtype == object else ids


class TFMatrixFactorization(RecallChannel):
    """Matrix factorisation (two embedding towers) trained in Keras on implicit positives.

    Hyper-parameters: ``dim`` embedding size; ``epochs``; ``batch_size`` (also the number of
    in-batch negatives); ``learning_rate`` (Adam); ``temperature`` of the softmax; ``l2`` penalty
    on the embeddings each batch touches; ``loss`` ``"softmax"`` (in-batch, logQ-corrected) or
    ``"bpr"``; ``use_item_features`` adds a feature tower when the interactions carry
    ``item_features``; ``seed`` makes training reproducible (``deterministic=True`` also turns on
    TensorFlow's op determinism, process-wide); ``n_models`` > 1 trains that many differently
    seeded models and serves their mean score (a seed ensemble, stored as one wider model).

    After ``fit``, ``user_emb`` (n_users x n_models*dim) and ``item_emb`` (n_items x n_models*dim) are numpy arrays and
    ``score(rows) = user_emb[rows] @ item_emb.T``.  Users with no training example get the mean user
    vector (a popularity-like ranking); items with no example keep only their feature part.
    """

    name = "tf"

    def __init__(
        self,
        *,
        dim: int = 128,
        epochs: int = 10,
        batch_size: int = 1024,
        learning_rate: float = 0.02,
        temperature: float = 0.15,
        l2: float = 1e-4,
        loss: str = "softmax",
        normalize: bool = True,
        init_std: float = 0.1,
        use_item_features: bool = True,
        max_item_features: int = 16,
        seed: int = 42,
        n_models: int = 1,
        deterministic: bool = True,
        strategy: Any = None,
        verbose: int = 0,
    ) -> None:
        if loss not in ("softmax", "bpr"):
            raise ValueError(f"unknown loss {loss!r}; use 'softmax' or 'bpr'")
        if n_models < 1:
            raise ValueError("n_models must be >= 1")
        if dim < 1 or epochs < 1 or batch_size < 2 or learning_rate <= 0 or temperature <= 0 or l2 < 0:
            raise ValueError("dim, epochs >= 1; batch_size >= 2; learning_rate, temperature > 0; l2 >= 0")
        self.dim = dim
        self.epochs = epochs
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.temperature = temperature
        self.l2 = l2
        self.loss = loss
        self.normalize = normalize
        self.init_std = init_std
        self.use_item_features = use_item_features
        self.max_item_features = max_item_features
        self.seed = seed
        self.n_models = n_models
        self.deterministic = deterministic
        self.strategy = strategy
        self.verbose = verbose
        self.user_emb: np.ndarray | None = None
        self.item_emb: np.ndarray | None = None
        self.fit_seconds: float | None = None
        self.loss_history: list[float] = []

    @classmethod
    def param_grid(cls) -> list[dict]:
        """Settings the evaluation harness tries on its validation split: one point.

        The defaults were chosen on a validation split cut from the MovieLens TRAIN rows
        (``bench/bench_tf_model.py --validation``; see docs/tf_model.md); the harness runs them as
        an ensemble of 5 seeds x 5 epochs (2.5 times the cost of one 10-epoch model; validation
        NDCG@10 +2 % and +4 % on two validation folds, see docs/tf_model.md).  A grid here would
        cost one training run per point inside every evaluation.
        """
        return [{"n_models": 5, "epochs": 5}]

    def params(self) -> dict:
        return {
            "dim": self.dim,
            "epochs": self.epochs,
            "batch_size": self.batch_size,
            "learning_rate": self.learning_rate,
            "temperature": self.temperature,
            "l2": self.l2,
            "loss": self.loss,
            "normalize": self.normalize,
            "init_std": self.init_std,
            "use_item_features": self.use_item_features,
            "max_item_features": self.max_item_features,
            "seed": self.seed,
            "n_models": self.n_models,
        }

    # --- training -------------------------------------------------------------------------------

    def fit(self, interactions: Interactions) -> TFMatrixFactorization:
        """Train on the positives of ``interactions`` (in-memory ``tf.data`` pipeline)."""
        from recommender.models import keras_mf

        users, items, weights = training_examples(interactions)
        feature_ids, n_features = (None, 0)
        if self.use_item_features:
            feature_ids, n_features = _item_feature_ids(
                interactions.item_features, max_features=self.max_item_features
            )
        spec = _TrainingSpec(
            n_users=interactions.n_users,
            n_items=interactions.n_items,
            n_examples=len(users),
            item_counts=np.bincount(items, minlength=interactions.n_items),
            user_counts=np.bincount(users, minlength=interactions.n_users),
            item_feature_ids=feature_ids,
            n_features=n_features,
        )

        def make_dataset(batch_size: int, seed: int):
            return keras_mf.dataset_from_arrays(
                users=users, items=items, weights=weights, batch_size=batch_size, seed=seed
            )

        return self._train(spec, make_dataset)

    def fit_tfrecords(self, directory: str | Path) -> TFMatrixFactorization:
        """Train from a directory written by :func:`export_training_tfrecords` (on any host)."""
        from recommender.models import keras_mf

        directory = Path(directory)
        meta = json.loads((directory / _SPEC_FILE).read_text())
        feature_path = directory / "item_feature_ids.npy"
        feature_ids = None
        if self.use_item_features and feature_path.exists():
            feature_ids = np.load(feature_path)
        spec = _TrainingSpec(
            n_users=int(meta["n_users"]),
            n_items=int(meta["n_items"]),
            n_examples=int(meta["n_examples"]),
            item_counts=np.load(directory / "item_counts.npy"),
            user_counts=np.load(directory / "user_counts.npy"),
            item_feature_ids=feature_ids,
            n_features=int(meta["n_features"]) if feature_ids is not None else 0,
        )
        files = [directory / name for name in meta["shards"]]

        def make_dataset(batch_size: int, seed: int):
            return keras_mf.dataset_from_tfrecords(
                files, n_examples=spec.n_examples, batch_size=batch_size, seed=seed
            )

        return self._train(spec, make_dataset)

    def _train(self, spec: _TrainingSpec, make_dataset: Callable[[int, int], Any]) -> TFMatrixFactorization:
        """Train ``n_models`` towers (seeds ``seed``, ``seed + 100``, ...) and concatenate them.

        With concatenated vectors scaled by ``1 / sqrt(n_models)``, ``user_emb @ item_emb.T`` is the
        mean of the members' scores, so serving, ``fold_in`` and ``similar_items`` (the mean cosine
        for normalised towers) are unchanged: an ensemble is one wider model.
        """
        started = time.perf_counter()
        users, items, losses = [], [], []
        for member in range(self.n_models):
            user_emb, item_emb, history = self._train_one(spec, make_dataset, self.seed + MEMBER_SEED_STEP * member)
            users.append(user_emb)
            items.append(item_emb)
            losses.append(history)
        scale = np.float32(1.0 / np.sqrt(self.n_models))
        self.user_emb = np.concatenate(users, axis=1) * scale if self.n_models > 1 else users[0]
        self.item_emb = np.concatenate(items, axis=1) * scale if self.n_models > 1 else items[0]
        # Per epoch, the members' mean loss.
        self.loss_history = [float(v) for v in np.mean(np.asarray(losses, dtype=np.float64), axis=0)]
        self.fit_seconds = time.perf_counter() - started
        return self

    def _train_one(
        self, spec: _TrainingSpec, make_dataset: Callable[[int, int], Any], seed: int
    ) -> tuple[np.ndarray, np.ndarray, list[float]]:
        import keras
        import tensorflow as tf

        from recommender.models import keras_mf

        keras.utils.set_random_seed(seed)
        if self.deterministic:
            tf.config.experimental.enable_op_determinism()
        # Fewer examples than a batch (tiny catalogues, tests): one batch per step, all examples.
        batch_size = int(min(self.batch_size, spec.n_examples))
        # logQ: probability that an item fills a given in-batch slot = its share of the examples.
        counts = np.maximum(spec.item_counts.astype(np.float64), 1.0)
        item_log_q = np.log(counts / counts.sum()).astype(np.float32)
        strategy = self.strategy if self.strategy is not None else tf.distribute.get_strategy()
        with strategy.scope():
            model = keras_mf.TwoTowerModel(
                n_users=spec.n_users,
                n_items=spec.n_items,
                dim=self.dim,
                temperature=self.temperature,
                l2=self.l2,
                item_log_q=item_log_q,
                loss=self.loss,
                normalize=self.normalize,
                init_std=self.init_std,
                item_feature_ids=spec.item_feature_ids,
                n_features=spec.n_features,
                seed=seed,
            )
            model.compile(optimizer=keras.optimizers.Adam(learning_rate=self.learning_rate))
        history = model.fit(
            make_dataset(batch_size, seed),
            epochs=self.epochs,
            steps_per_epoch=spec.n_examples // batch_size,  # the dataset repeats endlessly
            verbose=self.verbose,
            shuffle=False,
        )

        untrained_items = spec.item_counts == 0
        if untrained_items.any():
            # Their id embedding is still the random initialisation: zero it, so the exported
            # vector is the feature part alone (or zero for an item without features).
            table = model.item_embedding.embeddings
            table.assign(table.numpy() * (~untrained_items)[:, None].astype(np.float32))
        # The towers' outputs (normalised when ``normalize``), exactly what training scored.
        user_emb = model.user_vectors(tf.range(spec.n_users)).numpy().astype(np.float32)
        item_emb = model.all_item_vectors().numpy().astype(np.float32)
        trained_users = spec.user_counts > 0
        if trained_users.any() and not trained_users.all():
            user_emb[~trained_users] = user_emb[trained_users].mean(axis=0)
        return user_emb, item_emb, [float(v) for v in history.history.get("loss", [])]

    # --- serving (numpy only) -------------------------------------------------------------------

    def _check_fitted(self) -> None:
        if self.user_emb is None or self.item_emb is None:
            raise RuntimeError("TFMatrixFactorization is not fitted; call fit() or load()")

    def score(self, user_rows: np.ndarray) -> np.ndarray:
        self._check_fitted()
        rows = np.asarray(user_rows, dtype=np.int64)
        if rows.size and (rows.min() < 0 or rows.max() >= len(self.user_emb)):
            raise ValueError(f"user rows must be in 0..{len(self.user_emb) - 1}")
        return (self.user_emb[rows] @ self.item_emb.T).astype(np.float32, copy=False)

    def fold_in(self, item_cols: np.ndarray, *, weights: np.ndarray | None = None) -> np.ndarray:
        """A user vector for someone unseen at training time, from the items they interacted with.

        The (weighted) mean of those items' embeddings; with no items, the mean user vector.
        """
        self._check_fitted()
        cols = np.asarray(item_cols, dtype=np.int64)
        if cols.size == 0:
            return self.user_emb.mean(axis=0)
        if cols.min() < 0 or cols.max() >= len(self.item_emb):
            raise ValueError(f"item columns must be in 0..{len(self.item_emb) - 1}")
        w = np.ones(len(cols), dtype=np.float32) if weights is None else np.asarray(weights, np.float32)
        return (w @ self.item_emb[cols] / max(float(w.sum()), 1e-9)).astype(np.float32)

    def score_history(self, item_cols: np.ndarray, *, weights: np.ndarray | None = None) -> np.ndarray:
        """Scores over all items for an unseen user given their interacted item columns."""
        return (self.item_emb @ self.fold_in(item_cols, weights=weights)).astype(np.float32)

    def similar_items(self, item: int, n: int = 10) -> list[tuple[int, float]]:
        """Cosine similarity between item embeddings (length = popularity, so normalised away)."""
        self._check_fitted()
        if not 0 <= item < len(self.item_emb):
            raise ValueError(f"item column must be in 0..{len(self.item_emb) - 1}")
        norms = np.linalg.norm(self.item_emb, axis=1)
        sims = self.item_emb @ self.item_emb[item] / np.maximum(norms * norms[item], 1e-12)
        sims[item] = -np.inf
        order = np.argsort(-sims, kind="stable")[:n]
        return [(int(c), float(sims[c])) for c in order if np.isfinite(sims[c])]

    # --- artefacts --------------------------------------------------------------------------------

    def _save_arrays(self, path: Path) -> None:
        self._check_fitted()
        np.save(path / "user_emb.npy", self.user_emb)
        np.save(path / "item_emb.npy", self.item_emb)
        (path / "model.json").write_text(
            json.dumps(
                {
                    "artefact_version": ARTEFACT_VERSION,
                    "n_users": int(self.user_emb.shape[0]),
                    "n_items": int(self.item_emb.shape[0]),
                    "fit_seconds": self.fit_seconds,
                }
            )
        )

    @classmethod
    def load(cls, path: str | Path) -> TFMatrixFactorization:
        """Read an artefact written by ``save`` (numpy + JSON only: TensorFlow is not imported)."""
        path = Path(path)
        meta = json.loads((path / "meta.json").read_text())
        if meta.get("channel") != cls.name:
            raise ValueError(f"{path} holds a {meta.get('channel')!r} artefact, not {cls.name!r}")
        info = json.loads((path / "model.json").read_text())
        if info.get("artefact_version") != ARTEFACT_VERSION:
            raise ValueError(f"unsupported artefact version {info.get('artefact_version')}")
        known = cls().params().keys()
        channel = cls(**{k: v for k, v in meta.items() if k in known})
        channel.user_emb = np.load(path / "user_emb.npy")
        channel.item_emb = np.load(path / "item_emb.npy")
        if channel.user_emb.shape[1] != channel.item_emb.shape[1]:
            raise ValueError("user and item embeddings have different dimensions")
        channel.fit_seconds = info.get("fit_seconds")
        return channel
