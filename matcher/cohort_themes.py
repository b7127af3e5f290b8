"""Themed cohorts: a call names themes, each an enabling theme (governance, finance, engagement,
...) and/or a sectoral theme (buildings, mobility, energy, ...), in the NetZeroCities
vocabulary (`thematic_areas_by_type`), the way the focus groups paired an enabling theme with a
sectoral one. Each city's fit to a theme, with its reasons in words:
- enabling part: a barrier the city reports that the theme addresses (survey wording, with the
  focus-group wording mapped to it by `expand_barriers`), or, for finance, a funding gap;
- sectoral part: a priority sector of the city's survey, else the share of the CO2 cuts its
  Covenant action plan puts into the theme's sectors (`actions_co2_t_<sector>`), else the share
  of its emissions in those sectors (`emission_share_<sector>`).
fit = mean of the parts the theme has, in [0, 1]. A city may join a cohort of a theme whose fit
is within `slack` of its best theme; a city with no data for any theme may join any cohort.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .errors import ConfigError
from .facets import has_value
from .vocab import expand_barriers
from .wording import Num, R_, Reason, joined, survey_term, words

ENABLING = {
    R_("Governance, Policy, Climate City Contracts"): (
        ("governance", "policy", "contract", "regulation"),
        ("Fragmented responsibility & siloed governance structure", "Lack of enabling policy at the EU level",
         "Lack of enabling policy at the National/ Federal level", "Lack of political leadership",
         "Slow approval or authorization process", "Too many bureaucratic hurdles",
         "Uncertain or unclear regulations and taxation", "Insufficient administrative and operational capacity")),
    R_("Social Innovation and Digitisation"): (
        ("social", "digital", "innovation"),
        ("Lack of digitalisation", "Lack of know-how and skills",
         "Limited technological interventions that reduce/ eliminate emissions")),
    R_("Stakeholder Engagement"): (
        ("engagement", "stakeholder", "citizen", "participation"),
        ("Lack of support/awareness by citizens", "Lack of support from the relevant industries",
         "Few/limited collaborations with private & public partnerships")),
    R_("Financing, Funding and Partnerships"): (
        ("financ", "funding", "investment", "partnership"),
        ("Very high investment costs", "Few/limited collaborations with private & public partnerships")),
    R_("Peer-to-Peer Learning"): (
        ("peer", "learning", "monitoring", "capacity"),
        ("Lack of know-how and skills", "Lack of monitoring, reporting and verification procedures",
         "Insufficient administrative and operational capacity")),
}
# sectoral theme: keywords, survey priority sectors, Covenant action sectors, emission sectors
SECTORAL = {
    R_("Energy Systems"): (("energy", "heat", "electricity", "renewable"), ("Energy systems",),
                       ("electricity", "heat"), ()),
    R_("Built Environment"): (("build", "housing", "built", "renovation"), ("Built environment",),
                          ("residential", "tertiary", "municipal", "lighting"),
                          ("residential", "tertiary", "municipal")),
    R_("Mobility and Transport"): (("mobility", "transport"), ("Mobility and transport",), ("transport",),
                               ("transport",)),
    R_("Circular Economy"): (("circular", "waste", "industry"), ("Industry",), ("waste", "industry"),
                         ("waste", "industry")),
    R_("Nature Based Solutions"): (("nature", "green", "nbs"), (), (), ("agriculture",)),
}


# the sectors of the Covenant action plans and emission inventories a sectoral theme names
SECTOR_WORDS = (R_("electricity"), R_("heat"), R_("residential"), R_("tertiary"), R_("municipal"), R_("lighting"),
                R_("transport"), R_("waste"), R_("industry"), R_("agriculture"))


@dataclass
class Theme:
    name: str  # as shown
    enabling: str | None
    sectoral: str | None


def parse_theme(text: str) -> Theme:
    """'finance + buildings', 'Mobility and Transport', 'governance' -> a Theme of the vocabulary."""
    parts = [t.strip() for t in str(text).replace("&", "+").split("+") if t.strip()]
    enabling = sectoral = None
    for part in parts:
        e, s = _match(part, ENABLING), _match(part, SECTORAL)
        if s and not sectoral and (not e or enabling):
            sectoral = s
        elif e and not enabling:
            enabling = e
        elif s and not sectoral:
            sectoral = s
        else:
            raise ConfigError(f"Theme '{part}' is not in the vocabulary: enabling themes {', '.join(ENABLING)}; "
                              f"sectoral themes {', '.join(SECTORAL)}.")
    if not enabling and not sectoral:
        raise ConfigError("A theme needs an enabling or a sectoral part.")
    return Theme(" + ".join(x for x in (enabling, sectoral) if x), enabling, sectoral)


def theme_words(theme: Theme) -> Reason:
    """A theme's name ('Financing, Funding and Partnerships + Built Environment') as the app shows it,
    each part in its users' language."""
    return joined([Reason(x) for x in (theme.enabling, theme.sectoral) if x], " + ")


