"""Exact inner-product top-k in plain numpy: the reference every index kind is held to, and
the search used when a filter leaves too few rows for an ANN walk to find them."""
from __future__ import annotations

from typing import Callable, Union

import numpy as np

# Floats scored per block (block rows = this / d): a block stays in cache when converted, and
# no converted copy of the whole corpus is ever made.
BLOCK_FLOATS = 1 << 20

# The corpus: a 2-d array, or a function from row numbers to their vectors (VectorIndex.vectors).
Source = Union[np.ndarray, Callable[[np.ndarray], np.ndarray]]


def exact_search(query: np.ndarray, X: Source, k: int, allowed: np.ndarray | None = None, *,
                 n: int | None = None, dtype: type = np.float64,
                 block_rows: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Top-k rows of X by inner product with `query`, best first and ties broken by row number
    (so two runs, and an index and this oracle, can be compared).

    query: 1-d, or 2-d for a batch (results are then n_queries x k). allowed: a boolean mask
    over the rows or an array of row numbers; None means all rows, and then a callable X needs
    `n`. Fewer candidates than k: all of them. Scored in float64 by default (the oracle);
    float32 is what FAISS computes and is faster (the ANN fallback scores with it, as before).
    Returns (rows int64, scores float32)."""
    if k < 1:
        raise ValueError(f"k must be at least 1, got {k}")
    Q = np.asarray(query, dtype=dtype)
    single = Q.ndim == 1
    Q = Q.reshape(1, -1) if single else Q
    if Q.ndim != 2:
        raise ValueError(f"query must be 1-d or 2-d, got shape {np.shape(query)}")
    total = X.shape[0] if isinstance(X, np.ndarray) else n
    rows = _candidate_rows(allowed, total)
    if rows is None and total is None:
        raise ValueError("exact_search over a callable source needs n (or allowed) to know the rows")
    m = total if rows is None else len(rows)
    k = min(k, m)
    block_rows = block_rows or max(1, BLOCK_FLOATS // max(Q.shape[1], 1))
    best_rows = [np.zeros(0, dtype=np.int64) for _ in range(len(Q))]
    best_scores = [np.zeros(0, dtype=dtype) for _ in range(len(Q))]
    for start in range(0, m, block_rows):
        stop = min(start + block_rows, m)
        part = np.arange(start, stop, dtype=np.int64) if rows is None else rows[start:stop]
        if isinstance(X, np.ndarray):
            block = X[start:stop] if rows is None else X[part]  # a view when no filter
        else:
            block = X(part)
        S = np.asarray(block, dtype=dtype) @ Q.T  # block_rows x n_queries
        for j in range(len(Q)):
            best_rows[j], best_scores[j] = _top(np.concatenate([best_rows[j], part]),
                                                np.concatenate([best_scores[j], S[:, j]]), k)
    out_rows = np.array(best_rows, dtype=np.int64).reshape(len(Q), k)
    out_scores = np.array(best_scores, dtype=dtype).reshape(len(Q), k).astype(np.float32)
    return (out_rows[0], out_scores[0]) if single else (out_rows, out_scores)


def _candidate_rows(allowed: np.ndarray | None, total: int | None) -> np.ndarray | None:
    """Sorted distinct row numbers from a mask or a row list; None for all rows."""
    if allowed is None:
        return None
    allowed = np.asarray(allowed)
    if allowed.dtype == bool:
        if total is not None and len(allowed) != total:
            raise ValueError(f"allowed mask has {len(allowed)} entries for {total} rows")
        return np.flatnonzero(allowed).astype(np.int64)
    rows = allowed.astype(np.int64, copy=False).ravel()
    if len(rows) > 1 and not np.all(rows[1:] > rows[:-1]):
        rows = np.unique(rows)
    if len(rows) and (rows[0] < 0 or (total is not None and rows[-1] >= total)):
        raise ValueError(f"allowed rows must lie in 0..{'n' if total is None else total}-1")
    return rows


def _top(rows: np.ndarray, scores: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The k best (score desc, row asc); argpartition alone would pick among ties at random."""
    if len(scores) > k:
        kth = np.partition(scores, len(scores) - k)[len(scores) - k]
        keep = scores >= kth  # every tie of the k-th score competes on row number
        rows, scores = rows[keep], scores[keep]
    order = np.lexsort((rows, -scores))[:k]
    return rows[order], scores[order]
