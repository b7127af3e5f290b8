"""The facet registry: everything the library knows about a facet, in one entry.

A facet is a part of a city profile that two cities can be compared on. Its entry says which
profile columns it reads, which block turns them into a vector (a kernel map, a multi-hot or a
text embedding: DESIGN.md), its default weight, its label and help in the survey's words, how
its kernel is described, and how a similarity is put into words for a pair of cities. The
featurizer, the weights, the explanations, the app's sliders and the README table all read this
registry, so adding a facet is adding one entry here (plus its block if it is a new kind).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
import pandas as pd

from .features.kernels import GeoRBF, MeanRBF, OrdinalRBF, ScalarRBF, Shares, haversine_km
from .features.multihot import MultiHot
from .features.text import TextEmbedder
from .vocab import (ACTION_SECTORS, COMMITMENT_WORDS, COVENANT_COMMITMENTS, EMISSION_SECTORS, LAND_USES,
                    MATURITY_LEVELS, barrier_parents, language_codes, vocabularies)
from .wording import Num, R_, Reason, Terms, cosine_figure, joined, survey_list, survey_term, words


def has_value(value) -> bool:
    """Known: not None/NaN, and a non-empty list."""
    if value is None:
        return False
    if isinstance(value, (list, tuple, np.ndarray)):
        return len(value) > 0
    try:
        return not pd.isna(value)
    except (TypeError, ValueError):
        return True


@dataclass(frozen=True)
class Pair:
    """What a facet's wording sees: the asking city, the peer, the facet similarity, the theme."""

    asker: dict
    peer: dict
    similarity: float
    theme: str | None = None

    @property
    def asker_name(self) -> str:
        return self.asker.get("name") or Reason("you")

    @property
    def peer_name(self) -> str:
        return self.peer.get("name") or Reason("the peer")


@dataclass(frozen=True)
class Facet:
    """One facet. `block(settings, encoder)` makes its (unfitted) sklearn transformer;
    `describe(pair)` words a similarity (a `Reason`); `unknown` names what is missing when it is not compared."""

    name: str
    columns: tuple[str, ...]
    block: Callable
    default_weight: float
    label: str
    help: str
    kernel: Callable  # (settings, encoder) -> str
    describe: Callable[[Pair], Reason]
    unknown: str
    theme_counts: bool = False  # a theme makes the asker's side known (the narrative)
    any_column: bool = False  # known when any of its columns is (a mix of shares): else all must be

    def known(self, row: dict, theme: str | None = None) -> bool:
        if self.theme_counts and theme:
            return True
        found = (has_value(row.get(c)) for c in self.columns)
        return any(found) if self.any_column else all(found)


# ---------------------------------------------------------------------------- wording
# Every describe() returns a `Reason` (matcher.wording): the English text, which the app can show
# in the user's language. The multi-hot facets' wording, per noun: (shared, related, none).
SHARED_WORDING = {
    "barriers": (R_("shared barriers: {labels}"),
                 R_("related barriers (survey category '{category}'): {peer_labels} ({peer}) / {asker_labels} ({asker})"),
                 R_("no barriers in common")),
    "priority sectors": (R_("shared priority sectors: {labels}"), None, R_("no priority sectors in common")),
    "co-benefits": (R_("shared co-benefits: {labels}"), None, R_("no co-benefits in common")),
    "funding gaps": (R_("shared funding gaps: {labels}"), None, R_("no funding gaps in common")),
}
TARGET_TYPES = (R_("absolute"), R_("per capita"))  # the kinds of 2030 target, as the data says them


def _population(value):
    return Num(int(value), ",") if has_value(value) else Reason("unknown")


def _size(p: Pair) -> Reason:
    a, b = float(p.asker["population"]), float(p.peer["population"])
    return Reason("population {peer} vs {asker} (a factor of {factor})", peer=_population(b),
                  asker=_population(a), factor=Num(max(a, b) / min(a, b), ".1f"))


def _target(p: Pair) -> Reason:
    return Reason("net-zero target {peer} vs {asker}", peer=int(p.peer["net_zero_target_year"]),
                  asker=int(p.asker["net_zero_target_year"]))


