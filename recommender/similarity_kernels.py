"""Compiled (numba) kernels behind :func:`recommender.similarity.topk_cosine` (pure: no Django import).

Imported lazily by ``similarity.py`` (numba takes about half a second to import); if numba is
missing, ``similarity.py`` uses its SciPy path instead.  The functions release the GIL
(``nogil=True``) so that plain Python threads run them side by side, and are cached on disk
(``cache=True``): the first call on a machine compiles them (a few seconds), later processes
load them from ``__pycache__``.

The product is Gustavson's row-by-row sparse product computed for one triangle only: anchor
row ``a`` accumulates its dot products with the rows ``b > a`` that share a column with it
(the part after ``a`` of each of its columns' sorted row lists).  Every pair is met once and
offered to the top-K heaps of both of its rows.  Rows are ranked by descending length first,
so the rows that are hit most often sit together at the front of the accumulator (fewer cache
misses), while heaps store the original row ids, so ties still go to the smaller original
column.  Each thread keeps its own bounded heaps for all rows; :func:`merge_heaps` joins them.
The ordering "larger value first, then smaller column" is strict, so the merged top-K is
unique and equal to what a full sort would keep.
"""

from __future__ import annotations

import numba
import numpy as np


@numba.njit(nogil=True, cache=True)
def count_columns(indptr, indices, data, t_indptr, squares):
    """Count each column's entries into ``t_indptr`` and each row's sum of squares into ``squares``.

    Both are zero on entry; ``t_indptr`` (one slot per column, plus one) ends as the row
    pointers of the transpose.
    """
    for i in range(squares.shape[0]):
        for p in range(indptr[i], indptr[i + 1]):
            t_indptr[indices[p] + 1] += 1
            squares[i] += np.float64(data[p]) * data[p]
    for c in range(t_indptr.shape[0] - 1):
        t_indptr[c + 1] += t_indptr[c]


@numba.njit(nogil=True, cache=True)
def transpose_ranked(indptr, indices, data, order, col_start, col_stop, t_indptr, t_indices, t_data, after, work):
    """Fill columns ``col_start:col_stop`` of the transpose (columns x ranks); rank r is row ``order[r]``.

    Rows are visited by rank, so each column's list of ranks comes out sorted.  ``after[p]``
    (one slot per stored entry) gets the position in the transpose just past entry p's own:
    where the later ranks of its column start.  ``work[r]`` (zero on entry) gets the number of
    updates :func:`anchor_rows` makes for rank r in these columns.  Returns whether each of
    these columns holds a single value.
    """
    fill = t_indptr[col_start:col_stop].copy()
    for r in range(order.shape[0]):
        i = order[r]
        for p in range(indptr[i], indptr[i + 1]):
            c = indices[p]
            if col_start <= c < col_stop:
                slot = fill[c - col_start]
                t_indices[slot] = r
                t_data[slot] = data[p]
                fill[c - col_start] = slot + 1
                after[p] = slot + 1
    uniform = True
    for c in range(col_start, col_stop):
        lo = t_indptr[c]
        hi = t_indptr[c + 1]
        for q in range(lo, hi):
            work[t_indices[q]] += hi - q - 1
            if t_data[q] != t_data[lo]:
                uniform = False
    return uniform


@numba.njit(nogil=True, cache=True)
def _worse(v_a, c_a, v_b, c_b) -> bool:
    """Entry a ranks below entry b: smaller value, or the same value and a larger column."""
    return v_a < v_b or (v_a == v_b and c_a > c_b)


@numba.njit(nogil=True, cache=True)
def _offer(row, value, col, k, heap_values, heap_cols, heap_sizes, floor):
    """Offer (value, col) to the bounded min-heap (the worst entry at the root) of ``row``.

    ``floor[row]`` becomes the root's value once the heap is full: callers skip the call for
    values below it.
    """
    vals = heap_values[row]
    cols = heap_cols[row]
    size = heap_sizes[row]
    if size < k:
        pos = size
        while pos > 0:
            parent = (pos - 1) // 2
            if _worse(value, col, vals[parent], cols[parent]):
                vals[pos] = vals[parent]
                cols[pos] = cols[parent]
                pos = parent
            else:
                break
        vals[pos] = value
        cols[pos] = col
        heap_sizes[row] = size + 1
        if size + 1 == k:
            floor[row] = vals[0]
        return
    if not _worse(vals[0], cols[0], value, col):
        return
    pos = 0  # replace the root and sift down
    while True:
        child = 2 * pos + 1
        if child >= k:
            break
        if child + 1 < k and _worse(vals[child + 1], cols[child + 1], vals[child], cols[child]):
            child += 1
        if _worse(vals[child], cols[child], value, col):
            vals[pos] = vals[child]
            cols[pos] = cols[child]
            pos = child
        else:
            break
    vals[pos] = value
    cols[pos] = col
    floor[row] = vals[0]


