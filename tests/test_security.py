"""Nothing executes what it reads, and every way out is safe: a source guard (no pickle, eval,
exec, unsafe YAML, remote model code), formula injection neutralised in CSV, user text escaped in
the Markdown brief and printed as plain text in the PDF, and the app showing hostile input as
escaped messages, never a traceback or a server path."""
from __future__ import annotations

import io
import re
import shutil
import subprocess
from pathlib import Path

import pandas as pd
import pytest

from matcher.present import brief_markdown, brief_pdf, csv_bytes, md_escape, twinning_brief, twins_table
from matcher.io import spreadsheet_safe

REPO = Path(__file__).resolve().parent.parent
HOSTILE_NAMES = [
    "<script>alert(1)</script>",
    "[click me](javascript:alert(1))",
    "![beacon](http://tracker.invalid/p.png)",
    "=HYPERLINK(\"http://evil.invalid\",\"x\")",
    "Evil\n# Injected heading\n- item",
    "| a | b |",
    "<img src=x onerror=alert(1)>",
    "@SUM(1+1)*cmd|' /C calc'!A0",
]
FORMULAS = ["=1+1", "+1+1", "-1+1", "@SUM(A1)", "\t=1", "\r=1", "=HYPERLINK(\"http://evil.invalid\")",
            "=cmd|' /C calc'!A0"]


# ---------------------------------------------------------------------------- source guard
FORBIDDEN = [
    (r"\bimport\s+(c?pickle|dill|shelve|marshal)\b|\bfrom\s+(c?pickle|dill|shelve)\s+import", "pickle-like module"),
    (r"\bread_pickle\s*\(|\bto_pickle\s*\(|\bjoblib\.load\s*\(|\btorch\.load\s*\(", "pickle-based load"),
    (r"allow_pickle\s*=\s*True", "allow_pickle=True"),
    (r"(?<![\w.])eval\s*\(|(?<![\w.])exec\s*\(|\bcompile\s*\([^)]*['\"]exec['\"]", "eval/exec"),
    # __import__ only of a module named in the bundled-model table (features/text.py), never of input.
    (r"\b__import__\s*\((?!module_name\))|importlib\.import_module\s*\((?!module_name\))", "dynamic import"),
    (r"yaml\.(load|unsafe_load|full_load|load_all)\s*\(", "yaml without safe_load"),
    (r"trust_remote_code\s*=\s*True", "trust_remote_code=True"),
    (r"shell\s*=\s*True|os\.system\s*\(|os\.popen\s*\(", "a shell"),
    (r"unsafe_allow_html\s*=\s*True", "raw HTML in the app"),
]


def _sources():
    return sorted((REPO / "matcher").rglob("*.py")) + [REPO / "app_streamlit.py"] + sorted((REPO / "scripts").glob("*.py"))


def test_no_code_reads_pickle_evals_or_runs_a_shell():
    hits = []
    for path in _sources():
        for no, line in enumerate(path.read_text("utf-8").splitlines(), start=1):
            code = line.split("#", 1)[0]
            for pattern, what in FORBIDDEN:
                if re.search(pattern, code):
                    hits.append(f"{path.relative_to(REPO)}:{no}: {what}: {line.strip()}")
    assert not hits, "\n".join(hits)


def test_every_numpy_load_refuses_pickles_and_models_run_no_remote_code():
    for path in _sources():
        text = path.read_text("utf-8")
        for call in re.findall(r"np\.load\([^)]*\)", text):
            assert "allow_pickle=False" in call, f"{path}: {call}"
        for call in re.findall(r"SentenceTransformer\((?:[^()]|\([^()]*\))*\)", text):
            assert "trust_remote_code=False" in call, f"{path}: {call}"
        for call in re.findall(r"yaml\.\w+\(", text):
            assert call == "yaml.safe_load(", f"{path}: {call}"


# ---------------------------------------------------------------------------- CSV
@pytest.mark.parametrize("value", FORMULAS)
def test_spreadsheet_safe_neutralises_formulas(value):
    assert spreadsheet_safe(value) == "'" + value
    assert spreadsheet_safe("Köln") == "Köln" and spreadsheet_safe(-3) == -3


def test_csv_export_neutralises_formula_cells_and_headers():
    frame = pd.DataFrame({"city": FORMULAS + ["Lyon"], "score": [0.5] * (len(FORMULAS) + 1),
                          "=evil header": ["x"] * (len(FORMULAS) + 1)})
    frame["city"] = frame["city"].astype("string")  # pandas' string dtype too
    data = csv_bytes(frame)
    back = pd.read_csv(io.BytesIO(data), dtype=str, keep_default_na=False)
    assert list(back.columns)[2] == "'=evil header"
    assert all(v.startswith("'") for v in back["city"][:-1]) and back["city"].iloc[-1] == "Lyon"
    assert len(back) == len(frame)  # a CR inside a cell does not start a row
    assert all(not v.startswith(("=", "+", "-", "@", "\t", "\r")) for col in back for v in back[col])


def test_survey_csv_output_is_spreadsheet_safe(tmp_path):
    from matcher.survey import import_survey

    (tmp_path / "s.csv").write_text("City,Country\n\"=HYPERLINK(\"\"http://evil.invalid\"\")\",DE\n")
    import_survey(tmp_path / "s.csv", tmp_path / "out.csv")
    back = pd.read_csv(tmp_path / "out.csv", dtype=str, keep_default_na=False)
    assert back.loc[0, "name"].startswith("'=")


