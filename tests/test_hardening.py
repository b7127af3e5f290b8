"""Issue 13: the probes that broke the tool, each rebuilt small in a temp folder.

Broken: (1) a YAML alias bomb under x_ keys, (2) XLSX zip / row bombs, (3) a damaged embedding
cache, (4) a manifest without `files` and a CURRENT pointing outside versions/, (5) two builds
at once, (6) deep nesting, (7) a full disk. Weak: junk rows, UTF-16, symlinks, survey row
numbers, control characters, a 1 MB theme, the limits themselves. The bombs also run in a
subprocess under an address-space limit, where the growth of peak memory is measured.
"""
from __future__ import annotations

import dataclasses
import errno
import io
import json
import os
import shutil
import subprocess
import sys
import textwrap
import time
import warnings
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from matcher.case_studies import import_case_studies, load_case_studies
from matcher.errors import (IndexMismatchError, IndexMissingError, IndexWriteError, LimitExceededError,
                            MatcherError, ProfileValidationError)
from matcher.features.text import CacheDamagedWarning, CachedEncoder, cap_texts
from matcher.index import build_index, load_index, save_index
from matcher.index import store
from matcher.io import load_profiles
from matcher.limits import DEFAULT_LIMITS, Limits
from matcher.builds import twins_in_memory
from matcher.survey import import_survey

from .fakes import FakeEncoder

REPO = Path(__file__).resolve().parent.parent
EXPECTED = {"model_id": "m", "format_version": store.FORMAT_VERSION}


