"""End to end with the real bundled model on the shipped data: library, cache and CLI."""
from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd
import pytest

from matcher.cli import main
from matcher.features import CachedEncoder
from matcher.matcher import Matcher
from matcher.present.view import language_name

pytestmark = pytest.mark.integration


def test_milton_keynes_gets_explained_twins(real_recommender):
    result = real_recommender.recommend("Milton Keynes", k=10)
    assert len(result.matches) == 10
    assert "Milton Keynes" not in {m.name for m in result.matches}
    for m in result.matches:
        assert abs(sum(c.contribution for c in m.explanation) - m.score) < 1e-6
        assert m.reasons  # concrete wording, not only numbers
    narrative = [c for m in result.matches for c in m.explanation if c.name == "narrative"]
    assert any(c.similarity > 0.2 for c in narrative)  # real embeddings, not zeros


def test_theme_moves_the_ranking_towards_the_theme(real_recommender):
    plain = real_recommender.recommend("Milton Keynes", k=10, weights={"narrative": 5})
    themed = real_recommender.recommend("Milton Keynes", k=10, weights={"narrative": 5},
                                        theme="circular economy, waste sorting and recycling")
    assert [m.city_id for m in plain.matches] != [m.city_id for m in themed.matches]


def test_rebuild_reuses_the_embedding_cache(real_encoder, real_recommender, real_index_dir):
    cache_file = next((real_index_dir / "embedding_cache").glob("*.npz"))
    counting = CachedEncoder(real_encoder, cache_file)  # counts what reaches the model
    texts = [t for t in real_recommender.profiles["narrative"].dropna()][:50]
    counting.encode(texts)
    assert counting.encoded_count == 0  # every narrative was cached by the first build
    counting.encode(["a text the build never saw"])
    assert counting.encoded_count == 1


def test_same_index_is_reused_and_weights_need_no_rebuild(real_encoder, real_recommender, real_index_dir):
    again = Matcher.open(index_dir=real_index_dir, encoder=real_encoder, build="never").twins
    assert again.index.manifest["created_at"] == real_recommender.index.manifest["created_at"]
    a = again.recommend("Lyon", k=5, weights={"geography": 3})
    b = real_recommender.recommend("Lyon", k=5, weights={"geography": 3})
    assert [m.city_id for m in a.matches] == [m.city_id for m in b.matches]


@pytest.mark.parametrize("args, expect", [
    (["Milton Keynes"], "Milton Keynes"),
    (["Fundao", "--country", "PT"], "Fundão"),
    (["Cologne"], "Köln"),
])
def test_cli_twins_json(capsys, real_recommender, real_index_dir, args, expect):
    code = main(["twins", *args, "--k", "5", "--format", "json", "--index-dir", str(real_index_dir)])
    out = capsys.readouterr()
    assert code == 0, out.err
    items = json.loads(out.out)
    assert len(items) == 5
    for item in items:
        assert {"name", "country_code", "score", "explanation"} <= set(item)
        assert abs(sum(e["contribution"] for e in item["explanation"]) - item["score"]) < 1e-6
        assert all({"name", "label", "contribution", "detail"} <= set(e) for e in item["explanation"])
    table = main(["twins", *args, "--k", "3", "--index-dir", str(real_index_dir)])
    assert table == 0 and expect in capsys.readouterr().out


def test_cli_unknown_city_exits_2_with_suggestions(capsys, real_recommender, real_index_dir):
    code = main(["twins", "Miltn Keynes", "--index-dir", str(real_index_dir)])
    err = capsys.readouterr().err
    assert code == 2
    assert "Unknown city 'Miltn Keynes'" in err and "Milton Keynes" in err


def test_cli_twins_name_languages_in_their_reasons(capsys, real_recommender, real_index_dir):
    """The CLI words the reasons as the app does in English: 'common language: English', 'no common
    language (German vs English)', never the bare codes of the languages these cities speak."""
    assert main(["twins", "Milton Keynes", "--index-dir", str(real_index_dir)]) == 0
    lines = capsys.readouterr().out.splitlines()
    ids = re.findall(r"\[(\S+)\]$", "\n".join(lines), flags=re.M) + list(
        real_recommender.profiles.loc[real_recommender.profiles["name"] == "Milton Keynes", "city_id"])
    assert len(ids) == 11
    langs = real_recommender.profiles.set_index("city_id").loc[ids, "languages"]
    codes = {code for spoken in langs for code in spoken}
    assert {"en", "de"} <= codes  # English and German cities among the twins: codes the reasons could print
    reasons = [line for line in lines if line.startswith("      ")]
    worded = [line for line in reasons if "language" in line]
    assert len(worded) >= 10  # each twin's languages term
    assert [line for line in reasons if set(re.findall(r"\b[a-z]{2,3}\b", line)) & codes] == []
    assert any(f"common language: {language_name('en')}" in line for line in worded)
    assert any(f"({language_name('de')} vs {language_name('en')})" in line for line in worded)


