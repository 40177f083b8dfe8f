"""Recall channels built on :class:`recommender.base.RecallChannel` (pure: no Django import).

* :class:`ItemCF` - item-item cosine, top-K neighbours per item.
* :class:`UserCF` - user-user cosine, top-K neighbours per user.
* :class:`EASE` - Steck's closed-form linear item model (ridge regression with a zero diagonal).
* :class:`RP3Beta` - three-step random walk user -> item -> user -> item, popularity-penalised.
* :class:`ImplicitALS` - implicit-feedback matrix factorisation (confidence-weighted ALS).
* :class:`ContentChannel` - cosine between a user's tag interests and items' TF-IDF tag vectors.
* :class:`recommender.hot.HotChannel` - time-decayed engagement, global and per group.

Each saves its artefact as ``meta.json`` + ``arrays.npz`` in a directory; :func:`load_channel`
reads any of them back (serving never trains).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import scipy.linalg as sla
import scipy.sparse as sp

from recommender.base import Interactions, RecallChannel
from recommender.similarity import cosine_to_all, topk_cosine


def _save_csr(arrays: dict, name: str, matrix: sp.csr_matrix) -> None:
    matrix = sp.csr_matrix(matrix)
    arrays[f"{name}_data"] = matrix.data
    arrays[f"{name}_indices"] = matrix.indices
    arrays[f"{name}_indptr"] = matrix.indptr
    arrays[f"{name}_shape"] = np.asarray(matrix.shape)


def _load_csr(arrays, name: str) -> sp.csr_matrix:
    return sp.csr_matrix(
        (arrays[f"{name}_data"], arrays[f"{name}_indices"], arrays[f"{name}_indptr"]),
        shape=tuple(arrays[f"{name}_shape"]),
    )


def _save_neighbour_arrays(channel, path: Path) -> None:
    """The artefact of a neighbourhood channel (item-CF, user-CF): its history and top-K neighbours."""
    arrays: dict = {}
    _save_csr(arrays, "user_items", channel.user_items)
    _save_csr(arrays, "neighbours", channel.neighbours)
    np.savez(path / "arrays.npz", **arrays)


def _load_neighbour_arrays(channel, path: Path) -> None:
    with np.load(path / "arrays.npz") as arrays:
        channel.user_items = _load_csr(arrays, "user_items")
        channel.neighbours = _load_csr(arrays, "neighbours")


def _read_meta(path: Path, expected: str) -> dict:
    meta = json.loads((Path(path) / "meta.json").read_text())
    if meta.get("channel") != expected:
        raise ValueError(f"{path} holds a {meta.get('channel')!r} artefact, not {expected!r}")
    return meta


def _top_contributor(history: sp.csr_matrix, column: np.ndarray) -> int | None:
    """The user's item whose (strength x link) to the target is largest, or None."""
    if history.nnz == 0:
        return None
    contrib = history.data * column[history.indices]
    best = int(np.argmax(contrib))
    return int(history.indices[best]) if contrib[best] > 0 else None


class _HistoryChannel(RecallChannel):
    """A channel that scores from the user's stored history row."""

    user_items: sp.csr_matrix

    def _rows(self, user_rows: np.ndarray) -> sp.csr_matrix:
        user_rows = np.asarray(user_rows, dtype=np.int64)
        if user_rows.size and (user_rows.min() < 0 or user_rows.max() >= self.user_items.shape[0]):
            raise ValueError(f"user rows must be in 0..{self.user_items.shape[0] - 1}")
        return self.user_items[user_rows]


