"""The reasons behind each match in the users' languages (issue 16): the library words a reason
as a `matcher.wording.Reason` (the English text, unchanged for the CLI and the JSON, plus its
template and values); the app renders it in German, French, Spanish or Italian from the
`reasons` catalogue, with survey terms from the `survey` catalogue and the same numbers written
as the language writes them."""
from __future__ import annotations

import copy
import importlib.util
import json
import pickle
import re
from pathlib import Path

import pytest
from babel.messages.pofile import read_po

from matcher.present import brief_markdown, twinning_brief
from matcher.present.i18n import LANGUAGES, SOURCE_LANGUAGE, catalogue_path, translator
from matcher.present.view import plain, twins_view
from matcher.vocab import vocabularies
from matcher.wording import Num, Reason, Technical, Terms

REPO = Path(__file__).resolve().parent.parent
TRANSLATED = [lang for lang in LANGUAGES if lang != SOURCE_LANGUAGE]
PLACEHOLDER = re.compile(r"\{(\w*)\}")
MODES = ({}, {"mentor": True}, {"two_way": True}, {"theme": "energy refurbishment of private housing"})


def _catalogue(lang: str) -> dict[str, str]:
    with catalogue_path(lang, "reasons").open("rb") as fh:
        return {m.id: m.string for m in read_po(fh, locale=lang) if m.id and not m.fuzzy}


def _templates(value) -> set[str]:
    """Every template inside a reason (nested reasons, lists of reasons, technical figures)."""
    if isinstance(value, Reason):
        return {value.template}.union(*(_templates(v) for v in value.args.values()))
    if isinstance(value, Terms):
        return set().union(*(_templates(i) for i in value.items)) if value.kind == "reason" else set()
    if isinstance(value, Technical):
        return _templates(value.reason)
    return set()


def _texts(match) -> list:
    """Everything a twin match says in words."""
    return [t.detail for t in match.explanation if t.detail] + list(match.reasons) + list(match.not_compared) \
        + [match.evidence]


@pytest.fixture(scope="module")
def results(fake_recommender):
    """Twins, mentors, two-way twins and themed twins of every 9th curated city: real profiles."""
    ids = list(fake_recommender.profiles["city_id"])[::9][:30]
    vocab = vocabularies()
    described = {"name": "Testville", "country_code": "FR", "population": 100000, "lat": 45.0, "lon": 4.0,
                 "languages": ["fr"], "barriers": list(vocab["barriers"][:6]), "maturity": "starting",
                 "priority_sectors": list(vocab["priority_sectors"]), "co_benefits": list(vocab["co_benefits"][:4]),
                 "net_zero_target_year": 2050, "narrative": "We renovate schools and extend district heating."}
    return [fake_recommender.recommend(cid, k=8, **mode) for cid in ids for mode in MODES] + \
        [fake_recommender.recommend(profile=described, k=30, **mode) for mode in MODES]


def _all_texts(results) -> list:
    return [x for r in results for m in r.matches for x in _texts(m)]


def test_the_english_rendering_is_the_librarys_text_exactly(results):
    """The CLI, the CSV and the JSON keep reading the English text: rendering a reason in English
    gives it back character for character, and the plain wording is what the app showed before."""
    texts = _all_texts(results)
    assert len(texts) > 2000
    assert all(isinstance(x, Reason) for x in texts)
    en = translator("en")
    assert [en.reason(x) for x in texts] == [str(x) for x in texts]
    assert [plain(x) for x in texts] == [plain(str(x)) for x in texts]
    kinds = {x.template for x in texts} | set().union(*(_templates(x) for x in texts))
    assert len(kinds) > 60  # the walk covers most of the wording (facets, notes, evidence, mentor, two-way)


def test_every_template_the_library_uses_is_in_every_catalogue_with_its_placeholders(results):
    used = set().union(*(_templates(x) for x in _all_texts(results)))
    used = {t for t in used if re.sub(r"\{\w*\}", "", t).strip(" ;,()")}  # "{parts}" reads the same everywhere
    for lang in TRANSLATED:
        catalogue = _catalogue(lang)
        assert sorted(used - set(catalogue)) == [], lang
        for template, translated in catalogue.items():
            assert translated.strip(), (lang, template)
            assert sorted(PLACEHOLDER.findall(template)) == sorted(PLACEHOLDER.findall(translated)), (lang, template)


