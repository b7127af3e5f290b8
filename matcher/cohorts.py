"""Cohort planning: split the cities of a call into learning cohorts of bounded size, with at
least m mentors each, at most k cities per country each, optionally a shared working language,
named cities kept together or apart, and the most total within-cohort similarity (the sum over
cohorts of the twin scores of every pair of members, `similarity_matrix`).

Mentor: a city is a mentor when its maturity is 'advanced', or when its maturity is not
'starting' and its own net-zero / climate-neutrality target is `mentor_target_year` (2030) or
earlier. Unknown maturity and no target: not a mentor.

Cohorts: by default the fewest that fit (ceil(N / max_size), or more when the largest country
needs more at `max_per_country` each): larger cohorts give each city
more peers, and the total pairwise similarity grows with them. `n_cohorts` overrides;
`balance_sizes` keeps sizes within one of each other.

Balanced cohorts (`balance`, e.g. ["stage"], ["size", "country"]): each cohort holds an even
share of each value of the facet, within `balance_tolerance`, as the NetZeroCities focus groups
were balanced by size, geography and maturity. Themed cohorts (`themes`, e.g. ["finance +
buildings", "governance + mobility"]): each cohort gets a theme and each city joins a cohort
whose theme fits it best (matcher.cohort_themes), explained per member.

How it is solved (matcher.cohort_search; the score is a weighted inner product, so the search
works on cohort sums of the vectors and never builds the n x n matrix):
1. start: k-means of the weighted vectors, then a min-cost flow of every city to the cluster
   centres under the size bounds, the theme mask and one counting rule (the k-means-constrained
   step); the other counting rules (country cap, mentors, balance, keep-apart) are repaired by
   swaps. CP-SAT places the first plan instead when the flow cannot express the rules (shared
   language, keep-together groups) or finds nothing; that solve also decides feasibility;
2. constrained Lloyd rounds: the flow again, to the current cohort sums (the linearised
   objective, which never makes the plan worse), then descent; several starts while time allows;
3. iterated local search: best-improvement moves and swaps on each city's top cohorts with exact
   objective changes, random feasible swaps as kicks, kept when not worse, until the time limit;
4. exact: when the call is small enough (N(N-1)/2 x cohorts <= `exact_limit`), the full
   pairwise model (same-cohort variables) is solved by CP-SAT from that plan; "optimal" means
   CP-SAT proved it.
How close to optimal: the proven optimum when step 4 proves it; otherwise an upper bound, the
smaller of CP-SAT's best bound and the sum over cities of their best possible partner
similarities (for each city the best sum of its top s-1 similarities, s a feasible size) / 2,
computed in blocks of rows.
When the rules cannot all hold, InfeasibleRulesError lists every broken rule at once, each with
the smallest change that makes it hold ("allow 3 per country", "cohorts of 6-12", ...).
"""
from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass, field

import numpy as np
import pandas as pd

from .errors import ConfigError
from .facets import has_value
from .mentor import is_mentor, mentor_rule_words, pathway_stage
from .network import InfeasibleRulesError, city_label, join_names, resolve_rows
from .cohort_themes import cohorts_per_theme, parse_theme, theme_allowed, theme_table, theme_words
from .cohort_search import (CohortState, CountRule, Layout, candidate_arcs, cohort_sums, flow_assign, ils,
                            repair, top_candidates)
from .protocols import TwinSpace
from .wording import Num, R_, Reason, Terms, country_code, joined, language_code, plural, survey_term

__all__ = ["CohortRules", "Cohort", "CohortPlan", "plan_cohorts", "cohort_bounds",
           "within_objective", "InfeasibleRulesError"]

SCALE = 10_000  # similarity -> integer CP-SAT coefficient
EXACT_LIMIT = 30_000  # pair x cohort terms up to which the exact pairwise model is run


@dataclass
class CohortRules:
    min_size: int = 7
    max_size: int = 12
    n_cohorts: int | None = None  # default: the fewest cohorts that fit
    min_mentors: int = 0
    max_per_country: int | None = None
    common_language: bool = False
    together: list = field(default_factory=list)  # groups of cities always in one cohort
    apart: list = field(default_factory=list)  # groups of cities never two in one cohort
    balance_sizes: bool = False
    mentor_target_year: int = 2030
    # facets balanced across cohorts ("stage", "maturity", "size", "country", "target_year",
    # "mentor" or a profile column): each cohort holds floor(n_v / G) - tolerance to
    # ceil(n_v / G) + tolerance cities of each value v (n_v cities of the call have it)
    balance: list = field(default_factory=list)
    balance_tolerance: int = 0
    # themes of the call ("finance + buildings", "mobility", ...; see cohort_themes): each cohort
    # gets one, each city joins a cohort whose theme is within theme_slack of its best fit
    themes: list = field(default_factory=list)
    theme_slack: float = 0.0

    def describe(self, G: int | None = None) -> list[str]:
        """The rules in force, in words (Reasons: the app shows them in its users' language)."""
        sizes = Reason("cohorts of {lo}-{hi} cities", lo=self.min_size, hi=self.max_size)
        out = [Reason("{sizes}, {cohorts}", sizes=sizes, cohorts=_cohorts(G)) if G else sizes]
        if self.balance_sizes:
            out.append(Reason("sizes differ by at most one"))
        if self.min_mentors:
            out.append(Reason("at least {k} mentor(s) per cohort ({mentor})", k=self.min_mentors,
                              mentor=mentor_rule_words(self.mentor_target_year)))
        if self.max_per_country:
            out.append(Reason("at most {k} cities per country per cohort", k=self.max_per_country))
        if self.common_language:
            out.append(Reason("a shared official language in every cohort"))
        if self.themes:
            themes = Terms((str(t) for t in self.themes), "; ")
            out.append(Reason("themed cohorts ({themes}), each city in a cohort of its best-fitting theme (within "
                              "{slack})", themes=themes, slack=Num(self.theme_slack, "g")) if self.theme_slack else
                       Reason("themed cohorts ({themes}), each city in a cohort of its best-fitting theme", themes=themes))
        for facet in self.balance:
            out.append(Reason("{facet} balanced (each cohort within {tolerance} of an even share of the call's mix)",
                              facet=facet_word(facet), tolerance=self.balance_tolerance))
        if self.together:
            out.append(Reason("{n} group(s) kept together", n=len(self.together)))
        if self.apart:
            out.append(Reason("{n} group(s) kept apart", n=len(self.apart)))
        return out


@dataclass
class Cohort:
    number: int
    members: list[dict]  # name, country_code, city_id, fit (mean similarity to the others), mentor, why
    size: int
    objective: float  # sum of the pairwise similarities inside the cohort
    mean_similarity: float
    mentors: list[str]
    shared_barriers: list[str]
    shared_sectors: list[str]
    common_languages: list[str]
    language: str | None
    population_range: str
    countries: dict[str, int]
    why: list[str]
    mix: dict = field(default_factory=dict)  # balanced facet -> value -> cities in this cohort
    theme: str | None = None


@dataclass
class CohortPlan:
    cohorts: list[Cohort]
    objective: float
    upper_bound: float
    gap: float  # 1 - objective / upper_bound (0 when proven optimal)
    optimal: bool
    solver: str
    bound_source: str
    rules: list[str]
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return asdict(self)

    def labels(self) -> dict[str, int]:
        """city_id -> cohort number."""
        return {m["city_id"]: c.number for c in self.cohorts for m in c.members}


