"""Cohort planning: bounds and rules hold on randomised instances, the plan reaches the exact
optimum (brute force) on small instances, infeasible rules are explained in words, the real
NetZeroCities focus groups are reproduced better than random, and the CLI works end to end."""
from __future__ import annotations

import collections
import json
import random
from pathlib import Path

import numpy as np
import pytest
from sklearn.metrics import adjusted_rand_score

from matcher.cli import main
from matcher.cohorts import CohortRules, InfeasibleRulesError, plan_cohorts, within_objective
from matcher.mentor import is_mentor
from matcher.errors import MatcherError

TAXONOMY = Path(__file__).resolve().parent.parent / "matcher" / "vocabulary" / "taxonomy.json"


def profiled_rows(rec):
    return [int(r) for r in np.flatnonzero(rec.profiles["has_climate_profile"].to_numpy(dtype=bool))]


def random_calls(rec, count, seed0, size_range):
    """(rng, cities) for `count` random calls of profiled cities, seeded seed0, seed0 + 1, ..."""
    rows = profiled_rows(rec)
    for seed in range(count):
        rng = random.Random(seed0 + seed)
        yield rng, rng.sample(rows, rng.randint(*size_range))


def labels_of(rec, plan, rows):
    by_id = plan.labels()
    return np.array([by_id[rec.profiles["city_id"].iat[r]] for r in rows])


def brute_force(S, lo, hi, G):
    n, best = len(S), None

    def go(i, labels, sizes):
        nonlocal best
        if i == n:
            if all(lo <= s <= hi for s in sizes):
                v = within_objective(S, np.array(labels))
                best = v if best is None or v > best else best
            return
        used = sum(1 for s in sizes if s)
        for g in range(min(used + 1, G)):  # canonical labelling: no symmetric duplicates
            if sizes[g] < hi and (n - i - 1) >= sum(max(lo - s - (g == h), 0) for h, s in enumerate(sizes)):
                sizes[g] += 1
                labels.append(g)
                go(i + 1, labels, sizes)
                labels.pop()
                sizes[g] -= 1

    go(0, [], [0] * G)
    return best


def test_small_instances_reach_the_brute_force_optimum(fake_recommender):
    rows = profiled_rows(fake_recommender)
    for seed, (n, lo, hi, G) in enumerate([(12, 3, 5, 3), (11, 5, 6, 2), (10, 3, 4, 3), (12, 4, 4, 3)]):
        cities = random.Random(seed).sample(rows, n)
        S = fake_recommender.similarity_matrix(cities)
        best = brute_force(S, lo, hi, G)
        plan = plan_cohorts(fake_recommender, cities, CohortRules(min_size=lo, max_size=hi, n_cohorts=G))
        assert plan.objective >= 0.97 * best
        assert plan.optimal and abs(plan.objective - best) < 1e-3
        assert abs(within_objective(S, labels_of(fake_recommender, plan, cities)) - plan.objective) < 1e-9
        # the heuristic alone (no exact model) is reported close too
        heur = plan_cohorts(fake_recommender, cities, CohortRules(min_size=lo, max_size=hi, n_cohorts=G),
                            exact_limit=0)
        assert heur.objective >= 0.9 * best and heur.upper_bound >= best - 1e-9


def test_rules_hold_on_random_instances(fake_recommender):
    rec = fake_recommender
    prof = rec.profiles
    solved = 0
    for rng, cities in random_calls(rec, 12, 500, (20, 40)):
        lo = rng.choice([4, 5, 6])
        rules = CohortRules(min_size=lo, max_size=lo + rng.choice([1, 3]), min_mentors=rng.choice([0, 1]),
                            max_per_country=rng.choice([None, 2, 3]), balance_sizes=rng.random() < 0.3)
        rules.together = [rng.sample(cities, 2)]
        rules.apart = [rng.sample(cities, 3)]
        try:
            plan = plan_cohorts(rec, cities, rules, time_limit=5)
        except InfeasibleRulesError as exc:
            assert exc.reasons
            continue
        solved += 1
        lab = labels_of(rec, plan, cities)
        sizes = collections.Counter(lab.tolist())
        assert sum(sizes.values()) == len(cities)
        assert all(rules.min_size <= s <= rules.max_size for s in sizes.values())
        if rules.balance_sizes:
            assert max(sizes.values()) - min(sizes.values()) <= 1
        pos = {r: i for i, r in enumerate(cities)}
        a, b = rules.together[0]
        assert lab[pos[a]] == lab[pos[b]]
        apart = [lab[pos[r]] for r in rules.apart[0]]
        assert len(set(apart)) == len(apart)
        for g in sizes:
            members = [cities[i] for i in np.flatnonzero(lab == g)]
            if rules.max_per_country:
                assert max(collections.Counter(prof["country_code"].iat[r] for r in members).values()) \
                    <= rules.max_per_country
            mentors = sum(is_mentor(prof.iloc[r].to_dict())[0] for r in members)
            assert mentors >= rules.min_mentors
        assert plan.upper_bound >= plan.objective - 1e-9 and 0 <= plan.gap < 1
        for co in plan.cohorts:
            assert co.why and all(0 <= 1 + m["fit"] for m in co.members)
    assert solved >= 6


