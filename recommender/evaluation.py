"""Offline evaluation harness (pure: no Django import).

Runs the production code (``recommender.data`` -> channels -> ``recommender.blend``) on raw
files, without the web database::

    python -m recommender.evaluation --dataset movielens-small --json
    python -m recommender.evaluation --dataset kuairec --min-relevance 1.0
    python -m recommender.evaluation --train T.csv --test S.csv --k 10 --channels itemcf ease
    python manage.py evaluate ...            # the same arguments

Protocol: full ranking over every item seen in train, the user's train items excluded.  With
``--dataset`` the split is made here: per user, a seeded random 25 % of the rows go to test
(seed 42), every user with 2+ rows keeping at least one row on each side.  Test items not seen
in train cannot be ranked and are dropped from the relevant sets; a test row whose item is
also in the user's train rows (a duplicate) is dropped too.

Hyper-parameters (each channel's ``param_grid``) are tuned on a validation split cut from the
TRAIN rows the same way (seed + 1); the blend weights and the blend's score normalisation (min-max
or reciprocal rank) on that split and a second one (seed + 2, ``--validation-folds``); the blend is
kept only if weights tuned the same way on less data (the first split's inner rows split again,
seed + 3) still beat the best single channel on the first split (``--no-carry-over-check`` skips
that).  The test split is used once.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import scipy.sparse as sp

from recommender import data
from recommender.base import Interactions, RecallChannel, top_n
from recommender.blend import NORMALISATIONS, blend_candidates, blend_ndcg, candidate_matrix, tune_weights
from recommender.channels import channel_classes
from recommender.metrics import evaluate_rankings

REPO_ROOT = Path(__file__).resolve().parent.parent
DATASET_DIRS = {
    "movielens-small": ["data/ml-latest-small", "../shared/data/ml-latest-small"],
    "kuairec": ["demo/kuairec", "data/kuairec", "../shared/data/kuairec"],
}
DEFAULT_CHANNELS = ("itemcf", "usercf", "ease", "rp3", "ials", "content", "hot", "tf")

# How raw rows become events per kind of file: ratings are plain positives; watch logs go
# through the view pipeline.  Row-order "timestamps" carry no clock, so the clock-based steps
# (floods, bots, hot decay) are off for them; a decay over row order is left to the ablation.
RATING_CONFIG = replace(data.RAW, hot_half_life=None)
WATCH_CONFIG = data.DenoiseConfig(
    min_watch_ratio=0.1,
    min_watch_seconds=None,
    max_watch_ratio=2.0,
    view_strength_from_ratio=True,
    flood_window=None,
    bot_max_events=None,
    half_life=None,
    normalisation="log+l2",
    hot_half_life=None,
)


@dataclass
class Dataset:
    """Raw rows plus side information and how to turn rows into events."""

    name: str
    log: data.RatingsLog
    kind: str = "rating"
    config: data.DenoiseConfig = RATING_CONFIG
    item_tags: dict = field(default_factory=dict)
    titles: dict = field(default_factory=dict)
    groups: dict = field(default_factory=dict)


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def find_dataset_dir(name: str, *, root: Path = REPO_ROOT) -> Path:
    """First existing directory for ``name`` (the repo's copy first, then ../shared/data)."""
    if name not in DATASET_DIRS:
        raise ValueError(f"unknown dataset {name!r}; known: {sorted(DATASET_DIRS)}")
    tried = []
    for rel in DATASET_DIRS[name]:
        path = (root / rel).resolve()
        tried.append(str(path))
        if path.is_dir():
            return path
    raise ValueError(f"dataset {name!r} not found; looked in: {', '.join(tried)}")


def load_dataset(name: str, *, root: Path = REPO_ROOT) -> Dataset:
    directory = find_dataset_dir(name, root=root)
    if name == "movielens-small":
        rows, tags, titles, groups = data.load_movielens_small(directory)
        return Dataset(name, rows, "rating", RATING_CONFIG, tags, titles, groups)
    rows, tags, titles, groups = data.load_kuairec(directory)
    return Dataset(name, rows, "view", WATCH_CONFIG, tags, titles, groups)


def split_per_user(
    log_rows: data.RatingsLog, *, test_fraction: float = 0.25, seed: int = 42
) -> tuple[np.ndarray, np.ndarray]:
    """Row indices (train, test): per user a seeded random ``test_fraction`` of rows to test.

    A user with 2+ rows keeps at least one row on each side; a user with one row stays in train.
    """
    if not 0 < test_fraction < 1:
        raise ValueError("test_fraction must be in (0, 1)")
    rng = np.random.default_rng(seed)
    order = np.argsort(log_rows.user, kind="stable")
    users_sorted = log_rows.user[order]
    bounds = np.flatnonzero(np.r_[True, users_sorted[1:] != users_sorted[:-1], True])
    train, test = [], []
    for start, stop in zip(bounds[:-1], bounds[1:], strict=True):
        rows = order[start:stop]
        if len(rows) < 2:
            train.append(rows)
            continue
        n_test = min(max(int(round(test_fraction * len(rows))), 1), len(rows) - 1)
        perm = rng.permutation(rows)
        test.append(np.sort(perm[:n_test]))
        train.append(np.sort(perm[n_test:]))
    return np.sort(np.concatenate(train)), np.sort(np.concatenate(test) if test else np.array([], int))


@dataclass
class Fold:
    """Train interactions, the raw train pairs to exclude, and relevant held-out columns."""

    interactions: Interactions
    exclude: sp.csr_matrix
    users: np.ndarray  # user rows that have relevant held-out items
    relevant: list[np.ndarray]


def make_fold(
    dataset: Dataset,
    train: data.RatingsLog,
    held_out: data.RatingsLog,
    *,
    config: data.DenoiseConfig,
    min_relevance: float | None,
) -> Fold:
    user_ids = np.unique(train.user)
    item_ids = np.unique(train.item)
    interactions = data.build_interactions(
        events=train.to_events(kind=dataset.kind),
        config=config,
        user_ids=user_ids,
        item_ids=item_ids,
        item_tags={i: dataset.item_tags[i] for i in item_ids.tolist() if i in dataset.item_tags} or None,
        item_groups=dataset.groups or None,
    )
    uidx, iidx = interactions.user_index, interactions.item_index
    rows = np.fromiter((uidx[u] for u in train.user.tolist()), dtype=np.int64, count=len(train))
    cols = np.fromiter((iidx[i] for i in train.item.tolist()), dtype=np.int64, count=len(train))
    exclude = sp.csr_matrix((np.ones(len(rows), dtype=np.float32), (rows, cols)), shape=interactions.matrix.shape)
    exclude.sum_duplicates()
    relevant: dict[int, set] = {}
    for user, item, rating in zip(
        held_out.user.tolist(), held_out.item.tolist(), held_out.rating.tolist(), strict=True
    ):
        if min_relevance is not None and rating < min_relevance:
            continue
        if user not in uidx or item not in iidx:
            continue
        row, col = uidx[user], iidx[item]
        if exclude[row, col]:
            continue
        relevant.setdefault(row, set()).add(col)
    users = np.asarray(sorted(relevant), dtype=np.int64)
    return Fold(interactions, exclude, users, [np.asarray(sorted(relevant[u])) for u in users.tolist()])


def rank(
    channel: RecallChannel, fold: Fold, *, n: int, batch: int = 256, progress: bool = True, desc: str = ""
) -> tuple[np.ndarray, np.ndarray]:
    """Top ``n`` columns and scores per fold user, the user's train items excluded."""
    from tqdm import tqdm

    n = min(n, fold.interactions.n_items)
    items = np.empty((len(fold.users), n), dtype=np.int64)
    scores = np.empty((len(fold.users), n), dtype=np.float64)
    for start in tqdm(range(0, len(fold.users), batch), desc=desc, file=sys.stderr, disable=not progress, leave=False):
        rows = fold.users[start : start + batch]
        block = np.asarray(channel.score(rows), dtype=np.float64)
        seen = fold.exclude[rows].tocoo()
        block[seen.row, seen.col] = -np.inf
        top = top_n(block, n)
        items[start : start + len(rows)] = top
        scores[start : start + len(rows)] = np.take_along_axis(block, top, axis=1)
    return items, scores


def metrics_from_top(fold: Fold, items: np.ndarray, scores: np.ndarray, k: int) -> dict:
    rankings = {}
    for i, user in enumerate(fold.users.tolist()):
        ok = np.isfinite(scores[i, :k])
        rankings[user] = items[i, :k][ok].tolist()
    relevant = {u: set(r.tolist()) for u, r in zip(fold.users.tolist(), fold.relevant, strict=True)}
    return evaluate_rankings(rankings=rankings, relevant=relevant, k=k, n_items=fold.interactions.n_items)


def channel_factory(name: str):
    """The class for a channel name; the TensorFlow channel is imported lazily (None if absent)."""
    if name == "tf":
        try:
            from recommender.models.mf import TFMatrixFactorization
        except Exception as exc:  # noqa: BLE001 - any import failure means "not available here"
            log(f"note: TensorFlow channel 'tf' skipped ({type(exc).__name__}: {exc})")
            return None
        return TFMatrixFactorization
    classes = channel_classes()
    if name not in classes:
        raise ValueError(f"unknown channel {name!r}; known: {sorted(classes) + ['tf']}")
    return classes[name]


def _fit(cls, params: dict, interactions: Interactions) -> tuple[RecallChannel | None, float]:
    """Fit a channel; (None, 0) when it needs a package that is not installed (e.g. TensorFlow)."""
    started = time.perf_counter()
    try:
        channel = cls(**params).fit(interactions)
    except ImportError as exc:
        log(f"note: channel {getattr(cls, 'name', cls)!r} skipped ({type(exc).__name__}: {exc})")
        return None, 0.0
    return channel, time.perf_counter() - started


def available_channels(names: Sequence[str], interactions: Interactions) -> dict[str, type]:
    out = {}
    for name in names:
        cls = channel_factory(name)
        if cls is None:
            continue
        if name == "content" and interactions.item_features is None:
            log("note: channel 'content' skipped (no item tags for this data)")
            continue
        out[name] = cls
    return out


def _stack_rows(blocks: Sequence[np.ndarray]) -> np.ndarray:
    """Rows of several folds' candidate matrices in one matrix (narrower ones padded with zeros).

    Folds have different item columns, but a row only ever refers to its own fold's columns, and
    NDCG is computed per row: stacking the users of two folds averages the metric over both.
    """
    width = max(block.shape[1] for block in blocks)
    return np.vstack([np.pad(block, ((0, 0), (0, width - block.shape[1]))) for block in blocks])


def tune(
    dataset: Dataset,
    train: data.RatingsLog,
    *,
    names: Sequence[str],
    k: int,
    n_candidates: int,
    config: data.DenoiseConfig,
    min_relevance: float | None,
    seed: int,
    progress: bool,
    validation_folds: int = 1,
    carry_over_check: bool = False,
) -> tuple[dict[str, dict], dict[str, float], dict]:
    """Pick each channel's params and the blend weights on validation splits of ``train``.

    Validation fold ``f`` is ``split_per_user(train, seed=seed + 1 + f)``: the held-out rows are
    cut from ``train``, never from the test split.  Channel params are chosen on the first fold;
    with ``validation_folds`` > 1 each channel is refitted with its chosen params on the other
    folds and the blend weights (and normalisation) maximise the NDCG over the users of all
    folds together, which makes the weights less dependent on one random cut.

    With ``carry_over_check``, a blend of 2+ channels is kept only if :func:`carry_over` (the same
    weight search one level down, on a split of the first fold's inner rows, seed
    ``seed + 1 + validation_folds``) beats the first fold's best single channel on that fold by
    ``CARRY_OVER_MIN_GAIN``; otherwise the weights fall back to that channel alone.
    """
    if validation_folds < 1:
        raise ValueError("validation_folds must be >= 1")
    folds, inner_rows = [], []
    for f in range(validation_folds):
        inner_idx, val_idx = split_per_user(train, seed=seed + 1 + f)
        inner_rows.append(train.take(inner_idx))
        folds.append(
            make_fold(dataset, inner_rows[-1], train.take(val_idx), config=config, min_relevance=min_relevance)
        )
    fold = folds[0]
    classes = available_channels(names, fold.interactions)
    best_params: dict[str, dict] = {}
    tops: dict[str, list[tuple[np.ndarray, np.ndarray]]] = {}
    report: dict = {
        "validation_users": len(fold.users),
        "validation_folds": validation_folds,
        "fold_users": [len(f.users) for f in folds],
        "channels": {},
    }
    for name, cls in classes.items():
        grid = cls.param_grid() if hasattr(cls, "param_grid") else [{}]
        best = (-1.0, {}, None)
        for params in grid:
            channel, _ = _fit(cls, params, fold.interactions)
            if channel is None:
                break
            items, scores = rank(channel, fold, n=n_candidates, progress=progress, desc=f"val {name}")
            ndcg = metrics_from_top(fold, items, scores, k)["ndcg"]
            log(f"  validation {name} {params}: ndcg@{k}={ndcg:.4f}")
            if ndcg > best[0]:
                best = (ndcg, params, (items, scores))
        if best[2] is None:
            continue
        best_params[name] = best[1]
        report["channels"][name] = {"params": best[1], "ndcg": round(best[0], 4)}
        tops[name] = [best[2]]
    for number, extra in enumerate(folds[1:], start=2):
        for name in list(tops):
            channel, _ = _fit(classes[name], best_params[name], extra.interactions)
            if channel is None:  # cannot happen after a fit on the first fold, but never half-blend
                del tops[name]
                continue
            items, scores = rank(channel, extra, n=n_candidates, progress=progress, desc=f"val{number} {name}")
            ndcg = metrics_from_top(extra, items, scores, k)["ndcg"]
            log(f"  validation fold {number} {name}: ndcg@{k}={ndcg:.4f}")
            report["channels"][name].setdefault("ndcg_other_folds", []).append(round(ndcg, 4))
            tops[name].append((items, scores))
    if not tops:
        return best_params, {}, report
    relevant = [rel for f in folds for rel in f.relevant]
    # The score normalisation is a blend hyper-parameter like the weights: each one gets its own
    # weight search and the better validation NDCG wins (min-max on a tie: it is the default).
    best_blend: tuple[float, dict[str, float], str, dict[str, np.ndarray]] | None = None
    for normalisation in NORMALISATIONS:
        matrices = {
            name: _stack_rows(
                [
                    candidate_matrix(items, scores, f.interactions.n_items, normalisation=normalisation)
                    for f, (items, scores) in zip(folds, per_fold, strict=True)
                ]
            )
            for name, per_fold in tops.items()
        }
        weights, val_ndcg = tune_weights(channel_matrices=matrices, relevant=relevant, k=k)
        log(f"  validation blend ({normalisation}) weights {weights}: ndcg@{k}={val_ndcg:.4f}")
        if best_blend is None or val_ndcg > best_blend[0]:
            best_blend = (val_ndcg, weights, normalisation, matrices)
    val_ndcg, weights, normalisation, matrices = best_blend
    report["blend"] = {
        "weights": weights,
        "normalisation": normalisation,
        "ndcg": round(val_ndcg, 4),
        "ndcg_served": round(val_ndcg, 4),
    }
    if carry_over_check and sum(w > 0 for w in weights.values()) > 1:
        first = {
            name: candidate_matrix(*per_fold[0], fold.interactions.n_items, normalisation=normalisation)
            for name, per_fold in tops.items()
        }
        singles = {
            name: blend_ndcg(channel_matrices=first, weights={name: 1.0}, relevant=fold.relevant, k=k) for name in first
        }
        anchor = max(first, key=lambda name: (singles[name], name))
        check = carry_over(
            dataset,
            inner_rows[0],
            first,
            fold,
            names=[name for name, w in weights.items() if w > 0],
            classes=classes,
            params=best_params,
            normalisation=normalisation,
            k=k,
            n_candidates=n_candidates,
            config=config,
            min_relevance=min_relevance,
            seed=seed + 1 + validation_folds,
            progress=progress,
        )
        check["single"] = {"channel": anchor, "ndcg": round(singles[anchor], 4)}
        check["accepted"] = check["ndcg"] > singles[anchor] * (1 + CARRY_OVER_MIN_GAIN)
        log(
            f"  carry-over check: weights tuned on less data give ndcg@{k}={check['ndcg']:.4f} on the "
            f"validation fold, {anchor} alone {singles[anchor]:.4f}: "
            + ("blend kept" if check["accepted"] else f"blend dropped, {anchor} alone")
        )
        report["blend"]["carry_over"] = check
        if not check["accepted"]:
            weights = {name: (1.0 if name == anchor else 0.0) for name in weights}
            report["blend"]["weights"] = weights
            # What the served weights (the anchor alone) score over the users of every fold.
            served = blend_ndcg(channel_matrices=matrices, weights=weights, relevant=relevant, k=k)
            report["blend"]["ndcg_served"] = round(served, 4)
    return best_params, weights, report


# A blend must beat the best single channel by this much (relative) in the carry-over check, the
# same margin a weight needs in ``tune_weights``.
CARRY_OVER_MIN_GAIN = 0.0025


def carry_over(
    dataset: Dataset,
    inner: data.RatingsLog,
    fold_matrices: dict[str, np.ndarray],
    fold: Fold,
    *,
    names: Sequence[str],
    classes: dict[str, type],
    params: dict[str, dict],
    normalisation: str,
    k: int,
    n_candidates: int,
    config: data.DenoiseConfig,
    min_relevance: float | None,
    seed: int,
    progress: bool,
) -> dict:
    """Blend weights tuned one level down, scored on the validation fold.

    The test-time blend uses weights tuned on channels fitted to less data (a validation fold's
    inner rows) on channels refitted to all train rows; channels that scale well with data (EASE)
    gain on the others, so weights that win on validation can lose on test.  This repeats that
    step inside the train rows: split the fold's ``inner`` rows again (``seed``), fit ``names``
    there with their chosen ``params``, tune the weights on that smaller split, and apply them to
    the fold's own candidate matrices (``fold_matrices``, channels fitted on ``inner``).
    Returns ``{"weights": ..., "ndcg": ...}`` (the NDCG of those weights on ``fold``).
    """
    inner_idx, val_idx = split_per_user(inner, seed=seed)
    small = make_fold(dataset, inner.take(inner_idx), inner.take(val_idx), config=config, min_relevance=min_relevance)
    small_matrices = {}
    for name in names:
        channel, _ = _fit(classes[name], params.get(name, {}), small.interactions)
        if channel is None:
            continue
        items, scores = rank(channel, small, n=n_candidates, progress=progress, desc=f"carry-over {name}")
        small_matrices[name] = candidate_matrix(items, scores, small.interactions.n_items, normalisation=normalisation)
    weights, _ = tune_weights(channel_matrices=small_matrices, relevant=small.relevant, k=k)
    ndcg = blend_ndcg(channel_matrices=fold_matrices, weights=weights, relevant=fold.relevant, k=k)
    return {"weights": weights, "ndcg": round(ndcg, 4)}


def validate(
    dataset: Dataset,
    train: data.RatingsLog,
    *,
    names: Sequence[str],
    k: int = 10,
    min_relevance: float | None = None,
    n_candidates: int = 100,
    config: data.DenoiseConfig | None = None,
    seed: int = 42,
    progress: bool = True,
    blend: bool = True,
    validation_folds: int = 2,
    carry_over_check: bool = True,
) -> list[dict]:
    """The tuning step of :func:`evaluate` alone, on the ``train`` rows only: one row per channel
    and one for the blend, with validation figures (nothing is fitted on all of ``train``).

    A channel row has the params chosen on the first fold, its NDCG there (``ndcg``), on the
    other folds (``ndcg_other_folds``) and over the users of all folds together
    (``ndcg_all_folds``, the population the blend's figures are measured on).  The blend row has
    the weights served (after the carry-over check) and their NDCG (``ndcg``), the tuned blend's
    NDCG (``ndcg_tuned``; the same unless the check fell back to one channel), the normalisation
    and the check's figures.
    """
    started = time.perf_counter()
    config = config or dataset.config
    params, weights, report = tune(
        dataset,
        train,
        names=names,
        k=k,
        n_candidates=max(n_candidates, k),
        config=config,
        min_relevance=min_relevance,
        seed=seed,
        progress=progress,
        validation_folds=validation_folds if blend else 1,
        carry_over_check=blend and carry_over_check,
    )
    users = report["fold_users"]
    rows = []
    for name, channel in report["channels"].items():
        per_fold = [channel["ndcg"], *channel.get("ndcg_other_folds", [])]
        rows.append(
            {
                "dataset": dataset.name,
                "stage": "validation",
                "channel": name,
                "k": k,
                "ndcg": channel["ndcg"],
                "ndcg_other_folds": per_fold[1:],
                "ndcg_all_folds": round(float(np.average(per_fold, weights=users[: len(per_fold)])), 4),
                "params": params.get(name, {}),
            }
        )
    if "blend" in report:
        rows.append(
            {
                "dataset": dataset.name,
                "stage": "validation",
                "channel": "blend",
                "k": k,
                "ndcg": report["blend"]["ndcg_served"],
                "ndcg_tuned": report["blend"]["ndcg"],
                "weights": weights,
                "normalisation": report["blend"]["normalisation"],
                "carry_over": report["blend"].get("carry_over"),
                "validation_folds": report["validation_folds"],
                "fold_users": users,
                "seconds": round(time.perf_counter() - started, 1),
            }
        )
    return rows


def evaluate(
    dataset: Dataset,
    train: data.RatingsLog,
    test: data.RatingsLog,
    *,
    names: Sequence[str],
    k: int = 10,
    min_relevance: float | None = None,
    n_candidates: int = 100,
    tune_on_validation=True,
    config: data.DenoiseConfig | None = None,
    seed: int = 42,
    progress: bool = True,
    blend: bool = True,
    fixed_params: dict[str, dict] | None = None,
    validation_folds: int = 2,
    carry_over_check: bool = True,
) -> list[dict]:
    """Fit every channel on ``train``, rank for the ``test`` users, return one result dict each.

    Also returns a ``blend`` row (when ``blend`` and 2+ channels are available) whose weights
    were tuned on ``validation_folds`` validation splits of ``train`` and, with
    ``carry_over_check``, kept only if weights tuned the same way on less data carry over (see
    :func:`tune`).  ``fixed_params`` (per channel) are used as they are when tuning is off.
    """
    config = config or dataset.config
    n_candidates = max(n_candidates, k)
    params: dict[str, dict] = dict(fixed_params or {})
    weights: dict[str, float] = {}
    normalisation = "minmax"
    if tune_on_validation:
        log("tuning on a validation split of the train rows")
        params, weights, report = tune(
            dataset,
            train,
            names=names,
            k=k,
            n_candidates=n_candidates,
            config=config,
            min_relevance=min_relevance,
            seed=seed,
            progress=progress,
            validation_folds=validation_folds if blend else 1,
            carry_over_check=blend and carry_over_check,
        )
        normalisation = report.get("blend", {}).get("normalisation", normalisation)
    fold = make_fold(dataset, train, test, config=config, min_relevance=min_relevance)
    if not len(fold.users):
        raise ValueError("no test user has a relevant item seen in train: nothing to evaluate")
    classes = available_channels(names, fold.interactions)
    results, tops, fitted = [], {}, {}
    for name, cls in classes.items():
        channel, seconds = _fit(cls, params.get(name, {}), fold.interactions)
        if channel is None:
            continue
        items, scores = rank(channel, fold, n=n_candidates, progress=progress, desc=name)
        tops[name] = (items, scores)
        fitted[name] = channel
        row = {
            "dataset": dataset.name,
            "channel": name,
            "k": k,
            **metrics_from_top(fold, items, scores, k),
            "fit_seconds": round(seconds, 3),
            "params": channel.params(),
        }
        results.append(row)
        log(f"{name}: ndcg@{k}={row['ndcg']:.4f} recall={row['recall']:.4f} fit={seconds:.1f}s")
    if blend and len(tops) >= 2:
        if not weights:
            weights = dict.fromkeys(tops, 1.0)
        weights = {c: w for c, w in weights.items() if c in tops}
        started = time.perf_counter()
        items = np.full((len(fold.users), k), -1, dtype=np.int64)
        scores = np.full((len(fold.users), k), -np.inf)
        for i in range(len(fold.users)):
            cands = {c: list(zip(t[0][i].tolist(), t[1][i].tolist(), strict=True)) for c, t in tops.items()}
            cands = {c: [(it, s) for it, s in lst if np.isfinite(s)] for c, lst in cands.items()}
            merged = blend_candidates(cands, weights=weights, n=k, normalisation=normalisation)
            items[i, : len(merged)] = [m.item for m in merged]
            scores[i, : len(merged)] = [m.score for m in merged]
        row = {
            "dataset": dataset.name,
            "channel": "blend",
            "k": k,
            **metrics_from_top(fold, items, scores, k),
            "fit_seconds": round(sum(r["fit_seconds"] for r in results) + time.perf_counter() - started, 3),
            "params": {"weights": weights, "normalisation": normalisation},
            "validation": report.get("blend") if tune_on_validation else None,
        }
        results.append(row)
        log(f"blend ({normalisation}): ndcg@{k}={row['ndcg']:.4f} recall={row['recall']:.4f} weights={weights}")
    return results


# Steps that are off in a base config but can be measured switched on (row-order clocks only
# support the time decay: a half-life of 40 rows is about half of a KuaiRec user's 83 rows).
ABLATION_SWITCH_ON = {
    "time_decay": {"half_life": 40.0},
    "normalisation": {"normalisation": "log+l2"},
    "watch_ratio_strength": {"view_strength_from_ratio": True},
    "replay_cap": {"max_watch_ratio": 2.0},
    "accidental_clicks": {"min_watch_ratio": 0.1},
}


def ablation(
    dataset: Dataset,
    train: data.RatingsLog,
    test: data.RatingsLog,
    *,
    names: Sequence[str],
    k: int,
    min_relevance: float | None,
    base: data.DenoiseConfig,
    progress: bool,
) -> list[dict]:
    """Quality with each de-noising step of ``base`` switched off (or, if off, on) in turn.

    Channel params are tuned once, on a validation split of ``train`` with the ``base`` config,
    and then held fixed, so that only the data changes between rows.  Clock-based
    steps (floods, bots) are skipped when they are off: with row-order timestamps they mean nothing.
    """
    log("ablation: tuning channel params once on the base config")
    fixed, _, _ = tune(
        dataset,
        train,
        names=names,
        k=k,
        n_candidates=k,
        config=base,
        min_relevance=min_relevance,
        seed=42,
        progress=progress,
    )
    variants = [("base config", base)]
    for step in data.ABLATION_STEPS:
        switched_off = base.without(step)
        if switched_off != base:
            variants.append((f"without {step}", switched_off))
        elif step in ABLATION_SWITCH_ON:
            variants.append((f"with {step}", replace(base, **ABLATION_SWITCH_ON[step])))
    variants.append(("raw (every step off)", replace(data.RAW, hot_half_life=base.hot_half_life)))
    rows = []
    for label, config in variants:
        log(f"ablation: {label}")
        results = evaluate(
            dataset,
            train,
            test,
            names=names,
            k=k,
            min_relevance=min_relevance,
            tune_on_validation=False,
            config=config,
            progress=progress,
            blend=False,
            fixed_params=fixed,
        )
        for r in results:
            rows.append({"variant": label, **r})
    return rows


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The command-line options (shared with ``manage.py evaluate``)."""
    source = parser.add_argument_group("data")
    source.add_argument("--dataset", choices=sorted(DATASET_DIRS), help="a known data set (split made here)")
    source.add_argument("--train", type=Path, help="train CSV: user_id,item_id,rating[,timestamp]")
    source.add_argument("--test", type=Path, help="test CSV, same header")
    source.add_argument(
        "--kind",
        choices=["rating", "view"],
        default=None,
        help="rows are ratings (plain positives) or views (rating = watch ratio, de-noised); "
        "default: view for kuairec, rating otherwise",
    )
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument(
        "--min-relevance",
        type=float,
        default=None,
        help="test rows with rating below this are not relevant (default: every row is)",
    )
    parser.add_argument(
        "--channels",
        nargs="+",
        default=list(DEFAULT_CHANNELS),
        help=f"channels to run (default: {' '.join(DEFAULT_CHANNELS)}); comma lists work too",
    )
    parser.add_argument("--candidates", type=int, default=200, help="top-N per channel fed to the blend")
    parser.add_argument("--no-tune", action="store_true", help="default params and equal blend weights")
    parser.add_argument(
        "--validation-folds",
        type=int,
        default=2,
        help="validation splits of the train rows the blend weights are tuned on (default 2; params: the first)",
    )
    parser.add_argument(
        "--no-carry-over-check",
        action="store_true",
        help="keep the tuned blend without checking that weights tuned on less data still beat the best channel",
    )
    parser.add_argument("--no-blend", action="store_true")
    parser.add_argument(
        "--validation-only",
        action="store_true",
        help="tune on validation splits of the train rows, print the validation figures and stop "
        "(no fit on all train rows, the test rows are never read; --test is not needed)",
    )
    parser.add_argument("--ablation", action="store_true", help="quality with each de-noising step off")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--json", action="store_true", help="one JSON object per line on stdout")
    parser.add_argument("--no-progress", action="store_true")


def run(options: argparse.Namespace | dict) -> list[dict]:
    """Run an evaluation from parsed options; prints the results, returns the rows."""
    opts = options if isinstance(options, dict) else vars(options)
    names = [n for part in opts["channels"] for n in str(part).split(",") if n]
    progress = not opts.get("no_progress")
    if opts.get("dataset"):
        if opts.get("train") or opts.get("test"):
            raise ValueError("give either --dataset or --train/--test, not both")
        dataset = load_dataset(opts["dataset"])
        train_idx, test_idx = split_per_user(dataset.log, seed=opts["seed"])
        train, test = dataset.log.take(train_idx), dataset.log.take(test_idx)
    else:
        validation_only = bool(opts.get("validation_only"))
        if not (opts.get("train") and (opts.get("test") or validation_only)):
            raise ValueError("give --dataset NAME, or both --train T.csv and --test S.csv")
        train = data.load_ratings_csv(opts["train"])
        test = None if validation_only else data.load_ratings_csv(opts["test"])
        dataset = Dataset(Path(opts["train"]).stem, train)
    if opts.get("kind"):
        dataset.kind = opts["kind"]
        dataset.config = WATCH_CONFIG if opts["kind"] == "view" else RATING_CONFIG
    # What the tuning step and the full evaluation are both given.
    common = {
        "names": names,
        "k": opts["k"],
        "min_relevance": opts.get("min_relevance"),
        "n_candidates": opts.get("candidates", 200),
        "seed": opts["seed"],
        "progress": progress,
        "blend": not opts.get("no_blend"),
        "validation_folds": opts.get("validation_folds", 2),
        "carry_over_check": not opts.get("no_carry_over_check"),
    }
    if opts.get("validation_only"):
        if opts.get("ablation") or opts.get("no_tune"):
            raise ValueError("--validation-only reports the tuning step: not with --ablation or --no-tune")
        log(f"{dataset.name}: {len(train)} train rows; validation only, the test rows are not read")
        rows = validate(dataset, train, **common)
        print_validation(rows, as_json=bool(opts.get("json")), k=opts["k"])
        return rows
    log(f"{dataset.name}: {len(train)} train rows, {len(test)} test rows")
    if opts.get("ablation"):
        rows = ablation(
            dataset,
            train,
            test,
            names=names,
            k=opts["k"],
            min_relevance=opts.get("min_relevance"),
            base=dataset.config,
            progress=progress,
        )
    else:
        rows = evaluate(dataset, train, test, tune_on_validation=not opts.get("no_tune"), **common)
    print_rows(rows, as_json=bool(opts.get("json")), k=opts["k"])
    return rows


def _print_json(rows: list[dict]) -> None:
    for row in rows:
        print(
            json.dumps(
                {key: (round(v, 4) if isinstance(v, float) else v) for key, v in row.items()}, ensure_ascii=False
            )
        )


def print_validation(rows: list[dict], *, as_json: bool, k: int) -> None:
    """The rows of :func:`validate`: JSON lines, or a table plus the blend's weights and check."""
    if as_json:
        _print_json(rows)
        return
    print(f"{'channel':<10}{'val ndcg@' + str(k):>14}{'other folds':>14}{'all folds':>11}  params")
    for row in rows:
        if row["channel"] == "blend":
            continue
        other = " ".join(f"{v:.4f}" for v in row["ndcg_other_folds"])
        print(f"{row['channel']:<10}{row['ndcg']:>14.4f}{other:>14}{row['ndcg_all_folds']:>11.4f}  {row['params']}")
    for row in rows:
        if row["channel"] != "blend":
            continue
        print(f"{'blend':<10}{'':>14}{'':>14}{row['ndcg']:>11.4f}  {row['normalisation']} {row['weights']}")
        if row["ndcg_tuned"] != row["ndcg"]:
            print(f"tuned blend (not served): {row['ndcg_tuned']:.4f}")
        if row["carry_over"]:
            check = row["carry_over"]
            print(
                f"carry-over check: {check['ndcg']:.4f} against {check['single']['channel']} alone "
                f"{check['single']['ndcg']:.4f}: " + ("blend kept" if check["accepted"] else "blend dropped")
            )


def print_rows(rows: list[dict], *, as_json: bool, k: int) -> None:
    if as_json:
        _print_json(rows)
        return
    header = f"{'variant':<34}" if rows and "variant" in rows[0] else ""
    print(
        f"{header}{'channel':<10}{'recall@' + str(k):>11}{'ndcg@' + str(k):>10}{'hr@' + str(k):>9}"
        f"{'coverage':>10}{'fit s':>9}"
    )
    for row in rows:
        prefix = f"{row['variant']:<34}" if "variant" in row else ""
        print(
            f"{prefix}{row['channel']:<10}{row['recall']:>11.4f}{row['ndcg']:>10.4f}{row['hr']:>9.4f}"
            f"{row['coverage']:>10.4f}{row['fit_seconds']:>9.2f}"
        )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="evaluate", description=__doc__.split("\n")[0])
    add_arguments(parser)
    options = parser.parse_args(argv)
    try:
        run(options)
    except ValueError as exc:
        parser.exit(2, f"evaluate: error: {exc}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
