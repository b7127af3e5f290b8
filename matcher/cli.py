"""The `matcher` command: parse the arguments, call the library, render the result
(matcher.present). The same functions serve the app."""
from __future__ import annotations

import argparse
import json
import shlex
import sys
import time
from pathlib import Path

from .errors import ConfigError, MatcherError
from .facets import FACETS
from .features.text import MODEL_CHOICES
from .vocab import SIZE_BANDS
from .workspace.cli import add_workspace_commands, is_workspace_command
from .workspace.cli import run as run_workspace

DERIVED_KINDS = ("covenant-groups", "pilot-consortia", "case-references")  # matcher.fitting.derived_pairs


def _add_data_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data-dir", help="folder holding city_profiles/cities.parquet (default: the shipped data)")
    p.add_argument("--index-dir", help="folder of the built index (default: artifacts/twin_index)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="matcher", description="Peer-learning twin recommender for cities "
                                     "working towards climate neutrality.")
    parser.add_argument("--settings", metavar="TOML", help="a settings file (default: $MATCHER_SETTINGS, else the "
                        "built-in defaults); `matcher settings` lists them")
    sub = parser.add_subparsers(dest="command", required=True)

    b = sub.add_parser("build", help="build (or rebuild) the twin index from the profile data")
    _add_data_options(b)
    b.add_argument("--if-needed", action="store_true",
                   help="build only what is missing or out of date: the twin index and the case-study index of the "
                        "settings' model, so the app's first page finds them ready (scripts/run.sh runs this)")

    t = sub.add_parser("twins", help="recommend twin cities, each with an explanation that adds up to its score")
    t.add_argument("city", help="city name (accents, exonyms and alternate names work) or city id")
    t.add_argument("--country", help="country code of the asking city, when the name is ambiguous")
    t.add_argument("--k", type=int, help="number of twins (default: the top_k setting, 10)")
    t.add_argument("--theme", help="free text joined to the city's narrative, e.g. 'heat pumps in social housing'")
    t.add_argument("--weight", action="append", metavar="FACET=W",
                   help=f"facet weight, repeatable; facets: {', '.join(f.name for f in FACETS)}")
    t.add_argument("--preset", metavar="NAME", help="facet weights of a named preset (peers, learn-from-a-pilot, "
                   "mentor; `matcher fit-weights` makes more); --weight overrides single facets")
    t.add_argument("--mentor", action="store_true", help="rank peers that are ahead where the city is stuck")
    t.add_argument("--two-way", action="store_true",
                   help="rank pairs where each side can teach the other (what they teach you, what you teach them)")
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
    e.add_argument("--preset", action="append", metavar="NAME", help="also score this weight preset (repeatable)")
    e.add_argument("--derived", action="append", choices=DERIVED_KINDS,
                   help="add pairs the data itself states (repeatable): " + ", ".join(DERIVED_KINDS))
    e.add_argument("--format", choices=["table", "json"], default="table")
    _add_data_options(e)

    fw = sub.add_parser("fit-weights", help="fit non-negative facet weights on labelled pairs (pairwise logistic, "
                        "cross-validated by query city) and save them as a named preset")
    fw.add_argument("pairs", nargs="*", help="CSV(s) of labelled pairs (columns city, country_code, peer, "
                    "peer_country_code, relation, source); twinning-programme relations are held out")
    fw.add_argument("--derived", action="append", choices=DERIVED_KINDS,
                    help="add pairs the data itself states (repeatable): " + ", ".join(DERIVED_KINDS))
    fw.add_argument("--relation", action="append", metavar="TEXT", help="only relations containing TEXT (repeatable)")
    fw.add_argument("--exclude-facet", action="append", metavar="FACET",
                    help="hold this facet at weight 0 (e.g. one that restates the labels; repeatable)")
    fw.add_argument("--preset", metavar="NAME", help="save the weights fitted on all pairs as this preset")
    fw.add_argument("--description", default="", help="the preset's description")
    fw.add_argument("--note", action="append", help="a note kept in the preset, e.g. on leakage (repeatable)")
    fw.add_argument("--out", help="preset file (default: matcher/presets/<name>.json)")
    fw.add_argument("--from-preset", metavar="BASE", help="no fit: take BASE's weights (with --zero-facet) as a "
                    "chosen preset and score it on the pairs (where no labels of the relation exist)")
    fw.add_argument("--zero-facet", action="append", metavar="FACET", help="with --from-preset: set FACET to 0")
    fw.add_argument("--compare", action="append", metavar="PRESET", help="also score this preset in every fold")
    fw.add_argument("--negatives", type=int, default=20, help="non-partners sampled per partner (default 20)")
    fw.add_argument("--hard-share", type=float, default=0.5,
                    help="share of them drawn from the 200 best non-partners by default weights (default 0.5)")
    fw.add_argument("--l2", type=float, help="penalty on leaving the prior (default: chosen from 0.001, 0.01, 0.1 "
                    "by an inner cross-validation on each fold's training cities)")
    fw.add_argument("--prior", choices=["default", "zero"], default="default",
                    help="shrink the weights' direction towards the default weights (default) or every weight to 0")
    fw.add_argument("--folds", type=int, default=5, help="cross-validation folds by query city (default 5)")
    fw.add_argument("--seed", type=int, default=0)
    fw.add_argument("--k", type=int, action="append", help="cut-offs (default 1, 5, 10)")
    fw.add_argument("--format", choices=["table", "json"], default="table")
    _add_data_options(fw)

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
    c.add_argument("--balance-by", action="append", metavar="FACET",
                   help="spread this facet evenly over the cohorts: stage, maturity, size, country, target_year, "
                        "mentor or a profile column (repeatable)")
    c.add_argument("--balance-tolerance", type=int, default=0, help="how far a cohort's mix may stray (default 0)")
    c.add_argument("--theme", action="append", metavar="THEME",
                   help="a theme of the call, e.g. 'finance + buildings' (repeatable): each city joins a cohort "
                        "whose theme fits its barriers, sectors and actions")
    c.add_argument("--theme-slack", type=float, default=0.0, help="how much worse than its best theme a city's "
                   "cohort theme may fit (default 0)")
    c.add_argument("--time-limit", type=float, default=30.0, help="CP-SAT time limit in seconds")
    c.add_argument("--format", choices=["table", "json", "csv"], default="table")
    _add_data_options(c)

    cs = sub.add_parser("cases", help="case studies: search, recommend for a city, import a library")
    cases_sub = cs.add_subparsers(dest="cases_command", required=True)
    s1 = cases_sub.add_parser("search", help="hybrid search (meaning + exact words), each hit explained")
    s1.add_argument("text", help="what to look for, in any words (any language with --model use-multilingual-v3)")
    s1.add_argument("--k", type=int, default=10, help="number of case studies (default 10)")
    s1.add_argument("--sector", action="append", help="only cases in this sector (repeatable)")
    s1.add_argument("--barrier", action="append", help="only cases addressing this barrier (repeatable)")
    s1.add_argument("--country", action="append", metavar="CC", help="only cases from this country (repeatable)")
    s1.add_argument("--size-band", choices=list(SIZE_BANDS), help="only cases from cities of this size band")
    s1.add_argument("--language", action="append", help="only cases written in this language")
    s2 = cases_sub.add_parser("for-city", help="case studies aimed at a city's barriers and sectors, from its peers")
    s2.add_argument("city")
    s2.add_argument("--country", help="country code when the name is ambiguous")
    s2.add_argument("--k", type=int, default=10, help="number of case studies (default 10)")
    for sp in (s1, s2):
        sp.add_argument("--model", choices=list(MODEL_CHOICES), default=None,
                        help="embedding model (default: the model_name setting; use-multilingual-v3 for cross-lingual search)")
        sp.add_argument("--format", choices=["table", "json", "csv"], default="table")
        _add_data_options(sp)
    sv = sub.add_parser("import-survey", help="map a network's city-survey export (CSV/XLSX/Parquet) onto profiles, "
                        "with a report of every column and answer")
    sv.add_argument("path", help="the survey export: .csv, .tsv, .xlsx or .parquet")
    sv.add_argument("--out", help="write the validated profiles here (.parquet, .jsonl or .csv; written atomically)")
    sv.add_argument("--report", help="write the mapping report here as JSON")
    sv.add_argument("--strict", action="store_true", help="refuse unknown answers instead of dropping them")
    sv.add_argument("--keep-unmapped", action="store_true", help="keep unmapped columns as x_ columns")
    sv.add_argument("--format", choices=["text", "json"], default="text", help="how to print the report")

    s3 = cases_sub.add_parser("import", help="validate a network's case-study library and install it in a data folder")
    s3.add_argument("path", help="JSONL, CSV, Parquet, or a folder of Markdown/text files with front matter")
    s3.add_argument("--data-dir", required=True,
                    help="the data folder whose case_studies/case_studies.parquet it replaces (atomically)")
    sub.add_parser("settings", help="list the settings in force, with their help")
    add_workspace_commands(sub)
    em = sub.add_parser("embed", help="embed a text column of a Parquet corpus (locally, or on Ray for corpora "
                        "beyond what one machine embeds overnight)")
    em.add_argument("input", help="Parquet file with a text column")
    em.add_argument("--column", default="text", help="the text column (default: text)")
    em.add_argument("--out", required=True, help="output Parquet: the input columns plus 'embedding'")
    em.add_argument("--model", default=None, choices=MODEL_CHOICES, help="embedding model (default: the model_name setting)")
    em.add_argument("--engine", choices=["local", "ray"], default="local",
                    help="local: one process, streamed; ray: Ray Data actors (pip install 'matcher[ray]'; "
                         "joins the cluster named by RAY_ADDRESS, else starts a local one)")
    em.add_argument("--keep", action="append", metavar="COLUMN",
                    help="input column to copy to the output (repeatable; default: all)")
    em.add_argument("--concurrency", type=int, help="Ray actors (default: one per CPU of the cluster)")
    em.add_argument("--batch-size", type=int, default=256, help="rows per Ray batch (default 256)")
    return parser


