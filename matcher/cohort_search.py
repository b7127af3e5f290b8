"""The search engine of cohort planning, on vectors (no dense similarity matrix).

The twin score is a weighted inner product, S = L @ R.T with L = X * w and R = X, so the
similarity of a city to a cohort is L_i . C_g, where C_g is the sum of the cohort's R rows, and
the total within-cohort similarity is (sum_i L_i . C_a(i) - sum_i L_i . R_i) / 2. Everything here
works with the cohort sums C (cohorts x dims), never with the n x n matrix, so 10,000 cities fit.

- `flow_assign`: the k-means-constrained step. Each city goes to one of its candidate cohorts,
  maximising sum_i score[i, cohort] under the size bounds and one counting rule, by an OR-Tools
  min-cost flow (a lower bound on an arc is moved into the node supplies). With score =
  L @ C.T of the current plan this is the linearisation of the (convex) objective, so a plan
  whose linear score is no lower is never worse (constrained Lloyd rounds).
- `CohortState`: the current plan and the running sums that price a move or a swap exactly;
  `descend` makes best-improvement moves and swaps of the cities in a queue (sparse: each city
  looks at its top-K candidate cohorts only), `perturb` / `ils` is an iterated local search
  (random feasible swaps, then descent, kept when the objective does not drop, undone otherwise).
- `repair`: violation-reducing swaps and moves for the counting rules the flow did not enforce.
Counting rules (`CountRule`) are: at most k per country, at least m mentors, keep-apart groups
(at most 1 per group), and balanced facets (each value's count within a tolerance of its share).
"""
from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass, field

import numpy as np

FLOW_SCALE = 1_000_000  # score -> integer flow cost


@dataclass
class CountRule:
    """Per cohort, the number of cities of each category c stays within [lo[c], hi[c]];
    cat[i] = -1 when city i is not counted."""
    name: str
    cat: np.ndarray
    lo: np.ndarray
    hi: np.ndarray

    def violation(self, cnt: np.ndarray) -> int:
        return int(np.maximum(self.lo[None, :] - cnt, 0).sum() + np.maximum(cnt - self.hi[None, :], 0).sum())


@dataclass
class Layout:
    """The rules of one call as arrays: G cohorts of lo-hi cities, counting rules, an optional
    allowed[i, g] mask (a cohort's language or theme) and the cities that must not move."""
    G: int
    lo: int
    hi: int
    counts: list[CountRule] = field(default_factory=list)
    allowed: np.ndarray | None = None
    movable: np.ndarray | None = None


def objective(L: np.ndarray, R: np.ndarray, a: np.ndarray, G: int) -> float:
    """Total within-cohort similarity of the plan a, from the vectors."""
    C = cohort_sums(R, a, G)
    return float((np.einsum("ij,ij->i", L, C[a]).sum() - np.einsum("ij,ij->i", L, R).sum()) / 2)


def cohort_sums(R: np.ndarray, a: np.ndarray, G: int) -> np.ndarray:
    C = np.zeros((G, R.shape[1]))
    np.add.at(C, a, R)
    return C


def top_candidates(L: np.ndarray, C: np.ndarray, k: int) -> np.ndarray:
    """Each city's k best cohorts by the score L_i . C_g (all cohorts when k >= G)."""
    G = len(C)
    if k >= G:
        return np.broadcast_to(np.arange(G), (len(L), G))
    return np.argpartition(-(L @ C.T), k - 1, axis=1)[:, :k]


def candidate_arcs(L: np.ndarray, C: np.ndarray, k: int, per_cohort: int, a: np.ndarray | None = None):
    """The (city, cohort, score) arcs a flow may use: each city's k best cohorts, each cohort's
    `per_cohort` best cities (so every cohort can be filled), and each city's current cohort
    in the plan `a` (so that plan stays feasible); score = L_i . C_g."""
    n, G = len(L), len(C)
    M = L @ C.T
    if k >= G:
        ii, gg = np.repeat(np.arange(n), G), np.tile(np.arange(G), n)
    else:
        top = np.argpartition(-M, k - 1, axis=1)[:, :k]
        ii, gg = [np.repeat(np.arange(n), k)], [top.ravel()]
        m = min(per_cohort, n)
        best = np.argpartition(-M, m - 1, axis=0)[:m]  # m x G
        ii.append(best.ravel()), gg.append(np.tile(np.arange(G), m))
        if a is not None:
            ii.append(np.arange(n)), gg.append(np.asarray(a))
        key = np.unique(np.concatenate(ii) * G + np.concatenate(gg))
        ii, gg = key // G, key % G
    return ii, gg, M[ii, gg]


