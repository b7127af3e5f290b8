"""Faults: a build killed at random moments, half-written or tampered index folders, a manifest
for another model / dimension / data, a data file changed after the build. The last good index
stays usable, and every refusal says how to rebuild. (tests/test_index.py covers the store on
its own: search, a tampered index.faiss, a changed manifest dim, a failing write.)"""
from __future__ import annotations

import ast
import json
import random
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from matcher.errors import IndexMismatchError, IndexMissingError, MatcherError
from matcher.io import shipped_profiles_path
from matcher.matcher import Matcher
from matcher.twins import TwinRecommender

from .fakes import FakeEncoder as WordEncoder

REPO = Path(__file__).resolve().parent.parent
HINT = "matcher build"


def open_twins(*args, **kwargs) -> TwinRecommender:
    """The twin side of Matcher.open (the index lifecycle under test)."""
    return Matcher.open(*args, **kwargs).twins


SCRIPT = textwrap.dedent('''
    import sys, time
    sys.path.insert(0, sys.argv[4])
    from tests.test_faults import WordEncoder, open_twins
    data_dir, index_dir, rounds = sys.argv[1], sys.argv[2], int(sys.argv[3])
    print("ready", flush=True)
    for i in range(rounds):
        # A fresh encoder each round, so the kill lands in encoding, validation, feature
        # building, the index write or the CURRENT switch.
        print("start", i, flush=True)
        open_twins(data_dir, index_dir, encoder=WordEncoder(), build="always")
        print("built", i, flush=True)
''')


@pytest.fixture(scope="module")
def small_data(tmp_path_factory) -> Path:
    """A data folder holding the curated tier of the shipped profiles (a few hundred real cities)."""
    raw = pd.read_parquet(shipped_profiles_path())
    data = tmp_path_factory.mktemp("data")
    (data / "city_profiles").mkdir()
    raw[raw["tier"] == "curated"].head(150).to_parquet(data / "city_profiles" / "cities.parquet")
    return data


def _copy(small_data: Path, tmp_path: Path) -> Path:
    data = tmp_path / "data"
    shutil.copytree(small_data, data)
    return data


def _good(data: Path, index: Path, **kw) -> TwinRecommender:
    return open_twins(data, index, encoder=WordEncoder(**kw), build="always")


def _usable(data: Path, index: Path) -> None:
    rec = open_twins(data, index, encoder=WordEncoder(), build="never")
    result = rec.recommend(rec.profiles["name"].iloc[0], country=rec.profiles["country_code"].iloc[0], k=3)
    assert len(result.matches) == 3
    assert abs(sum(c.contribution for c in result.matches[0].explanation) - result.matches[0].score) < 1e-4


def test_build_killed_at_random_moments_leaves_the_last_good_index(small_data, tmp_path):
    data, index = _copy(small_data, tmp_path), tmp_path / "index"
    _good(data, index)
    start = time.perf_counter()
    _good(data, index)  # a warm build, as in the subprocess: how long the window to hit is
    duration = time.perf_counter() - start
    script = tmp_path / "build.py"
    script.write_text(SCRIPT)
    rng = random.Random(8)
    kills = []
    for attempt in range(4):  # each run pays ~5 s of imports (torch) before it builds
        proc = subprocess.Popen([sys.executable, str(script), str(data), str(index), "50", str(REPO)],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=tmp_path)
        try:
            assert proc.stdout.readline().strip() == "ready", proc.stderr.read()
            wanted = rng.randint(1, 2)  # the first or the second build of the run
            while wanted:
                line = proc.stdout.readline()
                assert line, proc.stderr.read()
                wanted -= line.startswith("start")
            delay = rng.uniform(0.0, 1.2 * duration)
            time.sleep(delay)
            proc.send_signal(signal.SIGKILL)
        finally:
            if proc.poll() is None:
                proc.kill()
            proc.wait(timeout=30)
            proc.stdout.read()  # drain the pipe before closing it
            proc.stdout.close(), proc.stderr.close()
        kills.append(round(delay / duration, 2))
        _usable(data, index)  # after every kill: the live index loads, checks and answers
    # Leftovers of killed builds are pruned by the next good build.
    _good(data, index)
    assert not [p for p in (index / "versions").iterdir() if p.name.endswith(".partial")]
    print(f"\nwarm build of {duration:.2f} s killed at these shares of a build: {kills}")


def test_quick_successive_saves_keep_the_live_version(tmp_path):
    from matcher.index import build_index, save_index

    vectors = np.eye(4, dtype=np.float32)
    lost = 0
    for _ in range(10):
        save_index(build_index(vectors, list("abcd"), {"model_id": "m"}), tmp_path)
        lost += not (tmp_path / "versions" / (tmp_path / "CURRENT").read_text().strip()).is_dir()
    assert lost == 0, f"CURRENT named a deleted version after {lost} of 10 saves"


