"""Hot lists: time-decayed engagement, global, per category and per demographic group (pure).

``decayed_engagement`` works on raw events (the Celery job feeds it the event log);
:class:`HotChannel` is the recall channel over an :class:`Interactions` (it uses
``item_engagement`` from ``recommender.data`` when present, else how many users engaged).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from recommender.base import Interactions, RecallChannel


def decayed_engagement(
    *,
    item_codes: np.ndarray,
    values: np.ndarray,
    timestamps: np.ndarray,
    n_items: int,
    now: float,
    half_life: float | None,
) -> np.ndarray:
    """Sum per item of ``value * 0.5 ** ((now - t) / half_life)`` (no decay if ``half_life`` is None).

    Events in the future of ``now`` count fully (clock skew must not make them hotter).
    """
    item_codes = np.asarray(item_codes, dtype=np.int64)
    values = np.asarray(values, dtype=np.float64)
    if len(item_codes) != len(values) or len(values) != len(timestamps):
        raise ValueError("item_codes, values and timestamps must have the same length")
    if len(item_codes) and (item_codes.min() < 0 or item_codes.max() >= n_items):
        raise ValueError(f"item codes must be in 0..{n_items - 1}")
    if half_life is not None:
        if half_life <= 0:
            raise ValueError("half_life must be positive")
        age = np.maximum(now - np.asarray(timestamps, dtype=np.float64), 0.0)
        values = values * np.power(0.5, age / half_life)
    return np.bincount(item_codes, weights=values, minlength=n_items)


def hot_by_group(
    *, scores: np.ndarray, groups: Sequence[str], n: int = 50, exclude: set[int] | None = None
) -> dict[str, list[tuple[int, float]]]:
    """Top ``n`` items of each group label (e.g. per first-level category), best first."""
    groups_arr = np.asarray([str(g) for g in groups])
    if len(groups_arr) != len(scores):
        raise ValueError("one group label per item is needed")
    out: dict[str, list[tuple[int, float]]] = {}
    for label in np.unique(groups_arr):
        if not label:
            continue
        cols = np.flatnonzero(groups_arr == label)
        if exclude:
            cols = np.asarray([c for c in cols if c not in exclude], dtype=np.int64)
        order = cols[np.argsort(-scores[cols], kind="stable")][:n]
        out[str(label)] = [(int(c), float(scores[c])) for c in order if scores[c] > 0]
    return out


class HotChannel(RecallChannel):
    """Popularity recall: global hotness, mixed with the hotness inside the user's group.

    Score = ``(1 - group_weight) * global + group_weight * group`` with both scaled to [0, 1];
    a user without a group (or a group with no data) gets the global list.
    """

    name = "hot"

    def __init__(self, *, group_weight: float = 0.5) -> None:
        if not 0.0 <= group_weight <= 1.0:
            raise ValueError("group_weight must be in [0, 1]")
        self.group_weight = group_weight

    def params(self) -> dict:
        return {"group_weight": self.group_weight}

    def fit(self, interactions: Interactions) -> HotChannel:
        matrix = interactions.matrix.tocsr()
        if interactions.item_engagement is not None:
            engagement = np.asarray(interactions.item_engagement, dtype=np.float64)
        else:
            engagement = np.asarray((matrix > 0).sum(axis=0), dtype=np.float64).ravel()
        self.global_scores = _unit(engagement).astype(np.float32)
        labels = interactions.user_groups or [""] * interactions.n_users
        self.user_group = np.asarray([str(g) for g in labels])
        self.group_names = sorted({g for g in self.user_group.tolist() if g})
        rows = []
        for group in self.group_names:
            members = np.flatnonzero(self.user_group == group)
            counts = np.asarray((matrix[members] > 0).sum(axis=0), dtype=np.float64).ravel()
            rows.append(_unit(counts))
        self.group_scores = (np.vstack(rows) if rows else np.zeros((0, matrix.shape[1]))).astype(np.float32)
        self.item_groups = list(interactions.item_groups) if interactions.item_groups else None
        return self

    def _group_row(self, user: int) -> int | None:
        if user >= len(self.user_group) or not self.user_group[user]:
            return None
        return self.group_names.index(self.user_group[user])

    def score(self, user_rows: np.ndarray) -> np.ndarray:
        user_rows = np.asarray(user_rows, dtype=np.int64)
        out = np.tile(self.global_scores, (len(user_rows), 1))
        for i, user in enumerate(user_rows.tolist()):
            g = self._group_row(user)
            if g is not None and self.group_scores[g].any():
                out[i] = (1 - self.group_weight) * self.global_scores + self.group_weight * self.group_scores[
                    g
                ]
        return out

    def similar_items(self, item: int, n: int = 10) -> list[tuple[int, float]]:
        """The hottest items of the same category (the global hot list when there are none)."""
        scores = self.global_scores.astype(np.float64).copy()
        if self.item_groups:
            same = np.asarray([g == self.item_groups[item] for g in self.item_groups])
            scores[~same] = -np.inf
        scores[item] = -np.inf
        order = np.argsort(-scores, kind="stable")[:n]
        return [(int(i), float(scores[i])) for i in order if np.isfinite(scores[i]) and scores[i] > 0]

    def explain(self, user: int, item: int) -> dict:
        group = self.item_groups[item] if self.item_groups else ""
        return {"kind": "hot", "group": group}

    def _save_arrays(self, path: Path) -> None:
        np.savez(
            path / "arrays.npz",
            global_scores=self.global_scores,
            group_scores=self.group_scores,
            user_group=self.user_group,
            group_names=np.asarray(self.group_names, dtype=str),
            item_groups=np.asarray(self.item_groups or [], dtype=str),
        )

    @classmethod
    def load(cls, path: str | Path) -> HotChannel:
        import json

        meta = json.loads((Path(path) / "meta.json").read_text())
        if meta.get("channel") != cls.name:
            raise ValueError(f"{path} holds a {meta.get('channel')!r} artefact, not 'hot'")
        self = cls(group_weight=meta["group_weight"])
        with np.load(Path(path) / "arrays.npz") as arrays:
            self.global_scores = arrays["global_scores"]
            self.group_scores = arrays["group_scores"]
            self.user_group = arrays["user_group"]
            self.group_names = arrays["group_names"].tolist()
            groups = arrays["item_groups"].tolist()
            self.item_groups = groups or None
        return self


def _unit(values: np.ndarray) -> np.ndarray:
    top = values.max() if len(values) else 0.0
    return values / top if top > 0 else np.zeros_like(values)
