"""FAISS inner-product index saved as a folder with a manifest, never trusted alone.

Layout of an index root:
    CURRENT                 the name of the live version (replaced atomically)
    versions/<version>/     index.faiss, ids.parquet, manifest.json
A build writes a new version folder and only then points CURRENT at it, so a build that
fails or is killed midway leaves the last good index in place.
"""
from __future__ import annotations

import datetime as _dt
import hashlib
import json
import shutil
import uuid
from pathlib import Path

import faiss
import numpy as np
import pandas as pd

from ..errors import ConfigError, IndexMismatchError, IndexMissingError
from ..files import atomic_write_json, atomic_write_parquet, atomic_write_text, file_sha256
from .backends import FLAT_MAX_WORK, IVF_MIN_ROWS, backend_for, choose_index
from .vector_index import VectorIndex

FORMAT_VERSION = 1
# Keys a loader compares with what the current data and model expect.
CHECKED_KEYS = ("format_version", "model_id", "dim", "data_sha256", "layout_sha256", "schema_sha256")
REBUILD_HINT = "Rebuild it with `matcher build` (or delete the index folder and run again)."


def layout_hash(spec: dict) -> str:
    return hashlib.sha256(json.dumps(spec, sort_keys=True).encode("utf-8")).hexdigest()


def build_index(vectors: np.ndarray, ids, manifest: dict, *, flat_max_work: int = FLAT_MAX_WORK,
                ivf_min_rows: int = IVF_MIN_ROWS, kind: str | None = None, seed: int = 0) -> VectorIndex:
    """Inner-product index chosen by size (`choose_index`): exact IndexFlatIP while an exact
    query stays around 10 ms, HNSW above it, IVF from 500k rows. `kind` forces one
    ("flat", "hnsw", "ivf"); the choice and its parameters go into the manifest."""
    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    n, d = vectors.shape
    plan = backend_for(kind).plan(n) if kind is not None else choose_index(n, d, flat_max_work, ivf_min_rows)
    index = backend_for(plan["kind"]).build(vectors, plan["params"], seed)
    full = dict(manifest)
    full.update({
        "format_version": FORMAT_VERSION,
        "faiss_factory": plan["faiss_factory"],
        "index_kind": plan["kind"],
        "index_params": plan["params"],
        "metric": "inner_product",
        "n_rows": int(n),
        "dim": int(d),
    })
    return VectorIndex(index, np.asarray(list(ids), dtype=object), full)


def save_index(index: VectorIndex, root: str | Path, tables: dict[str, pd.DataFrame] | None = None) -> Path:
    """Write a new version folder, then switch CURRENT to it; prune older versions.

    `tables` are extra Parquet files kept with the index (the validated profiles), hashed in
    the manifest like the index itself.
    """
    root = Path(root)
    versions = root / "versions"
    versions.mkdir(parents=True, exist_ok=True)
    # Microseconds keep names in build order even for builds a moment apart (pruning is by name).
    version = _dt.datetime.now(_dt.timezone.utc).strftime("%Y%m%dT%H%M%S%f") + "-" + uuid.uuid4().hex[:8]
    staging = versions / f".{version}.partial"
    staging.mkdir()
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
    final = versions / version
    staging.rename(final)
    atomic_write_text(root / "CURRENT", version + "\n")
    index.manifest = manifest
    index.folder = final
    # Keep the previous version for readers that opened it a moment ago; drop older ones
    # and the leftovers of killed builds.
    done = sorted((p for p in versions.iterdir() if not p.name.startswith(".") and p != final), key=lambda p: p.name)
    for old in done[:-1] + [p for p in versions.iterdir() if p.name.endswith(".partial")]:
        shutil.rmtree(old, ignore_errors=True)
    return final


def current_version_dir(root: str | Path) -> Path:
    root = Path(root)
    pointer = root / "CURRENT"
    if not pointer.is_file():
        raise IndexMissingError(f"No index in {root}. Build one with `matcher build`.")
    folder = root / "versions" / pointer.read_text("utf-8").strip()
    if not folder.is_dir():
        raise IndexMissingError(f"The index named in {pointer} is missing. {REBUILD_HINT}")
    return folder


def read_manifest(root: str | Path) -> dict:
    folder = current_version_dir(root)
    try:
        return json.loads((folder / "manifest.json").read_text("utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise IndexMismatchError(f"The index manifest in {folder} cannot be read ({exc}). {REBUILD_HINT}") from None


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


def load_index(root: str | Path, expected: dict) -> VectorIndex:
    """Load the live version after checking its manifest and file hashes."""
    folder = current_version_dir(root)
    manifest = read_manifest(root)
    check_manifest(manifest, expected, where=f" in {folder}")
    for name, digest in (manifest.get("files") or {}).items():
        path = folder / name
        if not path.is_file() or file_sha256(path) != digest:
            raise IndexMismatchError(f"{path} is missing or was changed after the build. {REBUILD_HINT}")
    try:
        index = faiss.read_index(str(folder / "index.faiss"))
        ids = pd.read_parquet(folder / "ids.parquet")["city_id"].to_numpy(dtype=object)
    except Exception as exc:  # faiss raises RuntimeError, parquet ArrowInvalid: both mean damaged
        raise IndexMismatchError(f"The index in {folder} cannot be read ({exc}). {REBUILD_HINT}") from None
    if index.ntotal != len(ids) or index.d != manifest.get("dim"):
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