class ItemCF(_HistoryChannel):
    """Item-item cosine over the interaction matrix, ``k`` neighbours kept per item.

    Score of item j for user u: ``sum_i r_ui * sim(i, j)`` over j among i's neighbours.
    ``user_norm`` L2-normalises each user's row before the similarity, so that a heavy user's
    thousands of co-occurrences do not outweigh everyone else (validation NDCG on MovieLens
    rises by about a sixth); ``shrink`` damps similarities resting on few co-occurrences.
    """

    name = "itemcf"

    def __init__(
        self,
        *,
        k: int = 100,
        shrink: float = 10.0,
        alpha: float = 0.5,
        user_norm: bool = True,
        n_threads: int | None = None,
    ) -> None:
        self.user_norm = user_norm
        self.k = k
        self.shrink = shrink
        self.alpha = alpha
        self.n_threads = n_threads

    def params(self) -> dict:
        return {"k": self.k, "shrink": self.shrink, "alpha": self.alpha, "user_norm": self.user_norm}

    @classmethod
    def param_grid(cls) -> list[dict]:
        return [{"k": k, "shrink": s} for k in (50, 200) for s in (0.0, 10.0)]

    def fit(self, interactions: Interactions) -> ItemCF:
        self.user_items = interactions.matrix.tocsr()
        basis = _l2_rows(self.user_items) if self.user_norm else self.user_items
        self.neighbours = topk_cosine(
            basis.T.tocsr(), k=self.k, shrink=self.shrink, alpha=self.alpha, n_threads=self.n_threads
        )
        self._by_target = None
        return self

    def score(self, user_rows: np.ndarray) -> np.ndarray:
        return np.asarray((self._rows(user_rows) @ self.neighbours).toarray(), dtype=np.float32)

    def similar_items(self, item: int, n: int = 10) -> list[tuple[int, float]]:
        start, stop = self.neighbours.indptr[item], self.neighbours.indptr[item + 1]
        cols, vals = self.neighbours.indices[start:stop], self.neighbours.data[start:stop]
        order = np.argsort(-vals, kind="stable")[:n]
        return [(int(cols[i]), float(vals[i])) for i in order]

    def explain(self, user: int, item: int) -> dict:
        if self._by_target is None:
            self._by_target = self.neighbours.tocsc()
        column = np.asarray(self._by_target[:, item].todense()).ravel()
        anchor = _top_contributor(self.user_items[user], column)
        return {"kind": "item", "item": anchor} if anchor is not None else {"kind": "model"}

    def _save_arrays(self, path: Path) -> None:
        _save_neighbour_arrays(self, path)

    @classmethod
    def load(cls, path: str | Path) -> ItemCF:
        meta = _read_meta(Path(path), cls.name)
        self = cls(
            k=meta["k"],
            shrink=meta["shrink"],
            alpha=meta.get("alpha", 0.5),
            user_norm=meta.get("user_norm", True),
        )
        _load_neighbour_arrays(self, Path(path))
        self._by_target = None
        return self


class UserCF(_HistoryChannel):
    """User-user cosine, ``k`` neighbours per user; score = neighbours' weighted interactions."""

    name = "usercf"

    def __init__(self, *, k: int = 50, shrink: float = 0.0, n_threads: int | None = None) -> None:
        self.k = k
        self.shrink = shrink
        self.n_threads = n_threads

    def params(self) -> dict:
        return {"k": self.k, "shrink": self.shrink}

    @classmethod
    def param_grid(cls) -> list[dict]:
        return [{"k": k, "shrink": 0.0} for k in (20, 50, 100)]

    def fit(self, interactions: Interactions) -> UserCF:
        self.user_items = interactions.matrix.tocsr()
        self.neighbours = topk_cosine(self.user_items, k=self.k, shrink=self.shrink, n_threads=self.n_threads)
        self._item_rows = None
        return self

    def score(self, user_rows: np.ndarray) -> np.ndarray:
        user_rows = np.asarray(user_rows, dtype=np.int64)
        self._rows(user_rows)  # bounds check
        return np.asarray((self.neighbours[user_rows] @ self.user_items).toarray(), dtype=np.float32)

    def similar_items(self, item: int, n: int = 10) -> list[tuple[int, float]]:
        # Items liked by the same users: one sparse mat-vec over the item columns.
        if self._item_rows is None:
            self._item_rows = self.user_items.T.tocsr()
        sims = cosine_to_all(self._item_rows, item)
        sims[item] = -np.inf
        order = np.argsort(-sims, kind="stable")[:n]
        return [(int(i), float(sims[i])) for i in order if sims[i] > 0]

    def explain(self, user: int, item: int) -> dict:
        return {"kind": "similar_users"}

    def _save_arrays(self, path: Path) -> None:
        _save_neighbour_arrays(self, path)

    @classmethod
    def load(cls, path: str | Path) -> UserCF:
        meta = _read_meta(Path(path), cls.name)
        self = cls(k=meta["k"], shrink=meta["shrink"])
        _load_neighbour_arrays(self, Path(path))
        self._item_rows = None
        return self


