"""Case-study library: loading, chunking, hybrid search, recommendations, inferred tags."""
from __future__ import annotations

import json

import pytest

from matcher.builds import open_case_library
from matcher.case_studies import CASE_FILE, CaseFilters, CaseLibrary, load_case_studies
from matcher.case_text import chunk_text
from matcher.settings import default_data_dir
from matcher.errors import ConfigError, ProfileValidationError

from .fakes import FakeEncoder


@pytest.fixture(scope="module")
def shipped_cases():
    return load_case_studies(default_data_dir() / CASE_FILE)


@pytest.fixture(scope="module")
def library(shipped_cases, fake_recommender):
    return CaseLibrary.from_table(shipped_cases, FakeEncoder(), twins=fake_recommender)


def test_key_sentence_ranks_its_case_first(library, shipped_cases):
    for case in shipped_cases.sample(15, random_state=1).to_dict("records"):
        sentence = chunk_text(case["summary"])[0].split(". ")[0]
        hits = library.search(sentence, k=3).matches
        assert hits[0].case_id == case["case_id"], sentence


def test_search_explanations_add_up_and_name_the_passage(library):
    hits = library.search("district heating from wastewater", k=5).matches
    for h in hits:
        assert abs(sum(c.contribution for c in h.explanation) - h.score) < 1e-9
        assert {c.name for c in h.explanation} == {"semantic", "keyword"}
        assert h.passage
    assert "wastewater" in hits[0].passage.lower()


def test_filters_hold(library):
    hits = library.search("citizen engagement", k=50, filters=CaseFilters(sectors=["stakeholder engagement"])).matches
    assert hits and all("stakeholder engagement" in set(h.sectors) | set(h.inferred_sectors) for h in hits)
    hits = library.search("funding", k=50, filters=CaseFilters(countries=["se"])).matches
    assert hits and all(h.country_code == "SE" for h in hits)
    barrier = "Lack of enabling policy at the National/ Federal level"
    hits = library.search("contract", k=50, filters=CaseFilters(barriers=[barrier])).matches
    assert hits and all(barrier in set(h.barriers) | set(h.inferred_barriers) for h in hits)
    hits = library.search("climate", k=50, filters=CaseFilters(size_band="metropolis")).matches
    pops = {h.city for h in hits}
    assert hits and not pops & {"Turku", "Umeå", "Leuven"}
    with pytest.raises(ConfigError, match="Unknown sector"):
        library.search("x", filters=CaseFilters(sectors=["space travel"]))


def test_keyword_side_keeps_exact_names(library):
    plain = library.search("Bankers without Boundaries", k=5, weights={"semantic": 1, "keyword": 0}).matches
    hybrid = library.search("Bankers without Boundaries", k=5).matches
    assert hybrid[0].case_id == "leuven-bankers-without-boundaries"
    kw = next(c for c in hybrid[0].explanation if c.name == "keyword")
    assert kw.similarity == pytest.approx(1.0) and "'bankers'" in kw.detail
    assert plain[0].explanation[1].contribution == 0


def test_recommend_for_city_adds_up_and_uses_survey_wording(library):
    result = library.recommend_for_city("Glasgow", k=8)
    asker, hits = result.asker, result.matches
    assert asker["name"] == "Glasgow" and len(hits) == 8
    for h in hits:
        assert abs(sum(c.contribution for c in h.explanation) - h.score) < 1e-9
        assert [c.name for c in h.explanation] == ["barriers", "sectors", "peer", "text"]
        assert h.city != "Glasgow"  # its own case studies are not news to it
    top = hits[0].explanation[0]
    assert top.detail.startswith("addresses ") and "of your barriers" in top.detail
    scores = [h.score for h in hits]
    assert scores == sorted(scores, reverse=True)


def test_inferred_tags_are_kept_apart(library, shipped_cases):
    report = library.tag_report["barriers"]
    assert report["untagged_cases"] == int((shipped_cases["barriers_addressed"].map(len) == 0).sum())
    assert 0 <= report["precision_cv"] <= 1 and 0 <= report["recall_cv"] <= 1
    cases = library.cases
    for src, inferred in zip(cases["barriers_addressed"], cases["inferred_barriers"]):
        assert not (src and inferred)  # only untagged cases get inferred tags
    assert len(cases["inferred_barriers"]) == len(cases["inferred_barriers_confidence"])


