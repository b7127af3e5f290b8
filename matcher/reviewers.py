"""Peer-reviewer assignment: each plan gets `per_plan` reviewers, each reviewer between
`min_load` and `max_load` reviews, conflicts are never broken, locks always hold, and the total
affinity (the explained twin score, optionally plus the mentor bonus) is the maximum possible.

How it is solved, exactly:
- total mode: an OR-Tools min-cost flow (`ortools.graph.python.min_cost_flow`). Every rule is
  flow-shaped: conflicts remove arcs; a lock fixes one unit of flow (the plan needs one reviewer
  less, the reviewer has one review less to give); minimum loads are node demands; "at least one
  more mature reviewer" splits the plan into two nodes, one of which must send one unit, and only
  to more mature reviewers. Network flows have integral optimal solutions, so the flow optimum
  is the optimum over assignments. Affinities are scaled by 1e6 and rounded to integer costs.
- fair mode (FairIR/FairFlow-style): OR-Tools CP-SAT in two stages, first the largest possible
  worst-off plan total, then the largest total among assignments that keep it. Not flow-shaped;
  CP-SAT is given a time limit and the result says whether optimality was proven. From
  FAIR_SPARSE_FROM allowed pairs CP-SAT works on candidate lists (each plan's best reviewers,
  each reviewer's best plans, the total-mode optimum) and the result is proven over ALL pairs:
  stage one by the per-plan bound (no plan can beat its best reviewers), else, like stage two,
  by the LP relaxation over all pairs (HiGHS, column generation): a pair whose reduced cost
  shows that every assignment using it is no better than CP-SAT's value is ruled out, the
  others join the candidates until none is left outside. Integer units as in CP-SAT, so the
  values equal those of CP-SAT on every pair.
- solver="cpsat" solves total mode with CP-SAT too (a cross-check of the flow).

Maturity: the more-mature rule applies only to plans whose maturity is known and below the top
level ('advanced'); plans of unknown maturity or already 'advanced' are exempt, and a reviewer
of unknown maturity never counts as more mature. Staff can pass their own `maturity` mapping.

When the rules cannot all hold, InfeasibleRulesError says why in plain words: capacity sums,
per-plan candidate counts after each rule, locks that break a rule, and, when only the
combination fails, the group of plans whose allowed reviewers cannot cover them (a min cut) or
the rule whose addition breaks feasibility.
"""
from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field

import numpy as np

from .errors import ConfigError
from .mentor import TOP_MATURITY, maturity_rank, more_mature
from .network import InfeasibleRulesError, city_label, join_names, resolve_rows
from .protocols import TwinSpace
from .vocab import MATURITY_LEVELS
from .wording import Num, R_, Reason, Terms, country_code, plural, survey_term

__all__ = ["ReviewRules", "Review", "ReviewAssignment", "ReviewProblem", "ReviewNetwork", "assign_reviewers",
           "solve_priced", "InfeasibleRulesError"]

FLOW_SCALE = 1_000_000  # affinity -> integer cost of the min-cost flow
CPSAT_SCALE = 100_000  # affinity -> integer coefficient in CP-SAT


@dataclass
class ReviewRules:
    """The rules of one review round. Conflicts and locks name cities (names, ids or rows)."""

    per_plan: int = 3
    min_load: int = 0
    max_load: int = 3
    no_same_country: bool = False
    no_same_network: bool = False  # never two cities that share a network (EU Mission 100 included)
    conflicts: list = field(default_factory=list)  # pairs of cities that never review each other
    locks: list = field(default_factory=list)  # (reviewer, plan): this reviewer must review that plan
    more_mature: bool = False  # at least one reviewer of higher maturity per plan (where known)
    common_language: bool = False  # reviewer and plan share an official language
    mentor: bool = False  # affinity = twin score + mentor bonus (reviewer ahead where the plan is stuck)

    def describe(self) -> list[str]:
        """The rules in force, in words (Reasons: the app shows them in its users' language)."""
        out = [Reason("{k} reviewer(s) per plan", k=self.per_plan),
               Reason("{lo}-{hi} reviews per reviewer", lo=self.min_load, hi=self.max_load),
               Reason("no city reviews its own plan")]
        if self.no_same_country:
            out.append(Reason("no reviewer from the plan's country"))
        if self.no_same_network:
            out.append(Reason("no reviewer from a network the plan's city belongs to"))
        if self.conflicts:
            out.append(Reason("{n} listed conflict pair(s)", n=len(self.conflicts)))
        if self.common_language:
            out.append(Reason("reviewer and plan share an official language"))
        if self.more_mature:
            out.append(Reason("at least one more mature reviewer per plan (where maturity is known)"))
        if self.locks:
            out.append(Reason("{n} locked review(s)", n=len(self.locks)))
        return out


@dataclass
class Review:
    plan_id: str
    plan: str
    plan_country: str
    reviewer_id: str
    reviewer: str
    reviewer_country: str
    affinity: float
    twin_score: float
    mentor_bonus: float
    locked: bool
    reasons: list[str]
    explanation: list = field(default_factory=list)  # Contribution terms of the twin score (+ mentor)


@dataclass
class ReviewAssignment:
    reviews: list[Review]
    mode: str  # "total" or "fair"
    total_affinity: float
    worst_plan_affinity: float
    worst_plan: str
    plan_totals: dict[str, float]
    loads: dict[str, int]
    solver: str
    optimal: bool
    rules: list[str]
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return asdict(self)


