"""The profile schema: columns, vocabularies (NetZeroCities city survey) and validation.

Validation collects every problem with its file, row and column before it raises, so a user
fixes a file in one pass, and a table is either loaded whole or not at all.
"""
from __future__ import annotations

import hashlib
import re
import math
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd
from unidecode import unidecode

from .errors import ProfileValidationError
from .facets import FACETS, known_facets
from .limits import Limits
from .limits import resolve as resolve_limits
from .vocab import MATURITY_LEVELS, closest, country_codes, language_codes, normalise_key, slug, vocabularies


@lru_cache(maxsize=1)
def schema_fingerprint() -> str:
    """Hash of the validation code and vocabularies: a cached validated table is reused only
    while they are unchanged."""
    digest = hashlib.sha256(Path(__file__).read_bytes())
    digest.update(Path(__file__).with_name("vocab.py").read_bytes())
    for name in ("taxonomy.json", "barrier_parents.csv"):
        path = resources.files("matcher.vocabulary").joinpath(name)
        digest.update(path.read_bytes() if path.is_file() else b"")
    return digest.hexdigest()


@dataclass(frozen=True)
class Column:
    name: str
    kind: str  # "str", "float", "int", "bool", "list"
    required: bool = False
    help: str = ""
    vocab: str | None = None  # key of vocabularies() whose wording the values must use
    max_chars: int = 20_000