def test_shared_language_rule(fake_recommender):
    rec = fake_recommender
    prof = rec.profiles
    es = [r for r in profiled_rows(rec) if prof["country_code"].iat[r] == "ES"][:8]
    de = [r for r in profiled_rows(rec) if prof["country_code"].iat[r] in ("DE", "AT")][:8]
    plan = plan_cohorts(rec, es + de, CohortRules(min_size=6, max_size=10, common_language=True))
    for co in plan.cohorts:
        assert co.language in co.common_languages


def test_infeasible_rules_are_explained_in_words(fake_recommender):
    rows = profiled_rows(fake_recommender)
    with pytest.raises(InfeasibleRulesError) as e:
        plan_cohorts(fake_recommender, rows[:27], CohortRules(min_size=7, max_size=8))
    assert "27 cities cannot be split into cohorts of 7-8: 3 cohorts hold at most 24 and 4 need at least 28" \
        in str(e.value)
    prof = fake_recommender.profiles
    mentors = [r for r in rows if is_mentor(prof.iloc[r].to_dict())[0]][:2]
    others = [r for r in rows if not is_mentor(prof.iloc[r].to_dict())[0]][:16]
    with pytest.raises(InfeasibleRulesError) as e:
        plan_cohorts(fake_recommender, mentors + others, CohortRules(min_size=6, max_size=6, min_mentors=1))
    assert "only 2 mentors for 3 cohorts" in str(e.value)
    with pytest.raises(InfeasibleRulesError) as e:
        plan_cohorts(fake_recommender, rows[:20], CohortRules(min_size=5, max_size=10,
                                                              together=[[rows[0], rows[1]]], apart=[[rows[0], rows[1]]]))
    assert "are to be kept both together and apart" in str(e.value)


def focus_groups(rec):
    """Cities in exactly one NetZeroCities focus group, for groups with at least 5 such cities."""
    groups = json.loads(TAXONOMY.read_text(encoding="utf-8"))["focus_groups"]
    member = collections.defaultdict(list)
    for g in groups:
        for name in g["participating_cities"]:
            try:
                member[rec.resolve(name)].append(g["number"])
            except MatcherError:
                continue
    single = {r: gs[0] for r, gs in member.items() if len(gs) == 1}
    big = {g for g, c in collections.Counter(single.values()).items() if c >= 5}
    rows = sorted(r for r, g in single.items() if g in big)
    return rows, np.array([single[r] for r in rows])


def pair_recall(true, pred):
    same_t = true[:, None] == true[None, :]
    same_p = pred[:, None] == pred[None, :]
    iu = np.triu_indices(len(true), 1)
    return float((same_t & same_p)[iu].sum() / same_t[iu].sum())


def focus_group_scores(rec, seed=0):
    rows, truth = focus_groups(rec)
    sizes = sorted(collections.Counter(truth.tolist()).values())
    plan = plan_cohorts(rec, rows, CohortRules(min_size=min(sizes), max_size=max(sizes), n_cohorts=len(sizes)),
                        time_limit=10)
    pred = labels_of(rec, plan, rows)
    rng = np.random.default_rng(seed)
    rand_ari, rand_recall = [], []
    for _ in range(200):
        perm = rng.permutation(truth)  # a random partition with the real group sizes
        rand_ari.append(adjusted_rand_score(truth, perm))
        rand_recall.append(pair_recall(truth, perm))
    return {"cities": len(rows), "groups": len(sizes), "ari": adjusted_rand_score(truth, pred),
            "pair_recall": pair_recall(truth, pred), "random_ari": float(np.mean(rand_ari)),
            "random_ari_p95": float(np.percentile(rand_ari, 95)), "random_pair_recall": float(np.mean(rand_recall))}


