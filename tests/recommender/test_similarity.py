"""Chunked top-K cosine against a brute-force dense computation."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from recommender.similarity import cosine_to_all, topk_cosine


def _brute(dense: np.ndarray, shrink: float = 0.0) -> np.ndarray:
    norms = np.linalg.norm(dense, axis=1)
    sims = dense @ dense.T / (np.outer(norms, norms) + shrink + 1e-30)
    np.fill_diagonal(sims, 0.0)
    return sims


@pytest.mark.parametrize(("chunk_size", "n_threads", "shrink"), [(7, 1, 0.0), (16, 2, 0.0), (5, 2, 3.0)])
def test_topk_matches_brute_force(chunk_size, n_threads, shrink):
    rng = np.random.default_rng(1)
    dense = (rng.random((60, 200)) < 0.08).astype(np.float32) * rng.random((60, 200)).astype(np.float32)
    dense[5] = 0.0  # a row without interactions gets no neighbours
    k = 6
    got = topk_cosine(sp.csr_matrix(dense), k=k, shrink=shrink, chunk_size=chunk_size, n_threads=n_threads)
    want = _brute(dense, shrink)
    assert got.shape == (60, 60)
    assert got[5].nnz == 0
    for row in range(60):
        vals = got[row].data
        assert len(vals) <= k and (vals > 0).all()
        assert row not in set(got[row].indices.tolist())
        expected = np.sort(want[row][want[row] > 0])[::-1][:k]
        np.testing.assert_allclose(np.sort(vals)[::-1], expected, rtol=1e-4)
        np.testing.assert_allclose(vals, want[row, got[row].indices], rtol=1e-4)


def test_topk_bad_arguments_and_empty_input():
    with pytest.raises(ValueError, match="k must be positive"):
        topk_cosine(sp.csr_matrix(np.eye(3)), k=0)
    with pytest.raises(ValueError, match="shrink"):
        topk_cosine(sp.csr_matrix(np.eye(3)), k=1, shrink=-1)
    assert topk_cosine(sp.csr_matrix((0, 4)), k=3).shape == (0, 0)


def test_cosine_to_all():
    m = sp.csr_matrix(np.array([[1.0, 0.0], [1.0, 1.0], [0.0, 0.0]]))
    np.testing.assert_allclose(cosine_to_all(m, 0), [1.0, 1 / np.sqrt(2), 0.0], rtol=1e-6)