COLUMNS: tuple[Column, ...] = (
    Column("city_id", "str", help="stable id; 'gn<geonameid>' for GeoNames cities (generated when absent)"),
    Column("name", "str", required=True, help="the city's usual name"),
    Column("country_code", "str", required=True, help="ISO 3166-1 alpha-2"),
    Column("country", "str"),
    Column("ascii_name", "str"),
    Column("alternate_names", "list", help="other names, exonyms, spellings"),
    Column("admin1", "str"),
    Column("entity_type", "str", help="city or region"),
    Column("tier", "str", help="curated (climate sources) or universe (GeoNames only)"),
    Column("lat", "float"),
    Column("lon", "float"),
    Column("population", "int"),
    Column("population_source", "str"),
    Column("languages", "list", help="ISO 639-1 codes"),
    Column("networks", "list"),
    Column("eu_mission", "bool", help="selected for the EU Mission 100 Climate-Neutral and Smart Cities"),
    Column("net_zero_target_year", "int"),
    Column("target_text", "str"),
    Column("target_source", "str"),
    Column("maturity", "str", help="starting, developing or advanced"),
    Column("maturity_evidence", "str"),
    Column("barriers", "list", vocab="barriers", help="survey barriers (or focus-group wording)"),
    Column("priority_sectors", "list", vocab="priority_sectors", help="survey priority sectors"),
    Column("co_benefits", "list", vocab="co_benefits"),
    Column("funding_gaps", "list", vocab="funding_gaps"),
    Column("needs", "list"),
    Column("initiatives", "list"),
    Column("focus_groups", "list"),
    Column("narrative", "str", help="free text about the city's climate action; never made up"),
    Column("has_climate_profile", "bool"),
    Column("provenance", "str"),
    Column("geonameid", "int"),
    # Joined from ../shared/reference_data/external by scripts/build_data.py (issue 15); every non-null
    # value has a record in data/city_profiles/provenance.parquet (see data/README.md).
    Column("com_organisation_id", "str", help="Covenant of Mayors (MyCovenant) organisation_id of the matched signatory"),
    Column("gcom_id", "str", help="Global Covenant of Mayors id (e.g. GB0006)"),
    Column("lau_code", "str", help="Eurostat LAU code(s) of the signatory (JRC 4th release, lau_comb_elab; comma-separated when several)"),
    Column("com_commitments", "list", help="Covenant of Mayors commitments: CoM2020, CoM2030, CoM2050 (climate neutrality), Mayors Adapt"),
    Column("com_adhesion_year", "int", help="year the signatory joined the Covenant of Mayors"),
    Column("com_status", "str", help="MyCovenant signatory status: published (active) or on_hold (suspended for not reporting)"),
    Column("com_group_name", "str", help="the group (joint action plan) the signatory belongs to; the group's own values are not copied"),
    Column("target_2030_reduction_pct", "float", help="CoM2030 emission reduction target, % below the base year"),
    Column("target_2030_type", "str", help="absolute or per capita"),
    Column("target_2030_base_year", "int", help="base year of the 2030 target"),
    Column("neutrality_target_year", "int", help="earliest climate-neutrality commitment year (EU Mission 2030, a -100 % MyCovenant target, CoM2050)"),
    Column("neutrality_target_basis", "str", help="what commits the city to that year"),
    Column("emissions_per_capita_t", "float", help="t CO2(e) per inhabitant in the latest inventory (GCoM monitoring inventory; CDP when the city has none)"),
    Column("emissions_year", "int", help="year of that inventory"),
    Column("emissions_source", "str", help="which inventory gives emissions_per_capita_t: 'GCoM monitoring inventory' or 'CDP city-wide ...'"),
    Column("cdp_account_number", "str", help="CDP account number when the city reports city-wide emissions to CDP (Europe, 2016-2021)"),
    Column("emission_share_residential", "float", help="share of the latest inventory's emissions in sector 'residential' (0-1)"),
    Column("emission_share_tertiary", "float", help="share of the latest inventory's emissions in sector 'tertiary' (0-1)"),
    Column("emission_share_municipal", "float", help="share of the latest inventory's emissions in sector 'municipal' (0-1)"),
    Column("emission_share_transport", "float", help="share of the latest inventory's emissions in sector 'transport' (0-1)"),
    Column("emission_share_industry", "float", help="share of the latest inventory's emissions in sector 'industry' (0-1)"),
    Column("emission_share_agriculture", "float", help="share of the latest inventory's emissions in sector 'agriculture' (0-1)"),
    Column("emission_share_waste", "float", help="share of the latest inventory's emissions in sector 'waste' (0-1)"),
    Column("emission_share_other", "float", help="share of the latest inventory's emissions in sector 'other' (0-1)"),
    Column("actions_plan_horizon", "int", help="horizon (2020 or 2030) of the action plan the action columns describe"),
    Column("actions_n_transport", "int", help="number of mitigation actions in sector 'transport' of the latest action plan"),
    Column("actions_n_electricity", "int", help="number of mitigation actions in sector 'electricity' of the latest action plan"),
    Column("actions_n_municipal", "int", help="number of mitigation actions in sector 'municipal' of the latest action plan"),
    Column("actions_n_residential", "int", help="number of mitigation actions in sector 'residential' of the latest action plan"),
    Column("actions_n_tertiary", "int", help="number of mitigation actions in sector 'tertiary' of the latest action plan"),
    Column("actions_n_heat", "int", help="number of mitigation actions in sector 'heat' of the latest action plan"),
    Column("actions_n_industry", "int", help="number of mitigation actions in sector 'industry' of the latest action plan"),
    Column("actions_n_waste", "int", help="number of mitigation actions in sector 'waste' of the latest action plan"),
    Column("actions_n_lighting", "int", help="number of mitigation actions in sector 'lighting' of the latest action plan"),
    Column("actions_n_other", "int", help="number of mitigation actions in sector 'other' of the latest action plan"),
    Column("actions_co2_t_transport", "float", help="estimated CO2 reduction (t/yr) of the actions in sector 'transport'"),
    Column("actions_co2_t_electricity", "float", help="estimated CO2 reduction (t/yr) of the actions in sector 'electricity'"),
    Column("actions_co2_t_municipal", "float", help="estimated CO2 reduction (t/yr) of the actions in sector 'municipal'"),
    Column("actions_co2_t_residential", "float", help="estimated CO2 reduction (t/yr) of the actions in sector 'residential'"),
    Column("actions_co2_t_tertiary", "float", help="estimated CO2 reduction (t/yr) of the actions in sector 'tertiary'"),
    Column("actions_co2_t_heat", "float", help="estimated CO2 reduction (t/yr) of the actions in sector 'heat'"),
    Column("actions_co2_t_industry", "float", help="estimated CO2 reduction (t/yr) of the actions in sector 'industry'"),
    Column("actions_co2_t_waste", "float", help="estimated CO2 reduction (t/yr) of the actions in sector 'waste'"),
    Column("actions_co2_t_lighting", "float", help="estimated CO2 reduction (t/yr) of the actions in sector 'lighting'"),
    Column("actions_co2_t_other", "float", help="estimated CO2 reduction (t/yr) of the actions in sector 'other'"),
    Column("actions_n_total", "int", help="number of mitigation actions in the plan (all sectors, incl. unspecified)"),
    Column("actions_co2_t_total", "float", help="estimated CO2 reduction of all actions of the plan (t/yr)"),
    Column("progress_per_capita_pct", "float", help="% change of per-capita emissions from the baseline to the latest monitoring inventory"),
    Column("progress_baseline_year", "int", help="baseline inventory year"),
    Column("progress_latest_year", "int", help="latest monitoring inventory year"),
    Column("coldest_month_c", "float", help="mean temperature of the coldest month (deg C), Urban Audit"),
    Column("warmest_month_c", "float", help="mean temperature of the warmest month (deg C), Urban Audit"),
    Column("sunshine_hours_day", "float", help="hours of sunshine per day, Urban Audit"),
    Column("land_share_continuous_residential", "float", help="% of the city's land: continuous residential (Urban Audit)"),
    Column("land_share_discontinuous_residential", "float", help="% of the city's land: discontinuous residential (Urban Audit)"),
    Column("land_share_industrial_commercial", "float", help="% of the city's land: industrial commercial (Urban Audit)"),
    Column("land_share_transport_infrastructure", "float", help="% of the city's land: transport infrastructure (Urban Audit)"),
    Column("land_share_other_artificial", "float", help="% of the city's land: other artificial (Urban Audit)"),
    Column("land_share_green_urban", "float", help="% of the city's land: green urban (Urban Audit)"),
    Column("land_share_agricultural", "float", help="% of the city's land: agricultural (Urban Audit)"),
    Column("land_share_natural", "float", help="% of the city's land: natural (Urban Audit)"),
)
COLUMN_BY_NAME = {c.name: c for c in COLUMNS}