def _cohorts(k: int) -> Reason:
    """'1 cohort', '3 cohorts'."""
    return plural(k, R_("{k} cohort"), R_("{k} cohorts"), k=k)


def _sizes(lo: int, hi: int) -> Reason:
    """'cohorts of 6-12' (a change of the size range)."""
    return Reason("cohorts of {lo}-{hi}", lo=lo, hi=hi)


def cohort_bounds(n: int, lo: int, hi: int, n_cohorts: int | None = None) -> tuple[int, tuple[str, str] | None]:
    """The number of cohorts, or why none fits as (reason, smallest fix) in plain words."""
    if lo < 1 or hi < lo:
        raise ConfigError(f"Cohort sizes must satisfy 1 <= min <= max, got {lo}-{hi}.")
    if n_cohorts is not None:
        G = int(n_cohorts)
        if G < 1:
            raise ConfigError("n_cohorts must be at least 1.")
        if G * lo > n:
            fix = _sizes(max(n // G, 1), hi)
            return G, (Reason("{n} cities cannot fill {G} cohorts of at least {lo} (they need {need})", n=n, G=G, lo=lo,
                              need=G * lo), Reason("{fix}, or {k} cohorts", fix=fix, k=n // lo) if n >= lo else fix)
        if G * hi < n:
            return G, (Reason("{n} cities do not fit in {G} cohorts of at most {hi} (they hold {room})", n=n, G=G,
                              hi=hi, room=G * hi),
                       Reason("{fix}, or {k} cohorts", fix=_sizes(lo, -(-n // G)), k=-(-n // hi)))
        return G, None
    G = math.ceil(n / hi)
    if n < lo:
        return max(G, 1), (Reason("{n} cities are fewer than the smallest cohort ({lo})", n=n, lo=lo),
                           Reason("{fix}, or {k} more cities", fix=_sizes(n, max(hi, n)), k=lo - n))
    if G * lo > n:
        return G, (Reason("{n} cities cannot be split into cohorts of {lo}-{hi}: {fewer} cohorts hold at most {room} "
                          "and {G} need at least {need}", n=n, lo=lo, hi=hi, fewer=G - 1, room=(G - 1) * hi, G=G,
                          need=G * lo),
                   Reason("{fix}, or of {lo}-{hi}", fix=_sizes(n // G, hi), lo=lo, hi=-(-n // (n // lo))))
    return G, None


SIZE_BANDS = ((50_000, R_("under 50k")), (250_000, "50k-250k"), (1_000_000, "250k-1M"), (float("inf"), R_("over 1M")))
TARGET_BANDS = ((2030, R_("2030 or earlier")), (2040, "2031-2040"), (2050, "2041-2050"),
                (float("inf"), R_("after 2050")))
# the words of the balanced facets and their values, translated when shown (the stored values stay)
WORDS = {R_("stage"), R_("maturity"), R_("size"), R_("country"), R_("target_year"), R_("mentor"), R_("not a mentor"),
         R_("unknown")} | {label for _, label in SIZE_BANDS + TARGET_BANDS if not label[0].isdigit() or " " in label}


def facet_word(facet: str):
    """A balanced facet ('size') as a word the app translates; a profile column stays as it is."""
    return Reason(facet) if facet in WORDS else facet


def value_word(facet: str, value):
    """A value of a balanced facet in words the app translates (a country's name, a maturity level
    of the survey, a size band); other values stay as they are."""
    if facet == "country" and value != "unknown":
        return country_code(value)
    if facet in ("stage", "maturity") and value != "unknown":
        return survey_term(value)
    return Reason(value) if value in WORDS else value


def facet_value(row: dict, facet: str, mentor_year: int = 2030) -> str | None:
    """The value of one balancing facet for a profile row (None: unknown, not counted)."""
    if facet == "stage":
        return pathway_stage(row)[0]
    if facet == "mentor":
        return "mentor" if is_mentor(row, mentor_year)[0] else "not a mentor"
    if facet in ("size", "target_year"):
        v = row.get("population") if facet == "size" else (row.get("net_zero_target_year")
                                                          if has_value(row.get("net_zero_target_year"))
                                                          else row.get("neutrality_target_year"))
        if not has_value(v):
            return None
        return next(label for top, label in (SIZE_BANDS if facet == "size" else TARGET_BANDS) if float(v) <= top)
    if facet == "country":
        facet = "country_code"
    v = row.get(facet)
    return str(v) if has_value(v) and not isinstance(v, (list, tuple, np.ndarray)) else None


def within_objective(S: np.ndarray, labels: np.ndarray) -> float:
    """Sum over cohorts of the pairwise similarities of their members."""
    labels = np.asarray(labels)
    same = labels[:, None] == labels[None, :]
    return float((np.triu(S, 1) * same).sum())


def partner_bound(S: np.ndarray, lo: int, hi: int) -> float:
    """Each city's best possible sum of similarities to s-1 partners (s a feasible size), halved."""
    n = len(S)
    off = S.copy()
    np.fill_diagonal(off, -np.inf)
    k = min(hi - 1, n - 1)
    top = -np.sort(-off, axis=1)[:, :k]
    top = np.where(np.isfinite(top), top, 0.0)
    pref = np.cumsum(top, axis=1)
    lo_t = max(lo - 1, 1)
    best = pref[:, lo_t - 1:k].max(axis=1) if k >= lo_t else np.zeros(n)
    return float(best.sum() / 2)


# ---------------------------------------------------------------------------- the problem
class _Problem:
    def __init__(self, space: TwinSpace, cities, rules: CohortRules, weights):
        self.space, self.rules = space, rules
        self.rows = resolve_rows(space, cities)
        n = self.N = len(self.rows)
        if n == 0:
            raise ConfigError("No cities to plan.")
        prof = space.profiles
        self.label = [city_label(space, r) for r in self.rows]
        w = space.weight_vector(weights).astype(np.float64)
        self.R = space.vectors(np.asarray(self.rows, dtype=np.int64)).astype(np.float64)
        self.L = self.R * w  # twin score S = L @ R.T (never built for large calls)
        self.w = w
        self.weights = weights
        self._S = None
        cc = prof["country_code"].to_numpy(dtype=object)[self.rows]
        self.countries = sorted(set(cc))
        self.ci = np.array([self.countries.index(c) for c in cc])
        self.cc = cc
        self.mentor = np.zeros(n, dtype=bool)
        self.mentor_why = [""] * n
        for i, r in enumerate(self.rows):
            self.mentor[i], self.mentor_why[i] = is_mentor(prof.iloc[r].to_dict(), rules.mentor_target_year)
        self.langs = [set(prof["languages"].iat[r]) for r in self.rows]
        self.position = {r: i for i, r in enumerate(self.rows)}
        self._together()
        self._apart()
        self.G, self.lo, self.hi, self.size_problem = self._cohort_count()
        self._balance_facets()
        self._themes()
        self._languages()

    def _members(self, group, what: str) -> list[int]:
        """Positions of a keep-together / keep-apart group; every member must be in the call."""
        out = []
        for item in group:
            r = resolve_rows(self.space, [item])[0]
            if r not in self.position:
                city = city_label(self.space, r)
                raise InfeasibleRulesError([
                    Reason("{city} is to be kept together but is not among the cities of the call", city=city)
                    if what == "together" else
                    Reason("{city} is to be kept apart but is not among the cities of the call", city=city)],
                    self.rules.describe())
            out.append(self.position[r])
        return out

    def _together(self) -> None:
        """Keep-together groups merged where they overlap (union-find): the components of more
        than one city, and each city's component root."""
        n = self.N
        parent = list(range(n))

        def find(a):
            while parent[a] != a:
                parent[a] = parent[parent[a]]
                a = parent[a]
            return a

        for group in self.rules.together:
            ids = self._members(group, "together")
            for a in ids[1:]:
                parent[find(a)] = find(ids[0])
        comps: dict[int, list[int]] = {}
        for i in range(n):
            comps.setdefault(find(i), []).append(i)
        self.together = [c for c in comps.values() if len(c) > 1]
        self.comp_of = np.array([find(i) for i in range(n)])

    def _balance_facets(self) -> None:
        """For each balanced facet: its values, each city's value index (-1 unknown) and the
        per-cohort bounds (an even share of the call's mix, within the tolerance)."""
        unknown = [f for f in self.rules.balance
                   if f not in ("stage", "mentor", "size", "target_year", "country")
                   and f not in self.space.profiles.columns]
        if unknown:
            raise ConfigError(f"Cannot balance by {', '.join(unknown)}: not a profile column or a known facet "
                              f"(stage, maturity, size, country, target_year, mentor).")
        self.facets = {}
        records = self.space.profiles.iloc[self.rows].to_dict("records") if self.rules.balance else []
        tol, G = self.rules.balance_tolerance, self.G
        for facet in self.rules.balance:
            vals = [facet_value(rec, facet, self.rules.mentor_target_year) for rec in records]
            names = sorted({v for v in vals if v is not None})
            cat = np.array([names.index(v) if v is not None else -1 for v in vals], dtype=np.int64)
            n_v = np.bincount(cat[cat >= 0], minlength=len(names))
            lo = np.maximum(n_v // G - tol, 0)
            hi = -(-n_v // G) + tol
            self.facets[facet] = (names, cat, lo, hi, n_v)

    def _themes(self) -> None:
        """Each city's fit to each theme of the call, the cohorts of each theme, and which
        cohorts each city may join (theme_mask, n x G); theme_problem when they cannot fit."""
        self.theme_list, self.theme_mask, self.theme_of, self.theme_problem = [], None, [], None
        if not self.rules.themes:
            return
        self.theme_list = [parse_theme(t) for t in self.rules.themes]
        records = self.space.profiles.iloc[self.rows].to_dict("records")
        self.theme_fit, self.theme_why = theme_table(records, self.theme_list)
        allowed = theme_allowed(self.theme_fit, self.rules.theme_slack)
        counts = cohorts_per_theme(allowed, self.G, self.lo, self.hi)
        if counts is None:
            only = (allowed & (allowed.sum(axis=1, keepdims=True) == 1)).sum(axis=0)
            need = int(np.ceil(only / self.hi).sum())
            only_words = Terms(Reason("{k} cities fit only {theme}", k=int(k), theme=theme_words(t))
                               for k, t in zip(only, self.theme_list) if k)
            self.theme_problem = (Reason("themes: {only}, which needs {need} cohorts of at most {hi}; there are {G}",
                                         only=only_words, need=need, hi=self.hi, G=self.G),
                                  Reason("a theme slack of 0.25, or fewer themes, or {sizes}",
                                         sizes=_sizes(self.lo, self.hi + 2)))
            return
        self.theme_of = [t for t, k in enumerate(counts) for _ in range(int(k))]
        self.theme_mask = allowed[:, self.theme_of]

    def _apart(self) -> None:
        """Keep-apart groups (positions)."""
        self.apart_groups = [sorted(set(self._members(g, "apart"))) for g in self.rules.apart]

    @property
    def S(self) -> np.ndarray:
        """The dense twin-score matrix, for small calls only (the exact model)."""
        if self._S is None:
            S = self.L @ self.R.T
            self._S = (S + S.T) / 2
        return self._S

    def sim(self, idx) -> np.ndarray:
        """Twin scores among the cities at positions idx."""
        S = self.L[idx] @ self.R[idx].T
        return (S + S.T) / 2

    def layout(self, lang_of: list | None = None) -> Layout:
        """The rules as counting rules and masks for the vector search (see cohort_search)."""
        r, n, G = self.rules, self.N, self.G
        counts = []
        if r.min_mentors:
            counts.append(CountRule("mentors", np.where(self.mentor, 0, -1), np.array([r.min_mentors]),
                                    np.array([n])))
        if r.max_per_country:
            K = len(self.countries)
            counts.append(CountRule("country", self.ci.copy(), np.zeros(K, dtype=int),
                                    np.full(K, r.max_per_country)))
        for facet, (names, cat, lo, hi, _) in self.facets.items():
            counts.append(CountRule(f"balance {facet}", cat, lo, hi))
        for k, grp in enumerate(self.apart_groups):
            cat = np.full(n, -1)
            cat[grp] = 0
            counts.append(CountRule(f"apart {k}", cat, np.zeros(1, dtype=int), np.ones(1, dtype=int)))
        allowed = self.theme_mask
        if lang_of is not None:
            lang_ok = np.array([[lang_of[g] in self.langs[i] for g in range(G)] for i in range(n)], dtype=bool)
            allowed = lang_ok if allowed is None else allowed & lang_ok
        movable = np.ones(n, dtype=bool)
        for comp in self.together:
            movable[comp] = False
        return Layout(G, self.lo, self.hi, counts, allowed, movable)

    def flow_rule(self, lay: Layout) -> tuple[bool, CountRule | None]:
        """Whether the flow start applies (no shared language, no keep-together groups), and the
        counting rule it enforces exactly: the one with the most required cities (lower bounds),
        the others being repaired after the flow."""
        ok = not self.rules.common_language and not self.together
        if not lay.counts:
            return ok, None
        return ok, max(lay.counts, key=lambda c: (int(c.lo.sum()), -lay.counts.index(c)))

    def _cohort_count(self) -> tuple[int, int, int, str | None]:
        """The number of cohorts and the size range in force, or why no count fits."""
        rules, n = self.rules, self.N
        lo, hi = rules.min_size, rules.max_size
        G, size_problem = cohort_bounds(n, lo, hi, rules.n_cohorts)
        if rules.n_cohorts is None and rules.max_per_country and not size_problem:
            # the fewest cohorts that also hold the largest country at k per cohort (at most
            # as many as the cities can fill; prechecks says when even that is too few)
            biggest = int(np.bincount(self.ci).max())
            need = -(-biggest // rules.max_per_country)
            if need > G:
                G = min(need, n // lo)
        if rules.balance_sizes and not size_problem:
            lo, hi = n // G, -(-n // G)
        return G, lo, hi, size_problem

    def _languages(self) -> None:
        """How many cities speak each language; the ones enough cities speak to fill a cohort."""
        counts: dict[str, int] = {}
        for i in range(self.N):
            for L in self.langs[i]:
                counts[L] = counts.get(L, 0) + 1
        self.lang_counts = counts
        self.cohort_langs = sorted(L for L, c in counts.items() if c >= self.lo)

    # ------------------------------------------------------------------ pre-checks
    def prechecks(self) -> list[tuple[str, str | None]]:
        """Every rule that cannot hold, each as (reason, smallest fix), all at once."""
        reasons = [self.size_problem] if self.size_problem else []
        reasons += [self.theme_problem] if self.theme_problem else []
        return (reasons + self._mentor_check() + self._country_checks() + self._balance_checks()
                + self._group_checks() + self._language_checks())

    def _balance_checks(self) -> list[tuple[str, str]]:
        """A balanced facet whose even shares do not fit the cohort sizes."""
        out, tol = [], self.rules.balance_tolerance
        for facet, (names, cat, lo, hi, n_v) in self.facets.items():
            need, room = int(lo.sum()), int(hi.sum()) + int((cat < 0).sum())
            if need > self.hi:
                out.append((Reason("{facet} balanced: each cohort needs at least {need} cities for an even share of "
                                   "{values}, more than the largest cohort ({hi})", facet=facet_word(facet), need=need,
                                   values=join_names([value_word(facet, v) for v in names]), hi=self.hi),
                            Reason("{sizes}, or a tolerance of {k}", sizes=_sizes(self.lo, need),
                                   k=tol + -(-(need - self.hi) // len(names)))))
            elif room < self.lo:
                out.append((Reason("{facet} balanced: a cohort holds at most {room} cities at an even share, fewer "
                                   "than the smallest cohort ({lo})", facet=facet_word(facet), room=room, lo=self.lo),
                            _sizes(room, self.hi)))
        return out

    def _fewer_cohorts_fix(self, G2: int) -> str:
        """The wording of "use G2 cohorts" with the sizes that make G2 cohorts hold the call."""
        n, lo, hi = self.N, self.rules.min_size, self.rules.max_size
        if G2 < 1:
            return Reason("no number of cohorts helps")
        if G2 * hi >= n:
            return Reason("{cohorts} of {lo}-{hi}", cohorts=_cohorts(G2), lo=lo, hi=hi)
        return Reason("{cohorts} of {lo}-{hi}", cohorts=_cohorts(G2), lo=min(lo, n // G2), hi=-(-n // G2))

    def _mentor_check(self) -> list[tuple[str, str]]:
        r, G = self.rules, self.G
        if not r.min_mentors:
            return []
        have = int(self.mentor.sum())
        if have >= r.min_mentors * G:
            return []
        names = [self.label[i] for i in np.flatnonzero(self.mentor)]
        values = dict(k=r.min_mentors, mentors=plural(have, R_("{n} mentor"), R_("{n} mentors"), n=have), G=G,
                      need=r.min_mentors * G, more=r.min_mentors * G - have, rule=mentor_rule_words(r.mentor_target_year))
        why = Reason("at least {k} mentor(s) per cohort: only {mentors} for {G} cohorts (at least {k} each needs "
                     "{need}, {more} more): {names}; a mentor has {rule}", names=join_names(names), **values) if names \
            else Reason("at least {k} mentor(s) per cohort: only {mentors} for {G} cohorts (at least {k} each needs "
                        "{need}, {more} more); a mentor has {rule}", **values)
        lower = have // G
        fix = (Reason("lower the mentor rule to at least {k} per cohort", k=lower) if lower
               else Reason("drop the mentor rule"))
        fewer = have // r.min_mentors
        if fewer and -(-self.N // fewer) <= 2 * r.max_size:  # only while cohorts stay of a workable size
            fix = Reason("{fix}, or plan {cohorts}", fix=fix, cohorts=self._fewer_cohorts_fix(fewer))
        return [(why, fix)]

    def _country_checks(self) -> list[tuple[str, str]]:
        r, G, out = self.rules, self.G, []
        if not r.max_per_country:
            return out
        counts = np.bincount(self.ci, minlength=len(self.countries))
        for c in np.flatnonzero(counts > r.max_per_country * G):
            cnt = int(counts[c])
            need = -(-cnt // r.max_per_country)
            fix = Reason("allow {k} per country", k=-(-cnt // G))
            if need * r.min_size <= self.N:
                fix = Reason("{fix}, or plan {cohorts}", fix=fix, cohorts=self._fewer_cohorts_fix(need))
            elif self.N // need >= 1:
                fix = Reason("{fix}, or {sizes}", fix=fix,
                             sizes=_sizes(self.N // need, max(r.max_size, -(-self.N // need))))
            out.append((Reason("at most {k} per country: {country} has {n} cities, and {cohorts} hold at most {room} "
                               "of them ({N} cities fill at most {fill} of at least {lo})", k=r.max_per_country,
                               country=country_code(self.countries[c]), n=cnt, cohorts=_cohorts(G),
                               room=r.max_per_country * G, N=self.N, fill=_cohorts(self.N // r.min_size),
                               lo=r.min_size), fix))
        return out
    def _group_checks(self) -> list[tuple[str, str]]:
        """Keep-together and keep-apart groups that cannot hold."""
        r, out = self.rules, []
        for comp in self.together:
            names = join_names([self.label[i] for i in comp])
            if len(comp) > self.hi:
                out.append((Reason("keeping {names} together makes a group of {n}, larger than the largest cohort "
                                   "({hi})", names=names, n=len(comp), hi=self.hi),
                            Reason("{sizes}, or split the group", sizes=_sizes(self.lo, len(comp)))))
            if r.max_per_country:
                for c in sorted(set(self.ci[comp])):
                    cnt = int((self.ci[comp] == c).sum())
                    if cnt > r.max_per_country:
                        out.append((Reason("keeping {names} together puts {n} cities of {country} in one cohort, more "
                                           "than {k}", names=names, n=cnt, country=country_code(self.countries[c]),
                                           k=r.max_per_country),
                                    Reason("allow {k} per country, or split the group", k=cnt)))
            if r.common_language and not set.intersection(*[self.langs[i] for i in comp]):
                out.append((Reason("{names} are to be kept together but share no official language", names=names),
                            Reason("drop the shared-language rule, or split the group")))
            for grp in self.apart_groups:
                both = sorted(set(comp) & set(grp))
                for x, a in enumerate(both):
                    for b in both[x + 1:]:
                        out.append((Reason("{a} and {b} are to be kept both together and apart", a=self.label[a],
                                           b=self.label[b]),
                                    Reason("remove one of them from the keep-together or the keep-apart group")))
        for g in self.apart_groups:
            if len(g) > self.G:
                out.append((Reason("{n} cities to be kept apart ({names}) need {n} cohorts, there are {G}", n=len(g),
                                   names=join_names([self.label[i] for i in g]), G=self.G),
                            Reason("plan {cohorts}", cohorts=self._fewer_cohorts_fix(len(g)))
                            if len(g) * self.rules.min_size <= self.N
                            else Reason("keep at most {G} of them apart", G=self.G)))
        return out

    def _language_checks(self) -> list[tuple[str, str]]:
        """Cities that speak no language enough cities share to fill a cohort."""
        if not self.rules.common_language:
            return []
        lonely = [i for i in range(self.N) if not (self.langs[i] & set(self.cohort_langs))]
        out = []
        for i in lonely[:20]:
            spoken = [plural(self.lang_counts[L], R_("{language} ({n} city)"), R_("{language} ({n} cities)"),
                             language=language_code(L), n=self.lang_counts[L]) for L in sorted(self.langs[i])]
            most = max((self.lang_counts[L] for L in self.langs[i]), default=0)
            city = self.label[i]
            out.append((Reason("{city} speaks {languages}; a cohort with a shared language needs at least {lo} cities "
                               "that speak it", city=city, languages=Terms(spoken) if spoken else
                               Reason("no known language"), lo=self.lo),
                        Reason("{sizes}, or drop {city} or the shared-language rule", sizes=_sizes(most, self.hi),
                               city=city) if most else Reason("drop {city} or the shared-language rule", city=city)))
        if len(lonely) > 20:
            out.append((Reason("and {n} more cities without a shared language", n=len(lonely) - 20), None))
        return out

    # ------------------------------------------------------------------ CP-SAT models
    def model(self, parts=("size", "country", "mentors", "balance", "language", "together", "apart"), objective=None,
              exact=False):
        """One CP-SAT model: x[i][g] = city i in cohort g, with the rules in `parts` (diagnose adds
        them one at a time), and the linear proxy `objective` or the exact pairwise objective."""
        from ortools.sat.python import cp_model

        m = cp_model.CpModel()
        x = self._assignment_vars(m)
        self._cohort_limits(m, x, parts)
        lang = self._language_vars(m, x) if "language" in parts and self.rules.common_language else None
        if "together" in parts:
            for comp in self.together:
                for j in comp[1:]:
                    for g in range(self.G):
                        m.add(x[j][g] == x[comp[0]][g])
        if self.theme_mask is not None:
            for i, g in zip(*np.nonzero(~self.theme_mask)):
                m.add(x[i][g] == 0)
        if "apart" in parts:
            for grp in self.apart_groups:
                for g in range(self.G):
                    m.add(sum(x[i][g] for i in grp) <= 1)
        z = None
        if exact:
            z = self._pairwise_objective(m, x)
        elif objective is not None:
            m.maximize(sum(int(objective[i, g]) * x[i][g] for i in range(self.N) for g in range(self.G)))
        return m, x, lang, z

    def _assignment_vars(self, m) -> list[list]:
        """x[i][g], one cohort per city."""
        n, G = self.N, self.G
        x = [[m.new_bool_var(f"x{i}_{g}") for g in range(G)] for i in range(n)]
        for i in range(n):
            m.add_exactly_one(x[i])
        # symmetry: city i goes to a cohort numbered at most i (cohorts are interchangeable
        # unless a language is attached, which is chosen freely per cohort)
        for i in range(min(n, G) if not self.theme_list else 0):  # themed cohorts are not interchangeable
            for g in range(i + 1, G):
                m.add(x[i][g] == 0)
        return x

    def _cohort_limits(self, m, x, parts) -> None:
        """Per cohort: its size, at most k per country, at least m mentors."""
        n, r = self.N, self.rules
        for g in range(self.G):
            size = sum(x[i][g] for i in range(n))
            if "size" in parts:
                m.add(size >= self.lo)
                m.add(size <= self.hi)
            else:
                m.add(size >= 1)
            if "country" in parts and r.max_per_country:
                for c in range(len(self.countries)):
                    idx = np.flatnonzero(self.ci == c)
                    if len(idx) > r.max_per_country:
                        m.add(sum(x[i][g] for i in idx) <= r.max_per_country)
            if "mentors" in parts and r.min_mentors:
                m.add(sum(x[i][g] for i in np.flatnonzero(self.mentor)) >= r.min_mentors)
            if "balance" in parts:
                for names, cat, lo, hi, _ in self.facets.values():
                    for v in range(len(names)):
                        members = sum(x[i][g] for i in np.flatnonzero(cat == v))
                        m.add(members >= int(lo[v]))
                        m.add(members <= int(hi[v]))

    def _language_vars(self, m, x) -> list[list]:
        """lang[g][k]: cohort g works in cohort_langs[k]; every member speaks it."""
        langs = self.cohort_langs
        lang = [[m.new_bool_var(f"l{g}_{L}") for L in langs] for g in range(self.G)]
        for g in range(self.G):
            m.add_exactly_one(lang[g]) if langs else m.add_bool_or([])
            for i in range(self.N):
                ok = [lang[g][k] for k, L in enumerate(langs) if L in self.langs[i]]
                m.add(x[i][g] <= sum(ok)) if ok else m.add(x[i][g] == 0)
        return lang

    def _pairwise_objective(self, m, x) -> dict:
        """z[i, j] = i and j share a cohort (bounded from the side the objective pushes), and the
        maximised sum of their scaled similarities."""
        n, G = self.N, self.G
        coef = np.rint(np.triu(self.S, 1) * SCALE).astype(np.int64)
        z = {}
        terms = []
        for i in range(n):
            for j in range(i + 1, n):
                v = m.new_bool_var(f"z{i}_{j}")
                z[i, j] = v
                for g in range(G):
                    if coef[i, j] >= 0:
                        m.add(v <= 1 - x[i][g] + x[j][g])
                    else:
                        m.add(v >= x[i][g] + x[j][g] - 1)
                terms.append(int(coef[i, j]) * v)
        m.maximize(sum(terms))
        return z

    def solve(self, m, time_limit, workers=0):
        from ortools.sat.python import cp_model

        s = cp_model.CpSolver()
        s.parameters.max_time_in_seconds = float(time_limit)
        if workers:
            s.parameters.num_workers = int(workers)
        status = s.solve(m)
        return s, status, cp_model

    def _feasible(self, parts, time_limit) -> bool:
        m, *_ = self.model(tuple(parts))
        _, status, cp = self.solve(m, time_limit)
        return status != cp.INFEASIBLE

    def _relax(self, part: str, time_limit: float) -> str:
        """The smallest change of one numeric rule that makes it hold with the sizes (by trying),
        or the words for dropping it."""
        r = self.rules
        if part == "country":
            for k in range(r.max_per_country + 1, r.max_per_country + 4):
                r.max_per_country, saved = k, r.max_per_country
                ok = self._feasible(("size", "country"), time_limit)
                r.max_per_country = saved
                if ok:
                    return Reason("allow {k} per country", k=k)
        if part == "balance":
            for k in range(r.balance_tolerance + 1, r.balance_tolerance + 3):
                r.balance_tolerance, saved = k, r.balance_tolerance
                self._balance_facets()
                ok = self._feasible(("size", "balance"), time_limit)
                r.balance_tolerance = saved
                self._balance_facets()
                if ok:
                    return Reason("a balance tolerance of {k}", k=k)
        if part == "mentors":
            for k in range(r.min_mentors - 1, 0, -1):
                r.min_mentors, saved = k, r.min_mentors
                ok = self._feasible(("size", "mentors"), time_limit)
                r.min_mentors = saved
                if ok:
                    return Reason("lower the mentor rule to at least {k} per cohort", k=k)
        return Reason("drop {rule}", rule=self._rule_names()[part])

    def _rule_names(self, either: bool = False) -> dict[str, Reason]:
        """The rules by part, named (`either`: a list of balanced facets joined by 'or')."""
        facets = join_names([facet_word(f) for f in self.rules.balance], either=either)
        return {"country": Reason("at most {k} per country", k=self.rules.max_per_country),
                "mentors": Reason("at least {k} mentor(s) per cohort", k=self.rules.min_mentors),
                "language": Reason("a shared language per cohort"), "together": Reason("the keep-together groups"),
                "apart": Reason("the keep-apart groups"), "balance": Reason("{facets} balanced", facets=facets)}

    def diagnose(self, time_limit) -> list[tuple[str, str]]:
        """Every rule that fails on its own with the sizes, each with its smallest fix; when each
        holds alone, the first combination (rules added one at a time) that fails."""
        names, r = self._rule_names(), self.rules
        present = {"country": bool(r.max_per_country), "mentors": bool(r.min_mentors), "balance": bool(r.balance),
                   "language": r.common_language, "together": bool(self.together), "apart": bool(self.apart_groups)}
        parts = [q for q in ("country", "mentors", "balance", "language", "together", "apart") if present[q]]
        split = Reason("the {n} cities cannot be split into {G} cohorts of {lo}-{hi}", n=self.N, G=self.G, lo=self.lo,
                       hi=self.hi)
        out = [(Reason("{split} with {rule}", split=split, rule=names[q]), self._relax(q, time_limit)) for q in parts
               if not self._feasible(("size", q), time_limit)]
        if out:
            return out
        active, either = ["size"], self._rule_names(either=True)
        for q in parts:
            if not self._feasible(active + [q], time_limit):
                before = [x for x in active if x != "size"]
                return [(Reason("{split} with {rules}, but not once {rule} is added (each holds alone)", split=split,
                                rules=join_names([names[x] for x in before]), rule=names[q]),
                         Reason("drop or relax {rule} or {rules}", rule=names[q],
                                rules=join_names([either[x] for x in before], either=True)))]
            active.append(q)
        return [(Reason("no split satisfies all the rules together, although each passes the separate checks"),
                 Reason("relax one of them"))]


# ---------------------------------------------------------------------------- entry point
@dataclass
class _Best:
    """The best plan found so far, and what is known about how far it is from the optimum."""
    a: np.ndarray  # city -> cohort
    obj: float
    lang_of: list | None  # cohort -> working language, when one is required
    ub: float = 0.0
    bound_source: str = "partner bound (each city's best possible partners)"
    solver: str = "OR-Tools CP-SAT start (k-means proxy) + local search (moves, swaps)"
    optimal: bool = False


def plan_cohorts(space: TwinSpace, cities="all", rules: CohortRules | None = None, weights: dict[str, float] | None = None,
                 time_limit: float = 30.0, exact_limit: int = EXACT_LIMIT, workers: int = 0,
                 seed: int = 0, rounds: int = 8) -> CohortPlan:
    """Plan cohorts (see the module doc). cities: names, ids, (name, country) or rows; "all" = every
    city with a climate profile. `time_limit` bounds the heuristic (starts, Lloyd rounds, iterated
    local search) and, separately, the exact model of small calls."""
    rules = rules or CohortRules()
    t0 = time.perf_counter()
    p = _Problem(space, cities, rules, weights)
    reasons = p.prechecks()
    if reasons:
        raise InfeasibleRulesError(reasons, rules.describe(p.G))
    deadline = t0 + 0.85 * time_limit
    state, lang_of, how, starts = _multi_start(p, seed, rounds, t0 + 0.45 * time_limit, deadline, time_limit, workers)
    kicks = ils(state, _candidates(p, state), deadline, max_stall=max(300, 3 * p.N))
    best = _Best(state.a.copy(), state.objective(), lang_of)
    lloyd = " + constrained Lloyd rounds (min-cost flow)" if how.startswith("min-cost") else ""
    best.solver = f"{how} ({starts} start{'s' if starts != 1 else ''}){lloyd} + iterated local search ({kicks} kicks)"
    best.ub = vector_partner_bound(p.L, p.R, p.lo, p.hi, country=p.ci, per_country=rules.max_per_country)
    if p.N * (p.N - 1) // 2 * p.G <= exact_limit:
        _exact_step(p, best, time_limit, workers)
    return _plan(p, best)


def _multi_start(p: _Problem, seed: int, rounds: int, starts_until: float, deadline: float, time_limit: float,
                 workers: int):
    """1-2. Starts from different k-means seeds, each improved by descent and Lloyd rounds, while
    time is left for another (flow starts only); the best one."""
    best, k = None, 0
    while True:
        a, lang_of, how = _start(p, seed + k, max(2.0, time_limit / 3), workers)
        lay = p.layout(lang_of)
        state = CohortState(p.L, p.R, a, lay, seed + k)
        state.descend(_candidates(p, state), deadline=deadline)
        _lloyd_rounds(p, state, lay, rounds, deadline)
        k += 1
        if best is None or state.objective() > best[0].objective():
            best = (state, lang_of, how)
        if not how.startswith("min-cost") or time.perf_counter() > starts_until or k >= 8:
            return (*best, k)


CANDIDATES = 24  # cohorts each city considers in the local search and the flow rounds


def _candidates(p: _Problem, state: CohortState) -> np.ndarray:
    return top_candidates(p.L, state.C, CANDIDATES)


def _proxy(p: _Problem, labels: np.ndarray) -> np.ndarray:
    """Linear proxy objective: each city's similarity to each group of `labels`, scaled to integers."""
    C = cohort_sums(p.R, labels, p.G)
    return np.rint((p.L @ C.T) * SCALE).astype(np.int64)


def _hint(m, x, a: np.ndarray) -> None:
    for i in range(len(x)):
        for g in range(len(x[i])):
            m.add_hint(x[i][g], bool(a[i] == g))


def _solution(p: _Problem, s, x) -> np.ndarray:
    return np.array([next(g for g in range(p.G) if s.boolean_value(x[i][g])) for i in range(p.N)])


def _cohort_languages(p: _Problem, s, lang) -> list | None:
    if lang is None:
        return None
    return [p.cohort_langs[next(k for k in range(len(p.cohort_langs)) if s.boolean_value(lang[g][k]))]
            for g in range(p.G)]


def _kmeans_labels(p: _Problem, seed: int) -> np.ndarray:
    """k-means clusters of the weighted vectors; above 300 cities on a 16-dimensional PCA
    projection (computed once per call), with random initial centres above 2M city x cohort
    pairs. Measured: k-means++ on all 1144 dimensions took 3 s at 1,000 cities, on 48 PCA
    dimensions 25 s at 10,000; the clusters only seed the flow, whose rounds work on all
    dimensions, and the projected seeds end as good after the rounds."""
    from sklearn.cluster import KMeans

    if p.G == 1:
        return np.zeros(p.N, dtype=int)
    U = p.R * np.sqrt(np.maximum(p.w, 0))
    if p.N <= 300:
        return KMeans(n_clusters=p.G, n_init=4, random_state=seed).fit(U).labels_
    if getattr(p, "projection", None) is None:
        from sklearn.decomposition import PCA

        p.projection = PCA(n_components=16, svd_solver="randomized", random_state=0).fit_transform(U)
    init = "k-means++" if p.N * p.G <= 2_000_000 else "random"
    return KMeans(n_clusters=p.G, n_init=1, init=init, max_iter=30, random_state=seed).fit(p.projection).labels_


def _start(p: _Problem, seed: int, limit: float, workers: int) -> tuple[np.ndarray, list | None, str]:
    """1. A first plan under every rule: k-means clusters of the weighted vectors, then a
    min-cost flow to the cluster centres under the size bounds and the counting rule (the
    k-means-constrained step); CP-SAT on the same proxy when the flow cannot express the rules
    (a shared language, keep-together groups) or no plan is found. Counting rules beyond the
    one the flow enforces are repaired by swaps (cohort_search.repair)."""
    km = _kmeans_labels(p, seed)
    lay = p.layout(None)
    flow_ok, rule = p.flow_rule(lay)
    if flow_ok:
        sizes = np.maximum(np.bincount(km, minlength=p.G), 1)
        centres = cohort_sums(p.R, km, p.G) / sizes[:, None] * (p.N / p.G)  # means at the mean cohort size
        a = flow_assign(*candidate_arcs(p.L, centres, CANDIDATES, 4 * p.hi), p.N, lay, rule)
        if a is None and p.N * p.G <= 2_000_000:  # every city to every cohort
            a = flow_assign(*candidate_arcs(p.L, centres, p.G, 4 * p.hi), p.N, lay, rule)
        a = None if a is None else _repaired(p, a, lay, seed)
        if a is not None:
            return a, None, "min-cost flow start (k-means centres)"
    if p.N * p.G > CPSAT_START_LIMIT:
        raise InfeasibleRulesError([(Reason("no split of these {n} cities under all the rules was found (a call "
                                            "this large is planned by a network flow and repair swaps, which found "
                                            "none for {rules} together)", n=p.N,
                                            rules=join_names(p.rules.describe(p.G)[1:])),
                                     Reason("relax one of those rules, or plan the call in parts"))],
                                   p.rules.describe(p.G))
    return (*_cpsat_start(p, km, limit, workers), "OR-Tools CP-SAT start (k-means proxy)")


CPSAT_START_LIMIT = 400_000  # city x cohort variables up to which CP-SAT may place the first plan


def _cpsat_start(p: _Problem, km: np.ndarray, limit: float, workers: int) -> tuple[np.ndarray, list | None]:
    """CP-SAT on the k-means proxy under every rule; this solve also decides feasibility, so its
    failure is explained here."""
    m, x, lang, _ = p.model(objective=_proxy(p, km))
    s, status, cp = p.solve(m, limit, workers)
    if status not in (cp.OPTIMAL, cp.FEASIBLE):
        if status == cp.INFEASIBLE:
            raise InfeasibleRulesError(p.diagnose(limit), p.rules.describe(p.G))
        raise InfeasibleRulesError([Reason("no split under these rules was found within {limit} s (the solver could "
                                           "neither find one nor prove none exists); raise the time limit or relax a "
                                           "rule", limit=Num(limit, "g"))], p.rules.describe(p.G))
    return _solution(p, s, x), _cohort_languages(p, s, lang)


def _repaired(p: _Problem, a: np.ndarray, lay: Layout, seed: int) -> np.ndarray | None:
    """The flow's plan with the counting rules it did not enforce repaired by swaps, or None."""
    if len(lay.counts) <= 1:
        return a
    state = CohortState(p.L, p.R, a, lay, seed)
    return state.a if repair(state) else None


def _lloyd_rounds(p: _Problem, state: CohortState, lay: Layout, rounds: int, deadline: float) -> None:
    """2. Constrained Lloyd rounds: a min-cost flow to the current cohort sums (the linearised
    objective, each city's current cohort among its candidates, so never worse), then descent;
    kept while it improves. Only where the flow expresses every rule."""
    flow_ok, rule = p.flow_rule(lay)
    if not flow_ok:
        return
    for _ in range(rounds):
        if time.perf_counter() > deadline:
            return
        before = state.objective()
        b = flow_assign(*candidate_arcs(p.L, state.C, CANDIDATES, 4 * p.hi, state.a), p.N, lay, rule)
        b = None if b is None else _repaired(p, b, lay, seed=0)
        if b is None:
            return
        trial = CohortState(p.L, p.R, b, lay, state.rng.integers(1 << 30))
        trial.descend(top_candidates(p.L, trial.C, CANDIDATES), deadline=deadline)
        if trial.objective() <= before + 1e-9:
            return
        state.__dict__.update(trial.__dict__)


def vector_partner_bound(L: np.ndarray, R: np.ndarray, lo: int, hi: int, block: int = 2048,
                         country: np.ndarray | None = None, per_country: int | None = None) -> float:
    """`partner_bound` from the vectors, in blocks of rows (float32 products with a safety margin,
    so no n x n matrix is held). With a country cap, at most per_country - 1 of a city's partners
    come from its own country (still an upper bound: the other rules are relaxed)."""
    n = len(L)
    k = min(hi - 1, n - 1)
    if k < 1:
        return 0.0
    Lf, Rf = L.astype(np.float32), R.astype(np.float32)
    total = 0.0
    for s0 in range(0, n, block):
        B = Lf[s0:s0 + block] @ Rf.T
        B[np.arange(len(B)), np.arange(s0, s0 + len(B))] = -np.inf
        if per_country is None or country is None:
            pref = _prefix_top(B, k)
        else:
            same = country[s0:s0 + len(B), None] == country[None, :]
            own = _prefix_top(np.where(same, B, -np.inf), min(per_country - 1, k))
            other = _prefix_top(np.where(same, -np.inf, B), k)
            pref = np.full((len(B), k + 1), -np.inf)
            for j in range(own.shape[1]):  # j partners from the own country, t - j from others
                pref[:, j:] = np.maximum(pref[:, j:], own[:, j:j + 1] + other[:, :k + 1 - j])
        best = pref[:, max(lo - 1, 1):k + 1].max(axis=1) if k >= max(lo - 1, 1) else np.zeros(len(B))
        total += float(np.where(np.isfinite(best), best, 0.0).sum())
    return total / 2


def _prefix_top(B: np.ndarray, k: int) -> np.ndarray:
    """Per row: 0, then the sums of the 1..k largest entries (float32 margin added per entry)."""
    n = B.shape[1]
    k = min(k, n)
    top = -np.sort(-np.partition(B, n - k, axis=1)[:, n - k:], axis=1) if 0 < k < n else -np.sort(-B, axis=1)[:, :k]
    top = top.astype(np.float64) + 1e-4
    return np.concatenate([np.zeros((len(B), 1)), np.cumsum(top, axis=1)], axis=1)


def _exact_step(p: _Problem, best: _Best, time_limit: float, workers: int) -> None:
    """3. The exact pairwise model from the best plan: take its plan when no worse, and its
    proof of optimality or its bound when tighter."""
    m, x, lang, z = p.model(exact=True)
    _hint(m, x, best.a)
    s, status, cp = p.solve(m, time_limit, workers)
    if status not in (cp.OPTIMAL, cp.FEASIBLE):
        return
    b = _solution(p, s, x)
    if within_objective(p.S, b) >= best.obj - 1e-12:
        best.a, best.obj = b, within_objective(p.S, b)
        best.solver = "OR-Tools CP-SAT, exact pairwise model"
        if lang is not None:
            best.lang_of = _cohort_languages(p, s, lang)
    cp_bound = s.best_objective_bound / SCALE + p.N * p.N / SCALE  # rounding slack
    if status == cp.OPTIMAL:
        best.optimal = True
        best.solver = "OR-Tools CP-SAT, exact pairwise model, proven optimal"
        best.ub, best.bound_source = best.obj, "proven optimum"
    else:
        best.solver = f"OR-Tools CP-SAT, exact pairwise model, {time_limit:g} s limit, not proven optimal"
        if cp_bound < best.ub:
            best.ub, best.bound_source = cp_bound, "CP-SAT best bound"


def _plan(p: _Problem, best: _Best) -> CohortPlan:
    rules = p.rules
    gap = 0.0 if best.optimal else (1 - best.obj / best.ub if best.ub > 0 else 0.0)
    cohorts = _describe(p, best.a, best.lang_of)
    notes = [f"{int(p.mentor.sum())} of {p.N} cities are mentors ({mentor_rule_words(rules.mentor_target_year)})",
             f"objective: the sum of the twin scores of every pair of cohort members; "
             f"{'proven optimal' if best.optimal else f'within {gap:.1%} of the upper bound ({best.bound_source})'}"]
    return CohortPlan(cohorts=cohorts, objective=best.obj, upper_bound=float(best.ub), gap=float(max(gap, 0.0)),
                      optimal=best.optimal, solver=best.solver, bound_source=best.bound_source,
                      rules=rules.describe(p.G), notes=notes)


def _theme_lines(p: _Problem, g: int, idx: np.ndarray, why: list, members: list) -> str | None:
    """The cohort's theme, why each member fits it (added to the members), and a why line."""
    if not p.theme_list:
        return None
    t = p.theme_of[g]
    theme = p.theme_list[t].name
    by_id = {m["city_id"]: m for m in members}
    fits = []
    for i in idx:
        m = by_id[p.space.profiles["city_id"].iat[p.rows[i]]]
        f, reasons = p.theme_fit[i, t], p.theme_why[i][t]
        m["theme_fit"] = None if np.isnan(f) else float(f)
        m["theme_why"] = joined(reasons) if reasons else (
            Reason("no data on this theme: placed by similarity") if np.isnan(f) else
            Reason("fit {fit}; no theme of the call fits it better", fit=Num(f, ".2f")))
        if reasons:
            fits.append(Reason("{city} ({reason})", city=p.label[i], reason=reasons[0]))
    listed = (Reason("{names} and {more} more", names=Terms(fits[:6]), more=len(fits) - 6) if len(fits) > 6
              else Terms(fits)) if fits else Reason("no member has data on it; placed by similarity")
    why.insert(0, Reason("theme {theme}: {fits}", theme=theme_words(p.theme_list[t]), fits=listed))
    return theme


def _mix(p: _Problem, idx: np.ndarray) -> dict:
    """Balanced facet -> value -> how many members of the cohort have it (unknown included)."""
    out = {}
    for facet, (names, cat, *_rest) in p.facets.items():
        counts = np.bincount(cat[idx][cat[idx] >= 0], minlength=len(names))
        out[facet] = {v: int(c) for v, c in zip(names, counts) if c}
        unknown = int((cat[idx] < 0).sum())
        if unknown:
            out[facet]["unknown"] = unknown
    return out


def _share_words(p: _Problem, facet: str) -> Terms:
    names, _, lo, hi, n_v = p.facets[facet]
    return Terms((Reason("{value}: {n} cities, {lo}-{hi} per cohort", value=value_word(facet, v), n=n, lo=a, hi=b)
                  for v, n, a, b in zip(names, n_v, lo, hi)), "; ")


def _balance_lines(p: _Problem, mix: dict) -> list[Reason]:
    """'size balanced: 3 under 50k, 4 50k-250k (an even share of the call's ...)', one per facet."""
    return [Reason("{facet} balanced: {counts} (an even share of the call's {shares})", facet=facet_word(facet),
                   counts=Terms(Reason("{n} {value}", n=c, value=value_word(facet, v)) for v, c in counts.items()),
                   shares=_share_words(p, facet)) for facet, counts in mix.items()]


def _shared(p: _Problem, idx: np.ndarray, col: str) -> list[Reason]:
    """The survey terms (barriers, sectors) at least two members share: 'term (3 of 8)', four at most."""
    prof, k, counts = p.space.profiles, len(idx), {}
    for i in idx:
        vals = prof[col].iat[p.rows[i]]
        for v in (vals if vals is not None and not isinstance(vals, float) else []):
            counts[v] = counts.get(v, 0) + 1
    return [Reason("{term} ({n} of {k})", term=survey_term(v), n=c, k=k)
            for v, c in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])) if c >= 2][:4]


def _why(mean: float, barriers: list, sectors: list, pop_range, common: list, mentors: list) -> list[Reason]:
    """The why lines of a cohort (before its theme and balance lines)."""
    why = [Reason("mean twin score between members {mean}", mean=Num(mean, ".3f"))]
    if barriers:
        why.append(Reason("shared barriers: {items}", items=Terms(barriers, "; ")))
    if sectors:
        why.append(Reason("shared priority sectors: {items}", items=Terms(sectors, "; ")))
    why.append(Reason("population {range}", range=pop_range))
    if common:
        why.append(Reason("common language: {languages}", languages=Terms(common, ", ", "language")))
    why.append(Reason("mentors: {mentors}", mentors=Terms(mentors, "; ") if mentors else Reason("none")))
    return why


def _describe(p: _Problem, a: np.ndarray, lang_of) -> list[Cohort]:
    prof = p.space.profiles
    out = []
    order = sorted(range(p.G), key=lambda g: -int((a == g).sum()))
    for number, g in enumerate(order, start=1):
        idx = np.flatnonzero(a == g)
        if len(idx) == 0:
            continue
        sub = p.sim(idx)
        pair_sum = float(np.triu(sub, 1).sum())
        k = len(idx)
        fits = (sub.sum(axis=1) - np.diag(sub)) / max(k - 1, 1)
        members = []
        for pos, i in enumerate(idx):
            row = prof.iloc[p.rows[i]]
            members.append({"name": row["name"], "country_code": row["country_code"], "city_id": row["city_id"],
                            "fit": float(fits[pos]), "mentor": bool(p.mentor[i]), "mentor_why": p.mentor_why[i]})
        members.sort(key=lambda d: -d["fit"])
        barriers, sectors = _shared(p, idx, "barriers"), _shared(p, idx, "priority_sectors")
        common = sorted(set.intersection(*[p.langs[i] for i in idx])) if k else []
        pop_all = pd.to_numeric(prof["population"].iloc[[p.rows[i] for i in idx]], errors="coerce")
        pops = [float(v) for v in pop_all.dropna()]
        pop_range = Reason("{low} - {high}", low=Num(int(min(pops)), ","), high=Num(int(max(pops)), ",")) if pops \
            else Reason("unknown")
        countries: dict[str, int] = {}
        for i in idx:
            countries[p.cc[i]] = countries.get(p.cc[i], 0) + 1
        mentors = [Reason("{city}: {why}", city=p.label[i], why=p.mentor_why[i]) for i in idx if p.mentor[i]]
        mean = pair_sum / max(k * (k - 1) / 2, 1)
        why = _why(mean, barriers, sectors, pop_range, common, mentors)
        mix = _mix(p, idx)
        theme = _theme_lines(p, g, idx, why, members)
        why += _balance_lines(p, mix)
        out.append(Cohort(number=number, members=members, size=k, objective=pair_sum, mean_similarity=mean,
                          mentors=mentors, shared_barriers=barriers, shared_sectors=sectors, common_languages=common,
                          language=lang_of[g] if lang_of else None, population_range=pop_range,
                          countries=countries, why=why, mix=mix, theme=theme))
    return out