# ---------------------------------------------------------------------------- rules -> arcs
class ReviewProblem:
    """Plans x reviewers: affinities, allowed pairs, locks and the more-mature structure."""

    def __init__(self, space: TwinSpace, plans, reviewers, rules: ReviewRules, weights, maturity):
        if rules.per_plan < 1:
            raise ConfigError(f"per_plan must be at least 1, got {rules.per_plan}.")
        if rules.min_load < 0 or rules.max_load < rules.min_load:
            raise ConfigError(f"Loads must satisfy 0 <= min_load <= max_load, got {rules.min_load}-{rules.max_load}.")
        self.space, self.rules = space, rules
        self.plan_rows = resolve_rows(space, plans)
        self.rev_rows = self.plan_rows if reviewers is None else resolve_rows(space, reviewers)
        if not self.plan_rows:
            raise ConfigError("No plans to review.")
        if not self.rev_rows:
            raise ConfigError("No reviewer cities given.")
        self.P, self.R = len(self.plan_rows), len(self.rev_rows)
        self.plan_label = [city_label(space, r) for r in self.plan_rows]
        self.rev_label = [city_label(space, r) for r in self.rev_rows]
        self.plan_pos = {r: i for i, r in enumerate(self.plan_rows)}
        self.rev_pos = {r: i for i, r in enumerate(self.rev_rows)}
        self.twin = self._twin_scores(weights)
        self._apply_rules()
        self._maturity(maturity)
        self._mentor_bonus()
        self.affinity = self.twin + self.bonus
        self._locks()

    def _twin_scores(self, weights) -> np.ndarray:
        """Plans x reviewers twin scores, from one similarity matrix over both sets."""
        union = sorted(set(self.plan_rows) | set(self.rev_rows))
        pos = {r: i for i, r in enumerate(union)}
        S = self.space.similarity_matrix(union, weights)
        pi = np.array([pos[r] for r in self.plan_rows])
        ri = np.array([pos[r] for r in self.rev_rows])
        return S[np.ix_(pi, ri)]

    def _add_rule(self, name: str, mask: np.ndarray) -> None:
        """Each rule removes candidates; the per-plan counts after each rule feed the messages."""
        self.rule_masks[name] = mask
        self.allowed &= mask
        self.stages.append((name, self.allowed.copy()))

    def _apply_rules(self) -> None:
        """The allowed pairs: every conflict rule in force, one mask each, in a fixed order."""
        prof, rules, P, R = self.space.profiles, self.rules, self.P, self.R
        self.stages: list[tuple[str, np.ndarray]] = []
        self.rule_masks: dict[str, np.ndarray] = {}
        self.allowed = np.ones((P, R), dtype=bool)
        self._add_rule("not itself", np.array(self.plan_rows)[:, None] != np.array(self.rev_rows)[None, :])
        self.cc_p = prof["country_code"].to_numpy(dtype=object)[self.plan_rows]
        self.cc_r = prof["country_code"].to_numpy(dtype=object)[self.rev_rows]
        if rules.no_same_country:
            self._add_rule("same-country", self.cc_p[:, None] != self.cc_r[None, :])
        self.nets_p = [set(prof["networks"].iat[r]) for r in self.plan_rows]
        self.nets_r = [set(prof["networks"].iat[r]) for r in self.rev_rows]
        if rules.no_same_network:
            self._add_rule("same-network", np.array([[not (a & b) for b in self.nets_r] for a in self.nets_p],
                                                    dtype=bool).reshape(P, R))
        if rules.conflicts:
            self._add_rule("listed-conflicts", self._conflict_mask())
        self.langs_p = [set(prof["languages"].iat[r]) for r in self.plan_rows]
        self.langs_r = [set(prof["languages"].iat[r]) for r in self.rev_rows]
        if rules.common_language:
            self._add_rule("common-language", np.array([[bool(a & b) for b in self.langs_r] for a in self.langs_p],
                                                       dtype=bool).reshape(P, R))

    def _conflict_mask(self) -> np.ndarray:
        """False where a listed conflict pair meets as plan and reviewer (either way round)."""
        m = np.ones((self.P, self.R), dtype=bool)
        for pair in self.rules.conflicts:
            if len(pair) != 2:
                raise ConfigError(f"A conflict is a pair of cities, got {pair!r}.")
            a, b = resolve_rows(self.space, [pair[0]])[0], resolve_rows(self.space, [pair[1]])[0]
            for x, y in ((a, b), (b, a)):
                if x in self.plan_pos and y in self.rev_pos:
                    m[self.plan_pos[x], self.rev_pos[y]] = False
        return m

    def _maturity(self, maturity) -> None:
        """Maturity ranks and who is ahead of whom; the staff's own mapping wins over the profile's."""
        prof, rules = self.space.profiles, self.rules
        mat_override = {}
        for key, level in (maturity or {}).items():
            mat_override[resolve_rows(self.space, [key])[0]] = level
        levels_p = [mat_override.get(r, prof["maturity"].iat[r]) for r in self.plan_rows]
        levels_r = [mat_override.get(r, prof["maturity"].iat[r]) for r in self.rev_rows]
        self.mat_p = [maturity_rank(v) for v in levels_p]
        self.mat_r = [maturity_rank(v) for v in levels_r]
        self.applies = np.array([rules.more_mature and m is not None and m < TOP_MATURITY for m in self.mat_p],
                                dtype=bool)
        self.ahead = np.array([[more_mature(lr, lp) for lr in levels_r] for lp in levels_p],
                              dtype=bool).reshape(self.P, self.R)

    def _mentor_bonus(self) -> None:
        """Mentor bonus (reviewer ahead where the plan's city is stuck), only on allowed pairs."""
        self.bonus = np.zeros((self.P, self.R))
        self.bonus_terms: dict[tuple[int, int], object] = {}
        if not self.rules.mentor:
            return
        for p in range(self.P):
            asker = self.space.profiles.iloc[self.plan_rows[p]].to_dict()
            for r in np.flatnonzero(self.allowed[p]):
                term = self.space.mentor_term(asker, self.rev_rows[r])
                self.bonus[p, r] = term.contribution
                self.bonus_terms[(p, int(r))] = term

    def _locks(self) -> None:
        """Locks, (reviewer, plan): the ones that can hold, and in words the ones that cannot."""
        self.locks: list[tuple[int, int]] = []
        self.lock_problems: list[str] = []
        for pair in self.rules.locks:
            lock = self._lock(pair)
            if isinstance(lock, str):
                self.lock_problems.append(lock)
            elif lock not in self.locks:
                self.locks.append(lock)

    def _lock(self, pair) -> tuple[int, int] | str:
        """One lock as (plan, reviewer) positions, or why it cannot hold."""
        space = self.space
        if len(pair) != 2:
            raise ConfigError(f"A lock is a (reviewer, plan) pair, got {pair!r}.")
        rv, pl = resolve_rows(space, [pair[0]])[0], resolve_rows(space, [pair[1]])[0]
        what = Reason("Lock '{reviewer} reviews {plan}'", reviewer=city_label(space, rv), plan=city_label(space, pl))
        if pl not in self.plan_pos:
            return Reason("{lock}: {plan} is not among the plans to review", lock=what, plan=city_label(space, pl))
        if rv not in self.rev_pos:
            return Reason("{lock}: {reviewer} is not among the reviewers", lock=what, reviewer=city_label(space, rv))
        p, r = self.plan_pos[pl], self.rev_pos[rv]
        if rv == pl:
            return Reason("{lock}: a city never reviews its own plan", lock=what)
        broken = [name for name, m in self.rule_masks.items() if name != "not itself" and not m[p, r]]
        if broken:
            why = Terms((self._broken_words(b, p, r) for b in broken), "; ")
            return plural(len(broken), R_("{lock} breaks the {rules} rule ({why})"),
                          R_("{lock} breaks the {rules} rules ({why})"), lock=what,
                          rules=_all_of([Reason(b) for b in broken]), why=why)
        return p, r

    def _broken_words(self, rule: str, p: int, r: int) -> Reason:
        """Why a locked pair breaks one rule, in words."""
        if rule == "same-country":
            return Reason("both are in {country}", country=country_code(self.cc_p[p]))
        if rule == "same-network":
            return Reason("they share {networks}", networks=Terms(sorted(self.nets_p[p] & self.nets_r[r])))
        if rule == "listed-conflicts":
            return Reason("the pair is listed as a conflict")
        return Reason("no common language ({reviewer} vs {plan})", reviewer=Terms(sorted(self.langs_r[r]), ", ", "language"),
                      plan=Terms(sorted(self.langs_p[p]), ", ", "language"))

    # The per-plan and per-reviewer figures once locks are fixed.
    def residual(self):
        k = self.rules.per_plan
        need = np.full(self.P, k, dtype=np.int64)
        cap = np.full(self.R, self.rules.max_load, dtype=np.int64)
        low = np.full(self.R, self.rules.min_load, dtype=np.int64)
        locked = np.zeros((self.P, self.R), dtype=bool)
        for p, r in self.locks:
            locked[p, r] = True
            need[p] -= 1
            cap[r] -= 1
            low[r] -= 1
        low = np.maximum(low, 0)
        # a plan whose locks already include a more mature reviewer has the rule satisfied
        split = self.applies & ~(locked & self.ahead).any(axis=1)
        return need, cap, low, locked, split


