"""Broken rules, their smallest fixes, the rules in force and the cohort and reviewer explanations
in the users' languages (issues 14 and 16): the library words each as a `matcher.wording.Reason`
(the English text, unchanged for the CLI and the JSON, plus its template and values); the app
renders it from the `reasons` catalogue with the city names and numbers intact."""
from __future__ import annotations

import re

import numpy as np
import pytest

from matcher.cohorts import CohortRules, InfeasibleRulesError, plan_cohorts
from matcher.mentor import is_mentor
from matcher.present.i18n import translator
from matcher.present.view import cohort_view, plain, reviews_view, rule_lines, rules_text
from matcher.reviewers import ReviewRules, assign_reviewers
from matcher.wording import Reason

from .test_cohorts import profiled_rows
from .test_reasons_i18n import PLACEHOLDER, TRANSLATED, _catalogue, _templates

TEN = ["Barcelona", "Rotterdam", "Thessaloniki", "Zagreb", "Lyon", "Milan", "Madrid", "Paris", "Vienna", "Graz"]
# English words of the templates that must not show in another language (names and numbers may)
ENGLISH = re.compile(r"\b(cities|cohorts? of|smallest fix|per country|at least|at most|mentors? for|kept|"
                     r"reviewers?|needs?|theme|shared|mean twin score|balanced)\b")


def _big_country_call(rec):
    """A call that breaks three rules at once: 12 cities of the largest country, 12 others, at most
    2 per country, 3 mentors per cohort, five cities kept apart."""
    prof, rows = rec.profiles, profiled_rows(rec)
    by_country: dict[str, list[int]] = {}
    for r in rows:
        by_country.setdefault(prof["country_code"].iat[r], []).append(r)
    big = max(by_country, key=lambda c: len(by_country[c]))
    cities = by_country[big][:12] + [r for r in rows if prof["country_code"].iat[r] != big][:12]
    return cities, CohortRules(min_size=6, max_size=8, max_per_country=2, min_mentors=3, apart=[cities[:5]])


@pytest.fixture(scope="module")
def broken(fake_recommender):
    """Infeasible cohort and reviewer calls: every kind of broken rule the pre-checks word."""
    rec = fake_recommender
    rows = profiled_rows(rec)
    prof = rec.profiles
    mentors = [r for r in rows if is_mentor(prof.iloc[r].to_dict())[0]]
    others = [r for r in rows if not is_mentor(prof.iloc[r].to_dict())[0]]
    french = [r for r in rows if prof["country_code"].iat[r] == "FR"][:7]
    german = [r for r in rows if prof["country_code"].iat[r] == "DE"][:7]
    cohort_calls = [(rows[:27], CohortRules(min_size=7, max_size=8)), (rows[:5], CohortRules(min_size=7, max_size=8)),
                    (rows[:20], CohortRules(min_size=7, max_size=8, n_cohorts=4)),
                    (rows[:40], CohortRules(min_size=7, max_size=8, n_cohorts=3)),
                    (mentors[:2] + others[:16], CohortRules(min_size=6, max_size=6, min_mentors=1)),
                    _big_country_call(rec),
                    (rows[:30], CohortRules(min_size=5, max_size=6, together=[rows[:8]])),
                    (rows[:40], CohortRules(min_size=6, max_size=10, common_language=True, together=[rows[:6]])),
                    (rows[:20], CohortRules(min_size=5, max_size=10, together=[[rows[0], rows[1]]],
                                            apart=[[rows[0], rows[1]]])),
                    (rows[:40], CohortRules(min_size=8, max_size=10, themes=["finance + buildings", "mobility", "energy",
                                                                             "circular economy", "governance"])),
                    (french + german, CohortRules(min_size=4, max_size=5, common_language=True))]
    review_calls = [(TEN, None, ReviewRules(per_plan=3, max_load=2)),
                    (["Madrid", "Valencia", "Seville", "Lyon", "Vienna"], None,
                     ReviewRules(per_plan=3, no_same_country=True, common_language=True)),
                    (TEN, None, ReviewRules(common_language=True, locks=[("Lyon", "Vienna"), ("Lyon", "Lyon")])),
                    (TEN, None, ReviewRules(min_load=4, max_load=5)),
                    (["Madrid", "Valencia", "Seville"], ["Lyon", "Paris", "Barcelona", "Bilbao"],
                     ReviewRules(per_plan=2, max_load=2, no_same_country=True)),
                    (["Thessaloniki", "Zagreb", "Lyon", "Milan"], None, ReviewRules(per_plan=2, more_mature=True))]
    out = []
    for cities, rules in cohort_calls:
        with pytest.raises(InfeasibleRulesError) as e:
            plan_cohorts(rec, cities, rules, time_limit=3)
        out.append(e.value)
    for plans, reviewers, rules in review_calls:
        with pytest.raises(InfeasibleRulesError) as e:
            assign_reviewers(rec, plans, reviewers, rules=rules)
        out.append(e.value)
    return out