# ---------------------------------------------------------------------------- min-cost flow step
def flow_assign(ii: np.ndarray, gg: np.ndarray, ss: np.ndarray, n: int, lay: Layout,
                rule: CountRule | None = None) -> np.ndarray | None:
    """The plan maximising the summed score ss of the arcs used (city ii to cohort gg, see
    `candidate_arcs`) under the size bounds, lay.allowed and one counting rule; None when the
    flow finds none.
    solver model: a min-cost flow source -> city -> (category, cohort) -> cohort -> sink; the
    cohort and category arcs carry lower bounds (moved into node supplies), so sizes and the
    counting rule hold exactly and the flow optimum is the optimum over assignments."""
    from ortools.graph.python import min_cost_flow

    G = lay.G
    keep = np.ones(len(gg), dtype=bool) if lay.allowed is None else lay.allowed[ii, gg]
    ii, gg, ss = ii[keep], gg[keep], ss[keep]
    cohort0 = n  # cohort nodes n .. n+G-1, then the sink, then the category nodes
    sink = n + G
    supply = np.zeros(sink + 1, dtype=np.int64)
    supply[:n] = 1
    tails, heads = [ii], [cohort0 + gg]
    caps, costs = [np.ones(len(ii), dtype=np.int64)], [-np.rint(ss * FLOW_SCALE).astype(np.int64)]
    if rule is not None:
        cats = rule.cat
        counted = cats[ii] >= 0
        K = len(rule.lo)
        node = sink + 1 + gg * K + np.maximum(cats[ii], 0)
        heads[0] = np.where(counted, node, cohort0 + gg)
        cg = np.repeat(np.arange(G), K)
        cc = np.tile(np.arange(K), G)
        tails.append(sink + 1 + cg * K + cc), heads.append(cohort0 + cg)
        supply = np.concatenate([supply, np.zeros(G * K, dtype=np.int64)])
        lo_c, hi_c = rule.lo[cc].astype(np.int64), np.minimum(rule.hi[cc], n).astype(np.int64)
        supply[sink + 1 + cg * K + cc] -= lo_c  # lower bound lo on (category, cohort) -> cohort
        np.add.at(supply, cohort0 + cg, lo_c)  # cg repeats: += would add once
        caps.append(hi_c - lo_c), costs.append(np.zeros(G * K, dtype=np.int64))
    # cohort -> sink: lower bound lo, capacity hi
    tails.append(cohort0 + np.arange(G)), heads.append(np.full(G, sink))
    caps.append(np.full(G, lay.hi - lay.lo, dtype=np.int64)), costs.append(np.zeros(G, dtype=np.int64))
    supply[cohort0:cohort0 + G] -= lay.lo
    supply[sink] -= n - G * lay.lo
    mcf = min_cost_flow.SimpleMinCostFlow()
    mcf.add_arcs_with_capacity_and_unit_cost(np.concatenate(tails).astype(np.int32),
                                             np.concatenate(heads).astype(np.int32),
                                             np.concatenate(caps), np.concatenate(costs))
    mcf.set_nodes_supplies(np.arange(len(supply), dtype=np.int32), supply)
    if mcf.solve() != mcf.OPTIMAL:
        return None
    used = mcf.flows(np.arange(len(ii), dtype=np.int32)) > 0
    a = np.full(n, -1)
    a[ii[used]] = gg[used]
    return a if (a >= 0).all() else None


