"""Network staff tools at scale, each against a named baseline in the same run.

    python -m benchmarks.bench_network [--skip-large]

1. Reviewer assignment at the OpenReview MIDL size (also the library's flow, which starts on each
   plan's best reviewers and adds pairs by reduced cost until it is provably optimal) (118 plans x 177 reviewers, 3 per plan, max
   load 3 and 6): min-cost flow vs CP-SAT vs greedy (each plan in turn takes its best available
   reviewers). Affinities: inner products of random non-negative profile-like vectors.
2. Reviewer assignment at 3,000 plans x 5,000 reviewers (dense: 15M candidate pairs), min-cost
   flow vs greedy. CP-SAT is not run at this size (15M boolean variables).
3. The fair mode (max the worst-off plan, then the total) on a call of 500 profiled cities
   (real index) reviewing each other, 3 each, max load 3: time, proven or not, both objectives
   against the total mode, and the previous fair method (CP-SAT on all pairs) as the baseline
   (not with --skip-large); `--fair-hard` adds the same call with the no-same-country and
   more-mature rules.
4. Cohorts for 1,000 and 10,000 shipped cities (real index, random rows, sizes 7-12): plan_cohorts
   (time limit 8 s and 100 s) vs plain k-means (sklearn KMeans on the weighted vectors, then
   size repair), with the upper bound; for 1,000 also the time/quality curve (time limit vs
   objective vs bound), balanced and themed calls (their cost against the unconstrained plan) and
   the rules "1 mentor, at most 3 per country".
Reports times, objective ratios and, for cohorts, the upper bound. `--only cohorts|reviewers`.
"""
from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np  # noqa: E402

from matcher.reviewers import FLOW_SCALE  # noqa: E402


def affinities(P, R, seed, dim=32):
    rng = np.random.default_rng(seed)
    A = rng.gamma(0.5, size=(P, dim))
    B = rng.gamma(0.5, size=(R, dim))
    A /= np.linalg.norm(A, axis=1, keepdims=True)
    B /= np.linalg.norm(B, axis=1, keepdims=True)
    return A @ B.T


def flow_assign(S, k, cap):
    from ortools.graph.python import min_cost_flow

    P, R = S.shape
    pp, rr = np.indices((P, R)).reshape(2, -1)
    src, sink = P + R, P + R + 1
    tails = np.concatenate([np.full(P, src), pp, P + np.arange(R)]).astype(np.int32)
    heads = np.concatenate([np.arange(P), P + rr, np.full(R, sink)]).astype(np.int32)
    caps = np.concatenate([np.full(P, k), np.ones(P * R, dtype=np.int64), np.full(R, cap)]).astype(np.int64)
    costs = np.concatenate([np.zeros(P, dtype=np.int64), -np.rint(S.ravel() * FLOW_SCALE).astype(np.int64),
                            np.zeros(R, dtype=np.int64)])
    mcf = min_cost_flow.SimpleMinCostFlow()
    mcf.add_arcs_with_capacity_and_unit_cost(tails, heads, caps, costs)
    supplies = np.zeros(P + R + 2, dtype=np.int64)
    supplies[src], supplies[sink] = P * k, -P * k
    mcf.set_nodes_supplies(np.arange(P + R + 2, dtype=np.int32), supplies)
    assert mcf.solve() == mcf.OPTIMAL
    f = mcf.flows(np.arange(P, P + P * R, dtype=np.int32)).astype(bool)
    return float(S.ravel()[f].sum())


def cpsat_assign(S, k, cap, limit=120):
    from ortools.sat.python import cp_model

    P, R = S.shape
    m = cp_model.CpModel()
    x = [[m.new_bool_var("") for _ in range(R)] for _ in range(P)]
    for p in range(P):
        m.add(sum(x[p]) == k)
    for r in range(R):
        m.add(sum(x[p][r] for p in range(P)) <= cap)
    C = np.rint(S * 100_000).astype(int)
    m.maximize(sum(int(C[p, r]) * x[p][r] for p in range(P) for r in range(R)))
    s = cp_model.CpSolver()
    s.parameters.max_time_in_seconds = limit
    status = s.solve(m)
    val = sum(S[p, r] for p in range(P) for r in range(R) if s.boolean_value(x[p][r]))
    return float(val), s.status_name(status)