@pytest.fixture(scope="module")
def plans(fake_recommender):
    rows = profiled_rows(fake_recommender)
    return [plan_cohorts(fake_recommender, rows[:40], CohortRules(
                min_size=5, max_size=10, themes=["finance + buildings", "governance + mobility"], theme_slack=0.2,
                balance=["size", "country"], balance_tolerance=1), time_limit=3),
            plan_cohorts(fake_recommender, rows[40:80], CohortRules(min_size=6, max_size=10, balance=["stage", "mentor"],
                                                                    balance_tolerance=1), time_limit=3)]


@pytest.fixture(scope="module")
def reviews(fake_recommender):
    return assign_reviewers(fake_recommender, TEN, rules=ReviewRules(per_plan=2, more_mature=True, mentor=True))


def _wording(broken, plans, reviews) -> list:
    """Everything the calls say in words."""
    texts = [x for e in broken for x in list(e.reasons) + [f for f in e.fixes if f] + list(e.rules)]
    for plan in plans:
        texts += list(plan.rules) + [w for c in plan.cohorts for w in c.why]
        texts += [m[k] for c in plan.cohorts for m in c.members for k in ("mentor_why", "theme_why") if m.get(k)]
    texts += list(reviews.rules) + list(reviews.notes) + [r for v in reviews.reviews for r in v.reasons]
    return texts


def test_the_wording_is_the_librarys_english_and_every_template_is_translated(broken, plans, reviews):
    texts = _wording(broken, plans, reviews)
    assert len(texts) > 150 and all(isinstance(x, Reason) for x in texts)
    en = translator("en")
    assert [en.reason(x) for x in texts] == [str(x) for x in texts]  # the CLI and JSON text, character for character
    used = set().union(*(_templates(x) for x in texts))
    used = {t for t in used if re.sub(r"\{\w*\}", "", t).strip(" ;,()")}
    assert len(used) > 80
    for lang in TRANSLATED:
        catalogue = _catalogue(lang)
        assert sorted(used - set(catalogue)) == [], lang
        for template in used:
            assert sorted(PLACEHOLDER.findall(template)) == sorted(PLACEHOLDER.findall(catalogue[template])), template


def _digits(text: str) -> list[str]:
    return sorted(re.findall(r"\d+", text))