# ---------------------------------------------------------------------------- the local search
class CohortState:
    """A feasible plan and its running sums: cohort sums C, sizes, per-rule category counts and
    member lists. Moves are logged so a perturbation can be undone."""

    def __init__(self, L: np.ndarray, R: np.ndarray, a: np.ndarray, lay: Layout, seed: int = 0):
        self.L, self.R, self.lay = L, R, lay
        n = len(L)
        self.a = np.asarray(a, dtype=np.int64).copy()
        self.C = cohort_sums(R, self.a, lay.G)
        self.own = np.einsum("ij,ij->i", L, R)
        self.size = np.bincount(self.a, minlength=lay.G)
        self.cnt = [self._counts(r) for r in lay.counts]
        self.members = [list(np.flatnonzero(self.a == g)) for g in range(lay.G)]
        self.movable = lay.movable if lay.movable is not None else np.ones(n, dtype=bool)
        self.rng = np.random.default_rng(seed)
        self.log: list | None = None
        self.acc = 0.0  # the summed objective change of the moves since it was reset
        self.swap_cohorts = 6  # cohorts whose members are tried as swap partners

    def _counts(self, rule: CountRule) -> np.ndarray:
        cnt = np.zeros((self.lay.G, len(rule.lo)), dtype=np.int64)
        k = rule.cat >= 0
        np.add.at(cnt, (self.a[k], rule.cat[k]), 1)
        return cnt

    def objective(self) -> float:
        return float((np.einsum("ij,ij->i", self.L, self.C[self.a]).sum() - self.own.sum()) / 2)

    def violation(self) -> int:
        return sum(r.violation(c) for r, c in zip(self.lay.counts, self.cnt))

    def gain_to(self, i: int, hs: np.ndarray) -> np.ndarray:
        """The objective change of moving i to each cohort in hs (ignoring the rules)."""
        li = self.L[i]
        return self.C[hs] @ li - (self.C[self.a[i]] @ li - self.own[i])

    def apply(self, i: int, h: int) -> float:
        """Move city i to cohort h; returns the objective change."""
        g = int(self.a[i])
        li, ri = self.L[i], self.R[i]
        d = float(self.C[h] @ li - (self.C[g] @ li - self.own[i]))
        self.C[g] -= ri
        self.C[h] += ri
        self.size[g] -= 1
        self.size[h] += 1
        for r, cnt in zip(self.lay.counts, self.cnt):
            c = r.cat[i]
            if c >= 0:
                cnt[g, c] -= 1
                cnt[h, c] += 1
        self.members[g].remove(i)
        self.members[h].append(i)
        self.a[i] = h
        if self.log is not None:
            self.log.append((i, g))
        self.acc += d
        return d

    def undo(self, log: list) -> None:
        saved, self.log = self.log, None
        for i, g in reversed(log):
            self.apply(i, g)
        self.log = saved

    # ------------------------------------------------------------------ rule checks
    def can_leave(self, i: int) -> bool:
        g = self.a[i]
        if self.size[g] <= self.lay.lo:
            return False
        return all(r.cat[i] < 0 or cnt[g, r.cat[i]] - 1 >= r.lo[r.cat[i]] for r, cnt in zip(self.lay.counts, self.cnt))

    def can_join(self, i: int, hs: np.ndarray) -> np.ndarray:
        ok = self.size[hs] < self.lay.hi
        for r, cnt in zip(self.lay.counts, self.cnt):
            c = r.cat[i]
            if c >= 0:
                ok &= cnt[hs, c] + 1 <= r.hi[c]
        if self.lay.allowed is not None:
            ok &= self.lay.allowed[i, hs]
        return ok

    def swap_ok(self, i: int, js: np.ndarray) -> np.ndarray:
        """Whether swapping i with each j in js keeps every rule."""
        g, hs = self.a[i], self.a[js]
        ok = self.movable[js] & (hs != g)
        for r, cnt in zip(self.lay.counts, self.cnt):
            ci, cj = r.cat[i], r.cat[js]
            same = cj == ci
            if ci >= 0:
                ok &= same | ((cnt[g, ci] - 1 >= r.lo[ci]) & (cnt[hs, ci] + 1 <= r.hi[ci]))
            c = np.maximum(cj, 0)
            ok &= same | (cj < 0) | ((cnt[g, c] + 1 <= r.hi[c]) & (cnt[hs, c] - 1 >= r.lo[c]))
        if self.lay.allowed is not None:
            ok &= self.lay.allowed[i, hs] & self.lay.allowed[js, g]
        return ok

    # ------------------------------------------------------------------ moves and swaps
    def swap_gains(self, i: int, js: np.ndarray, mi: np.ndarray) -> np.ndarray:
        """The objective change of swapping i with each j in js; mi[h] = L_i . C_h for the
        cohorts of js and of i."""
        g, hs = self.a[i], self.a[js]
        Lj = self.L[js]
        sij = Lj @ self.R[i]
        return (mi[hs] - sij) - (mi[g] - self.own[i]) + (Lj @ self.C[g] - sij) \
            - (np.einsum("ij,ij->i", Lj, self.C[hs]) - self.own[js])

    def improve(self, i: int, cand: np.ndarray) -> tuple[int, int] | None:
        """Make the best improving move or swap of city i among its candidate cohorts; returns
        the two cohorts touched, or None."""
        g = int(self.a[i])
        hs = cand[cand != g]
        if not len(hs):
            return None
        li = self.L[i]
        mi = np.zeros(self.lay.G)
        mi[hs] = self.C[hs] @ li
        mi[g] = self.C[g] @ li
        gains = mi[hs] - (mi[g] - self.own[i])
        best, move = 1e-10, None
        if self.can_leave(i):
            d = np.where(self.can_join(i, hs), gains, -np.inf)
            k = int(np.argmax(d))
            if d[k] > best:
                best, move = d[k], ("move", int(hs[k]))
        top = hs[np.argsort(-gains)[:self.swap_cohorts]]
        js = np.fromiter((j for h in top for j in self.members[h]), dtype=np.int64)
        if len(js):
            d = np.where(self.swap_ok(i, js), self.swap_gains(i, js, mi), -np.inf)
            k = int(np.argmax(d))
            if d[k] > best:
                best, move = d[k], ("swap", int(js[k]))
        if move is None:
            return None
        if move[0] == "move":
            self.apply(i, move[1])
            return g, move[1]
        j = move[1]
        h = int(self.a[j])
        self.apply(i, h)
        self.apply(j, g)
        return g, h

    def descend(self, cand: np.ndarray, queue=None, deadline: float = np.inf) -> None:
        """Improve the cities in the queue (all movable cities by default) until none improves;
        a city whose cohorts change goes back into the queue."""
        order = np.flatnonzero(self.movable) if queue is None else np.asarray(list(queue))
        order = order[self.rng.permutation(len(order))]
        q, inq = deque(order.tolist()), set(order.tolist())
        steps = 0
        while q:
            i = q.popleft()
            inq.discard(i)
            if not self.movable[i]:
                continue
            touched = self.improve(i, cand[i])
            if touched:
                for c in touched:
                    for j in self.members[c]:
                        if j not in inq:
                            q.append(j)
                            inq.add(j)
            steps += 1
            if steps % 256 == 0 and time.perf_counter() > deadline:
                return

    def perturb(self, cand: np.ndarray, strength: int) -> set:
        """`strength` random feasible swaps around one random city; returns the cohorts touched."""
        movable = np.flatnonzero(self.movable)
        if not len(movable):
            return set()
        i = int(self.rng.choice(movable))
        touched = set()
        for _ in range(strength * 4):
            if len(touched) >= 2 * strength:
                break
            g = int(self.a[i])
            hs = cand[i][cand[i] != g]
            if not len(hs):
                break
            h = int(self.rng.choice(hs))
            js = np.array(self.members[h], dtype=np.int64)
            js = js[self.swap_ok(i, js)] if len(js) else js
            if not len(js):
                continue
            j = int(self.rng.choice(js))
            self.apply(i, h)
            self.apply(j, g)
            touched |= {g, h}
            nxt = [k for k in self.members[g if self.rng.random() < 0.5 else h] if self.movable[k]]
            if not nxt:
                break
            i = int(self.rng.choice(nxt))
        return touched