# ---------------------------------------------------------------------------- the brief
@pytest.fixture(scope="module")
def hostile_result(fake_recommender):
    profile = {"name": HOSTILE_NAMES[0] + HOSTILE_NAMES[1], "country_code": "DE", "population": 100000,
               "lat": 50.9, "lon": 6.9, "languages": ["de"], "barriers": ["Lack of know-how and skills"],
               "narrative": HOSTILE_NAMES[4]}
    return fake_recommender.recommend(profile=profile, k=3, theme=" ".join(HOSTILE_NAMES))


def _render_html(markdown: str) -> str:
    from markdown_it import MarkdownIt

    return MarkdownIt("commonmark").render(markdown)  # raw HTML allowed: the worst case for us


@pytest.mark.parametrize("name", HOSTILE_NAMES)
def test_md_escape_leaves_no_markup(name):
    html = _render_html(f"Twin: {md_escape(name)}")
    assert "<script" not in html and "<img" not in html and "<a " not in html and "<h1" not in html
    assert "<table" not in html and "<li" not in html
    assert html.count("<p>") == 1


def test_markdown_brief_escapes_hostile_names_and_theme(hostile_result, fake_recommender):
    brief = twinning_brief(hostile_result, None, fake_recommender.profiles)
    brief["twins"][0]["case_studies"] = [{"title": HOSTILE_NAMES[2], "source": HOSTILE_NAMES[1]}]
    brief["suggested_case_studies"] = [{"title": n, "city": n, "why": n, "source": n} for n in HOSTILE_NAMES]
    md = brief_markdown(brief)
    html = _render_html(md)
    assert "<script" not in html and "<img" not in html and "javascript:" not in re.findall(r'href="([^"]*)"', html)
    assert not re.findall(r"<a |<[^>]*\bsrc=", html)
    assert "Injected heading</h1>" not in html
    assert r"\<script\>alert(1)\</script\>" in md  # shown as text, not dropped


def test_pdf_brief_prints_hostile_text_as_text(hostile_result, fake_recommender, tmp_path):
    brief = twinning_brief(hostile_result, None, fake_recommender.profiles)
    brief["suggested_case_studies"] = [{"title": n, "city": None, "why": "", "source": n} for n in HOSTILE_NAMES]
    pdf = brief_pdf(brief)
    assert pdf.startswith(b"%PDF")
    for marker in (b"/JavaScript", b"/JS ", b"/URI", b"/Launch", b"/SubmitForm", b"/EmbeddedFile"):
        assert marker not in pdf
    if shutil.which("pdftotext"):
        (tmp_path / "b.pdf").write_bytes(pdf)
        text = subprocess.run(["pdftotext", str(tmp_path / "b.pdf"), "-"], capture_output=True, text=True,
                              check=True).stdout
        assert "<script>alert(1)</script>" in text and "=HYPERLINK(" in text


def test_twins_table_csv_of_a_hostile_asker(hostile_result):
    data = csv_bytes(twins_table(hostile_result))
    back = pd.read_csv(io.BytesIO(data), dtype=str, keep_default_na=False)
    assert not any(v.startswith(("=", "+", "@", "\t", "\r")) for col in back for v in back[col])


# ---------------------------------------------------------------------------- the app (fixture `app`: conftest)

def _page_text(at) -> str:
    parts = [e.value for e in at.error] + [m.value for m in at.markdown] + [e.value for e in at.exception]
    return "\n".join(str(p) for p in parts)


@pytest.mark.integration
@pytest.mark.parametrize("typed", ["<script>alert(1)</script>", "[x](javascript:alert(1))",
                                   "=HYPERLINK(\"http://evil.invalid\")", "../../../../etc/passwd", "a" * 5000])
def test_hostile_typed_city_is_an_escaped_message(app_at_url, typed):
    app = app_at_url(twins_city=typed)  # a town typed that is not in the list (AppTest only types it via the URL)
    assert not app.exception
    assert app.error, "an unknown city must give a message"
    message = app.error[0].value
    assert "Traceback" not in message and "/work/" not in message and "site-packages" not in message
    assert not re.search(r"(?<!\\)<script", message) and not re.search(r"(?<!\\)\]\(", message)
    assert "<script" not in _render_html(message)


@pytest.mark.integration
def test_hostile_theme_is_harmless(app):
    app.text_input(key="theme").input(" ".join(HOSTILE_NAMES)).run()
    assert not app.exception and not app.error
    assert len(next(d for d in app.dataframe if (d.key or "").startswith("twins_table")).value) == 10
    text = _page_text(app)
    assert "Traceback" not in text and "<script" not in _render_html(text)


@pytest.mark.integration
def test_hostile_own_city_name_is_escaped(app):
    app.radio(key="ask_mode").set_value("Describe my city").run()
    app.text_input[-1]  # the form exists
    name_box = next(t for t in app.text_input if t.label == "City name")
    name_box.input("[x](javascript:alert(1)) <script>alert(1)</script>")
    next(b for b in app.button if "Find twins" in b.label).click().run()
    assert not app.exception
    heading = app.subheader[0].value
    assert "\\<script\\>" in heading and "\\[x\\]" in heading
