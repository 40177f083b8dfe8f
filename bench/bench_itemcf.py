"""Item-CF top-K build: ``recommender.similarity.topk_cosine`` against implicit's CosineRecommender.

Same synthetic matrix, same K, same thread count, same run.  The matrix is shaped like
MovieLens-20M (138,493 users x 26,744 items, about 14M non-zeros) with power-law item
popularity and long-tailed user activity.  Each measurement runs in a fresh child process so
that peak memory (VmHWM minus the RSS after loading the matrix) is not polluted by the other
library; the figures are medians over ``--repeats`` runs.  ``topk_cosine``'s numba kernel is
compiled once per machine and cached on disk: a warm-up child (a tiny matrix, untimed in the
figures) fills that cache first and its time is printed separately.

    python bench/bench_itemcf.py                    # full size (a few minutes on 2 cores)
    python bench/bench_itemcf.py --scale 0.1 --repeats 3
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import scipy.sparse as sp

ML20M_USERS, ML20M_ITEMS, ML20M_NNZ = 138_493, 26_744, 14_000_000


def synthetic_matrix(*, scale: float, seed: int = 0) -> sp.csr_matrix:
    """Users x items binary CSR with Zipf-like item popularity and lognormal user activity."""
    rng = np.random.default_rng(seed)
    n_users = max(int(ML20M_USERS * scale), 100)
    n_items = max(int(ML20M_ITEMS * scale), 50)
    target = int(ML20M_NNZ * scale * scale) if scale < 1 else ML20M_NNZ
    target = min(target, n_users * n_items // 4)
    # Draws of the same (user, item) collapse when de-duplicated: oversample to land near target.
    target = int(target * 1.25)
    item_p = 1.0 / np.arange(1, n_items + 1) ** 0.9
    item_p /= item_p.sum()
    activity = rng.lognormal(mean=0.0, sigma=1.0, size=n_users)
    degrees = np.maximum(np.round(activity / activity.sum() * target).astype(np.int64), 5)
    degrees = np.minimum(degrees, n_items // 2)
    rows = np.repeat(np.arange(n_users), degrees)
    # Oversample then dedupe: popular items are drawn more than once per heavy user.
    cols = rng.choice(n_items, size=len(rows), p=item_p)
    matrix = sp.csr_matrix((np.ones(len(rows), dtype=np.float32), (rows, cols)), shape=(n_users, n_items))
    matrix.sum_duplicates()
    matrix.data[:] = 1.0
    perm = rng.permutation(n_items)  # popular items are not all at the start of the columns
    return matrix[:, perm].tocsr()


def _rss_kb(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def warm_up() -> None:
    """Import ``topk_cosine`` and run it once on a tiny matrix; print a JSON line with the seconds.

    On a machine without the numba cache this is the one-off compile; afterwards it is the
    import of numba and the load of the cached kernel.
    """
    started = time.perf_counter()
    from recommender.similarity import topk_cosine

    topk_cosine(synthetic_matrix(scale=0.001).T.tocsr(), k=5, n_threads=2)
    print(json.dumps({"method": "warm-up", "seconds": time.perf_counter() - started}))


def child(method: str, path: str, k: int, threads: int) -> None:
    """Run one build in this (fresh) process and print a JSON line with seconds and peak MB."""
    with np.load(path) as arrays:
        matrix = sp.csr_matrix((arrays["data"], arrays["indices"], arrays["indptr"]), shape=tuple(arrays["shape"]))
    if method == "implicit":
        os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
        from implicit.nearest_neighbours import CosineRecommender

        model = CosineRecommender(K=k, num_threads=threads)
        before = _rss_kb("VmRSS")
        started = time.perf_counter()
        model.fit(matrix, show_progress=False)
        seconds = time.perf_counter() - started
        nnz = model.similarity.nnz
    else:
        from recommender.similarity import topk_cosine

        before = _rss_kb("VmRSS")
        started = time.perf_counter()
        sims = topk_cosine(matrix.T.tocsr(), k=k, n_threads=threads)
        seconds = time.perf_counter() - started
        nnz = sims.nnz
    peak_mb = (_rss_kb("VmHWM") - before) / 1024
    print(json.dumps({"method": method, "seconds": seconds, "peak_mb": peak_mb, "nnz": int(nnz)}))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--scale", type=float, default=1.0, help="fraction of the ML-20M shape (users and items)")
    parser.add_argument("--k", type=int, default=50)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--child", nargs=2, metavar=("METHOD", "NPZ"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        if args.child[0] == "warm-up":
            warm_up()
        else:
            child(args.child[0], args.child[1], args.k, args.threads)
        return 0

    matrix = synthetic_matrix(scale=args.scale)
    print(
        f"matrix: {matrix.shape[0]} users x {matrix.shape[1]} items, {matrix.nnz} non-zeros; "
        f"K={args.k}, threads={args.threads}",
        file=sys.stderr,
    )
    repo = Path(__file__).resolve().parent.parent
    env = {**os.environ, "PYTHONPATH": f"{repo}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    warm = subprocess.run(
        [sys.executable, __file__, "--child", "warm-up", "-"], capture_output=True, text=True, env=env, check=True
    )
    warm_seconds = json.loads(warm.stdout.strip().splitlines()[-1])["seconds"]
    print(f"  ours warm-up (numba compile on a cold cache, else load): {warm_seconds:.2f} s", file=sys.stderr)
    results: dict[str, list[dict]] = {"ours": [], "implicit": []}
    with tempfile.TemporaryDirectory() as tmp:
        path = str(Path(tmp) / "matrix.npz")
        np.savez(path, data=matrix.data, indices=matrix.indices, indptr=matrix.indptr, shape=matrix.shape)
        for _ in range(args.repeats):
            for method in ("ours", "implicit"):  # interleaved: background load hits both alike
                out = subprocess.run(
                    [
                        sys.executable,
                        __file__,
                        "--k",
                        str(args.k),
                        "--threads",
                        str(args.threads),
                        "--child",
                        method,
                        path,
                    ],
                    capture_output=True,
                    text=True,
                    env=env,
                    check=True,
                )
                row = json.loads(out.stdout.strip().splitlines()[-1])
                results[method].append(row)
                print(f"  {method:<9} {row['seconds']:8.2f} s  {row['peak_mb']:8.0f} MB", file=sys.stderr)
    summary = {}
    for method, rows in results.items():
        summary[method] = {
            "seconds": statistics.median(r["seconds"] for r in rows),
            "peak_mb": statistics.median(r["peak_mb"] for r in rows),
        }
    ratio_t = summary["ours"]["seconds"] / summary["implicit"]["seconds"]
    ratio_m = summary["ours"]["peak_mb"] / max(summary["implicit"]["peak_mb"], 1e-9)
    print(f"{'':<10}{'median s':>10}{'peak MB':>10}")
    for method, s in summary.items():
        print(f"{method:<10}{s['seconds']:>10.2f}{s['peak_mb']:>10.0f}")
    print(f"ratio ours/implicit: time {ratio_t:.2f}x, peak memory {ratio_m:.2f}x")
    print(
        json.dumps(
            {
                "shape": list(matrix.shape),
                "nnz": int(matrix.nnz),
                "k": args.k,
                "threads": args.threads,
                "repeats": args.repeats,
                **summary,
                "warm_up_seconds": warm_seconds,
                "time_ratio": ratio_t,
                "memory_ratio": ratio_m,
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
