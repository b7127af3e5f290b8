"""The external per-city sources joined by scripts/build_data.py (issue 15): the join rules on
small fixtures, and provenance / no imputation / coverage on the shipped data."""
from __future__ import annotations

import csv
import math
import sys
from pathlib import Path

import pandas as pd
import pytest

from matcher.settings import default_data_dir
from matcher.schema import COLUMN_BY_NAME, validate_case_studies

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared"
EXTERNAL = SHARED / "reference_data" / "external"
sys.path.insert(0, str(REPO / "scripts"))
import external_sources as ext  # noqa: E402

needs_shared = pytest.mark.skipif(not (EXTERNAL / "gcom_mycovenant").is_dir(), reason="../shared not present")


# ------------------------------------------------------------------------------ fixtures
def _sig(org, name, cc, lat, lon, *, group=False, status="published", pop="1000", c2030="True", c2050="False",
         group_name="-", date="2015-03-04"):
    return {"organisation_id": org, "organisation_name": name, "coordinator_name": "-", "supporter_name": "-",
            "country_code": cc.lower(), "country_name": "-", "population_adhesion": pop,
            "organisation_latitude": str(lat), "organisation_longitude": str(lon), "group_organisation_id": "-",
            "group_name": group_name, "commitment_CoM2020_flag": "False", "commitment_CoM2030_flag": c2030,
            "commitment_CoM2050_flag": c2050, "commitment_mayoradapt_flag": "True",
            "adhesion_type": "As an individual signatory", "signatory_status": status, "mayor": "-",
            "date_of_adhesion": date, "action_plan_expected": "True", "group_profile": "True" if group else "False",
            "gcom_id": f"XX{org}"}


def _row(city_id, name, cc, lat, lon, pop, tier="universe", alts=()):
    return {"city_id": city_id, "name": name, "ascii_name": name, "alternate_names": list(alts), "country_code": cc,
            "lat": lat, "lon": lon, "population": pop, "tier": tier, "entity_type": "city"}


def _keys(r):
    return [ext.fold(r["name"]), ext.fold(r["ascii_name"])] + [ext.fold(a) for a in r["alternate_names"]]


def _gn_keys(p):
    return [ext.fold(p["_place"]["name"])]


def _join(sigs, rows, gn500=None, *, targets=(), actions=(), mei=(), bei=(), ap_org=None):
    J = ext.ExternalJoin(Path("/nonexistent"), ("IT", "ES", "DE", "FR", "HU"))
    J.sigs, J.sigs4 = list(sigs), {}
    J.ap_org = dict(ap_org or {})
    J.targets, J.actions, J.mei, J.bei = list(targets), list(actions), list(mei), list(bei)
    J.match_signatories(rows, gn500 or {}, _keys, _gn_keys)
    return J


def _target_row(pid, c2030="0.4", rtype="absolute", base="2008", mid="-", mid_year="-"):
    row = {"action_plan_id": pid}
    for c in ("CoM2020", "CoM2030", "Long-term_climate_neutrality_target(CoM2050)", "Mid-term target"):
        for f in ("co2_target", "base_year", "reduction_type", "bau_flag", "population_estimate_in_target_year",
                  "year_estimates_of_the_impact_of_actions"):
            row[f"{f}_{c}"] = "-"
    row["target_year_Mid-term target"] = mid_year
    row.update({"co2_target_CoM2030": c2030, "reduction_type_CoM2030": rtype, "base_year_CoM2030": base,
                "co2_target_Mid-term target": mid})
    return row


def _action(pid, sector, n, co2_2030=""):
    row = {"action_plan_id": pid, "action_sector": sector, "mitigation_action_number": str(n)}
    for y in ("2020", "2030", "2050", "longterm"):
        for f in ("energy_savings", "energy_production", "co2_reduction"):
            row[f"estimates_{f}_{y}"] = ""
    row["estimates_co2_reduction_2030"] = co2_2030
    return row


def _mei(org, inv, year, sector, emis, pop):
    return {"organisation_id": org, "emission_inventory_id": inv, "inventory_year": str(year), "sector": sector,
            "emission_measure": str(emis), "population_in_the_inventory_year": str(pop)}


