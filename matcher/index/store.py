"""FAISS inner-product index saved as a folder with a manifest, never trusted alone.

Layout of an index root:
    CURRENT                 the name of the live version (replaced atomically)
    versions/<version>/     index.faiss, ids.parquet, manifest.json (which lists every other file)
    versions/.<version>.partial/   a build in progress (locked by that build while it writes)
    .lock                   held while CURRENT is switched and old versions are pruned
A build writes a new version folder and only then points CURRENT at it, so a build that
fails, is killed midway or runs out of disk leaves the last good index in place; two builds
at once both finish.
"""
from __future__ import annotations

import datetime as _dt
import hashlib
import json
import os
import re
import shutil
import time
import uuid
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

try:
    import fcntl
except ImportError:  # not POSIX: staging folders are then judged by age
    fcntl = None

import faiss
import numpy as np
import pandas as pd

from ..errors import ConfigError, IndexMismatchError, IndexMissingError, IndexWriteError
from ..io import atomic_write_json, atomic_write_parquet, atomic_write_text, file_sha256

FORMAT_VERSION = 1
# Keys a loader compares with what the current data and model expect.
CHECKED_KEYS = ("format_version", "model_id", "dim", "data_sha256", "layout_sha256", "schema_sha256")
REBUILD_HINT = "Rebuild it with `matcher build` (or delete the index folder and run again)."


def layout_hash(spec: dict) -> str:
    return hashlib.sha256(json.dumps(spec, sort_keys=True).encode("utf-8")).hexdigest()


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
# Filtered ANN search: when fewer than this share of rows is allowed, the allowed rows are
# scored exactly (cheaper than the whole index, and a graph walk that must skip most nodes
# loses recall).
EXACT_SUBSET_SHARE = 0.05