VOCAB_NOUNS = {"barriers": "barrier", "priority_sectors": "priority sector", "co_benefits": "co-benefit",
               "funding_gaps": "funding gap", "case_sectors": "case-study sector",
               "case_barriers": "barrier or funding gap"}
TARGET_YEAR_RANGE = (1990, 2100)


def _is_missing(value) -> bool:
    if value is None:
        return True
    if isinstance(value, float) and math.isnan(value):
        return True
    if value is pd.NA or value is pd.NaT:
        return True
    return isinstance(value, str) and value.strip() == ""


def _as_list(value) -> list[str] | None:
    """Accept a list/array, a ';'-separated string or missing; None means 'not a list'."""
    if isinstance(value, (list, tuple, np.ndarray)):
        items = list(value)
    elif _is_missing(value):
        return []
    elif isinstance(value, str):
        items = value.split(";")
    else:
        return None
    out: dict[str, None] = {}  # ordered set: a 100,000-item cell stays linear
    for item in items:
        if isinstance(item, (list, tuple, dict, set, np.ndarray)):
            return None  # nested lists are refused unread: str() of a YAML alias bomb would be huge
        if _is_missing(item):
            continue
        if not isinstance(item, str):
            item = str(item)
        item = " ".join(clean_text(item).split())
        if item:
            out.setdefault(item)
    return list(out)