def test_focus_groups_are_reproduced_better_than_random(fake_recommender, capsys):
    s = focus_group_scores(fake_recommender)
    with capsys.disabled():
        print(f"\nfocus groups (fake encoder): {s}")
    assert s["cities"] >= 20 and s["groups"] >= 3
    assert s["ari"] > s["random_ari_p95"]
    assert s["pair_recall"] > s["random_pair_recall"]


@pytest.mark.integration
def test_focus_groups_real_model(real_recommender, capsys):
    s = focus_group_scores(real_recommender)
    with capsys.disabled():
        print(f"\nfocus groups (real model): {s}")
    assert s["ari"] > s["random_ari"] and s["pair_recall"] > s["random_pair_recall"]


@pytest.mark.integration
def test_cli_cohorts_json(tmp_path, capsys, real_recommender, real_index_dir):
    f = tmp_path / "call.txt"
    f.write_text("\n".join(["Milton Keynes", "Lyon", "Köln", "Leuven", "Malmö", "Graz", "Madrid", "Valencia",
                            "Milan", "Turin", "Barcelona", "Rotterdam"]) + "\n", encoding="utf-8")
    code = main(["cohorts", "--cities", str(f), "--size", "4-6", "--mentors", "1", "--max-per-country", "2",
                 "--together", "Lyon,Leuven", "--format", "json", "--index-dir", str(real_index_dir)])
    out = capsys.readouterr()
    assert code == 0, out.err
    data = json.loads(out.out)
    assert sum(c["size"] for c in data["cohorts"]) == 12
    assert all(4 <= c["size"] <= 6 and c["mentors"] for c in data["cohorts"])
    together = [c for c in data["cohorts"] if {"Lyon", "Leuven"} <= {m["name"] for m in c["members"]}]
    assert len(together) == 1
    assert data["optimal"] is True and data["gap"] == 0.0
    assert main(["cohorts", "--cities", str(f), "--size", "4-6", "--format", "csv",
                 "--index-dir", str(real_index_dir)]) == 0
    assert capsys.readouterr().out.startswith("cohort,city")
    code = main(["cohorts", "--cities", str(f), "--size", "6-6", "--balance-by", "country", "--balance-tolerance", "1",
                 "--theme", "finance + buildings", "--theme", "governance + mobility", "--format", "json",
                 "--index-dir", str(real_index_dir)])
    out = capsys.readouterr()
    assert code == 0, out.err
    data = json.loads(out.out)
    assert any(r.startswith("country balanced") for r in data["rules"])
    assert any(r.startswith("themed cohorts (finance + buildings; governance + mobility)") for r in data["rules"])
    assert {c["theme"] for c in data["cohorts"]} == {"Financing, Funding and Partnerships + Built Environment",
                                                     "Governance, Policy, Climate City Contracts + Mobility and Transport"}
    assert all(c["why"][0].startswith(f"theme {c['theme']}: ") for c in data["cohorts"])


@pytest.mark.integration
def test_cli_cohorts_unknown_city_and_infeasible_exit_2(tmp_path, capsys, real_recommender, real_index_dir):
    f = tmp_path / "call.csv"
    f.write_text("name,country_code\nLyon,FR\nMiltn Keynes,\n", encoding="utf-8")
    assert main(["cohorts", "--cities", str(f), "--index-dir", str(real_index_dir)]) == 2
    err = capsys.readouterr().err
    assert "Unknown city 'Miltn Keynes'" in err and "Milton Keynes" in err
    g = tmp_path / "few.txt"
    g.write_text("Lyon\nParis\nMilan\n", encoding="utf-8")
    assert main(["cohorts", "--cities", str(g), "--size", "7-12", "--index-dir", str(real_index_dir)]) == 2
    assert "3 cities are fewer than the smallest cohort (7)" in capsys.readouterr().err
