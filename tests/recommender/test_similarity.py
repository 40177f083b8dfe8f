"""Top-K cosine: the compiled kernel and the SciPy path against a brute-force dense computation."""

from __future__ import annotations

import sys

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from recommender import similarity
from recommender.similarity import _topk_cosine_scipy, cosine_to_all, topk_cosine


@pytest.fixture(params=["compiled", "scipy"])
def path(request, monkeypatch):
    """Run a test on the numba kernel and again with numba made unimportable (the fallback)."""
    if request.param == "compiled":
        assert similarity._compiled_kernels() is not None, "numba is in requirements.txt"
    else:
        monkeypatch.setitem(sys.modules, "recommender.similarity_kernels", None)  # import raises
        monkeypatch.setattr(similarity, "_kernels", None)
        monkeypatch.setattr(similarity, "_kernels_missing", False)
        assert similarity._compiled_kernels() is None
    return request.param


def _brute(dense: np.ndarray, *, shrink: float = 0.0, alpha: float = 0.5, include_self: bool = False) -> np.ndarray:
    """Every similarity in float64, with the rules of ``topk_cosine`` (entries <= 0 dropped later)."""
    dense = dense.astype(np.float64)
    norms = np.linalg.norm(dense, axis=1)
    safe = np.where(norms > 0, norms, 1.0)
    sims = dense @ dense.T / (np.outer(safe ** (2 * alpha), safe ** (2 * (1 - alpha))) + shrink)
    if not include_self:
        np.fill_diagonal(sims, 0.0)
    return sims


def _assert_topk(got: sp.csr_matrix, want: np.ndarray, k: int, rtol: float = 1e-4) -> None:
    """``got`` keeps, per row, the k largest positive entries of ``want``, best first.

    Equal values may be swapped for one another (float rounding differs between
    implementations), so neighbours are checked through their values, not their ids.
    """
    n = want.shape[0]
    assert got.shape == (n, n)
    assert got.dtype == np.float32
    for row in range(n):
        start, stop = got.indptr[row], got.indptr[row + 1]
        cols, vals = got.indices[start:stop], got.data[start:stop]
        expected = np.sort(want[row][want[row] > 1e-9])[::-1][:k]
        assert len(vals) == len(expected), row
        assert len(set(cols.tolist())) == len(cols)
        assert (vals > 0).all()
        assert (np.diff(vals) <= 0).all(), "best first"
        assert (np.diff(cols)[np.diff(vals) == 0] > 0).all(), "equal values: smaller column first"
        np.testing.assert_allclose(vals, expected, rtol=rtol)
        np.testing.assert_allclose(vals, want[row, cols], rtol=rtol)


def _random_dense(rng: np.random.Generator, n_rows: int, n_cols: int, density: float) -> np.ndarray:
    """Continuous random values: exact ties between different rows have probability zero."""
    mask = rng.random((n_rows, n_cols)) < density
    return (mask * rng.random((n_rows, n_cols))).astype(np.float32)


@pytest.mark.parametrize(("chunk_size", "n_threads", "shrink"), [(7, 1, 0.0), (16, 2, 0.0), (5, 2, 3.0)])
def test_topk_matches_brute_force(path, chunk_size, n_threads, shrink):
    rng = np.random.default_rng(1)
    dense = _random_dense(rng, 60, 200, 0.08)
    dense[5] = 0.0  # a row without interactions gets no neighbours
    k = 6
    got = topk_cosine(sp.csr_matrix(dense), k=k, shrink=shrink, chunk_size=chunk_size, n_threads=n_threads)
    assert got[5].nnz == 0
    assert not (got.diagonal() != 0).any(), "no row is its own neighbour"
    _assert_topk(got, _brute(dense, shrink=shrink), k)


@pytest.mark.parametrize(
    ("shrink", "alpha", "include_self", "k", "n_threads"),
    [
        (0.0, 0.5, False, 5, 1),
        (0.0, 0.5, True, 5, 2),
        (2.5, 0.5, False, 8, 3),
        (0.0, 0.8, False, 4, 2),
        (1.0, 0.3, True, 7, 2),
        (0.0, 0.5, False, 1000, 2),  # k >= n: every positive neighbour
        (0.5, 0.7, True, 1000, 1),
    ],
)
def test_kernel_equals_scipy_path(shrink, alpha, include_self, k, n_threads):
    """Without ties the two implementations keep the same neighbours in the same order."""
    rng = np.random.default_rng(7)
    dense = _random_dense(rng, 90, 300, 0.05)
    dense[[3, 40, 89]] = 0.0
    matrix = sp.csr_matrix(dense)
    args = {"k": k, "shrink": shrink, "include_self": include_self, "alpha": alpha}
    got = topk_cosine(matrix, n_threads=n_threads, **args)
    want = _topk_cosine_scipy(sp.csr_matrix(matrix, dtype=np.float32), chunk_size=None, n_threads=1, **args)
    np.testing.assert_array_equal(got.indptr, want.indptr)
    np.testing.assert_array_equal(got.indices, want.indices)
    np.testing.assert_allclose(got.data, want.data, rtol=1e-5)
    _assert_topk(got, _brute(dense, shrink=shrink, alpha=alpha, include_self=include_self), k)
    if not include_self:
        assert not (got.diagonal() != 0).any()