def test_cli_csv_is_spreadsheet_safe(capsys, real_recommender, real_index_dir):
    assert main(["twins", "Lyon", "--k", "3", "--format", "csv", "--index-dir", str(real_index_dir)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("rank,city,country,score,size")
    assert len(lines) == 4


# ---------------------------------------------------------------- case studies, real models
@pytest.fixture(scope="module")
def real_library(real_matcher):
    return real_matcher.cases


def test_case_key_sentence_ranks_first_with_the_real_model(real_library):
    cases = real_library.cases.sample(10, random_state=3)
    for case in cases.to_dict("records"):
        sentence = case["summary"].split(". ")[0]
        assert real_library.search(sentence, k=1).matches[0].case_id == case["case_id"], sentence


def test_exact_name_is_found_when_meaning_alone_misses_it(real_library):
    semantic = [h.case_id for h in real_library.search("Pacte Climat", k=20, weights={"semantic": 1, "keyword": 0}).matches]
    hybrid = real_library.search("Pacte Climat", k=3).matches
    assert semantic.index("wiltz-pacte-climat") > 0
    assert hybrid[0].case_id == "wiltz-pacte-climat"


def test_german_query_finds_the_english_case_with_the_multilingual_model(real_matcher):
    from matcher.evaluate import cross_lingual_top_k

    queries = pd.read_json(Path(__file__).parent / "data" / "crosslingual_queries.jsonl", lines=True)
    multilingual = real_matcher.case_library("use-multilingual-v3")
    german = queries[queries["lang"] == "de"].iloc[0]
    hits = multilingual.search(german["text"], k=3, weights={"semantic": 1, "keyword": 0}).matches
    assert german["case_id"] in [h.case_id for h in hits]
    rates = cross_lingual_top_k(multilingual, queries, k=3, weights={"semantic": 1, "keyword": 0})
    assert rates["all"] >= 0.75


def test_cli_cases_search_and_for_city(capsys, real_recommender, real_index_dir):
    assert main(["cases", "search", "green bonds", "--k", "3", "--format", "json",
                 "--index-dir", str(real_index_dir)]) == 0
    hits = json.loads(capsys.readouterr().out)
    assert hits[0]["title"].startswith("Malmö") and len(hits) == 3
    assert all(abs(sum(e["contribution"] for e in h["explanation"]) - h["score"]) < 1e-9 for h in hits)
    assert main(["cases", "for-city", "Glasgow", "--k", "2", "--index-dir", str(real_index_dir)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("Case studies for Glasgow (GB)") and "of your barriers" in out


def test_cli_cases_import(tmp_path, capsys):
    folder = tmp_path / "library"
    folder.mkdir()
    (folder / "a.md").write_text("---\ntitle: Solar schools\ncity: Leuven\nsectors: [energy systems]\n---\n"
                                 "Panels on 20 schools.\n", encoding="utf-8")
    assert main(["cases", "import", str(folder), "--data-dir", str(tmp_path / "data")]) == 0
    assert "Imported 1 case studies" in capsys.readouterr().out
    assert (tmp_path / "data" / "case_studies" / "case_studies.parquet").is_file()
    (folder / "b.md").write_text("---\ntitle: Broken\nsectors: [spaceflight]\n---\nText.\n", encoding="utf-8")
    before = (tmp_path / "data" / "case_studies" / "case_studies.parquet").read_bytes()
    assert main(["cases", "import", str(folder), "--data-dir", str(tmp_path / "data")]) == 2
    assert "b.md" in capsys.readouterr().err
    assert (tmp_path / "data" / "case_studies" / "case_studies.parquet").read_bytes() == before  # nothing lost


def test_build_if_needed_builds_what_is_missing_then_only_checks(real_matcher, real_index_dir, capsys):
    """What scripts/run.sh runs before the server: the twin index already built is kept (CURRENT
    unchanged), the missing case-study index is built, and a second call builds nothing."""
    current = (real_index_dir / "CURRENT").read_text()
    assert main(["build", "--if-needed", "--index-dir", str(real_index_dir)]) == 0
    first = capsys.readouterr()
    assert first.out.startswith("Indexes ready: the twin index (")
    assert (real_index_dir / "CURRENT").read_text() == current
    assert "Building the twin index" not in first.err
    case_root = real_index_dir.parent / "case_index"
    assert any(case_root.glob("*/CURRENT"))
    assert main(["build", "--if-needed", "--index-dir", str(real_index_dir)]) == 0
    second = capsys.readouterr()
    assert "Building" not in second.err and (real_index_dir / "CURRENT").read_text() == current