def test_half_written_or_tampered_index_folders_say_how_to_rebuild(small_data, tmp_path):
    data, index = _copy(small_data, tmp_path), tmp_path / "index"
    rec = _good(data, index)
    live = rec.index.folder
    current = (index / "CURRENT").read_text()

    def refused(exc_type=MatcherError):
        with pytest.raises(exc_type) as err:
            open_twins(data, index, encoder=WordEncoder(), build="never")
        assert HINT in str(err.value), str(err.value)
        return str(err.value)

    # CURRENT names a version that is not there / is empty / tries to leave the folder.
    for pointer in ("20990101T000000-deadbeef\n", "\n", "../../../../etc\n"):
        (index / "CURRENT").write_text(pointer)
        refused((IndexMissingError, IndexMismatchError))
    (index / "CURRENT").write_text(current)
    _usable(data, index)

    # A version folder without its manifest, with a truncated manifest, without ids.
    manifest = (live / "manifest.json").read_text()
    (live / "manifest.json").unlink()
    refused()
    (live / "manifest.json").write_text(manifest[: len(manifest) // 2])
    refused()
    (live / "manifest.json").write_text(manifest)
    ids = (live / "ids.parquet").read_bytes()
    (live / "ids.parquet").unlink()
    assert "missing or was changed" in refused()
    (live / "ids.parquet").write_bytes(ids)
    # The validated profiles kept with the index, edited by hand.
    kept = next(p for p in live.glob("*.parquet") if p.name not in ("ids.parquet",) and "lookup" not in p.name)
    original = kept.read_bytes()
    kept.write_bytes(original[:-10] + b"0123456789")
    assert "changed after the build" in refused()
    kept.write_bytes(original)
    # A manifest naming another model, dimension or data hash.
    for key, value in (("model_id", "another-model"), ("dim", 7), ("data_sha256", "0" * 64)):
        m = json.loads(manifest)
        m[key] = value
        (live / "manifest.json").write_text(json.dumps(m))
        refused(IndexMismatchError)
    (live / "manifest.json").write_text(manifest)
    _usable(data, index)


def test_other_model_or_dimension_is_refused_and_stale_rebuilds(small_data, tmp_path):
    data, index = _copy(small_data, tmp_path), tmp_path / "index"
    _good(data, index)
    for encoder in (WordEncoder(model_id="another-model"), WordEncoder(model_id="another-model-16", dim=16)):
        for build in ("never", "missing"):
            with pytest.raises(IndexMismatchError, match=HINT):
                open_twins(data, index, encoder=encoder, build=build)
    rec = open_twins(data, index, encoder=WordEncoder(model_id="another-model-16", dim=16),
                                    build="stale")
    assert rec.index.manifest["model_id"] == "another-model-16"
    with pytest.raises(IndexMismatchError, match="embedding model"):
        open_twins(data, index, encoder=WordEncoder(), build="never")


def test_same_model_name_with_another_dimension_rebuilds(small_data, tmp_path):
    data, index = _copy(small_data, tmp_path), tmp_path / "index"
    _good(data, index)
    with pytest.raises(IndexMismatchError, match=HINT):
        open_twins(data, index, encoder=WordEncoder(dim=16), build="never")
    open_twins(data, index, encoder=WordEncoder(dim=16), build="stale")


def test_data_changed_after_the_build_is_detected(small_data, tmp_path):
    data, index = _copy(small_data, tmp_path), tmp_path / "index"
    n = len(_good(data, index).profiles)
    path = data / "city_profiles" / "cities.parquet"
    pd.read_parquet(path).iloc[:-1].to_parquet(path)
    with pytest.raises(IndexMismatchError) as err:
        open_twins(data, index, encoder=WordEncoder(), build="never")
    assert "profile data" in str(err.value) and HINT in str(err.value)
    assert len(open_twins(data, index, encoder=WordEncoder(), build="stale").profiles) == n - 1


# ---------------------------------------------------------------------------- writes are atomic
WRITERS = {"to_parquet", "to_csv", "to_json", "to_excel", "write_text", "write_bytes", "write_index", "savez",
           "save", "write_table", "dump"}
SAFE_MARKS = ("atomic_path", "atomic_write", "staging", "tmp", "buf", "BytesIO", "StringIO", "TemporaryDirectory")


def test_every_write_in_the_package_goes_through_a_temp_file_and_rename():
    """Each call that writes a file in matcher/ or the app sits in a function that writes to a
    temp path (atomic_path / a staging folder / a buffer); a to_csv() without a path returns text."""
    offenders = []
    for path in sorted((REPO / "matcher").rglob("*.py")) + [REPO / "app_streamlit.py"]:
        source = path.read_text("utf-8")
        tree = ast.parse(source)
        for func in [n for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))]:
            body = ast.get_source_segment(source, func) or ""
            for call in [n for n in ast.walk(func) if isinstance(n, ast.Call)]:
                name = call.func.attr if isinstance(call.func, ast.Attribute) else getattr(call.func, "id", "")
                is_open_w = name == "open" and any(
                    isinstance(a, ast.Constant) and isinstance(a.value, str) and set(a.value) & set("wax")
                    for a in call.args[1:2] + [k.value for k in call.keywords if k.arg == "mode"])
                if name not in WRITERS and not is_open_w:
                    continue
                if name in ("to_csv", "to_json") and not call.args and not any(k.arg == "path_or_buf" for k in call.keywords):
                    continue  # returns text
                if name in ("save", "dump") and (not isinstance(call.func, ast.Attribute) or not call.args):
                    continue  # obj.save() of our own classes is checked where it is defined
                if name == "dump" and "sys.stdout" in [ast.unparse(a) for a in call.args]:
                    continue
                if not any(mark in body for mark in SAFE_MARKS):
                    offenders.append(f"{path.relative_to(REPO)}:{call.lineno} {name}")
    assert not offenders, offenders