# ------------------------------------------------------------------------------ join rules
def test_signatory_with_no_match_becomes_its_own_row():
    rows = [_row("gn1", "Bologna", "IT", 44.49, 11.34, 390_000)]
    J = _join([_sig("900", "Comune di Pianoro", "IT", 44.38, 11.34)], rows)
    (kind, obj), dist, reason = J.sig_target["900"]
    assert kind == "own" and obj["organisation_name"] == "Comune di Pianoro"
    assert J.counts["own_row"] == 1 and J.counts["matched_existing_row"] == 0


def test_prefix_is_stripped_and_coordinates_checked():
    rows = [_row("gn1", "Meda", "IT", 45.66, 9.16, 23_000)]
    J = _join([_sig("901", "Comune di Meda", "IT", 45.67, 9.15)], rows)
    (kind, obj), dist, _ = J.sig_target["901"]
    assert kind == "row" and obj["city_id"] == "gn1" and dist < 2
    # the same name 300 km away (and another town of that name in the country) is not a match
    rows = [_row("gn1", "Meda", "IT", 45.66, 9.16, 23_000), _row("gn2", "Meda", "IT", 41.0, 14.0, 900)]
    J = _join([_sig("901", "Comune di Meda", "IT", 43.0, 12.5)], rows)
    assert J.sig_target["901"][0][0] == "own"
    assert "km away" in J.report["why_own_row"][0]


def test_two_candidate_rows_resolved_closest_then_population():
    rows = [_row("gn1", "San Mauro", "IT", 45.00, 7.00, 5_000), _row("gn2", "San Mauro", "IT", 45.05, 7.00, 80_000)]
    J = _join([_sig("902", "San Mauro", "IT", 45.01, 7.00)], rows)
    (kind, obj), dist, reason = J.sig_target["902"]
    assert obj["city_id"] == "gn1" and "closest of 2" in reason
    # equally far: the larger population wins, whatever the input order
    for order in (rows, rows[::-1]):
        eq = [dict(r, lat=45.0) for r in order]
        eq[0]["lon"], eq[1]["lon"] = 7.1, 6.9
        J = _join([_sig("902", "San Mauro", "IT", 45.0, 7.0)], eq)
        assert J.sig_target["902"][0][1]["city_id"] == "gn2"


def test_own_name_beats_an_alternate_name():
    rows = [_row("gn1", "City of London", "GB", 51.513, -0.09, 8_000, alts=["London"]),
            _row("gn2", "London", "GB", 51.507, -0.13, 8_900_000)]
    J = ext.ExternalJoin(Path("/nonexistent"), ("GB",))
    J.sigs, J.sigs4, J.ap_org, J.targets, J.actions, J.mei, J.bei = [_sig("903", "London", "GB", 51.512, -0.09)], {}, {}, [], [], [], []
    J.match_signatories(rows, {}, _keys, _gn_keys)
    assert J.sig_target["903"][0][1]["city_id"] == "gn2"


def test_unmatched_signatory_takes_a_geonames_place_when_one_matches():
    gn500 = {77: {"name": "Pianoro", "countrycode": "IT", "latitude": "44.38", "longitude": "11.34",
                  "population": 17000, "geonameid": 77, "alternatenames": []}}
    J = _join([_sig("904", "PIANORO", "IT", 44.39, 11.33)], [_row("gn1", "Bologna", "IT", 44.49, 11.34, 1)], gn500)
    (kind, obj), _, _ = J.sig_target["904"]
    assert kind == "gn" and obj["_gn"] == 77


def test_group_signatories_are_not_towns_and_duplicates_are_resolved():
    rows = [_row("gn1", "Lipari", "IT", 38.47, 14.95, 12_000)]
    sigs = [_sig("905", "Lipari, Malfa, Leni", "IT", 38.47, 14.95, group=True),
            _sig("906", "Comune di Lipari", "IT", 38.47, 14.95, status="on_hold"),
            _sig("907", "Lipari", "IT", 38.47, 14.95)]
    J = _join(sigs, rows)
    assert "905" not in J.sig_target and J.counts["group_signatories"] == 1
    # two signatories on one place: the active one wins; the other is a reported duplicate
    assert J.sig_target["907"][0][1]["city_id"] == "gn1" and "906" not in J.sig_target
    assert [d[0] for d in J.duplicates] == ["906"]
    # a signatory with data beats one without
    J = _join(sigs, rows, targets=[_target_row("1")], ap_org={"1": "906"})
    assert "906" in J.sig_target and "907" not in J.sig_target