class EASE(_HistoryChannel):
    """Embarrassingly Shallow Autoencoder (Steck, WWW 2019): ``B = I - P diag(1/diag P)``,
    ``P = (X^T X + lambda I)^-1``, diagonal of B zero.  Score = ``x_u B``.

    ``lam`` is the absolute ridge penalty.  ``lam_scale``, when given, replaces it by
    ``lam_scale x mean(diag(X^T X))`` (the mean item weight), so the same value means the same
    regularisation whether the matrix is binary or per-user normalised (``lam_scale=60`` is an
    absolute lambda of about 500 on binary MovieLens-small); tuning uses it.
    ``dropout`` > 0 gives Steck's DLAE regulariser (NeurIPS 2020): each item's ridge penalty
    grows with its popularity, ``lambda + p / (1 - p) * G_ii``, which is what training the
    autoencoder with input dropout ``p`` amounts to; it stops popular items from explaining
    each other away.  Cost is cubic in the number of items, so only the ``max_items`` most
    engaged items get a column (the others score 0); the artefact is a dense
    ``max_items^2`` float32 matrix.
    """

    name = "ease"

    def __init__(
        self,
        *,
        lam: float = 500.0,
        lam_scale: float | None = None,
        dropout: float = 0.0,
        max_items: int = 12_000,
    ) -> None:
        if lam <= 0 or (lam_scale is not None and lam_scale <= 0):
            raise ValueError("lam and lam_scale must be positive")
        self.lam_scale = lam_scale
        if not 0.0 <= dropout < 1.0:
            raise ValueError("dropout must be in [0, 1)")
        self.lam = lam
        self.dropout = dropout
        self.max_items = max_items

    def params(self) -> dict:
        return {
            "lam": self.lam,
            "lam_scale": self.lam_scale,
            "dropout": self.dropout,
            "max_items": self.max_items,
        }

    @classmethod
    def param_grid(cls) -> list[dict]:
        return [{"lam_scale": scale} for scale in (1.0, 3.0, 10.0, 30.0, 60.0, 150.0)]

    def fit(self, interactions: Interactions) -> EASE:
        self.user_items = interactions.matrix.tocsr()
        n_items = self.user_items.shape[1]
        counts = np.asarray((self.user_items > 0).sum(axis=0)).ravel()
        active = np.flatnonzero(counts > 0)
        if len(active) > self.max_items:
            active = np.sort(active[np.argsort(-counts[active], kind="stable")[: self.max_items]])
        self.active = active.astype(np.int64)
        sub = self.user_items[:, self.active]
        # float32: half the memory and time of float64, and precise enough for a ridge solve.
        gram = np.asarray((sub.T @ sub).toarray(), dtype=np.float32)
        diag = np.diag(gram).astype(np.float64)
        self.absolute_lambda = float(self.lam if self.lam_scale is None else self.lam_scale * max(diag.mean(), 1e-9))
        gram[np.diag_indices_from(gram)] += self.absolute_lambda + self.dropout / (1 - self.dropout) * diag
        # Cholesky + triangular inverse: about half the work of a general inverse.
        chol, info = sla.lapack.spotrf(gram, lower=False, overwrite_a=True)
        if info != 0:
            raise ValueError(f"EASE: Gram matrix not positive definite (lapack info {info}); raise lam")
        inv, info = sla.lapack.spotri(chol, lower=False, overwrite_c=True)
        if info != 0:
            raise ValueError(f"EASE: inversion failed (lapack info {info})")
        inv = np.triu(inv) + np.triu(inv, 1).T
        weights = -inv / np.diag(inv)[None, :]
        np.fill_diagonal(weights, 0.0)
        self.weights = weights.astype(np.float32)
        self._n_items = n_items
        return self

    def score(self, user_rows: np.ndarray) -> np.ndarray:
        sub = self._rows(user_rows)[:, self.active]
        out = np.zeros((sub.shape[0], self._n_items), dtype=np.float32)
        out[:, self.active] = sub @ self.weights
        return out

    def similar_items(self, item: int, n: int = 10) -> list[tuple[int, float]]:
        pos = np.searchsorted(self.active, item)
        if pos >= len(self.active) or self.active[pos] != item:
            return []
        row = self.weights[pos].astype(np.float64)
        row[pos] = -np.inf
        order = np.argsort(-row, kind="stable")[:n]
        return [(int(self.active[i]), float(row[i])) for i in order if row[i] > 0]

    def explain(self, user: int, item: int) -> dict:
        pos = np.searchsorted(self.active, item)
        if pos >= len(self.active) or self.active[pos] != item:
            return {"kind": "model"}
        column = np.zeros(self._n_items, dtype=np.float64)
        column[self.active] = self.weights[:, pos]
        anchor = _top_contributor(self.user_items[user], column)
        return {"kind": "item", "item": anchor} if anchor is not None else {"kind": "model"}

    def _save_arrays(self, path: Path) -> None:
        arrays: dict = {"weights": self.weights, "active": self.active, "n_items": np.asarray(self._n_items)}
        _save_csr(arrays, "user_items", self.user_items)
        np.savez(path / "arrays.npz", **arrays)

    @classmethod
    def load(cls, path: str | Path) -> EASE:
        meta = _read_meta(Path(path), cls.name)
        self = cls(
            lam=meta["lam"],
            lam_scale=meta.get("lam_scale"),
            dropout=meta.get("dropout", 0.0),
            max_items=meta["max_items"],
        )
        with np.load(Path(path) / "arrays.npz") as arrays:
            self.weights = arrays["weights"]
            self.active = arrays["active"]
            self._n_items = int(arrays["n_items"])
            self.user_items = _load_csr(arrays, "user_items")
        return self