# Terminal escape sequences (CSI "ESC [ ... letter", OSC "ESC ] ... BEL/ST", two-byte "ESC x") and
# the characters that only steer a display: C0 controls other than tab/newline, DEL, C1 controls,
# and the bidirectional embedding/override/isolate marks (a name that reads differently than it
# sorts or matches). Removed from every text cell at validation, so a name shown in a terminal
# table or a "Did you mean" is the name a user can type.
_ANSI = re.compile(r"\x1b(?:\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(?:\x07|\x1b\\)?|[@-Z\\-_])")
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
# Columns whose text may keep line breaks; every other text is folded onto one line.
MULTILINE_COLUMNS = frozenset({"narrative", "target_text", "maturity_evidence", "summary", "body", "quote",
                               "provenance"})


def clean_text(text: str, multiline: bool = False) -> str:
    """`text` without terminal escapes and control characters; outside multi-line columns, line
    breaks and runs of whitespace become one space."""
    if not text.isprintable():
        text = _CONTROL.sub("", _ANSI.sub("", text))
    return text.strip() if multiline else " ".join(text.split())


def _suggest(value: str, choices: tuple[str, ...]) -> str | None:
    return closest(value, choices)


class _Problems:
    """The problems found so far; stops validation (raises) at `limits.max_problems`, so a file of
    junk is refused with the first problems instead of collecting a million."""

    def __init__(self, source: str, what: str = "profile", limits: Limits | None = None):
        self.source = source
        self.what = what
        self.max_problems = resolve_limits(limits).max_problems
        self.items: list[dict] = []

    def add(self, row, column, value, message):
        self.items.append(
            {"file": self.source, "row": row, "column": column, "value": value, "message": message}
        )
        if len(self.items) >= self.max_problems:
            raise ProfileValidationError(self.items, self.source, self.what, stopped_at=self.max_problems)


@lru_cache(maxsize=32)
def _canonical(vocab: tuple[str, ...]) -> dict[str, str]:
    """Exact labels and their folded keys -> the survey wording."""
    table = {normalise_key(v): v for v in vocab}
    table.update({v: v for v in vocab})
    return table


def _check_vocab(items, column, vocab_key, row, problems) -> list[str]:
    vocab = vocabularies()[vocab_key]
    canonical = _canonical(vocab)
    out = []
    for item in items:
        hit = canonical.get(item) or canonical.get(normalise_key(item))
        if hit is not None:
            out.append(hit)
            continue
        noun = VOCAB_NOUNS[vocab_key]
        guess = _suggest(item, vocab)
        hint = f"; did you mean '{guess}'?" if guess else f". Allowed values: {'; '.join(vocab)}"
        problems.add(row, column, item, f"'{item}' is not a known {noun}{hint}")
    return out


def validate_rows(frame: pd.DataFrame, columns: tuple[Column, ...], source: str, first_row: int,
                  problems: "_Problems", what: str = "profile",
                  row_numbers: list[int] | None = None) -> tuple[list[dict], list[dict]]:
    """Cell-level checks shared by every table schema: returns (normalised rows, raw rows).

    Unknown or missing required columns stop at once (nothing else can be checked); cell
    problems are collected in `problems` for the caller to raise with its row-level ones.
    Row i is shown as `row_numbers[i]` when given, else as `first_row + i`. Your own `x_`
    columns are kept, but only as single values or flat lists of them (cleaned like any text):
    a nested value is refused unread like in any other column.
    """
    by_name = {c.name: c for c in columns}
    unknown = [c for c in frame.columns if c not in by_name and not str(c).startswith("x_")]
    for col in unknown:
        guess = _suggest(str(col), tuple(by_name))
        hint = f"; did you mean '{guess}'?" if guess else ""
        problems.add(None, str(col), None, f"unknown column '{col}'{hint} (prefix a column with x_ to keep your own)")
    for col in columns:
        if col.required and col.name not in frame.columns:
            problems.add(None, col.name, None, f"required column '{col.name}' is missing")
    if problems.items:
        raise ProfileValidationError(problems.items, source, what)
    if len(frame) == 0:
        raise ProfileValidationError([{"file": source, "row": None, "column": None, "value": None,
                                       "message": "the table has no data rows"}], source, what)
    records = frame.to_dict("records")
    extras = [c for c in frame.columns if str(c).startswith("x_")]
    out_rows = []
    for i, rec in enumerate(records):
        row_no = row_numbers[i] if row_numbers is not None else first_row + i
        out = {col.name: _validate_cell(col, rec.get(col.name), row_no, problems) for col in columns}
        for extra in extras:
            out[extra] = _validate_extra(str(extra), rec.get(extra), row_no, problems)
        out_rows.append(out)
    return out_rows, records