# ---------------------------------------------------------------------------- pre-checks
# the rules that cut a plan's possible reviewers, by name, and their names in the rule masks
RULE_NAMES = (R_("same-country"), R_("same-network"), R_("listed-conflicts"), R_("common-language"))
_RULE_WORDS = {"same-country": R_("same-country"), "same-network": R_("same-network"),
               "listed-conflicts": R_("listed-conflict"), "common-language": R_("language")}


def _all_of(items: list):
    """'a and b and c' (each joined by 'and')."""
    out = items[0]
    for item in items[1:]:
        out = Reason("{names} and {last}", names=Terms([out]), last=item)
    return out


def _rule_words(names: list[str]) -> str:
    used = [Reason(_RULE_WORDS[n]) for n in names if n in _RULE_WORDS]
    if not used:
        return ""
    names = join_names(used)
    return plural(len(used), R_("the {rule} rule"), R_("the {rules} rules"), rule=names, rules=names)


def _possible(n: int) -> Reason:
    """'1 possible reviewer', '3 possible reviewers'."""
    return plural(n, R_("{n} possible reviewer"), R_("{n} possible reviewers"), n=n)


def _prechecks(inst: ReviewProblem) -> list[str]:
    rules = inst.rules
    k, P, R = rules.per_plan, inst.P, inst.R
    reasons = list(inst.lock_problems)
    need_total = P * k
    if need_total > R * rules.max_load:
        reasons.append(Reason("{P} plans need {need} reviews but {R} reviewers x max {k} = {room}", P=P, need=need_total,
                              R=R, k=rules.max_load, room=R * rules.max_load))
    if R * rules.min_load > need_total:
        reasons.append(Reason("{R} reviewers x at least {k} = {least} reviews are required, but {P} plans x {per} = "
                              "{need} reviews are to be done", R=R, k=rules.min_load, least=R * rules.min_load, P=P,
                              per=k, need=need_total))
    for p in range(P):
        final = int(inst.allowed[p].sum())
        if final < k:
            cut = []
            prev = int(inst.stages[0][1][p].sum())
            for name, mask in inst.stages[1:]:
                now = int(mask[p].sum())
                if now < prev:
                    cut.append(name)
                prev = now
            after = _rule_words(cut)
            if after:
                reasons.append(Reason("{plan} has {possible} after {rules}, it needs {k}", plan=inst.plan_label[p],
                                      possible=_possible(final), rules=after, k=k))
            else:
                reasons.append(Reason("{plan} has {possible} (the reviewers other than itself), it needs {k}",
                                      plan=inst.plan_label[p], possible=_possible(final), k=k))
    need, cap, low, locked, split = inst.residual()
    for p in np.flatnonzero(need < 0):
        reasons.append(Reason("{plan} has {n} locked reviewers but takes only {k}", plan=inst.plan_label[p],
                              n=int(locked[p].sum()), k=k))
    for r in np.flatnonzero(cap < 0):
        reasons.append(Reason("{reviewer} has {n} locked reviews but may do at most {k}", reviewer=inst.rev_label[r],
                              n=int(locked[:, r].sum()), k=rules.max_load))
    if rules.min_load > 0:
        for r in range(R):
            can = int(inst.allowed[:, r].sum())
            if can < rules.min_load:
                cut = [name for name, m in inst.rule_masks.items() if name != "not itself" and not m[:, r].all()]
                after = _rule_words(cut)
                plans = plural(can, R_("{n} plan"), R_("{n} plans"), n=can)
                reasons.append(Reason("{reviewer} may review only {plans} after {rules} but must review at least {k}",
                                      reviewer=inst.rev_label[r], plans=plans, rules=after, k=rules.min_load) if after
                               else Reason("{reviewer} may review only {plans} but must review at least {k}",
                                           reviewer=inst.rev_label[r], plans=plans, k=rules.min_load))
    for p in np.flatnonzero(split):
        options = inst.allowed[p] & inst.ahead[p]
        if not options.any():
            reasons.append(Reason("{plan} (maturity {level}) has no allowed reviewer of higher maturity, which the "
                                  "more-mature rule requires", plan=inst.plan_label[p],
                                  level=survey_term(MATURITY_LEVELS[inst.mat_p[p]])))
        elif need[p] <= 0:
            reasons.append(Reason("{plan}'s {k} locked reviewers are all as mature or less, and the more-mature rule "
                                  "needs one more mature reviewer", plan=inst.plan_label[p], k=k))
    return reasons


# ---------------------------------------------------------------------------- min-cost flow
SPARSE_FROM = 1_000_000  # candidate pairs from which the flow starts on each plan's best reviewers
SPARSE_K = 24  # reviewers per plan (beyond its need) in the first sparse flow


def _solve_flow(inst: ReviewProblem, use_min: bool = True, use_mature: bool = True):
    """Optimal assignment by min-cost flow, or None when infeasible. Returns the chosen
    (plan, reviewer) pairs, locks included. Large instances start on each plan's best reviewers
    and add arcs until the reduced-cost check proves the sparse optimum optimal for all pairs."""
    need, cap, low, locked, split = inst.residual()
    if not use_min:
        low = np.zeros_like(low)
    if not use_mature:
        split = np.zeros_like(split)
    if (cap - low < 0).any() or (need < 0).any():
        return None
    free = inst.allowed & ~locked
    costs = -np.rint(inst.affinity * FLOW_SCALE).astype(np.int64)
    net = ReviewNetwork(need, cap, low, split, inst.ahead)
    if free.sum() < SPARSE_FROM:
        chosen = net.solve(*np.nonzero(free), costs)
    else:
        chosen = solve_priced(net, free, costs)
    return None if chosen is None else chosen + list(inst.locks)


