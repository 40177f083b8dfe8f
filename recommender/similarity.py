"""Top-K cosine neighbours between the rows of a sparse matrix (pure: no Django import).

Item-CF calls it on the items x users matrix, user-CF on the users x items matrix.  The full
row x row similarity is never materialised, neither dense nor sparse.

With numba installed, a compiled kernel (:mod:`recommender.similarity_kernels`) computes each
pair's dot product once (Gustavson's row-by-row product over one triangle) and offers it to
both rows' bounded top-K heaps; plain threads run it on blocks of rows of equal estimated cost.
Peak memory is about ``n_threads x n_rows x k x 8`` bytes of heaps, 10 to 16 bytes per stored
entry for the transposed input, and the output.

Without numba, a SciPy path processes rows in chunks: each chunk's similarities (a sparse
product) are expanded to a dense ``chunk x n_rows`` block, the top K per row are picked with a
partition and the block is dropped (peak about ``n_threads x chunk x n_rows x 8`` bytes).  Both
keep the same neighbours in the same order, up to float rounding deciding between equal values.
"""

from __future__ import annotations

import importlib
import logging
import os
from concurrent.futures import ThreadPoolExecutor
from types import ModuleType

import numpy as np
import scipy.sparse as sp

# SciPy path: a dense block of about this many floats per thread (16 MB of float32).
_BLOCK_FLOATS = 4_000_000
# Compiled path: blocks of rows per thread, so that a slow thread does not hold up the end.
_BLOCKS_PER_THREAD = 32
# Compiled path: at most this many bytes of per-thread top-K heaps (n_threads x n_rows x k x 8);
# beyond it, fewer threads, and with k so large that one thread's heaps exceed it, the SciPy path.
_HEAP_BYTES = 1 << 30
# Compiled path: up to this many rows, the transposed matrix stores ranks as uint16.
_NARROW_RANKS = 1 << 16

logger = logging.getLogger(__name__)

_kernels: ModuleType | None = None
_kernels_missing = False


def _compiled_kernels() -> ModuleType | None:
    """The numba kernels, imported on first use; None when numba cannot be imported."""
    global _kernels, _kernels_missing
    if _kernels is None and not _kernels_missing:
        try:
            _kernels = importlib.import_module("recommender.similarity_kernels")
        except (ImportError, RuntimeError) as exc:  # RuntimeError: numba found no cache directory
            _kernels_missing = True
            logger.warning("top-K cosine falls back to the slower SciPy path: %s", exc)
    return _kernels


def row_norms(matrix: sp.csr_matrix) -> np.ndarray:
    """L2 norm of every row (float64)."""
    sq = matrix.multiply(matrix).sum(axis=1)
    return np.sqrt(np.asarray(sq, dtype=np.float64).ravel())


