"""The one interface every recall channel implements (pure: no Django import).

A channel is fitted on an :class:`Interactions` (a weighted user x item sparse matrix with
id maps, see ``recommender/data.py``), scores users against the whole catalogue, and can be
saved to / loaded from a directory so that serving never trains.
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import scipy.sparse as sp


@dataclass
class Interactions:
    """A user x item matrix plus the maps between external ids and matrix rows/columns.

    ``matrix`` is CSR float32, rows = users, columns = items; a stored value is the
    (weighted, de-noised, normalised) strength of the interaction.  ``item_features`` is an
    optional CSR items x features matrix (tags, TF-IDF keywords, categories) whose columns are
    named by ``feature_names``; ``user_features`` is the matching users x features interest
    matrix (onboarding tags, behaviour, comment keywords).  ``item_groups`` optionally maps an
    item column to a category label, used by hot lists and diversity re-ranking.
    """

    matrix: sp.csr_matrix
    user_ids: np.ndarray
    item_ids: np.ndarray
    item_features: sp.csr_matrix | None = None
    user_features: sp.csr_matrix | None = None
    feature_names: list[str] = field(default_factory=list)
    item_groups: list[str] | None = None
    # Optional extras (all default to None, so older constructors keep working):
    # ``negatives``: users x items, the net-negative pairs (disliked) that left ``matrix``;
    # ``item_engagement``: per item, time-decayed engagement before per-user normalisation
    # (hot lists); ``user_groups``: per user row, a demographic group label such as "25-34|f".
    negatives: sp.csr_matrix | None = None
    item_engagement: np.ndarray | None = None
    user_groups: list[str] | None = None
    user_index: dict = field(init=False, repr=False)
    item_index: dict = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.matrix = sp.csr_matrix(self.matrix, dtype=np.float32)
        if self.matrix.shape != (len(self.user_ids), len(self.item_ids)):
            raise ValueError(
                f"matrix shape {self.matrix.shape} does not match "
                f"{len(self.user_ids)} users x {len(self.item_ids)} items"
            )
        self.user_index = {uid: row for row, uid in enumerate(self.user_ids.tolist())}
        self.item_index = {iid: col for col, iid in enumerate(self.item_ids.tolist())}

    @property
    def n_users(self) -> int:
        return self.matrix.shape[0]

    @property
    def n_items(self) -> int:
        return self.matrix.shape[1]


def top_n(scores: np.ndarray, n: int) -> np.ndarray:
    """Indices of the ``n`` largest entries of each row of ``scores``, best first.

    ``-inf`` entries (excluded items) sort last; callers drop them.
    """
    scores = np.atleast_2d(scores)
    n = min(n, scores.shape[1])
    if n <= 0:
        return np.empty((scores.shape[0], 0), dtype=np.int64)
    part = np.argpartition(-scores, n - 1, axis=1)[:, :n]
    order = np.argsort(-np.take_along_axis(scores, part, axis=1), axis=1, kind="stable")
    return np.take_along_axis(part, order, axis=1)


class RecallChannel(ABC):
    """A source of candidate videos: fit on interactions, score users, find similar items."""

    name: str = "base"

    @abstractmethod
    def fit(self, interactions: Interactions) -> RecallChannel:
        """Learn from ``interactions``; returns self."""

    @abstractmethod
    def score(self, user_rows: np.ndarray) -> np.ndarray:
        """Dense float32 scores, shape (len(user_rows), n_items); higher is better."""

    def explain(self, user: int, item: int) -> dict:
        """Why ``item`` was recalled for ``user``: a small dict for the blend's reason text.

        Keys used by ``recommender.blend.reason_text``: ``kind`` ("item", "tag", "hot",
        "similar_users", "model") plus ``item`` (an anchor item column), ``tag`` or ``group``.
        """
        return {"kind": "model"}

    def similar_items(self, item: int, n: int = 10) -> list[tuple[int, float]]:
        """Item columns most similar to column ``item`` (itself excluded), best first."""
        raise NotImplementedError(f"{self.name} has no item-to-item similarity")

    def recommend(
        self, user: int, n: int = 10, exclude: set[int] | None = None
    ) -> list[tuple[int, float]]:
        """Top ``n`` (item column, score) for matrix row ``user``, without ``exclude``."""
        scores = self.score(np.array([user]))[0].astype(np.float64, copy=True)
        if exclude:
            scores[list(exclude)] = -np.inf
        cols = top_n(scores[None, :], n)[0]
        return [(int(c), float(scores[c])) for c in cols if np.isfinite(scores[c])]

    # Artefacts: a directory holding meta.json plus whatever arrays the channel needs.
    def save(self, path: str | Path) -> None:
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        (path / "meta.json").write_text(json.dumps({"channel": self.name, **self.params()}))
        self._save_arrays(path)

    def params(self) -> dict:
        return {}

    def _save_arrays(self, path: Path) -> None:
        raise NotImplementedError(f"{self.name} cannot be saved")

    @classmethod
    def load(cls, path: str | Path) -> RecallChannel:
        raise NotImplementedError(f"{cls.__name__} cannot be loaded")