def swap_violation_delta(state: CohortState, i: int, js: np.ndarray) -> np.ndarray:
    """How the total violation of the counting rules changes when i swaps with each j in js."""
    g, hs = int(state.a[i]), state.a[js]
    dv = np.zeros(len(js), dtype=np.int64)
    for r, cnt in zip(state.lay.counts, state.cnt):
        ci, cj = r.cat[i], r.cat[js]
        diff = cj != ci
        ci_v = np.full(len(js), ci)
        # cohort g loses one ci and gains one cj; cohort h gains one ci and loses one cj
        at_g = np.broadcast_to(cnt[g], (len(js), cnt.shape[1]))
        d = _row_penalty(r, at_g, ci_v, -1) + _row_penalty(r, at_g, cj, +1)
        d += _row_penalty(r, cnt[hs], ci_v, +1) + _row_penalty(r, cnt[hs], cj, -1)
        dv += np.where(diff, d, 0)  # the same category: nothing changes
    return dv


def _row_penalty(rule: CountRule, rows: np.ndarray, c, delta) -> np.ndarray:
    """Violation change when, in each candidate's count row, the count of category c (-1: not
    counted) changes by delta."""
    c = np.asarray(c)
    cc = np.maximum(c, 0)
    before = rows[np.arange(len(rows)), cc]
    after = before + delta
    pen = (np.maximum(rule.lo[cc] - after, 0) + np.maximum(after - rule.hi[cc], 0)
           - np.maximum(rule.lo[cc] - before, 0) - np.maximum(before - rule.hi[cc], 0))
    return np.where(c >= 0, pen, 0)


