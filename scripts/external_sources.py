"""Join the external per-city datasets of ../shared/reference_data/external to the city table.

Used by scripts/build_data.py (issue 15). Sources (each folder has a SOURCE.md):

  gcom_mycovenant/                JRC Global Covenant of Mayors, MyCovenant collection (CC BY 4.0)
  eurostat_urban_audit_fairicube/ Eurostat Urban Audit climate normals and land-use shares
  nzc_pilot_cities/               NetZeroCities Pilot Cities programme (cohorts 1-3)

Rules (also written to data/README.md):
* a signatory is matched to a city row by name (accent-folded, common administrative prefixes
  such as "Comune di" removed) in the same country AND coordinates within MAX_KM; two candidate
  rows -> the closest, then the larger population, then the smaller city_id;
* a signatory that matches no row is matched the same way to a GeoNames cities500 place (the
  place source stays GeoNames); failing that it becomes a row of its own (city_id com<id>);
* two signatories on one place (or with the same LAU code) -> the one with the most data wins;
  the other is reported as a duplicate and gives no value;
* group signatories (joint action plans) are never matched to one town and give no value;
* every non-null new value gets one provenance record (city_id, column, dataset, release, row_id);
  unknown stays null and nothing is imputed.
"""
from __future__ import annotations

import csv
import io
import math
import re
from collections import Counter, defaultdict
from pathlib import Path

from unidecode import unidecode

MAX_KM = 20.0
# A name that only one place in the country carries is accepted up to UNIQUE_NAME_KM (MyCovenant
# coordinates are sometimes a province or district centroid).
UNIQUE_NAME_KM = 50.0

GCOM = "gcom_mycovenant"
GCOM_RELEASE = "JRC MyCovenant collection id-00354, df1 5th release (2024)"
GCOM_RELEASE_4 = "JRC MyCovenant collection id-00354, df1 4th release (2023)"
GCOM_RELEASE_AP = "JRC MyCovenant collection id-00354 (action plans / monitoring, mirrored sheets)"
EUROSTAT = "eurostat_urban_audit_fairicube"
EUROSTAT_RELEASE = "Eurostat Urban Audit (urb_cenv) via FAIRiCUBE uc1-urban-climate @ dacb755"
CDP = "cdp_citywide_emissions"
CDP_RELEASE = "CDP Open Data, city-wide emissions (reporting year {year}), via OpenClimate @ 822037b"
NZC = "nzc_pilot_cities"
NZC_RELEASE = "NetZeroCities Pilot Cities cohorts 1-3 (public web pages, compiled by hand)"
MISSION = "reference_data/cities.csv"
MISSION_RELEASE = "EU Cities Mission: 100 climate-neutral and smart cities by 2030 (selection 2022)"
NZC_NETWORK = "NetZeroCities Pilot Cities"

# Emission inventory sectors (JRC MEI `sector`) -> the fixed emission-share sectors.
EMISSION_SECTORS = {
    "Residential buildings": "residential",
    "Tertiary (non municipal) buildings, equipment/facilities": "tertiary",
    "Municipal buildings, equipment/facilities": "municipal",
    "Private and commercial transport": "transport",
    "Public transport": "transport",
    "Municipal fleet": "transport",
    "Transport non allocated": "transport",
    "Industry Non-ETS": "industry",
    "Industry-ETS": "industry",
    "Agriculture, Forestry, Fisheries": "agriculture",
    "Waste": "waste",
    "Wastewater": "waste",
    "Buildings, equipment/facilities non allocated": "other",
    "Other non allocated": "other",
}
SHARE_SECTORS = ("residential", "tertiary", "municipal", "transport", "industry", "agriculture", "waste", "other")
# Mitigation action sectors: the JRC `action_sector` values, as written.
ACTION_SECTORS = ("transport", "electricity", "municipal", "residential", "tertiary", "heat", "industry",
                  "waste", "lighting", "other")
# Eurostat Urban Audit land-use indicators -> column suffix
LAND_USE = {
    "EN5200V": "continuous_residential", "EN5201V": "discontinuous_residential",
    "EN5202V": "industrial_commercial", "EN5203V": "transport_infrastructure",
    "EN5204V": "other_artificial", "EN5205V": "green_urban", "EN5206V": "agricultural", "EN5207V": "natural",
}
CLIMATE = {"EN1004V": "coldest_month_c", "EN1003V": "warmest_month_c", "EN1002V": "sunshine_hours_day"}
# NZC domains -> case-study sectors (taxonomy.json case_study_sectors)
NZC_DOMAIN_TO_SECTOR = {
    "energy systems": "energy systems", "buildings": "built environment",
    "mobility and transport": "mobility and transport", "waste and circular economy": "circular economy",
    "green infrastructure and land use": "nature-based solutions", "industry": "industry",
    "governance": "governance", "finance": "finance", "citizen engagement": "stakeholder engagement",
    "digital/data": None,  # no case-study sector for data/digital; kept in the summary line only
}
COMMITMENT_LABELS = (("commitment_CoM2020_flag", "CoM2020"), ("commitment_CoM2030_flag", "CoM2030"),
                     ("commitment_CoM2050_flag", "CoM2050"), ("commitment_mayoradapt_flag", "Mayors Adapt"))


