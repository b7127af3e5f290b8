"""Peer-reviewer assignment: the flow optimum equals independently computed optima, every rule
holds on randomised instances, infeasible rules are explained in words, fair mode trades total
for the worst-off plan, and the CLI works end to end."""
from __future__ import annotations

import itertools
import json
import random

import numpy as np
import pytest
from scipy.optimize import linear_sum_assignment

from matcher.cli import main
from matcher.reviewers import InfeasibleRulesError, ReviewProblem, ReviewRules, assign_reviewers, solve_problem

LEVELS = ["starting", "developing", "advanced"]


def profiled_rows(rec):
    return [int(r) for r in np.flatnonzero(rec.profiles["has_climate_profile"].to_numpy(dtype=bool))]


def pairs_of(result, problem):
    pidx = {problem.space.profiles["city_id"].iat[r]: i for i, r in enumerate(problem.plan_rows)}
    ridx = {problem.space.profiles["city_id"].iat[r]: i for i, r in enumerate(problem.rev_rows)}
    return [(pidx[v.plan_id], ridx[v.reviewer_id]) for v in result.reviews]


def check_rules(problem, result):
    rules = problem.rules
    chosen = pairs_of(result, problem)
    assert len(set(chosen)) == len(chosen)  # one review per pair
    per_plan = np.zeros(problem.P, dtype=int)
    load = np.zeros(problem.R, dtype=int)
    for p, r in chosen:
        assert problem.allowed[p, r], "a conflict rule is broken"
        assert problem.plan_rows[p] != problem.rev_rows[r]
        per_plan[p] += 1
        load[r] += 1
    assert (per_plan == rules.per_plan).all()
    assert (load <= rules.max_load).all() and (load >= rules.min_load).all()
    for lock in problem.locks:
        assert lock in chosen
    for p in np.flatnonzero(problem.applies):
        assert any(problem.ahead[p, r] for q, r in chosen if q == p), "no more mature reviewer"
    total = sum(problem.affinity[p, r] for p, r in chosen)
    assert abs(total - result.total_affinity) < 1e-9
    assert sum(result.loads.values()) == problem.P * rules.per_plan


def test_one_reviewer_each_equals_linear_sum_assignment(fake_recommender):
    rows = profiled_rows(fake_recommender)
    for seed in range(6):
        rng = random.Random(seed)
        plans = rng.sample(rows, 9)
        reviewers = rng.sample(rows, 11)
        rules = ReviewRules(per_plan=1, max_load=1, no_same_country=seed % 2 == 0)
        problem = ReviewProblem(fake_recommender, plans, reviewers, rules, None, None)
        result = solve_problem(problem, explain=False)
        cost = np.where(problem.allowed, problem.affinity, -1e6)
        ri, ci = linear_sum_assignment(cost, maximize=True)
        expected = cost[ri, ci].sum()
        assert expected > -1e5  # feasible
        assert abs(result.total_affinity - expected) < 1e-5
        check_rules(problem, result)


def brute_force(problem):
    """Best total over every assignment, by enumeration (tiny instances only)."""
    if problem.lock_problems:  # a lock that breaks a rule: nothing is feasible
        return None
    k = problem.rules.per_plan
    options = []
    for p in range(problem.P):
        cands = [r for r in range(problem.R) if problem.allowed[p, r]]
        opts = []
        for combo in itertools.combinations(cands, k):
            if any(r not in combo for q, r in problem.locks if q == p):
                continue
            if problem.applies[p] and not any(problem.ahead[p, r] for r in combo):
                continue
            opts.append(combo)
        options.append(opts)
    best = None
    for choice in itertools.product(*options):
        load = np.zeros(problem.R, dtype=int)
        for combo in choice:
            load[list(combo)] += 1
        if (load > problem.rules.max_load).any() or (load < problem.rules.min_load).any():
            continue
        total = sum(problem.affinity[p, r] for p, combo in enumerate(choice) for r in combo)
        best = total if best is None or total > best else best
    return best


