"""Twin and mentor recommendations with explanations that add up to the score.

score(q, x) = sum_f w_f * sim_f(q, x): the query's block f is scaled by w_f (weights sum to
1), one FAISS inner-product search ranks by the weighted score, and the explanation is the
list of its terms. Mentor mode adds one more explained term: a bonus for peers that are
ahead where the asker is stuck.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd

from .config import SETTING_DEFAULTS, SIZE_BANDS, default_data_dir, default_index_dir, normalise_weights
from .errors import ConfigError, IndexMismatchError, ProfileValidationError
from .features import CachedEncoder, ProfileFeaturizer, SentenceTransformerEncoder, haversine_km
from .features.text import Encoder, model_slug
from .index import FORMAT_VERSION, VectorIndex, build_index, layout_hash, open_index, save_index
from .io import file_sha256, load_profiles, read_validated_profiles, shipped_profiles_path
from .lookup import CityLookup, resolve_city_ids
from .schema import MATURITY_LEVELS, profile_from_dict, schema_fingerprint

MENTOR_PARTS = {"maturity": 0.35, "target": 0.35, "experience": 0.30}
VALIDATED_PROFILES = "profiles.parquet"  # the validated table, kept with the index
LOOKUP_KEYS = "lookup_keys.parquet"  # folded name keys of those profiles
MENTOR_POOL = 500  # candidates reranked in mentor mode (the best by context similarity)


@dataclass
class Contribution:
    """One term of a score: weight x similarity of one facet, and what it rests on."""

    facet: str
    weight: float
    similarity: float
    contribution: float
    detail: str


@dataclass
class TwinMatch:
    city_id: str
    name: str
    country_code: str
    score: float
    rank: int
    explanation: list[Contribution]
    reasons: list[str] = field(default_factory=list)
    not_compared: list[str] = field(default_factory=list)
    population: float | None = None
    lat: float | None = None
    lon: float | None = None

    def to_dict(self) -> dict:
        d = asdict(self)
        return d


@dataclass
class TwinFilters:
    """Which candidates may be recommended. Empty fields do not filter."""

    countries: list[str] = field(default_factory=list)
    size_band: str | tuple[float, float] | None = None
    languages: list[str] = field(default_factory=list)
    eu_mission: bool | None = None
    networks: list[str] = field(default_factory=list)
    profiled_only: bool = bool(SETTING_DEFAULTS["profiled_only"])

    def population_range(self) -> tuple[float, float] | None:
        if self.size_band is None:
            return None
        if isinstance(self.size_band, str):
            if self.size_band not in SIZE_BANDS:
                raise ConfigError(f"Unknown size band '{self.size_band}'. Bands: {', '.join(SIZE_BANDS)}.")
            return SIZE_BANDS[self.size_band]
        low, high = self.size_band
        return float(low), float(high)


@dataclass
class TwinResult:
    """The asker, the weights used and the ranked matches."""

    asker: dict
    weights: dict[str, float]
    mentor: bool
    matches: list[TwinMatch]
    theme: str | None = None

    def to_records(self) -> list[dict]:
        return [m.to_dict() for m in self.matches]


def _fmt_pop(p) -> str:
    return f"{int(p):,}" if p is not None and not pd.isna(p) else "unknown"


def _has(value) -> bool:
    if value is None:
        return False
    if isinstance(value, (list, tuple, np.ndarray)):
        return len(value) > 0
    try:
        return not pd.isna(value)
    except (TypeError, ValueError):
        return True


class TwinRecommender:
    """Profiles + featurizer + index; answers twin and mentor queries."""

    def __init__(self, profiles: pd.DataFrame, featurizer: ProfileFeaturizer, index: VectorIndex,
                 case_studies: pd.DataFrame | None = None, lookup: CityLookup | None = None):
        if list(index.ids) != list(profiles["city_id"]):
            raise IndexMismatchError("The index rows do not match the profile rows. Rebuild with `matcher build`.")
        self.profiles = profiles
        self.featurizer = featurizer
        self.index = index
        self.lookup = lookup or CityLookup(profiles)
        if case_studies is not None and "city_id" not in case_studies.columns:
            case_studies = case_studies.assign(city_id=resolve_city_ids(
                self.lookup, case_studies["city"], case_studies["country_code"]))
        self.case_studies = case_studies
        # Case studies by city, so the mentor bonus does not scan the whole library per peer.
        self._cases_by_city: dict[str, list[dict]] = {}
        if case_studies is not None:
            for case in case_studies.to_dict("records"):
                if isinstance(case.get("city_id"), str):
                    self._cases_by_city.setdefault(case["city_id"], []).append(case)
        self._country = profiles["country_code"].to_numpy(dtype=object)
        self._population = pd.to_numeric(profiles["population"], errors="coerce").to_numpy(dtype=float)
        self._profiled = profiles["has_climate_profile"].to_numpy(dtype=bool)
        self._eu_mission = profiles["eu_mission"].to_numpy(dtype=bool)
        # List columns for the language and network filters, as flat label codes per row, built
        # on first use: per-row Python sets cost ~0.5 GB and seconds at 1M profiles.
        self._list_codes: dict[str, tuple[np.ndarray, np.ndarray, pd.Index]] = {}

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_data(cls, data_dir: str | Path | None = None, index_dir: str | Path | None = None,
                  encoder: Encoder | None = None, build: str = "missing",
                  progress: Callable[[str], None] | None = None) -> "TwinRecommender":
        """Load the shipped (or given) profiles and their index.

        build="missing" builds the index when none exists; "stale" also rebuilds one made for
        other data or settings; "always" rebuilds; "never" only loads. A mismatched index is
        never used as is.
        """
        say = progress or (lambda msg: None)
        data_dir = Path(data_dir or default_data_dir())
        index_dir = Path(index_dir or default_index_dir())
        profile_path = shipped_profiles_path(data_dir)
        if not profile_path.is_file():
            raise ProfileValidationError([{"file": str(profile_path), "row": None, "column": None, "value": None,
                                           "message": "profile file not found"}], str(profile_path))
        base_encoder = encoder or SentenceTransformerEncoder(str(SETTING_DEFAULTS["model_name"]))
        cached = CachedEncoder(base_encoder, index_dir / "embedding_cache" / f"{model_slug(base_encoder.model_id)}.npz")
        featurizer = ProfileFeaturizer(cached).fit()
        expected = {
            "format_version": FORMAT_VERSION,
            "model_id": cached.model_id,
            "data_sha256": file_sha256(profile_path),
            "layout_sha256": layout_hash(featurizer.spec()),
            "schema_sha256": schema_fingerprint(),
        }
        index = open_index(index_dir, expected, build, say)
        if index is not None:
            # Same profile bytes and same schema code as at build time: the table validated
            # then is reused, so a warm start does not validate 20,000 rows again.
            profiles = read_validated_profiles(index.folder / VALIDATED_PROFILES)
            lookup = CityLookup(profiles, pd.read_parquet(index.folder / LOOKUP_KEYS))
        else:
            say(f"Reading profiles from {profile_path}")
            profiles = load_profiles(profile_path)
            lookup = CityLookup(profiles)
            index = cls._build(profiles, featurizer, expected, index_dir, cached, say)
        return cls(profiles, featurizer, index, _load_case_studies(data_dir), lookup)

    @staticmethod
    def _build(profiles, featurizer, expected, index_dir, cached, say) -> VectorIndex:
        say(f"Building the twin index for {len(profiles):,} profiles (embedding narratives; "
            "cached texts are not encoded again)")
        vectors = featurizer.transform(profiles)
        cached.save()
        manifest = dict(expected)
        manifest.update({"facet_layout": featurizer.spec(), "data_file": "city_profiles/cities.parquet",
                         "normalize": True})
        index = build_index(vectors, profiles["city_id"], manifest)
        save_index(index, index_dir, tables={VALIDATED_PROFILES: profiles,
                                             LOOKUP_KEYS: CityLookup.key_table(profiles)})
        say(f"Index saved in {index_dir} ({index.n:,} rows, {index.faiss_index.d} dimensions)")
        return index

    @classmethod
    def from_profiles(cls, profiles: pd.DataFrame, encoder: Encoder) -> "TwinRecommender":
        """An in-memory recommender over a validated table (tests, uploaded network data)."""
        featurizer = ProfileFeaturizer(encoder).fit()
        vectors = featurizer.transform(profiles)
        manifest = {"model_id": encoder.model_id, "layout_sha256": layout_hash(featurizer.spec())}
        return cls(profiles, featurizer, build_index(vectors, profiles["city_id"], manifest))

    # ------------------------------------------------------------------ queries
    def resolve(self, city: str, country: str | None = None) -> int:
        return self.lookup.resolve(city, country)

    def _weight_vector(self, weights: dict[str, float]) -> np.ndarray:
        w = np.zeros(self.featurizer.dim_, dtype=np.float32)
        for facet, sl in self.featurizer.facet_slices_.items():
            w[sl] = weights[facet]
        return w

    def _query(self, city, country, profile) -> tuple[np.ndarray, dict, int | None]:
        if profile is not None:
            table = profile if isinstance(profile, pd.DataFrame) else profile_from_dict(profile)
            row = table.iloc[0].to_dict()
            return self.featurizer.transform(table)[0], row, None
        if city is None:
            raise ConfigError("Give a city name (or id) or a profile.")
        r = self.resolve(city, country)
        return self.index.vectors([r])[0].copy(), self.profiles.iloc[r].to_dict(), r

    def candidate_mask(self, filters: TwinFilters, asker: dict, asker_row: int | None,
                       exclude_same_country: bool, exclude: list[str]) -> np.ndarray:
        mask = np.ones(self.index.n, dtype=bool)
        if filters.profiled_only:
            mask &= self._profiled
        if filters.countries:
            mask &= np.isin(self._country, [c.upper() for c in filters.countries])
        pop_range = filters.population_range()
        if pop_range:
            with np.errstate(invalid="ignore"):
                mask &= (self._population >= pop_range[0]) & (self._population < pop_range[1])
        if filters.languages:
            mask &= self._rows_with("languages", {code.lower() for code in filters.languages})
        if filters.eu_mission is not None:
            mask &= self._eu_mission == filters.eu_mission
        if filters.networks:
            mask &= self._rows_with("networks", set(filters.networks))
        if exclude_same_country and asker.get("country_code"):
            mask &= self._country != asker["country_code"]
        for name in exclude or []:
            mask[self.resolve(name)] = False
        if asker_row is not None:
            mask[asker_row] = False
        return mask

    def _rows_with(self, column: str, wanted: set[str]) -> np.ndarray:
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
        mask = np.zeros(self.index.n, dtype=bool)
        wanted_codes = [i for i, label in enumerate(labels) if label in wanted]
        if wanted_codes:
            mask[row_of[np.isin(codes, wanted_codes)]] = True
        return mask

    def recommend(self, city: str | None = None, *, country: str | None = None, profile=None,
                  k: int = 10, weights: dict[str, float] | None = None,
                  filters: TwinFilters | None = None, exclude_same_country: bool = False,
                  exclude: list[str] | None = None, theme: str | None = None,
                  mentor: bool = False) -> TwinResult:
        if k < 1:
            raise ConfigError(f"k must be at least 1, got {k}.")
        filters = filters or TwinFilters()
        w = normalise_weights(weights)
        q, asker, asker_row = self._query(city, country, profile)
        mask = self.candidate_mask(filters, asker, asker_row, exclude_same_country, exclude or [])
        q = self._with_theme(q, theme)
        fetch = max(MENTOR_POOL, k) if mentor else k
        rows, scores = self.index.search(q * self._weight_vector(w), fetch, allowed=mask)
        mentor_terms = {}
        if mentor:
            # Rerank the pool by context + bonus, then explain only the k that are kept.
            mw = float(SETTING_DEFAULTS["mentor_weight"])
            mentor_terms = {int(r): self._mentor_term(asker, int(r), mw) for r in rows}
            total = scores.astype(np.float64) + np.array([mentor_terms[int(r)].contribution for r in rows])
            order = sorted(range(len(rows)), key=lambda i: (-total[i], self.index.ids[rows[i]]))[:k]
            rows = rows[order]
        matches = self._explain(q, asker, rows, w, theme)
        for m, r in zip(matches, rows):
            if mentor:
                m.explanation.append(mentor_terms[int(r)])
                m.score = float(sum(c.contribution for c in m.explanation))
        matches.sort(key=lambda m: (-m.score, m.city_id))
        matches = matches[:k]
        for i, m in enumerate(matches, start=1):
            m.rank = i
        return TwinResult(asker=_public(asker), weights=w, mentor=mentor, matches=matches, theme=theme)

    def _with_theme(self, q: np.ndarray, theme: str | None) -> np.ndarray:
        """A theme joins the query's narrative: the block becomes the normalised sum of both."""
        if not (theme and theme.strip()):
            return q
        q = q.copy()
        sl = self.featurizer.facet_slices_["narrative"]
        mixed = q[sl] + self.featurizer.embed_text(theme.strip())
        q[sl] = mixed / max(float(np.linalg.norm(mixed)), 1e-12)
        return q

    def ranked_rows(self, row: int, weights: dict[str, float] | None = None,
                    filters: TwinFilters | None = None) -> np.ndarray:
        """Every allowed candidate row for an indexed city, best first (scores only; evaluation)."""
        w = normalise_weights(weights)
        asker = self.profiles.iloc[row].to_dict()
        mask = self.candidate_mask(filters or TwinFilters(), asker, row, False, [])
        q = self.index.vectors([row])[0] * self._weight_vector(w)
        rows, _ = self.index.search(q, int(mask.sum()), allowed=mask)
        return rows

    def similarity_matrix(self, rows, weights: dict[str, float] | None = None) -> np.ndarray:
        """Weighted twin scores between the given profile rows (n x n, symmetric): the affinity
        that cohort planning and reviewer assignment optimise. Diagonal included."""
        w = self._weight_vector(normalise_weights(weights)).astype(np.float64)
        X = self.index.vectors(np.asarray(rows, dtype=np.int64)).astype(np.float64)
        return (X * w) @ X.T

    def explain_pair(self, row_a: int, row_b: int, weights: dict[str, float] | None = None) -> TwinMatch:
        """The explained twin score of one pair, as `recommend` would show it."""
        w = normalise_weights(weights)
        q = self.index.vectors([row_a])[0]
        match = self._explain(q, self.profiles.iloc[row_a].to_dict(), np.array([row_b]), w, None)[0]
        match.rank = 1
        return match

    # ------------------------------------------------------------------ explanations
    def _explain(self, q: np.ndarray, asker: dict, rows: np.ndarray, w: dict, theme) -> list[TwinMatch]:
        X = self.index.vectors(rows).astype(np.float64)
        q64 = q.astype(np.float64)
        out = []
        for x, r in zip(X, rows):
            peer = self.profiles.iloc[int(r)].to_dict()
            terms, unknown = [], {}
            for facet, sl in self.featurizer.facet_slices_.items():
                sim = float(q64[sl] @ x[sl])
                detail, missing = self._detail(facet, asker, peer, sim, theme)
                if missing:
                    unknown.setdefault(missing[1], []).append(missing[0])
                terms.append(Contribution(facet, w[facet], sim, w[facet] * sim, detail))
            not_compared = [f"not compared, unknown for {who}: {', '.join(whats)}" for who, whats in unknown.items()]
            score = float(sum(t.contribution for t in terms))
            reasons = [t.detail for t in sorted(terms, key=lambda t: -t.contribution)
                       if t.contribution > 0.005 and t.detail]
            reasons += _shared_memberships(asker, peer)
            out.append(TwinMatch(
                city_id=peer["city_id"], name=peer["name"], country_code=peer["country_code"],
                score=score, rank=0, explanation=terms, reasons=reasons, not_compared=not_compared,
                population=None if pd.isna(peer.get("population")) else float(peer["population"]),
                lat=None if pd.isna(peer.get("lat")) else float(peer["lat"]),
                lon=None if pd.isna(peer.get("lon")) else float(peer["lon"]),
            ))
        return out

    def _detail(self, facet: str, a: dict, b: dict, sim: float, theme) -> tuple[str, tuple | None]:
        """Concrete wording for one facet, and (what, for whom) when it is unknown on a side."""
        an, bn = a.get("name") or "you", b["name"]

        def missing(what: str, col: str | tuple) -> tuple | None:
            cols = (col,) if isinstance(col, str) else col
            a_has = all(_has(a.get(c)) for c in cols)
            b_has = all(_has(b.get(c)) for c in cols)
            if a_has and b_has:
                return None
            return (what, "both" if not (a_has or b_has) else (an if not a_has else bn))

        if facet == "size":
            m = missing("population", "population")
            if m:
                return "", m
            pa, pb = float(a["population"]), float(b["population"])
            ratio = max(pa, pb) / min(pa, pb)
            return f"population {_fmt_pop(pb)} vs {_fmt_pop(pa)} (a factor of {ratio:.1f})", None
        if facet == "target":
            m = missing("target year", "net_zero_target_year")
            if m:
                return "", m
            return f"net-zero target {int(b['net_zero_target_year'])} vs {int(a['net_zero_target_year'])}", None
        if facet == "maturity":
            m = missing("maturity", "maturity")
            if m:
                return "", m
            return f"maturity {b['maturity']} vs {a['maturity']}", None
        if facet in ("barriers", "sectors", "co_benefits", "funding_gaps"):
            col = {"sectors": "priority_sectors"}.get(facet, facet)
            label = {"barriers": "barriers", "sectors": "priority sectors", "co_benefits": "co-benefits",
                     "funding_gaps": "funding gaps"}[facet]
            m = missing(label, col)
            if m:
                return "", m
            own_a, own_b = list(a[col]), list(b[col])
            shared = [x for x in own_a if x in own_b]
            parts = []
            if shared:
                parts.append(f"shared {label}: " + "; ".join(shared))
            if facet == "barriers":
                block = self.featurizer.block("barriers")
                exp_a, exp_b = block.expand(own_a), block.expand(own_b)
                related = [p for p in exp_a if p in exp_b and p not in shared]
                for parent in related:
                    # the wordings, beyond those already shared, that meet in this survey category
                    ka = [x for x in own_a if x not in shared and (x == parent or (block.parents or {}).get(x) == parent)]
                    kb = [x for x in own_b if x not in shared and (x == parent or (block.parents or {}).get(x) == parent)]
                    if ka and kb:
                        parts.append(f"related barriers (survey category '{parent}'): "
                                     f"{'; '.join(kb)} ({bn}) / {'; '.join(ka)} ({an})")
            return ("; ".join(parts) if parts else f"no {label} in common"), None
        if facet == "languages":
            m = missing("languages", "languages")
            if m:
                return "", m
            common = [x for x in a["languages"] if x in b["languages"]]
            if common:
                return "common language: " + ", ".join(common), None
            return f"no common language ({', '.join(b['languages'])} vs {', '.join(a['languages'])})", None
        if facet == "geography":
            m = missing("location", ("lat", "lon"))
            if m:
                return "", m
            km = haversine_km(float(a["lat"]), float(a["lon"]), float(b["lat"]), float(b["lon"]))
            return f"{km:,.0f} km apart", None
        if facet == "narrative":
            has_a = _has(a.get("narrative")) or bool(theme)
            if not has_a or not _has(b.get("narrative")):
                who = "both" if not (has_a or _has(b.get("narrative"))) else (an if not has_a else bn)
                return "", ("climate narrative", who)
            what = "narrative and theme" if theme else "narratives"
            return f"{what} similar in meaning (cosine {sim:.2f})", None
        return "", None

    def _mentor_term(self, asker: dict, row: int, weight: float) -> Contribution:
        peer = self.profiles.iloc[int(row)].to_dict()
        parts, notes = {}, []
        levels = {lv: i for i, lv in enumerate(MATURITY_LEVELS)}
        ma, mb = asker.get("maturity"), peer.get("maturity")
        if _has(mb) and (not _has(ma) or levels[mb] > levels[ma]):
            parts["maturity"] = 1.0 if _has(ma) else 0.5
            notes.append(f"maturity {mb}" + (f" vs your {ma}" if _has(ma) else ""))
        ta, tb = asker.get("net_zero_target_year"), peer.get("net_zero_target_year")
        if _has(tb) and (not _has(ta) or int(tb) < int(ta)):
            parts["target"] = 1.0
            notes.append(f"target {int(tb)}" + (f" vs your {int(ta)}" if _has(ta) else " (you have none)"))
        relevant = self._relevant_experience(asker, peer)
        if relevant:
            parts["experience"] = min(1.0, len(relevant) / 2)
            notes.append("experience: " + "; ".join(relevant[:3]))
        raw = sum(MENTOR_PARTS[p] * v for p, v in parts.items())
        detail = ("ahead of you: " + "; ".join(notes)) if notes else "no sign of being ahead where you are stuck"
        return Contribution("mentor", weight, raw, weight * raw, detail)

    def _relevant_experience(self, asker: dict, peer: dict) -> list[str]:
        """Peer case studies (and initiatives) touching the asker's barriers or sectors."""
        barriers = set(self.featurizer.block("barriers").expand(asker.get("barriers") or []))
        sectors = {s.lower() for s in (asker.get("priority_sectors") or [])}
        found = []
        for c in self._cases_by_city.get(peer["city_id"], []):
            if barriers & set(c["barriers_addressed"]) or sectors & {s.lower() for s in c["sectors"]}:
                found.append(f"case study '{c['title']}'")
        shared_sectors = [s for s in (peer.get("priority_sectors") or []) if s.lower() in sectors]
        if len(peer.get("initiatives") or []) and shared_sectors:
            listed = "; ".join(f"'{i}'" for i in list(peer["initiatives"])[:2])
            found.append(f"documented initiatives ({listed}) and your priority sectors "
                         f"({', '.join(shared_sectors)})")
        return found


