"""Every loader under generated malformed input (hypothesis): each file ends in a valid table or
in the library's own error (a MatcherError naming the file, and row/column where it applies),
never in an uncaught exception, and the input folder is byte-for-byte unchanged afterwards.

Bounded for CI: MATCHER_FUZZ_EXAMPLES examples per loader (default 500), derandomized so a run
is reproducible, no example database. `MATCHER_FUZZ_EXAMPLES=5000 pytest tests/test_fuzz.py`
runs a bigger local campaign.
"""
from __future__ import annotations

import hashlib
import io
import json
import math
import os
import tempfile
from collections import Counter
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from matcher.case_studies import import_case_studies, load_case_studies
from matcher.errors import MatcherError
from matcher.evaluate import load_labelled_pairs
from matcher.io import load_profiles
from matcher.network import read_city_file, resolve_rows
from matcher.schema import CASE_COLUMNS, COLUMNS
from matcher.vocab import taxonomy, vocabularies
from matcher.survey import import_survey

N = int(os.environ.get("MATCHER_FUZZ_EXAMPLES", "500"))
FUZZ = settings(max_examples=N, deadline=None, derandomize=True, database=None, print_blob=True,
                suppress_health_check=list(HealthCheck))
STATS: Counter = Counter()  # (loader, outcome) -> count, printed at the end of the module


# ---------------------------------------------------------------------------- generators
VOCAB = [v for vals in vocabularies().values() for v in vals[:6]]
QUESTIONS = [q["question"] for q in taxonomy()["_questions"].values()]
HOSTILE = ["=HYPERLINK(\"http://x\",\"y\")", "+1+1", "-2", "@SUM(A1)", "\t=1", "<script>alert(1)</script>",
           "[a](javascript:alert(1))", "!!python/object/apply:os.system ['echo hi']", "{{7*7}}", "${jndi:x}",
           "'; DROP TABLE x; --", "\u202etxt.exe", "\x00", "NaN", "nan", "None", "null", "inf", "-inf", "1e309",
           "9" * 40, "Köln", "Łódź", "İstanbul", "\ufeffname", "a;b;;c", "\r\n", "\"", "\"\"\"", ",", ";"]