def _maturity(p: Pair) -> Reason:
    return Reason("maturity {peer} vs {asker}", peer=survey_term(p.peer["maturity"]),
                  asker=survey_term(p.asker["maturity"]))


def _languages(p: Pair) -> Reason:
    mine, theirs = list(p.asker["languages"]), list(p.peer["languages"])
    common = [x for x in mine if x in theirs]
    if common:
        return Reason("common language: {languages}", languages=Terms(common, ", ", "language"))
    return Reason("no common language ({peer} vs {asker})", peer=Terms(theirs, ", ", "language"),
                  asker=Terms(mine, ", ", "language"))


def _distance(p: Pair) -> Reason:
    km = haversine_km(float(p.asker["lat"]), float(p.asker["lon"]), float(p.peer["lat"]), float(p.peer["lon"]))
    return Reason("{km} km apart", km=Num(km, ",.0f"))


def _narrative(p: Pair) -> Reason:
    cosine = cosine_figure(p.similarity)
    if p.theme:
        return Reason("narrative and theme similar in meaning{cosine}", cosine=cosine)
    return Reason("narratives similar in meaning{cosine}", cosine=cosine)


def _shared_labels(column: str, noun: str, related_by_parent: bool = False) -> Callable[[Pair], Reason]:
    """Wording of a multi-hot facet: the shared labels in survey wording, and for barriers the
    different wordings that meet in one survey category."""
    shared_words, related_words, none_words = SHARED_WORDING[noun]

    def describe(p: Pair) -> Reason:
        mine, theirs = list(p.asker[column]), list(p.peer[column])
        shared = [x for x in mine if x in theirs]
        parts = [Reason(shared_words, labels=survey_list(shared))] if shared else []
        if related_by_parent:
            parents = barrier_parents()

            def under(labels, parent):
                return [x for x in labels if x not in shared and (x == parent or parents.get(x) == parent)]

            for parent in dict.fromkeys(parents.get(x, x) for x in mine):
                ka, kb = under(mine, parent), under(theirs, parent)
                if ka and kb:
                    parts.append(Reason(related_words, category=survey_term(parent), peer_labels=survey_list(kb),
                                        peer=p.peer_name, asker_labels=survey_list(ka), asker=p.asker_name))
        return joined(parts) if parts else Reason(none_words)

    return describe


def _commitments(p: Pair) -> Reason:
    mine, theirs = list(p.asker["com_commitments"]), list(p.peer["com_commitments"])
    shared = [COMMITMENT_WORDS.get(c, c) for c in mine if c in theirs]
    only = [COMMITMENT_WORDS.get(c, c) for c in theirs if c not in mine]
    parts = ([Reason("both signed {commitments}", commitments=words(shared))] if shared else []) + \
        ([Reason("{peer} also {commitments}", peer=p.peer_name, commitments=words(only))] if only else [])
    return joined(parts) if parts else Reason("no Covenant commitment in common")


def _ambition(p: Pair) -> Reason:
    def one(row):
        kind, pct = row.get("target_2030_type"), Num(row["target_2030_reduction_pct"], "g")
        if not isinstance(kind, str):
            return Reason("-{pct}%", pct=pct)
        return Reason("-{pct}% ({kind})", pct=pct, kind=Reason(kind) if kind in TARGET_TYPES else kind)
    return Reason("2030 target {peer} vs {asker}", peer=one(p.peer), asker=one(p.asker))


def _neutrality(p: Pair) -> Reason:
    def one(row):
        basis, year = row.get("neutrality_target_basis"), int(row["neutrality_target_year"])
        return Reason("{year} ({basis})", year=year, basis=basis) if isinstance(basis, str) else year
    return Reason("climate neutral by {peer} vs {asker}", peer=one(p.peer), asker=one(p.asker))


def _per_capita(row) -> Reason:
    year, tonnes = row.get("emissions_year"), Num(row["emissions_per_capita_t"], ".1f")
    return Reason("{t} t ({year})", t=tonnes, year=int(year)) if has_value(year) else Reason("{t} t", t=tonnes)