def test_an_infeasible_cohort_call_in_german_lists_every_broken_rule_with_its_fix(fake_recommender):
    cities, rules = _big_country_call(fake_recommender)
    with pytest.raises(InfeasibleRulesError) as e:
        plan_cohorts(fake_recommender, cities, rules)
    exc = e.value
    lines = rule_lines(exc, "de")
    assert len(lines) == len(exc.reasons) >= 3 and all(fix for _, fix in lines)
    for (why, fix), english, own_fix in zip(lines, exc.broken, exc.fixes):
        assert not ENGLISH.search(why) and not ENGLISH.search(fix), (why, fix)
        assert _digits(why) == _digits(plain(english)) and _digits(fix) == _digits(str(own_fix))
    country = next(w for (w, _), r in zip(lines, exc.reasons) if r.startswith("at most 2 per country"))
    assert country.startswith("höchstens 2 je Land: Vereinigtes Königreich hat 12 Städte")
    assert any(f.startswith("3 je Land zulassen") or f.startswith("4 je Land zulassen") for _, f in lines)
    apart = next(w for w, _ in lines if "getrennt bleiben" in w)
    assert all(name in apart for name in re.findall(r"[A-Z][a-z]+ \(GB\)", str(exc.broken[-1])))  # names intact
    assert rules_text(exc.rules, "de").startswith("Kohorten von 6–8 Städten, 4 Kohorten; mindestens 3 Mentorst")


@pytest.mark.parametrize("lang", TRANSLATED)
def test_every_broken_rule_and_fix_reads_in_each_language(broken, lang):
    for exc in broken:
        lines = rule_lines(exc, lang)
        assert len(lines) == len(exc.reasons)
        for (why, fix), english in zip(lines, exc.broken):
            assert why != plain(english) and not ENGLISH.search(why), (lang, why)
            assert _digits(why) == _digits(plain(english)) and "{" not in why + fix


def test_cohort_why_lines_in_french(plans):
    fr = translator("fr")
    for plan in plans:
        for cohort in plan.cohorts:
            lines = [plain(w, "fr") for w in cohort.why]
            same = [(x, w) for x, w in zip(lines, cohort.why) if not re.search(r"50k|1M", w)]  # bands in words
            assert [_digits(x) for x, _ in same] == [_digits(plain(w)) for _, w in same]
            assert not any(ENGLISH.search(x) for x in lines), lines
            assert any(x.startswith("score de jumelage moyen entre les membres 0,") for x in lines)
            assert any(x.startswith("population ") and " à " in x for x in lines)
    themed = plans[0].cohorts[0]
    assert plain(themed.why[0], "fr").startswith("thème ")
    assert any(x in plain(themed.why[0], "fr") for x in ("Financement, subventions et partenariats",
                                                         "Gouvernance, politiques, contrats de ville climatique"))
    assert any(plain(w, "fr").startswith("équilibre par pays : ") for w in themed.why)
    mentors = [m for c in plans[1].cohorts for m in cohort_view(plans[1], c.number, "fr").query("mentor")["mentor why"]]
    assert mentors and all(m.startswith(("maturité avancée", "objectif 20")) for m in mentors), mentors
    assert fr.reason(plans[0].rules[0]).startswith("cohortes de 5 à 10 villes")


def test_the_reviewer_table_gives_its_reasons_in_spanish(reviews):
    table = reviews_view(reviews, "es")
    assert list(table["why"]) == ["; ".join(plain(r, "es") for r in v.reasons[:3]) for v in reviews.reviews]
    assert not any(re.search(r"\bshared\b| km apart|population|more mature", w) for w in table["why"])
    mature = [plain(r, "es") for v in reviews.reviews for r in v.reasons if r.startswith("more mature: ")]
    assert mature and all(re.fullmatch(r"más madura: \w+ frente a \w+", m) for m in mature), mature
    assert not any("advanced" in m or "starting" in m or "developing" in m for m in mature)  # survey words
    assert any(plain(n, "es").startswith("la regla de madurez se aplica a") for n in reviews.notes)