def test_the_script_extracts_every_reason_template():
    spec = importlib.util.spec_from_file_location("i18n_script", REPO / "scripts" / "i18n.py")
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    ids = {m.id for m in script.template("reasons") if m.id}
    assert {"population {peer} vs {asker} (a factor of {factor})", "ahead of you: {notes}", "unknown for {who}: {what}",
            "{name} can teach you: {theirs} | you can teach {name}: {yours}", "residential buildings",
            "compared on {n} of {total} facets"} <= ids
    assert "{parts}" not in ids and "{year} ({basis})" not in ids


def _digits(text: str) -> list[str]:
    return sorted(re.findall(r"\d+", text))


def _city_with_shared_barriers(fake_recommender):
    """A curated city whose best twin shares a barrier with it (found, not hard-coded), and the
    wording of those shared barriers."""
    for cid in fake_recommender.profiles["city_id"]:
        result = fake_recommender.recommend(cid, k=5)
        detail = next((t.detail for t in result.matches[0].explanation if t.name == "barriers"), "")
        parts = detail.args["parts"].items if isinstance(detail, Reason) and "parts" in detail.args else [detail]
        shared = [p for p in parts if str(p).startswith("shared barriers: ")]
        if shared:
            return result, result.matches[0], shared[0]
    pytest.skip("no curated city shares a barrier with its best twin")


def test_a_german_explanation_with_survey_terms_in_german_and_the_same_numbers(fake_recommender):
    result, match, barriers = _city_with_shared_barriers(fake_recommender)
    de = translator("de")
    german = de.reason(barriers)
    assert german.startswith("gemeinsame Hindernisse: ")
    terms = barriers.args["labels"].items
    assert german == "gemeinsame Hindernisse: " + "; ".join(de.survey(x) for x in terms)
    assert any(de.survey(x) != x for x in terms)  # the survey's German wording, not its English
    for text in _texts(match):
        shown = de.reason(text)
        assert shown and _digits(shown) == _digits(str(text)), (str(text), shown)
    size = next(t.detail for t in match.explanation if t.name == "size" and t.detail)
    assert de.reason(size).startswith("Einwohnerzahl ") and "(Faktor " in de.reason(size)
    population = int(result.asker["population"])
    if population >= 1000:
        assert f"{population:,}".replace(",", ".") in de.reason(size)  # 204.846, not 204,846
    view = twins_view(result, "de")
    assert view["warum"].iloc[0] == "; ".join(plain(r, "de") for r in match.reasons[:3])
    assert view["Grundlage"].iloc[0] == de.reason(match.evidence)
    assert all("population" not in w and " km apart" not in w and "shared" not in w for w in view["warum"])


@pytest.mark.parametrize("lang", TRANSLATED)
def test_every_language_renders_every_reason_without_english_templates(results, lang):
    """No English template leaks into another language (the words the template puts in, such as
    city names or case-study titles, stay as they are)."""
    t = translator(lang)
    catalogue = _catalogue(lang)
    for text in _all_texts(results)[::7]:
        shown = t.reason(text, plain=True)
        if text.template in catalogue and catalogue[text.template] != text.template:
            assert shown != plain(text), (lang, str(text))
        assert "cosine" not in shown and "{" not in shown


def test_numbers_are_written_as_each_language_writes_them():
    size = Reason("population {peer} vs {asker} (a factor of {factor})", peer=Num(265208, ","), asker=Num(256385, ","),
                  factor=Num(1.03, ".1f"))
    assert str(size) == "population 265,208 vs 256,385 (a factor of 1.0)"
    assert translator("de").reason(size) == "Einwohnerzahl 265.208 gegenüber 256.385 (Faktor 1,0)"
    assert translator("fr").reason(size) == "population 265\u202f208 contre 256\u202f385 (facteur 1,0)"
    assert translator("it").reason(Reason("{km} km apart", km=Num(1495.4, ",.0f"))) == "a 1.495 km di distanza"
    share = Reason("most emissions in {peer_sector} ({peer}) vs {asker_sector} ({asker})", peer_sector=Reason("transport"),
                   peer=Num(0.3, ".0%"), asker_sector=Reason("residential buildings"), asker=Num(0.414, ".0%"))
    assert str(share) == "most emissions in transport (30%) vs residential buildings (41%)"
    assert translator("es").reason(share) == \
        "la mayor parte de las emisiones en: transporte (30\xa0%) frente a edificios residenciales (41\xa0%)"