# ---------------------------------------------------------------------------- input parsing
def parse_weights(items: list[str] | None) -> dict[str, float]:
    """`FACET=W` options as a dict, with errors that name the bad item."""
    weights: dict[str, float] = {}
    for item in items or []:
        name, sep, value = item.partition("=")
        if not sep:
            raise ConfigError(f"--weight expects FACET=W, got '{item}'. Facets: {', '.join(f.name for f in FACETS)}.")
        try:
            weights[name.strip()] = float(value)
        except ValueError:
            raise ConfigError(f"--weight {item}: '{value}' is not a number.") from None
    return weights


def parse_pairs(items: list[str] | None, what: str) -> list[tuple[str, str]]:
    out = []
    for item in items or []:
        parts = [p.strip() for p in item.split(",") if p.strip()]
        if len(parts) != 2:
            raise ConfigError(f"{what} takes two city names separated by a comma, got '{item}'.")
        out.append((parts[0], parts[1]))
    return out


def parse_groups(items: list[str] | None) -> list[list[str]]:
    return [[p.strip() for p in g.split(",") if p.strip()] for g in items or []]


def parse_size(text: str) -> tuple[int, int]:
    try:
        low, high = (int(v) for v in text.split("-"))
    except ValueError:
        raise ConfigError(f"--size takes MIN-MAX, e.g. 7-12, got '{text}'.") from None
    return low, high