def _emissions(p: Pair) -> Reason:
    return Reason("CO2e per inhabitant {peer} vs {asker}", peer=_per_capita(p.peer), asker=_per_capita(p.asker))


def _top(row, prefix: str, names: dict) -> list[tuple[str, float]]:
    """The known positive parts of a mix, largest first, in the users' words."""
    values = [(names[k], float(row.get(prefix + k))) for k in names if has_value(row.get(prefix + k))]
    return sorted((v for v in values if v[1] > 0), key=lambda kv: -kv[1])


# The mix facets' wording, per what is mixed: (nothing to compare, same largest part, different ones).
MIX_WORDING = {
    "emissions": (R_("no emissions to compare"), R_("both have most emissions in {sector} ({peer} vs {asker})"),
                  R_("most emissions in {peer_sector} ({peer}) vs {asker_sector} ({asker})")),
    "actions": (R_("no actions to compare"), R_("both have most actions in {sector} ({peer} vs {asker})"),
                R_("most actions in {peer_sector} ({peer}) vs {asker_sector} ({asker})")),
    "land": (R_("no land to compare"), R_("both have most land in {sector} ({peer} vs {asker})"),
             R_("most land in {peer_sector} ({peer}) vs {asker_sector} ({asker})")),
}


def _mix(prefix: str, names: dict, what: str, fmt) -> Callable[[Pair], Reason]:
    """Wording of a mix facet: the largest parts of each side, and the largest they share."""
    none_words, same_words, different_words = MIX_WORDING[what]

    def describe(p: Pair) -> Reason:
        mine, theirs = _top(p.asker, prefix, names), _top(p.peer, prefix, names)
        if not mine or not theirs:
            return Reason(none_words)
        if mine[0][0] == theirs[0][0]:
            return Reason(same_words, sector=Reason(mine[0][0]), peer=fmt(theirs[0][1]), asker=fmt(mine[0][1]))
        return Reason(different_words, peer_sector=Reason(theirs[0][0]), peer=fmt(theirs[0][1]),
                      asker_sector=Reason(mine[0][0]), asker=fmt(mine[0][1]))

    return describe


def _progress(p: Pair) -> Reason:
    def one(row):
        since, change = row.get("progress_baseline_year"), Num(row["progress_per_capita_pct"], "+.0f")
        if has_value(since):
            return Reason("{change}% since {year}", change=change, year=int(since))
        return Reason("{change}%", change=change)
    return Reason("emissions per inhabitant {peer} vs {asker}", peer=one(p.peer), asker=one(p.asker))


def _climate(p: Pair) -> Reason:
    def one(row):
        return Reason("{cold} to {warm} °C", cold=Num(row["coldest_month_c"], ".0f"),
                      warm=Num(row["warmest_month_c"], ".0f"))
    return Reason("coldest to warmest month {peer} vs {asker}", peer=one(p.peer), asker=one(p.asker))


_SHARED_KERNEL = "shared labels / sqrt(labels of each): 1 when the lists are equal"
_MIX_KERNEL = "cosine of the two mixes: 1 when the proportions are the same, whatever the totals"


def _multihot(name: str, column: str, vocab: str, weight: float, label: str, help: str, noun: str,
              related_by_parent: bool = False) -> Facet:
    parents = barrier_parents if related_by_parent else (lambda: None)
    return Facet(
        name=name, columns=(column,), default_weight=weight, label=label, help=help, unknown=noun,
        block=lambda s, e: MultiHot(vocabulary=vocabularies()[vocab], parents=parents()),
        kernel=lambda s, e: _SHARED_KERNEL, describe=_shared_labels(column, noun, related_by_parent))


