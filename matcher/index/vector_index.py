"""A FAISS index with its row ids and manifest; every kind-specific step goes to its backend."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import faiss
import numpy as np

from .backends import Backend, backend_for
from .exact import exact_search

# Filtered ANN search: when fewer than this share of rows is allowed, the allowed rows are
# scored exactly (cheaper than the whole index, and a graph walk that must skip most nodes
# loses recall).
EXACT_SUBSET_SHARE = 0.05


@dataclass
class VectorIndex:
    """A FAISS index plus the row -> id mapping and the manifest it was built with."""

    faiss_index: faiss.Index
    ids: np.ndarray
    manifest: dict
    folder: Path | None = None  # the version folder it was saved to or loaded from

    @property
    def n(self) -> int:
        return int(self.faiss_index.ntotal)

    @property
    def kind(self) -> str:
        return str(self.manifest.get("index_kind", "flat"))

    @property
    def params(self) -> dict:
        return dict(self.manifest.get("index_params") or {})

    @property
    def backend(self) -> Backend:
        """Made per use from the manifest, so edited index_params take effect at once."""
        return backend_for(self.kind)(self.params)

    def search(self, query: np.ndarray, k: int, allowed: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Top-k rows by inner product, restricted to rows where `allowed` is True.

        Exact for a flat index. For an ANN index the returned scores are exact inner products
        (the vectors are stored uncompressed); which rows come back is approximate, except when
        a filter leaves under EXACT_SUBSET_SHARE of the rows: those are then scored exactly."""
        query = np.ascontiguousarray(query, dtype=np.float32).reshape(1, -1)
        backend = self.backend
        if allowed is not None:
            n_allowed = int(allowed.sum())
            if n_allowed == 0:
                return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
            k = min(k, n_allowed)
            share = n_allowed / max(self.n, 1)
            if backend.approximate and share < EXACT_SUBSET_SHARE:
                return exact_search(query[0], self.vectors, k, allowed, n=self.n, dtype=np.float32)
            bitmap = np.packbits(allowed.astype(np.uint8), bitorder="little")
            selector = faiss.IDSelectorBitmap(len(allowed), faiss.swig_ptr(bitmap))
            params = backend.search_params(selector, k, share)
        else:
            k = min(k, self.n)
            params = backend.search_params(None, k)
        scores, rows = self.faiss_index.search(query, k, params=params)
        keep = rows[0] >= 0
        return rows[0][keep].astype(np.int64), scores[0][keep]

    def search_batch(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Many queries at once (all OpenMP threads): (rows, scores), each n_queries x k."""
        queries = np.ascontiguousarray(queries, dtype=np.float32)
        k = min(k, self.n)
        scores, rows = self.faiss_index.search(queries, k, params=self.backend.search_params(None, k))
        return rows.astype(np.int64), scores

    def vectors(self, rows) -> np.ndarray:
        """The stored vectors of these rows (float32), read in place where the kind allows."""
        rows = np.asarray(rows, dtype=np.int64)
        if len(rows) == 0:
            return np.zeros((0, self.faiss_index.d), dtype=np.float32)
        matrix = self.backend.storage_matrix(self.faiss_index)
        if matrix is not None:
            return matrix[rows]
        return self.faiss_index.reconstruct_batch(rows)

    def apply_changes(self, rows, vectors: np.ndarray, new_vectors: np.ndarray, new_ids) -> None:
        """Replace the vectors of `rows` and append `new_vectors` (ids `new_ids`), in memory.

        Where the stored vectors are one block (flat, HNSW) they are overwritten in place and new
        rows added: no rebuild. (An HNSW graph keeps its old links for an edited row, so that row
        may be found a little less often until the next build; its scores stay exact.) An IVF
        index is rebuilt with its plan. The saved index on disk is never touched: it stays the
        base layer its manifest describes."""
        rows = np.asarray(rows, dtype=np.int64)
        view = self.backend.storage_matrix(self.faiss_index)
        if view is None:
            everything = self.vectors(np.arange(self.n)).copy()
            everything[rows] = vectors
            if len(new_ids):
                everything = np.vstack([everything, new_vectors])
            self.faiss_index = self.backend.build(np.ascontiguousarray(everything, dtype=np.float32), self.params)
            self.ids = np.asarray(list(self.ids) + list(new_ids), dtype=object)
        else:
            if len(rows):
                view[rows] = np.ascontiguousarray(vectors, dtype=np.float32)
            if len(new_ids):
                self.faiss_index.add(np.ascontiguousarray(new_vectors, dtype=np.float32))
                self.ids = np.concatenate([self.ids, np.asarray(list(new_ids), dtype=object)])
        self.manifest = dict(self.manifest, n_rows=self.n, overlay_rows=int(self.manifest.get("overlay_rows", 0))
                             + len(rows) + len(new_ids))