# ---------------------------------------------------------------------------- builders
def alias_bomb_front_matter(levels: int = 8, under: str = "x_l") -> str:
    """The 438-byte probe: each key holds 9 references to the list above it (9^8 items)."""
    lines = [f"{under}0: &l0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    for i in range(1, levels):
        lines.append(f"{under}{i}: &l{i} [" + ", ".join([f"*l{i - 1}"] * 9) + "]")
    return "---\ntitle: Bomb\nsummary: s\n" + "\n".join(lines) + "\n---\nbody\n"


def make_xlsx(path: Path, sheet_chunks, shared_strings: bytes | None = None) -> Path:
    """A valid workbook (openpyxl's own parts) whose first sheet XML is streamed from
    `sheet_chunks()`: a bomb is written in pieces, never held whole."""
    from openpyxl import Workbook

    wb = Workbook()
    wb.active["A1"] = "name"
    buf = io.BytesIO()
    wb.save(buf)
    src = zipfile.ZipFile(buf)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as out:
        for info in src.infolist():
            if info.filename == "xl/worksheets/sheet1.xml":
                with out.open(info.filename, "w", force_zip64=True) as fh:
                    for chunk in sheet_chunks():
                        fh.write(chunk)
            else:
                out.writestr(info, src.read(info.filename))
    return path


SHEET_HEAD = (b'<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns="http://schemas.openxmlformats.org/'
              b'spreadsheetml/2006/main"><sheetData>')
SHEET_TAIL = b"</sheetData></worksheet>"


def one_huge_cell(megabytes: int):
    def chunks():
        yield SHEET_HEAD + b'<row r="1"><c r="A1" t="inlineStr"><is><t>name</t></is></c></row>'
        yield b'<row r="2"><c r="A2" t="inlineStr"><is><t>'
        block = b"a" * (1 << 20)
        for _ in range(megabytes):
            yield block
        yield b"</t></is></c></row>" + SHEET_TAIL
    return chunks


def many_rows(n: int):
    def chunks():
        yield SHEET_HEAD + b'<row r="1"><c r="A1" t="inlineStr"><is><t>name</t></is></c></row>'
        batch = []
        for i in range(2, n + 2):
            batch.append(b'<row r="%d"><c r="A%d" t="inlineStr"><is><t>x</t></is></c></row>' % (i, i))
            if len(batch) == 20_000:
                yield b"".join(batch)
                batch = []
        yield b"".join(batch) + SHEET_TAIL
    return chunks


def dictionary_bomb(path: Path, rows: int = 3000) -> Path:
    """About 1 KB of Parquet: every row holds the same 1 MB text three times (dictionary-encoded,
    so stored once); 9 GB once decoded. Parquet's own metadata counts 2 MB."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    one = pa.array(["a" * (1 << 20)])
    name = pa.DictionaryArray.from_arrays(pa.array(np.zeros(rows, dtype=np.int32)), one)
    items = pa.DictionaryArray.from_arrays(pa.array(np.zeros(2 * rows, dtype=np.int32)), one)
    barriers = pa.ListArray.from_arrays(pa.array(np.arange(0, 2 * rows + 1, 2, dtype=np.int32)), items)
    pq.write_table(pa.table({"name": name, "barriers": barriers}), path, compression="zstd")
    return path


def small_data_dir(tmp_path: Path, n: int = 60) -> Path:
    """A data folder with the first `n` curated shipped profiles."""
    from matcher.io import shipped_profiles_path

    raw = pd.read_parquet(shipped_profiles_path())
    data = tmp_path / "data"
    (data / "city_profiles").mkdir(parents=True)
    raw[raw["tier"] == "curated"].head(n).to_parquet(data / "city_profiles" / "cities.parquet")
    return data


@pytest.fixture(scope="module")
def bombs(tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("bombs")
    lib = folder / "library"
    lib.mkdir()
    (lib / "bomb.md").write_text(alias_bomb_front_matter())
    deep = folder / "deep.jsonl"
    deep.write_text('{"name": ' + "[" * 100_000 + "]" * 100_000 + "}\n")
    deep_lib = folder / "deep_library"
    deep_lib.mkdir()
    (deep_lib / "deep.md").write_text("---\ntitle: t\nsummary: s\nx_deep: " + "[" * 50_000 + "]" * 50_000 + "\n---\n")
    return {
        "dict.parquet": dictionary_bomb(folder / "dict.parquet"),
        # 160 MB of one cell, about 160 KB on disk: over max_decompressed_bytes (128 MB).
        "cell.xlsx": make_xlsx(folder / "cell.xlsx", one_huge_cell(160)),
        "rows.xlsx": make_xlsx(folder / "rows.xlsx", many_rows(1_000_000)),
        "library": lib, "deep.jsonl": deep, "deep_library": deep_lib,
    }


# ---------------------------------------------------------------------------- 1. YAML alias bomb
@pytest.mark.parametrize("under", ["x_l", "sectors_", "title_"])
def test_alias_bomb_under_any_key_is_refused_unexpanded(tmp_path, under):
    lib = tmp_path / "lib"
    lib.mkdir()
    (lib / "bomb.md").write_text(alias_bomb_front_matter(under=under))
    data = tmp_path / "data"
    start = time.perf_counter()
    with pytest.raises(ProfileValidationError, match="anchors and aliases") as err:
        import_case_studies(lib, data)
    assert time.perf_counter() - start < 2
    assert err.value.problems[0]["file"].endswith("bomb.md") and err.value.problems[0]["row"] == 4
    assert not (data / "case_studies" / "case_studies.parquet").exists()


def test_nested_values_in_x_columns_are_refused(tmp_path):
    lib = tmp_path / "lib"
    lib.mkdir()
    (lib / "a.md").write_text("---\ntitle: t\nsummary: s\nx_note: [[1, 2], [3]]\n---\n")
    with pytest.raises(ProfileValidationError, match="holding lists"):
        load_case_studies(lib)
    (lib / "a.md").write_text("---\ntitle: t\nsummary: s\nx_note: [a, b]\nx_n: 3\n---\n")
    table = load_case_studies(lib)
    assert table.loc[0, "x_note"] == ["a", "b"] and table.loc[0, "x_n"] == 3


# ---------------------------------------------------------------------------- 2. XLSX bombs
@pytest.mark.parametrize("loader", [load_profiles, import_survey])
def test_xlsx_zip_bomb_is_refused_from_the_zip_directory(bombs, loader):
    assert bombs["cell.xlsx"].stat().st_size < 1_000_000
    start = time.perf_counter()
    with pytest.raises(LimitExceededError) as err:
        loader(bombs["cell.xlsx"])
    assert time.perf_counter() - start < 2
    assert err.value.limit == "max_decompressed_bytes"
    assert "cell.xlsx" in str(err.value) and "max_decompressed_bytes=134,217,728" in str(err.value)


@pytest.mark.parametrize("loader", [load_profiles, import_survey])
def test_a_million_row_workbook_is_refused_before_parsing(bombs, loader):
    start = time.perf_counter()
    with pytest.raises(LimitExceededError) as err:
        loader(bombs["rows.xlsx"])
    assert err.value.limit == "max_rows" and "1,000,001 rows" in str(err.value)
    assert time.perf_counter() - start < 15  # the tag count streams ~60 MB of XML; openpyxl needed ~100 s


def test_workbook_limits_are_settings(tmp_path):
    path = make_xlsx(tmp_path / "w.xlsx", many_rows(50))
    with pytest.raises(LimitExceededError, match="max_rows=10"):
        load_profiles(path, limits=Limits(max_rows=10))
    with pytest.raises(LimitExceededError, match="max_cells=20"):
        load_profiles(path, limits=Limits(max_cells=20))
    with pytest.raises(LimitExceededError, match="max_decompressed_bytes"):
        load_profiles(path, limits=Limits(max_decompressed_bytes=1000))
    with pytest.raises(LimitExceededError, match="max_file_bytes"):
        load_profiles(path, limits=Limits(max_file_bytes=100))
    # A cell over max_cell_chars, found while streaming, with its row and column.
    big = make_xlsx(tmp_path / "big.xlsx", one_huge_cell(1))
    with pytest.raises(LimitExceededError) as err:
        import_survey(big, limits=Limits(max_cell_chars=1000))
    assert err.value.problems[0]["row"] == 2 and err.value.problems[0]["column"] == "1"


def test_a_normal_workbook_still_loads(tmp_path):
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.append(["name", "country_code", "population", "barriers"])
    ws.append(["Köln", "DE", 1080000, "Lack of know-how and skills"])
    ws.append(["Lyon", "FR", 520000, None])
    wb.save(tmp_path / "p.xlsx")
    table = load_profiles(tmp_path / "p.xlsx")
    assert list(table["name"]) == ["Köln", "Lyon"] and table.loc[0, "population"] == 1080000


@pytest.mark.parametrize("loader", [load_profiles, import_survey, load_case_studies])
def test_a_parquet_dictionary_bomb_is_measured_before_it_is_decoded(bombs, loader):
    assert bombs["dict.parquet"].stat().st_size < 10_000
    with pytest.raises(LimitExceededError) as err:
        loader(bombs["dict.parquet"])
    assert err.value.limit == "max_decompressed_bytes" and "once decoded" in str(err.value)


def test_ordinary_parquet_with_lists_still_loads(tmp_path):
    frame = pd.DataFrame({"name": ["Köln", "Lyon"], "country_code": ["DE", "FR"],
                          "barriers": [["Lack of know-how and skills"], None]})
    frame.to_parquet(tmp_path / "p.parquet")
    table = load_profiles(tmp_path / "p.parquet")
    assert table.loc[0, "barriers"] == ["Lack of know-how and skills"] and table.loc[1, "barriers"] == []


# ---------------------------------------------------------------------------- memory under the bombs
MEMORY_SCRIPT = textwrap.dedent('''
    import json, resource, sys
    sys.path.insert(0, sys.argv[1])
    from matcher.case_studies import load_case_studies
    from matcher.errors import MatcherError
    from matcher.io import load_profiles
    from matcher.survey import import_survey
    loader = {"load_profiles": load_profiles, "import_survey": import_survey,
              "load_case_studies": load_case_studies}[sys.argv[2]]
    # An address-space limit 1.5 GB above what the imports took: a bomb that materialised
    # would die of MemoryError here instead of filling the machine.
    vm = int(open("/proc/self/status").read().split("VmSize:")[1].split()[0]) * 1024
    resource.setrlimit(resource.RLIMIT_AS, (vm + 1536 * 2 ** 20, resource.RLIM_INFINITY))
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    out = {}
    try:
        loader(sys.argv[3])
        out["result"] = "loaded"
    except MatcherError as exc:
        out["result"] = type(exc).__name__
        out["limit"] = getattr(exc, "limit", None)
    except MemoryError:
        out["result"] = "MemoryError"
    out["grew_mb"] = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    print(json.dumps(out))
''')


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs /proc (Linux)")
@pytest.mark.parametrize("loader,bomb,limit", [
    ("load_profiles", "cell.xlsx", "max_decompressed_bytes"),
    ("import_survey", "cell.xlsx", "max_decompressed_bytes"),
    ("import_survey", "rows.xlsx", "max_rows"),
    ("load_profiles", "dict.parquet", "max_decompressed_bytes"),
    ("load_case_studies", "library", None),
    ("load_profiles", "deep.jsonl", "max_nesting_depth"),
    ("load_case_studies", "deep_library", "max_nesting_depth"),
])
def test_bombs_under_a_memory_limit(bombs, tmp_path, loader, bomb, limit):
    script = tmp_path / "probe.py"
    script.write_text(MEMORY_SCRIPT)
    run = subprocess.run([sys.executable, str(script), str(REPO), loader, str(bombs[bomb])], capture_output=True,
                         text=True, timeout=120, env={**os.environ, "HF_HUB_OFFLINE": "1"})
    assert run.returncode == 0, run.stderr[-2000:]
    out = json.loads(run.stdout.strip().splitlines()[-1])
    assert out["result"] in ("LimitExceededError", "ProfileValidationError"), out
    assert out["limit"] == limit, out
    assert out["grew_mb"] < 100, out  # peak RSS grew by less than 100 MB while refusing


# ---------------------------------------------------------------------------- 3. damaged cache
def _damage(path: Path, how: str) -> None:
    data = bytearray(path.read_bytes())
    if how == "truncate":
        path.write_bytes(bytes(data[: len(data) // 2]))
    elif how == "flip":
        for i in range(len(data) // 3, len(data) // 3 + 64):
            data[i] ^= 0xFF
        path.write_bytes(bytes(data))
    elif how == "empty":
        path.write_bytes(b"")
    else:
        path.write_bytes(b"not a zip at all" * 10)


@pytest.mark.parametrize("how", ["truncate", "flip", "empty", "garbage"])
def test_a_damaged_embedding_cache_is_moved_aside_and_rebuilt(tmp_path, how):
    path = tmp_path / "embedding_cache" / "m.npz"
    texts = [f"text number {i} " * 20 for i in range(300)]
    first = CachedEncoder(FakeEncoder(model_id="count-enc", dim=8), path)
    expected = first.encode(texts)
    first.save()
    _damage(path, how)
    with pytest.warns(CacheDamagedWarning, match="moved aside"):
        again = CachedEncoder(FakeEncoder(model_id="count-enc", dim=8), path)
    assert len(again) == 0 and not path.exists()
    assert list(path.parent.glob("m.npz.damaged-*"))
    assert np.allclose(again.encode(texts), expected) and again.encoded_count == len(texts)
    again.save()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        third = CachedEncoder(FakeEncoder(model_id="count-enc", dim=8), path)
    assert len(third) == len(texts)


def test_a_damaged_delta_costs_only_its_entries(tmp_path):
    path = tmp_path / "m.npz"
    cache = CachedEncoder(FakeEncoder(model_id="count-enc", dim=8), path)
    cache.encode([f"a{i}" for i in range(100)])
    cache.save()
    cache.encode(["one more"])
    cache.save()
    delta = next(cache.delta_dir.glob("*.npz"))
    _damage(delta, "truncate")
    with pytest.warns(CacheDamagedWarning):
        again = CachedEncoder(FakeEncoder(model_id="count-enc", dim=8), path)
    assert len(again) == 100


def test_build_and_twins_survive_a_damaged_cache(tmp_path):
    from tests.test_faults import WordEncoder, open_twins

    data, index = small_data_dir(tmp_path), tmp_path / "index"
    open_twins(data, index, encoder=WordEncoder(), build="always")
    cache = next((index / "embedding_cache").glob("*.npz"))
    os.truncate(cache, cache.stat().st_size // 2)
    with pytest.warns(CacheDamagedWarning):
        rec = open_twins(data, index, encoder=WordEncoder(), build="always")
    assert len(rec.recommend(rec.profiles["name"].iloc[0], country=rec.profiles["country_code"].iloc[0],
                             k=3).matches) == 3


# ---------------------------------------------------------------------------- 4. manifest and CURRENT
def _saved(tmp_path: Path) -> Path:
    save_index(build_index(np.eye(4, dtype=np.float32), list("abcd"), dict(EXPECTED)), tmp_path)
    return store.current_version_dir(tmp_path)


def test_a_manifest_without_files_cannot_switch_the_hash_check_off(tmp_path):
    folder = _saved(tmp_path)
    manifest = json.loads((folder / "manifest.json").read_text())
    del manifest["files"]
    (folder / "manifest.json").write_text(json.dumps(manifest))
    data = bytearray((folder / "index.faiss").read_bytes())
    data[-8:] = b"\x00\x00\x80\x7f" * 2  # the last vector's floats become inf
    (folder / "index.faiss").write_bytes(bytes(data))
    with pytest.raises(IndexMismatchError, match="lacks files"):
        load_index(tmp_path, EXPECTED)


@pytest.mark.parametrize("edit", ["drop_one", "empty", "not_a_dict", "unlisted_file", "no_dim", "path_name"])
def test_the_manifest_must_list_every_file(tmp_path, edit):
    folder = _saved(tmp_path)
    manifest = json.loads((folder / "manifest.json").read_text())
    if edit == "drop_one":
        del manifest["files"]["index.faiss"]
    elif edit == "empty":
        manifest["files"] = {}
    elif edit == "not_a_dict":
        manifest["files"] = ["index.faiss"]
    elif edit == "unlisted_file":
        (folder / "planted.parquet").write_bytes(b"x")
    elif edit == "no_dim":
        del manifest["dim"]
    elif edit == "path_name":
        manifest["files"]["../../CURRENT"] = "0" * 64
    (folder / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(IndexMismatchError, match="matcher build"):
        load_index(tmp_path, EXPECTED)


@pytest.mark.parametrize("pointer", ["{outside}", "../../planted", "versions/../x", ".hidden", "a/b", "..",
                                     "x" * 300])
def test_current_must_name_a_folder_inside_versions(tmp_path, pointer):
    root = tmp_path / "index"
    _saved(root)
    planted = tmp_path / "planted"  # a complete, self-consistent index someone put elsewhere
    _saved(planted)
    outside = store.current_version_dir(planted)
    (root / "CURRENT").write_text(pointer.format(outside=outside) + "\n")
    with pytest.raises((IndexMismatchError, IndexMissingError), match="matcher build"):
        load_index(root, EXPECTED)


def test_a_version_folder_that_is_a_link_is_refused(tmp_path):
    root = tmp_path / "index"
    _saved(root)
    planted = store.current_version_dir(_saved_at(tmp_path / "planted"))
    (root / "versions" / "linked").symlink_to(planted, target_is_directory=True)
    (root / "CURRENT").write_text("linked\n")
    with pytest.raises(IndexMismatchError, match="symbolic link"):
        load_index(root, EXPECTED)


def _saved_at(root: Path) -> Path:
    _saved(root)
    return root


# ---------------------------------------------------------------------------- 5. concurrent builds
BUILD_SCRIPT = textwrap.dedent('''
    import sys
    sys.path.insert(0, sys.argv[1])
    import numpy as np, pandas as pd
    from matcher.index import build_index, save_index
    root, seed = sys.argv[2], int(sys.argv[3])
    rng = np.random.default_rng(seed)
    table = pd.DataFrame({"x": np.arange(20_000)})
    print("ready", flush=True)
    sys.stdin.readline()  # both start together
    for i in range(25):
        v = rng.normal(size=(3000, 64)).astype("float32")
        v /= np.linalg.norm(v, axis=1, keepdims=True)
        save_index(build_index(v, [f"{seed}-{j}" for j in range(3000)], {"model_id": "m"}), root,
                   tables={"extra.parquet": table})
    print("done", flush=True)
''')


def test_two_builds_at_once_both_finish_and_leave_a_good_index(tmp_path):
    script = tmp_path / "build.py"
    script.write_text(BUILD_SCRIPT)
    root = tmp_path / "index"
    procs = [subprocess.Popen([sys.executable, str(script), str(REPO), str(root), str(seed)], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for seed in (1, 2)]
    try:
        for p in procs:
            assert p.stdout.readline().strip() == "ready", p.stderr.read()
        for p in procs:
            p.stdin.write("go\n")
            p.stdin.flush()
        results = [p.communicate(timeout=240) for p in procs]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
    for p, (out, err) in zip(procs, results):
        assert p.returncode == 0 and "done" in out, err[-3000:]
    index = load_index(root, EXPECTED)
    assert index.n == 3000
    versions = [p.name for p in (root / "versions").iterdir()]
    assert not [n for n in versions if n.endswith(".partial")], versions
    assert len(versions) <= 3, versions


def test_a_build_leaves_the_staging_folder_of_a_running_build_alone(tmp_path):
    _saved(tmp_path)
    running = tmp_path / "versions" / ".20990101T000000000000-aaaaaaaa.partial"
    running.mkdir()
    lock = store._hold_lock(running / store.BUILDING_LOCK)  # as a build in another process holds it
    dead = tmp_path / "versions" / ".20990101T000000000000-bbbbbbbb.partial"
    dead.mkdir()
    (dead / store.BUILDING_LOCK).write_text("")  # its build was killed: the lock is free
    try:
        _saved(tmp_path)
        assert running.is_dir() and not dead.exists()
    finally:
        store._release_lock(lock, None)
    _saved(tmp_path)
    assert not running.exists()


# ---------------------------------------------------------------------------- 6. deep nesting
@pytest.mark.parametrize("loader", [load_profiles, load_case_studies])
def test_deep_json_nesting_is_a_limit_error(bombs, loader):
    with pytest.raises(LimitExceededError) as err:
        loader(bombs["deep.jsonl"])
    assert err.value.limit == "max_nesting_depth" and err.value.problems[0]["row"] == 1


def test_deep_front_matter_is_a_limit_error(bombs):
    with pytest.raises(LimitExceededError) as err:
        load_case_studies(bombs["deep_library"])
    assert err.value.limit == "max_nesting_depth" and "deep.md" in str(err.value)


def test_brackets_inside_json_strings_are_not_nesting(tmp_path):
    path = tmp_path / "p.jsonl"
    path.write_text(json.dumps({"name": "[" * 25_000 + "Bracketville", "country_code": "DE",
                                "narrative": "{" * 100}) + "\n")
    with pytest.raises(ProfileValidationError) as err:  # refused for the name's length, not for nesting
        load_profiles(path, limits=Limits(max_cell_chars=10**6))
    assert not isinstance(err.value, LimitExceededError)
    path.write_text(json.dumps({"name": "[[Bracketville]]", "country_code": "DE", "narrative": "{" * 100}) + "\n")
    assert load_profiles(path).loc[0, "name"] == "[[Bracketville]]"


# ---------------------------------------------------------------------------- 7. disk full
def test_disk_full_during_a_build_keeps_the_last_good_index(tmp_path, monkeypatch):
    """ENOSPC simulated in the Parquet writer (the real full disk: the tmpfs test below)."""
    _saved(tmp_path)

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(store, "atomic_write_parquet", full)
    with pytest.raises(IndexWriteError, match="No space left on device") as err:
        save_index(build_index(np.eye(4, dtype=np.float32) * 2, list("wxyz"), dict(EXPECTED)), tmp_path)
    assert isinstance(err.value, MatcherError) and "last good index" in str(err.value)
    monkeypatch.undo()
    assert [p.name for p in (tmp_path / "versions").iterdir() if p.name.startswith(".")] == []
    assert list(load_index(tmp_path, EXPECTED).ids) == list("abcd")


TMPFS_SCRIPT = textwrap.dedent('''
    import sys
    sys.path.insert(0, sys.argv[1])
    import numpy as np
    from matcher.errors import IndexWriteError
    from matcher.index import build_index, load_index, save_index
    root = sys.argv[-1]
    save_index(build_index(np.eye(8, dtype="float32"), list("abcdefgh"), {"model_id": "m"}), root)
    big = np.random.default_rng(0).normal(size=(20_000, 64)).astype("float32")  # 5 MB: does not fit
    for attempt in range(3):
        try:
            save_index(build_index(big, [str(i) for i in range(len(big))], {"model_id": "m"}), root)
            print("saved?!")
        except IndexWriteError as exc:
            print("refused:", str(exc).splitlines()[0])
    import os
    print("left:", sorted(os.listdir(root + "/versions")))
    print("ids:", "".join(load_index(root, {"model_id": "m"}).ids))
''')


def _can_mount_tmpfs() -> bool:
    if not shutil.which("unshare") or os.geteuid() != 0:
        return False
    probe = subprocess.run(["unshare", "-m", "sh", "-c", "mount -t tmpfs -o size=1m tmpfs /mnt && umount /mnt"],
                           capture_output=True, timeout=20)
    return probe.returncode == 0


def run_on_small_tmpfs(tmp_path: Path, script_text: str, *args) -> list[str]:
    """Run `script_text` as `python script REPO *args MOUNT/index` in a private mount namespace
    where MOUNT is a fresh 2 MB tmpfs (invisible outside that process); its stdout lines."""
    mnt = tmp_path / "small"
    mnt.mkdir()
    script = tmp_path / "script.py"
    script.write_text(script_text)
    quoted = " ".join(f'"{a}"' for a in (sys.executable, script, REPO, *args, f"{mnt}/index"))
    run = subprocess.run(["unshare", "-m", "sh", "-c", f'mount -t tmpfs -o size=2m tmpfs "{mnt}" && {quoted}'],
                         capture_output=True, text=True, timeout=300, env={**os.environ, "HF_HUB_OFFLINE": "1"})
    assert run.returncode == 0, run.stderr[-3000:]
    return run.stdout.splitlines()


@pytest.mark.skipif(not _can_mount_tmpfs(), reason="needs root and a private mount namespace (unshare -m)")
def test_a_real_full_disk_gives_a_clear_error_and_no_leftovers(tmp_path):
    """A 2 MB tmpfs mounted in a private mount namespace (invisible outside the test process)."""
    lines = run_on_small_tmpfs(tmp_path, TMPFS_SCRIPT)
    assert sum(line.startswith("refused: Cannot write the index") for line in lines) == 3, lines
    left = next(line for line in lines if line.startswith("left:"))
    assert ".partial" not in left and left.count("'") == 2, left  # one version, no staging leftovers
    assert "ids: abcdefgh" in lines


BUILD_ON_FULL_DISK = textwrap.dedent('''
    import os, sys, warnings
    sys.path.insert(0, sys.argv[1])
    from tests.test_faults import WordEncoder, open_twins
    from matcher.errors import IndexWriteError
    data, index = sys.argv[2], sys.argv[-1]
    open_twins(data, index, encoder=WordEncoder(), build="always")
    fd = os.open(os.path.join(os.path.dirname(index), "filler"), os.O_WRONLY | os.O_CREAT)
    try:
        while True:
            os.write(fd, b"\\0" * 65536)
    except OSError:
        pass
    os.close(fd)
    for attempt in range(2):  # another model: new texts for the cache, a new index to write
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                open_twins(data, index, encoder=WordEncoder(model_id="other"), build="always")
                print("built?!")
            except IndexWriteError as exc:
                print("refused:", str(exc).splitlines()[0])
        print("warned:", sorted({type(w.message).__name__ for w in caught}))
    print("left:", sorted(os.listdir(os.path.join(index, "versions"))))
    rec = open_twins(data, index, encoder=WordEncoder(), build="never")
    city, country = rec.profiles["name"].iloc[0], rec.profiles["country_code"].iloc[0]
    print("answers:", len(rec.recommend(city, country=country, k=3).matches))
''')


@pytest.mark.skipif(not _can_mount_tmpfs(), reason="needs root and a private mount namespace (unshare -m)")
def test_a_build_on_a_full_disk_ends_in_a_library_error_and_keeps_the_index(tmp_path):
    """The issue's probe end to end: a twin build on a filled-up 2 MB tmpfs."""
    lines = run_on_small_tmpfs(tmp_path, BUILD_ON_FULL_DISK, small_data_dir(tmp_path))
    assert sum(line.startswith("refused: Cannot write the index") for line in lines) == 2, lines
    assert "warned: ['CacheWriteWarning']" in lines, lines
    left = next(line for line in lines if line.startswith("left:"))
    assert ".partial" not in left and left.count("'") == 2, left
    assert "answers: 3" in lines, lines


# ---------------------------------------------------------------------------- weak: junk rows
def test_junk_rows_stop_at_the_problem_limit(tmp_path):
    path = tmp_path / "junk.csv"
    junk = "\n".join(f"{i},ZZ,not-a-number,nope" for i in range(200_000))
    path.write_text("name,country_code,population,eu_mission\n" + junk + "\n")
    start = time.perf_counter()
    with pytest.raises(ProfileValidationError) as err:
        load_profiles(path)
    assert time.perf_counter() - start < 20
    assert len(err.value.problems) == DEFAULT_LIMITS.max_problems == err.value.stopped_at
    assert "stopped after 1000 problem(s)" in str(err.value) and "max_problems=1,000" in str(err.value)
    with pytest.raises(ProfileValidationError) as err:
        load_profiles(path, limits=Limits(max_problems=5))
    assert len(err.value.problems) == 5


# ---------------------------------------------------------------------------- weak: UTF-16
@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-le", "utf-16-be", "utf-32"])
def test_utf16_csv_is_read_when_marked_and_named_when_not(tmp_path, encoding):
    text = "name,country_code\nKöln,DE\nŁódź,PL\n"
    path = tmp_path / "p.csv"
    if encoding in ("utf-16-le", "utf-16-be"):  # no byte-order mark: not guessed
        path.write_bytes(text.encode(encoding))
        with pytest.raises(ProfileValidationError, match="UTF-16/UTF-32 without a byte-order mark"):
            load_profiles(path)
        with pytest.raises(ProfileValidationError, match="UTF-16"):
            import_survey(path)
        return
    path.write_bytes(text.encode(encoding))  # Python writes the BOM
    assert list(load_profiles(path)["name"]) == ["Köln", "Łódź"]
    (tmp_path / "s.csv").write_bytes("City,Country\nKöln,DE\n".encode(encoding))
    assert list(import_survey(tmp_path / "s.csv").profiles["name"]) == ["Köln"]


# ---------------------------------------------------------------------------- weak: symlinks
def test_a_profile_file_that_is_a_link_is_refused_without_reading_it(tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("hunter2-SECRET-TOKEN\n")
    link = tmp_path / "profiles.csv"
    link.symlink_to(secret)
    for loader in (load_profiles, import_survey, load_case_studies):
        with pytest.raises(LimitExceededError) as err:
            loader(link)
        assert err.value.limit == "allow_symlinks" and "SECRET" not in str(err.value)
    with pytest.raises(ProfileValidationError) as err:  # allowed on purpose: then it is read
        load_profiles(link, limits=Limits(allow_symlinks=True))
    assert "hunter2" in str(err.value)


def test_a_link_inside_a_case_library_is_refused(tmp_path):
    outside = tmp_path / "outside.md"
    outside.write_text("---\ntitle: Outside\nsummary: from elsewhere\n---\n")
    lib = tmp_path / "lib"
    (lib / "sub").mkdir(parents=True)
    (lib / "own.md").write_text("---\ntitle: Own\nsummary: s\n---\n")
    (lib / "linked.md").symlink_to(outside)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "more.md").write_text("---\ntitle: More\nsummary: s\n---\n")
    (lib / "sub" / "dir").symlink_to(elsewhere, target_is_directory=True)
    with pytest.raises(ProfileValidationError) as err:
        load_case_studies(lib)
    files = {Path(p["file"]).name for p in err.value.problems}
    assert files == {"linked.md", "dir"} and "symbolic link" in str(err.value)
    assert set(load_case_studies(lib, limits=Limits(allow_symlinks=True))["title"]) == {"Own", "Outside", "More"}
    (lib / "linked.md").unlink()
    (lib / "sub" / "dir").unlink()
    assert list(load_case_studies(lib)["title"]) == ["Own"]


# ---------------------------------------------------------------------------- weak: survey rows
@pytest.mark.parametrize("section_row", [False, True])
def test_survey_duplicate_names_the_rows_of_the_export(tmp_path, section_row):
    head = "General,,\n" if section_row else ""
    (tmp_path / "s.csv").write_text(head + "City,Country,city_id\nLyon,FR,x1\nParis,FR,x2\nLyon again,FR,x1\n")
    with pytest.raises(ProfileValidationError) as err:
        import_survey(tmp_path / "s.csv")
    first = 3 if section_row else 2
    problem = next(p for p in err.value.problems if "duplicate" in p["message"])
    assert problem["row"] == first + 2
    assert f"first used on row {first})" in problem["message"]


def test_case_folder_duplicate_names_the_first_file(tmp_path):
    lib = tmp_path / "lib"
    lib.mkdir()
    for name in ("a.md", "b.md"):
        (lib / name).write_text("---\ncase_id: same\ntitle: t\nsummary: s\n---\n")
    with pytest.raises(ProfileValidationError) as err:
        load_case_studies(lib)
    assert err.value.problems[0]["file"].endswith("b.md")
    assert "first used in" in err.value.problems[0]["message"] and "a.md" in err.value.problems[0]["message"]


# ---------------------------------------------------------------------------- weak: control characters
def test_control_characters_and_terminal_escapes_are_stripped(tmp_path):
    from matcher.lookup import CityLookup

    rows = [{"name": "\x1b[31mVienna\x1b[0m", "country_code": "AT", "narrative": "line one\nline two\x07",
             "barriers": "Lack of know-how and skills\x1b[2J", "admin1": "Wien\u202e\x00"},
            {"name": "Graz\r\nInjected", "country_code": "AT", "x_note": "\x1b]0;title\x07ok"}]
    path = tmp_path / "p.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    table = load_profiles(path)
    assert list(table["name"]) == ["Vienna", "Graz Injected"]
    assert table.loc[0, "narrative"] == "line one\nline two" and table.loc[0, "admin1"] == "Wien"
    assert table.loc[0, "barriers"] == ["Lack of know-how and skills"] and table.loc[1, "x_note"] == "ok"
    for col in table.columns:
        for value in table[col]:
            for text in (value if isinstance(value, list) else [value]):
                assert not (isinstance(text, str) and ("\x1b" in text or "\x00" in text)), (col, text)
    lookup = CityLookup(table)
    assert lookup.resolve("Vienna") is not None


# ---------------------------------------------------------------------------- weak: text length
def test_texts_are_cut_before_encoding(tmp_path):
    inner = FakeEncoder(model_id="count-enc", dim=8)
    cache = CachedEncoder(inner, limits=Limits(max_embed_chars=500))
    start = time.perf_counter()
    cache.encode(["a" * 1_000_000, "short"])
    assert time.perf_counter() - start < 2
    assert [len(t) for t in inner.calls] == [500, 5]
    assert cache.encode(["a" * 500]).shape == (1, 8) and inner.calls[-1] == "short"  # same text once cut: cached
    assert [len(t) for t in cap_texts(["b" * 20_000])] == [DEFAULT_LIMITS.max_embed_chars]


def test_a_one_megabyte_theme_reaches_the_model_cut(curated_profiles):

    class Recording(FakeEncoder):
        lengths: list[int] = []

        def encode(self, texts):
            self.lengths.extend(len(t) for t in texts)
            return super().encode(texts)

    encoder = Recording()
    rec = twins_in_memory(curated_profiles.head(80), encoder)
    city, country = rec.profiles["name"].iloc[0], rec.profiles["country_code"].iloc[0]
    start = time.perf_counter()
    result = rec.recommend(city, country=country, k=3, theme="heat pumps " * 100_000)
    assert len(result.matches) == 3 and time.perf_counter() - start < 10
    assert max(encoder.lengths) == DEFAULT_LIMITS.max_embed_chars


# ---------------------------------------------------------------------------- the limits
def test_every_limit_has_a_default_and_help():
    fields = dataclasses.fields(Limits)
    assert {f.name for f in fields} >= {"max_file_bytes", "max_decompressed_bytes", "max_rows", "max_columns",
                                        "max_cells", "max_cell_chars", "max_nesting_depth", "max_problems",
                                        "max_embed_chars", "allow_symlinks"}
    for f in fields:
        assert f.default is not dataclasses.MISSING and len(f.metadata["help"]) > 30, f.name
    assert DEFAULT_LIMITS == Limits()
    with pytest.raises(dataclasses.FrozenInstanceError):
        DEFAULT_LIMITS.max_rows = 1  # type: ignore[misc]


def test_security_md_lists_every_limit_with_its_default():
    text = (REPO / "SECURITY.md").read_text("utf-8")
    for f in dataclasses.fields(Limits):
        assert f"`{f.name}`" in text, f.name
        default = f"{f.default:,}" if isinstance(f.default, int) and not isinstance(f.default, bool) else str(f.default)
        assert default in text, (f.name, default)


def test_jsonl_lines_split_on_newlines_only(tmp_path):
    path = tmp_path / "p.jsonl"
    path.write_text(json.dumps({"name": "Line\u2028Separator", "country_code": "DE",
                                "narrative": "a\u2029b"}, ensure_ascii=False) + "\n", encoding="utf-8")
    table = load_profiles(path)
    assert table.loc[0, "name"] == "Line Separator" and table.loc[0, "narrative"] == "a\u2029b"


def test_embedding_a_parquet_corpus_is_bounded_per_batch(bombs, tmp_path):
    from matcher.embed import embed_local, read_embeddings

    inner = FakeEncoder(model_id="count-enc", dim=8)
    with pytest.raises(LimitExceededError) as err:
        embed_local(bombs["dict.parquet"], "name", tmp_path / "out.parquet", encoder=inner)
    assert err.value.limit == "max_decompressed_bytes" and not inner.calls
    assert not (tmp_path / "out.parquet").exists()
    corpus = pd.DataFrame({"id": [1, 2, 3], "text": ["short", "x" * 50_000, None], "tags": [["a"], [], None]})
    corpus.to_parquet(tmp_path / "c.parquet")
    stats = embed_local(tmp_path / "c.parquet", "text", tmp_path / "v.parquet", encoder=inner)
    assert stats.rows == 3 and read_embeddings(tmp_path / "v.parquet").shape == (3, 8)
    assert [len(t) for t in inner.calls] == [5, DEFAULT_LIMITS.max_embed_chars]
    back = pd.read_parquet(tmp_path / "v.parquet")
    assert back["text"].iloc[1] == "x" * 50_000 and list(back["tags"].iloc[0]) == ["a"]


# ---------------------------------------------------------------------------- same class, found on the way
def test_a_workbook_with_too_many_zip_parts_is_refused_before_its_directory_is_read(tmp_path):
    path = tmp_path / "parts.xlsx"
    with zipfile.ZipFile(path, "w") as archive:
        for i in range(DEFAULT_LIMITS.max_archive_members + 1):
            archive.writestr(f"p/{i}", b"")
    for loader in (load_profiles, import_survey):
        with pytest.raises(LimitExceededError) as err:
            loader(path)
        assert err.value.limit == "max_archive_members" and "10,001 parts" in str(err.value)


def test_wide_tables_are_refused_before_pandas_builds_the_columns(tmp_path):
    wide = tmp_path / "wide.csv"
    wide.write_text(",".join(f"c{i}" for i in range(5000)) + "\n" + "," * 4999 + "\n")
    for loader in (load_profiles, import_survey):
        with pytest.raises(LimitExceededError) as err:
            loader(wide)
        assert err.value.limit == "max_columns"
    # JSON lines whose keys differ: the union of the keys is counted while reading.
    lines = tmp_path / "keys.jsonl"
    lines.write_text("\n".join(json.dumps({f"k{i}_{j}": 1 for j in range(50)}) for i in range(100)) + "\n")
    with pytest.raises(LimitExceededError) as err:
        load_profiles(lines)
    assert err.value.limit == "max_columns"
    with pytest.raises(LimitExceededError) as err:
        load_profiles(lines, limits=Limits(max_columns=10**6, max_cells=100_000))
    assert err.value.limit == "max_cells"


def test_a_workbook_grid_is_bounded_as_the_callers_pad_it(tmp_path):
    def chunks():
        yield SHEET_HEAD + b'<row r="1"><c r="A1" t="inlineStr"><is><t>name</t></is></c>'
        yield b'<c r="ZZ1" t="inlineStr"><is><t>far</t></is></c></row>'
        yield b"".join(b'<row r="%d"><c r="A%d"><v>1</v></c></row>' % (i, i) for i in range(2, 2000))
        yield SHEET_TAIL
    path = make_xlsx(tmp_path / "padded.xlsx", chunks)
    with pytest.raises(LimitExceededError) as err:  # 2,000 rows x 702 columns once padded
        import_survey(path, limits=Limits(max_cells=100_000))
    assert err.value.limit == "max_cells"


def test_a_file_of_newlines_is_not_split_into_a_list(tmp_path):
    """200 MB of newlines would be a list of 200 million strings: both loaders scan instead."""
    lib = tmp_path / "lib"
    lib.mkdir()
    (lib / "a.md").write_text("---\ntitle: t\nsummary: s\n---\nbody" + "\n" * 1_500_000 + "end\n")
    table = load_case_studies(lib)
    assert table.loc[0, "body"].startswith("body") and table.loc[0, "body"].endswith("end")
    (tmp_path / "p.jsonl").write_text(json.dumps({"name": "Lyon", "country_code": "FR"}) + "\n" * 5_000_000)
    assert list(load_profiles(tmp_path / "p.jsonl")["name"]) == ["Lyon"]


@pytest.mark.parametrize("text,meta,body", [
    ("---\ntitle: t\nsummary: s\n---\nbody\n", {"title": "t", "summary": "s"}, "body"),
    ("--- \r\ntitle: t\r\nsummary: s\r\n ---\t\r\n\r\nbody\r\n", {"title": "t", "summary": "s"}, "body"),
    ("---\n---\n", {}, ""),
    ("---\ntitle: a---b\n---", {"title": "a---b"}, ""),
])
def test_front_matter_split_keeps_its_rules(tmp_path, text, meta, body):
    from matcher.case_studies import _front_matter

    path = tmp_path / "c.md"
    path.write_bytes(text.encode())
    assert _front_matter(path) == (meta, body)


def test_a_city_list_gets_the_loaders_checks(tmp_path):
    """The city list of the staff tools (CLI --cities FILE) is read like every other input file."""
    from matcher.network import read_city_file

    secret = tmp_path / "secret.txt"
    secret.write_text("hunter2\n")
    link = tmp_path / "cities.txt"
    link.symlink_to(secret)
    with pytest.raises(LimitExceededError, match="allow_symlinks") as err:
        read_city_file(link)
    assert "hunter2" not in str(err.value)
    utf16 = tmp_path / "utf16.csv"
    utf16.write_bytes("name,country_code\nKöln,DE\n".encode("utf-16"))
    assert read_city_file(utf16) == [("Köln", "DE")]
    with pytest.raises(LimitExceededError, match="max_file_bytes"):
        read_city_file(utf16, Limits(max_file_bytes=10))


def test_labelled_pairs_get_the_loaders_checks(tmp_path):
    from matcher.evaluate import load_labelled_pairs

    secret = tmp_path / "secret.csv"
    secret.write_text("hunter2\n")
    link = tmp_path / "pairs.csv"
    link.symlink_to(secret)
    with pytest.raises(LimitExceededError, match="allow_symlinks"):
        load_labelled_pairs(link)
    marked = tmp_path / "utf16.csv"
    marked.write_bytes("city,country_code,peer,peer_country_code\nKöln,DE,Lyon,FR\n".encode("utf-16"))
    assert load_labelled_pairs(marked).iloc[0]["city"] == "Köln"
    unmarked = tmp_path / "nobom.csv"
    unmarked.write_bytes("city,country_code,peer,peer_country_code\n".encode("utf-16-le"))
    with pytest.raises(ProfileValidationError, match="UTF-16"):
        load_labelled_pairs(unmarked)