def test_a_reason_keeps_its_structure_through_copies_and_stays_a_string_in_json(results):
    match = next(m for r in results if r.mentor for m in r.matches if m.reasons)
    for copied in (copy.deepcopy(match), pickle.loads(pickle.dumps(match))):
        assert [translator("de").reason(r) for r in copied.reasons] == [translator("de").reason(r) for r in match.reasons]
    record = json.loads(json.dumps(match.to_dict()))
    assert record["reasons"] == [str(r) for r in match.reasons]
    assert record["explanation"][0]["detail"] == str(match.explanation[0].detail)
    assert translator("de").reason("plain text read back") == "plain text read back"


def test_the_brief_gives_the_reasons_in_its_language(fake_recommender):
    result, match, barriers = _city_with_shared_barriers(fake_recommender)
    brief = twinning_brief(result, None, fake_recommender.profiles)
    german, english = brief_markdown(brief, "de"), brief_markdown(brief)
    assert translator("de").reason(result.matches[0].evidence) in german
    assert "gemeinsame Hindernisse: " in german and "shared barriers: " in english
    assert "shared barriers: " not in german and str(result.matches[0].evidence) in english


# ---------------------------------------------------------------------------- case studies
@pytest.fixture(scope="module")
def case_results(fake_recommender):
    from matcher.case_studies import CASE_FILE, CaseLibrary, load_case_studies
    from matcher.settings import default_data_dir

    from .fakes import FakeEncoder

    library = CaseLibrary.from_table(load_case_studies(default_data_dir() / CASE_FILE), FakeEncoder(),
                                     twins=fake_recommender)
    ids = list(fake_recommender.profiles["city_id"])[::11][:20]
    profile = {"name": "Testville", "country_code": "FR", "population": 100000, "lat": 45.0, "lon": 4.0,
               "languages": ["fr"], "barriers": ["Lack of political leadership", "Lack of know-how and skills"],
               "priority_sectors": ["Energy systems", "Built environment"], "narrative": "We renovate schools."}
    return ([library.recommend_for_city(cid, k=10) for cid in ids] + [library.recommend_for_city(profile=profile, k=10)]
            + [library.search(q, k=10) for q in ("energy refurbishment of private housing", "bike lanes")])


def test_case_study_reasons_read_the_same_in_english_and_translate(case_results):
    details = [t.detail for r in case_results for h in r.matches for t in h.explanation]
    reasons = [x for r in case_results for h in r.matches for x in h.reasons]
    assert len(details) > 500 and reasons and all(isinstance(x, Reason) for x in details + reasons)
    en, de = translator("en"), translator("de")
    assert [en.reason(x) for x in details] == [str(x) for x in details]
    assert [plain(x) for x in reasons] == [plain(str(x)) for x in reasons]
    catalogue = _catalogue("de")
    used = set().union(*(_templates(x) for x in details))
    assert sorted(t for t in used - set(catalogue) if re.sub(r"\{\w*\}", "", t).strip(" ;,()'")) == []
    own = next(h for h in case_results[-3].matches if str(h.explanation[0].detail).startswith("addresses"))
    barriers = de.reason(own.explanation[0].detail)
    assert barriers.startswith("behandelt ") and "Ihrer Hindernisse: " in barriers
    assert "Lack of" not in barriers and ("Mangelnde politische Führung" in barriers or "Know-how" in barriers)
    for text in details[::5]:
        assert _digits(de.reason(text)) == _digits(str(text)), str(text)


# ---------------------------------------------------------------------------- the app (AppTest)
@pytest.mark.integration
def test_the_app_shows_the_reasons_in_german(app_at_url):
    at = app_at_url(lang="de")
    assert not at.exception
    table = next(d for d in at.dataframe if (d.key or "").startswith("twins_table")).value
    why, evidence = table["warum"].tolist(), table["Grundlage"].tolist()
    assert why and all(w and "apart" not in w and "population" not in w for w in why)
    assert any("km entfernt" in w or "Einwohnerzahl" in w or "gemeinsame" in w for w in why)
    assert all(e.startswith(("verglichen in", "begrenzt:", "schwach:")) for e in evidence)
    bullets = [m.value for m in at.markdown if m.value.startswith("- ")]
    assert any("km entfernt" in b or "Einwohnerzahl" in b for b in bullets)
    assert not any(" km apart" in b or b.startswith("- population ") for b in bullets)
    assert all("not compared" not in c.value and "unknown for" not in c.value for c in at.caption)
    assert any(c.value.startswith("nicht verglichen, unbekannt für ") for c in at.caption)
