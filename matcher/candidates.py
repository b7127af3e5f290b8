"""Which cities may be recommended: filters (country, size band, language, EU Mission,
network, climate profile) and excludes, as one boolean mask over the profile rows."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from .errors import ConfigError
from .settings import DEFAULT_SETTINGS
from .vocab import SIZE_BANDS, country_codes, language_codes


@dataclass
class TwinFilters:
    """Which candidates may be recommended. Empty fields do not filter."""

    countries: list[str] = field(default_factory=list)
    size_band: str | tuple[float, float] | None = None
    languages: list[str] = field(default_factory=list)
    eu_mission: bool | None = None
    networks: list[str] = field(default_factory=list)
    profiled_only: bool = bool(DEFAULT_SETTINGS["profiled_only"])

    def population_range(self) -> tuple[float, float] | None:
        if self.size_band is None:
            return None
        if isinstance(self.size_band, str):
            if self.size_band not in SIZE_BANDS:
                raise ConfigError(f"Unknown size band '{self.size_band}'. Bands: {', '.join(SIZE_BANDS)}.")
            return SIZE_BANDS[self.size_band]
        low, high = self.size_band
        return float(low), float(high)

    def country_list(self) -> list[str]:
        """The filter's countries as ISO codes; an unknown code is an error, not an empty result."""
        return _known_codes(self.countries, str.upper, country_codes(), "country code (ISO 3166-1 alpha-2, e.g. DE, FR)")

    def language_list(self) -> list[str]:
        return _known_codes(self.languages, str.lower, language_codes(), "language code (ISO 639-1, e.g. de, fr)")


def _known_codes(values, fold, known, what: str) -> list[str]:
    codes = [fold(str(v).strip()) for v in values]
    unknown = [c for c in codes if c not in known]
    if unknown:
        raise ConfigError(f"'{unknown[0]}' is not a known {what}.")
    return codes


class CandidatePool:
    """The profile columns filters read, as arrays built once per profile table."""

    def __init__(self, profiles: pd.DataFrame):
        self.profiles = profiles
        self.n = len(profiles)
        self.country = profiles["country_code"].to_numpy(dtype=object)
        self.population = pd.to_numeric(profiles["population"], errors="coerce").to_numpy(dtype=float)
        self.profiled = profiles["has_climate_profile"].to_numpy(dtype=bool)
        self.eu_mission = profiles["eu_mission"].to_numpy(dtype=bool)
        # List columns as flat label codes per row, built on first use: per-row Python sets cost
        # ~0.5 GB and seconds at 1M profiles.
        self._list_codes: dict[str, tuple[np.ndarray, np.ndarray, pd.Index]] = {}

    def mask(self, filters: TwinFilters, asker_country: str | None = None, exclude_rows=()) -> np.ndarray:
        """True where a row passes every filter and is not excluded (same country when
        `asker_country` is given, and `exclude_rows`)."""
        mask = np.ones(self.n, dtype=bool)
        if filters.profiled_only:
            mask &= self.profiled
        if filters.countries:
            mask &= np.isin(self.country, filters.country_list())
        pop_range = filters.population_range()
        if pop_range:
            with np.errstate(invalid="ignore"):
                mask &= (self.population >= pop_range[0]) & (self.population < pop_range[1])
        if filters.languages:
            mask &= self.rows_with("languages", set(filters.language_list()))
        if filters.eu_mission is not None:
            mask &= self.eu_mission == filters.eu_mission
        if filters.networks:
            mask &= self.rows_with("networks", set(filters.networks))
        if asker_country:
            mask &= self.country != asker_country
        for row in exclude_rows:
            mask[int(row)] = False
        return mask

    def rows_with(self, column: str, wanted: set[str]) -> np.ndarray:
        """Rows whose list `column` holds any of `wanted` (vectorised over flat label codes)."""
        if column not in self._list_codes:
            values = self.profiles[column]
            lengths = np.fromiter((len(v) if v is not None and not isinstance(v, float) else 0 for v in values),
                                  dtype=np.int64, count=len(values))
            flat = [x for v in values if v is not None and not isinstance(v, float) for x in v]
            codes, labels = pd.factorize(pd.Series(flat, dtype=object))
            row_of = np.repeat(np.arange(len(values), dtype=np.int64), lengths)
            self._list_codes[column] = (codes.astype(np.int32), row_of, pd.Index(labels))
        codes, row_of, labels = self._list_codes[column]
        mask = np.zeros(self.n, dtype=bool)
        wanted_codes = [i for i, label in enumerate(labels) if label in wanted]
        if wanted_codes:
            mask[row_of[np.isin(codes, wanted_codes)]] = True
        return mask