def _match(part: str, table: dict) -> str | None:
    low = part.lower()
    for name, spec in table.items():
        if low == name.lower() or any(k in low for k in spec[0]):
            return name
    return None


def theme_fit(row: dict, theme: Theme) -> tuple[float, list[str]]:
    """How well a city fits a theme (0-1) and why; (nan, []) when nothing is known."""
    scores, why = [], []
    if theme.enabling:
        s, w = _enabling_fit(row, theme.enabling)
        scores.append(s), why.extend(w)
    if theme.sectoral:
        s, w = _sectoral_fit(row, theme.sectoral)
        scores.append(s), why.extend(w)
    known = [s for s in scores if not math.isnan(s)]
    return (float(np.mean([0.0 if math.isnan(s) else s for s in scores])) if known else math.nan), why


def _enabling_fit(row: dict, theme: str) -> tuple[float, list[str]]:
    barriers = expand_barriers(row.get("barriers"))
    hits = [b for b in ENABLING[theme][1] if b in barriers]
    if hits:
        return 1.0, [Reason("barrier '{barrier}'", barrier=survey_term(hits[0]))]
    gaps = row.get("funding_gaps")
    if theme.startswith("Financing") and gaps is not None and len(gaps):
        return 1.0, [Reason("funding gap '{gap}'", gap=survey_term(list(gaps)[0]))]
    return (0.0, []) if len(barriers) else (math.nan, [])


def _sectoral_fit(row: dict, theme: str) -> tuple[float, list[str]]:
    _, survey, actions, emissions = SECTORAL[theme]
    sectors = row.get("priority_sectors")
    sectors = list(sectors) if sectors is not None else []
    if any(s in survey for s in sectors):
        return 1.0, [Reason("priority sector {sector}", sector=survey_term(next(s for s in sectors if s in survey)))]
    total = row.get("actions_co2_t_total")
    if has_value(total) and float(total) > 0:
        part = sum(float(row.get(f"actions_co2_t_{a}")) for a in actions if has_value(row.get(f"actions_co2_t_{a}")))
        share = min(part / float(total), 1.0)
        return share, ([Reason("{share} of the CO2 cuts in its Covenant action plan are in {sectors}",
                               share=Num(share, ".0%"), sectors=words(actions, "/"))] if share >= 0.2 else [])
    shares = [row.get(f"emission_share_{e}") for e in emissions]
    if emissions and any(has_value(v) for v in shares):
        share = min(sum(float(v) for v in shares if has_value(v)), 1.0)
        share = share / 100 if share > 1 else share
        return share, ([Reason("{share} of its emissions come from {sectors}", share=Num(share, ".0%"),
                               sectors=words(emissions, "/"))] if share >= 0.2 else [])
    return (0.0, []) if sectors else (math.nan, [])


def theme_table(records: list[dict], themes: list[Theme]) -> tuple[np.ndarray, list[list[list[str]]]]:
    """fit[i, t] (nan where nothing is known) and the reasons per city and theme."""
    fit = np.full((len(records), len(themes)), np.nan)
    why = []
    for i, row in enumerate(records):
        reasons = []
        for t, theme in enumerate(themes):
            fit[i, t], w = theme_fit(row, theme)
            reasons.append(w)
        why.append(reasons)
    return fit, why


def theme_allowed(fit: np.ndarray, slack: float) -> np.ndarray:
    """Which themes each city may join: those within `slack` of its best; all when unknown."""
    filled = np.where(np.isnan(fit), -1.0, fit)
    best = filled.max(axis=1, keepdims=True)
    unknown = np.isnan(fit).all(axis=1, keepdims=True) | (best <= 0)
    return (filled >= best - slack - 1e-9) | unknown


def cohorts_per_theme(allowed: np.ndarray, G: int, lo: int, hi: int) -> np.ndarray | None:
    """How many cohorts each theme gets: at least enough for the cities that can only join it,
    the rest in proportion to the cities that may join it; None when even that cannot fit."""
    n, T = allowed.shape
    only = allowed & (allowed.sum(axis=1, keepdims=True) == 1)
    need = np.ceil(only.sum(axis=0) / hi).astype(int)
    if need.sum() > G:
        return None
    demand = (allowed / np.maximum(allowed.sum(axis=1, keepdims=True), 1)).sum(axis=0)  # shared cities split
    joinable = allowed.sum(axis=0)
    counts = need.copy()
    for _ in range(G - need.sum()):
        room = joinable >= (counts + 1) * lo
        t = int(np.argmax(np.where(room, demand / (counts + 1), -1.0)))
        counts[t] += 1
    return counts