def greedy_assign(S, k, cap):
    load = np.zeros(S.shape[1], dtype=int)
    total = 0.0
    for p in range(S.shape[0]):
        order = np.argsort(-S[p])
        taken = 0
        for r in order:
            if load[r] < cap:
                load[r] += 1
                total += S[p, r]
                taken += 1
                if taken == k:
                    break
    return total


def timed(fn):
    t = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t


def priced_assign(S, k, cap):
    """The library's flow (matcher.reviewers): each plan's best reviewers first, pairs added by
    reduced cost until none can improve (exact)."""
    from matcher.reviewers import ReviewNetwork, solve_priced

    P, R = S.shape
    net = ReviewNetwork(np.full(P, k), np.full(R, cap), np.zeros(R, dtype=np.int64), np.zeros(P, dtype=bool),
                        np.zeros((P, R), dtype=bool))
    chosen = solve_priced(net, np.ones((P, R), dtype=bool), -np.rint(S * FLOW_SCALE).astype(np.int64))
    return float(sum(S[p, r] for p, r in chosen))


def bench_reviewers(P, R, k, cap, cpsat=True):
    S = affinities(P, R, seed=P)
    flow, tf = timed(lambda: flow_assign(S, k, cap))
    greedy, tg = timed(lambda: greedy_assign(S, k, cap))
    priced, tq = timed(lambda: priced_assign(S, k, cap))
    print(f"reviewers {P} x {R}, {k} per plan, max load {cap}")
    print(f"  min-cost flow (optimal)  {tf:8.2f} s  total {flow:.4f}")
    print(f"  library flow, priced    {tq:8.2f} s  total {priced:.4f}  priced/dense objective {priced / flow:.6f},"
          f" dense/priced time {tf / tq:.1f}x")
    print(f"  greedy baseline          {tg:8.2f} s  total {greedy:.4f}  flow/greedy objective {flow / greedy:.4f},"
          f" time {tf / tg:.1f}x")
    if cpsat:
        (cp, status), tc = timed(lambda: cpsat_assign(S, k, cap))
        print(f"  CP-SAT ({status})       {tc:8.2f} s  total {cp:.4f}  cp-sat/flow objective {cp / flow:.6f},"
              f" time {tc / tf:.1f}x flow")
    else:
        print("  CP-SAT not run: 15M boolean variables (a model of this size does not fit in time/memory)")