text = st.one_of(
    st.sampled_from(VOCAB + HOSTILE + ["", " ", "DE", "de", "XX", "GB", "en", "2050", "2101", "starting", "true",
                                        "Milton Keynes", "Paris", "Lyon", "Sevilla"]),
    st.text(max_size=40),
    st.text(alphabet=st.characters(codec="utf-8"), max_size=12),
    st.integers(min_value=1, max_value=40_000).map(lambda n: "x" * n),
)
scalar = st.one_of(
    text,
    st.integers(min_value=-(2 ** 70), max_value=2 ** 70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.booleans(),
    st.none(),
)
value = st.one_of(scalar, st.lists(scalar, max_size=4))


def column_names(known):
    return st.lists(st.one_of(st.sampled_from(known), text), min_size=0, max_size=8)


@st.composite
def table(draw, known):
    """A list of column names (maybe duplicated, unknown or empty) and rows of wild values."""
    cols = draw(column_names(known))
    n = draw(st.integers(min_value=0, max_value=6))
    rows = [[draw(value) for _ in cols] for _ in range(n)]
    return cols, rows


V = vocabularies()
TQ = {k: q["question"] for k, q in taxonomy()["_questions"].items()}
BASES = {
    "profiles": {"name": st.sampled_from(["Testville", "Köln", "Fictionburg", "Paris"]),
                 "country_code": st.sampled_from(["DE", "fr", "GB", "PT"]),
                 "population": st.sampled_from(["120000", 5000, 2_000_000.0, ""]),
                 "net_zero_target_year": st.sampled_from([2030, "2045", "", None]),
                 "lat": st.sampled_from([48.1, "51.5"]), "lon": st.sampled_from([11.5, "-0.1"]),
                 "barriers": st.lists(st.sampled_from(V["barriers"][:17]), max_size=3).map("; ".join),
                 "priority_sectors": st.lists(st.sampled_from(V["priority_sectors"]), max_size=2),
                 "languages": st.sampled_from(["de", "en;fr", ""]), "maturity": st.sampled_from(["advanced", ""])},
    "cases": {"title": st.sampled_from(["Green bonds", "Heat pumps", "Bike lanes"]),
              "summary": st.sampled_from(["What was done, by whom.", "A summary."]),
              "sectors": st.lists(st.sampled_from(V["case_sectors"]), max_size=2),
              "barriers_addressed": st.lists(st.sampled_from(V["case_barriers"][:20]), max_size=2).map("; ".join),
              "city": st.sampled_from(["Malmö", "Lyon", ""]), "country_code": st.sampled_from(["SE", "FR", ""])},
    "pairs": {"city": st.sampled_from(["Milton Keynes", "Paris", "Nowhere"]),
              "country_code": st.sampled_from(["GB", "FR", ""]),
              "peer": st.sampled_from(["Lyon", "Leuven", "Glasgow"]),
              "peer_country_code": st.sampled_from(["FR", "BE", ""]), "relation": st.sampled_from(["twin", ""])},
    "survey": {"City name": st.sampled_from(["Fictionville (synthetic)", "Testburg (synthetic)"]),
               "Country": st.sampled_from(["Germany", "FR", "Österreich", "Atlantis"]),
               TQ["barriers"]: st.lists(st.sampled_from(V["barriers"][:17]), max_size=3).map(", ".join),
               TQ["priority_sectors"]: st.sampled_from(["Energy systems; Industry", "Have not identified yet", ""]),
               TQ["target_ranges"]: st.sampled_from(["Yes, with a timeline range of 2030 - 2040", "No target yet"]),
               TQ["co_benefits"]: st.sampled_from(["Improved access to services (i.e., public transport, energy)",
                                                   "Poverty alleviation\nOther: x"])},
}


@st.composite
def near_valid(draw, kind, known):
    """A valid-looking table of `kind`, then a few mutations (a wild cell, an unknown or dropped
    column, a duplicated row), so the fuzzing also reaches the row and cell checks."""
    base = BASES[kind]
    cols = list(base)
    rows = [[draw(base[c]) for c in cols] for _ in range(draw(st.integers(1, 5)))]
    for _ in range(draw(st.integers(0, 3))):
        op = draw(st.sampled_from(["cell", "cell", "cell", "rename", "drop", "dup"]))
        if op == "cell":
            rows[draw(st.integers(0, len(rows) - 1))][draw(st.integers(0, len(cols) - 1))] = draw(value)
        elif op == "rename":
            cols[draw(st.integers(0, len(cols) - 1))] = draw(st.one_of(st.sampled_from(known), text))
        elif op == "drop" and len(cols) > 1:
            j = draw(st.integers(0, len(cols) - 1))
            cols.pop(j)
            rows = [r[:j] + r[j + 1:] for r in rows]
        elif op == "dup":
            rows.append(list(rows[0]))
    return cols, rows


def tables(kind, known):
    return st.one_of(table(known), near_valid(kind, known), near_valid(kind, known))


@st.composite
def corruption(draw):
    """How to damage the serialised bytes: nothing, truncate, insert or overwrite bytes."""
    kind = draw(st.sampled_from(["none", "none", "none", "truncate", "insert", "overwrite", "prefix"]))
    where = draw(st.floats(min_value=0, max_value=1))
    junk = draw(st.one_of(st.binary(min_size=1, max_size=16),
                          st.sampled_from([b"\xff\xfe", b"\x80", b"\xc3", b"\xed\xa0\x80", b"\x00", b'"', b"\n",
                                           b"\r", b"\xef\xbb\xbf"])))
    return kind, where, junk


def damage(data: bytes, how) -> bytes:
    kind, where, junk = how
    at = int(len(data) * where)
    if kind == "truncate":
        return data[:at]
    if kind == "insert":
        return data[:at] + junk + data[at:]
    if kind == "overwrite":
        return data[:at] + junk + data[at + len(junk):]
    if kind == "prefix":
        return junk + data
    return data


def _plain(v):
    if isinstance(v, list):
        return ";".join("" if x is None else str(x) for x in v)
    return "" if v is None else str(v)


def to_csv(cols, rows, sep=",") -> bytes:
    frame = pd.DataFrame([[_plain(v) for v in r] for r in rows], columns=range(len(cols)))
    buf = io.StringIO()
    pd.DataFrame([cols] + frame.values.tolist()).to_csv(buf, header=False, index=False, sep=sep)
    return buf.getvalue().encode("utf-8", errors="surrogatepass")


def _json_safe(v):
    if isinstance(v, float) and not math.isfinite(v):
        return str(v)
    if isinstance(v, list):
        return [_json_safe(x) for x in v]
    return v


def to_jsonl(cols, rows) -> bytes:
    lines = [json.dumps({str(c): _json_safe(v) for c, v in zip(cols, r)}, ensure_ascii=False) for r in rows]
    return ("\n".join(lines) + "\n").encode("utf-8", errors="surrogatepass")


def to_parquet(cols, rows) -> bytes | None:
    # Parquet needs unique names and one type per column: types follow the first row, odd rows become text.
    names = list(dict.fromkeys(str(c) for c in cols))
    data = {c: [] for c in names}
    for r in rows:
        for c, v in zip((str(c) for c in cols), r):
            if len(data[c]) < len(data[names[0]]) + 1:
                data[c].append(v)
    width = max((len(v) for v in data.values()), default=0)
    frame = pd.DataFrame({c: (v + [None] * (width - len(v))) for c, v in data.items()})
    for c in frame.columns:
        kinds = {type(x) for x in frame[c] if x is not None}
        if len(kinds) > 1 or kinds & {list}:
            frame[c] = [None if x is None else _plain(x) for x in frame[c]]
    buf = io.BytesIO()
    try:
        frame.to_parquet(buf)
    except Exception:  # a value pyarrow cannot store (huge int, surrogate): store everything as text
        frame = frame.map(lambda x: None if x is None else _plain(x).encode("utf-8", "replace").decode("utf-8"))
        frame.to_parquet(buf)
    return buf.getvalue()


def to_xlsx(cols, rows) -> bytes:
    from openpyxl import Workbook
    from openpyxl.utils.exceptions import IllegalCharacterError

    wb = Workbook()
    ws = wb.active
    for r in [cols] + rows:
        cells = []
        for v in r:
            v = _plain(v) if isinstance(v, list) or v is None else v
            if isinstance(v, int) and abs(v) > 2 ** 53:
                v = str(v)
            if isinstance(v, float) and not math.isfinite(v):
                v = str(v)
            if isinstance(v, str):
                v = v[:32_000].encode("utf-8", "replace").decode("utf-8")
            cells.append(v)
        try:
            ws.append(cells)
        except IllegalCharacterError:
            ws.append([c if not isinstance(c, str) else "".join(ch for ch in c if ch.isprintable()) for c in cells])
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


# ---------------------------------------------------------------------------- the contract
def folder_hash(folder: Path) -> str:
    digest = hashlib.sha256()
    for p in sorted(folder.rglob("*")):
        digest.update(str(p.relative_to(folder)).encode("utf-8", "surrogateescape"))
        if p.is_file():
            digest.update(p.read_bytes())
    return digest.hexdigest()


def check(loader_name: str, folder: Path, call):
    """Run `call`; it must return a table or raise a MatcherError naming the file; the folder is unchanged."""
    before = folder_hash(folder)
    try:
        out = call()
    except MatcherError as exc:
        message = str(exc)
        assert message.strip()
        problems = getattr(exc, "problems", None)
        if problems is not None:
            assert problems and all(p.get("file") for p in problems), problems
        STATS[(loader_name, "refused")] += 1
    else:
        assert out is not None
        if isinstance(out, pd.DataFrame):
            assert len(out) > 0 or loader_name == "labelled pairs"
        STATS[(loader_name, "valid")] += 1
    assert folder_hash(folder) == before, f"{loader_name} changed its input folder"


def _with_file(name: str, data: bytes, fn):
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        path = folder / name
        path.write_bytes(data)
        fn(folder, path)


PROFILE_COLS = [c.name for c in COLUMNS] + ["x_note"]
CASE_COLS = [c.name for c in CASE_COLUMNS] + ["id", "country", "text"]
PAIR_COLS = ["city", "country_code", "peer", "peer_country_code", "relation", "source"]


# ---------------------------------------------------------------------------- profiles
@FUZZ
@given(tables("profiles", PROFILE_COLS), corruption(), st.sampled_from([",", ";", "\t"]))
def test_fuzz_profiles_csv(tab, how, sep):
    _with_file("p.csv", damage(to_csv(*tab, sep=sep), how),
               lambda folder, path: check("profiles csv", folder, lambda: load_profiles(path)))


@FUZZ
@given(tables("profiles", PROFILE_COLS), corruption())
def test_fuzz_profiles_jsonl(tab, how):
    _with_file("p.jsonl", damage(to_jsonl(*tab), how),
               lambda folder, path: check("profiles jsonl", folder, lambda: load_profiles(path)))


@FUZZ
@given(tables("profiles", PROFILE_COLS), corruption())
def test_fuzz_profiles_parquet(tab, how):
    _with_file("p.parquet", damage(to_parquet(*tab), how),
               lambda folder, path: check("profiles parquet", folder, lambda: load_profiles(path)))


@FUZZ
@given(tables("profiles", PROFILE_COLS), corruption())
def test_fuzz_profiles_xlsx(tab, how):
    _with_file("p.xlsx", damage(to_xlsx(*tab), how),
               lambda folder, path: check("profiles xlsx", folder, lambda: load_profiles(path)))


# ---------------------------------------------------------------------------- case studies
@FUZZ
@given(tables("cases", CASE_COLS), corruption(), st.sampled_from(["c.jsonl", "c.csv"]))
def test_fuzz_case_studies_table(tab, how, name):
    data = to_jsonl(*tab) if name.endswith("jsonl") else to_csv(*tab)
    _with_file(name, damage(data, how),
               lambda folder, path: check(f"case studies {name.split('.')[1]}", folder,
                                          lambda: load_case_studies(path)))


yaml_value = st.one_of(
    st.sampled_from(["x", "'quoted'", "[energy systems, finance]", "[Lack of know-how and skills]", "[1, [2, [3]]]",
                     "{a: 1}", "!!python/object/apply:os.system ['echo pwned']", "!!binary aGVsbG8=", "&a [1,2]",
                     "*a", "[*a, *a, *a]", "|\n  block", "null", "~", "2050", "1e400", ":", "- - -", "'unclosed",
                     "\"\\xff\"", "@at", "`tick`", "%TAG", ""]),
    st.text(max_size=30),
)


@st.composite
def markdown_file(draw):
    keys = draw(st.lists(st.one_of(st.sampled_from(CASE_COLS), st.text(max_size=10)), max_size=6))
    meta = "\n".join(f"{k}: {draw(yaml_value)}" for k in keys)
    if draw(st.booleans()):  # a valid front matter, then maybe the wild lines
        valid = f"title: Case {draw(st.integers(0, 10 ** 6))}\nsummary: What was done.\nsectors: [energy systems]"
        meta = valid + ("\n" + meta if meta and draw(st.booleans()) else "")
    body = draw(st.one_of(st.text(max_size=200), st.sampled_from(["", "# Title\n\nBody text.", "<script>x</script>"])))
    opener = draw(st.sampled_from(["---\n", "---\n", "---\n", "---\n", "", "--- \n", "\ufeff---\n", "+++\n"]))
    closer = draw(st.sampled_from(["\n---\n", "\n---\n", "\n---\n", "\n---\n", "\n", "\n--\n"]))
    data = (opener + meta + closer + body).encode("utf-8", errors="surrogatepass")
    return damage(data, draw(corruption()))


@FUZZ
@given(st.lists(markdown_file(), min_size=0, max_size=4), st.sampled_from([".md", ".txt", ".markdown"]))
def test_fuzz_case_studies_markdown_folder(files, suffix):
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "library"
        folder.mkdir()
        for i, data in enumerate(files):
            (folder / f"case_{i}{suffix}").write_bytes(data)
        check("case studies markdown folder", folder, lambda: load_case_studies(folder))


@FUZZ
@given(tables("cases", CASE_COLS), corruption())
def test_fuzz_import_case_studies_leaves_the_target_untouched_on_failure(tab, how):
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        src = tmp / "in.jsonl"
        src.write_bytes(damage(to_jsonl(*tab), how))
        target = tmp / "data"
        (target / "case_studies").mkdir(parents=True)
        good = pd.DataFrame({"title": ["Old case"], "summary": ["Kept unless an import succeeds."]})
        good.to_parquet(target / "case_studies" / "case_studies.parquet")
        before = folder_hash(target)
        try:
            import_case_studies(src, target)
        except MatcherError:
            assert folder_hash(target) == before
            STATS[("import_case_studies", "refused, target unchanged")] += 1
        else:
            assert len(pd.read_parquet(target / "case_studies" / "case_studies.parquet")) > 0
            assert [p.name for p in (target / "case_studies").iterdir()] == ["case_studies.parquet"]
            STATS[("import_case_studies", "imported")] += 1


# ---------------------------------------------------------------------------- labelled pairs, city lists
@FUZZ
@given(tables("pairs", PAIR_COLS), corruption())
def test_fuzz_labelled_pairs(tab, how):
    _with_file("pairs.csv", damage(to_csv(*tab), how),
               lambda folder, path: check("labelled pairs", folder, lambda: load_labelled_pairs(path)))


@st.composite
def city_list(draw):
    if draw(st.booleans()):
        return to_csv(*draw(table(["name", "country_code", "NAME", " name", "notes"])))
    lines = draw(st.lists(st.one_of(st.sampled_from(["Milton Keynes", "Paris", "# comment", "", "Lyon, FR", "Köln"]),
                                    text), max_size=8))
    return "\n".join(lines).encode("utf-8", errors="surrogatepass")


@FUZZ
@given(city_list(), corruption())
def test_fuzz_city_list_for_cohorts_and_reviewers(fake_recommender, data, how):
    def run(folder, path):
        check("city list (cohorts/reviewers)", folder,
              lambda: resolve_rows(fake_recommender, read_city_file(path)) or ["empty list resolved"])

    _with_file("cities.txt", damage(data, how), run)


# ---------------------------------------------------------------------------- survey import
SURVEY_COLS = QUESTIONS[:8] + ["City", "City name", "Country", "Population", "Net zero target year",
                               "What are the main barriers & gaps your city faces...", "Urban Governance"]


@FUZZ
@given(tables("survey", SURVEY_COLS), corruption(), st.sampled_from(["csv", "csv;", "xlsx", "parquet"]))
def test_fuzz_survey_import(tab, how, kind):
    if kind.startswith("csv"):
        data = to_csv(*tab, sep=";" if kind == "csv;" else ",")
    else:
        data = to_xlsx(*tab) if kind == "xlsx" else to_parquet(*tab)
    _with_file(f"survey.{kind.rstrip(';')}", damage(data, how),
               lambda folder, path: check(f"survey {kind}", folder, lambda: import_survey(path).profiles))


# ---------------------------------------------------------------------------- targeted cases
@pytest.mark.parametrize("suffix", [".csv", ".jsonl"])
def test_ten_megabyte_cells_are_refused_with_row_and_column(tmp_path, suffix):
    big = "x" * 10_000_000
    path = tmp_path / f"p{suffix}"
    if suffix == ".csv":
        path.write_text(f"name,country_code,narrative\nBigtown,DE,{big}\n")
    else:
        path.write_text(json.dumps({"name": "Bigtown", "country_code": "DE", "narrative": big}) + "\n")
    with pytest.raises(MatcherError) as err:
        load_profiles(path)
    assert err.value.problems[0]["row"] == (2 if suffix == ".csv" else 1)
    assert err.value.problems[0]["column"] == "narrative"
    with pytest.raises(MatcherError):
        load_case_studies(path)
    if suffix == ".csv":
        with pytest.raises(MatcherError) as err:
            import_survey(path)
        assert err.value.problems[0]["row"] == 2


def _alias_bomb(levels: int = 8) -> str:
    """A YAML 'billion laughs' list: tiny on disk, 2 x 9^levels items when expanded."""
    node = "&l0 [lol, lol]"
    for i in range(1, levels + 1):
        node = f"&l{i} [{node}" + f", *l{i - 1}" * 8 + "]"
    return node


@pytest.mark.parametrize("key", ["sectors", "title", "population_note", "x_note"])
def test_yaml_alias_bomb_is_refused_quickly(tmp_path, key):
    import time

    lib = tmp_path / "lib"
    lib.mkdir()
    (lib / "bomb.md").write_text(f"---\ntitle: t\nsummary: s\n{key}: {_alias_bomb()}\n---\nbody\n")
    start = time.perf_counter()
    with pytest.raises(MatcherError):
        load_case_studies(lib)
    assert time.perf_counter() - start < 5


def test_python_yaml_tags_are_refused_not_run(tmp_path):
    lib = tmp_path / "lib"
    lib.mkdir()
    marker = tmp_path / "pwned"
    (lib / "tag.md").write_text(f"---\ntitle: !!python/object/apply:os.system ['touch {marker}']\nsummary: s\n---\n")
    with pytest.raises(MatcherError, match="not valid YAML"):
        load_case_studies(lib)
    assert not marker.exists()


def test_zz_report_fuzz_counts(capsys):
    """Prints the examples run per loader (pytest -s shows it); every one was valid or refused."""
    with capsys.disabled():
        for (loader, outcome), n in sorted(STATS.items()):
            print(f"\nfuzz {loader}: {n} {outcome}", end="")
        print()