@numba.njit(nogil=True, cache=True)
def anchor_rows(
    anchors,
    order,
    indptr,
    indices,
    data,
    t_indptr,
    t_indices,
    t_data,
    uniform_columns,
    left,
    right,
    shrink,
    include_self,
    k,
    after,
    acc,
    seen,
    touched,
    heap_values,
    heap_cols,
    heap_sizes,
    floor,
):
    """Offer the similarities of each rank in ``anchors`` with every later rank to both heaps.

    ``indptr/indices/data``: the CSR matrix (original row ids); ``order[r]`` is the original
    row of rank r; ``t_*`` and ``after``: its transpose over ranks (:func:`transpose_ranked`).
    ``uniform_columns``: every column's stored values are equal (binary or per-user-normalised
    data), which saves a load and a multiply per update.  ``left``, ``right`` (float64, by
    rank): the anchor's and the neighbour's norm factors.  Heaps, ``floor`` and ``acc`` are
    indexed by rank; heaps store original column ids.  ``acc`` (float32, zero), ``seen``
    (uint8, zero) and ``touched`` (int32) have one slot per row and are left as found.
    """
    n = acc.shape[0]
    for e in range(anchors.shape[0]):
        a = anchors[e]
        i = order[a]
        lo = indptr[i]
        hi = indptr[i + 1]
        if lo == hi:
            continue
        sq = 0.0
        work = 0
        for p in range(lo, hi):
            x = data[p]
            sq += x * x
            work += t_indptr[indices[p] + 1] - after[p]
        la = left[a]
        ra = right[a]
        if include_self:
            value = np.float32(sq / (la * ra + shrink))
            if value > 0 and value >= floor[a]:
                _offer(a, value, i, k, heap_values, heap_cols, heap_sizes, floor)
        if work == 0:
            continue
        dense = 2 * work >= n - a
        n_touched = 0
        for p in range(lo, hi):
            first = after[p]
            stop = t_indptr[indices[p] + 1]
            if dense and uniform_columns:
                w = data[p] * t_data[first]
                for q in range(first, stop):
                    acc[t_indices[q]] += w
            elif dense:
                x = data[p]
                for q in range(first, stop):
                    acc[t_indices[q]] += x * t_data[q]
            else:
                x = data[p]
                for q in range(first, stop):
                    b = t_indices[q]
                    if seen[b] == 0:
                        seen[b] = 1
                        touched[n_touched] = b
                        n_touched += 1
                    acc[b] += x * t_data[q]
        # Candidates: every later rank (dense), or the ranks reached (sparse).
        n_candidates = n - a - 1 if dense else n_touched
        for t in range(n_candidates):
            if dense:
                b = a + 1 + t
            else:
                b = touched[t]
                seen[b] = 0
            dot = acc[b]
            if dot == 0:
                continue
            acc[b] = 0
            value = np.float32(dot / (la * right[b] + shrink))
            if value > 0 and value >= floor[a]:
                _offer(a, value, order[b], k, heap_values, heap_cols, heap_sizes, floor)
            value = np.float32(dot / (left[b] * ra + shrink))
            if value > 0 and value >= floor[b]:
                _offer(b, value, i, k, heap_values, heap_cols, heap_sizes, floor)


@numba.njit(nogil=True, cache=True)
def merge_heaps(row_start, row_stop, rank, heap_values, heap_cols, heap_sizes, out_indptr, out_indices, out_data):
    """Join the threads' heaps of the original rows ``row_start:row_stop``, best first.

    ``heap_*`` have a leading thread axis and are indexed by ``rank[row]``; ``out_indptr``
    already holds the cumulative count of ``min(k, candidates)`` per row.
    """
    n_threads = heap_values.shape[0]
    width = heap_values.shape[2]
    values = np.empty(n_threads * width, dtype=np.float32)
    cols = np.empty(n_threads * width, dtype=np.int32)
    for r in range(row_start, row_stop):
        h = rank[r]
        m = 0
        for t in range(n_threads):
            for e in range(heap_sizes[t, h]):
                values[m] = heap_values[t, h, e]
                cols[m] = heap_cols[t, h, e]
                m += 1
        if m == 0:
            continue
        # Columns ascending, then a stable sort on descending values: best first, ties by column.
        by_col = np.argsort(cols[:m], kind="mergesort")
        neg = np.empty(m, dtype=np.float32)
        for e in range(m):
            neg[e] = -values[by_col[e]]
        best = np.argsort(neg, kind="mergesort")
        out = out_indptr[r]
        for e in range(out_indptr[r + 1] - out):
            src = by_col[best[e]]
            out_indices[out + e] = cols[src]
            out_data[out + e] = values[src]