def city_list(spec: str):
    """'all', or the cities named in a file, as the library takes them."""
    from .network import read_city_file

    return "all" if spec == "all" else read_city_file(spec)


# ---------------------------------------------------------------------------- commands
def _open(args, build: str = "stale", progress_bar: bool = False):
    from .features.text import make_encoder
    from .matcher import Matcher
    from .settings import Settings

    settings = Settings.load(path=args.settings)
    encoder = make_encoder(str(settings["model_name"]), show_progress_bar=progress_bar)
    say = lambda msg: print(msg, file=sys.stderr)  # noqa: E731
    return Matcher.open(args.data_dir, args.index_dir, settings, encoder=encoder, build=build, progress=say)


def _emit(args, as_json, table, text) -> int:
    """Print a result in the chosen format: JSON, CSV (spreadsheet-safe) or text."""
    from .present import csv_bytes

    if args.format == "json":
        json.dump(as_json(), sys.stdout, indent=2, ensure_ascii=False, default=str)
        print()
    elif args.format == "csv":
        sys.stdout.write(csv_bytes(table()).decode("utf-8"))
    else:
        print(text())
    return 0


def _cmd_build(args) -> int:
    start = time.perf_counter()
    if args.if_needed:
        m = _open(args, build="stale", progress_bar=True)
        twins_s = time.perf_counter() - start
        library = m.cases  # the case-study index of the settings' model: built here, not on the app's first visit
        print(f"Indexes ready: the twin index ({m.twins.index.n:,} profiles, {twins_s:.1f} s) and the case-study "
              f"index ({len(library.cases)} case studies, {time.perf_counter() - start - twins_s:.1f} s).")
        return 0
    index = _open(args, build="always", progress_bar=True).twins.index
    print(f"Built the twin index: {index.n:,} profiles, {index.faiss_index.d} dimensions, "
          f"{time.perf_counter() - start:.1f} s.")
    return 0


