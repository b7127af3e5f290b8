"""All scale benchmarks from one command, each part in its own process (own peak RSS).

    python -m benchmarks --quick     # CI-sized: 10k profiles, 100k passages, 100k cache, 100 texts (~2 min)
    python -m benchmarks --full      # issue 7 sizes: shipped 20k + 100k profiles, 1M passages,
                                     # 1M cache entries, 1000 real texts (~15 min on 2 cores)
    python -m benchmarks --full --parts passages,cache

Results: printed as tables and written to artifacts/bench_results/scale-<mode>.json.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SIZES = {
    "quick": [("twins", 0), ("twins", 10_000), ("sets", 100_000), ("passages", 100_000), ("cache", 100_000),
              ("embed", 100)],
    "full": [("twins", 0), ("twins", 100_000), ("sets", 1_000_000), ("passages", 1_000_000),
             ("cache", 1_000_000), ("embed", 1000)],
}


def run_part(part: str, n: int) -> dict:
    env = dict(os.environ, HF_HUB_OFFLINE="1")
    t = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "benchmarks.bench_scale", part, "--n", str(n)], cwd=ROOT,
                          env=env, capture_output=True, text=True)
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")]
    if proc.returncode != 0 or not lines:
        return {"part": part, "n": n, "error": proc.stderr[-2000:], "wall_s": time.perf_counter() - t}
    return json.loads(lines[-1][len("RESULT "):])


def report(results: list[dict]) -> str:
    out = []
    for r in results:
        if "error" in r:
            out.append(f"## {r['part']} n={r['n']}: FAILED\n{r['error']}")
            continue
        p = r["part"]
        if p == "twins":
            q = r["queries"]
            out.append(f"## twins: {r['source']} {r['n']:,} profiles x {r['dim']} dims, index {r['index']} "
                       f"{r['index_params']}; build {r.get('build_s', float('nan')):.1f} s, "
                       f"RSS after build {r['rss_after_build_mb']:.0f} MB, peak {r['peak_rss_mb']:.0f} MB")
            for label, m in q.items():
                base = m["sklearn_ms"]
                ann = {k: v for k, v in m.items() if isinstance(v, dict)}
                for name, v in ann.items():
                    out.append(f"  {label:8s} {name:6s} recall@10 {v['recall@10']:.3f}  {v['ms']:7.2f} ms  "
                               f"{base / v['ms']:6.1f}x vs sklearn")
                out.append(f"  {label:8s} faiss Flat {m['faiss_flat_ms']:.2f} ms, numpy {m['numpy_ms']:.2f} ms, "
                           f"sklearn brute {base:.2f} ms; batch of 1000 ({'all cores'}) {m['batch1000_ms']:.0f} ms")
            out.append(f"  library recommend(): all rows {r['library_ms_all_rows']:.2f} ms "
                       f"(recall@10 {r['library_recall@10_all_rows']:.3f}), profiled only "
                       f"{r['library_ms_profiled_only']:.2f} ms, language filter {r['library_ms_language_filter']:.2f} ms")
        elif p == "sets":
            out.append(f"## per-row sets vs label codes at {r['n']:,} profiles (languages column): sets "
                       f"{r['sets_mb']:.0f} MB / {r['sets_s']:.2f} s, codes {r['codes_mb']:.0f} MB / {r['codes_s']:.2f} s")
        elif p == "passages":
            out.append(f"## passages: {r['n']:,} x 384 from {r['pool_sentences']} real sentences; index "
                       f"{r['index']} {r['index_params']}; build {r['build_s']:.1f} s; RSS after build "
                       f"{r['rss_after_build_mb']:.0f} MB, peak {r['peak_rss_mb']:.0f} MB")
            ex = r["exact_faiss_knn_ms"]
            out.append(f"  exact per query: faiss.knn {ex:.2f} ms, numpy {r['exact_numpy_ms']:.2f} ms, "
                       f"sentence_transformers.util.semantic_search {r['semantic_search_ms']:.2f} ms "
                       f"(torch {r['torch_threads']} threads)")
            for name, v in r["ann"].items():
                extra = f", batch 1000 {v['batch1000_ms']:.0f} ms" if "batch1000_ms" in v else ""
                out.append(f"  {name:12s} recall@10 {v['recall@10']:.3f}  {v['ms']:7.3f} ms  "
                           f"{ex / v['ms']:6.1f}x vs faiss.knn  {r['semantic_search_ms'] / v['ms']:6.1f}x vs "
                           f"semantic_search{extra}")
            for key in ("filtered_5pct", "filtered_50pct"):
                v = r[key]
                out.append(f"  {key}: recall@10 {v['recall@10']:.3f}, {v['ms']:.2f} ms")
        elif p == "cache":
            out.append(f"## embedding cache at {r['n']:,} entries: snapshot {r['snapshot_mb']:.0f} MB saved in "
                       f"{r['save_snapshot_s']:.2f} s, loaded in {r['load_s']:.2f} s; after 1% edits "
                       f"{r['reencoded']:,} re-encoded, delta saved in {r['save_delta_1pct_s']:.3f} s vs full "
                       f"rewrite {r['save_full_rewrite_s']:.2f} s ({r['save_full_rewrite_s'] / r['save_delta_1pct_s']:.0f}x); "
                       f"load with delta {r['load_with_delta_s']:.2f} s; peak RSS {r['peak_rss_mb']:.0f} MB")
        elif p == "embed":
            out.append(f"## embedding {r['n']:,} texts (MiniLM): bare model.encode {r['bare_s']:.2f} s, "
                       f"CachedEncoder {r['cached_encoder_s']:.2f} s ({r['overhead_cached_pct']:+.1f}%), "
                       f"matcher embed (Parquet in/out) {r['embed_parquet_s']:.2f} s ({r['overhead_parquet_pct']:+.1f}%)")
            out.append(f"  full rebuild {r['full_rebuild_s']:.2f} s ({r['full_encoded']} encoded); after 1% edits "
                       f"{r['incremental_rebuild_s']:.2f} s ({r['reencoded_after_1pct']} encoded): "
                       f"{r['rebuild_speedup']:.0f}x faster")
        out.append(f"  (part wall time {r['wall_s']:.0f} s)")
    return "\n".join(out)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks")
    mode = ap.add_mutually_exclusive_group()
    mode.add_argument("--quick", action="store_const", dest="mode", const="quick")
    mode.add_argument("--full", action="store_const", dest="mode", const="full")
    ap.add_argument("--parts", help="comma-separated subset: twins,sets,passages,cache,embed")
    args = ap.parse_args(argv)
    name = args.mode or "quick"
    wanted = set(args.parts.split(",")) if args.parts else None
    results = []
    for part, n in SIZES[name]:
        if wanted and part not in wanted:
            continue
        print(f"running {part} n={n:,} ...", file=sys.stderr, flush=True)
        results.append(run_part(part, n))
        print(report(results[-1:]), flush=True)
    folder = ROOT / "artifacts" / "bench_results"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"scale-{name}.json").write_text(json.dumps(results, indent=1, default=float))
    return 1 if any("error" in r for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
