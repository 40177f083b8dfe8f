"""TensorFlow recall channel against implicit's ALS on MovieLens latest-small, in the same run.

Same protocol as ``python -m recommender.evaluation --dataset movielens-small``: per user a seeded
random 25 % of the ratings to test (seed 42), every rating a positive, full ranking over the items
seen in train, the user's train items excluded.  Prints fit seconds and NDCG@10 / Recall@10 for both
models and the ratios::

    python bench/bench_tf_model.py                       # both models, the channel's defaults
    python bench/bench_tf_model.py --validation          # same, on a validation split of TRAIN
    python bench/bench_tf_model.py --json

``--validation`` evaluates on a split cut from the train rows only (seed 43, like the harness's
tuning), which is where the channel's default hyper-parameters were chosen.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

# Quiet TensorFlow's C++ start-up banner; implicit wants a single-threaded BLAS.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

import numpy as np  # noqa: E402

from recommender import evaluation  # noqa: E402


class _ALS:
    """implicit's AlternatingLeastSquares behind the ``score`` the harness ranks with."""

    def __init__(self, *, factors: int, seed: int) -> None:
        from implicit.cpu.als import AlternatingLeastSquares

        self.model = AlternatingLeastSquares(factors=factors, random_state=seed)

    def fit(self, interactions) -> _ALS:
        self.model.fit(interactions.matrix, show_progress=False)
        return self

    def score(self, user_rows: np.ndarray) -> np.ndarray:
        return self.model.user_factors[user_rows] @ self.model.item_factors.T


def measure(name: str, make, fold: evaluation.Fold, *, k: int) -> dict:
    started = time.perf_counter()
    model = make().fit(fold.interactions)
    seconds = time.perf_counter() - started
    items, scores = evaluation.rank(model, fold, n=k, progress=False)
    metrics = evaluation.metrics_from_top(fold, items, scores, k)
    return {"model": name, "fit_seconds": round(seconds, 2), **metrics}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--validation", action="store_true", help="evaluate on a validation split of TRAIN")
    parser.add_argument("--als-factors", type=int, default=64)
    parser.add_argument("--params", default="{}", help="JSON overrides for TFMatrixFactorization")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)

    from recommender.models.mf import TFMatrixFactorization

    try:
        dataset = evaluation.load_dataset("movielens-small")
    except ValueError as exc:
        print(f"skipped: {exc}", file=sys.stderr)
        return 0
    train_idx, test_idx = evaluation.split_per_user(dataset.log, seed=42)
    train, held_out = dataset.log.take(train_idx), dataset.log.take(test_idx)
    if args.validation:
        inner_idx, val_idx = evaluation.split_per_user(train, seed=43)
        train, held_out = train.take(inner_idx), train.take(val_idx)
    fold = evaluation.make_fold(dataset, train, held_out, config=dataset.config, min_relevance=None)
    params = json.loads(args.params)
    rows = [
        measure("implicit ALS", lambda: _ALS(factors=args.als_factors, seed=42), fold, k=args.k),
        measure("tf (TFMatrixFactorization)", lambda: TFMatrixFactorization(**params), fold, k=args.k),
    ]
    als, tf_row = rows
    summary = {
        "split": "validation (train only)" if args.validation else "test",
        "users": len(fold.users),
        "items": fold.interactions.n_items,
        "train_pairs": int(fold.interactions.matrix.nnz),
        "ndcg_ratio_tf_over_als": round(tf_row["ndcg"] / als["ndcg"], 3),
        "time_ratio_tf_over_als": round(tf_row["fit_seconds"] / max(als["fit_seconds"], 1e-9), 1),
        "tf_params": TFMatrixFactorization(**params).params(),
    }
    if args.json:
        for row in rows:
            print(json.dumps(row))
        print(json.dumps(summary))
        return 0
    print(f"MovieLens latest-small, {summary['split']} split: {summary['users']} users, "
          f"{summary['items']} items, {summary['train_pairs']} train pairs; k={args.k}")
    print(f"{'model':<28} {'fit s':>7} {'NDCG':>7} {'Recall':>7} {'HR':>7} {'cover':>7}")
    for row in rows:
        print(f"{row['model']:<28} {row['fit_seconds']:>7.1f} {row['ndcg']:>7.4f} {row['recall']:>7.4f} "
              f"{row['hr']:>7.4f} {row['coverage']:>7.4f}")
    print(f"tf / ALS: NDCG x{summary['ndcg_ratio_tf_over_als']}, "
          f"fit time x{summary['time_ratio_tf_over_als']}")
    print(f"tf params: {summary['tf_params']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
