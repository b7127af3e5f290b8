"""Every result as terminal text (the CLI's default output). Reasons are the library's English
with language and country names for their codes, as the app words them (`view.named`)."""
from __future__ import annotations

from .view import language_name, named


def twins_text(result) -> str:
    a = result.asker
    mode = {"mentors": "Mentors", "two-way twins": "Two-way twins"}.get(result.mode, "Twins")
    lines = [f"{mode} for {a['name']} ({a['country_code']})" + (f", theme: {result.query}" if result.query else ""),
             "weights: " + ", ".join(f"{f} {w:.2f}" for f, w in result.weights.items() if w > 0)]
    if not result.matches:
        lines.append("No candidate passes the filters.")
    for m in result.matches:
        lines += ["", f"{m.rank:>2}. {m.name} ({m.country_code})  score {m.score:.3f}  [{m.city_id}]",
                  f"      evidence: {named(m.evidence)}"]
        for t in sorted(m.explanation, key=lambda t: -t.contribution):
            if abs(t.contribution) >= 0.0005 or t.detail:
                lines.append(f"      {t.name:<12} {t.contribution:+.3f}  {named(t.detail)}")
        lines += [f"      {named(note)}" for note in m.not_compared]
        lines += [f"      also: {named(extra)}" for extra in m.reasons if extra.startswith("both ")]
    return "\n".join(lines)


def cases_text(result) -> str:
    a = result.asker
    heading = f"Case studies for '{result.query}'" if a is None else f"Case studies for {a['name']} ({a['country_code']})"
    lines = [heading] if result.matches else [heading, "No case study passes the filters."]
    for h in result.matches:
        where = ", ".join(x for x in (h.city, h.country_code) if x)
        lines += ["", f"{h.rank:>2}. {h.title}" + (f" ({where})" if where else "") + f"  score {h.score:.3f}"]
        lines += [f"      {t.name:<9} {t.contribution:+.3f}  {named(t.detail)}" for t in h.explanation]
        tags = h.sectors + h.barriers + [f"{t} (inferred)" for t in h.inferred_sectors + h.inferred_barriers]
        if tags:
            lines.append("      tags: " + "; ".join(tags))
        lines.append(f"      \"{h.passage[:220]}{'...' if len(h.passage) > 220 else ''}\"")
    return "\n".join(lines)


def reviews_text(result) -> str:
    lines = [f"Reviewer assignment ({result.mode} mode): {len(result.reviews)} reviews",
             f"solver: {result.solver}",
             f"total affinity {result.total_affinity:.3f}; worst plan {result.worst_plan} "
             f"{result.worst_plan_affinity:.3f}",
             "rules: " + "; ".join(named(r) for r in result.rules)] + [f"note: {named(n)}" for n in result.notes]
    current = None
    for v in result.reviews:
        if v.plan != current:
            current = v.plan
            total = result.plan_totals[f"{v.plan} ({v.plan_country})"]
            lines += ["", f"{v.plan} ({v.plan_country})  plan total {total:.3f}"]
        lines.append(f"    {v.reviewer} ({v.reviewer_country})  {v.affinity:.3f}{'  [locked]' if v.locked else ''}"
                     f"  {'; '.join(named(r) for r in v.reasons[:3])}")
    loads = sorted(result.loads.items(), key=lambda kv: (-kv[1], kv[0]))
    lines += ["", "loads: " + ", ".join(f"{k} {n}" for k, n in loads)]
    return "\n".join(lines)


def cohorts_text(plan) -> str:
    quality = ("proven optimal" if plan.optimal else
               f"upper bound {plan.upper_bound:.3f} ({plan.bound_source}), gap at most {plan.gap:.1%}")
    lines = [f"{len(plan.cohorts)} cohorts; objective {plan.objective:.3f} (sum of within-cohort twin scores); "
             + quality, f"solver: {plan.solver}", "rules: " + "; ".join(named(r) for r in plan.rules)] \
        + [f"note: {named(n)}" for n in plan.notes]
    for co in plan.cohorts:
        lines += ["", f"Cohort {co.number}: {co.size} cities"
                  + (f", language {language_name(co.language)}" if co.language else "")]
        lines += [f"    {named(w)}" for w in co.why]
        lines += [f"      {m['name']} ({m['country_code']})  fit {m['fit']:.3f}"
                  + (f"  mentor: {named(m['mentor_why'])}" if m["mentor"] else "") for m in co.members]
    return "\n".join(lines)


def facet_table(facets, settings) -> str:
    """The README's facet table, from the registry (tests/test_docs.py keeps the README in step)."""
    from types import SimpleNamespace

    model = SimpleNamespace(model_id=str(settings["model_name"]))
    lines = ["| facet | label | from | default weight | similarity |", "| --- | --- | --- | ---: | --- |"]
    lines += [f"| `{f.name}` | {f.label} | {', '.join(f.columns)} | {f.default_weight:g} | {f.kernel(settings, model)} |"
              for f in facets]
    return "\n".join(lines)


def settings_table(settings) -> str:
    """The README's settings table, from the declared settings."""
    from ..settings import SETTINGS

    lines = ["| setting | default | meaning |", "| --- | --- | --- |"]
    lines += [f"| `{s.name}` | {s.default} | {s.help} |" for s in SETTINGS]
    return "\n".join(lines)