_EXTRA = Column("x_", "str")


def _validate_extra(name: str, value, row_no, problems: "_Problems"):
    """An `x_` column's cell: a scalar (text cleaned and length-checked) or a flat list of scalars."""
    if isinstance(value, (list, tuple, np.ndarray)):
        if any(isinstance(v, (list, tuple, dict, set, np.ndarray)) for v in value):
            problems.add(row_no, name, None, f"expected a single value or a flat list, got {type(value).__name__} "
                                             "holding lists")
            return None
        items = [_validate_extra(name, v, row_no, problems) for v in value]
        return [v for v in items if v is not None]
    if isinstance(value, (dict, set, bytes)):
        problems.add(row_no, name, None, f"expected a single value, got {type(value).__name__}")
        return None
    if isinstance(value, str):
        return _validate_cell(Column(name, "str", max_chars=_EXTRA.max_chars), value, row_no, problems)
    return value


def validate_profiles(frame: pd.DataFrame, source: str = "<table>", first_row: int = 1, *,
                      row_numbers: list[int] | None = None, limits: Limits | None = None) -> pd.DataFrame:
    """Check a profile table and return it normalised (all columns, canonical wording, lists).

    Raises ProfileValidationError listing every problem (up to `limits.max_problems`).
    `first_row` is the number shown for the first data row (1 = the first row under the
    header); `row_numbers` gives each row's number instead (a survey export's own rows).
    """
    problems = _Problems(source, "profile", limits)
    out_rows, records = validate_rows(frame, COLUMNS, source, first_row, problems, row_numbers=row_numbers)

    # Row-level rules.
    seen: dict[str, int] = {}
    for i, out in enumerate(out_rows):
        row_no = row_numbers[i] if row_numbers is not None else first_row + i
        if out["name"] is None:
            continue
        if out["city_id"] is None and out["country_code"] is not None:
            out["city_id"] = f"x-{slug(out['name'])}-{out['country_code'].lower()}"
        if out["city_id"] is not None:
            if out["city_id"] in seen:
                problems.add(row_no, "city_id", out["city_id"],
                             f"duplicate city_id '{out['city_id']}' (first used on row {seen[out['city_id']]})")
            else:
                seen[out["city_id"]] = row_no
        raw_lat, raw_lon = _is_missing(records[i].get("lat")), _is_missing(records[i].get("lon"))
        if raw_lat != raw_lon:
            problems.add(row_no, "lat" if raw_lat else "lon", None,
                         "lat and lon must both be given or both be empty")
        if out["ascii_name"] is None:
            out["ascii_name"] = unidecode(out["name"])
        if out["tier"] is None:
            out["tier"] = "curated"
        if out["entity_type"] is None:
            out["entity_type"] = "city"
        if out["eu_mission"] is None:
            out["eu_mission"] = False
    if problems.items:
        raise ProfileValidationError(problems.items, source)

    table = pd.DataFrame(out_rows)
    for col in COLUMNS:
        if col.kind == "int":
            table[col.name] = pd.array(table[col.name], dtype="Int64")
        elif col.kind == "float":
            table[col.name] = pd.to_numeric(table[col.name], errors="coerce").astype("float64")
        elif col.kind == "bool" and col.name != "has_climate_profile":
            table[col.name] = table[col.name].astype(bool)
    table["has_climate_profile"] = [
        bool(v) if v is not None else _infer_climate_profile(r)
        for v, r in zip(table["has_climate_profile"], out_rows)
    ]
    known = [known_facets(r) for r in out_rows]
    table["known_facets"] = known
    table["completeness"] = [len(k) / len(FACETS) for k in known]
    return table.reset_index(drop=True)