def _plan(kind: str, n: int) -> dict:
    if kind == "flat":
        return {"kind": "flat", "faiss_factory": "Flat", "params": {}}
    if kind == "hnsw":
        return {"kind": "hnsw", "faiss_factory": f"HNSW{HNSW_M}",
                "params": {"M": HNSW_M, "efConstruction": HNSW_EF_CONSTRUCTION, "efSearch": HNSW_EF_SEARCH}}
    if kind == "ivf":
        nlist = max(4, int(2 ** round(np.log2(4 * np.sqrt(max(n, 1))))))
        nlist = min(nlist, max(4, n // 39))  # faiss wants ~39 training points per list
        return {"kind": "ivf", "faiss_factory": f"IVF{nlist},Flat",
                "params": {"nlist": nlist, "nprobe": min(IVF_NPROBE, nlist), "train_rows": int(min(n, 40 * nlist))}}
    raise ValueError(f"index kind must be flat, hnsw or ivf, got {kind!r}")


def choose_index(n: int, d: int, flat_max_work: int = FLAT_MAX_WORK, ivf_min_rows: int = IVF_MIN_ROWS) -> dict:
    """The index kind and parameters for n rows of d dimensions (what `build_index` uses)."""
    if n * d <= flat_max_work:
        return _plan("flat", n)
    return _plan("hnsw" if n < ivf_min_rows else "ivf", n)


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

    def _search_params(self, selector=None, k: int = 10, share: float = 1.0):
        """SearchParameters for this index kind; ANN effort grows when a filter drops rows."""
        p = self.params
        if self.kind == "hnsw":
            ef = max(int(p.get("efSearch", HNSW_EF_SEARCH) / max(share, 1e-3) ** 0.5), 2 * k)
            return faiss.SearchParametersHNSW(sel=selector, efSearch=ef) if selector is not None \
                else faiss.SearchParametersHNSW(efSearch=ef)
        if self.kind == "ivf":
            nprobe = min(int(p.get("nlist", 1)), int(np.ceil(p.get("nprobe", IVF_NPROBE) / max(share, 1e-3))))
            return faiss.SearchParametersIVF(sel=selector, nprobe=nprobe) if selector is not None \
                else faiss.SearchParametersIVF(nprobe=nprobe)
        return faiss.SearchParameters(sel=selector) if selector is not None else None

    def search(self, query: np.ndarray, k: int, allowed: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Top-k rows by inner product, restricted to rows where `allowed` is True.

        Exact for a flat index. For an ANN index the returned scores are exact inner products
        (the vectors are stored uncompressed); which rows come back is approximate, except when
        a filter leaves under EXACT_SUBSET_SHARE of the rows: those are then scored exactly."""
        query = np.ascontiguousarray(query, dtype=np.float32).reshape(1, -1)
        if allowed is not None:
            n_allowed = int(allowed.sum())
            if n_allowed == 0:
                return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
            k = min(k, n_allowed)
            share = n_allowed / max(self.n, 1)
            if self.kind != "flat" and share < EXACT_SUBSET_SHARE:
                return self._exact_subset(query[0], k, np.flatnonzero(allowed))
            bitmap = np.packbits(allowed.astype(np.uint8), bitorder="little")
            selector = faiss.IDSelectorBitmap(len(allowed), faiss.swig_ptr(bitmap))
            scores, rows = self.faiss_index.search(query, k, params=self._search_params(selector, k, share))
        else:
            k = min(k, self.n)
            params = self._search_params(None, k)
            scores, rows = (self.faiss_index.search(query, k, params=params) if params is not None
                            else self.faiss_index.search(query, k))
        keep = rows[0] >= 0
        return rows[0][keep].astype(np.int64), scores[0][keep]

    def search_batch(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Many queries at once (all OpenMP threads): (rows, scores), each n_queries x k."""
        queries = np.ascontiguousarray(queries, dtype=np.float32)
        k = min(k, self.n)
        params = self._search_params(None, k)
        scores, rows = (self.faiss_index.search(queries, k, params=params) if params is not None
                        else self.faiss_index.search(queries, k))
        return rows.astype(np.int64), scores

    def _exact_subset(self, q: np.ndarray, k: int, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        scores = np.empty(len(rows), dtype=np.float32)
        for start in range(0, len(rows), 16384):
            part = rows[start:start + 16384]
            scores[start:start + len(part)] = self.vectors(part) @ q
        top = np.argpartition(-scores, k - 1)[:k] if k < len(rows) else np.arange(len(rows))
        top = top[np.lexsort((rows[top], -scores[top]))]
        return rows[top].astype(np.int64), scores[top]

    def _storage_matrix(self) -> np.ndarray | None:
        """Zero-copy view of the stored vectors (flat and HNSW-flat indexes), else None."""
        index = self.faiss_index
        if self.kind == "hnsw":
            index = faiss.downcast_index(index.storage)
        if not isinstance(index, faiss.IndexFlat) or self.n == 0:
            return None
        return faiss.rev_swig_ptr(index.get_xb(), self.n * index.d).reshape(self.n, index.d)

    def vectors(self, rows) -> np.ndarray:
        rows = np.asarray(rows, dtype=np.int64)
        if len(rows) == 0:
            return np.zeros((0, self.faiss_index.d), dtype=np.float32)
        matrix = self._storage_matrix()
        if matrix is not None:
            return matrix[rows]
        return self.faiss_index.reconstruct_batch(rows)


def build_index(vectors: np.ndarray, ids, manifest: dict, *, flat_max_work: int = FLAT_MAX_WORK,
                ivf_min_rows: int = IVF_MIN_ROWS, kind: str | None = None, seed: int = 0) -> VectorIndex:
    """Inner-product index chosen by size (`choose_index`): exact IndexFlatIP while an exact
    query stays around 10 ms, HNSW above it, IVF from 500k rows. `kind` forces one
    ("flat", "hnsw", "ivf"); the choice and its parameters go into the manifest."""
    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    n, d = vectors.shape
    plan = _plan(kind, n) if kind is not None else choose_index(n, d, flat_max_work, ivf_min_rows)
    params = plan["params"]
    if plan["kind"] == "flat":
        index = faiss.IndexFlatIP(d)
        index.add(vectors)
    elif plan["kind"] == "hnsw":
        index = faiss.IndexHNSWFlat(d, params["M"], faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = params["efConstruction"]
        index.hnsw.efSearch = params["efSearch"]
        index.add(vectors)
    else:
        quantizer = faiss.IndexFlatIP(d)
        index = faiss.IndexIVFFlat(quantizer, d, params["nlist"], faiss.METRIC_INNER_PRODUCT)
        sample = vectors
        if params["train_rows"] < n:
            sample = vectors[np.sort(np.random.default_rng(seed).choice(n, params["train_rows"], replace=False))]
        index.train(sample)
        index.add(vectors)
        index.make_direct_map()  # reconstruct(row) for explanations and vectors()
        index.nprobe = params["nprobe"]
    full = dict(manifest)
    full.update({
        "format_version": FORMAT_VERSION,
        "faiss_factory": plan["faiss_factory"],
        "index_kind": plan["kind"],
        "index_params": params,
        "metric": "inner_product",
        "n_rows": int(n),
        "dim": int(d),
    })
    return VectorIndex(index, np.asarray(list(ids), dtype=object), full)


def save_index(index: VectorIndex, root: str | Path, tables: dict[str, pd.DataFrame] | None = None) -> Path:
    """Write a new version folder, then switch CURRENT to it; prune older versions.

    `tables` are extra Parquet files kept with the index (the validated profiles), hashed in
    the manifest like the index itself. Concurrent builds are safe: each writes its own
    staging folder (held by a lock while it is written), and the switch of CURRENT and the
    pruning happen under the index folder's lock; a build removes only its own staging folder
    and those of builds that died. A write that fails (a full disk) removes what it wrote and
    raises IndexWriteError; the last good index stays live.
    """
    root = Path(root)
    versions = root / "versions"
    # Microseconds keep names in build order even for builds a moment apart (pruning is by name).
    version = _dt.datetime.now(_dt.timezone.utc).strftime("%Y%m%dT%H%M%S%f") + "-" + uuid.uuid4().hex[:8]
    staging = versions / f".{version}.partial"
    final = versions / version
    building = None
    try:
        versions.mkdir(parents=True, exist_ok=True)
        with _root_lock(root):  # a pruning build never sees this folder without its lock held
            staging.mkdir()
            building = _hold_lock(staging / BUILDING_LOCK)
        faiss.write_index(index.faiss_index, str(staging / "index.faiss"))
        atomic_write_parquet(pd.DataFrame({"city_id": [str(i) for i in index.ids]}), staging / "ids.parquet")
        for name, table in (tables or {}).items():
            atomic_write_parquet(table, staging / name)
        manifest = dict(index.manifest)
        manifest.update({
            "created_at": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
            "files": {name: file_sha256(staging / name)
                      for name in ("index.faiss", "ids.parquet", *sorted(tables or {}))},
        })
        atomic_write_json(staging / "manifest.json", manifest)
        with _root_lock(root):
            _release_lock(building, staging / BUILDING_LOCK)
            building = None
            previous = _current_name(root)
            staging.rename(final)
            try:
                atomic_write_text(root / "CURRENT", version + "\n")
            except BaseException:
                shutil.rmtree(final, ignore_errors=True)
                raise
            _prune(versions, final, previous)
    except (OSError, RuntimeError) as exc:  # faiss reports a failed write as RuntimeError
        _release_lock(building, None)
        shutil.rmtree(staging, ignore_errors=True)
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else (str(exc).splitlines() or [""])[-1]
        raise IndexWriteError(f"Cannot write the index in {root}: {reason.strip() or type(exc).__name__}. Nothing "
                              "was changed: the last good index is still used. Free disk space (or fix the "
                              "folder's permissions) and run `matcher build` again.") from None
    except BaseException:
        _release_lock(building, None)
        shutil.rmtree(staging, ignore_errors=True)
        raise
    index.manifest = manifest
    index.folder = final
    return final


# The index folder's lock (CURRENT switch and pruning) and the lock each build holds on its
# staging folder while it writes: a staging folder whose lock can be taken belongs to a build
# that died, and is removed by the next build.
ROOT_LOCK = ".lock"
BUILDING_LOCK = ".building"
# Without fcntl (not POSIX), a staging folder is taken for dead after this long.
STALE_PARTIAL_SECONDS = 6 * 3600
# CURRENT names a folder directly inside versions/: no separators, no "..", no hidden names.
VERSION_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,99}")
# A manifest without these is refused (and `files` must list every file of its folder).
MANIFEST_REQUIRED = ("format_version", "dim", "n_rows", "files")
MANIFEST_MAX_BYTES = 16 * 1024 * 1024


@contextmanager
def _root_lock(root: Path):
    fd = _hold_lock(root / ROOT_LOCK, blocking=True)
    try:
        yield
    finally:
        _release_lock(fd, None)


def _hold_lock(path: Path, blocking: bool = True) -> int | None:
    """An exclusive flock on `path` (created when missing), or None when it is held elsewhere
    (non-blocking) or fcntl is not available."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    if fcntl is None:
        return fd
    try:
        fcntl.flock(fd, fcntl.LOCK_EX if blocking else fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    except BaseException:
        os.close(fd)
        raise
    return fd


def _release_lock(fd: int | None, remove: Path | None) -> None:
    if fd is None:
        return
    if remove is not None:
        remove.unlink(missing_ok=True)
    os.close(fd)  # closing the descriptor drops the flock


def _staging_is_dead(folder: Path) -> bool:
    lock = folder / BUILDING_LOCK
    if fcntl is None or not lock.exists():
        try:
            return time.time() - folder.stat().st_mtime > STALE_PARTIAL_SECONDS
        except OSError:
            return False
    try:
        fd = _hold_lock(lock, blocking=False)
    except OSError:
        return False
    if fd is None:
        return False  # its build is running
    os.close(fd)
    return True


def _current_name(root: Path) -> str | None:
    try:
        return (root / "CURRENT").read_text("utf-8").strip() or None
    except (OSError, UnicodeDecodeError):
        return None


def _prune(versions: Path, final: Path, previous: str | None) -> None:
    """Keep `final` and the version CURRENT named before it (for readers that opened it a
    moment ago); drop other versions and the staging folders of builds that died (their lock
    is free). A staging folder of a build still writing is left alone. Runs under the root lock."""
    entries = list(versions.iterdir())
    done = [p for p in entries if not p.name.startswith(".") and p.name not in (final.name, previous)]
    dead = [p for p in entries if p.name.endswith(".partial") and _staging_is_dead(p)]
    for old in done + dead:
        shutil.rmtree(old, ignore_errors=True)


def current_version_dir(root: str | Path) -> Path:
    root = Path(root)
    pointer = root / "CURRENT"
    if not pointer.is_file():
        raise IndexMissingError(f"No index in {root}. Build one with `matcher build`.")
    try:
        with open(pointer, "rb") as fh:
            name = fh.read(256).decode("utf-8", errors="replace").strip()
    except OSError as exc:
        raise IndexMismatchError(f"{pointer} cannot be read ({exc}). {REBUILD_HINT}") from None
    if not VERSION_NAME.fullmatch(name):
        raise IndexMismatchError(f"{pointer} does not name a version folder inside versions/ "
                                 f"({name[:60]!r}). {REBUILD_HINT}")
    folder = root / "versions" / name
    if folder.is_symlink():
        raise IndexMismatchError(f"The index version {folder} is a symbolic link. {REBUILD_HINT}")
    if not folder.is_dir():
        raise IndexMissingError(f"The index named in {pointer} is missing. {REBUILD_HINT}")
    return folder


def read_manifest(root: str | Path) -> dict:
    folder = current_version_dir(root)
    path = folder / "manifest.json"
    try:
        if path.stat().st_size > MANIFEST_MAX_BYTES:
            raise ValueError(f"larger than {MANIFEST_MAX_BYTES:,} bytes")
        manifest = json.loads(path.read_text("utf-8"))
    except (OSError, ValueError, RecursionError) as exc:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        raise IndexMismatchError(f"The index manifest in {folder} cannot be read ({exc}). {REBUILD_HINT}") from None
    if not isinstance(manifest, dict):
        raise IndexMismatchError(f"The index manifest in {folder} is not a JSON object. {REBUILD_HINT}")
    return manifest


def check_manifest(manifest: dict, expected: dict, where: str = "") -> None:
    """Refuse an index built for other data, another model or another feature layout."""
    labels = {
        "format_version": "index format version", "model_id": "embedding model", "dim": "vector dimension",
        "data_sha256": "profile data (hash)", "layout_sha256": "facet layout and kernel settings",
        "schema_sha256": "version of the profile schema",
    }
    for key in CHECKED_KEYS:
        if key in expected and manifest.get(key) != expected[key]:
            have, want = manifest.get(key), expected[key]
            if isinstance(have, str) and len(have) == 64:
                have, want = have[:12] + "...", str(want)[:12] + "..."
            raise IndexMismatchError(
                f"The index{where} was built for another {labels[key]}: it has {have!r}, "
                f"the current setup needs {want!r}. {REBUILD_HINT}"
            )


def check_files(manifest: dict, folder: Path) -> None:
    """The manifest must list every file of its folder (with its sha256), and each must match:
    a manifest without `files`, or with a file left out, cannot switch the hash check off."""
    missing = [key for key in MANIFEST_REQUIRED if key not in manifest]
    if missing:
        raise IndexMismatchError(f"The index manifest in {folder} lacks {', '.join(missing)}. {REBUILD_HINT}")
    files = manifest["files"]
    if not isinstance(files, dict) or not {"index.faiss", "ids.parquet"} <= set(files):
        raise IndexMismatchError(f"The index manifest in {folder} does not list index.faiss and ids.parquet with "
                                 f"their hashes. {REBUILD_HINT}")
    present = {p.name for p in folder.iterdir()} - {"manifest.json"}
    unlisted = sorted(present - set(files))
    if unlisted:
        raise IndexMismatchError(f"{folder} holds files its manifest does not list ({', '.join(unlisted[:5])}). "
                                 f"{REBUILD_HINT}")
    for name, digest in files.items():
        path = folder / str(name)
        if (not isinstance(name, str) or not isinstance(digest, str) or "/" in name or "\\" in name
                or name in (".", "..") or path.is_symlink() or not path.is_file() or file_sha256(path) != digest):
            raise IndexMismatchError(f"{path} is missing or was changed after the build. {REBUILD_HINT}")


def load_index(root: str | Path, expected: dict) -> VectorIndex:
    """Load the live version after checking its manifest and file hashes."""
    folder = current_version_dir(root)
    manifest = read_manifest(root)
    check_manifest(manifest, expected, where=f" in {folder}")
    check_files(manifest, folder)
    try:
        index = faiss.read_index(str(folder / "index.faiss"))
        ids = pd.read_parquet(folder / "ids.parquet")["city_id"].to_numpy(dtype=object)
    except Exception as exc:  # faiss raises RuntimeError, parquet ArrowInvalid: both mean damaged
        raise IndexMismatchError(f"The index in {folder} cannot be read ({exc}). {REBUILD_HINT}") from None
    if index.ntotal != len(ids) or index.d != manifest.get("dim") or index.ntotal != manifest.get("n_rows"):
        raise IndexMismatchError(f"The index in {folder} is inconsistent with its manifest. {REBUILD_HINT}")
    return VectorIndex(index, ids, manifest, folder)


BUILD_MODES = ("missing", "stale", "always", "never")


def open_index(root: str | Path, expected: dict, build: str = "missing", say=None) -> VectorIndex | None:
    """The build policy in one place: the saved index when it may be used as is, or None when
    the caller must build one. build="missing" builds only when none exists; "stale" also
    replaces one made for other data, model or settings; "always" rebuilds; "never" only
    loads. A mismatched index is never returned."""
    if build not in BUILD_MODES:
        raise ConfigError(f"build must be one of {', '.join(BUILD_MODES)}, got {build!r}")
    if build == "always":
        return None
    try:
        return load_index(root, expected)
    except IndexMissingError:
        if build == "never":
            raise
    except IndexMismatchError as exc:
        if build in ("never", "missing"):
            raise
        if say:
            say(f"Rebuilding: {exc}")
    return None
