"""Network staff tools at scale, each against a named baseline in the same run.

    python -m benchmarks.bench_network [--skip-large]

1. Reviewer assignment at the OpenReview MIDL size (118 plans x 177 reviewers, 3 per plan, max
   load 3 and 6): min-cost flow vs CP-SAT vs greedy (each plan in turn takes its best available
   reviewers). Affinities: inner products of random non-negative profile-like vectors.
2. Reviewer assignment at 3,000 plans x 5,000 reviewers (dense: 15M candidate pairs), min-cost
   flow vs greedy. CP-SAT is not run at this size (15M boolean variables).
3. Cohorts for 1,000 shipped cities (real index, sizes 7-12, 1 mentor, at most 3 per country):
   plan_cohorts vs plain k-means (sklearn KMeans on the weighted vectors, then size repair).
Reports times, objective ratios and, for cohorts, the upper bound.
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


def bench_reviewers(P, R, k, cap, cpsat=True):
    S = affinities(P, R, seed=P)
    flow, tf = timed(lambda: flow_assign(S, k, cap))
    greedy, tg = timed(lambda: greedy_assign(S, k, cap))
    print(f"reviewers {P} x {R}, {k} per plan, max load {cap}")
    print(f"  min-cost flow (optimal)  {tf:8.2f} s  total {flow:.4f}")
    print(f"  greedy baseline          {tg:8.2f} s  total {greedy:.4f}  flow/greedy objective {flow / greedy:.4f},"
          f" time {tf / tg:.1f}x")
    if cpsat:
        (cp, status), tc = timed(lambda: cpsat_assign(S, k, cap))
        print(f"  CP-SAT ({status})       {tc:8.2f} s  total {cp:.4f}  cp-sat/flow objective {cp / flow:.6f},"
              f" time {tc / tf:.1f}x flow")
    else:
        print("  CP-SAT not run: 15M boolean variables (a model of this size does not fit in time/memory)")


def bench_cohorts(n=1000):
    from sklearn.cluster import KMeans

    from matcher.cohorts import CohortRules, plan_cohorts, within_objective
    from matcher.matcher import Matcher

    rec = Matcher.open(build="never").twins
    rng = np.random.default_rng(0)
    rows = sorted(int(r) for r in rng.choice(len(rec.profiles), n, replace=False))
    rules = CohortRules(min_size=7, max_size=12, min_mentors=0, max_per_country=None)
    plan, tp = timed(lambda: plan_cohorts(rec, rows, rules, time_limit=60))
    S = rec.similarity_matrix(rows)
    G = len(plan.cohorts)

    def kmeans_repair():
        w = rec.weight_vector(None).astype(np.float64)
        U = rec.index.vectors(np.array(rows)).astype(np.float64) * np.sqrt(w)
        lab = KMeans(n_clusters=G, n_init=4, random_state=0).fit(U).labels_.copy()
        # size repair: move the weakest members of oversize clusters to the best cluster with room,
        # then fill undersize clusters from clusters above the minimum
        for _ in range(10 * n):
            sizes = np.bincount(lab, minlength=G)
            over = np.flatnonzero(sizes > rules.max_size)
            under = np.flatnonzero(sizes < rules.min_size)
            if not len(over) and not len(under):
                break
            M = S @ np.eye(G)[lab]
            if len(over):
                g = over[0]
                members = np.flatnonzero(lab == g)
                i = members[np.argmin(M[members, g])]
                room = np.flatnonzero(sizes < rules.max_size)
                lab[i] = room[np.argmax(M[i, room])]
            else:
                g = under[0]
                donors = np.flatnonzero(sizes > rules.min_size)
                cand = np.flatnonzero(np.isin(lab, donors))
                i = cand[np.argmax(M[cand, g] - M[cand, lab[cand]])]
                lab[i] = g
        return lab

    lab, tk = timed(kmeans_repair)
    sizes = np.bincount(lab, minlength=G)
    km = within_objective(S, lab)
    print(f"cohorts for {n} shipped cities (sizes 7-12, {G} cohorts)")
    print(f"  plan_cohorts             {tp:8.2f} s  objective {plan.objective:.3f}  upper bound {plan.upper_bound:.3f}"
          f" ({plan.bound_source}), gap {plan.gap:.1%}")
    print(f"  k-means + size repair    {tk:8.2f} s  objective {km:.3f}  sizes {sizes.min()}-{sizes.max()}"
          f"  plan/k-means objective {plan.objective / km:.4f}, time {tp / tk:.1f}x")
    rules2 = CohortRules(min_size=7, max_size=12, min_mentors=1, max_per_country=3)
    try:
        plan2, t2 = timed(lambda: plan_cohorts(rec, rows, rules2, time_limit=60))
        print(f"  with 1 mentor, <=3/country: {t2:.2f} s objective {plan2.objective:.3f} "
              f"({len(plan2.cohorts)} cohorts), gap {plan2.gap:.1%}")
    except Exception as exc:  # noqa: BLE001 - report, the rules may not hold on a random sample
        print(f"  with 1 mentor, <=3/country: {exc}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--skip-large", action="store_true")
    args = ap.parse_args()
    bench_reviewers(118, 177, 3, 3)
    bench_reviewers(118, 177, 3, 6)
    if not args.skip_large:
        bench_reviewers(3000, 5000, 3, 3, cpsat=False)
    bench_cohorts()


if __name__ == "__main__":
    main()
