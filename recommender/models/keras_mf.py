"""The Keras model and tf.data pipeline behind :class:`recommender.models.mf.TFMatrixFactorization`.

This module imports TensorFlow at the top, so nothing outside ``recommender/models/`` imports it;
``mf.py`` imports it lazily inside ``fit``.  Two towers that are plain embedding tables (matrix
factorisation), the item tower optionally adding the mean of the item's feature embeddings
(tags / categories), so that items sharing features share statistical strength.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

# Large negative logit for "not a negative": -inf would give NaN in the softmax gradient.
_MASKED_LOGIT = -1e9


class TwoTowerModel(keras.Model):
    """User tower = id embedding; item tower = id embedding (+ mean feature embedding).

    The whole objective lives in :meth:`compute_loss` (the TFRS ``compute_loss`` split): ``call``
    only maps ids to vectors, so serving can use the exported tables with a dot product.

    ``loss="softmax"``: in-batch sampled softmax over the batch's items, with the logQ
    correction (subtract log of each item's sampling probability) because popular items are
    over-represented as in-batch negatives, and masking of "accidental hits" (the positive item
    again, or another positive of the same user, elsewhere in the batch).  ``loss="bpr"``:
    Bayesian personalised ranking against one uniformly sampled negative per example.  Both add
    an L2 penalty on the raw embedding rows the batch touches (per-example regularisation, so
    rare users/items are not shrunk by every step).
    """

    def __init__(
        self,
        *,
        n_users: int,
        n_items: int,
        dim: int,
        temperature: float,
        l2: float,
        item_log_q: np.ndarray,
        loss: str = "softmax",
        normalize: bool = True,
        init_std: float = 0.1,
        item_feature_ids: np.ndarray | None = None,
        n_features: int = 0,
        seed: int = 0,
        **kwargs,
    ) -> None:
        super().__init__(**kwargs)
        if loss not in ("softmax", "bpr"):
            raise ValueError(f"unknown loss {loss!r}; use 'softmax' or 'bpr'")
        self.n_items = n_items
        self.temperature = float(temperature)
        self.l2 = float(l2)
        self.loss_kind = loss
        self.normalize = normalize
        self.user_embedding = keras.layers.Embedding(
            n_users,
            dim,
            embeddings_initializer=keras.initializers.RandomNormal(stddev=init_std, seed=seed),
            name="user_embedding",
        )
        self.item_embedding = keras.layers.Embedding(
            n_items,
            dim,
            embeddings_initializer=keras.initializers.RandomNormal(stddev=init_std, seed=seed + 1),
            name="item_embedding",
        )
        self.item_log_q = tf.constant(item_log_q, dtype=tf.float32)
        self.item_feature_ids = None
        if item_feature_ids is not None:
            # (n_items, max_features) feature index + 1; 0 pads.
            self.item_feature_ids = tf.constant(item_feature_ids, dtype=tf.int32)
            self.feature_embedding = keras.layers.Embedding(
                n_features + 1,
                dim,
                embeddings_initializer=keras.initializers.RandomNormal(stddev=init_std, seed=seed + 2),
                name="feature_embedding",
            )
        self.negative_seed = keras.random.SeedGenerator(seed + 3)

    def user_vectors(self, users: tf.Tensor) -> tf.Tensor:
        vectors = self.user_embedding(users)
        return tf.math.l2_normalize(vectors, axis=-1) if self.normalize else vectors

    def item_vectors(self, items: tf.Tensor) -> tf.Tensor:
        vectors = self.item_embedding(items)
        if self.item_feature_ids is not None:
            ids = tf.gather(self.item_feature_ids, items)
            mask = tf.cast(ids > 0, tf.float32)[..., None]
            summed = tf.reduce_sum(self.feature_embedding(ids) * mask, axis=-2)
            vectors = vectors + summed / tf.maximum(tf.reduce_sum(mask, axis=-2), 1.0)
        return tf.math.l2_normalize(vectors, axis=-1) if self.normalize else vectors

    def all_item_vectors(self) -> tf.Tensor:
        return self.item_vectors(tf.range(self.n_items))

    def call(self, inputs: dict, training: bool = False) -> tuple[tf.Tensor, tf.Tensor]:
        return self.user_vectors(inputs["user"]), self.item_vectors(inputs["item"])

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):  # noqa: ARG002
        """Ranking loss + L2 for one batch of (user, item, weight) positives."""
        user_vec, item_vec = y_pred
        items = x["item"]
        weights = tf.cast(x["weight"], tf.float32)
        if self.loss_kind == "softmax":
            logits = tf.matmul(user_vec, item_vec, transpose_b=True) / self.temperature
            logits = logits - tf.gather(self.item_log_q, items)[None, :]
            batch = tf.shape(items)[0]
            users = x["user"]
            # Not negatives: the positive item again, and another positive of the same user (with
            # few, heavy users a batch holds several rows per user).
            accidental = tf.logical_or(
                tf.equal(items[:, None], items[None, :]), tf.equal(users[:, None], users[None, :])
            )
            accidental = tf.logical_and(accidental, tf.logical_not(tf.eye(batch, dtype=tf.bool)))
            logits = tf.where(accidental, _MASKED_LOGIT, logits)
            per_example = tf.nn.sparse_softmax_cross_entropy_with_logits(
                labels=tf.range(batch), logits=logits
            )
        else:
            negatives = keras.random.randint(tf.shape(items), 0, self.n_items, seed=self.negative_seed)
            negatives = tf.cast(negatives, items.dtype)
            negative_vec = self.item_vectors(negatives)
            margin = tf.reduce_sum(user_vec * (item_vec - negative_vec), axis=-1)
            per_example = tf.nn.softplus(-margin)  # = -log sigmoid(margin)
        ranking = tf.reduce_sum(per_example * weights) / tf.maximum(tf.reduce_sum(weights), 1e-9)
        # L2 on the raw tables (normalised vectors all have length 1, penalising them does nothing).
        touched = [self.user_embedding(x["user"]), self.item_embedding(items)]
        if self.loss_kind == "bpr":
            touched.append(self.item_embedding(negatives))
        penalty = self.l2 * tf.add_n([tf.reduce_sum(tf.square(t)) for t in touched])
        return ranking + penalty / tf.cast(tf.shape(items)[0], tf.float32)


# --- tf.data pipelines ----------------------------------------------------------------------------

_FEATURES = {
    "user": tf.io.FixedLenFeature([], tf.int64),
    "item": tf.io.FixedLenFeature([], tf.int64),
    "weight": tf.io.FixedLenFeature([], tf.float32, default_value=1.0),
}


def _finish(dataset: tf.data.Dataset, *, n_examples: int, batch_size: int, seed: int) -> tf.data.Dataset:
    # A full-size shuffle buffer is a true random permutation each epoch; capped so a huge
    # TFRecord set streams instead of filling memory.
    buffer = max(1, min(n_examples, 1_000_000))
    # Endless (the trainer passes steps_per_epoch): no epoch bookkeeping depends on the length of
    # a TFRecord set, and under MultiWorkerMirroredStrategy each worker streams its own shards.
    return (
        dataset.shuffle(buffer, seed=seed, reshuffle_each_iteration=True)
        .repeat()
        # Fixed batch shape: one traced graph, and in-batch softmax always has batch_size - 1 negatives.
        .batch(batch_size, drop_remainder=True)
        .prefetch(tf.data.AUTOTUNE)
    )


def dataset_from_arrays(
    *, users: np.ndarray, items: np.ndarray, weights: np.ndarray, batch_size: int, seed: int
) -> tf.data.Dataset:
    """Shuffled, repeated, batched, prefetched (user, item, weight) examples from in-memory arrays."""
    dataset = tf.data.Dataset.from_tensor_slices(
        {
            "user": users.astype(np.int64),
            "item": items.astype(np.int64),
            "weight": weights.astype(np.float32),
        }
    )
    return _finish(dataset, n_examples=len(users), batch_size=batch_size, seed=seed)


def dataset_from_tfrecords(
    files: Sequence[str | Path], *, n_examples: int, batch_size: int, seed: int
) -> tf.data.Dataset:
    """The same pipeline reading ``tf.train.Example`` records written by :func:`write_tfrecords`."""
    files = [str(f) for f in files]
    dataset = tf.data.TFRecordDataset(files)

    def parse(serialised: tf.Tensor) -> dict:
        return tf.io.parse_single_example(serialised, _FEATURES)

    # Sequential parse keeps record order (and so the seeded shuffle) deterministic.
    dataset = dataset.map(parse, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    return _finish(dataset, n_examples=n_examples, batch_size=batch_size, seed=seed)


def write_tfrecords(
    *, users: np.ndarray, items: np.ndarray, weights: np.ndarray, directory: Path, n_shards: int
) -> list[Path]:
    """Write examples round-robin into ``n_shards`` files ``train-0000i-of-0000n.tfrecord``."""
    n_shards = max(1, min(n_shards, len(users)))
    paths = [directory / f"train-{s:05d}-of-{n_shards:05d}.tfrecord" for s in range(n_shards)]
    writers = [tf.io.TFRecordWriter(str(p)) for p in paths]
    try:
        for k, (u, i, w) in enumerate(zip(users.tolist(), items.tolist(), weights.tolist(), strict=True)):
            example = tf.train.Example(
                features=tf.train.Features(
                    feature={
                        "user": tf.train.Feature(int64_list=tf.train.Int64List(value=[u])),
                        "item": tf.train.Feature(int64_list=tf.train.Int64List(value=[i])),
                        "weight": tf.train.Feature(float_list=tf.train.FloatList(value=[w])),
                    }
                )
            )
            writers[k % n_shards].write(example.SerializeToString())
    finally:
        for writer in writers:
            writer.close()
    return paths