def _infer_climate_profile(row: dict) -> bool:
    return bool(
        row.get("net_zero_target_year") is not None
        or row.get("eu_mission")
        or row.get("networks")
        or row.get("barriers") or row.get("priority_sectors") or row.get("needs")
        or row.get("initiatives") or row.get("focus_groups") or row.get("maturity")
        or row.get("co_benefits") or row.get("funding_gaps")
    )


def _validate_cell(col: Column, value, row_no: int, problems: _Problems):
    name = col.name
    if col.kind != "list" and isinstance(value, (list, tuple, dict, set, np.ndarray)):
        # Refused unread: formatting a nested value (a YAML alias bomb) could take minutes.
        problems.add(row_no, name, None, f"expected a single value, got {type(value).__name__}")
        return None
    if col.kind == "list":
        items = _as_list(value)
        if items is None:
            problems.add(row_no, name, None, f"expected a list of texts or ';'-separated text, got "
                         f"{type(value).__name__}" + (" holding lists" if isinstance(value, (list, tuple)) else ""))
            return []
        too_long = [x for x in items if len(x) > col.max_chars]
        if too_long:
            problems.add(row_no, name, too_long[0][:40] + "...",
                         f"an item is {len(too_long[0]):,} characters long (at most {col.max_chars:,})")
            return []
        if col.vocab:
            return _check_vocab(items, name, col.vocab, row_no, problems)
        if name == "languages":
            good = []
            known = language_codes()
            for code in items:
                code_l = code.lower()
                if code_l in known:
                    good.append(code_l)
                else:
                    problems.add(row_no, name, code,
                                 f"'{code}' is not an ISO 639-1 language code (two letters, e.g. 'en', 'de')")
            return good
        return items
    if _is_missing(value):
        if col.required:
            problems.add(row_no, name, value, f"'{name}' is required and empty")
        return None
    if col.kind == "str":
        if isinstance(value, (bytes, list, tuple, dict, set, np.ndarray)):
            problems.add(row_no, name, None, f"expected text, got {type(value).__name__}")
            return None
        text = clean_text(str(value), multiline=name in MULTILINE_COLUMNS)
        if len(text) > col.max_chars:
            problems.add(row_no, name, text[:40] + "...",
                         f"text is {len(text):,} characters long (at most {col.max_chars:,})")
            return None
        if name == "language":
            if text.lower() not in language_codes():
                problems.add(row_no, name, value, f"'{value}' is not an ISO 639-1 language code (e.g. 'en', 'de')")
                return None
            return text.lower()
        if name == "country_code":
            text = text.upper()
            if text not in country_codes():
                problems.add(row_no, name, value, f"'{value}' is not an ISO 3166-1 alpha-2 country code (e.g. 'DE')")
                return None
        if name == "maturity":
            key = text.lower()
            if key not in MATURITY_LEVELS:
                problems.add(row_no, name, value,
                             f"'{value}' is not a maturity level; allowed values: {', '.join(MATURITY_LEVELS)}")
                return None
            return key
        return text
    if col.kind in ("float", "int"):
        try:
            number = float(value)
        except (TypeError, ValueError):
            problems.add(row_no, name, value, f"'{value}' is not a number")
            return None
        if not math.isfinite(number):
            problems.add(row_no, name, value, f"'{value}' is not a finite number")
            return None
        if name == "lat" and not -90 <= number <= 90:
            problems.add(row_no, name, value, f"latitude {value} is outside -90..90")
            return None
        if name == "lon" and not -180 <= number <= 180:
            problems.add(row_no, name, value, f"longitude {value} is outside -180..180")
            return None
        if col.kind == "int":
            if number != int(number):
                problems.add(row_no, name, value, f"'{value}' is not a whole number")
                return None
            number = int(number)
            if name == "population" and not 0 < number < 100_000_000:
                problems.add(row_no, name, value, f"population {value} is outside 1..100,000,000")
                return None
            if name == "net_zero_target_year" and not TARGET_YEAR_RANGE[0] <= number <= TARGET_YEAR_RANGE[1]:
                problems.add(row_no, name, value,
                             f"target year {value} is outside {TARGET_YEAR_RANGE[0]}..{TARGET_YEAR_RANGE[1]}")
                return None
        return number
    if col.kind == "bool":
        if isinstance(value, (bool, np.bool_)):
            return bool(value)
        text = str(value).strip().lower()
        if text in ("true", "yes", "1", "y", "t"):
            return True
        if text in ("false", "no", "0", "n", "f"):
            return False
        problems.add(row_no, name, value, f"'{value}' is not true/false")
        return None
    raise AssertionError(col.kind)