def test_multi_reviewer_optimum_equals_brute_force_and_cpsat(fake_recommender):
    rows = profiled_rows(fake_recommender)
    checked = 0
    for seed in range(40):
        rng = random.Random(100 + seed)
        cities = rng.sample(rows, 5)
        maturity = {r: rng.choice(LEVELS + [None]) for r in cities}
        maturity = {r: v for r, v in maturity.items() if v}
        rules = ReviewRules(per_plan=2, max_load=rng.choice([2, 3]), min_load=rng.choice([0, 1]),
                            no_same_country=rng.random() < 0.3, more_mature=rng.random() < 0.5)
        if rng.random() < 0.5:
            rules.locks = [(cities[1], cities[0])]
        problem = ReviewProblem(fake_recommender, cities, None, rules, None, maturity)
        best = brute_force(problem)
        if best is None:
            with pytest.raises(InfeasibleRulesError):
                solve_problem(problem, explain=False)
            continue
        flow = solve_problem(problem, explain=False)
        cpsat = solve_problem(problem, solver="cpsat", explain=False)
        assert abs(flow.total_affinity - best) < 1e-5
        assert abs(cpsat.total_affinity - best) < 1e-3  # CP-SAT rounds to 1e-5 per pair
        check_rules(problem, flow)
        check_rules(problem, cpsat)
        checked += 1
    assert checked >= 15


def test_every_rule_holds_on_random_instances(fake_recommender):
    rows = profiled_rows(fake_recommender)
    solved = infeasible = 0
    for seed in range(25):
        rng = random.Random(1000 + seed)
        plans = rng.sample(rows, rng.randint(8, 14))
        reviewers = None if rng.random() < 0.5 else rng.sample(rows, rng.randint(10, 18))
        maturity = {r: rng.choice(LEVELS) for r in rng.sample(rows, 40)}
        rules = ReviewRules(per_plan=rng.choice([2, 3]), max_load=rng.choice([3, 4]), min_load=rng.choice([0, 1]),
                            no_same_country=rng.random() < 0.5, no_same_network=rng.random() < 0.2,
                            more_mature=rng.random() < 0.5, common_language=rng.random() < 0.1)
        pool = reviewers or plans
        rules.conflicts = [(rng.choice(pool), rng.choice(plans)) for _ in range(3)]
        rules.locks = [(rng.choice(pool), rng.choice(plans))]
        try:
            problem = ReviewProblem(fake_recommender, plans, reviewers, rules, None, maturity)
            result = solve_problem(problem, explain=False)
        except InfeasibleRulesError as exc:
            infeasible += 1
            assert exc.reasons and all("status" not in r.lower() for r in exc.reasons)
            continue
        check_rules(problem, result)
        solved += 1
    assert solved >= 10


def test_explanations_add_up(fake_recommender):
    names = ["Barcelona", "Rotterdam", "Thessaloniki", "Zagreb", "Lyon", "Milan", "Madrid", "Vienna"]
    result = assign_reviewers(fake_recommender, names, rules=ReviewRules(no_same_country=True, mentor=True))
    assert result.solver.startswith("OR-Tools min-cost flow")
    for v in result.reviews:
        assert abs(sum(c.contribution for c in v.explanation) - v.affinity) < 1e-6
        assert abs(v.twin_score + v.mentor_bonus - v.affinity) < 1e-9
        assert v.reasons


def test_more_mature_rule_and_unknown_maturity_note(fake_recommender):
    names = ["Barcelona", "Rotterdam", "Thessaloniki", "Zagreb", "Lyon", "Milan", "Madrid", "Vienna"]
    result = assign_reviewers(fake_recommender, names, rules=ReviewRules(more_mature=True))
    for plan in ("Thessaloniki", "Zagreb"):  # maturity 'starting' in the data
        assert {v.reviewer for v in result.reviews if v.plan == plan} & {"Barcelona", "Rotterdam"}
    assert "applies to 2 of 8 plans" in result.notes[0] and "unknown maturity never counts" in result.notes[0]


