"""The interface in the users' languages (issue 16): gettext catalogues for German, French,
Spanish and Italian that hold every string of the code, translated with the same placeholders;
the survey vocabulary translated with the English one hover away; the language chosen in the app
and kept in the URL; an unknown language falls back to English."""
from __future__ import annotations

import fnmatch
import importlib.util
import re
import tomllib
from pathlib import Path

import pytest
from babel.messages.pofile import read_po

from matcher.present import brief_markdown, brief_pdf, twinning_brief
from matcher.present.i18n import (DOMAINS, LANGUAGES, SOURCE_LANGUAGE, URL_KEY, catalogue_path, language,
                                  session_translator, translator)
from matcher.present.view import profile_view
from matcher.vocab import MATURITY_LEVELS, vocabularies

REPO = Path(__file__).resolve().parent.parent
TRANSLATED = [lang for lang in LANGUAGES if lang != SOURCE_LANGUAGE]
PLACEHOLDER = re.compile(r"\{(\w*)\}")


def _catalogue(lang: str, domain: str):
    with catalogue_path(lang, domain).open("rb") as fh:
        return read_po(fh, locale=lang)


def _script():
    spec = importlib.util.spec_from_file_location("i18n_script", REPO / "scripts" / "i18n.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("domain", DOMAINS)
@pytest.mark.parametrize("lang", TRANSLATED)
def test_every_string_is_translated_with_the_same_placeholders(lang, domain):
    catalog = _catalogue(lang, domain)
    entries = [m for m in catalog if m.id]
    assert len(entries) > (250 if domain == "matcher" else 100)
    untranslated = [m.id for m in entries if not (m.string or "").strip() or m.fuzzy]
    assert untranslated == []
    broken = [(m.id, m.string) for m in entries
              if sorted(PLACEHOLDER.findall(m.id)) != sorted(PLACEHOLDER.findall(m.string))]
    assert broken == []
    # a translation, not a copy: most strings read differently from the English
    same = [m.id for m in entries if m.string == m.id]
    assert len(same) < 0.1 * len(entries), same


def test_the_catalogues_hold_every_string_of_the_code():
    """A string wrapped in _()/t()/N_() in the app or matcher/present, a facet label or help, or a
    survey term that no catalogue holds fails here (run scripts/i18n.py, then translate it)."""
    assert _script().missing() == {}


def test_the_catalogues_ship_with_the_package():
    config = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    patterns = config["tool"]["setuptools"]["package-data"]["matcher"]
    files = [p.relative_to(REPO / "matcher").as_posix() for p in (REPO / "matcher" / "locale").rglob("*.po")]
    assert len(files) == len(TRANSLATED) * len(DOMAINS)
    assert all(any(fnmatch.fnmatch(f, pat) for pat in patterns) for f in files)


def test_unknown_languages_fall_back_to_english():
    assert language("de-AT") == "de" and language("FR") == "fr" and language("it_IT") == "it"
    assert language("xx") == language(None) == language("<script>") == "en"
    assert translator("xx")("Find twin cities") == "Find twin cities"
    assert translator("de")("Find twin cities") == "Partnerstädte finden"


def test_each_session_has_its_own_language():
    german, french, nobody = (session_translator({URL_KEY: "de"}), session_translator({URL_KEY: "fr"}),
                              session_translator({}))
    assert (german("Data"), french("Data"), nobody("Data")) == ("Daten", "Données", "Data")
    assert german("Twins for {name} ({country})", name="Gent", country=german.country("BE")) == \
        "Partnerstädte für Gent (Belgien)"


def test_survey_terms_translate_and_the_english_is_in_the_glossary():
    t = translator("es")
    terms = list(vocabularies()["barriers"][:17]) + list(MATURITY_LEVELS)
    shown = t.survey_list(terms)
    assert all(s and s != e for s, e in zip(shown, terms))
    assert t.survey("Lack of political leadership") == "Falta de liderazgo político"
    glossary = t.glossary(["Lack of political leadership"])
    assert "Falta de liderazgo político" in glossary and "*Lack of political leadership*" in glossary
    assert translator("en").glossary(terms) is None  # English: the shown words are the survey's own
    assert t.survey("not a survey term") == "not a survey term"


def test_the_profile_table_reads_in_the_language(fake_recommender):
    row = fake_recommender.profiles.iloc[0].to_dict() | {"barriers": ["Lack of political leadership"],
                                                          "maturity": "advanced", "funding_gaps": []}
    view = profile_view(row, "it")
    values = dict(zip(view[""], view["valore"]))
    assert values["Principali ostacoli e lacune"] == "Mancanza di leadership politica"
    assert values["Maturità dell'azione per il clima"] == "avanzata"
    assert values["Carenze di finanziamento"] == "sconosciuto: aggiunga le Sue carenze di finanziamento"


def test_the_brief_in_french(fake_recommender):
    profile = {"name": "Lyon-Test", "country_code": "FR", "population": 500000, "lat": 45.76, "lon": 4.84,
               "languages": ["fr"], "barriers": ["Lack of know-how and skills"], "maturity": "developing"}
    brief = twinning_brief(fake_recommender.recommend(profile=profile, k=3), None, fake_recommender.profiles)
    md = brief_markdown(brief, "fr")
    assert md.startswith("# Dossier de jumelage : Lyon-Test (FR)")
    for heading in ("## À propos de Lyon-Test", "## Villes jumelles proposées", "## Sources et licences"):
        assert heading in md
    assert "- Obstacles : Manque de savoir-faire et de compétences" in md
    assert "| critère | poids | similarité | contribution | détail |" in md
    english = brief_markdown(brief)
    assert "## Proposed twins" in english and "Villes jumelles" not in english
    pdf = brief_pdf(brief, "fr")
    assert pdf.startswith(b"%PDF") and len(pdf) > 1000


# ---------------------------------------------------------------------------- the app (AppTest)
@pytest.mark.integration
def test_the_app_opens_in_german_from_the_url_and_keeps_it(app_at_url):
    at = app_at_url(lang="de")
    assert not at.exception
    assert at.title[0].value == "Partnerstädte finden"
    assert at.sidebar.selectbox(key=URL_KEY).value == "de"
    assert at.query_params[URL_KEY] in ("de", ["de"])  # still in the URL after the run
    assert at.sidebar.multiselect(key="f_countries").label == "Länder"
    assert at.sidebar.slider(key="w_barriers").label == "Hindernisse"
    assert "Fallstudien" in at.sidebar.radio(key="page").options  # shown translated ...
    assert at.sidebar.radio(key="page").value == "Find twins"  # ... the stored value stays the same
    assert any(h.value.startswith("Partnerstädte für Milton Keynes (Vereinigtes Königreich)") for h in at.subheader)
    table = next(d for d in at.dataframe if (d.key or "").startswith("twins_table")).value
    assert list(table.columns[:4]) == ["Stadt", "Land", "Wert", "warum"]


@pytest.mark.integration
def test_the_chooser_switches_the_language_and_the_survey_terms(app):
    app.sidebar.selectbox(key=URL_KEY).set_value("fr").run()
    assert not app.exception and app.title[0].value == "Trouver des villes jumelles"
    assert app.query_params[URL_KEY] in ("fr", ["fr"])
    app.radio(key="ask_mode").set_value("Décrire ma ville").run()  # AppTest picks an option by its shown label
    assert app.radio(key="ask_mode").value == "Describe my city"
    barriers = app.multiselect(key="own_barriers")
    assert barriers.label == "Quels sont les principaux obstacles et lacunes auxquels votre ville est confrontée ?"
    assert "Manque de leadership politique" in barriers.options
    assert "*Lack of political leadership*" in barriers.help  # the survey's English, one hover away
    barriers.set_value(["Manque de leadership politique"])
    next(b for b in app.button if b.label == "Trouver des villes jumelles pour ma ville").click().run()
    assert not app.exception and any(h.value.startswith("Villes jumelles de Ma ville") for h in app.subheader)
    assert app.multiselect(key="own_barriers").value == ["Lack of political leadership"]  # stored in English


@pytest.mark.integration
def test_an_unknown_language_in_the_url_is_english(app_at_url):
    at = app_at_url(lang="klingon")
    assert not at.exception and at.title[0].value == "Find twin cities"
    assert URL_KEY not in at.query_params