def bench_fair(n=500, time_limit=30.0, baseline_limit=15.0, hard=False):
    """The fair mode on a call of n profiled cities (real index, random rows, seed 0) reviewing
    each other, 3 each, max load 3: the library's fair mode (candidate lists, proven over all
    pairs) against the total mode and, as the baseline, the previous fair method (CP-SAT on
    every allowed pair, baseline_limit seconds per stage). hard=True adds the no-same-country
    and more-mature rules (maturity from the profiles)."""
    import matcher.reviewers as rv
    from matcher.matcher import Matcher
    from matcher.reviewers import ReviewProblem, ReviewRules, solve_problem

    rec = Matcher.open(build="never").twins
    rng = np.random.default_rng(0)
    profiled = np.flatnonzero(rec.profiles["has_climate_profile"].to_numpy(dtype=bool))
    cities = sorted(int(r) for r in rng.choice(profiled, n, replace=False))
    rules = ReviewRules(per_plan=3, max_load=3, no_same_country=hard, more_mature=hard)
    problem = ReviewProblem(rec, cities, None, rules, None, None)
    total, tt = timed(lambda: solve_problem(problem, explain=False))
    fair, tf = timed(lambda: solve_problem(problem, mode="fair", explain=False, time_limit=time_limit))
    print(f"fair mode, {n} profiled cities reviewing each other, 3 per plan, max load 3"
          f"{', no same country, more-mature rule' if hard else ''} ({int(problem.allowed.sum()):,} allowed pairs)")
    print(f"  total mode (flow)        {tt:8.2f} s  worst-off plan {total.worst_plan_affinity:.4f}"
          f"  total {total.total_affinity:.4f}")
    print(f"  fair mode                {tf:8.2f} s  worst-off plan {fair.worst_plan_affinity:.4f}"
          f"  total {fair.total_affinity:.4f}  {'proven optimal' if fair.optimal else 'NOT proven'};"
          f" fair/total worst-off {fair.worst_plan_affinity / total.worst_plan_affinity:.4f},"
          f" total {fair.total_affinity / total.total_affinity:.6f}, time {tf / tt:.1f}x total mode")
    print(f"    {fair.solver}")
    if baseline_limit:
        saved = rv.FAIR_SPARSE_FROM
        rv.FAIR_SPARSE_FROM = 10**12  # the previous method: CP-SAT on every allowed pair
        try:
            old, to = timed(lambda: solve_problem(problem, mode="fair", explain=False, time_limit=baseline_limit))
        finally:
            rv.FAIR_SPARSE_FROM = saved
        print(f"  previous fair (CP-SAT on all pairs, {baseline_limit:g} s/stage) {to:6.2f} s  worst-off plan "
              f"{old.worst_plan_affinity:.4f}  total {old.total_affinity:.4f}"
              f"  {'proven optimal' if old.optimal else 'NOT proven'}; time {to / tf:.1f}x the fair mode")


def kmeans_repair(L, R, U, G, lo, hi, seed=0, n_init=4, init="k-means++", max_iter=300):
    """The baseline: sklearn KMeans on the weighted vectors, then size repair (move the weakest
    member of an oversize cluster to its best cluster with room; fill an undersize cluster with
    the city that loses least by leaving a cluster above the minimum). Works on cluster sums
    (no n x n matrix)."""
    from sklearn.cluster import KMeans

    from matcher.cohort_search import cohort_sums

    lab = KMeans(n_clusters=G, n_init=n_init, init=init, max_iter=max_iter, random_state=seed).fit(U).labels_.copy()
    C = cohort_sums(R, lab, G)
    own = np.einsum("ij,ij->i", L, R)
    for _ in range(10 * len(L)):
        sizes = np.bincount(lab, minlength=G)
        over, under = np.flatnonzero(sizes > hi), np.flatnonzero(sizes < lo)
        if not len(over) and not len(under):
            break
        if len(over):
            g = over[0]
            members = np.flatnonzero(lab == g)
            i = members[np.argmin(L[members] @ C[g] - own[members])]
            room = np.flatnonzero(sizes < hi)
            h = room[np.argmax(C[room] @ L[i])]
        else:
            h = under[0]
            cand = np.flatnonzero(np.isin(lab, np.flatnonzero(sizes > lo)))
            loss = L[cand] @ C[h] - (np.einsum("ij,ij->i", L[cand], C[lab[cand]]) - own[cand])
            i = cand[np.argmax(loss)]
        C[lab[i]] -= R[i]
        C[h] += R[i]
        lab[i] = h
    return lab