def test_a_duplicate_signatory_fills_gaps_with_its_own_provenance():
    rows = [_row("gn1", "Martano", "IT", 40.20, 18.30, 9_000)]
    sigs = [_sig("920", "Martano", "IT", 40.20, 18.30, c2030="False", c2050="True", date="2011-01-01"),
            _sig("921", "Martano 2030", "IT", 40.21, 18.30, date="2019-05-05")]
    J = _join(sigs, rows, targets=[_target_row("5")], ap_org={"5": "921"})
    assert J.sig_target["921"][0][1]["city_id"] == "gn1" and J.merged["921"] == ["920"]
    row = dict(rows[0])
    J.apply_org(row, "921")
    assert row["com_commitments"] == ["CoM2030", "CoM2050", "Mayors Adapt"]       # union of both
    assert row["com_adhesion_year"] == 2019 and row["target_2030_reduction_pct"] == 40.0
    prov = {c: rid for c, _, _, rid in row["_newprov"]}
    assert prov["com_commitments"] == "organisation_id=921;organisation_id=920"
    assert prov["com_adhesion_year"] == "organisation_id=921" and prov["target_2030_reduction_pct"] == "action_plan_id=5"
    assert [n[0] for n in row["_neutral"]] == [2050]                               # from 920, the CoM2050 signatory


def test_a_signatory_found_only_by_an_alternate_name_does_not_take_the_place():
    rows = [_row("gn1", "Kisbér", "HU", 47.50, 18.03, 5_000, alts=["Ete"])]
    J = _join([_sig("930", "Ete", "HU", 47.53, 18.07), _sig("931", "Kisbér", "HU", 47.50, 18.03, pop="10")], rows)
    assert J.sig_target["931"][0][1]["city_id"] == "gn1"
    assert J.sig_target["930"][0][0] == "own" and not J.duplicates


def test_area_names_are_never_shortened():
    assert ext.signatory_name_keys("Cork County Council") == ["cork county council"]
    assert ext.is_area_name("Unione dei Comuni Valle del Savio") and ext.is_area_name("Kainuu Region")
    assert not ext.is_area_name("Balakleya Kharkiv region")
    assert "vendrell" in " ".join(ext.signatory_name_keys("Vendrell, el"))
    assert "meda" in ext.signatory_name_keys("Comune di Meda")


def test_organisation_facts_are_derived_only_from_source_rows():
    sigs = [_sig("910", "Aaa", "IT", 45.0, 9.0, c2050="True"), _sig("911", "Bbb", "IT", 46.0, 9.0)]
    targets = [_target_row("1", c2030="0.55", rtype="per_capita", base="2005"),
               _target_row("2", c2030="-", mid="1", mid_year="2040")]
    actions = [_action("1", "transport", 3, "100.5"), _action("1", "residential", 2, ""), _action("1", "", 1, "7")]
    mei = [_mei("910", "50", 2018, "Residential buildings", 30, 10), _mei("910", "50", 2018, "Public transport", 10, 10),
           _mei("910", "49", 2016, "Residential buildings", 99, 10)]
    bei = [{"action_plan_id": "1", "organisation_id": "910", "inventory_year": "2005", "population_in_the_inventory_year": "100",
            "emission_measure": "1000", "last_mei_year": "2018", "last_mei_population": "100", "last_mei_emission_measure": "800"}]
    J = _join(sigs, [], targets=targets, actions=actions, mei=mei, bei=bei, ap_org={"1": "910", "2": "911"})
    f = {k: v[0] for k, v in J.facts["910"].items() if not k.startswith("_")}
    assert f["target_2030_reduction_pct"] == 55.0 and f["target_2030_type"] == "per capita" and f["target_2030_base_year"] == 2005
    assert f["com_commitments"] == ["CoM2030", "CoM2050", "Mayors Adapt"] and f["com_adhesion_year"] == 2015
    assert f["emissions_year"] == 2018 and f["emissions_per_capita_t"] == 4.0
    assert f["emission_share_residential"] == 0.75 and f["emission_share_transport"] == 0.25
    assert "emission_share_industry" not in f          # not reported -> unknown, not 0
    assert f["actions_n_transport"] == 3 and f["actions_co2_t_transport"] == 100.5
    assert "actions_co2_t_residential" not in f        # actions without an estimate -> unknown
    assert f["actions_n_heat"] == 0 and f["actions_co2_t_heat"] == 0.0   # the plan has no heat actions
    assert f["actions_n_total"] == 6 and f["actions_co2_t_total"] == 107.5 and f["actions_plan_horizon"] == 2030
    assert f["progress_per_capita_pct"] == pytest.approx(-20.0) and f["progress_latest_year"] == 2018
    assert {n[0] for n in J.facts["910"]["_neutral"]} == {2050}
    assert [n[0] for n in J.facts["911"]["_neutral"]] == [2040]
    assert "target_2030_reduction_pct" not in J.facts["911"]
    # every value names its dataset, release and source row
    for col, v in J.facts["910"].items():
        if col.startswith("_"):
            continue
        value, dataset, release, row_id = v
        assert dataset.startswith("gcom_mycovenant/") and release and "=" in row_id, col


