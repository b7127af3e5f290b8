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
from pathlib import Path

try:
    import fcntl
except ImportError:  # not POSIX: staging folders are then judged by age
    fcntl = None

import faiss
import numpy as np
import pandas as pd

from ..errors import ConfigError, IndexMismatchError, IndexMissingError, IndexWriteError
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