class RP3Beta(_HistoryChannel):
    """RP3beta (Paudel et al., ACM TIIS 2017): a three-step random walk, popularity-penalised.

    Item-to-item weight ``W[i, j] = sum_u P(u | i)^alpha P(j | u)^alpha / pop(j)^beta``: the
    probability of walking from item i to a user who has it and on to item j, each step's
    transition probability raised to ``alpha`` (below 1 flattens it), divided by j's popularity
    (number of users) to the power ``beta`` so that the walk does not always end on blockbusters.
    Each item keeps its ``k`` largest weights; score = ``x_u W``.  The items x items product is
    built ``chunk`` rows at a time (a dense ``chunk x n_items`` block), never whole.
    """

    name = "rp3"

    def __init__(self, *, alpha: float = 0.5, beta: float = 0.5, k: int = 100, chunk: int = 512) -> None:
        if alpha <= 0 or beta < 0 or k <= 0 or chunk <= 0:
            raise ValueError("alpha, k and chunk must be positive; beta must be >= 0")
        self.alpha = alpha
        self.beta = beta
        self.k = k
        self.chunk = chunk

    def params(self) -> dict:
        return {"alpha": self.alpha, "beta": self.beta, "k": self.k}

    @classmethod
    def param_grid(cls) -> list[dict]:
        return [{"alpha": a, "beta": b, "k": 100} for a in (0.5, 1.0) for b in (0.3, 0.5)]

    def fit(self, interactions: Interactions) -> RP3Beta:
        self.user_items = interactions.matrix.tocsr()
        positive = self.user_items.multiply(self.user_items > 0).tocsr().astype(np.float64)
        user_to_item = _l1_rows(positive).power(self.alpha).tocsr()  # P(j | u)^alpha
        item_to_user = _l1_rows(positive.T.tocsr()).power(self.alpha).tocsr()  # P(u | i)^alpha
        popularity = np.asarray((positive > 0).sum(axis=0), dtype=np.float64).ravel()
        penalty = np.where(popularity > 0, np.maximum(popularity, 1.0) ** -self.beta, 0.0)
        n_items = positive.shape[1]
        k = min(self.k, max(n_items - 1, 1))
        rows, cols, vals = [], [], []
        for start in range(0, n_items, self.chunk):
            stop = min(start + self.chunk, n_items)
            block = (item_to_user[start:stop] @ user_to_item).toarray() * penalty[None, :]
            block[np.arange(stop - start), np.arange(start, stop)] = 0.0  # no self-loops
            top = np.argpartition(-block, k - 1, axis=1)[:, :k]
            weights = np.take_along_axis(block, top, axis=1)
            keep = weights > 0
            rows.append(np.repeat(np.arange(start, stop), keep.sum(axis=1)))
            cols.append(top[keep])
            vals.append(weights[keep])
        self.weights = sp.csr_matrix(
            (np.concatenate(vals).astype(np.float32), (np.concatenate(rows), np.concatenate(cols))),
            shape=(n_items, n_items),
        )
        self._by_target = None
        return self

    def score(self, user_rows: np.ndarray) -> np.ndarray:
        return np.asarray((self._rows(user_rows) @ self.weights).toarray(), dtype=np.float32)

    def similar_items(self, item: int, n: int = 10) -> list[tuple[int, float]]:
        start, stop = self.weights.indptr[item], self.weights.indptr[item + 1]
        cols, vals = self.weights.indices[start:stop], self.weights.data[start:stop]
        order = np.lexsort((cols, -vals))[:n]
        return [(int(cols[i]), float(vals[i])) for i in order]

    def explain(self, user: int, item: int) -> dict:
        if self._by_target is None:
            self._by_target = self.weights.tocsc()
        column = np.asarray(self._by_target[:, item].todense()).ravel()
        anchor = _top_contributor(self.user_items[user], column)
        return {"kind": "item", "item": anchor} if anchor is not None else {"kind": "model"}

    def _save_arrays(self, path: Path) -> None:
        arrays: dict = {}
        _save_csr(arrays, "user_items", self.user_items)
        _save_csr(arrays, "weights", self.weights)
        np.savez(path / "arrays.npz", **arrays)

    @classmethod
    def load(cls, path: str | Path) -> RP3Beta:
        meta = _read_meta(Path(path), cls.name)
        self = cls(alpha=meta["alpha"], beta=meta["beta"], k=meta["k"])
        with np.load(Path(path) / "arrays.npz") as arrays:
            self.user_items = _load_csr(arrays, "user_items")
            self.weights = _load_csr(arrays, "weights")
        self._by_target = None
        return self