def _shared_memberships(a: dict, b: dict) -> list[str]:
    out = []
    if a.get("eu_mission") and b.get("eu_mission"):
        out.append("both are EU Mission climate-neutral cities")
    shared = [n for n in (a.get("networks") or []) if n in (b.get("networks") or []) and n != "EU Mission 100"]
    if shared:
        out.append("both in " + ", ".join(shared))
    return out


def _public(row: dict) -> dict:
    keep = ("city_id", "name", "country_code", "population", "lat", "lon", "languages", "net_zero_target_year",
            "maturity", "barriers", "priority_sectors", "known_facets", "completeness")
    out = {}
    for key in keep:
        value = row.get(key)
        if isinstance(value, np.ndarray):
            value = value.tolist()
        if isinstance(value, float) and math.isnan(value):
            value = None
        if value is pd.NA:
            value = None
        out[key] = value
    return out


def _load_case_studies(data_dir: Path) -> pd.DataFrame | None:
    """The data folder's case studies, for the mentor bonus (absent folder: no case studies)."""
    path = Path(data_dir) / "case_studies" / "case_studies.parquet"
    if not path.is_file():
        return None
    from .case_studies import load_case_studies

    return load_case_studies(path)


_DEFAULT: dict[tuple, TwinRecommender] = {}


def recommend_twins(city: str | None = None, k: int = 10, weights: dict[str, float] | None = None,
                    filters: TwinFilters | None = None, exclude: list[str] | None = None, *,
                    country: str | None = None, profile=None, theme: str | None = None,
                    mentor: bool = False, exclude_same_country: bool = False,
                    data_dir=None, index_dir=None) -> TwinResult:
    """Library entry point: ranked, explained twins of a shipped city or of a profile dict."""
    key = (str(data_dir), str(index_dir))
    if key not in _DEFAULT:
        _DEFAULT[key] = TwinRecommender.from_data(data_dir, index_dir)
    return _DEFAULT[key].recommend(city, country=country, profile=profile, k=k, weights=weights,
                                   filters=filters, exclude=exclude, theme=theme, mentor=mentor,
                                   exclude_same_country=exclude_same_country)