def test_wide_rank_indices_give_the_same_result(monkeypatch):
    """Past 65,536 rows the kernel stores ranks as uint32 instead of uint16: same output."""
    rng = np.random.default_rng(11)
    matrix = sp.csr_matrix(_random_dense(rng, 80, 120, 0.06))
    narrow = topk_cosine(matrix, k=4, shrink=1.0, n_threads=2)
    monkeypatch.setattr(similarity, "_NARROW_RANKS", 10)
    wide = topk_cosine(matrix, k=4, shrink=1.0, n_threads=2)
    assert (narrow != wide).nnz == 0
    np.testing.assert_array_equal(narrow.indices, wide.indices)


def test_asymmetric_cosine_is_not_symmetric(path):
    dense = np.array([[1.0, 1.0, 1.0, 1.0], [1.0, 0.0, 0.0, 0.0], [0.0, 1.0, 1.0, 0.0]], dtype=np.float32)
    got = topk_cosine(sp.csr_matrix(dense), k=2, alpha=0.9).toarray()
    want = _brute(dense, alpha=0.9)
    np.testing.assert_allclose(got, want, rtol=1e-5)
    assert got[0, 1] != got[1, 0]


def test_equal_values_go_to_the_smaller_column(path):
    # Rows 2, 4, 5 and 7 are copies of one another: all equally similar to row 0 (and each
    # other), so row 0 keeps the two smallest of them and each copy ranks its twins by id.
    base = np.array([1.0, 0.0, 2.0, 0.0, 1.0, 0.0], dtype=np.float32)
    dense = np.zeros((8, 6), dtype=np.float32)
    dense[0] = [1.0, 0.0, 1.0, 0.0, 0.0, 3.0]
    dense[[2, 4, 5, 7]] = base
    dense[1] = [0.0, 1.0, 0.0, 0.0, 0.0, 0.0]
    dense[3] = [0.0, 1.0, 0.0, 1.0, 0.0, 0.0]
    got = topk_cosine(sp.csr_matrix(dense), k=2, n_threads=2)
    assert got[0].indices.tolist() == [2, 4]
    assert got[7].indices.tolist() == [2, 4]
    assert got[2].indices.tolist() == [4, 5]
    got = topk_cosine(sp.csr_matrix(dense), k=3, include_self=True)
    assert got[5].indices.tolist() == [2, 4, 5]  # self ties with its copies: smaller ids first
    # Rows 1 and 2 differ but are exactly as similar to row 0 (2 / sqrt(8)); the longer row 2 is
    # met first by the kernel, and must still give way to row 1 once row 0's top-1 is full.
    dense = np.array([[1, 0, 0, 0, 0], [2, 2, 0, 0, 0], [2, 1, 1, 1, 1]], dtype=np.float32)
    for n_threads in (1, 2):
        assert topk_cosine(sp.csr_matrix(dense), k=1, n_threads=n_threads)[0].indices.tolist() == [1]
    # The same from row 0's side, where row 0 is the longest: both cosines are exactly 0.5.
    dense = np.array([[1, 1, 1, 1, 0, 0], [2, 0, 0, 0, 0, 0], [1, 1, 0, 0, 1, 1]], dtype=np.float32)
    got = topk_cosine(sp.csr_matrix(dense), k=1, n_threads=1)
    assert got[0].indices.tolist() == [1]
    assert got[0].data.tolist() == [0.5]


def test_single_row_and_rows_without_overlap(path):
    one = sp.csr_matrix(np.array([[0.0, 2.0, 1.0]], dtype=np.float32))
    assert topk_cosine(one, k=3).nnz == 0
    with_self = topk_cosine(one, k=3, include_self=True)
    assert with_self.indices.tolist() == [0]
    np.testing.assert_allclose(with_self.data, [1.0], rtol=1e-6)
    disjoint = sp.csr_matrix(np.eye(4, dtype=np.float32))
    assert topk_cosine(disjoint, k=2).nnz == 0
    assert topk_cosine(sp.csr_matrix((5, 3), dtype=np.float32), k=2).shape == (5, 5)


