"""The "no good match" threshold of case search, re-derived on the labelled queries with the
real models (tests/data: case_queries_en, crosslingual_queries, offtopic_queries)."""
from __future__ import annotations

import json

import pytest

from matcher.case_relevance import THRESHOLDS, calibrate, meaning, split_good_weak, threshold_for

from .conftest import REPO

pytestmark = pytest.mark.integration
DATA = REPO / "tests" / "data"


def _load(name: str) -> list[dict]:
    return [json.loads(line) for line in (DATA / name).read_text(encoding="utf-8").splitlines() if line.strip()]


@pytest.mark.parametrize("model", sorted(THRESHOLDS))
def test_the_shipped_threshold_is_the_calibrated_one(real_matcher, model):
    lib = real_matcher.case_library(model)
    found = calibrate(lambda q: lib.search(q, k=10), _load("case_queries_en.jsonl") + _load("crosslingual_queries.jsonl"),
                      _load("offtopic_queries.jsonl"))
    assert found.positives == 51 and found.negatives == 28
    assert abs(found.threshold - THRESHOLDS[model]) <= 0.02, found
    assert found.precision >= 0.95 and found.recall >= 0.9, found


def test_no_good_match_for_what_no_case_is_about(real_matcher):
    lib = real_matcher.cases
    t = threshold_for(real_matcher.settings["model_name"])
    for query in ("one-stop shop for home renovation", "the of and", "🌍🔥🚲", "stop shop one home"):
        good, weak = split_good_weak(lib.search(query, k=10), t)
        assert not good, (query, [(h.title, meaning(h)) for h in good])
    good, _ = split_good_weak(lib.search("green bonds", k=10), t)
    assert good and good[0].title.startswith("Malmö")
