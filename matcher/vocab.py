"""The survey vocabularies and the other fixed word lists the library compares by: barrier,
sector, co-benefit and funding-gap wording (NetZeroCities city survey), maturity levels, ISO
language and country codes, population bands, and the folding of names for lookups.

Everything here is data, not behaviour: the features, the facet registry and the schema all
read it, so it sits below them in the import order.
"""
from __future__ import annotations

import csv
import json
import re
from functools import lru_cache
from importlib import resources

import pycountry
from rapidfuzz import fuzz, process
from unidecode import unidecode

MATURITY_LEVELS: tuple[str, ...] = ("starting", "developing", "advanced")  # ordinal, in this order


@lru_cache(maxsize=1)
def taxonomy() -> dict:
    """The survey vocabularies (a copy of seed_data/taxonomy.json, which cites its sources)."""
    return json.loads(resources.files("matcher.vocabulary").joinpath("taxonomy.json").read_text("utf-8"))


@lru_cache(maxsize=1)
def barrier_parents() -> dict[str, str]:
    """Focus-group barrier wording -> the survey barrier it belongs to (editorial map, may be empty)."""
    path = resources.files("matcher.vocabulary").joinpath("barrier_parents.csv")
    if not path.is_file():
        return {}
    with path.open("r", encoding="utf-8", newline="") as fh:
        return {row["label"]: (row.get("parent") or "").strip() for row in csv.DictReader(fh)}


@lru_cache(maxsize=1)
def vocabularies() -> dict[str, tuple[str, ...]]:
    """Allowed values of each controlled list column, in survey order."""
    tax = taxonomy()
    survey_barriers = list(tax["barriers"])
    extended = [label for label in barrier_parents() if label not in survey_barriers]
    return {
        "barriers": tuple(survey_barriers + sorted(extended)),
        "priority_sectors": tuple(s for s in tax["priority_sectors"] if s != "Have not identified yet"),
        "co_benefits": tuple(tax["co_benefits"]),
        "funding_gaps": tuple(tax["funding_gaps"]),
        "case_sectors": tuple(tax["case_study_sectors"]),
        # A case study addresses survey barriers or funding gaps.
        "case_barriers": tuple(survey_barriers + sorted(extended)
                               + [g for g in tax["funding_gaps"] if g not in survey_barriers]),
    }


@lru_cache(maxsize=1)
def language_codes() -> tuple[str, ...]:
    """ISO 639-1 codes (pycountry), sorted: the fixed vocabulary of the languages facet."""
    return tuple(sorted(lang.alpha_2 for lang in pycountry.languages if hasattr(lang, "alpha_2")))


@lru_cache(maxsize=1)
def country_codes() -> frozenset[str]:
    """ISO 3166-1 alpha-2 codes, plus XK (Kosovo), which GeoNames uses."""
    return frozenset({c.alpha_2 for c in pycountry.countries} | {"XK"})


def expand_barriers(labels) -> list[str]:
    """The barriers a city reports plus the survey categories of focus-group wording
    (barrier_parents.csv), so the same problem in other words still counts."""
    out = list(dict.fromkeys(str(v) for v in (labels if labels is not None else [])))
    parents = barrier_parents()
    for label in list(out):
        parent = parents.get(label)
        if parent and parent not in out:
            out.append(parent)
    return out


def survey_barriers() -> tuple[str, ...]:
    return tuple(taxonomy()["barriers"])


# Named population bands for filters (inclusive lower bound, exclusive upper bound).
SIZE_BANDS: dict[str, tuple[float, float]] = {
    "town": (0, 50_000),
    "small": (50_000, 100_000),
    "medium": (100_000, 250_000),
    "large": (250_000, 1_000_000),
    "metropolis": (1_000_000, float("inf")),
}


_NON_ALNUM = re.compile(r"[^a-z0-9]+")


def normalise_key(text: str) -> str:
    """Fold accents, case and punctuation: 'Köln' -> 'koln', 'Saint-Étienne' -> 'saint etienne'."""
    text = str(text)
    folded = (text if text.isascii() else unidecode(text)).lower()
    return " ".join(_NON_ALNUM.sub(" ", folded).split())


def closest(value: str, choices, cutoff: int = 70) -> str | None:
    """The choice a typo most likely meant ("lack of fundng" -> the survey wording), or None."""
    hit = process.extractOne(value, tuple(choices), scorer=fuzz.WRatio, processor=normalise_key, score_cutoff=cutoff)
    return hit[0] if hit else None


def slug(text: str) -> str:
    return normalise_key(text).replace(" ", "-")


# ---------------------------------------------------------------------------- Covenant of Mayors data
# Commitments a signatory can make (JRC MyCovenant), in the order they were introduced.
COVENANT_COMMITMENTS: tuple[str, ...] = ("CoM2020", "CoM2030", "CoM2050", "Mayors Adapt")
COMMITMENT_WORDS = {"CoM2020": "Covenant 2020 (-20%)", "CoM2030": "Covenant 2030 (-40%)",
                    "CoM2050": "Covenant 2050 (climate neutrality)", "Mayors Adapt": "Mayors Adapt (adaptation)"}
# Sectors of the emission inventories and of the action plans (JRC), with the words users read.
EMISSION_SECTORS = {"residential": "residential buildings", "tertiary": "tertiary buildings",
                    "municipal": "municipal buildings", "transport": "transport", "industry": "industry",
                    "agriculture": "agriculture", "waste": "waste", "other": "other sectors"}
ACTION_SECTORS = {"transport": "transport", "electricity": "local electricity", "municipal": "municipal buildings",
                  "residential": "residential buildings", "tertiary": "tertiary buildings",
                  "heat": "local heating and cooling", "industry": "industry", "waste": "waste",
                  "lighting": "public lighting", "other": "other sectors"}
LAND_USES = {"continuous_residential": "dense housing", "discontinuous_residential": "loose housing",
             "industrial_commercial": "industry and commerce", "transport_infrastructure": "transport infrastructure",
             "other_artificial": "other built-up land", "green_urban": "urban green", "agricultural": "farmland",
             "natural": "natural areas"}
# Survey priority sectors -> the action-plan sectors that act on them.
PRIORITY_ACTION_SECTORS = {"Energy systems": ("electricity", "heat"),
                           "Built environment": ("residential", "tertiary", "municipal"),
                           "Mobility and transport": ("transport",), "Industry": ("industry",)}