# ------------------------------------------------------------------------------ columns
def new_columns() -> list[tuple[str, str, str]]:
    """(name, kind, help) of every column this module adds, in table order."""
    cols = [
        ("com_organisation_id", "str", "Covenant of Mayors (MyCovenant) organisation_id of the matched signatory"),
        ("gcom_id", "str", "Global Covenant of Mayors id (e.g. GB0006)"),
        ("lau_code", "str", "Eurostat LAU code(s) of the signatory (JRC 4th release, lau_comb_elab; comma-separated when several)"),
        ("com_commitments", "list", "Covenant of Mayors commitments: CoM2020, CoM2030, CoM2050 (climate neutrality), Mayors Adapt"),
        ("com_adhesion_year", "int", "year the signatory joined the Covenant of Mayors"),
        ("com_status", "str", "MyCovenant signatory status: published (active) or on_hold (suspended for not reporting)"),
        ("com_group_name", "str", "the group (joint action plan) the signatory belongs to; the group's own values are not copied"),
        ("target_2030_reduction_pct", "float", "CoM2030 emission reduction target, % below the base year"),
        ("target_2030_type", "str", "absolute or per capita"),
        ("target_2030_base_year", "int", "base year of the 2030 target"),
        ("neutrality_target_year", "int", "earliest climate-neutrality commitment year (EU Mission 2030, a -100 % MyCovenant target, CoM2050)"),
        ("neutrality_target_basis", "str", "what commits the city to that year"),
        ("emissions_per_capita_t", "float", "t CO2(e) per inhabitant in the latest inventory (GCoM monitoring inventory; CDP when the city has none)"),
        ("emissions_year", "int", "year of that inventory"),
        ("emissions_source", "str", "which inventory gives emissions_per_capita_t: 'GCoM monitoring inventory' or 'CDP city-wide ...'"),
        ("cdp_account_number", "str", "CDP account number when the city reports city-wide emissions to CDP (Europe, 2016-2021)"),
    ]
    cols += [(f"emission_share_{s}", "float", f"share of the latest inventory's emissions in sector '{s}' (0-1)")
             for s in SHARE_SECTORS]
    cols += [("actions_plan_horizon", "int", "horizon (2020 or 2030) of the action plan the action columns describe")]
    for s in ACTION_SECTORS:
        cols.append((f"actions_n_{s}", "int", f"number of mitigation actions in sector '{s}' of the latest action plan"))
    for s in ACTION_SECTORS:
        cols.append((f"actions_co2_t_{s}", "float", f"estimated CO2 reduction (t/yr) of the actions in sector '{s}'"))
    cols += [
        ("actions_n_total", "int", "number of mitigation actions in the plan (all sectors, incl. unspecified)"),
        ("actions_co2_t_total", "float", "estimated CO2 reduction of all actions of the plan (t/yr)"),
        ("progress_per_capita_pct", "float", "% change of per-capita emissions from the baseline to the latest monitoring inventory"),
        ("progress_baseline_year", "int", "baseline inventory year"),
        ("progress_latest_year", "int", "latest monitoring inventory year"),
        ("coldest_month_c", "float", "mean temperature of the coldest month (deg C), Urban Audit"),
        ("warmest_month_c", "float", "mean temperature of the warmest month (deg C), Urban Audit"),
        ("sunshine_hours_day", "float", "hours of sunshine per day, Urban Audit"),
    ]
    cols += [(f"land_share_{v}", "float", f"% of the city's land: {v.replace('_', ' ')} (Urban Audit)")
             for v in LAND_USE.values()]
    return cols


NEW_COLUMNS = new_columns()
NEW_COLUMN_NAMES = [c[0] for c in NEW_COLUMNS]

# The new facts grouped as a facet would read them (for the README's "known fields" counts).
FIELD_GROUPS = (
    ("Covenant commitments", ("com_commitments",)),
    ("adhesion year", ("com_adhesion_year",)),
    ("2030 reduction target", ("target_2030_reduction_pct",)),
    ("climate-neutrality year", ("neutrality_target_year",)),
    ("emissions per capita", ("emissions_per_capita_t",)),
    ("emission sector shares", tuple(f"emission_share_{s}" for s in SHARE_SECTORS)),
    ("action portfolio", ("actions_n_total",)),
    ("progress since baseline", ("progress_per_capita_pct",)),
    ("climate (coldest/warmest month)", ("coldest_month_c", "warmest_month_c")),
    ("land use", tuple(f"land_share_{v}" for v in LAND_USE.values())),
    ("CDP reporting", ("cdp_account_number",)),
)


def is_known(value) -> bool:
    return value is not None and not (isinstance(value, list) and not value)


def known_groups(row: dict) -> int:
    return sum(1 for _, cols in FIELD_GROUPS if any(is_known(row.get(c)) for c in cols))


# ------------------------------------------------------------------------------ helpers
def fold(text: str) -> str:
    return " ".join(re.sub(r"[^a-z0-9]+", " ", unidecode(str(text)).lower()).split())


def read_csv_rows(path: Path, encoding: str = "utf-8") -> list[dict]:
    text = path.read_text(encoding=encoding)
    if text.startswith("\ufeff"):
        text = text[1:]
    return list(csv.DictReader(io.StringIO(text, newline="")))


def num(value) -> float | None:
    """'-', '', 'NA' and non-numbers are unknown (None)."""
    if value is None:
        return None
    text = str(value).strip()
    if text in ("", "-", "NA", "NaN", "nan"):
        return None
    try:
        x = float(text)
    except ValueError:
        return None
    return x if math.isfinite(x) else None


def inum(value) -> int | None:
    x = num(value)
    return int(x) if x is not None and x == int(x) else None


def id_key(value: str) -> tuple:
    """Sort key of MyCovenant ids ('10099', '10099_med')."""
    m = re.match(r"(\d+)(.*)", str(value))
    return (int(m.group(1)), m.group(2)) if m else (-1, str(value))


def km(lat1, lon1, lat2, lon2) -> float:
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 6371.0088 * 2 * math.asin(math.sqrt(min(1.0, a)))