CASE_COLUMNS: tuple[Column, ...] = (
    Column("case_id", "str", help="stable id (generated from the title when absent)"),
    Column("title", "str", required=True),
    Column("summary", "str", required=True, help="what was done, by whom, with what result"),
    Column("body", "str", max_chars=2_000_000, help="the full text, when longer than the summary"),
    Column("city", "str", help="the city that did it (empty for a national programme)"),
    Column("country_code", "str"),
    Column("sectors", "list", vocab="case_sectors", help="case-study sectors (NetZeroCities wording)"),
    Column("barriers_addressed", "list", vocab="case_barriers", help="survey barriers or funding gaps it tackles"),
    Column("quote", "str"),
    Column("source", "str", help="where it comes from: file:line, report, URL"),
    Column("url", "str"),
    Column("related_cities", "list"),
    Column("language", "str", help="ISO 639-1 code of the text (default en)"),
    Column("provenance", "str", help="the file and line the row was read from"),
)

# The seed file and older exports name some columns differently.
CASE_COLUMN_ALIASES = {"id": "case_id", "country": "country_code", "barriers": "barriers_addressed", "text": "body"}


def validate_case_studies(frame: pd.DataFrame, source: str = "<table>", first_row: int = 1, *,
                          row_names: list[str] | None = None, limits: Limits | None = None) -> pd.DataFrame:
    """Check a case-study table (same error contract as profiles) and return it normalised.
    `row_names` names each row where it is not a row of one file (a folder of Markdown files:
    the file), for the messages that point at another row."""
    frame = frame.rename(columns={k: v for k, v in CASE_COLUMN_ALIASES.items()
                                  if k in frame.columns and v not in frame.columns})
    problems = _Problems(source, "case-study", limits)
    out_rows, _ = validate_rows(frame, CASE_COLUMNS, source, first_row, problems, what="case-study")
    seen: dict[str, int] = {}
    for i, out in enumerate(out_rows):
        row_no = first_row + i
        if out["title"] is None or out["summary"] is None:
            continue
        out["case_id"] = out["case_id"] or slug(out["title"])
        out["language"] = out["language"] or "en"
        if out["case_id"] in seen:
            j = seen[out["case_id"]]
            where = row_names[j] if row_names is not None else f"row {first_row + j}"
            problems.add(row_no, "case_id", out["case_id"],
                         f"duplicate case_id '{out['case_id']}' (first used in {where})"
                         if row_names is not None else
                         f"duplicate case_id '{out['case_id']}' (first used on {where})")
        else:
            seen[out["case_id"]] = i
    if problems.items:
        raise ProfileValidationError(problems.items, source, "case-study")
    return pd.DataFrame(out_rows).reset_index(drop=True)


def profile_from_dict(values: dict, source: str = "<profile>") -> pd.DataFrame:
    """Validate one profile given as a dict (the app's form, a library caller) into a one-row table."""
    values = dict(values)
    values.setdefault("tier", "query")
    return validate_profiles(pd.DataFrame([values]), source=source)