def _cmd_twins(args) -> int:
    from .candidates import TwinFilters
    from .present import twins_table, twins_text

    m = _open(args)
    weights = {**(preset_weights(args.preset, m.twins) if args.preset else {}), **parse_weights(args.weight)}
    filters = TwinFilters(countries=args.in_country or [], size_band=args.size_band, languages=args.language or [],
                          eu_mission=args.eu_mission, networks=args.network or [], profiled_only=not args.all_cities)
    result = m.twins.recommend(
        args.city, country=args.country, k=args.k, weights=weights, filters=filters,
        exclude_same_country=args.exclude_country, exclude=args.exclude or [], theme=args.theme, mentor=args.mentor,
        two_way=args.two_way)
    return _emit(args, result.to_records, lambda: twins_table(result), lambda: twins_text(result))


def preset_weights(name: str, twins) -> dict[str, float]:
    """A preset's weights over the facets of the open recommender (notes go to stderr)."""
    from .fitting import preset_info, resolve_preset

    weights, notes = resolve_preset(preset_info(name), twins.featurizer.facet_slices_)
    for note in notes:
        print(f"note: {note}", file=sys.stderr)
    return weights


def _cmd_evaluate(args) -> int:
    from .evaluate import evaluate_twins, format_report
    from .fitting import gather_pairs
    from .settings import default_data_dir

    path = Path(args.pairs) if args.pairs else Path(args.data_dir or default_data_dir()) / "labelled_pairs" / "twins.csv"
    m = _open(args, build="missing")
    pairs = gather_pairs([path], args.derived, m.twins.profiles, m.case_table)
    systems = {f"preset {name}": preset_weights(name, m.twins) for name in args.preset or []}
    report = evaluate_twins(m.twins, pairs, ks=tuple(args.k or (1, 5, 10)), systems=systems)
    print(json.dumps(report, indent=2) if args.format == "json" else format_report(report))
    return 0


def _cmd_fit_weights(args) -> int:
    from .fitting import FitOptions, chosen_preset, fit_report, gather_pairs

    m = _open(args, build="missing")
    pairs = gather_pairs(args.pairs, args.derived, m.twins.profiles, m.case_table, relations=args.relation)
    command = "matcher " + shlex.join(sys.argv[1:]) if "fit-weights" in sys.argv[1:] else "matcher fit-weights"
    systems = {f"preset {name}": preset_weights(name, m.twins) for name in args.compare or []}
    if args.from_preset:
        preset = chosen_preset(m.twins, pairs, args.preset or "chosen", args.description,
                               preset_weights(args.from_preset, m.twins), args.zero_facet or (), command,
                               args.note or (), tuple(args.k or (1, 5, 10)), systems, based_on=args.from_preset)
        return _show_preset(args, preset, [])
    options = FitOptions(negatives=args.negatives, hard_share=args.hard_share, l2=args.l2, prior=args.prior,
                         folds=args.folds, seed=args.seed, exclude_facets=tuple(args.exclude_facet or ()))
    report = fit_report(m.twins, pairs, ks=tuple(args.k or (1, 5, 10)), options=options, systems=systems)
    return _show_preset(args, report.preset(args.preset or "fitted", args.description, command, args.note or ()),
                        report.unresolved)


def _show_preset(args, preset: dict, unresolved) -> int:
    """Save the preset when named, and print it with its figures."""
    from .fitting import save_preset
    from .present import fit_weights_text

    saved = save_preset(preset, args.out) if args.preset else None
    if args.format == "json":
        print(json.dumps(preset, indent=2, ensure_ascii=False))
    else:
        print(fit_weights_text(preset, unresolved))
    if saved:
        print(f"Saved preset '{preset['name']}' to {saved}", file=sys.stderr)
    return 0