_PAIR_CHUNK = 1 << 18


class ImplicitALS(_HistoryChannel):
    """Implicit-feedback ALS (Hu, Koren & Volinsky, ICDM 2008), solved by conjugate gradient.

    Minimises ``sum_ui c_ui (p_ui - x_u . y_i)^2 + reg (|x_u|^2 + |y_i|^2)`` over every user x
    item pair, ``p_ui = 1`` where the user interacted and 0 elsewhere, confidence
    ``c_ui = 1 + alpha * r_ui``.  ``r`` is the matrix value rescaled to mean 1 (as the TF
    channel does), so ``alpha`` means the same on binary and per-user normalised matrices.
    Each of ``iterations`` sweeps solves the users given the items and then the items given the
    users; each solve is ``cg_steps`` conjugate-gradient steps warm-started from the previous
    factors (Takacs et al., RecSys 2011, as in implicit's ``cg`` solver), run for all rows at
    once with sparse products, so the cost per sweep is ``O(nnz * factors + rows * factors^2)``.
    The start is seeded: the same data and params give the same factors.
    Score = ``x_u . y_i``; ``similar_items`` = cosine of item factors.
    """

    name = "ials"

    def __init__(
        self,
        *,
        factors: int = 128,
        reg: float = 60.0,
        alpha: float = 8.0,
        iterations: int = 15,
        cg_steps: int = 3,
        seed: int = 42,
    ) -> None:
        if factors < 1 or iterations < 1 or cg_steps < 1:
            raise ValueError("factors, iterations and cg_steps must be >= 1")
        if reg < 0 or alpha < 0:
            raise ValueError("reg and alpha must be >= 0")
        self.factors = factors
        self.reg = reg
        self.alpha = alpha
        self.iterations = iterations
        self.cg_steps = cg_steps
        self.seed = seed

    def params(self) -> dict:
        return {
            "factors": self.factors,
            "reg": self.reg,
            "alpha": self.alpha,
            "iterations": self.iterations,
            "cg_steps": self.cg_steps,
            "seed": self.seed,
        }

    @classmethod
    def param_grid(cls) -> list[dict]:
        # Validation NDCG runs along a ridge where reg grows with alpha (reg / alpha about 8-15 on
        # MovieLens and KuaiRec); off it, it falls fast (reg 120 / alpha 8: 0.18 / 0.19 against
        # 0.22 / 0.25 at reg 60 / alpha 8).  So the grid moves along that ridge.
        return [{"factors": f, "reg": r, "alpha": a} for f in (64, 128) for r, a in ((30.0, 2.0), (60.0, 8.0))]

    def fit(self, interactions: Interactions) -> ImplicitALS:
        self.user_items = interactions.matrix.tocsr()
        positive = self.user_items.multiply(self.user_items > 0).tocsr().astype(np.float32)
        positive.eliminate_zeros()
        if positive.nnz:
            positive.data = positive.data / positive.data.mean()
        # Stored per row: the extra confidence c - 1 = alpha * r; the preference is 1 wherever stored.
        by_user = positive.copy()
        by_user.data = (self.alpha * by_user.data).astype(np.float32)
        by_item = by_user.T.tocsr()
        rng = np.random.default_rng(self.seed)
        n_users, n_items = positive.shape
        scale = np.float32(0.01)
        self.user_factors = (rng.standard_normal((n_users, self.factors)) * scale).astype(np.float32)
        self.item_factors = (rng.standard_normal((n_items, self.factors)) * scale).astype(np.float32)
        for _ in range(self.iterations):
            self.user_factors = self._solve(by_user, self.user_factors, self.item_factors)
            self.item_factors = self._solve(by_item, self.item_factors, self.user_factors)
        return self

    def _solve(self, extra: sp.csr_matrix, rows: np.ndarray, other: np.ndarray) -> np.ndarray:
        """``cg_steps`` CG steps on ``(O^T C_u O + reg I) x_u = O^T C_u p_u`` for every row ``u``.

        ``extra`` holds ``c - 1`` per stored pair; ``O`` is ``other`` (the fixed side's factors).
        """
        gram = other.T @ other + self.reg * np.eye(self.factors, dtype=np.float32)
        row_of = np.repeat(np.arange(extra.shape[0]), np.diff(extra.indptr))
        cols = extra.indices

        def times_a(vectors: np.ndarray) -> np.ndarray:
            # (c - 1) * (x_u . y_i) on the stored pairs, then summed back over the y_i.  The pairs
            # go through in chunks so that memory stays O(chunk * factors), not O(nnz * factors).
            dots = np.empty(len(cols), dtype=np.float32)
            for start in range(0, len(cols), _PAIR_CHUNK):
                stop = start + _PAIR_CHUNK
                dots[start:stop] = np.einsum("ij,ij->i", vectors[row_of[start:stop]], other[cols[start:stop]])
            weighted = sp.csr_matrix((extra.data * dots, extra.indices, extra.indptr), shape=extra.shape)
            return vectors @ gram + np.asarray(weighted @ other)

        target = np.asarray(sp.csr_matrix((extra.data + 1, extra.indices, extra.indptr), shape=extra.shape) @ other)
        x = rows.copy()
        residual = target - times_a(x)
        direction = residual.copy()
        rs_old = np.einsum("ij,ij->i", residual, residual)
        for _ in range(self.cg_steps):
            a_dir = times_a(direction)
            denom = np.einsum("ij,ij->i", direction, a_dir)
            step = np.divide(rs_old, denom, out=np.zeros_like(rs_old), where=denom > 0)
            x += step[:, None] * direction
            residual -= step[:, None] * a_dir
            rs_new = np.einsum("ij,ij->i", residual, residual)
            beta = np.divide(rs_new, rs_old, out=np.zeros_like(rs_new), where=rs_old > 0)
            direction = residual + beta[:, None] * direction
            rs_old = rs_new
        x[np.diff(extra.indptr) == 0] = 0.0  # no interaction: nothing to fit, a zero vector
        return x.astype(np.float32)

    def score(self, user_rows: np.ndarray) -> np.ndarray:
        user_rows = np.asarray(user_rows, dtype=np.int64)
        self._rows(user_rows)  # bounds check
        return np.asarray(self.user_factors[user_rows] @ self.item_factors.T, dtype=np.float32)

    def similar_items(self, item: int, n: int = 10) -> list[tuple[int, float]]:
        norms = np.linalg.norm(self.item_factors, axis=1).astype(np.float64)
        if norms[item] == 0:
            return []
        sims = (self.item_factors @ self.item_factors[item]).astype(np.float64)
        sims = np.divide(sims, norms * norms[item], out=np.zeros_like(sims), where=norms > 0)
        sims[item] = -np.inf
        order = np.argsort(-sims, kind="stable")[:n]
        return [(int(i), float(sims[i])) for i in order if sims[i] > 0]

    def explain(self, user: int, item: int) -> dict:
        column = (self.item_factors @ self.item_factors[item]).astype(np.float64)
        anchor = _top_contributor(self.user_items[user], column)
        return {"kind": "item", "item": anchor} if anchor is not None else {"kind": "model"}

    def _save_arrays(self, path: Path) -> None:
        arrays: dict = {"user_factors": self.user_factors, "item_factors": self.item_factors}
        _save_csr(arrays, "user_items", self.user_items)
        np.savez(path / "arrays.npz", **arrays)

    @classmethod
    def load(cls, path: str | Path) -> ImplicitALS:
        meta = _read_meta(Path(path), cls.name)
        self = cls(**{key: meta[key] for key in ("factors", "reg", "alpha", "iterations", "cg_steps", "seed")})
        with np.load(Path(path) / "arrays.npz") as arrays:
            self.user_factors = arrays["user_factors"]
            self.item_factors = arrays["item_factors"]
            self.user_items = _load_csr(arrays, "user_items")
        return self