def board_matches_text(matches) -> str:
    """What matches a board post, kind by kind, each with the terms that make its score."""
    lines = [f"Matches for post #{matches.post_id}: {matches.posts.query}"]
    for heading, result in (("Posts", matches.posts), ("Organisations", matches.organisations),
                            ("Cities that have done it", matches.cities)):
        lines += ["", f"{heading} ({result.mode})"] + (["    none"] if not result.matches else [])
        for m in result.matches:
            lines.append(f"  {m.rank}. {m.title}" + (f" ({m.by})" if m.by else "") + f"  score {m.score:.3f}")
            lines += [f"      {t.name:<10} {t.contribution:+.3f}  {named(t.detail)}" for t in m.explanation]
    lines += ["", cases_text(matches.case_studies)]
    return "\n".join(lines)


def _metric_rows(metrics: dict, ks, width: int = 36) -> list[str]:
    header = f"  {'system':{width}s}" + "".join(f"{'hit@' + str(k):>9s}" for k in ks) + f"{'MRR':>9s}"
    return [header] + [f"  {name:{width}s}" + "".join(f"{m[f'hit@{k}']:9.3f}" for k in ks) + f"{m['mrr']:9.3f}"
                       for name, m in metrics.items()]


_SYSTEM_ORDER = {"learned": 0, "recommender": 2, "without barriers/sectors/narrative": 3, "size only": 6,
                 "geography only": 7, "random": 8, "same country first": 9, "nearest by distance": 10}


def fit_weights_text(preset: dict, unresolved=()) -> str:
    """A weight preset (fitted or chosen) with the figures that justify it: weights beside the
    defaults, cross-validated hit@k / MRR per relation and per fold, learned vs default vs baselines."""
    made, fig = preset.get("made", {}), preset.get("figures", {})
    data = made.get("data", {})
    lines = [f"Preset '{preset['name']}' ({preset.get('kind', 'fitted')})"]
    if preset.get("description"):
        lines.append(preset["description"])
    if data:
        lines.append(f"labels: {data.get('pairs', 0)} pairs, {data.get('query_cities', 0)} query cities; "
                     f"{data.get('held_out_twinning_pairs', 0)} twinning-programme pairs held out (never fitted on)")
    defaults = fig.get("default_weights", {})
    folds = fig.get("folds", [])
    lines += ["", f"  {'facet':14s}{'weight':>9s}{'default':>9s}" + "".join(f"{'fold ' + str(f['fold']):>9s}" for f in folds)]
    order = [f for f in made.get("facets_at_fit", []) if f in preset["weights"]]
    order += [f for f in preset["weights"] if f not in order]
    for facet, w in ((f, preset["weights"][f]) for f in order):
        lines.append(f"  {facet:14s}{w:9.3f}{defaults.get(facet, float('nan')):9.3f}"
                     + "".join(f"{f['weights'].get(facet, 0.0):9.3f}" for f in folds))
    if folds and all(f.get("l2") is not None for f in folds):
        chosen = made.get("options", {}).get("l2")
        lines.append(f"  {'penalty':14s}{chosen if chosen is not None else float('nan'):9.3g}{'':9s}"
                     + "".join(f"{f['l2']:9.3g}" for f in folds) + "   (chosen by inner cross-validation)")
    ks = fig.get("ks", [])
    if fig.get("relations") and folds:
        lines += ["", f"Cross-validated by query city ({len(folds)} folds; every system ranks the same pool of "
                  f"{fig.get('pool', 0):,} cities; 'learned' is each fold's fit, scored on cities it never saw):"]
    elif fig.get("relations"):
        lines += ["", f"Scored on the labelled pairs (a chosen preset, not fitted: no folds; every system ranks the "
                  f"same pool of {fig.get('pool', 0):,} cities):"]
    if fig.get("relations"):
        for rel, block in sorted(fig["relations"].items(), key=lambda kv: kv[0] != "all"):
            metrics = sorted(block["metrics"].items(), key=lambda kv: _SYSTEM_ORDER.get(kv[0].split(" (")[0], 1 if kv[0].startswith("preset") else 5))
            lines += ["", f"{rel} ({block['n_queries']} query cities)"] + _metric_rows(dict(metrics), ks)
    if folds:
        lines += ["", "Per fold (all relations): learned vs default weights, MRR and hit@" + str(ks[-1])]
        for f in folds:
            m = f["metrics"]
            learned, default = m.get("learned (this fold)", {}), m.get("recommender", {})
            lines.append(f"  fold {f['fold']}: {f['n_test_queries']:4d} queries  MRR {learned.get('mrr', 0):.3f} vs "
                         f"{default.get('mrr', 0):.3f}  hit@{ks[-1]} {learned.get(f'hit@{ks[-1]}', 0):.3f} vs "
                         f"{default.get(f'hit@{ks[-1]}', 0):.3f}")
    if made.get("based_on"):
        lines.append(f"based on preset '{made['based_on']}'" + (f", with {', '.join(made['zeroed'])} set to 0"
                                                                 if made.get("zeroed") else ""))
    if made:
        lines += ["", f"made: {made.get('date', '')}: {made.get('command', '')}"]
    for note in preset.get("notes", []):
        lines.append(f"note: {note}")
    if unresolved:
        lines.append(f"unresolved pairs ({len(unresolved)}): " + "; ".join(list(unresolved)[:5])
                     + (" ..." if len(unresolved) > 5 else ""))
    return "\n".join(lines)
