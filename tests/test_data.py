"""The shipped data: provenance everywhere, nothing invented, and a reproducible build."""
from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path

import pytest

from matcher.case_studies import CASE_FILE, load_case_studies
from matcher.facets import FACETS
from matcher.settings import default_data_dir

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared"


def test_two_tiers_with_provenance(shipped_profiles):
    tiers = shipped_profiles["tier"].value_counts()
    assert tiers["curated"] >= 372 and tiers["universe"] > 15_000
    assert shipped_profiles["city_id"].is_unique
    assert shipped_profiles["provenance"].notna().all()
    curated = shipped_profiles[shipped_profiles["tier"] == "curated"]
    assert curated["provenance"].str.contains("reference_data/cities.csv:|seed_data/cities_from_seeds.csv:").all()
    universe = shipped_profiles[shipped_profiles["tier"] == "universe"]
    assert universe["provenance"].str.contains("GeoNames, CC BY 4.0").all()


def test_completeness_matches_known_facets(shipped_profiles):
    sample = shipped_profiles.sample(500, random_state=0)
    for _, row in sample.iterrows():
        assert row["completeness"] == pytest.approx(len(row["known_facets"]) / len(FACETS))
    universe = shipped_profiles[shipped_profiles["tier"] == "universe"]
    # GeoNames-only towns: nothing about climate action is known, so nothing is filled in.
    plain = universe[~universe["has_climate_profile"]]
    assert plain["narrative"].isna().all()
    assert plain["net_zero_target_year"].isna().all()
    assert (plain["barriers"].map(len) == 0).all()


def test_no_empty_string_placeholders(shipped_profiles):
    for col in shipped_profiles.columns:
        values = shipped_profiles[col]
        if values.dtype == object or str(values.dtype).startswith(("str", "string")):
            assert not (values.astype(str).str.strip() == "").any(), col


def test_licences_are_carried(tmp_path):
    readme = (default_data_dir() / "README.md").read_text(encoding="utf-8")
    assert "CC BY 4.0" in readme and "GeoNames" in readme


@pytest.mark.skipif(not (SHARED / "reference_data" / "cities.csv").is_file(), reason="../shared not present")
def test_build_script_reproduces_the_shipped_files(tmp_path):
    out, vocab = tmp_path / "data", tmp_path / "vocab"
    subprocess.run([sys.executable, str(REPO / "scripts" / "build_data.py"), "--shared", str(SHARED),
                    "--out", str(out), "--vocab-out", str(vocab)], check=True, capture_output=True)
    for rel in ("city_profiles/cities.parquet", "city_profiles/provenance.parquet",
                "case_studies/case_studies.parquet", "labelled_pairs/twins.csv", "README.md"):
        shipped = hashlib.sha256((default_data_dir() / rel).read_bytes()).hexdigest()
        assert hashlib.sha256((out / rel).read_bytes()).hexdigest() == shipped, rel
    shipped_parents = (REPO / "matcher" / "vocabulary" / "barrier_parents.csv").read_bytes()
    assert (vocab / "barrier_parents.csv").read_bytes() == shipped_parents


def test_shipped_case_library_is_valid_and_keeps_sources():
    shipped_cases = load_case_studies(default_data_dir() / CASE_FILE)
    from_seeds = shipped_cases["provenance"].str.startswith("seed_data/case_studies_from_seeds.jsonl:")
    pilots = shipped_cases["provenance"].str.startswith("reference_data/external/nzc_pilot_cities/pilot_cities.csv:")
    assert int(from_seeds.sum()) == 113 and int(pilots.sum()) == 28 and (from_seeds | pilots).all()
    assert shipped_cases["case_id"].is_unique
    assert shipped_cases.loc[from_seeds, "source"].str.startswith("seeds/").all()
    assert shipped_cases.loc[pilots, "source"].str.startswith("https://").all()
