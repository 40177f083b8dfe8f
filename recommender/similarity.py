"""Top-K cosine neighbours between the rows of a sparse matrix (pure: no Django import).

Item-CF calls it on the items x users matrix, user-CF on the users x items matrix.  The full
row x row similarity is never materialised, neither dense nor sparse: rows are processed in
chunks; each chunk's similarities (a sparse product) are expanded to a dense
``chunk x n_rows`` block, the top K per row are picked with ``argpartition`` and the block is
dropped.  SciPy's sparse product and NumPy's partition release the GIL, so chunks run on a
small thread pool.  Peak memory is about ``n_threads x chunk x n_rows x 8`` bytes on top of the
input and the K-per-row output.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import scipy.sparse as sp

# A dense block of about this many floats per thread (16 MB of float32).
_BLOCK_FLOATS = 4_000_000


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
    row, sorted best first within each row; rows with no co-occurring neighbour are empty.
    ``shrink`` > 0 damps similarities supported by few co-occurrences:
    ``dot / (|a| |b| + shrink)``.  Rows of zeros (users or items without interactions) get no
    neighbours.  Entries <= 0 are never kept.  ``alpha`` != 0.5 gives the asymmetric cosine
    ``dot / (|a|^(2 alpha) |b|^(2 (1 - alpha)))`` (row a is the anchor, b the neighbour): above
    0.5 it favours popular neighbours, which plain cosine under-ranks.
    """
    if k <= 0:
        raise ValueError("k must be positive")
    if shrink < 0:
        raise ValueError("shrink must be >= 0")
    rows = sp.csr_matrix(matrix, dtype=np.float32)
    n = rows.shape[0]
    if n == 0:
        return sp.csr_matrix((0, 0), dtype=np.float32)
    norms = row_norms(rows).astype(np.float32)
    safe = np.where(norms > 0, norms, 1.0).astype(np.float32)
    asymmetric = alpha != 0.5
    left = np.power(safe, 2 * alpha).astype(np.float32)
    right = np.power(safe, 2 * (1 - alpha)).astype(np.float32)
    if shrink == 0 and not asymmetric:
        # Normalise once so that each block is already a cosine: no division per block.
        rows = sp.csr_matrix(sp.diags(1.0 / safe) @ rows, dtype=np.float32)
    cols = rows.T.tocsr()
    k = min(k, max(n - (0 if include_self else 1), 1))
    if chunk_size is None:
        chunk_size = int(max(16, min(4096, _BLOCK_FLOATS // max(n, 1))))
    n_threads = n_threads or min(4, os.cpu_count() or 1)
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