def solve_priced(net: "ReviewNetwork", free: np.ndarray, costs: np.ndarray):
    """Column generation on the flow: solve on each plan's best SPARSE_K + need reviewers (and
    each reviewer's best plans, so minimum loads can be met), then add every left-out pair whose
    reduced cost under the residual graph's shortest-path potentials is negative, until none is:
    then no left-out pair can improve the flow, which is therefore optimal over all pairs (the
    negative-cycle optimality condition). Falls back to all pairs when the sparse flow fails."""
    P, R = free.shape
    masked = np.where(free, costs, np.iinfo(np.int64).max // 4)
    k = min(R, SPARSE_K + int(net.need.max(initial=0)))
    use = np.zeros_like(free)
    np.put_along_axis(use, np.argpartition(masked, k - 1, axis=1)[:, :k], True, axis=1)
    m = min(P, 2 * int(net.cap.max(initial=0)) + 2)
    np.put_along_axis(use, np.argpartition(masked, m - 1, axis=0)[:m], True, axis=0)
    use &= free
    for _ in range(20):
        pp, rr = np.nonzero(use)
        chosen = net.solve(pp, rr, costs)
        if chosen is None:
            return net.solve(*np.nonzero(free), costs)
        add = net.negative_reduced(free & ~use, costs)
        if not add.any():
            return chosen
        use |= add
    return net.solve(*np.nonzero(free), costs)


class ReviewNetwork:
    """The flow network of the total mode: plans 0..P-1, their "more mature" halves P..2P-1,
    reviewers 2P..2P+R-1 and a sink. `solve` keeps the arcs and flows of the last solve so
    `negative_reduced` can price left-out pairs against that flow."""

    def __init__(self, need, cap, low, split, ahead):
        self.need, self.cap, self.low, self.split, self.ahead = need, cap, low, split, ahead
        self.P, self.R = len(need), len(cap)

    def solve(self, pp: np.ndarray, rr: np.ndarray, costs: np.ndarray):
        """solver model: the min-cost flow on the pairs (pp, rr): supply need[p] at each plan (one
        unit of it at the mature half when the plan needs a more mature reviewer, which only
        links to reviewers ahead of it), minimum loads as reviewer demands, loads up to cap on the
        reviewer -> sink arcs; integral, so the flow optimum is the best assignment."""
        from ortools.graph.python import min_cost_flow

        P, R = self.P, self.R
        sink = 2 * P + R
        supplies = np.zeros(sink + 1, dtype=np.int64)
        tails = np.where(self.split[pp] & self.ahead[pp, rr], P + pp, pp)
        heads, caps, arc_costs = 2 * P + rr, np.ones(len(pp), dtype=np.int64), costs[pp, rr]
        sp = np.flatnonzero(self.split & (self.need > 0))
        supplies[:P] = self.need
        supplies[sp] -= 1
        supplies[P + sp] = 1
        two = sp[self.need[sp] > 1]
        extra_t = np.concatenate([two, 2 * P + np.arange(R)])
        extra_h = np.concatenate([P + two, np.full(R, sink)])
        extra_c = np.concatenate([self.need[two] - 1, self.cap - self.low])
        supplies[2 * P:2 * P + R] = -self.low
        supplies[sink] = -(int(self.need.sum()) - int(self.low.sum()))
        self.t = np.concatenate([tails, extra_t]).astype(np.int32)
        self.h = np.concatenate([heads, extra_h]).astype(np.int32)
        self.c = np.concatenate([arc_costs, np.zeros(len(extra_t), dtype=np.int64)])
        self.u = np.concatenate([caps, extra_c]).astype(np.int64)
        mcf = min_cost_flow.SimpleMinCostFlow()
        mcf.add_arcs_with_capacity_and_unit_cost(self.t, self.h, self.u, self.c)
        mcf.set_nodes_supplies(np.arange(sink + 1, dtype=np.int32), supplies)
        if mcf.solve() != mcf.OPTIMAL:
            return None
        self.f = mcf.flows(np.arange(len(self.t), dtype=np.int32))
        used = self.f[:len(pp)] > 0
        return list(zip(pp[used].tolist(), rr[used].tolist()))

    def potentials(self) -> np.ndarray:
        """Shortest-path distances in the residual graph of the last flow from a virtual node
        linked to every node at cost 0 (vectorised Bellman-Ford rounds; exact integers)."""
        fwd = self.f < self.u
        bwd = self.f > 0
        t = np.concatenate([self.t[fwd], self.h[bwd]])
        h = np.concatenate([self.h[fwd], self.t[bwd]])
        c = np.concatenate([self.c[fwd], -self.c[bwd]])
        d = np.zeros(2 * self.P + self.R + 1, dtype=np.int64)
        for _ in range(len(d) + 1):
            new = d.copy()
            np.minimum.at(new, h, d[t] + c)
            if (new == d).all():
                return d
            d = new
        raise RuntimeError("negative cycle in an optimal flow's residual graph")

    def negative_reduced(self, left_out: np.ndarray, costs: np.ndarray) -> np.ndarray:
        """The left-out pairs whose arc would have a negative reduced cost (could improve the flow)."""
        d = self.potentials()
        P = self.P
        tail_d = np.where(self.split[:, None] & self.ahead, d[P:2 * P][:, None], d[:P][:, None])
        return left_out & (costs + tail_d - d[2 * P:2 * P + self.R][None, :] < 0)


def _hall_violation(inst: ReviewProblem) -> str | None:
    """A group of plans whose allowed reviewers cannot cover them (the source side of a min cut
    of plan -> reviewer -> capacity), in words."""
    from ortools.graph.python import max_flow

    need, cap, low, locked, split = inst.residual()
    P, R = inst.P, inst.R
    free = inst.allowed & ~locked
    src, sink = P + R, P + R + 1
    mf = max_flow.SimpleMaxFlow()
    pp, rr = np.nonzero(free)
    tails = np.concatenate([np.full(P, src), pp, P + np.arange(R)])
    heads = np.concatenate([np.arange(P), P + rr, np.full(R, sink)])
    caps = np.concatenate([np.maximum(need, 0), np.ones(len(pp), dtype=np.int64), np.maximum(cap, 0)])
    mf.add_arcs_with_capacity(tails.astype(np.int32), heads.astype(np.int32), caps.astype(np.int64))
    if mf.solve(src, sink) != mf.OPTIMAL:
        return None
    if mf.optimal_flow() >= int(np.maximum(need, 0).sum()):
        return None
    side = set(mf.get_source_side_min_cut())
    group = [p for p in range(P) if p in side and need[p] > 0]
    if not group:
        return None
    demand = int(need[group].sum())
    deg = free[group].sum(axis=0)
    give = {r: int(min(max(cap[r], 0), deg[r])) for r in range(R) if deg[r] > 0}
    supply = sum(give.values())
    helpers = [Reason("{reviewer} {n}", reviewer=inst.rev_label[r], n=v)
               for r, v in sorted(give.items(), key=lambda kv: -kv[1]) if v > 0]
    values = dict(plans=join_names([inst.plan_label[p] for p in group]), need=demand, most=supply,
                  helpers=join_names(helpers) if helpers else Reason("none"))
    return plural(len(group), R_("{plans} together need {need} more reviews, but the reviewers allowed for it can "
                                 "give at most {most} ({helpers}; load limits and one review per pair)"),
                  R_("{plans} together need {need} more reviews, but the reviewers allowed for them can give at most "
                     "{most} ({helpers}; load limits and one review per pair)"), **values)


def _explain_infeasible(inst: ReviewProblem) -> list[str]:
    """The pre-checks passed but no assignment exists: find which rule tips it over."""
    reasons = []
    hall = _hall_violation(inst)
    if hall:
        return [hall]
    base = [r for r in inst.rules.describe() if not r.startswith("at least one more mature")]
    if inst.rules.min_load and _solve_flow(inst, use_min=False, use_mature=False) is not None:
        if _solve_flow(inst, use_min=True, use_mature=False) is None:
            reasons.append(Reason("an assignment exists without the minimum load, but not one in which every reviewer "
                                  "does at least {k} reviews: the reviewers allowed for few plans compete for the "
                                  "same plans", k=inst.rules.min_load))
            return reasons
    if inst.rules.more_mature and inst.applies.any():
        n_apply = int(inst.applies.sum())
        n_ahead = int((inst.ahead & inst.allowed).any(axis=0).sum())
        reasons.append(Reason("an assignment exists under the other rules ({rules}), but not one that also gives "
                              "each of the {n} plans under the more-mature rule a more mature reviewer: only {ahead} "
                              "allowed reviewer(s) are more mature than some plan, with at most {k} reviews each",
                              rules=Terms(base, "; "), n=n_apply, ahead=n_ahead, k=inst.rules.max_load))
        return reasons
    reasons.append(Reason("no assignment satisfies all the rules together, although each plan and each reviewer "
                          "passes the separate checks; relax one of them (more reviewers, a higher maximum load, "
                          "fewer conflict rules)"))
    return reasons


# ---------------------------------------------------------------------------- CP-SAT
def _cpsat_model(inst: ReviewProblem, pp: np.ndarray, rr: np.ndarray, coef: np.ndarray, locked: np.ndarray):
    """The assignment model over the allowed pairs (pp, rr): one variable per pair, locks fixed,
    per-plan count, more-mature rule and loads. Returns the model, the variables, each plan's
    scaled affinity sum and the scaled total."""
    from ortools.sat.python import cp_model

    P, R = inst.P, inst.R
    m = cp_model.CpModel()
    x = [m.new_bool_var(f"x{i}") for i in range(len(pp))]
    by_plan = [[] for _ in range(P)]
    by_rev = [[] for _ in range(R)]
    for i, (p, r) in enumerate(zip(pp, rr)):
        by_plan[p].append(i)
        by_rev[r].append(i)
        if locked[p, r]:
            m.add(x[i] == 1)
    k = inst.rules.per_plan
    for p in range(P):
        m.add(sum(x[i] for i in by_plan[p]) == k)
        if inst.applies[p]:
            m.add(sum(x[i] for i in by_plan[p] if inst.ahead[p, rr[i]]) >= 1)
    for r in range(R):
        load = sum(x[i] for i in by_rev[r])
        m.add(load <= inst.rules.max_load)
        if inst.rules.min_load:
            m.add(load >= inst.rules.min_load)
    plan_sum = [sum(int(coef[i]) * x[i] for i in by_plan[p]) for p in range(P)]
    total = sum(int(c) * xi for c, xi in zip(coef, x))
    return m, x, plan_sum, total


def _cpsat_run(m, time_limit: float, workers: int, callback=None):
    from ortools.sat.python import cp_model

    solver = cp_model.CpSolver()
    solver.parameters.max_time_in_seconds = float(time_limit)
    if workers:
        solver.parameters.num_workers = int(workers)
    status = solver.solve(m, callback)
    return solver, status


def _lowest_plan_total(coef: np.ndarray, per_plan: int) -> int:
    """A lower bound on any plan's total: `per_plan` reviews at the lowest (scaled) affinity, 0
    when none is negative. The worst-off plan's total is never below it."""
    return int(min(0, coef.min(initial=0))) * per_plan


def _stop_at(cap: int):
    """A CP-SAT callback that stops the search at a solution that reaches `cap` (a proven
    bound; a constraint would slow the search)."""
    from ortools.sat.python import cp_model

    class StopAtCap(cp_model.CpSolverSolutionCallback):
        def on_solution_callback(self):
            if self.objective_value >= cap:
                self.stop_search()

    return StopAtCap()


def _cpsat_stage(inst: ReviewProblem, pp, rr, c, locked, time_limit: float, workers: int, *, worst_cap=None,
                 floor=None, hint=None, stop_at=None):
    """One CP-SAT solve of the assignment model (`_cpsat_model`) on the pairs (pp, rr) with
    scaled affinities `c`: with `worst_cap`, the fair mode's stage one (maximise the worst-off
    plan's total, at most `worst_cap`); else the largest total, with every plan's total at least
    `floor` when given (the fair mode's stage two). `hint`: one bool per pair to start from;
    `stop_at`: stop at a solution that reaches it. Returns (status, objective or None, one bool
    per pair or None)."""
    from ortools.sat.python import cp_model

    m, x, plan_sum, total = _cpsat_model(inst, pp, rr, c, locked)
    obj = total
    if worst_cap is not None:
        obj = m.new_int_var(_lowest_plan_total(c, inst.rules.per_plan), int(worst_cap), "worst")
        for s in plan_sum:
            m.add(obj <= s)
    elif floor is not None:
        for s in plan_sum:
            m.add(s >= int(floor))
    m.maximize(obj)
    for xi, h in zip(x, hint if hint is not None else ()):
        m.add_hint(xi, bool(h))
    solver, status = _cpsat_run(m, time_limit, workers, None if stop_at is None else _stop_at(stop_at))
    if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        return status, None, None
    return status, int(round(solver.objective_value)), [solver.boolean_value(xi) for xi in x]


def _worst_cap(inst: ReviewProblem, pp: np.ndarray, coef: np.ndarray) -> int:
    """Stage one's cap on all pairs: the worst plan does no better than the plan with the
    weakest top-k candidates (nor than k times the largest affinity)."""
    k = inst.rules.per_plan
    lo = _lowest_plan_total(coef, k)
    hi = int(max(0, coef.max(initial=0))) * k
    top_k = min(int(np.sort(coef[pp == p])[::-1][:k].sum()) for p in range(inst.P))
    return max(lo, min(hi, top_k))


def _solve_cpsat(inst: ReviewProblem, fair: bool, time_limit: float, workers: int):
    """Total mode by CP-SAT, or fair mode's two stages on all pairs: the worst-off floor
    (started from the total-mode optimum), then the largest total that keeps it. Returns
    (pairs or None, proven infeasible, proven optimal)."""
    from ortools.sat.python import cp_model

    need, cap, low, locked, split = inst.residual()
    pp, rr = np.nonzero(inst.allowed)
    coef = np.rint(inst.affinity[pp, rr] * CPSAT_SCALE).astype(np.int64)
    proven = True
    worst_floor = first = None
    if fair:
        flow = set(_solve_flow(inst) or [])
        start = [(int(p), int(r)) in flow for p, r in zip(pp, rr)]
        status, worst_floor, first = _cpsat_stage(inst, pp, rr, coef, locked, time_limit, workers,
                                                  worst_cap=_worst_cap(inst, pp, coef), hint=start)
        if worst_floor is None:
            return None, status == cp_model.INFEASIBLE, False
        proven &= status == cp_model.OPTIMAL
    status, _, x = _cpsat_stage(inst, pp, rr, coef, locked, time_limit, workers, floor=worst_floor, hint=first)
    if x is None:
        return None, status == cp_model.INFEASIBLE, False
    proven &= status == cp_model.OPTIMAL
    chosen = [(int(pp[i]), int(rr[i])) for i in range(len(pp)) if x[i]]
    return chosen, False, proven


# ---------------------------------------------------------------------------- fair mode at scale
FAIR_SPARSE_FROM = 20_000  # allowed pairs from which the fair mode starts on candidate lists
FAIR_K = 10  # the first candidates: each plan's best FAIR_K reviewers ...
FAIR_M = 10  # ... each reviewer's best FAIR_M plans, the total-mode optimum and the locks
FAIR_MAX_PAIRS = 60_000  # candidates beyond which the proof is given up (CP-SAT would not end in time)


def _best_plan_sums(inst: ReviewProblem, coef: np.ndarray, locked: np.ndarray, need: np.ndarray,
                    split: np.ndarray) -> np.ndarray:
    """Each plan's best achievable total ignoring the loads: its locked reviewers plus its best
    `need` other allowed reviewers, one of them more mature where the rule applies. No
    assignment's worst-off plan can do better than the smallest of these."""
    free = inst.allowed & ~locked
    best = np.where(locked, coef, 0).sum(axis=1).astype(np.int64)
    for p in np.flatnonzero(need > 0):
        cand = np.flatnonzero(free[p])
        order = cand[np.argsort(-coef[p, cand], kind="stable")]
        top = order[:need[p]]
        if split[p] and not inst.ahead[p, top].any():
            ahead = order[inst.ahead[p, order]]
            top = np.append(order[:need[p] - 1], ahead[:1])
        best[p] += int(coef[p, top].sum())
    return best


def _fair_candidates(inst: ReviewProblem, coef: np.ndarray, seed_pairs) -> np.ndarray:
    """The first candidate pairs: each plan's best reviewers, each reviewer's best plans, the
    pairs of a known assignment (so the restricted model is feasible) and the locks."""
    masked = np.where(inst.allowed, coef, np.iinfo(np.int64).min // 4)
    use = np.zeros_like(inst.allowed)
    k = min(inst.R, FAIR_K + inst.rules.per_plan)
    np.put_along_axis(use, np.argpartition(-masked, k - 1, axis=1)[:, :k], True, axis=1)
    m = min(inst.P, FAIR_M + inst.rules.max_load)
    np.put_along_axis(use, np.argpartition(-masked, m - 1, axis=0)[:m], True, axis=0)
    for p, r in list(seed_pairs) + list(inst.locks):
        use[p, r] = True
    return use & inst.allowed


def _fair_lp(inst: ReviewProblem, coef: np.ndarray, use: np.ndarray, locked: np.ndarray, floor, t_bounds):
    """solver model: the LP relaxation of one fair-mode stage on the pairs `use` (HiGHS through
    scipy), in minimisation form: stage one (floor None) minimises -t with t <= every plan's
    total, stage two minimises -total with every plan's total >= floor. Rows: per-plan counts
    (equalities), then per-plan totals, maximum loads, minimum loads and the more-mature rule
    (all <=). Returns the rows' duals (scipy's marginals) and, when the LP optimum is integral,
    its assignment ("x"), as a dict; or None."""
    from scipy import sparse
    from scipy.optimize import linprog

    P, R, rules = inst.P, inst.R, inst.rules
    pp, rr = np.nonzero(use)
    n, c = len(pp), coef[pp, rr].astype(float)
    cols = np.arange(n)
    stage_one = floor is None
    mat = np.flatnonzero(inst.applies)
    mat_row = np.full(P, -1)
    mat_row[mat] = np.arange(len(mat))
    n_cols = n + stage_one
    eq = sparse.csr_matrix((np.ones(n), (pp, cols)), shape=(P, n_cols))
    blocks = [sparse.csr_matrix((-c, (pp, cols)), shape=(P, n_cols)),
              sparse.csr_matrix((np.ones(n), (rr, cols)), shape=(R, n_cols))]
    b_ub = [np.zeros(P) if stage_one else np.full(P, -float(floor)), np.full(R, float(rules.max_load))]
    if stage_one:
        blocks[0] = blocks[0] + sparse.csr_matrix((np.ones(P), (np.arange(P), np.full(P, n))), shape=(P, n_cols))
    if rules.min_load:
        blocks.append(sparse.csr_matrix((-np.ones(n), (rr, cols)), shape=(R, n_cols)))
        b_ub.append(np.full(R, -float(rules.min_load)))
    if len(mat):
        sel = inst.applies[pp] & inst.ahead[pp, rr]
        blocks.append(sparse.csr_matrix((-np.ones(sel.sum()), (mat_row[pp[sel]], cols[sel])), shape=(len(mat), n_cols)))
        b_ub.append(-np.ones(len(mat)))
    obj = np.append(np.zeros(n), -1.0) if stage_one else -c
    bounds = np.column_stack([locked[pp, rr].astype(float), np.ones(n)])
    if stage_one:
        bounds = np.vstack([bounds, [float(t) for t in t_bounds]])
    res = linprog(obj, A_ub=sparse.vstack(blocks).tocsr(), b_ub=np.concatenate(b_ub), A_eq=eq,
                  b_eq=np.full(P, float(rules.per_plan)), bounds=bounds, method="highs")
    if res.status != 0:
        return None
    y = np.minimum(res.ineqlin.marginals, 0.0)  # rows <=: duals <= 0 (clipped: any such duals give a bound)
    cut = np.cumsum([P, R, R if rules.min_load else 0])
    x = np.zeros_like(use)
    x[pp, rr] = res.x[:n] > 0.5
    integral = bool(np.all(np.abs(res.x[:n] - x[pp, rr]) < 1e-7))
    return {"x": x if integral else None, "eq": res.eqlin.marginals, "floor": y[:cut[0]],
            "cap": y[cut[0]:cut[1]], "low": y[cut[1]:cut[2]], "mature": y[cut[2]:], "mat_row": mat_row,
            "b_ub": np.concatenate(b_ub)}


def _fair_reduced(inst: ReviewProblem, coef: np.ndarray, allowed: np.ndarray, locked: np.ndarray, duals: dict,
                  stage_one: bool, t_lo: float, t_hi: float):
    """Reduced costs of every pair under the duals, and the Lagrangian bound they prove for the
    stage over ALL pairs: for any duals of the right signs, every assignment x has objective
    >= y.b + sum_j min(d_j l_j, d_j u_j), and >= that + d_j when pair j (not locked, d_j > 0)
    is used. `allowed`: the pairs any assignment of the stage can use. Returns (bound, d,
    rounding margin); other pairs get d = +inf."""
    rules = inst.rules
    C = coef.astype(float)
    lin = duals["eq"][:, None] - duals["floor"][:, None] * C + duals["cap"][None, :]
    if rules.min_load:
        lin = lin - duals["low"][None, :]
    mat = np.flatnonzero(inst.applies)
    if len(mat):
        lin[mat] -= duals["mature"][duals["mat_row"][mat]][:, None] * inst.ahead[mat]
    d = (0.0 if stage_one else -C) - lin
    d = np.where(allowed, d, np.inf)
    terms = np.where(allowed, np.where(locked, d, np.minimum(d, 0.0)), 0.0)
    yb = float(duals["eq"].sum() * rules.per_plan + duals["b_ub"] @ np.concatenate(
        [duals["floor"], duals["cap"], duals["low"], duals["mature"]]))
    bound = yb + float(terms.sum())
    if stage_one:
        d_t = -1.0 - float(duals["floor"].sum())
        bound += min(d_t * t_lo, d_t * t_hi)
    margin = 1e-9 * (abs(yb) + float(np.abs(terms).sum()) + 1.0) + 1e-6
    return bound, d, margin


def _fair_bound(inst: ReviewProblem, coef, allowed, use, locked, floor, t_hi):
    """The stage's LP bound over all `allowed` pairs by column generation: solve the LP on the candidate
    pairs, add every pair with a negative reduced cost, until none has (then the restricted LP
    is the full LP). Returns (bound, reduced costs, margin, the LP's assignment when integral)
    or None when the LP fails."""
    stage_one = floor is None
    t_lo = float(_lowest_plan_total(coef, inst.rules.per_plan))
    lp_use = use.copy()
    out = None
    for _ in range(30):
        duals = _fair_lp(inst, coef, lp_use, locked, floor, (t_lo, t_hi))
        if duals is None:
            return out
        out = (*_fair_reduced(inst, coef, allowed, locked, duals, stage_one, t_lo, float(t_hi)), duals["x"])
        add = allowed & ~lp_use & (out[1] < -1e-6)
        if not add.any():
            return out
        lp_use |= add
    return out


def _fair_cpsat(inst: ReviewProblem, coef, use, locked, floor, cap: int, hint: np.ndarray, time_limit, workers):
    """One fair-mode stage by CP-SAT on the candidate pairs `use`, started from `hint` (a
    feasible assignment inside `use`): stage one (floor None) maximises the worst-off plan's
    total, stage two the total with every plan at least `floor`; the objective is at most
    `cap`, a proven bound, so the search stops when it reaches it. Returns (objective or None,
    chosen mask, proven optimal on `use`)."""
    from ortools.sat.python import cp_model

    pp, rr = np.nonzero(use)
    status, value, x = _cpsat_stage(inst, pp, rr, coef[pp, rr], locked, max(time_limit, 0.1), workers,
                                    worst_cap=cap if floor is None else None, floor=floor, hint=hint[pp, rr],
                                    stop_at=cap)
    if value is None:
        return None, hint, False
    chosen = np.zeros_like(use)
    chosen[pp, rr] = x
    return value, chosen, status == cp_model.OPTIMAL


def _fair_stage(inst: ReviewProblem, coef, use, locked, floor, bounds, hint, time_limit, workers):
    """One fair-mode stage, exact over all pairs. CP-SAT runs on the candidates with the
    objective capped by a proven bound (stage one: t_hi, the per-plan bound; stage two: the LP
    bound over all pairs, computed first). Then two tests rule pairs out of any better
    assignment: the pair's best plan total (`_best_with_pair`: stage two never uses a pair
    below the floor, stage one no pair that cannot lift its plan above the CP-SAT value) and LP
    reduced-cost fixing (every assignment using the pair is no better than the CP-SAT value).
    Pairs that survive both and are not candidates yet are added and CP-SAT runs again (up to
    FAIR_MAX_PAIRS candidates, else the stage ends unproven); a pair ruled out once stays out
    (the value only improves; a degenerate LP's duals differ from solve to solve). Proven when the value meets the cap, when no pair survives, or when CP-SAT
    proves its optimum and no pair survives outside the candidates. Returns (objective, chosen
    mask, candidates, proven, how)."""
    t_hi, best_with = bounds
    deadline = time.perf_counter() + time_limit
    allowed = inst.allowed if floor is None else inst.allowed & (best_with >= floor)
    best, chosen, use = None, hint, use & allowed
    possible = allowed.copy()  # pairs not ruled out of a better assignment yet
    lp = None if floor is None else _fair_bound(inst, coef, allowed, use, locked, floor, t_hi)
    if lp is not None and lp[3] is not None:  # an integral LP optimum is the best assignment
        return int(coef[lp[3]].sum()), lp[3], use | lp[3], True, "the LP optimum is integral"
    top = t_hi if floor is None else int(np.maximum(coef, 0).sum())  # the cap before any LP bound
    for round_ in range(6):
        cap = top
        if lp is not None:
            cap = min(cap, int(np.floor(-lp[0] + lp[2])))
        value, chosen, optimal = _fair_cpsat(inst, coef, use, locked, floor, cap, chosen,
                                             deadline - time.perf_counter(), workers)
        if value is None:
            return best, chosen, use, False, "CP-SAT found no assignment in time"
        best = value
        if value >= cap:
            which = "per-plan bound" if floor is None and value >= t_hi else "LP bound"
            return value, chosen, use, True, f"meets the {which}"
        if floor is None:
            possible &= best_with > value
        if lp is None or round_ > 0:
            lp = _fair_bound(inst, coef, allowed, use, locked, floor, t_hi)
        if lp is None:
            return value, chosen, use, False, "the LP bound failed"
        bound, d, margin = lp[:3]
        possible &= bound + np.maximum(d, 0.0) <= -value - 1 + margin  # min form: the value is -value
        if not possible.any():  # no pair can be in a better assignment: there is none
            return value, chosen, use, True, "no better assignment exists (LP bound)"
        outside = possible & ~use
        if not outside.any():
            how = "no pair outside the candidates can improve it (LP reduced costs)" if optimal else \
                "not proven: CP-SAT reached its time limit on the candidates"
            return value, chosen, use, optimal, how
        if int((use | outside).sum()) > FAIR_MAX_PAIRS or time.perf_counter() >= deadline:
            break
        use = use | outside
    return best, chosen, use, False, f"not proven: {int(outside.sum()):,} pair(s) outside the candidates may improve it"


def _best_with_pair(inst: ReviewProblem, coef: np.ndarray, locked: np.ndarray, need: np.ndarray) -> np.ndarray:
    """Each allowed pair's best plan total: the plan's locked reviewers, this reviewer and the
    plan's best need-1 other reviewers, ignoring loads and the more-mature rule; no assignment
    that gives the plan this reviewer gives the plan more. A locked pair gets the plan's best
    total; a pair the plan cannot take (not allowed, or no review left) a very low value."""
    P, R = inst.P, inst.R
    low = np.iinfo(np.int64).min // 4
    free = inst.allowed & ~locked & (need > 0)[:, None]
    vals = np.where(free, coef, low)
    order = np.argsort(-vals, axis=1, kind="stable")
    rank = np.empty_like(order)
    np.put_along_axis(rank, order, np.broadcast_to(np.arange(R), (P, R)), axis=1)
    ranked = np.take_along_axis(vals, order, axis=1)
    top = np.cumsum(np.where(ranked > low, ranked, 0), axis=1)
    top = np.hstack([np.zeros((P, 1), dtype=np.int64), top])
    n = np.maximum(need, 1)
    top_need, top_less = top[np.arange(P), np.minimum(n, R)], top[np.arange(P), n - 1]
    base = np.where(locked, coef, 0).sum(axis=1)
    with_r = np.where(rank < n[:, None], top_need[:, None], coef + top_less[:, None])
    out = np.where(free, base[:, None] + with_r, low)
    return np.where(locked, (base + np.where(need > 0, top_need, 0))[:, None], out)


def _solve_fair(inst: ReviewProblem, time_limit: float, workers: int):
    """Fair mode on candidate lists (calls with FAIR_SPARSE_FROM allowed pairs or more), exact
    over all pairs when both stages are proven. Stage one is capped by the per-plan bound (each
    plan's best reviewers ignoring loads); stage two keeps stage one's floor. Returns (pairs or
    None, proven infeasible, proven optimal, a note on the proof)."""
    need, cap, low, locked, split = inst.residual()
    coef = np.where(inst.allowed, np.rint(inst.affinity * CPSAT_SCALE), 0).astype(np.int64)
    flow = _solve_flow(inst)
    if flow is None:
        return None, True, False, ""
    start = np.zeros_like(inst.allowed)
    start[tuple(np.array(flow).T)] = True
    use = _fair_candidates(inst, coef, flow)
    bounds = int(_best_plan_sums(inst, coef, locked, need, split).min()), _best_with_pair(inst, coef, locked, need)
    worst, first, used, proven1, how1 = _fair_stage(inst, coef, use, locked, None, bounds, start, time_limit, workers)
    if worst is None:
        return None, False, False, how1
    total, chosen, used, proven2, how2 = _fair_stage(inst, coef, use | first, locked, worst, bounds, first,
                                                     time_limit, workers)
    if total is None:
        chosen, proven2 = first, False
    pairs = list(zip(*(a.tolist() for a in np.nonzero(chosen))))
    note = (f"fair mode on {int(used.sum()):,} of {int(inst.allowed.sum()):,} allowed pairs; worst-off plan: "
            f"{how1}; total: {how2}")
    return pairs, False, proven1 and proven2, note


# ---------------------------------------------------------------------------- entry point
def assign_reviewers(space: TwinSpace, plans="all", reviewers=None, rules: ReviewRules | None = None,
                     weights: dict[str, float] | None = None, mode: str = "total", solver: str = "auto",
                     maturity: dict | None = None, time_limit: float = 60.0, workers: int = 0,
                     explain: bool = True) -> ReviewAssignment:
    """Assign reviewers to plans, maximising total affinity (mode="total") or the worst-off plan's
    total affinity with the total as tie-break (mode="fair"), subject to every rule.

    plans / reviewers: city names, ids, (name, country) tuples or profile rows; "all" = every
    city with a climate profile; reviewers=None means the plans' cities review each other.
    """
    rules = rules or ReviewRules()
    if mode not in ("total", "fair"):
        raise ConfigError(f"mode must be 'total' or 'fair', got {mode!r}.")
    if solver not in ("auto", "flow", "cpsat"):
        raise ConfigError(f"solver must be auto, flow or cpsat, got {solver!r}.")
    if mode == "fair" and solver == "flow":
        raise ConfigError("The fair mode (max-min) is not a flow problem; use solver='auto' or 'cpsat'.")
    inst = ReviewProblem(space, plans, reviewers, rules, weights, maturity)
    return solve_problem(inst, mode=mode, solver=solver, time_limit=time_limit, workers=workers, explain=explain)


def solve_problem(inst: ReviewProblem, mode: str = "total", solver: str = "auto", time_limit: float = 60.0,
                  workers: int = 0, explain: bool = True) -> ReviewAssignment:
    """Solve a built ReviewProblem (assign_reviewers does both steps)."""
    rules = inst.rules
    if mode == "fair" and solver == "flow":
        raise ConfigError("The fair mode (max-min) is not a flow problem; use solver='auto' or 'cpsat'.")
    reasons = _prechecks(inst)
    if reasons:
        raise InfeasibleRulesError(reasons, rules.describe())
    if mode == "total" and solver in ("auto", "flow"):
        chosen = _solve_flow(inst)
        used = "OR-Tools min-cost flow (SimpleMinCostFlow), optimal"
        proven = True
        if chosen is None:
            raise InfeasibleRulesError(_explain_infeasible(inst), rules.describe())
    else:
        proof = ""
        if mode == "fair" and int(inst.allowed.sum()) >= FAIR_SPARSE_FROM:
            chosen, infeasible, proven, proof = _solve_fair(inst, time_limit, workers)
        else:
            chosen, infeasible, proven = _solve_cpsat(inst, mode == "fair", time_limit, workers)
        stage = "two-stage: max worst-off plan, then max total" if mode == "fair" else "max total"
        used = f"OR-Tools CP-SAT ({stage}), " + ("proven optimal" if proven else
                                                  f"best found in {time_limit:g} s, optimality not proven")
        used += f" ({proof})" if proof else ""
        if chosen is None:
            if infeasible or _solve_flow(inst) is None:
                raise InfeasibleRulesError(_explain_infeasible(inst), rules.describe())
            raise InfeasibleRulesError([Reason("CP-SAT found no assignment within {limit} s although one exists (the "
                                               "total mode finds it); raise the time limit", limit=Num(time_limit, "g"))],
                                       rules.describe())
    return _result(inst, chosen, mode, used, proven, explain)


def _result(inst: ReviewProblem, chosen, mode, used, proven, explain) -> ReviewAssignment:
    space = inst.space
    need, cap, low, locked, split = inst.residual()
    reviews = []
    for p, r in sorted(chosen, key=lambda pr: (pr[0], -inst.affinity[pr])):
        prow, rrow = inst.plan_rows[p], inst.rev_rows[r]
        pr, rv = space.profiles.iloc[prow], space.profiles.iloc[rrow]
        terms, reasons = [], []
        if explain:
            match = space.explain_pair(prow, rrow)
            terms = list(match.explanation)
            reasons = list(match.reasons)
        term = inst.bonus_terms.get((p, r))
        if term is not None:
            terms.append(term)
            if term.contribution > 0:
                reasons.append(term.detail)
        if inst.applies[p] and inst.ahead[p, r]:
            reasons.append(Reason("more mature: {reviewer} vs {plan}", reviewer=survey_term(MATURITY_LEVELS[inst.mat_r[r]]),
                                  plan=survey_term(MATURITY_LEVELS[inst.mat_p[p]])))
        reviews.append(Review(plan_id=pr["city_id"], plan=pr["name"], plan_country=pr["country_code"],
                              reviewer_id=rv["city_id"], reviewer=rv["name"], reviewer_country=rv["country_code"],
                              affinity=float(inst.affinity[p, r]), twin_score=float(inst.twin[p, r]),
                              mentor_bonus=float(inst.bonus[p, r]), locked=bool(locked[p, r]),
                              reasons=reasons, explanation=terms))
    per_plan = np.zeros(inst.P)
    loads = np.zeros(inst.R, dtype=int)
    for p, r in chosen:
        per_plan[p] += inst.affinity[p, r]
        loads[r] += 1
    worst = int(np.argmin(per_plan))
    notes = []
    if inst.rules.more_mature:
        n_app = int(inst.applies.sum())
        unknown = sum(m is None for m in inst.mat_p)
        top = sum(m == 2 for m in inst.mat_p)
        notes.append(Reason("the more-mature rule applies to {n} of {P} plans; exempt: {unknown} of unknown maturity, "
                            "{top} already advanced. A reviewer of unknown maturity never counts as more mature.",
                            n=n_app, P=inst.P, unknown=unknown, top=top))
    if inst.rules.mentor:
        notes.append(Reason("affinity = twin score + mentor bonus (reviewer ahead where the plan's city is stuck)"))
    return ReviewAssignment(
        reviews=reviews, mode=mode, total_affinity=float(per_plan.sum()),
        worst_plan_affinity=float(per_plan[worst]), worst_plan=inst.plan_label[worst],
        plan_totals={inst.plan_label[p]: float(per_plan[p]) for p in range(inst.P)},
        loads={inst.rev_label[r]: int(loads[r]) for r in range(inst.R)},
        solver=used, optimal=bool(proven), rules=inst.rules.describe(), notes=notes)