def test_neutrality_year_is_the_earliest_commitment_with_its_basis():
    J = ext.ExternalJoin(Path("/nonexistent"), ("IT",))
    row = {"eu_mission": True, "_neutral": [(2050, "CoM2050", "gcom_mycovenant/x.csv", "r", "organisation_id=1")]}
    J.apply_neutrality(row, mission_line=12)
    assert row["neutrality_target_year"] == 2030 and "Mission" in row["neutrality_target_basis"]
    assert ("neutrality_target_year", ext.MISSION, ext.MISSION_RELEASE, "line 12 (eu_mission_city)") in row["_newprov"]
    row = {"eu_mission": False}
    J.apply_neutrality(row, mission_line=None)
    assert "neutrality_target_year" not in row      # nothing known -> nothing set


# ------------------------------------------------------------------------------ shipped data
@pytest.fixture(scope="module")
def provenance() -> pd.DataFrame:
    return pd.read_parquet(default_data_dir() / "city_profiles" / "provenance.parquet")


def _known(v) -> bool:
    if v is None or v is pd.NA:
        return False
    if isinstance(v, float) and math.isnan(v):
        return False
    if hasattr(v, "__len__") and not isinstance(v, str):
        return len(v) > 0
    return True


def test_new_columns_are_in_the_schema():
    for name, kind, _ in ext.NEW_COLUMNS:
        assert COLUMN_BY_NAME[name].kind == kind, name


def test_every_new_value_has_provenance_and_every_record_a_value(shipped_profiles, provenance):
    have = set(zip(provenance["city_id"], provenance["column"]))
    assert provenance.notna().all().all()
    n = 0
    for col in ext.NEW_COLUMN_NAMES:
        known = shipped_profiles.loc[shipped_profiles[col].map(_known), "city_id"]
        missing = [cid for cid in known if (cid, col) not in have]
        assert not missing, f"{col}: {len(missing)} values without provenance, e.g. {missing[:3]}"
        n += len(known)
    new_prov = provenance[provenance["column"].isin(ext.NEW_COLUMN_NAMES)]
    assert len(new_prov) == n                      # one record per value, none for a null
    assert provenance.duplicated(["city_id", "column"]).sum() == 0
    assert set(provenance["city_id"]) <= set(shipped_profiles["city_id"])


def test_climate_profile_pool_and_tiers(shipped_profiles):
    tiers = shipped_profiles["tier"].value_counts()
    assert set(tiers.index) == {"curated", "universe", "signatory"}
    # issue 15: at least 8,000 cities with a climate fact (was 254 before the join)
    assert shipped_profiles["has_climate_profile"].sum() >= 8_000
    sig = shipped_profiles[shipped_profiles["tier"] == "signatory"]
    assert sig["has_climate_profile"].all() and sig["com_organisation_id"].notna().all()
    assert sig["provenance"].str.contains("organisation_id=").all()
    own = sig[sig["city_id"].str.startswith("com")]
    assert (own["city_id"] == "com" + own["com_organisation_id"]).all()
    assert shipped_profiles["com_organisation_id"].dropna().is_unique