def _cmd_reviewers(args) -> int:
    from .present import reviews_table, reviews_text
    from .reviewers import ReviewRules

    rules = ReviewRules(per_plan=args.per_plan, min_load=args.min_load, max_load=args.max_load,
                        no_same_country=args.no_same_country, no_same_network=args.no_same_network,
                        conflicts=parse_pairs(args.conflict, "--conflict"), locks=parse_pairs(args.lock, "--lock"),
                        more_mature=args.more_mature, common_language=args.language, mentor=args.mentor)
    reviewers = None if args.reviewers is None else city_list(args.reviewers)
    result = _open(args).reviewers.assign(city_list(args.cities), reviewers, rules,
                                          mode="fair" if args.fair else "total", time_limit=args.time_limit)
    return _emit(args, result.to_dict, lambda: reviews_table(result), lambda: reviews_text(result))


def _cmd_cohorts(args) -> int:
    from .cohorts import CohortRules
    from .present import cohort_members_table, cohorts_text

    low, high = parse_size(args.size)
    rules = CohortRules(min_size=low, max_size=high, n_cohorts=args.n_cohorts, min_mentors=args.mentors,
                        max_per_country=args.max_per_country, common_language=args.language,
                        together=parse_groups(args.together), apart=parse_groups(args.apart), balance_sizes=args.balance,
                        balance=args.balance_by or [], balance_tolerance=args.balance_tolerance,
                        themes=args.theme or [], theme_slack=args.theme_slack)
    plan = _open(args).cohorts.plan(city_list(args.cities), rules, time_limit=args.time_limit)
    return _emit(args, plan.to_dict, lambda: cohort_members_table(plan), lambda: cohorts_text(plan))


def _cmd_cases(args) -> int:
    from .case_studies import CaseFilters, import_case_studies
    from .present import cases_table, cases_text

    if args.cases_command == "import":
        cases = import_case_studies(args.path, args.data_dir)
        untagged = int((cases["barriers_addressed"].map(len) == 0).sum())
        print(f"Imported {len(cases)} case studies into {Path(args.data_dir) / 'case_studies'} "
              f"({untagged} without barrier tags: tags will be inferred at the next index build).")
        return 0
    m = _open(args)
    library = m.case_library(args.model or str(m.settings["model_name"]))
    if args.cases_command == "search":
        filters = CaseFilters(sectors=args.sector or [], barriers=args.barrier or [], countries=args.country or [],
                              size_band=args.size_band, languages=args.language or [])
        result = library.search(args.text, k=args.k, filters=filters)
    else:
        result = library.recommend_for_city(args.city, country=args.country, k=args.k)
    return _emit(args, result.to_records, lambda: cases_table(result), lambda: cases_text(result))


def _cmd_import_survey(args) -> int:
    from .files import atomic_write_json
    from .survey import import_survey

    result = import_survey(args.path, args.out, strict=args.strict, keep_unmapped=args.keep_unmapped)
    if args.report:
        atomic_write_json(args.report, result.to_dict())
    if args.format == "json":
        print(json.dumps(result.to_dict(), indent=2, ensure_ascii=False))
    else:
        print(result.report_text())
        if args.out:
            print(f"Wrote {len(result.profiles)} profiles to {args.out}")
    return 0


def _cmd_settings(args) -> int:
    from .settings import SETTINGS, Settings

    current = Settings.load(path=args.settings)
    for s in SETTINGS:
        print(f"{s.name} = {current[s.name]!r}\n    {s.help}")
    return 0


def _cmd_embed(args) -> int:
    from .embed import embed_parquet
    from .settings import Settings

    model = args.model or str(Settings.load(path=args.settings)["model_name"])
    stats = embed_parquet(args.input, args.column, args.out, model=model, engine=args.engine, keep=args.keep,
                          concurrency=args.concurrency, batch_size=args.batch_size,
                          progress=lambda rows: print(f"embedded {rows:,} rows", file=sys.stderr))
    print(f"Embedded {stats.rows:,} texts ({stats.dim} dimensions) with the {stats.engine} engine in "
          f"{stats.seconds:.1f} s ({stats.rows_per_second:.0f}/s): {stats.out}")
    return 0


COMMANDS = {"build": _cmd_build, "twins": _cmd_twins, "evaluate": _cmd_evaluate,
            "fit-weights": _cmd_fit_weights, "reviewers": _cmd_reviewers,
            "cohorts": _cmd_cohorts, "cases": _cmd_cases, "import-survey": _cmd_import_survey,
            "settings": _cmd_settings, "embed": _cmd_embed}


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(sys.argv[1:] if argv is None else list(argv))
    if is_workspace_command(args):
        return run_workspace(args)
    try:
        return COMMANDS[args.command](args)
    except MatcherError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        return 0


if __name__ == "__main__":
    sys.exit(main())