def test_reindex_after_one_edit_encodes_only_that_case(tmp_path, shipped_cases, fake_recommender):
    data = tmp_path / "data"
    (data / "case_studies").mkdir(parents=True)
    shipped_cases.head(30).to_parquet(data / CASE_FILE)
    counting = FakeEncoder()
    first = open_case_library(data, tmp_path / "idx", counting, fake_recommender, "missing", print)
    assert counting.encoded > 0
    edited = shipped_cases.head(30).copy()
    edited.loc[3, "summary"] = edited.loc[3, "summary"] + " It was extended to two more districts in 2024."
    edited.to_parquet(data / CASE_FILE)
    before = counting.encoded
    second = open_case_library(data, tmp_path / "idx", counting, fake_recommender, "stale", print)
    changed = second.passages[second.passages["case_row"] == 3]
    assert counting.encoded - before == len(changed)  # only the edited passages reach the model
    assert second.index.manifest["data_sha256"] != first.index.manifest["data_sha256"]


def test_chunking_respects_sentences_and_overlaps():
    text = " ".join(f"Sentence number {i} has exactly seven words." for i in range(40))
    passages = chunk_text(text, max_words=30, overlap_sentences=1)
    assert len(passages) > 5
    assert all(p.endswith(".") for p in passages)
    assert all(len(p.split()) <= 30 for p in passages)
    for a, b in zip(passages, passages[1:]):
        assert b.split(". ")[0] + "." == a.split(". ")[-1]  # the next passage repeats the last sentence


def test_markdown_folder_with_front_matter(tmp_path):
    (tmp_path / "heat.md").write_text(
        "---\ntitle: Heat pumps for social housing\ncity: Leuven\ncountry_code: BE\n"
        "sectors: [built environment, energy systems]\n---\nThe city replaced gas boilers. Tenants pay less.\n",
        encoding="utf-8")
    (tmp_path / "bonds.txt").write_text("---\ntitle: Green bonds\nsummary: Malmö issued green bonds.\n---\n",
                                        encoding="utf-8")
    cases = load_case_studies(tmp_path)
    assert list(cases["case_id"]) == ["bonds", "heat"]
    heat = cases[cases["case_id"] == "heat"].iloc[0]
    assert heat["sectors"] == ["built environment", "energy systems"]
    assert heat["summary"].startswith("The city replaced gas boilers")


@pytest.mark.parametrize("content, fragment", [
    ("no front matter here", "must start with a front matter"),
    ("---\ntitle: [unclosed\n---\nbody", "not valid YAML"),
    ("---\ntitle: A\nsummary: B\n", "not closed"),
    ("---\ntitle: A\nsummary: B\nsectors: [mobility and transprt]\n---\n", "did you mean 'mobility and transport'"),
])
def test_bad_markdown_files_name_the_problem(tmp_path, content, fragment):
    (tmp_path / "case.md").write_text(content, encoding="utf-8")
    with pytest.raises(ProfileValidationError) as err:
        load_case_studies(tmp_path)
    assert fragment in str(err.value)
    assert err.value.problems[0]["file"].endswith("case.md") and "case.md" in str(err.value)


def test_bad_jsonl_line_and_unknown_barrier(tmp_path):
    path = tmp_path / "cases.jsonl"
    good = {"title": "A", "summary": "B", "barriers_addressed": ["Very high investment costs"]}
    bad = {"title": "C", "summary": "D", "barriers_addressed": ["very high investmnt costs"]}
    path.write_text(json.dumps(good) + "\n" + json.dumps(bad) + "\n", encoding="utf-8")
    with pytest.raises(ProfileValidationError) as err:
        load_case_studies(path)
    p = err.value.problems[0]
    assert (p["row"], p["column"]) == (2, "barriers_addressed")
    assert "did you mean 'Very high investment costs'" in p["message"]
