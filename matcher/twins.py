"""Twin and mentor recommendations with explanations that add up to the score.

score(q, x) = sum_f w_f * sim_f(q, x): the query's block f is scaled by w_f (weights sum to
1), one FAISS inner-product search ranks by the weighted score, and the explanation is the
list of its terms. Mentor mode adds one more explained term: a bonus for peers that are
ahead where the asker is stuck; two-way twins add what each side can teach the other
(matcher.mentor). Workspace edits are laid over the profiles and the index in place.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from .candidates import CandidatePool, TwinFilters
from .errors import ConfigError, IndexMismatchError
from .explain import TwinMatch, add_term, facet_terms, public_profile, twin_match
from .featurizer import ProfileFeaturizer
from .index import VectorIndex
from .lookup import CityLookup
from .mentor import Experience, mentor_term, two_way_term
from .overlay import overlay_profiles
from .schema import profile_from_dict
from .scoring import Result, Term, check_k, normalise_weights

MENTOR_POOL = 500  # candidates reranked in mentor mode (the best by context similarity)

__all__ = ["MENTOR_POOL", "Query", "TwinFilters", "TwinMatch", "TwinRecommender"]


@dataclass
class Query:
    """An asking city: its vector, its profile row and its row in the index (None: not indexed)."""

    vector: np.ndarray
    asker: dict
    row: int | None


class TwinRecommender:
    """Profiles + featurizer + index: answers twin and mentor queries. Built by the composition
    root (matcher.Matcher) or `matcher.builds.twins_in_memory`."""

    def __init__(self, profiles: pd.DataFrame, featurizer: ProfileFeaturizer, index: VectorIndex,
                 lookup: CityLookup | None = None, experience: Experience | None = None):
        if list(index.ids) != list(profiles["city_id"]):
            raise IndexMismatchError("The index rows do not match the profile rows. Rebuild with `matcher build`.")
        self.profiles = profiles
        self.featurizer = featurizer
        self.index = index
        self.lookup = lookup or CityLookup(profiles)
        self.pool = CandidatePool(profiles)
        self.experience = experience or Experience()
        self.settings = featurizer.settings

    def apply_profiles(self, edited: pd.DataFrame) -> list[str]:
        """Lay edited (validated) profiles over the table and put their vectors into the index in
        place, without a rebuild (a workspace edit joins the results at once); the ids changed."""
        change = overlay_profiles(self.profiles, edited)
        rows = change.changed_rows + change.new_rows
        if not rows:
            return []
        X = self.featurizer.transform(change.profiles.iloc[rows])
        n_changed = len(change.changed_rows)
        self.index.apply_changes(change.changed_rows, X[:n_changed], X[n_changed:],
                                 change.profiles["city_id"].iloc[change.new_rows].tolist())
        self.profiles = change.profiles
        self.lookup = self.lookup.with_rows(self.profiles, rows)
        self.pool = CandidatePool(self.profiles)
        return self.profiles["city_id"].iloc[rows].tolist()

    # ------------------------------------------------------------------ what other modules read
    def resolve(self, city: str, country: str | None = None) -> int:
        return self.lookup.resolve(city, country)

    def row_of_id(self, city_id: str) -> int | None:
        return self.lookup.row_of_id(city_id)

    def vectors(self, rows) -> np.ndarray:
        return self.index.vectors(rows)

    def weights(self, weights: dict[str, float] | None = None) -> dict[str, float]:
        """User weights over the registry defaults, scaled to sum to 1."""
        return normalise_weights(weights, self.featurizer.default_weights)

    def weight_vector(self, weights: dict[str, float] | None = None) -> np.ndarray:
        return self.featurizer.weight_vector(self.weights(weights))

    def query(self, city: str | None = None, country: str | None = None, profile=None) -> Query:
        """A city of the data (name or id) or a profile (dict or one-row table) as a query."""
        if profile is not None:
            table = profile if isinstance(profile, pd.DataFrame) else profile_from_dict(profile)
            return Query(self.featurizer.transform(table)[0], table.iloc[0].to_dict(), None)
        if city is None:
            raise ConfigError("Give a city name (or id) or a profile.")
        row = self.resolve(city, country)
        return Query(self.index.vectors([row])[0].copy(), self.profiles.iloc[row].to_dict(), row)

    def candidate_mask(self, filters: TwinFilters, asker: dict, asker_row: int | None,
                       exclude_same_country: bool = False, exclude=()) -> np.ndarray:
        rows = [self.resolve(name) for name in exclude or []] + ([asker_row] if asker_row is not None else [])
        same = asker.get("country_code") if exclude_same_country else None
        return self.pool.mask(filters, same, rows)

    # ------------------------------------------------------------------ recommendations
    def recommend(self, city: str | None = None, *, country: str | None = None, profile=None,
                  k: int | None = None, weights: dict[str, float] | None = None,
                  filters: TwinFilters | None = None, exclude_same_country: bool = False,
                  exclude: list[str] | None = None, theme: str | None = None, mentor: bool = False,
                  two_way: bool = False) -> Result:
        """The k best twins of a city of the data or of a described profile; `mentor` ranks peers
        ahead of it, `two_way` pairs where each side can teach the other (matcher.mentor)."""
        if mentor and two_way:
            raise ConfigError("Choose mentor mode or two-way twins, not both.")
        k = check_k(self.settings["top_k"] if k is None else k)
        w = self.weights(weights)
        query = self.query(city, country, profile)
        mask = self.candidate_mask(filters or TwinFilters(), query.asker, query.row, exclude_same_country, exclude)
        q = with_theme(self.featurizer, query.vector, theme)
        reranked = mentor or two_way
        rows, scores = self.index.search(q * self.featurizer.weight_vector(w), max(MENTOR_POOL, k) if reranked else k,
                                         allowed=mask)
        bonus: dict[int, Term] = {}
        if reranked:  # rerank the pool by context + bonus, then explain only the k that are kept
            term_of = self.mentor_term if mentor else self.two_way_term
            bonus = {int(r): term_of(query.asker, int(r)) for r in rows}
            total = scores.astype(np.float64) + np.array([bonus[int(r)].contribution for r in rows])
            rows = rows[sorted(range(len(rows)), key=lambda i: (-total[i], self.index.ids[rows[i]]))[:k]]
        matches = self._explain(q, query.asker, rows, w, theme)
        for m, r in zip(matches, rows):
            if reranked:
                add_term(m, bonus[int(r)])
        matches.sort(key=lambda m: (-m.score, m.city_id))
        for i, m in enumerate(matches[:k], start=1):
            m.rank = i
        mode = "mentors" if mentor else "two-way twins" if two_way else "twins"
        return Result(mode=mode, asker=public_profile(query.asker), weights=w, matches=matches[:k], query=theme)

    def _explain(self, q: np.ndarray, asker: dict, rows: np.ndarray, w: dict, theme) -> list[TwinMatch]:
        out = []
        for x, r in zip(self.index.vectors(rows), rows):
            peer = self.profiles.iloc[int(r)].to_dict()
            terms, not_compared, compared = facet_terms(self.featurizer.facets, self.featurizer.facet_slices_,
                                                        q, x, w, asker, peer, theme)
            out.append(twin_match(terms, not_compared, compared, asker, peer))
        return out

    def mentor_term(self, asker: dict, peer_row: int) -> Term:
        """How far the peer at `peer_row` is ahead of `asker`, as one term (matcher.mentor)."""
        return mentor_term(asker, self.profiles.iloc[int(peer_row)].to_dict(), float(self.settings["mentor_weight"]),
                           self.experience)

    def two_way_term(self, asker: dict, peer_row: int) -> Term:
        """What the asker and the peer at `peer_row` can teach each other, as one term."""
        return two_way_term(asker, self.profiles.iloc[int(peer_row)].to_dict(), float(self.settings["mentor_weight"]),
                            self.experience)

    # ------------------------------------------------------------------ pairs and matrices
    def ranked_rows(self, row: int, weights: dict[str, float] | None = None,
                    filters: TwinFilters | None = None) -> np.ndarray:
        """Every allowed candidate row for an indexed city, best first (scores only; evaluation)."""
        mask = self.candidate_mask(filters or TwinFilters(), self.profiles.iloc[row].to_dict(), row)
        rows, _ = self.index.search(self.index.vectors([row])[0] * self.weight_vector(weights), int(mask.sum()),
                                    allowed=mask)
        return rows

    def similarity_matrix(self, rows, weights: dict[str, float] | None = None) -> np.ndarray:
        """Weighted twin scores between the given profile rows (n x n, symmetric): the affinity
        that cohort planning and reviewer assignment optimise. Diagonal included."""
        w = self.weight_vector(weights).astype(np.float64)
        X = self.index.vectors(np.asarray(rows, dtype=np.int64)).astype(np.float64)
        return (X * w) @ X.T

    def explain_pair(self, row_a: int, row_b: int, weights: dict[str, float] | None = None,
                     two_way: bool = False) -> TwinMatch:
        """The explained twin score of one pair, as `recommend` would show it (with the two-way
        term when asked: then the score is the same whichever side asks)."""
        asker = self.profiles.iloc[row_a].to_dict()
        match = self._explain(self.index.vectors([row_a])[0], asker, np.array([row_b]), self.weights(weights), None)[0]
        if two_way:
            add_term(match, self.two_way_term(asker, row_b))
        match.rank = 1
        return match


def with_theme(featurizer: ProfileFeaturizer, q: np.ndarray, theme: str | None) -> np.ndarray:
    """A theme joins the query's narrative: the block becomes the normalised sum of both."""
    if not (theme and theme.strip()):
        return q
    q = q.copy()
    sl = featurizer.facet_slices_["narrative"]
    mixed = q[sl] + featurizer.embed_text(theme.strip())
    q[sl] = mixed / max(float(np.linalg.norm(mixed)), 1e-12)
    return q
