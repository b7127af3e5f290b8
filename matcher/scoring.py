"""The shapes every explained score shares: a score is a list of terms (weight x similarity)
that add up, a match carries its terms and reasons, and a result carries the asker, the weights
used and the ranked matches. Twins, mentors, case studies and reviews all use these."""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

from .errors import ConfigError


@dataclass
class Term:
    """One term of a score: weight x similarity of one facet (or of a case-study signal such as
    "semantic" or "peer", or the mentor bonus), and what it rests on in words."""

    name: str
    weight: float
    similarity: float
    contribution: float
    detail: str
    label: str = ""  # the users' word for `name` ("Priority sectors"), from the facet registry


@dataclass(kw_only=True)
class Match:
    """A ranked, explained item: its score is the sum of its terms' contributions."""

    score: float
    rank: int
    explanation: list[Term]
    reasons: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class Result:
    """What a recommender returns: who asked (a profile, or None for a text search), the query
    text (a theme or a search), the weights in force and the ranked matches."""

    mode: str  # "twins", "mentors", "case search", "cases for a city"
    asker: dict | None
    weights: dict[str, float]
    matches: list
    query: str | None = None

    @property
    def mentor(self) -> bool:
        return self.mode == "mentors"

    def to_records(self) -> list[dict]:
        return [m.to_dict() for m in self.matches]


def normalise_weights(weights: dict | None, defaults: dict[str, float], what: str = "facet") -> dict[str, float]:
    """Merge user weights over the defaults, check them, and scale them to sum to 1.

    Scaling to 1 keeps every score in [0, 1] whatever the user sets, so scores stay comparable
    between weightings; the ranking is unchanged by it. Values are divided by the largest before
    summing, so huge weights (1e308) cannot overflow the sum.
    """
    merged = dict(defaults)
    for name, value in (weights or {}).items():
        if name not in merged:
            raise ConfigError(f"Unknown {what} '{name}' in weights. Valid: {', '.join(defaults)}.")
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise ConfigError(f"Weight of {what} '{name}' must be a number, got {value!r}.") from None
        if not (number >= 0 and math.isfinite(number)):
            raise ConfigError(f"Weight of {what} '{name}' must be a finite number >= 0, got {value}.")
        merged[name] = number
    largest = max(merged.values(), default=0.0)
    if largest <= 0:
        raise ConfigError(f"At least one {what} weight must be above 0.")
    scaled = {name: value / largest for name, value in merged.items()}
    total = math.fsum(scaled.values())
    return {name: scaled[name] / total for name in defaults}


def check_k(k, what: str = "k") -> int:
    """A result count as given by a caller: a whole number of at least 1."""
    if isinstance(k, bool) or not isinstance(k, int):
        if isinstance(k, float) and k.is_integer():
            k = int(k)
        else:
            raise ConfigError(f"{what} must be a whole number of at least 1, got {k!r}.")
    if k < 1:
        raise ConfigError(f"{what} must be at least 1, got {k}.")
    return k


def ranked(matches: list, k: int, key=lambda m: m.score, tie=lambda m: "") -> list:
    """The k best by score (ties by `tie`), numbered from 1."""
    matches.sort(key=lambda m: (-key(m), tie(m)))
    for i, m in enumerate(matches[:k], start=1):
        m.rank = i
    return matches[:k]