def test_previously_profiled_cities_know_much_more(curated_profiles):
    groups = [cols for _, cols in ext.FIELD_GROUPS]
    known = curated_profiles.apply(lambda r: sum(any(_known(r[c]) for c in cols) for cols in groups), axis=1)
    # before the join none of these fields existed; now most curated cities have several
    assert (known >= 1).sum() >= 300 and known.median() >= 4


def test_values_are_in_range_and_shares_add_up(shipped_profiles):
    p = shipped_profiles
    shares = p[[f"emission_share_{s}" for s in ext.SHARE_SECTORS]]
    total = shares.sum(axis=1, min_count=1).dropna()
    assert len(total) > 1_500 and ((total - 1).abs() < 1e-4).all()
    assert (shares.fillna(0) >= 0).all().all()
    assert p["target_2030_reduction_pct"].dropna().between(0, 100).all()
    assert set(p["target_2030_type"].dropna()) == {"absolute", "per capita"}
    assert p["neutrality_target_year"].dropna().between(2020, 2060).all()
    assert (p.loc[p["eu_mission"], "neutrality_target_year"] == 2030).all()
    both = p.dropna(subset=["coldest_month_c", "warmest_month_c"])
    assert len(both) > 300 and (both["coldest_month_c"] <= both["warmest_month_c"]).all()
    assert (p["warmest_month_c"].dropna() >= 5).all()   # BG winter means filed as "warmest month" are left out
    assert p["emissions_year"].notna().eq(p["emissions_per_capita_t"].notna()).all()
    assert p["com_adhesion_year"].dropna().between(2008, 2024).all()


@needs_shared
def test_values_trace_back_to_their_source_rows(shipped_profiles, provenance):
    """No imputed values: sampled values are recomputed from the source row named in provenance."""
    p = shipped_profiles.set_index("city_id")
    g = EXTERNAL / "gcom_mycovenant"
    targets = {r["action_plan_id"]: r for r in csv.DictReader(open(g / "action_plan_targets_2A_1.csv", encoding="utf-8"))}
    sigs = {r["organisation_id"]: r for r in csv.DictReader(open(g / "signatories_2024.csv", encoding="utf-8"))}
    urb = {(r["urau_code"], r["indic_code"]): r for r in
           csv.DictReader(open(EXTERNAL / "eurostat_urban_audit_fairicube" / "eurostat_urb_data_2004_2021.csv", encoding="utf-8"))}
    checked = 0
    for col, check in (
        ("target_2030_reduction_pct", lambda v, rid: v == pytest.approx(float(targets[rid.split("=")[1]]["co2_target_CoM2030"]) * 100)),
        ("com_adhesion_year", lambda v, rid: str(v) == sigs[rid.split("=")[1]]["date_of_adhesion"][:4]),
        ("com_status", lambda v, rid: v == sigs[rid.split("=")[1]]["signatory_status"]),
        ("coldest_month_c", lambda v, rid: v == float(urb[(rid.split(";")[0].split("=")[1], "EN1004V")][rid.split("year=")[1]])),
    ):
        recs = provenance[provenance["column"] == col].sample(frac=1, random_state=0).head(60)
        assert len(recs) > 0, col
        for rec in recs.itertuples():
            assert check(p.at[rec.city_id, col], rec.row_id), (col, rec.city_id, rec.row_id)
            checked += 1
    assert checked >= 200


def test_nzc_pilot_cities_network_and_case_studies(shipped_profiles):
    p = shipped_profiles
    pilots = p[p["networks"].map(lambda n: "NetZeroCities Pilot Cities" in n)]
    assert {"Mannheim", "Porto", "Kozani"} <= set(pilots["name"]) and pilots["has_climate_profile"].all()
    cases = pd.read_parquet(default_data_dir() / "case_studies" / "case_studies.parquet")
    nzc = cases[cases["case_id"].str.startswith("nzc-pilot-")]
    assert len(nzc) >= 20 and nzc["provenance"].str.contains("nzc_pilot_cities/pilot_cities.csv:").all()
    validate_case_studies(cases)  # the same case schema (vocabulary of sectors included)
    colab = nzc[nzc["title"].str.startswith("CoLAB")].iloc[0]
    assert set(colab["related_cities"]) == {"Aachen", "Münster", "Mannheim"} and pd.isna(colab["city"])