def test_negative_similarities_are_dropped(path):
    dense = np.array([[1.0, 0.0], [-1.0, 0.0], [1.0, 1.0], [-1.0, -0.5]], dtype=np.float32)
    got = topk_cosine(sp.csr_matrix(dense), k=3)
    _assert_topk(got, _brute(dense), 3)
    assert got[0].indices.tolist() == [2]


def test_duplicate_entries_are_summed_and_the_input_left_alone():
    coo = sp.coo_matrix(
        (np.array([1.0, 2.0, 1.0, 1.0, 1.0], dtype=np.float32), ([0, 0, 1, 2, 2], [1, 1, 1, 0, 1])), shape=(3, 2)
    )
    matrix = sp.csr_matrix((coo.data, coo.col, np.array([0, 2, 3, 5])), shape=(3, 2))  # row 0: (0, 1) twice
    assert not matrix.has_canonical_format
    before = matrix.data.copy(), matrix.indices.copy()
    got = topk_cosine(matrix, k=2)
    _assert_topk(got, _brute(coo.toarray()), 2)
    np.testing.assert_array_equal(matrix.data, before[0])
    np.testing.assert_array_equal(matrix.indices, before[1])


@settings(max_examples=60, deadline=None)
@given(
    shape=st.tuples(st.integers(1, 30), st.integers(1, 25)),
    density=st.floats(0.0, 0.6),
    seed=st.integers(0, 2**32 - 1),
    k=st.integers(1, 35),
    shrink=st.sampled_from([0.0, 0.5, 4.0]),
    alpha=st.sampled_from([0.5, 0.2, 0.75]),
    include_self=st.booleans(),
    n_threads=st.integers(1, 3),
    binary=st.booleans(),
)
def test_kernel_property(shape, density, seed, k, shrink, alpha, include_self, n_threads, binary):
    """Any matrix, including all-equal (binary) values full of ties: top-K of the brute force."""
    rng = np.random.default_rng(seed)
    mask = rng.random(shape) < density
    values = np.ones(shape) if binary else rng.integers(1, 4, size=shape)
    dense = (mask * values).astype(np.float32)
    got = topk_cosine(
        sp.csr_matrix(dense), k=k, shrink=shrink, alpha=alpha, include_self=include_self, n_threads=n_threads
    )
    _assert_topk(got, _brute(dense, shrink=shrink, alpha=alpha, include_self=include_self), k)
    if not include_self:
        assert not (got.diagonal() != 0).any()


def test_topk_bad_arguments_and_empty_input(path):
    with pytest.raises(ValueError, match="k must be positive"):
        topk_cosine(sp.csr_matrix(np.eye(3)), k=0)
    with pytest.raises(ValueError, match="shrink"):
        topk_cosine(sp.csr_matrix(np.eye(3)), k=1, shrink=-1)
    empty = topk_cosine(sp.csr_matrix((0, 4)), k=3)
    assert empty.shape == (0, 0) and empty.nnz == 0


def test_missing_numba_falls_back_with_a_warning(monkeypatch, caplog):
    monkeypatch.setitem(sys.modules, "recommender.similarity_kernels", None)
    monkeypatch.setattr(similarity, "_kernels", None)
    monkeypatch.setattr(similarity, "_kernels_missing", False)
    dense = _random_dense(np.random.default_rng(5), 30, 40, 0.2)
    with caplog.at_level("WARNING", logger="recommender.similarity"):
        got = topk_cosine(sp.csr_matrix(dense), k=3)
        topk_cosine(sp.csr_matrix(dense), k=3)
    _assert_topk(got, _brute(dense), 3)
    warnings = [r.getMessage() for r in caplog.records if r.name == "recommender.similarity"]
    assert len(warnings) == 1, "warned once, not on every call"
    assert "SciPy" in warnings[0]


def test_large_k_falls_back_within_the_heap_budget(monkeypatch):
    rng = np.random.default_rng(3)
    dense = _random_dense(rng, 40, 50, 0.2)
    monkeypatch.setattr(similarity, "_HEAP_BYTES", 40 * 39 * 8 - 1)  # one thread's heaps do not fit
    calls = []
    monkeypatch.setattr(similarity, "_topk_cosine_compiled", lambda *a, **kw: calls.append(1))
    got = topk_cosine(sp.csr_matrix(dense), k=100, n_threads=2)
    assert calls == []
    _assert_topk(got, _brute(dense), 100)


def test_cosine_to_all():
    m = sp.csr_matrix(np.array([[1.0, 0.0], [1.0, 1.0], [0.0, 0.0]]))
    np.testing.assert_allclose(cosine_to_all(m, 0), [1.0, 1 / np.sqrt(2), 0.0], rtol=1e-6)