def tfidf_rows(features: sp.csr_matrix) -> tuple[sp.csr_matrix, np.ndarray]:
    """TF-IDF weight and L2-normalise item feature rows; returns (rows, idf)."""
    features = sp.csr_matrix(features, dtype=np.float64)
    n = features.shape[0]
    df = np.asarray((features > 0).sum(axis=0)).ravel()
    idf = np.log((1.0 + n) / (1.0 + df)) + 1.0
    weighted = sp.csr_matrix(features @ sp.diags(idf))
    norms = np.sqrt(np.asarray(weighted.multiply(weighted).sum(axis=1)).ravel())
    norms[norms == 0] = 1.0
    return sp.csr_matrix(sp.diags(1.0 / norms) @ weighted, dtype=np.float32), idf.astype(np.float32)


class ContentChannel(RecallChannel):
    """Cosine between a user's tag-interest vector and each item's TF-IDF tag vector.

    Needs ``interactions.item_features``.  The user vector is ``interactions.user_features``
    (onboarding tags + behaviour) when given, else the TF-IDF tags of the user's items weighted
    by interaction strength.  A new item with tags but no views is scored like any other; a new
    user with only onboarding tags is served by :meth:`score_tags`.
    """

    name = "content"

    def __init__(self, *, behaviour_weight: float = 1.0) -> None:
        self.behaviour_weight = behaviour_weight

    def params(self) -> dict:
        return {"behaviour_weight": self.behaviour_weight}

    def fit(self, interactions: Interactions) -> ContentChannel:
        if interactions.item_features is None or interactions.item_features.shape[1] == 0:
            raise ValueError("the content channel needs item_features (tags / keywords per item)")
        self.item_vectors, self.idf = tfidf_rows(interactions.item_features)
        self.feature_names = list(interactions.feature_names)
        behaviour = sp.csr_matrix(interactions.matrix @ self.item_vectors) * self.behaviour_weight
        declared = interactions.user_features
        profile = behaviour if declared is None else behaviour + sp.csr_matrix(declared @ sp.diags(self.idf))
        self.user_vectors = _l2_rows(sp.csr_matrix(profile, dtype=np.float32))
        return self

    def score(self, user_rows: np.ndarray) -> np.ndarray:
        user_rows = np.asarray(user_rows, dtype=np.int64)
        return np.asarray((self.user_vectors[user_rows] @ self.item_vectors.T).toarray(), dtype=np.float32)

    def score_tags(self, tags: Mapping[str, float]) -> np.ndarray:
        """Scores for a profile given only as {tag: weight} (a new user's onboarding tags)."""
        index = {name: i for i, name in enumerate(self.feature_names)}
        vec = np.zeros(len(self.feature_names), dtype=np.float32)
        for tag, weight in tags.items():
            if tag in index:
                vec[index[tag]] += float(weight) * self.idf[index[tag]]
        norm = np.linalg.norm(vec)
        if norm == 0:
            return np.zeros(self.item_vectors.shape[0], dtype=np.float32)
        return np.asarray(self.item_vectors @ (vec / norm), dtype=np.float32).ravel()

    def similar_items(self, item: int, n: int = 10) -> list[tuple[int, float]]:
        sims = np.asarray((self.item_vectors @ self.item_vectors[item].T).toarray()).ravel()
        sims[item] = -np.inf
        order = np.argsort(-sims, kind="stable")[:n]
        return [(int(i), float(sims[i])) for i in order if sims[i] > 0]

    def explain(self, user: int, item: int) -> dict:
        overlap = self.user_vectors[user].multiply(self.item_vectors[item]).tocoo()
        if overlap.nnz == 0:
            return {"kind": "model"}
        best = overlap.col[int(np.argmax(overlap.data))]
        return {"kind": "tag", "tag": self.feature_names[best]}

    def _save_arrays(self, path: Path) -> None:
        arrays: dict = {"idf": self.idf, "feature_names": np.asarray(self.feature_names, dtype=str)}
        _save_csr(arrays, "item_vectors", self.item_vectors)
        _save_csr(arrays, "user_vectors", self.user_vectors)
        np.savez(path / "arrays.npz", **arrays)

    @classmethod
    def load(cls, path: str | Path) -> ContentChannel:
        meta = _read_meta(Path(path), cls.name)
        self = cls(behaviour_weight=meta["behaviour_weight"])
        with np.load(Path(path) / "arrays.npz") as arrays:
            self.idf = arrays["idf"]
            self.feature_names = arrays["feature_names"].tolist()
            self.item_vectors = _load_csr(arrays, "item_vectors")
            self.user_vectors = _load_csr(arrays, "user_vectors")
        return self