def test_infeasible_rules_are_explained_in_words(fake_recommender):
    rec = fake_recommender
    ten = ["Barcelona", "Rotterdam", "Thessaloniki", "Zagreb", "Lyon", "Milan", "Madrid", "Paris", "Vienna", "Graz"]
    with pytest.raises(InfeasibleRulesError) as e:
        assign_reviewers(rec, ten, rules=ReviewRules(per_plan=3, max_load=2))
    assert "10 plans need 30 reviews but 10 reviewers x max 2 = 20" in str(e.value)

    with pytest.raises(InfeasibleRulesError) as e:
        assign_reviewers(rec, ["Madrid", "Valencia", "Seville", "Lyon", "Vienna"],
                         rules=ReviewRules(per_plan=3, no_same_country=True, common_language=True))
    assert "Madrid (ES) has 0 possible reviewers after the same-country and language rules, it needs 3" in str(e.value)

    with pytest.raises(InfeasibleRulesError) as e:
        assign_reviewers(rec, ten, rules=ReviewRules(no_same_country=True, locks=[("Lyon", "Paris")]))
    assert "Lock 'Lyon (FR) reviews Paris (FR)' breaks the same-country rule (both are in FR)" in str(e.value)

    with pytest.raises(InfeasibleRulesError) as e:
        assign_reviewers(rec, ten, rules=ReviewRules(min_load=4, max_load=5))
    assert "10 reviewers x at least 4 = 40 reviews are required, but 10 plans x 3 = 30" in str(e.value)

    # Hall: the three Spanish plans may only be reviewed by two foreign reviewers at most 2 each
    with pytest.raises(InfeasibleRulesError) as e:
        assign_reviewers(rec, ["Madrid", "Valencia", "Seville"], ["Lyon", "Paris", "Barcelona", "Bilbao"],
                         rules=ReviewRules(per_plan=2, max_load=2, no_same_country=True))
    msg = str(e.value)
    assert "together need 6 more reviews" in msg and "can give at most 4" in msg

    with pytest.raises(InfeasibleRulesError) as e:
        assign_reviewers(rec, ["Thessaloniki", "Zagreb", "Lyon", "Milan"],
                         rules=ReviewRules(per_plan=2, more_mature=True))
    assert "Thessaloniki (GR) (maturity starting) has no allowed reviewer of higher maturity" in str(e.value)
    assert "Rules in force" in str(e.value)


def test_fair_mode_trades_total_for_the_worst_plan(fake_recommender):
    rows = profiled_rows(fake_recommender)
    for seed in range(3):
        rng = random.Random(7 + seed)
        cities = rng.sample(rows, 14)
        rules = ReviewRules(per_plan=2, max_load=2, no_same_country=True)
        problem = ReviewProblem(fake_recommender, cities, None, rules, None, None)
        total = solve_problem(problem, explain=False)
        fair = solve_problem(problem, mode="fair", explain=False, time_limit=30)
        assert fair.optimal
        check_rules(problem, fair)
        assert fair.worst_plan_affinity >= total.worst_plan_affinity - 1e-4
        assert total.total_affinity >= fair.total_affinity - 1e-9
        assert abs(min(fair.plan_totals.values()) - fair.worst_plan_affinity) < 1e-12


@pytest.mark.integration
def test_cli_reviewers_json(tmp_path, capsys, real_recommender, real_index_dir):
    f = tmp_path / "plans.csv"
    f.write_text("name,country_code\nMilton Keynes,GB\nLyon,FR\nKöln,\nLeuven,\nMalmö,\nGraz,\n", encoding="utf-8")
    code = main(["reviewers", "--cities", str(f), "--per-plan", "2", "--max-load", "2", "--no-same-country",
                 "--format", "json", "--index-dir", str(real_index_dir)])
    out = capsys.readouterr()
    assert code == 0, out.err
    data = json.loads(out.out)
    assert len(data["reviews"]) == 12 and data["solver"].startswith("OR-Tools min-cost flow")
    assert all(v["plan_country"] != v["reviewer_country"] for v in data["reviews"])
    assert max(data["loads"].values()) <= 2
    assert main(["reviewers", "--cities", str(f), "--format", "csv", "--index-dir", str(real_index_dir)]) == 0
    assert capsys.readouterr().out.startswith("plan,plan country")


@pytest.mark.integration
def test_cli_reviewers_unknown_city_exits_2(tmp_path, capsys, real_recommender, real_index_dir):
    f = tmp_path / "plans.txt"
    f.write_text("Lyon\nMiltn Keynes\n", encoding="utf-8")
    assert main(["reviewers", "--cities", str(f), "--index-dir", str(real_index_dir)]) == 2
    err = capsys.readouterr().err
    assert "Unknown city 'Miltn Keynes'" in err and "Milton Keynes" in err


@pytest.mark.integration
def test_cli_reviewers_infeasible_exits_2_in_words(tmp_path, capsys, real_recommender, real_index_dir):
    f = tmp_path / "plans.txt"
    f.write_text("Lyon\nParis\nMilan\n", encoding="utf-8")
    assert main(["reviewers", "--cities", str(f), "--index-dir", str(real_index_dir)]) == 2
    err = capsys.readouterr().err
    assert "has 2 possible reviewers" in err and "it needs 3" in err


