"""The three FAISS index kinds, one small class each, picked by the manifest's `index_kind`.

Each knows how to build its index, which SearchParameters a query needs (ANN effort grows
when a filter drops rows) and where its stored vectors can be read without a copy."""
from __future__ import annotations

from typing import ClassVar

import faiss
import numpy as np

# Index choice by size, from measurements on these machines (2-core VM; BENCHMARKS.md, issue 7):
# an exact IndexFlatIP query costs about 1 ms per 4M floats scanned with one thread, so up to
# FLAT_MAX_WORK = n x d floats (~10 ms) the exact index is kept; above it HNSW, and from
# IVF_MIN_ROWS rows IVF (HNSW's build time grows to many minutes at 1M rows and its recall
# at a usable efSearch falls under 0.95 there).
FLAT_MAX_WORK = 40_000_000
IVF_MIN_ROWS = 500_000
HNSW_M = 32
HNSW_EF_CONSTRUCTION = 80
HNSW_EF_SEARCH = 128
IVF_NPROBE = 16


def _flat_view(index: faiss.Index) -> np.ndarray | None:
    """The rows of an IndexFlat as a numpy view of FAISS's own memory."""
    if not isinstance(index, faiss.IndexFlat) or index.ntotal == 0:
        return None
    return faiss.rev_swig_ptr(index.get_xb(), index.ntotal * index.d).reshape(index.ntotal, index.d)


class Backend:
    """One index kind. Instances carry the manifest's `index_params` (read per query, so a
    benchmark can sweep them on a live index)."""

    kind: ClassVar[str]
    approximate: ClassVar[bool] = True  # whether a small filter is better scored exactly

    def __init__(self, params: dict | None = None):
        self.params = dict(params or {})

    @classmethod
    def plan(cls, n: int) -> dict:
        """kind, faiss_factory and params for n rows (recorded in the manifest)."""
        raise NotImplementedError

    @staticmethod
    def build(vectors: np.ndarray, params: dict, seed: int = 0) -> faiss.Index:
        raise NotImplementedError

    def search_params(self, selector: faiss.IDSelector | None = None, k: int = 10,
                      share: float = 1.0) -> faiss.SearchParameters | None:
        raise NotImplementedError

    @staticmethod
    def storage_matrix(index: faiss.Index) -> np.ndarray | None:
        """Zero-copy n x d view of the stored vectors, or None when they are not one block."""
        return None


class FlatBackend(Backend):
    kind = "flat"
    approximate = False

    @classmethod
    def plan(cls, n: int) -> dict:
        return {"kind": cls.kind, "faiss_factory": "Flat", "params": {}}

    @staticmethod
    def build(vectors: np.ndarray, params: dict, seed: int = 0) -> faiss.Index:
        index = faiss.IndexFlatIP(vectors.shape[1])
        index.add(vectors)
        return index

    def search_params(self, selector=None, k=10, share=1.0):
        return faiss.SearchParameters(sel=selector) if selector is not None else None

    @staticmethod
    def storage_matrix(index: faiss.Index) -> np.ndarray | None:
        return _flat_view(index)


class HNSWBackend(Backend):
    kind = "hnsw"

    @classmethod
    def plan(cls, n: int) -> dict:
        return {"kind": cls.kind, "faiss_factory": f"HNSW{HNSW_M}",
                "params": {"M": HNSW_M, "efConstruction": HNSW_EF_CONSTRUCTION, "efSearch": HNSW_EF_SEARCH}}

    @staticmethod
    def build(vectors: np.ndarray, params: dict, seed: int = 0) -> faiss.Index:
        index = faiss.IndexHNSWFlat(vectors.shape[1], params["M"], faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = params["efConstruction"]
        index.hnsw.efSearch = params["efSearch"]
        index.add(vectors)
        return index

    def search_params(self, selector=None, k=10, share=1.0):
        # A filter that keeps a share s of the rows hides most neighbours: widen the beam by 1/sqrt(s).
        ef = max(int(self.params.get("efSearch", HNSW_EF_SEARCH) / max(share, 1e-3) ** 0.5), 2 * k)
        return faiss.SearchParametersHNSW(sel=selector, efSearch=ef) if selector is not None \
            else faiss.SearchParametersHNSW(efSearch=ef)

    @staticmethod
    def storage_matrix(index: faiss.Index) -> np.ndarray | None:
        return _flat_view(faiss.downcast_index(index.storage))


class IVFBackend(Backend):
    kind = "ivf"

    @classmethod
    def plan(cls, n: int) -> dict:
        nlist = max(4, int(2 ** round(np.log2(4 * np.sqrt(max(n, 1))))))
        nlist = min(nlist, max(4, n // 39))  # faiss wants ~39 training points per list
        return {"kind": cls.kind, "faiss_factory": f"IVF{nlist},Flat",
                "params": {"nlist": nlist, "nprobe": min(IVF_NPROBE, nlist), "train_rows": int(min(n, 40 * nlist))}}

    @staticmethod
    def build(vectors: np.ndarray, params: dict, seed: int = 0) -> faiss.Index:
        n, d = vectors.shape
        index = faiss.IndexIVFFlat(faiss.IndexFlatIP(d), d, params["nlist"], faiss.METRIC_INNER_PRODUCT)
        sample = vectors
        if params["train_rows"] < n:
            sample = vectors[np.sort(np.random.default_rng(seed).choice(n, params["train_rows"], replace=False))]
        index.train(sample)
        index.add(vectors)
        index.make_direct_map()  # reconstruct(row) for explanations and vectors()
        index.nprobe = params["nprobe"]
        return index

    def search_params(self, selector=None, k=10, share=1.0):
        # Probe 1/s times more lists when a filter keeps a share s of the rows.
        nprobe = min(int(self.params.get("nlist", 1)),
                     int(np.ceil(self.params.get("nprobe", IVF_NPROBE) / max(share, 1e-3))))
        return faiss.SearchParametersIVF(sel=selector, nprobe=nprobe) if selector is not None \
            else faiss.SearchParametersIVF(nprobe=nprobe)


BACKENDS: dict[str, type[Backend]] = {b.kind: b for b in (FlatBackend, HNSWBackend, IVFBackend)}


def backend_for(kind: str) -> type[Backend]:
    try:
        return BACKENDS[kind]
    except KeyError:
        raise ValueError(f"index kind must be flat, hnsw or ivf, got {kind!r}") from None


def choose_index(n: int, d: int, flat_max_work: int = FLAT_MAX_WORK, ivf_min_rows: int = IVF_MIN_ROWS) -> dict:
    """The index kind and parameters for n rows of d dimensions (what `build_index` uses)."""
    if n * d <= flat_max_work:
        return FlatBackend.plan(n)
    return (HNSWBackend if n < ivf_min_rows else IVFBackend).plan(n)