def repair(state: CohortState, max_steps: int | None = None) -> bool:
    """Swaps that lower the total violation of the counting rules (sizes and the allowed mask
    always hold), each the best for the objective among the most violation-reducing ones, until
    no rule is broken; False when no swap helps any more."""
    n = len(state.a)
    everyone = np.flatnonzero(state.movable)
    for _ in range(max_steps or 4 * n):
        if state.violation() == 0:
            return True
        best = None
        for i in _repair_candidates(state):
            js = everyone[state.a[everyone] != state.a[i]]
            ok = np.ones(len(js), dtype=bool)
            if state.lay.allowed is not None:
                ok &= state.lay.allowed[i, state.a[js]] & state.lay.allowed[js, state.a[i]]
            dv = np.where(ok, swap_violation_delta(state, i, js), 1)
            k = np.flatnonzero(dv == dv.min())
            if dv.min() >= 0:
                continue
            li = state.L[i]
            mi = state.C @ li
            gain = state.swap_gains(i, js[k], mi)
            j = int(js[k][np.argmax(gain)])
            key = (int(dv.min()), -float(gain.max()))
            if best is None or key < best[0]:
                best = (key, i, j)
        if best is None:
            return False
        _, i, j = best
        g, h = int(state.a[i]), int(state.a[j])
        state.apply(i, h)
        state.apply(j, g)
    return state.violation() == 0


def _repair_candidates(state: CohortState) -> list[int]:
    """Cities in the first broken count cell that could fix it by leaving (too many of their
    category) or by making room (too few of a category they are not)."""
    for r, cnt in zip(state.lay.counts, state.cnt):
        over = np.argwhere(cnt > r.hi[None, :])
        under = np.argwhere(cnt < r.lo[None, :])
        if len(over) or len(under):
            g, c = (over[0] if len(over) else under[0])
            members = np.array(state.members[g], dtype=np.int64)
            members = members[state.movable[members]]
            pick = (r.cat[members] == c) if len(over) else (r.cat[members] != c)
            return [int(i) for i in members[pick]][:12]
    return []


def ils(state: CohortState, cand: np.ndarray, deadline: float, max_stall: int, strength: int = 2) -> int:
    """Iterated local search: perturb, descend on the touched cohorts, keep the result when the
    objective does not drop, undo it otherwise; until the deadline or `max_stall` kicks in a row
    without improvement. Returns the number of kicks."""
    kicks = stall = 0
    while stall < max_stall and time.perf_counter() < deadline:
        state.log = []
        state.acc = 0.0
        touched = state.perturb(cand, strength + int(stall % 3 == 2))
        if not touched:
            state.log = None
            break
        state.descend(cand, queue={j for c in touched for j in state.members[c]}, deadline=deadline)
        d = state.acc
        if d < -1e-12:
            state.undo(state.log)
            stall += 1
        else:
            stall = 0 if d > 1e-9 else stall + 1
        state.log = None
        kicks += 1
    return kicks