# ---------------------------------------------------------------------------- the registry
# Order = order of the blocks in the vector: part of the index layout.
FACETS: tuple[Facet, ...] = (
    Facet("size", ("population",), default_weight=1.0, label="Size", unknown="population",
          help="population, compared on a log scale",
          block=lambda s, e: ScalarRBF(length_scale=float(s["size_length_scale"]), low=1_000, high=50_000_000,
                                       log=True, label="pop"),
          kernel=lambda s, e: f"RBF on ln(population), length scale {s['size_length_scale']}: "
                              "a factor of 2 scores 0.80, a factor of 10 scores 0.09",
          describe=_size),
    Facet("target", ("net_zero_target_year",), default_weight=0.5, label="Net-zero target",
          unknown="target year", help="net-zero / climate-neutrality target year",
          block=lambda s, e: ScalarRBF(length_scale=float(s["target_length_scale"]), low=2020, high=2070,
                                       label="year"),
          kernel=lambda s, e: f"RBF on target year, length scale {s['target_length_scale']} years: "
                              "5 years apart score 0.77, 10 years 0.36",
          describe=_target),
    Facet("maturity", ("maturity",), default_weight=0.5, label="Maturity", unknown="maturity",
          help="maturity of climate action (starting < developing < advanced)",
          block=lambda s, e: OrdinalRBF(levels=MATURITY_LEVELS, length_scale=float(s["maturity_length_scale"])),
          kernel=lambda s, e: f"RBF on maturity level ({' < '.join(MATURITY_LEVELS)}), length scale "
                              f"{s['maturity_length_scale']}: one level apart scores 0.46",
          describe=_maturity),
    _multihot("barriers", "barriers", "barriers", 1.5, "Barriers", "barriers reported in the NetZeroCities "
              "survey and focus groups", "barriers", related_by_parent=True),
    _multihot("sectors", "priority_sectors", "priority_sectors", 1.0, "Priority sectors",
              "priority sectors for emission reduction", "priority sectors"),
    Facet("languages", ("languages",), default_weight=0.5, label="Languages", unknown="languages",
          help="official languages",
          block=lambda s, e: MultiHot(vocabulary=language_codes()),
          kernel=lambda s, e: _SHARED_KERNEL, describe=_languages),
    _multihot("co_benefits", "co_benefits", "co_benefits", 0.5, "Co-benefits", "co-benefits the city seeks",
              "co-benefits"),
    _multihot("funding_gaps", "funding_gaps", "funding_gaps", 0.5, "Funding gaps", "funding gaps reported",
              "funding gaps"),
    Facet("geography", ("lat", "lon"), default_weight=0.75, label="Distance", unknown="location",
          help="distance between the cities",
          block=lambda s, e: GeoRBF(length_scale_km=float(s["geography_length_scale_km"])),
          kernel=lambda s, e: f"RBF on distance, length scale {s['geography_length_scale_km']:.0f} km: "
                              "200 km apart score 0.88, 800 km 0.14",
          describe=_distance),
    Facet("narrative", ("narrative",), default_weight=1.5, label="Narrative", unknown="climate narrative",
          help="the profile's text (targets, needs, initiatives), compared by a sentence embedding",
          block=lambda s, e: TextEmbedder(encoder=e),
          kernel=lambda s, e: f"cosine of sentence embeddings ({e.model_id})",
          describe=_narrative, theme_counts=True),
    Facet("commitments", ("com_commitments",), default_weight=0.5, label="Covenant commitments",
          unknown="Covenant commitments", help="Covenant of Mayors commitments signed (2020, 2030, 2050 "
          "climate neutrality, adaptation), from the JRC MyCovenant data",
          block=lambda s, e: MultiHot(vocabulary=COVENANT_COMMITMENTS),
          kernel=lambda s, e: _SHARED_KERNEL, describe=_commitments),
    Facet("ambition", ("target_2030_reduction_pct",), default_weight=0.5, label="Ambition for 2030",
          unknown="2030 reduction target", help="the emission reduction the 2030 action plan aims at, in %",
          block=lambda s, e: ScalarRBF(length_scale=10.0, low=0, high=100, label="pct"),
          kernel=lambda s, e: "RBF on the 2030 reduction target, length scale 10 points: 10 points apart score 0.61",
          describe=_ambition),
    Facet("neutrality", ("neutrality_target_year",), default_weight=0.5, label="Climate-neutrality year",
          unknown="climate-neutrality year", help="the year of the climate-neutrality commitment (EU Mission "
          "2030, Covenant 2050, or a -100% target)",
          block=lambda s, e: ScalarRBF(length_scale=float(s["target_length_scale"]), low=2020, high=2070,
                                       label="year"),
          kernel=lambda s, e: f"RBF on the year, length scale {s['target_length_scale']} years: 10 years apart 0.36",
          describe=_neutrality),
    Facet("emissions", ("emissions_per_capita_t",), default_weight=0.5, label="Emissions per inhabitant",
          unknown="emissions per inhabitant", help="tonnes of CO2e per inhabitant in the latest emission inventory",
          block=lambda s, e: ScalarRBF(length_scale=0.4, low=0.1, high=100, log=True, label="t"),
          kernel=lambda s, e: "RBF on ln(t CO2e per inhabitant), length scale 0.4: a factor of 1.5 scores 0.60",
          describe=_emissions),
    Facet("emission_mix", tuple(f"emission_share_{k}" for k in EMISSION_SECTORS), default_weight=0.75,
          label="Emissions by sector", unknown="emissions by sector", any_column=True,
          help="the share of each sector (buildings, transport, industry, ...) in the latest inventory",
          block=lambda s, e: Shares(n_columns=len(EMISSION_SECTORS)), kernel=lambda s, e: _MIX_KERNEL,
          describe=_mix("emission_share_", EMISSION_SECTORS, "emissions", lambda v: Num(v, ".0%"))),
    Facet("actions", tuple(f"actions_n_{k}" for k in ACTION_SECTORS), default_weight=0.75,
          label="Actions by sector", unknown="action plan", any_column=True,
          help="how the action plan's measures spread over sectors (counts per sector)",
          block=lambda s, e: Shares(n_columns=len(ACTION_SECTORS)), kernel=lambda s, e: _MIX_KERNEL,
          describe=_mix("actions_n_", ACTION_SECTORS, "actions", lambda v: Num(v, ".0f"))),
    Facet("progress", ("progress_per_capita_pct",), default_weight=0.5, label="Progress since the baseline",
          unknown="progress since the baseline inventory",
          help="change of emissions per inhabitant between the baseline and the latest inventory, in %",
          block=lambda s, e: ScalarRBF(length_scale=10.0, low=-100, high=100, label="pct"),
          kernel=lambda s, e: "RBF on the % change, length scale 10 points: 10 points apart score 0.61",
          describe=_progress),
    Facet("climate", ("coldest_month_c", "warmest_month_c"), default_weight=0.5, label="Climate",
          unknown="climate", help="heating and cooling need: the mean temperature of the coldest and the warmest "
          "month (Urban Audit)",
          block=lambda s, e: MeanRBF(blocks=(ScalarRBF(length_scale=3.0, low=-25, high=20, label="cold"),
                                             ScalarRBF(length_scale=3.0, low=5, high=35, label="warm"))),
          kernel=lambda s, e: "mean of two RBFs on the coldest and warmest month, length scale 3 °C: 3 °C apart 0.61",
          describe=_climate),
    Facet("land_use", tuple(f"land_share_{k}" for k in LAND_USES), default_weight=0.25, label="Land use",
          unknown="land use", any_column=True, help="how the city's land is used (housing, industry, green, farmland, "
          "nature; Urban Audit)",
          block=lambda s, e: Shares(n_columns=len(LAND_USES)), kernel=lambda s, e: _MIX_KERNEL,
          describe=_mix("land_share_", LAND_USES, "land", lambda v: Reason("{value}%", value=Num(v, ".0f")))),
)

FACET_BY_NAME: dict[str, Facet] = {f.name: f for f in FACETS}
DEFAULT_WEIGHTS: dict[str, float] = {f.name: f.default_weight for f in FACETS}


def known_facets(row: dict, facets: tuple[Facet, ...] = FACETS) -> list[str]:
    """The facets of a (validated) profile row that have a value: what it can be compared on."""
    return [f.name for f in facets if f.known(row)]


def facet_labels(facets: tuple[Facet, ...] = FACETS) -> dict[str, str]:
    return {f.name: f.label for f in facets}