def bench_cohorts(n=1000, time_limit=8.0, curve=()):
    from matcher.cohort_search import objective
    from matcher.cohorts import CohortRules, plan_cohorts
    from matcher.matcher import Matcher

    rec = Matcher.open(build="never").twins
    rng = np.random.default_rng(0)
    rows = sorted(int(r) for r in rng.choice(len(rec.profiles), n, replace=False))
    rules = CohortRules(min_size=7, max_size=12, min_mentors=0, max_per_country=None)
    plan, tp = timed(lambda: plan_cohorts(rec, rows, rules, time_limit=time_limit))
    G = len(plan.cohorts)
    w = rec.weight_vector(None).astype(np.float64)
    R = rec.vectors(np.array(rows)).astype(np.float64)
    L = R * w
    big = n > 2000  # sklearn's k-means++ with n_init=4 on all dims takes minutes at 10,000 x 834 clusters
    lab, tk = timed(lambda: kmeans_repair(L, R, R * np.sqrt(w), G, 7, 12, n_init=1 if big else 4,
                                          init="random" if big else "k-means++", max_iter=50 if big else 300))
    sizes = np.bincount(lab, minlength=G)
    km = objective(L, R, lab, G)
    print(f"cohorts for {n} shipped cities (sizes 7-12, {G} cohorts), time limit {time_limit:g} s")
    print(f"  plan_cohorts             {tp:8.2f} s  objective {plan.objective:.3f}  upper bound {plan.upper_bound:.3f}"
          f" ({plan.bound_source}), gap {plan.gap:.1%}")
    print(f"  k-means + size repair    {tk:8.2f} s  objective {km:.3f}  sizes {sizes.min()}-{sizes.max()}"
          f"  plan/k-means objective {plan.objective / km:.4f}, time {tp / tk:.2f}x")
    for limit in curve:
        c, tc = timed(lambda: plan_cohorts(rec, rows, rules, time_limit=limit))
        print(f"  time limit {limit:5.1f} s: {tc:6.2f} s  objective {c.objective:.3f}  plan/k-means {c.objective / km:.4f}"
              f"  gap to bound {c.gap:.1%}")
    if n <= 2000:
        for label, extra in (("balanced by stage", dict(balance=["stage"])),
                             ("balanced by stage and size, <=4/country", dict(balance=["stage", "size"], max_per_country=4)),
                             ("3 themes (finance + buildings, governance + mobility, energy)",
                              dict(themes=["finance + buildings", "governance + mobility", "energy"]))):
            c, tc = timed(lambda: plan_cohorts(rec, rows, CohortRules(min_size=7, max_size=12, **extra),
                                               time_limit=time_limit))
            print(f"  {label}: {tc:.2f} s  objective {c.objective:.3f}  vs unconstrained plan "
                  f"{c.objective / plan.objective:.4f}, plan/k-means {c.objective / km:.4f}, gap to bound {c.gap:.1%}")
        rules2 = CohortRules(min_size=7, max_size=12, min_mentors=1, max_per_country=3)
        try:
            plan2, t2 = timed(lambda: plan_cohorts(rec, rows, rules2, time_limit=time_limit))
            print(f"  with 1 mentor, <=3/country: {t2:.2f} s objective {plan2.objective:.3f} "
                  f"({len(plan2.cohorts)} cohorts), gap {plan2.gap:.1%}")
        except Exception as exc:  # noqa: BLE001 - report, the rules may not hold on a random sample
            print(f"  with 1 mentor, <=3/country: {exc}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--skip-large", action="store_true")
    ap.add_argument("--only", choices=["reviewers", "cohorts"], default=None)
    ap.add_argument("--fair-hard", action="store_true",
                    help="also the 500-plan fair call with the no-same-country and more-mature rules")
    args = ap.parse_args()
    if args.only != "cohorts":
        bench_reviewers(118, 177, 3, 3)
        bench_reviewers(118, 177, 3, 6)
        if not args.skip_large:
            bench_reviewers(3000, 5000, 3, 3, cpsat=False)
        bench_fair(500, baseline_limit=0.0 if args.skip_large else 15.0)
        if args.fair_hard:
            bench_fair(500, baseline_limit=0.0, hard=True)
    if args.only != "reviewers":
        bench_cohorts(1000, 8.0, curve=(2.0, 4.0, 16.0, 32.0))
        if not args.skip_large:
            bench_cohorts(10000, 100.0)


if __name__ == "__main__":
    main()