def scaled_objectives(problem, result):
    """The fair mode's two objectives in the solver's integer units: the worst-off plan's total
    and the total (each pair's affinity x CPSAT_SCALE, rounded), so ties compare exactly."""
    from matcher.reviewers import CPSAT_SCALE

    per_plan = np.zeros(problem.P, dtype=np.int64)
    for p, r in pairs_of(result, problem):
        per_plan[p] += int(np.rint(problem.affinity[p, r] * CPSAT_SCALE))
    return int(per_plan.min()), int(per_plan.sum())


def fair_call(rec, rows, seed):
    """A random call for the fair mode: 8-30 plans, the same cities or about twice as many
    reviewers, 1-3 reviewers per plan with tight or loose loads, random maturity, rules and a lock."""
    rng = random.Random(500 + seed)
    plans = rng.sample(rows, rng.randint(8, 30))
    k = rng.choice([1, 2, 3])
    reviewers = None if seed % 2 == 0 else rng.sample(rows, (2 if k < 3 else 1) * len(plans) + rng.randint(0, 6))
    maturity = {r: rng.choice(LEVELS) for r in rng.sample(rows, 80)}
    rules = ReviewRules(per_plan=k, max_load=rng.choice([1, 2]) if k < 3 else rng.choice([3, 4]),
                        min_load=rng.choice([0, 1]), no_same_country=rng.random() < 0.5,
                        more_mature=rng.random() < 0.4)
    rules.locks = [(rng.choice(reviewers or plans), rng.choice(plans))] if rng.random() < 0.5 else []
    return ReviewProblem(rec, plans, reviewers, rules, None, maturity)


def test_fair_mode_on_candidate_lists_equals_the_full_model(fake_recommender, monkeypatch):
    """The fair mode's candidate lists (each plan's best reviewer and each reviewer's best plan
    only, so the bounds and the LP reduced-cost check must add pairs) reach the same worst-off
    plan and the same total as the previous exact method, CP-SAT on every allowed pair, and
    prove it; where that method stops at its time limit unproven, they do at least as well."""
    import matcher.reviewers as rv

    rows = profiled_rows(fake_recommender)
    equal, proofs, first_stage = 0, set(), set()
    for seed in range(36):
        problem = fair_call(fake_recommender, rows, seed)
        monkeypatch.setattr(rv, "FAIR_SPARSE_FROM", 10**9)
        try:
            full = solve_problem(problem, mode="fair", explain=False, time_limit=10)
        except InfeasibleRulesError:
            monkeypatch.setattr(rv, "FAIR_SPARSE_FROM", 0)
            with pytest.raises(InfeasibleRulesError):
                solve_problem(problem, mode="fair", explain=False)
            continue
        monkeypatch.setattr(rv, "FAIR_SPARSE_FROM", 0)
        monkeypatch.setattr(rv, "FAIR_K", 1)
        monkeypatch.setattr(rv, "FAIR_M", 1)
        sparse = solve_problem(problem, mode="fair", explain=False, time_limit=30)
        assert "fair mode on" in sparse.solver and "fair mode on" not in full.solver
        assert sparse.optimal, sparse.solver
        check_rules(problem, sparse)
        assert abs(min(sparse.plan_totals.values()) - sparse.worst_plan_affinity) < 1e-12
        if full.optimal:
            assert scaled_objectives(problem, sparse) == scaled_objectives(problem, full)
            assert abs(sparse.total_affinity - full.total_affinity) < 1e-4 * problem.P
            equal += 1
        else:
            assert scaled_objectives(problem, sparse) >= scaled_objectives(problem, full)
        stages = dict(part.split(": ", 1) for part in sparse.solver[:-1].split("; ")[1:])
        first_stage.add(stages["worst-off plan"])
        proofs.update(stages.values())
    assert equal >= 15
    # every proof is exercised: the per-plan bound, LP reduced costs (in both stages: some
    # calls' worst-off plan is below the per-plan bound), an integral LP
    lp_fixing = "no pair outside the candidates can improve it (LP reduced costs)"
    assert {"meets the per-plan bound", "the LP optimum is integral", lp_fixing} <= proofs
    assert lp_fixing in first_stage