def _l1_rows(matrix: sp.csr_matrix) -> sp.csr_matrix:
    """Rows scaled to sum 1 (transition probabilities); empty rows stay empty."""
    sums = np.asarray(matrix.sum(axis=1), dtype=np.float64).ravel()
    sums[sums == 0] = 1.0
    return sp.csr_matrix(sp.diags(1.0 / sums) @ matrix)


def _l2_rows(matrix: sp.csr_matrix) -> sp.csr_matrix:
    norms = np.sqrt(np.asarray(matrix.multiply(matrix).sum(axis=1)).ravel())
    norms[norms == 0] = 1.0
    return sp.csr_matrix(sp.diags(1.0 / norms) @ matrix, dtype=np.float32)


def channel_classes() -> dict[str, type[RecallChannel]]:
    """Every built-in channel by name (the TensorFlow one is added lazily by the caller)."""
    from recommender.hot import HotChannel

    return {cls.name: cls for cls in (ItemCF, UserCF, EASE, RP3Beta, ImplicitALS, ContentChannel, HotChannel)}


def load_channel(path: str | Path) -> RecallChannel:
    """Load any saved channel artefact, dispatching on ``meta.json``'s ``channel``."""
    meta = json.loads((Path(path) / "meta.json").read_text())
    classes = channel_classes()
    if meta.get("channel") == "tf":
        from recommender.models.mf import TFMatrixFactorization

        return TFMatrixFactorization.load(path)
    if meta.get("channel") not in classes:
        raise ValueError(f"{path}: unknown channel {meta.get('channel')!r}")
    return classes[meta["channel"]].load(path)
