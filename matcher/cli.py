"""The `matcher` command: a thin layer over the library (same functions as the app)."""
from __future__ import annotations

import argparse
import csv
import json
import sys
import time

from .config import FACETS, SIZE_BANDS, default_data_dir, parse_weight_options
from .errors import MatcherError


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


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    handler = {"build": _cmd_build, "twins": _cmd_twins, "evaluate": _cmd_evaluate}[args.command]
    try:
        return handler(args)
    except MatcherError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        return 0


if __name__ == "__main__":
    sys.exit(main())