def topk_cosine(
    matrix: sp.spmatrix,
    *,
    k: int,
    shrink: float = 0.0,
    chunk_size: int | None = None,
    n_threads: int | None = None,
    include_self: bool = False,
    alpha: float = 0.5,
) -> sp.csr_matrix:
    """Cosine similarity of every row with every other row, keeping the ``k`` largest per row.

    Returns an ``n_rows x n_rows`` CSR float32 matrix with at most ``k`` stored entries per
    row, sorted best first within each row (equal values: smaller column first); rows with no
    co-occurring neighbour are empty.  ``shrink`` > 0 damps similarities supported by few
    co-occurrences: ``dot / (|a| |b| + shrink)``.  Rows of zeros (users or items without
    interactions) get no neighbours.  Entries <= 0 are never kept.  ``alpha`` != 0.5 gives the
    asymmetric cosine ``dot / (|a|^(2 alpha) |b|^(2 (1 - alpha)))`` (row a is the anchor, b the
    neighbour): above 0.5 it favours popular neighbours, which plain cosine under-ranks.
    ``n_threads`` defaults to ``min(4, cpu_count)``; ``chunk_size`` (rows per dense block) only
    applies to the SciPy path, used when numba is not installed.  The first call on a machine
    compiles the numba kernel (a few seconds; cached on disk afterwards).
    """
    if k <= 0:
        raise ValueError("k must be positive")
    if shrink < 0:
        raise ValueError("shrink must be >= 0")
    rows = sp.csr_matrix(matrix, dtype=np.float32)
    if rows.shape[0] == 0:
        return sp.csr_matrix((0, 0), dtype=np.float32)
    n_threads = n_threads or min(4, os.cpu_count() or 1)
    n = rows.shape[0]
    heap_threads = min(n_threads, _HEAP_BYTES // (n * _clamp_k(k, n, include_self) * 8))
    kernels = _compiled_kernels() if heap_threads > 0 else None
    if kernels is None:
        return _topk_cosine_scipy(
            rows,
            k=k,
            shrink=shrink,
            chunk_size=chunk_size,
            n_threads=n_threads,
            include_self=include_self,
            alpha=alpha,
        )
    return _topk_cosine_compiled(
        kernels, rows, k=k, shrink=shrink, n_threads=heap_threads, include_self=include_self, alpha=alpha
    )


def _clamp_k(k: int, n: int, include_self: bool) -> int:
    return min(k, max(n - (0 if include_self else 1), 1))


def _topk_cosine_compiled(
    kernels: ModuleType,
    rows: sp.csr_matrix,
    *,
    k: int,
    shrink: float,
    n_threads: int,
    include_self: bool,
    alpha: float,
) -> sp.csr_matrix:
    """``topk_cosine`` on the numba kernel; ``rows`` is a non-empty float32 CSR matrix."""
    if not rows.has_canonical_format:
        rows = rows.copy()  # never sort or merge the caller's arrays in place
        rows.sum_duplicates()
    n = rows.shape[0]
    k = _clamp_k(k, n, include_self)
    lengths = np.diff(rows.indptr)
    # Rank rows by length (longest first): the rows met most often share the accumulator's front.
    order = np.argsort(-lengths, kind="stable")
    rank = np.empty(n, dtype=np.int64)
    rank[order] = np.arange(n)
    indptr = rows.indptr.astype(np.int64)
    indices = rows.indices.astype(np.int32, copy=False)
    t_indptr, t_indices, t_data, after, squares, work, uniform_columns = _ranked_transpose(
        kernels, rows, indptr, indices, order, n_threads
    )
    safe = np.sqrt(squares)
    safe = np.where(safe > 0, safe, 1.0)[order]
    left = np.power(safe, 2 * alpha)
    right = np.power(safe, 2 * (1 - alpha))
    blocks = _blocks_of_equal_cost(work, lengths[order], n_threads * _BLOCKS_PER_THREAD)

    heap_values = np.empty((n_threads, n, k), dtype=np.float32)
    heap_cols = np.empty((n_threads, n, k), dtype=np.int32)
    heap_sizes = np.zeros((n_threads, n), dtype=np.int32)
    floor = np.zeros((n_threads, n), dtype=np.float32)
    pending = iter(blocks)  # shared by the threads: next() on it is atomic under the GIL

    def accumulate(thread: int) -> None:
        acc = np.zeros(n, dtype=np.float32)
        seen = np.zeros(n, dtype=np.uint8)
        touched = np.empty(n, dtype=np.int32)
        for anchors in pending:
            kernels.anchor_rows(
                anchors,
                order,
                indptr,
                indices,
                rows.data,
                t_indptr,
                t_indices,
                t_data,
                uniform_columns,
                left,
                right,
                float(shrink),
                bool(include_self),
                k,
                after,
                acc,
                seen,
                touched,
                heap_values[thread],
                heap_cols[thread],
                heap_sizes[thread],
                floor[thread],
            )

    _run_threads(accumulate, n_threads)
    counts = np.minimum(heap_sizes.sum(axis=0), k)[rank]
    out_indptr = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    out_indices = np.empty(out_indptr[-1], dtype=np.int32)
    out_data = np.empty(out_indptr[-1], dtype=np.float32)
    row_edges = np.linspace(0, n, n_threads + 1).astype(np.int64)

    def merge(part: int) -> None:
        kernels.merge_heaps(
            row_edges[part],
            row_edges[part + 1],
            rank,
            heap_values,
            heap_cols,
            heap_sizes,
            out_indptr,
            out_indices,
            out_data,
        )

    _run_threads(merge, n_threads)
    return sp.csr_matrix((out_data, out_indices, out_indptr), shape=(n, n))


def _ranked_transpose(
    kernels: ModuleType,
    rows: sp.csr_matrix,
    indptr: np.ndarray,
    indices: np.ndarray,
    order: np.ndarray,
    n_threads: int,
) -> tuple:
    """The columns x ranks transpose and its by-products (see ``similarity_kernels.transpose_ranked``).

    Returns ``t_indptr, t_indices, t_data, after, squares, work, uniform_columns``.
    """
    n = rows.shape[0]
    t_indptr = np.zeros(rows.shape[1] + 1, dtype=np.int64)
    # Unsigned (no negative-index wrap-around test) and as narrow as the ranks allow: this is
    # the stream the inner loop reads.
    t_indices = np.empty(rows.nnz, dtype=np.uint16 if n <= _NARROW_RANKS else np.uint32)
    t_data = np.empty(rows.nnz, dtype=np.float32)
    after = np.empty(rows.nnz, dtype=np.int32 if rows.nnz < 1 << 31 else np.int64)
    squares = np.zeros(n, dtype=np.float64)
    kernels.count_columns(indptr, indices, rows.data, t_indptr, squares)
    # Each thread fills the columns holding its share of the entries (and reads all the rows).
    col_edges = np.searchsorted(t_indptr, np.linspace(0, rows.nnz, n_threads + 1)[1:-1])
    col_edges = np.concatenate([[0], col_edges, [rows.shape[1]]])
    works = np.zeros((n_threads, n), dtype=np.int64)
    uniform = np.zeros(n_threads, dtype=bool)

    def fill(part: int) -> None:
        uniform[part] = kernels.transpose_ranked(
            indptr,
            indices,
            rows.data,
            order,
            col_edges[part],
            col_edges[part + 1],
            t_indptr,
            t_indices,
            t_data,
            after,
            works[part],
        )

    _run_threads(fill, n_threads)
    return t_indptr, t_indices, t_data, after, squares, works.sum(axis=0), bool(uniform.all())


def _blocks_of_equal_cost(work: np.ndarray, lengths: np.ndarray, n_blocks: int) -> list[np.ndarray]:
    """Consecutive ranks cut into about ``n_blocks`` blocks of about equal cost.

    A rank costs its updates (``work``), its entries, and when it is dense enough to take the
    dense path, a quarter of a sweep over the later ranks.
    """
    n = work.shape[0]
    later = (n - 1 - np.arange(n)).astype(np.float64)
    cost = work + np.where(2 * work >= later + 1, later / 4, 0.0) + lengths + 1
    bounds = np.searchsorted(np.cumsum(cost), np.linspace(0, cost.sum(), n_blocks + 1)[1:-1])
    edges = np.unique(np.concatenate([[0], bounds, [n]]))
    return [np.arange(a, b, dtype=np.int64) for a, b in zip(edges[:-1], edges[1:], strict=True) if b > a]


def _run_threads(fn, n_threads: int) -> None:
    """Run ``fn(0) .. fn(n_threads - 1)`` on that many threads; re-raise the first error."""
    if n_threads == 1:
        fn(0)
        return
    with ThreadPoolExecutor(max_workers=n_threads) as pool:
        for future in [pool.submit(fn, t) for t in range(n_threads)]:
            future.result()


def _topk_cosine_scipy(
    rows: sp.csr_matrix,
    *,
    k: int,
    shrink: float,
    chunk_size: int | None,
    n_threads: int,
    include_self: bool,
    alpha: float,
) -> sp.csr_matrix:
    """``topk_cosine`` with SciPy's sparse product and NumPy's partition (no compiled code)."""
    n = rows.shape[0]
    norms = row_norms(rows).astype(np.float32)
    safe = np.where(norms > 0, norms, 1.0).astype(np.float32)
    asymmetric = alpha != 0.5
    left = np.power(safe, 2 * alpha).astype(np.float32)
    right = np.power(safe, 2 * (1 - alpha)).astype(np.float32)
    if shrink == 0 and not asymmetric:
        # Normalise once so that each block is already a cosine: no division per block.
        rows = sp.csr_matrix(sp.diags(1.0 / safe) @ rows, dtype=np.float32)
    cols = rows.T.tocsr()
    k = _clamp_k(k, n, include_self)
    if chunk_size is None:
        chunk_size = int(max(16, min(4096, _BLOCK_FLOATS // max(n, 1))))
    starts = list(range(0, n, chunk_size))

    def block(start: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        stop = min(start + chunk_size, n)
        dense = (rows[start:stop] @ cols).toarray()
        if shrink or asymmetric:
            dense /= left[start:stop, None] * right[None, :] + shrink
        if not include_self:
            dense[np.arange(stop - start), np.arange(start, stop)] = 0.0
        # The k-th largest value per row, then a mask: np.partition on values is about 3x faster
        # than argpartition on these half-zero blocks, and the mask keeps only positive entries.
        if k < n:
            threshold = np.partition(dense, n - k, axis=1)[:, n - k]
            mask = dense >= threshold[:, None]
            mask &= dense > 0
        else:
            mask = dense > 0
        r, c = np.nonzero(mask)
        v = dense[r, c]
        # Best first within each row; ties at the threshold can select more than k: trim them.
        order = np.lexsort((c, -v, r))
        r, c, v = r[order], c[order], v[order]
        row_start = np.searchsorted(r, np.arange(stop - start))
        keep = (np.arange(len(r)) - row_start[r]) < k
        r, c, v = r[keep], c[keep], v[keep]
        return np.bincount(r, minlength=stop - start), c.astype(np.int32), v.astype(np.float32)

    if n_threads > 1 and len(starts) > 1:
        with ThreadPoolExecutor(max_workers=n_threads) as pool:
            parts = list(pool.map(block, starts))
    else:
        parts = [block(s) for s in starts]
    counts = np.concatenate([p[0] for p in parts])
    indptr = np.concatenate([[0], np.cumsum(counts)])
    indices = np.concatenate([p[1] for p in parts])
    values = np.concatenate([p[2] for p in parts])
    return sp.csr_matrix((values, indices, indptr), shape=(n, n))


def cosine_to_all(matrix: sp.csr_matrix, row: int) -> np.ndarray:
    """Cosine of row ``row`` with every row of ``matrix`` (dense float32; used for one-off queries)."""
    rows = sp.csr_matrix(matrix, dtype=np.float32)
    norms = row_norms(rows)
    dots = np.asarray((rows @ rows[row].T).todense(), dtype=np.float64).ravel()
    denom = norms * norms[row]
    with np.errstate(invalid="ignore", divide="ignore"):
        out = np.where(denom > 0, dots / np.where(denom > 0, denom, 1.0), 0.0)
    return out.astype(np.float32)