# ---------------------------------------------------------------------------- the app (AppTest)
@pytest.mark.integration
def test_the_cohorts_page_shows_broken_rules_in_german(app_at_url):
    at = app_at_url(lang="de")
    at.sidebar.radio(key="page").set_value("Cohorts").run()
    at.slider(key="co_size").set_value((9, 9))
    at.number_input(key="co_country").set_value(2)
    at.button(key="co_go").click().run()
    assert not at.exception
    message = at.error[0].value
    lines = [line for line in message.split("\n") if line.startswith("- ")]
    fixes = [line for line in message.split("\n") if line.strip().startswith("*Versuchen Sie:*")]
    assert len(lines) >= 2 and len(fixes) == len(lines)
    assert "Diese Regeln können nicht alle gleichzeitig gelten" in message
    assert "Vereinigtes Königreich hat 28 Städte" in message and "28 Städte lassen sich nicht" in message
    assert not ENGLISH.search(message.replace("Versuchen Sie", "")), message
    rules = next(c.value for c in at.caption if c.value.startswith("Geltende Regeln") or "Kohorten von 9–9" in c.value)
    assert "Kohorten von 9–9 Städten" in rules


# ---------------------------------------------------------------------------- the board
from tests.test_board_matches import board, data_dir  # noqa: E402,F401  (the board's fixtures)
from tests.workspace_support import db_url, pg_server  # noqa: E402,F401


def test_board_match_reasons_read_the_same_in_english_and_translate(board):  # noqa: F811
    from matcher.present.workspace_view import board_matches_table

    m, ws, admin, labelled, posts, orgs = board
    found = [m.board_matches(pid, k=5) for pid in posts.values()]
    results = [(f.posts, "post") for f in found] + [(f.organisations, "organisation") for f in found] + \
        [(f.cities, "city") for f in found]
    details = [t.detail for r, _ in results for x in r.matches for t in x.explanation]
    assert len(details) > 200 and all(isinstance(d, Reason) for d in details)
    assert [translator("en").reason(d) for d in details] == [str(d) for d in details]
    used = {t for t in set().union(*(_templates(d) for d in details)) if re.sub(r"\{\w*\}", "", t).strip(" ;,()")}
    for lang in TRANSLATED:
        assert sorted(used - set(_catalogue(lang))) == [], lang
    german = [w for r, kind in results for w in board_matches_table(r, kind, "de")["why"]]
    assert german and not any(re.search(r"\b(shared tags|texts alike|works in|city like yours|actions in|"
                                         r"not compared|one way only|case study)\b", w) for w in german), german[:5]
    assert any(w.startswith(("gemeinsame Schlagwörter: ", "Texte mit ähnlicher Bedeutung")) for w in german)
    english = [w for r, kind in results for w in board_matches_table(r, kind)["why"]]
    assert any("shared tags: " in w for w in english) and not any("cosine" in w for w in english)


def test_reviewer_checks_word_one_thing_and_several_with_their_own_templates(fake_recommender):
    """One template for one thing, another for several (`wording.plural`): Lyon, to be reviewed by
    Paris, Marseille or Madrid and by no reviewer of its own country, has 1 possible reviewer after
    one rule; Madrid below has none after two rules. Each
    reason keeps only the values its template names, and reads in German from the catalogue."""
    with pytest.raises(InfeasibleRulesError) as e:
        assign_reviewers(fake_recommender, ["Lyon"], ["Paris", "Marseille", "Madrid"],
                         ReviewRules(per_plan=2, max_load=2, no_same_country=True))
    one = next(r for r in e.value.reasons if r.startswith("Lyon"))
    assert one == "Lyon (FR) has 1 possible reviewer after the same-country rule, it needs 2"
    assert one.args["possible"].template == "{n} possible reviewer"
    assert one.args["rules"].template == "the {rule} rule" and set(one.args["rules"].args) == {"rule"}
    with pytest.raises(InfeasibleRulesError) as e:
        assign_reviewers(fake_recommender, ["Madrid", "Valencia", "Seville", "Lyon", "Vienna"],
                         rules=ReviewRules(per_plan=3, no_same_country=True, common_language=True))
    many = next(r for r in e.value.reasons if r.startswith("Madrid"))
    assert many.args["possible"].template == "{n} possible reviewers"
    assert many.args["rules"].template == "the {rules} rules" and set(many.args["rules"].args) == {"rules"}
    for reason in (one, many):
        german = translator("de").reason(reason)
        assert german != str(reason) and not ENGLISH.search(german.replace("Lyon", "")), german
