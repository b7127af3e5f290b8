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

from .features.kernels import GeoRBF, OrdinalRBF, ScalarRBF, haversine_km
from .features.multihot import MultiHot
from .features.text import TextEmbedder
from .vocab import MATURITY_LEVELS, barrier_parents, language_codes, vocabularies


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
        return self.asker.get("name") or "you"

    @property
    def peer_name(self) -> str:
        return self.peer.get("name") or "the peer"


@dataclass(frozen=True)
class Facet:
    """One facet. `block(settings, encoder)` makes its (unfitted) sklearn transformer;
    `describe(pair)` words a similarity; `unknown` names what is missing when it is not compared."""

    name: str
    columns: tuple[str, ...]
    block: Callable
    default_weight: float
    label: str
    help: str
    kernel: Callable  # (settings, encoder) -> str
    describe: Callable[[Pair], str]
    unknown: str
    theme_counts: bool = False  # a theme makes the asker's side known (the narrative)

    def known(self, row: dict, theme: str | None = None) -> bool:
        if self.theme_counts and theme:
            return True
        return all(has_value(row.get(c)) for c in self.columns)


# ---------------------------------------------------------------------------- wording
def _population(value) -> str:
    return f"{int(value):,}" if has_value(value) else "unknown"


def _size(p: Pair) -> str:
    a, b = float(p.asker["population"]), float(p.peer["population"])
    return f"population {_population(b)} vs {_population(a)} (a factor of {max(a, b) / min(a, b):.1f})"


def _target(p: Pair) -> str:
    return f"net-zero target {int(p.peer['net_zero_target_year'])} vs {int(p.asker['net_zero_target_year'])}"


def _maturity(p: Pair) -> str:
    return f"maturity {p.peer['maturity']} vs {p.asker['maturity']}"


def _languages(p: Pair) -> str:
    mine, theirs = list(p.asker["languages"]), list(p.peer["languages"])
    common = [x for x in mine if x in theirs]
    if common:
        return "common language: " + ", ".join(common)
    return f"no common language ({', '.join(theirs)} vs {', '.join(mine)})"


def _distance(p: Pair) -> str:
    km = haversine_km(float(p.asker["lat"]), float(p.asker["lon"]), float(p.peer["lat"]), float(p.peer["lon"]))
    return f"{km:,.0f} km apart"


def _narrative(p: Pair) -> str:
    what = "narrative and theme" if p.theme else "narratives"
    return f"{what} similar in meaning (cosine {p.similarity:.2f})"


def _shared_labels(column: str, noun: str, related_by_parent: bool = False) -> Callable[[Pair], str]:
    """Wording of a multi-hot facet: the shared labels in survey wording, and for barriers the
    different wordings that meet in one survey category."""

    def describe(p: Pair) -> str:
        mine, theirs = list(p.asker[column]), list(p.peer[column])
        shared = [x for x in mine if x in theirs]
        parts = [f"shared {noun}: " + "; ".join(shared)] if shared else []
        if related_by_parent:
            parents = barrier_parents()

            def under(labels, parent):
                return [x for x in labels if x not in shared and (x == parent or parents.get(x) == parent)]

            for parent in dict.fromkeys(parents.get(x, x) for x in mine):
                ka, kb = under(mine, parent), under(theirs, parent)
                if ka and kb:
                    parts.append(f"related {noun} (survey category '{parent}'): "
                                 f"{'; '.join(kb)} ({p.peer_name}) / {'; '.join(ka)} ({p.asker_name})")
        return "; ".join(parts) if parts else f"no {noun} in common"

    return describe


_SHARED_KERNEL = "shared labels / sqrt(labels of each): 1 when the lists are equal"


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
)

FACET_BY_NAME: dict[str, Facet] = {f.name: f for f in FACETS}
DEFAULT_WEIGHTS: dict[str, float] = {f.name: f.default_weight for f in FACETS}


def known_facets(row: dict, facets: tuple[Facet, ...] = FACETS) -> list[str]:
    """The facets of a (validated) profile row that have a value: what it can be compared on."""
    return [f.name for f in facets if f.known(row)]


def facet_labels(facets: tuple[Facet, ...] = FACETS) -> dict[str, str]:
    return {f.name: f.label for f in facets}