# Administrative words around a municipality name in MyCovenant (checked on the data).
_PREFIXES = [
    "comune di", "comune de", "comune d", "citta di", "municipio de", "municipio di",
    "ayuntamiento de", "ayuntamiento del", "excmo ayuntamiento de", "ajuntament de", "ajuntament d",
    "ajuntament del", "concello de", "concello da", "concello do", "camara municipal de", "camara municipal do",
    "camara municipal da", "municipality of", "city of", "town of", "ville de", "ville d", "commune de",
    "commune d", "mairie de", "stadt", "gemeinde", "marktgemeinde", "stadtgemeinde", "gemeente", "stad",
    "grad", "opcina", "obcina", "mestna obcina", "mesto", "obec", "gmina", "miasto", "urzad miasta",
    "primaria", "primaria municipiului", "primaria orasului", "primaria comunei", "municipiul", "orasul",
    "comuna", "dimos", "demos", "municipal council of", "city council of", "kommune", "kommun",
    "municipality", "obshtina", "opstina", "municipalite de", "gemeente", "municipality of",
    "administration communale de", "administration communale d", "commune", "uat", "municipiul", "orasul",
]
_PREFIXES.sort(key=len, reverse=True)
_SUFFIXES = ["amalgamated territorial community", "united territorial community", "amalgamated community",
             "territorial community", "united community", "atc", "tc", "ac", "varosi onkormanyzat",
             "metropolitan municipality", "city municipality", "borough council", "municipality", "city council", "kommun", "kommune", "municipal council", "town council",
             "city", "borough council", "council", "onkormanyzata", "varos", "kozseg", "nagykozseg",
             "obshtina", "hromada", "otg"]
_SUFFIXES.sort(key=len, reverse=True)
_ARTICLES = {"el", "la", "les", "l", "els", "lo", "il", "le", "o", "a", "os", "as"}


# Signatories that are an area or an association of municipalities, not one town: they match no
# town and their own row gets entity_type "region" (the list is written to data/README.md).
_AREA = re.compile(r"\b(county|counties|regional council|metropolitan area|citta metropolitana|communaute|pays|"
                   r"parc naturel|unione|aggregazione|comuni|consorzio|gal|mancomunidad|comarca|consell comarcal|"
                   r"metropole|eurometropole|agglomeration|comunidade intermunicipal|megye|consiliul judetean)\b")


def is_area_name(name: str) -> bool:
    key = fold(name)
    if _AREA.search(key):
        return True
    # "Kainuu Region" is a region; "Balakleya Kharkiv region" is a town with its oblast
    return bool(re.search(r"\bregion$", key)) and len(key.split()) <= 2


def signatory_name_keys(name: str) -> list[str]:
    """Folded spellings of a signatory name to look up (most literal first)."""
    base = fold(name)
    if is_area_name(name):
        return [base]  # never strip words from an area's name ("Cork County" is not Cork)
    keys = [base]
    if "&" in name:
        keys.append(fold(name.replace("&", " and ")))
    # "Vendrell, el" -> "el vendrell"; "Torrent, VLC" -> "torrent"; "Tournai, BE" -> "tournai"
    if "," in name:
        head, _, tail = name.partition(",")
        th = fold(tail)
        if th in _ARTICLES:
            keys.append(fold(f"{tail} {head}"))
        keys.append(fold(head))
    # "Martano 2030" -> "martano"; "Craciunelu de Jos Judetul Alba" -> "craciunelu de jos"
    m = re.fullmatch(r"(.+?) (?:19|20)\d\d", base)
    if m:
        keys.append(m.group(1))
    m = re.fullmatch(r"(.+?) (?:judetul|jud) .+", base)
    if m:
        keys.append(m.group(1))
    # "X (PD)", "X / Y" -> "X"
    no_paren = fold(re.sub(r"\(.*?\)", " ", name))
    if no_paren and no_paren != base:
        keys.append(no_paren)
    for k in list(keys):
        for p in _PREFIXES:
            if k.startswith(p + " ") and len(k) > len(p) + 2:
                keys.append(k[len(p) + 1:])
                break
        for s in _SUFFIXES:
            if k.endswith(" " + s) and len(k) > len(s) + 2:
                keys.append(k[: -len(s) - 1])
                break
    for k in list(keys):
        if "/" in name:
            for part in name.split("/"):
                keys.append(fold(part))
        # "sant vicenc dels horts" vs GeoNames "sant vicenc dels horts": fine; "st" abbreviations
        if k.startswith("st "):
            keys.append("saint " + k[3:])
            keys.append("sankt " + k[3:])
        # Italian/Spanish abbreviations: "Mercato S. Severino", "Sta. Coloma"
        if re.search(r"\bs\b", k):
            for full in ("san", "santa", "santo", "sant"):
                keys.append(re.sub(r"\bs\b", full, k))
        if re.search(r"\bsta\b", k):
            keys.append(re.sub(r"\bsta\b", "santa", k))
    out = []
    for k in keys:
        if k and k not in out:
            out.append(k)
    return out


def pick_candidate(lat, lon, cands: list[dict], max_km: float = MAX_KM, keys: list[str] | None = None,
                   unique_any_name: bool = False):
    """Choose among rows whose name matches: (row, distance_km, reason).

    Rows without coordinates cannot be checked and are never chosen. Within max_km a row whose
    own name (not an alternate name) matches comes first, then the closest, then the larger
    population, then the smaller city_id (deterministic).
    """
    keys = set(keys or [])
    if not cands:
        return None, None, "no row with this name in the country"
    if lat is None or lon is None:
        if unique_any_name and len(cands) == 1:
            return cands[0], None, "no coordinates; the only row with this name in the country"
        return None, None, "no coordinates"
    scored = []
    for c in cands:
        if c.get("lat") is None or c.get("lon") is None:
            continue
        d = km(lat, lon, c["lat"], c["lon"])
        own = fold(c.get("name") or c.get("_place", {}).get("name", "")) in keys
        scored.append((d > max_km, not own, d, -(c.get("population") or 0),
                       str(c.get("city_id") or c.get("_key") or ""), c))
    if not scored:
        return None, None, "name matches only rows without coordinates"
    scored.sort(key=lambda x: x[:5])
    _, alt, d, _, _, best = scored[0]
    if d > max_km:
        if len(cands) == 1 and (unique_any_name or not alt) and d <= UNIQUE_NAME_KM:
            return best, d, f"name unique in the country; coordinates {d:.0f} km apart (<= {UNIQUE_NAME_KM:.0f} km)"
        return None, d, f"name matches a place {d:.0f} km away (> {max_km:.0f} km)"
    n_close = sum(1 for x in scored if not x[0])
    reason = ("name and coordinates" + (" (an alternate name)" if alt else "")
              + (f"; closest of {n_close} candidate rows" if n_close > 1 else ""))
    return best, d, reason


def build_name_index(rows: list[dict], keys_of) -> dict[tuple[str, str], list[dict]]:
    index = defaultdict(list)
    for r in rows:
        seen = set()
        for k in keys_of(r):
            if k and k not in seen:
                seen.add(k)
                index[(k, r["country_code"])].append(r)
    return index


def lookup(index, keys: list[str], cc: str) -> list[dict]:
    out, seen = [], set()
    for k in keys:
        for r in index.get((k, cc), []):
            if id(r) not in seen:
                seen.add(id(r))
                out.append(r)
    return out


def signatory_priority(sig: dict, has_data: bool) -> tuple:
    """Higher wins when two signatories fall on one place: data, active, population, smaller id."""
    return (has_data, sig["signatory_status"] == "published", num(sig["population_adhesion"]) or 0)


# ------------------------------------------------------------------------------ the join
class ExternalJoin:
    """Holds the parsed sources, the matches, the new values and their provenance."""

    def __init__(self, external: Path, scope: tuple[str, ...]):
        self.dir = external
        self.scope = set(scope)
        self.report: dict[str, list] = defaultdict(list)
        self.counts: Counter = Counter()
        self.prov: list[tuple] = []   # (city_id placeholder row, column, dataset, release, row_id)

    # ---------------------------------------------------------------- load
    def load(self) -> None:
        g = self.dir / GCOM
        self.sigs = read_csv_rows(g / "signatories_2024.csv")
        self.sigs4 = {}
        for r in read_csv_rows(g / "signatories_4th_release_with_lau_nuts.csv"):
            self.sigs4.setdefault(r["organisation_id"], r)
        self.ap_org = {r["action_plan_id"]: r["organisation_id"] for r in read_csv_rows(g / "action_plan_to_organisation.csv")}
        self.targets = read_csv_rows(g / "action_plan_targets_2A_1.csv")
        self.actions = read_csv_rows(g / "mitigation_actions_by_sector.csv")
        self.mei = read_csv_rows(g / "monitoring_emission_inventories_by_sector_carrier.csv")
        self.bei = read_csv_rows(g / "bei_last_mei_totals_with_2030_target.csv")
        e = self.dir / EUROSTAT
        self.urb = read_csv_rows(e / "eurostat_urb_data_2004_2021.csv")
        self.urau = read_csv_rows(e / "URAU_RG_100K_2021_4326_bounding_boxes.csv")
        n = self.dir / NZC / "pilot_cities.csv"
        self.nzc = read_csv_rows(n) if n.is_file() else []

    # ---------------------------------------------------------------- per organisation facts
    def organisation_facts(self) -> dict[str, dict]:
        """organisation_id -> {column: (value, dataset file, release, row_id)} from the JRC files."""
        facts: dict[str, dict] = defaultdict(dict)

        def put(org, col, value, file, release, row_id):
            if value is not None:
                facts[org][col] = (value, f"{GCOM}/{file}", release, row_id)

        for s in self.sigs:
            org = s["organisation_id"]
            rid = f"organisation_id={org}"
            f = "signatories_2024.csv"
            put(org, "com_organisation_id", org, f, GCOM_RELEASE, rid)
            if s["gcom_id"] not in ("", "-"):
                put(org, "gcom_id", s["gcom_id"], f, GCOM_RELEASE, rid)
            commits = [label for col, label in COMMITMENT_LABELS if s[col].strip().lower() == "true"]
            if commits:
                put(org, "com_commitments", commits, f, GCOM_RELEASE, rid)
            m = re.match(r"(\d{4})-\d\d-\d\d", s["date_of_adhesion"])
            if m:
                put(org, "com_adhesion_year", int(m.group(1)), f, GCOM_RELEASE, rid)
            if s["signatory_status"] in ("published", "on_hold"):
                put(org, "com_status", s["signatory_status"], f, GCOM_RELEASE, rid)
            if s["group_name"] not in ("", "-"):
                put(org, "com_group_name", s["group_name"].strip(), f, GCOM_RELEASE, rid)
            s4 = self.sigs4.get(org)
            if s4 is not None:
                lau = (s4.get("lau_comb_elab") or "").strip()
                if lau in ("", "-"):
                    lau = (s4.get("DB_lau") or "").strip()
                if lau not in ("", "-"):
                    put(org, "lau_code", lau, "signatories_4th_release_with_lau_nuts.csv", GCOM_RELEASE_4, f"organisation_id={org}")
            if s["commitment_CoM2050_flag"].strip().lower() == "true":
                facts[org]["_neutral"] = [(2050, "Covenant of Mayors 2050 climate-neutrality commitment (CoM2050)",
                                           f"{GCOM}/signatories_2024.csv", GCOM_RELEASE, rid)]

        # targets: the plan with a CoM2030 target (latest plan id) per organisation
        f = "action_plan_targets_2A_1.csv"
        best = {}
        for t in self.targets:
            org = self.ap_org.get(t["action_plan_id"])
            if org is None:
                self.counts["targets_plan_without_organisation"] += 1
                continue
            pid = t["action_plan_id"]
            # a -100 % mid-term target with a year is a climate-neutrality target
            if num(t["co2_target_Mid-term target"]) == 1.0 and inum(t["target_year_Mid-term target"]):
                y = inum(t["target_year_Mid-term target"])
                facts[org].setdefault("_neutral", []).append(
                    (y, f"MyCovenant mid-term target: -100 % by {y}", f"{GCOM}/{f}", GCOM_RELEASE_AP, f"action_plan_id={pid}"))
            if num(t["co2_target_CoM2030"]) is None:
                continue
            if org not in best or id_key(pid) > id_key(best[org][0]):
                best[org] = (pid, t)
        for org, (pid, t) in best.items():
            rid = f"action_plan_id={pid}"
            put(org, "target_2030_reduction_pct", round(num(t["co2_target_CoM2030"]) * 100, 6), f, GCOM_RELEASE_AP, rid)
            rt = t["reduction_type_CoM2030"].strip()
            if rt in ("absolute", "per_capita"):
                put(org, "target_2030_type", rt.replace("_", " "), f, GCOM_RELEASE_AP, rid)
            by = inum(t["base_year_CoM2030"])
            if by is not None and 1990 <= by <= 2030:
                put(org, "target_2030_base_year", by, f, GCOM_RELEASE_AP, rid)

        # actions: per organisation the plan with 2030 estimates first, then the latest plan id
        f = "mitigation_actions_by_sector.csv"
        plans = defaultdict(list)
        for a in self.actions:
            plans[a["action_plan_id"]].append(a)
        org_plans = defaultdict(list)
        for pid, rows in plans.items():
            org = self.ap_org.get(pid)
            if org is None:
                self.counts["actions_plan_without_organisation"] += 1
                continue
            has2030 = any(num(r["estimates_co2_reduction_2030"]) is not None for r in rows)
            org_plans[org].append(((has2030, id_key(pid)), pid, rows))
        for org, lst in org_plans.items():
            lst.sort(key=lambda x: x[0])
            (has2030, _), pid, rows = lst[-1]
            horizon = 2030 if has2030 else 2020
            rid = f"action_plan_id={pid}"
            put(org, "actions_plan_horizon", horizon, f, GCOM_RELEASE_AP, rid)
            n_by, co2_by = Counter(), defaultdict(list)
            n_total, co2_total = 0, []
            for r in rows:
                n = inum(r["mitigation_action_number"]) or 0
                co2 = num(r[f"estimates_co2_reduction_{horizon}"])
                n_total += n
                if co2 is not None:
                    co2_total.append(co2)
                sec = r["action_sector"].strip()
                if sec in ACTION_SECTORS:
                    n_by[sec] += n
                    if co2 is not None:
                        co2_by[sec].append(co2)
            for sec in ACTION_SECTORS:
                # the aggregated table lists the sectors that have actions: a sector absent from a
                # known plan has 0 actions (and 0 estimated reduction) in that plan
                put(org, f"actions_n_{sec}", int(n_by.get(sec, 0)), f, GCOM_RELEASE_AP, rid)
                if sec not in n_by:
                    put(org, f"actions_co2_t_{sec}", 0.0, f, GCOM_RELEASE_AP, rid)
                elif co2_by.get(sec):
                    put(org, f"actions_co2_t_{sec}", round(sum(co2_by[sec]), 3), f, GCOM_RELEASE_AP, rid)
            put(org, "actions_n_total", n_total, f, GCOM_RELEASE_AP, rid)
            if co2_total:
                put(org, "actions_co2_t_total", round(sum(co2_total), 3), f, GCOM_RELEASE_AP, rid)

        # latest monitoring inventory per organisation: per capita and sector shares
        f = "monitoring_emission_inventories_by_sector_carrier.csv"
        inv = {}
        for r in self.mei:
            key = (r["organisation_id"], r["emission_inventory_id"])
            d = inv.setdefault(key, {"year": inum(r["inventory_year"]), "pop": num(r["population_in_the_inventory_year"]),
                                     "total": 0.0, "sectors": defaultdict(float), "n": 0})
            e = num(r["emission_measure"])
            if e is None:
                continue
            d["total"] += e
            d["n"] += 1
            d["sectors"][EMISSION_SECTORS.get(r["sector"], "other")] += e
        latest = {}
        for (org, iid), d in inv.items():
            if d["year"] is None or d["n"] == 0 or d["total"] <= 0:
                continue
            k = (d["year"], id_key(iid))
            if org not in latest or k > latest[org][0]:
                latest[org] = (k, iid, d)
        for org, (_, iid, d) in latest.items():
            rid = f"emission_inventory_id={iid}"
            if d["pop"] and d["pop"] > 0:
                put(org, "emissions_per_capita_t", round(d["total"] / d["pop"], 6), f, GCOM_RELEASE_AP, rid)
                put(org, "emissions_year", d["year"], f, GCOM_RELEASE_AP, rid)
                put(org, "emissions_source", "GCoM monitoring inventory", f, GCOM_RELEASE_AP, rid)
            for sec, v in d["sectors"].items():
                put(org, f"emission_share_{sec}", round(v / d["total"], 6), f, GCOM_RELEASE_AP, rid)

        # progress: baseline inventory vs latest monitoring inventory, per capita
        f = "bei_last_mei_totals_with_2030_target.csv"
        bestp = {}
        for r in self.bei:
            org = r["organisation_id"]
            y0, y1 = inum(r["inventory_year"]), inum(r["last_mei_year"])
            p0, p1 = num(r["population_in_the_inventory_year"]), num(r["last_mei_population"])
            e0, e1 = num(r["emission_measure"]), num(r["last_mei_emission_measure"])
            if None in (y0, y1, p0, p1, e0, e1) or p0 <= 0 or p1 <= 0 or e0 <= 0 or y1 <= y0:
                continue
            k = (y1, id_key(r["action_plan_id"]))
            if org not in bestp or k > bestp[org][0]:
                bestp[org] = (k, r, y0, y1, (e1 / p1) / (e0 / p0) * 100 - 100)
        for org, (_, r, y0, y1, pct) in bestp.items():
            rid = f"action_plan_id={r['action_plan_id']}"
            put(org, "progress_per_capita_pct", round(pct, 4), f, GCOM_RELEASE_AP, rid)
            put(org, "progress_baseline_year", y0, f, GCOM_RELEASE_AP, rid)
            put(org, "progress_latest_year", y1, f, GCOM_RELEASE_AP, rid)
        return facts

    # ---------------------------------------------------------------- signatories -> rows
    def match_signatories(self, rows: list[dict], gn500: dict[int, dict], row_keys, gn_keys) -> None:
        """Sets self.sig_row (organisation_id -> row dict or new-place dict) and reports.

        rows: the curated + universe rows (with city_id, lat, lon, population, country_code);
        gn500: GeoNames cities500 places in scope that are not rows yet (geonameid -> place).
        """
        self.facts = self.organisation_facts()
        data_cols = {"target_2030_reduction_pct", "actions_n_total", "emissions_year", "progress_per_capita_pct"}
        index = build_name_index(rows, row_keys)
        gn_rows = [{"_gn": gid, "_key": f"gn{gid}", "country_code": p["countrycode"], "lat": float(p["latitude"]),
                    "lon": float(p["longitude"]), "population": int(p["population"] or 0), "_place": p}
                   for gid, p in sorted(gn500.items())]
        gn_index = build_name_index(gn_rows, gn_keys)
        claims: dict[str, list] = defaultdict(list)   # place key -> [(priority, org, dist, reason, target)]
        # a LAU code shared by exactly two signatories is one municipality signed twice; one shared by
        # more (Budapest's districts share Budapest's LAU) is not used to merge
        lau_count = Counter(f["lau_code"][0] for f in self.facts.values() if "lau_code" in f)
        self.sig_by_org = {}
        for s in self.sigs:
            org = s["organisation_id"]
            cc = s["country_code"].strip().upper()
            self.sig_by_org[org] = s
            if cc not in self.scope:
                self.counts["signatories_out_of_scope"] += 1
                continue
            self.counts["signatories_in_scope"] += 1
            if s["group_profile"].strip().lower() == "true":
                self.counts["group_signatories"] += 1
                self.report["group_examples"].append(f"{s['organisation_name']} ({cc})")
                continue
            lat, lon = num(s["organisation_latitude"]), num(s["organisation_longitude"])
            if lat is not None and lon is not None and lat == 0 and lon == 0:
                lat = lon = None
            keys = signatory_name_keys(s["organisation_name"])
            has_data = bool(data_cols & set(self.facts.get(org, {})))
            prio = signatory_priority(s, has_data)
            row, d, reason = pick_candidate(lat, lon, lookup(index, keys, cc), keys=keys)
            if row is not None:
                claims[("row", row["city_id"])].append(((" (an alternate name)" not in reason,) + prio, org, d, reason, ("row", row)))
                continue
            place, d2, reason2 = pick_candidate(lat, lon, lookup(gn_index, keys, cc), keys=keys)
            if place is not None:
                claims[("gn", place["_gn"])].append(((" (an alternate name)" not in reason2,) + prio, org, d2, reason2, ("gn", place)))
                self.report["why_not_row"].append(reason)
                continue
            self.report["why_own_row"].append(reason2 if "km away" in (reason2 or "") else reason)
            lau = self.facts.get(org, {}).get("lau_code")
            key = ("lau", lau[0]) if lau and "," not in lau[0] and lau_count[lau[0]] == 2 else ("own", org)
            claims[key].append(((True,) + prio, org, None, "no match", ("own", s)))
        self.sig_target = {}
        self.merged: dict[str, list[str]] = {}
        self.duplicates = []
        # A signatory that reached a place only through an alternate name and lost it to one that
        # carries the place's own name is another municipality (Ete vs Kisbér): it becomes its own row.
        for key in sorted(claims, key=lambda k: (k[0], str(k[1]))):
            lst = claims[key]
            if len(lst) > 1 and any(x[0][0] for x in lst):
                for x in [x for x in lst if not x[0][0]]:
                    lst.remove(x)
                    self.report["alternate_name_losers"].append(self.sig_by_org[x[1]]["organisation_name"])
                    claims[("own", x[1])] = [((True,) + x[0][1:], x[1], None, "no match", ("own", self.sig_by_org[x[1]]))]
        for key in sorted(claims, key=lambda k: (k[0], str(k[1]))):
            lst = sorted(claims[key], key=lambda x: x[1])          # ties: the smaller organisation_id
            lst.sort(key=lambda x: x[0], reverse=True)               # stable: own name, the most data first
            prio, org, d, reason, target = lst[0]
            self.sig_target[org] = (target, d, reason)
            self.merged[org] = [x[1] for x in lst[1:]]
            for _, org2, d2, _, _ in lst[1:]:
                s2 = self.sig_by_org[org2]
                self.duplicates.append((org2, s2["organisation_name"], s2["country_code"].upper(), org,
                                        self.sig_by_org[org]["organisation_name"], key[0]))
        kinds = Counter(t[0][0] for t in self.sig_target.values())
        self.counts["matched_existing_row"] = kinds["row"]
        self.counts["matched_geonames500"] = kinds["gn"]
        self.counts["own_row"] = kinds["own"]
        self.counts["duplicates"] = len(self.duplicates)
        self.counts["matched_existing_row_curated"] = sum(
            1 for t in self.sig_target.values() if t[0][0] == "row" and t[0][1]["tier"] == "curated")
        self.counts["two_or_more_candidates"] = sum(1 for t in self.sig_target.values() if "closest of" in t[2])

    # ---------------------------------------------------------------- apply values
    def set_value(self, row: dict, col: str, value, dataset: str, release: str, row_id: str) -> None:
        row[col] = value
        row.setdefault("_newprov", []).append((col, dataset, release, row_id))

    def apply_org(self, row: dict, org: str) -> None:
        """The signatory's values; a value it lacks is taken from a duplicate signatory of the same
        place (in priority order, with that signatory's provenance); commitments are the union."""
        chain = [org] + self.merged.get(org, [])
        cols = sorted({c for o in chain for c in self.facts.get(o, {}) if not c.startswith("_")})
        for col in cols:
            have = [(o, self.facts[o][col]) for o in chain if col in self.facts.get(o, {})]
            if col == "com_commitments" and len(have) > 1:
                union = [c for _, label in COMMITMENT_LABELS for c in [label] if any(c in v[0] for _, v in have)]
                if len(union) > len(have[0][1][0]):
                    rid = ";".join([have[0][1][3]] + [v[3] for _, v in have[1:] if set(v[0]) - set(have[0][1][0])])
                    self.set_value(row, col, union, have[0][1][1], have[0][1][2], rid)
                    continue
            value, dataset, release, rid = have[0][1]
            self.set_value(row, col, value, dataset, release, rid)
        for o in chain:
            for n in self.facts.get(o, {}).get("_neutral", []):
                row.setdefault("_neutral", []).append(n)

    def apply_neutrality(self, row: dict, mission_line: int | None) -> None:
        options = list(row.get("_neutral", []))
        if row.get("eu_mission") and mission_line is not None:
            options.append((2030, "EU Cities Mission: climate neutrality by 2030", MISSION, MISSION_RELEASE,
                            f"line {mission_line} (eu_mission_city)"))
        if not options:
            return
        options.sort(key=lambda x: (x[0], x[1]))
        y, basis, ds, rel, rid = options[0]
        self.set_value(row, "neutrality_target_year", y, ds, rel, rid)
        self.set_value(row, "neutrality_target_basis", basis, ds, rel, rid)

    # ---------------------------------------------------------------- Eurostat
    def join_eurostat(self, rows: list[dict], row_keys) -> None:
        index = build_name_index(rows, row_keys)
        names = {u["URAU_CODE"]: u for u in self.urau}
        values = defaultdict(dict)
        years = [str(y) for y in range(2021, 2003, -1)]
        wanted = set(LAND_USE) | set(CLIMATE)
        for r in self.urb:
            if r["indic_code"] not in wanted:
                continue
            for y in years:  # latest year with a value
                v = num(r.get(y))
                if v is not None and r["indic_code"] == "EN1003V" and v < 5:
                    # Bulgaria's "warmest month" values (Sofia -2.3) are winter means: a source error,
                    # left out (not swapped into coldest_month_c)
                    self.report["eurostat_rejected"].append(f"{r['urau_code']} EN1003V {y} = {v}")
                    break
                if v is not None:
                    values[r["urau_code"]][r["indic_code"]] = (v, y)
                    break
        self.counts["eurostat_cities"] = len(values)
        matched = 0
        for code in sorted(values):
            u = names.get(code)
            if u is None:
                self.counts["eurostat_no_name"] += 1
                continue
            cc = {"EL": "GR", "UK": "GB"}.get(code[:2], code[:2])
            cands = lookup(index, signatory_name_keys(u["URAU_NAME"].replace(" a.d.", " an der ")), cc)
            box = [float(u[k]) for k in ("minx", "miny", "maxx", "maxy")]
            inside = [c for c in cands if c.get("lat") is not None
                      and box[0] - 0.05 <= c["lon"] <= box[2] + 0.05 and box[1] - 0.05 <= c["lat"] <= box[3] + 0.05]
            if not inside:
                self.report["eurostat_unmatched"].append(f"{code} {u['URAU_NAME']}")
                continue
            inside.sort(key=lambda c: (-(c.get("population") or 0), c["city_id"]))
            row = inside[0]
            if row.get("_urau"):
                self.report["eurostat_unmatched"].append(f"{code} {u['URAU_NAME']} (row already has {row['_urau']})")
                continue
            row["_urau"] = code
            matched += 1
            for ind, (v, y) in sorted(values[code].items()):
                col = CLIMATE.get(ind) or f"land_share_{LAND_USE[ind]}"
                self.set_value(row, col, v, f"{EUROSTAT}/eurostat_urb_data_2004_2021.csv", EUROSTAT_RELEASE,
                               f"urau_code={code};indic_code={ind};year={y}")
        self.counts["eurostat_matched"] = matched

    # ---------------------------------------------------------------- NZC pilot cities
    def join_nzc(self, rows: list[dict], row_keys) -> list[dict]:
        """Adds the network to matched rows; returns case-study rows (one per activity)."""
        index = build_name_index(rows, row_keys)
        by_activity = defaultdict(list)
        for i, r in enumerate(self.nzc, start=2):
            by_activity[(r["cohort"], r["activity_name"])].append((i, r))
        matched = 0
        cases = []
        for (cohort, activity), members in sorted(by_activity.items(), key=lambda x: (int(x[0][0]), min(l for l, _ in x[1]))):
            cities = []
            for line, r in members:
                cands = lookup(index, [fold(r["city"])], r["country_code"])
                curated = [c for c in cands if c["tier"] == "curated"]
                pick = curated or cands
                if len(pick) != 1:
                    pick.sort(key=lambda c: (-(c.get("population") or 0), c["city_id"]))
                    if not pick:
                        self.report["nzc_unmatched"].append(f"{r['city']} ({r['country_code']}) line {line}")
                        cities.append(r["city"])
                        continue
                row = pick[0]
                matched += 1
                if NZC_NETWORK not in row["networks"]:
                    row["networks"] = row["networks"] + [NZC_NETWORK]
                    row["_prov"].append(f"external/{NZC}/pilot_cities.csv:{line}")
                    row.setdefault("_newprov", []).append(("networks", f"{NZC}/pilot_cities.csv", NZC_RELEASE, f"line {line}"))
                row["_nzc"] = True
                cities.append(row["name"])
            r0 = members[0][1]
            lines = ",".join(str(l) for l, _ in members)
            sectors = []
            for d in (r0["domains"] or "").split(";"):
                sec = NZC_DOMAIN_TO_SECTOR.get(d.strip())
                if sec and sec not in sectors:
                    sectors.append(sec)
            ccs = sorted({r["country_code"] for _, r in members})
            summary = (r0["summary"] or "").strip()
            head = (f"NetZeroCities Pilot Cities activity (cohort {cohort}) of " + ", ".join(cities) + "."
                    + (f" Domains: {r0['domains'].strip()}." if r0["domains"].strip() else ""))
            cases.append({
                "case_id": "nzc-pilot-" + re.sub(r"[^a-z0-9]+", "-", fold(activity)).strip("-")[:60],
                "title": activity,
                "summary": (summary + " " + head).strip() if summary else head + " The source gives only the title.",
                "city": cities[0] if len(cities) == 1 else None,
                "country_code": ccs[0] if len(ccs) == 1 else None,
                "sectors": sectors, "barriers_addressed": [], "quote": None,
                "source": r0["source_url"].strip() or None,
                "related_cities": cities if len(cities) > 1 else [],
                "language": "en",
                "provenance": f"reference_data/external/{NZC}/pilot_cities.csv:{lines}",
            })
        self.counts["nzc_rows"] = len(self.nzc)
        self.counts["nzc_matched"] = matched
        return cases

    # ---------------------------------------------------------------- CDP
    def join_cdp(self, rows: list[dict], row_keys, country_code_of) -> None:
        """CDP city-wide emissions (Europe): cdp_account_number on the matched row, and per-capita
        emissions (total / population of the same response) where GCoM gives none."""
        index = build_name_index(rows, row_keys)
        best, coords = {}, {}
        for year in range(2016, 2022):
            path = self.dir / CDP / f"cdp_citywide_emissions_{year}.csv"
            if not path.is_file():
                continue
            for line, r in enumerate(read_csv_rows(path), start=2):
                region = r.get("CDP Region") or r.get("Region")
                cc = country_code_of(r.get("Country") or "")
                if cc not in self.scope or (region is not None and region != "Europe"):
                    continue
                acct = (r.get("Account Number") or r.get("Account number") or "").strip()
                name = (r.get("City") or r.get("City Short Name") or "").strip() or (r.get("Organization") or r.get("City Name") or "").strip()
                if not acct or not name:
                    continue
                basis, total = None, None
                for col in ("Total City-wide Emissions (metric tonnes CO2e)", "Total emissions (metric tonnes CO2e)",
                            "Total BASIC Emissions (GPC)", "TOTAL BASIC Emissions (GPC)"):
                    if num(r.get(col)) is not None:
                        basis, total = ("CDP city-wide BASIC (GPC)" if "BASIC" in col else "CDP city-wide total"), num(r.get(col))
                        break
                if total is None:
                    s1 = next((num(v) for k, v in r.items() if k and k.lower().startswith("total scope 1")), None)
                    s2 = next((num(v) for k, v in r.items() if k and k.lower().startswith("total scope 2")), None)
                    if s1 is not None and s2 is not None:
                        basis, total = "CDP city-wide scope 1 + scope 2", s1 + s2
                pop = num(r.get("Population") or r.get("Current Population"))
                acc = r.get("Accounting year") or r.get("Accounting Year") or r.get("Measurement Year") or ""
                ys = re.findall(r"(?:19|20)\d\d", acc)
                acc_year = int(ys[-1]) if ys else None
                loc = r.get("City Location") or ""
                nums = [float(x) for x in re.findall(r"-?\d+(?:\.\d+)?", loc)]
                lat = lon = None
                if len(nums) == 2:
                    lat, lon = (nums[1], nums[0]) if loc.strip().upper().startswith("POINT") else (nums[0], nums[1])
                complete = total is not None and total > 0 and pop is not None and pop > 0 and acc_year is not None
                rec = {"acct": acct, "name": name, "org": r.get("Organization") or r.get("City Name") or "", "cc": cc,
                       "lat": lat, "lon": lon, "year": year, "line": line, "basis": basis,
                       "total": total, "pop": pop, "acc_year": acc_year, "complete": complete}
                k = (complete, acc_year or 0, year)
                if acct not in best or k > best[acct][0]:
                    best[acct] = (k, rec)
                if lat is not None:
                    coords.setdefault(acct, {})[year] = (lat, lon)
        matched = claimed = 0
        self.counts["cdp_accounts"] = len(best)
        for acct in sorted(best):
            rec = best[acct][1]
            keys = signatory_name_keys(rec["name"])
            if fold(rec["org"]) and fold(rec["org"]) != fold(rec["name"]):
                keys += [k for k in signatory_name_keys(rec["org"]) if k not in keys]
            lat, lon = rec["lat"], rec["lon"]
            if lat is None and coords.get(acct):  # the location of another year's response
                lat, lon = coords[acct][max(coords[acct])]
            row, d, reason = pick_candidate(lat, lon, lookup(index, keys, rec["cc"]), keys=keys, unique_any_name=True)
            if row is None:
                self.report["cdp_unmatched"].append(f"{rec['org'] or rec['name']} ({rec['cc']}): {reason}")
                continue
            if row.get("cdp_account_number"):
                self.report["cdp_unmatched"].append(f"{rec['org'] or rec['name']} ({rec['cc']}): row already has CDP account {row['cdp_account_number']}")
                continue
            matched += 1
            file = f"{CDP}/cdp_citywide_emissions_{rec['year']}.csv"
            rel = CDP_RELEASE.format(year=rec["year"])
            rid = f"line {rec['line']} (account {acct})"
            self.set_value(row, "cdp_account_number", acct, file, rel, rid)
            row["_prov"].append(f"CDP city-wide emissions {rec['year']} (CDP and ICLEI) account {acct}")
            if rec["complete"] and row.get("emissions_per_capita_t") is None:
                claimed += 1
                self.set_value(row, "emissions_per_capita_t", round(rec["total"] / rec["pop"], 6), file, rel, rid)
                self.set_value(row, "emissions_year", rec["acc_year"], file, rel, rid)
                self.set_value(row, "emissions_source", rec["basis"], file, rel, rid)
        self.counts["cdp_matched"] = matched
        self.counts["cdp_emissions_used"] = claimed
