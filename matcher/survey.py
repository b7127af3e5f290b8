"""Import a network's city-survey export (CSV, XLSX, Parquet) into the profile schema.

The columns of an export follow the NetZeroCities city survey (Annex 2 of the NetZeroCities
report D13.1; question wording and options in `vocabulary/taxonomy.json` under `_questions`).
Each column is mapped by its wording (fuzzy: a question cut short with "...", a different case
or punctuation still maps), each answer by the survey options:

- multi-select answers in one cell, separated by ';', ',' or newlines (options that contain a
  comma themselves, such as "Improved access to services (i.e., public transport, energy)",
  are recognised whole), or one column per option marked Yes / 1 / x / true / the option text;
- the target question gives a target *range* ("Yes, with a timeline range of 2030 - 2040"),
  kept as `target_text`; a net-zero year is only taken from a column that gives a year;
- the city name and the country (a name such as "Deutschland" or an ISO code).

Encodings (UTF-8 with or without BOM, cp1252), separators (',' ';' tab), Excel dates, a
section row above the question row (merged cells) and empty rows are handled. Every column and
every answer that could not be mapped is listed with the reason in the `SurveyImport.report`;
the mapped table then goes through `validate_profiles`, so the usual file/row/column errors
apply (rows as the user sees them in the export). Nothing is ever evaluated: cells are text.
"""
from __future__ import annotations

import datetime as _dt
import io
import json
import math
import re
import zipfile
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pycountry
from rapidfuzz import fuzz, process

from .errors import LimitExceededError, MatcherError, ProfileValidationError
from .io import check_input_file, check_shape, decode_text, read_parquet_table, read_xlsx_rows
from .limits import Limits
from .limits import resolve as resolve_limits
from .schema import COLUMN_BY_NAME, validate_profiles
from .vocab import normalise_key, taxonomy, vocabularies

MAX_CELL_CHARS = 1_000_000  # longer cells are refused when mapped (validation would refuse them anyway)

# Survey questions whose answers become profile columns.
QUESTION_FIELDS = {
    "barriers": "barriers",
    "priority_sectors": "priority_sectors",
    "co_benefits": "co_benefits",
    "funding_gaps": "funding_gaps",
    "target_ranges": "target_text",
}
# Short header wordings (normalised) for the same fields and for the identity columns.
ALIASES = {
    "name": ["city", "city name", "name of your city", "name of the city", "municipality", "municipality name",
             "your city", "city town", "local authority", "name"],
    "country_code": ["country code", "iso country code", "country iso", "iso code", "country iso code"],
    "country": ["country", "country name", "in which country is your city"],
    "population": ["population", "inhabitants", "number of inhabitants", "city population", "population size"],
    "net_zero_target_year": ["net zero target year", "target year", "climate neutrality target year",
                             "net zero year", "year of the net zero target", "climate neutral by year"],
    "barriers": ["barriers", "main barriers", "barriers and gaps", "barriers gaps", "main barriers and gaps"],
    "priority_sectors": ["priority sectors", "sectors", "priority sectors for ghg emissions reduction"],
    "co_benefits": ["co benefits", "cobenefits", "benefits"],
    "funding_gaps": ["funding gaps", "financing gaps"],
    "target_text": ["target", "climate target", "net zero target", "climate neutrality target", "target range"],
    "languages": ["languages", "language"],
    "lat": ["lat", "latitude"],
    "lon": ["lon", "lng", "longitude"],
    "narrative": ["narrative", "description", "about your city"],
}
TRUE_MARKS = {"yes", "y", "1", "x", "true", "t", "ja", "oui", "si", "sí", "checked", "selected", "✓", "✔", "1.0"}
FALSE_MARKS = {"", "no", "n", "0", "false", "f", "nein", "non", "unchecked", "0.0", "-"}
SPLIT_STRONG = re.compile(r"[;\n\r|]+")
NO_SECTOR_YET = "Have not identified yet"
OTHER_PREFIX = ("other", "others")


# ---------------------------------------------------------------------------- results
@dataclass
class ColumnReport:
    position: int  # 1-based column number in the export
    header: str
    mapped_to: str | None  # a profile column, or None when ignored
    how: str  # exact, alias, question, option, question+option, ignored
    option: str | None = None  # for a one-column-per-option layout: the survey option
    note: str = ""


@dataclass
class ValueReport:
    row: int  # the row number as the user sees it in the export
    column: str  # the export's header
    value: str
    status: str  # "mapped" or "unknown"
    mapped_to: str | None = None
    reason: str = ""


@dataclass
class SurveyImport:
    """What `import_survey` produced: validated profiles and the report of the mapping."""

    profiles: pd.DataFrame
    columns: list[ColumnReport]
    values: list[ValueReport]
    source: str
    header_rows: int = 1
    notes: list[str] = field(default_factory=list)

    @property
    def unknown_values(self) -> list[ValueReport]:
        return [v for v in self.values if v.status == "unknown"]

    @property
    def ignored_columns(self) -> list[ColumnReport]:
        return [c for c in self.columns if c.mapped_to is None]

    def to_dict(self) -> dict:
        return {"source": self.source, "rows": int(len(self.profiles)), "header_rows": self.header_rows,
                "notes": list(self.notes), "columns": [asdict(c) for c in self.columns],
                "values": [asdict(v) for v in self.values]}

    def report_text(self, max_values: int = 200) -> str:
        lines = [f"{self.source}: {len(self.profiles)} profile(s) imported "
                 f"({self.header_rows} header row(s))."] + [f"note: {n}" for n in self.notes]
        lines.append("Columns:")
        for c in self.columns:
            target = c.mapped_to or "ignored"
            extra = f" [option: {c.option}]" if c.option else ""
            lines.append(f"  {c.position:>3}. {_short(c.header)} -> {target}{extra} ({c.how})"
                         + (f": {c.note}" if c.note else ""))
        unknown = self.unknown_values
        lines.append(f"Answers: {sum(v.status == 'mapped' for v in self.values)} mapped, {len(unknown)} unknown.")
        for v in unknown[:max_values]:
            lines.append(f"  row {v.row}, column {_short(v.column)}: {_short(v.value)!r} {v.reason}")
        if len(unknown) > max_values:
            lines.append(f"  ... and {len(unknown) - max_values} more")
        return "\n".join(lines)


def _short(text, n: int = 70) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= n else text[: n - 3] + "..."


def _fail(path, message: str, row=None, column=None) -> ProfileValidationError:
    return ProfileValidationError([{"file": str(path), "row": row, "column": column, "value": None,
                                    "message": message}], str(path), "survey")


# ---------------------------------------------------------------------------- reading the grid
def _cell_text(value) -> str:
    """Any cell as text: Excel dates as ISO dates, whole floats without '.0', lists joined by ';'."""
    if value is None:
        return ""
    if isinstance(value, (list, tuple, np.ndarray)):
        return "; ".join(t for t in (_cell_text(v) for v in value) if t)
    if isinstance(value, (bool, np.bool_)):
        return "yes" if value else "no"
    if isinstance(value, (_dt.datetime, pd.Timestamp)):
        if pd.isna(value):
            return ""
        return value.date().isoformat() if (value.hour, value.minute, value.second) == (0, 0, 0) else value.isoformat()
    if isinstance(value, _dt.date):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    if isinstance(value, (float, np.floating)):
        if math.isnan(value):
            return ""
        if math.isfinite(value) and float(value).is_integer() and abs(value) < 1e15:
            return str(int(value))
        return repr(float(value))
    if isinstance(value, dict):
        return json.dumps(value, ensure_ascii=False, default=str)
    try:
        if pd.isna(value):
            return ""
    except (TypeError, ValueError):
        pass
    return str(value)


def _sniff_sep(text: str) -> str:
    lines = [ln for ln in text.splitlines()[:5] if ln.strip()]
    if not lines:
        return ","
    counts = {sep: min(ln.count(sep) for ln in lines[:2]) for sep in ("\t", ";", ",")}
    best = max(counts, key=lambda s: (counts[s], s == ","))
    return best if counts[best] > 0 else ","


def read_survey_grid(path: str | Path, limits: Limits | None = None) -> list[list]:
    """The export as a list of rows of raw cells (header rows included), refusing what cannot be
    read and what is over the limits (`matcher.limits.Limits`: file size, decompressed size,
    rows, columns, cells)."""
    limits = resolve_limits(limits)
    path = check_input_file(path, limits, "survey")
    suffix = path.suffix.lower()
    try:
        if suffix in (".csv", ".tsv", ".txt"):
            text = decode_text(path.read_bytes(), path, "survey")
            sep = "\t" if suffix == ".tsv" else _sniff_sep(text)
            check_shape(path, 0, max((ln.count(sep) + 1 for ln in text.split("\n", 3)[:3]), default=0), limits,
                        "survey")  # the widest of the first lines, before pandas allocates the columns
            frame = pd.read_csv(io.StringIO(text), sep=sep, header=None, dtype=str, keep_default_na=False,
                                skip_blank_lines=False, engine="c", nrows=limits.max_rows + 3)
            check_shape(path, max(len(frame) - 2, 0), len(frame.columns), limits, "survey")
            return frame.values.tolist()
        if suffix in (".xlsx", ".xlsm", ".parquet"):
            return _read_binary_grid(path, suffix, limits)
    except ProfileValidationError:
        raise
    except pd.errors.ParserError as exc:
        raise _fail(path, f"cannot read the file: {str(exc).splitlines()[0] if str(exc) else 'parser error'}") from None
    except RecursionError:
        raise LimitExceededError(path, "max_nesting_depth", limits.max_nesting_depth,
                                 "the file nests values too deep to read", what="survey") from None
    except (pa.ArrowException, ValueError, OSError, KeyError, IndexError, TypeError, EOFError, zipfile.BadZipFile,
            UnicodeDecodeError) as exc:
        raise _fail(path, f"cannot read the file: {(str(exc).splitlines() or [type(exc).__name__])[0]}") from None
    raise _fail(path, f"unsupported file type '{suffix}'; use .csv, .tsv, .xlsx or .parquet")


def _read_binary_grid(path: Path, suffix: str, limits: Limits) -> list[list]:
    """XLSX (first sheet, values not formulas, streamed) or Parquet. A damaged file can fail
    anywhere in zipfile, zlib, the XML parser, openpyxl or pyarrow: all of it means "cannot read"."""
    try:
        if suffix == ".parquet":
            frame = read_parquet_table(path, limits, "survey").to_pandas()
            header = [str(c) for c in frame.columns]
            return [header] + [list(r) for r in frame.itertuples(index=False, name=None)]
        return read_xlsx_rows(path, limits, "survey")
    except ProfileValidationError:
        raise
    except Exception as exc:  # noqa: BLE001 - third-party parsers of untrusted bytes
        detail = (str(exc).splitlines() or [""])[0][:200] or type(exc).__name__
        kind = "Parquet" if suffix == ".parquet" else "Excel workbook"
        raise _fail(path, f"cannot read the file as {kind}: {detail}") from None


# ---------------------------------------------------------------------------- mapping headers
def _questions() -> dict[str, str]:
    return {key: q["question"] for key, q in taxonomy()["_questions"].items() if isinstance(q, dict) and "question" in q}


def _options(key: str) -> tuple[str, ...]:
    return tuple(taxonomy().get(key) or ())


def _profile_vocab(fieldname: str) -> tuple[str, ...]:
    if fieldname == "target_text":
        return _options("target_ranges")
    if fieldname == "priority_sectors":
        return _options("priority_sectors")  # includes "Have not identified yet"
    return vocabularies().get(fieldname, ())


def _clean_header(text: str) -> str:
    text = re.sub(r"^\s*(q\s*)?\d+[\.\):]?\s+", "", str(text), flags=re.I)  # "Q9. ", "19. "
    text = re.sub(r"\((select|choose)[^)]*\)", " ", text, flags=re.I)
    return text.replace("...", " ").replace("\u2026", " ").strip()


def _match_field(header: str) -> tuple[str | None, str, str]:
    """(profile column or survey key, how, note) for a header; survey keys not in the schema
    come back with the key prefixed by 'survey:'."""
    if not header.strip():
        return None, "ignored", "empty header"
    key = normalise_key(header)
    if key.replace(" ", "_") in COLUMN_BY_NAME and key:
        return key.replace(" ", "_"), "exact", ""
    if header.strip() in COLUMN_BY_NAME:
        return header.strip(), "exact", ""
    ckey = normalise_key(_clean_header(header))
    for fieldname, words in ALIASES.items():
        if ckey in words or key in words:
            return fieldname, "alias", ""
    questions = _questions()
    if len(ckey) >= 12:
        keys = list(questions)
        texts = [normalise_key(_clean_header(questions[k])) for k in keys]
        scored = process.extract(ckey, texts, scorer=fuzz.token_set_ratio, limit=2)
        partial = process.extract(ckey, texts, scorer=fuzz.partial_ratio, limit=2)
        best = max(scored + partial, key=lambda t: t[1])
        if best[1] >= 88 and (len(ckey) >= 0.5 * len(best[0]) or best in partial):
            survey_key = keys[best[2]]
            if survey_key in QUESTION_FIELDS:
                return QUESTION_FIELDS[survey_key], "question", f"survey question '{_short(questions[survey_key], 60)}'"
            return f"survey:{survey_key}", "question", "a survey question the profile schema does not use"
    # A short header that names a field with other words: "Main barriers & gaps", "Co-benefits (max 3)".
    for fieldname, words in ALIASES.items():
        for w in words:
            if len(w) >= 6 and re.search(rf"\b{re.escape(w)}\b", ckey):
                return fieldname, "alias", f"contains '{w}'"
    return None, "ignored", "not a survey question or profile column"


def _match_option(text: str, options: tuple[str, ...], cutoff: int = 88) -> str | None:
    if not text.strip() or not options:
        return None
    key = normalise_key(text)
    for option in options:
        if key == normalise_key(option):
            return option
    hit = process.extractOne(key, [normalise_key(o) for o in options], scorer=fuzz.ratio, score_cutoff=cutoff)
    return options[hit[2]] if hit else None


_BRACKET = re.compile(r"^(?P<q>.*?)\s*[\[\(](?P<o>[^\[\]\(\)]{2,})[\]\)]\s*$")


def _map_column(section: str, header: str) -> ColumnReport:
    """Map one column from its (forward-filled) section-row text and its question-row text."""
    # 1. The header alone.
    target, how, note = _match_field(header)
    if target is not None and not target.startswith("survey:"):
        return ColumnReport(0, header, target, how, None, note)
    # 2. "Question [Option]" or "Question - Option" in one header (Google Forms, SurveyMonkey).
    candidates = []
    m = _BRACKET.match(header)
    if m:
        candidates.append((m.group("q"), m.group("o")))
    for sep in (" - ", ": ", " / ", " – "):
        if sep in header:
            q, _, o = header.rpartition(sep)
            candidates.append((q, o))
    # 3. A section row holding the question above a row of options (merged header cells).
    if section.strip():
        candidates.append((section, header))
    for q, o in candidates:
        qt, qhow, _ = _match_field(q)
        if qt is None:
            continue
        if qt.startswith("survey:"):
            opts = _options(qt.split(":", 1)[1])
            if _match_option(o, opts):
                return ColumnReport(0, header, None, "ignored", _match_option(o, opts),
                                    "an option of a survey question the profile schema does not use")
            continue
        option = _match_option(o, _profile_vocab(qt))
        if option is not None and qt != "target_text":
            return ColumnReport(0, header, qt, "question+option", option, f"one column per option of {qt}")
        if qt in QUESTION_FIELDS.values() and option is None and o.strip().lower().startswith(OTHER_PREFIX):
            return ColumnReport(0, header, None, "ignored", None,
                                f"'Other (please specify)' answers of {qt}: free text, not in the survey vocabulary")
    if target is not None:  # a survey question outside the schema
        return ColumnReport(0, header, None, "ignored", None, note)
    return ColumnReport(0, header, None, "ignored", None, note)


# ---------------------------------------------------------------------------- mapping answers
def _split_multi(text: str, options: tuple[str, ...]) -> tuple[list[str], list[str]]:
    """Known options (in the order given) and unknown pieces of a multi-select cell."""
    found, unknown = [], []
    norm_options = sorted(((normalise_key(o), o) for o in options), key=lambda t: -len(t[0]))
    for piece in SPLIT_STRONG.split(text):
        if not piece.strip():
            continue
        whole = _match_option(piece, options, cutoff=92)
        if whole is not None:
            found.append(whole)
            continue
        # Options that contain commas are taken whole before splitting on commas.
        rest = f" {normalise_key(piece)} "
        here = []
        for key, option in norm_options:
            at = rest.find(f" {key} ") if key else -1
            if at >= 0:
                here.append((at, option))
                rest = rest[:at] + " |" + "#" * max(len(key) - 2, 0) + "| " + rest[at + len(key) + 2:]
        found.extend(option for _, option in sorted(here))
        if here:
            leftovers = [p.strip() for p in re.split(r"\|#*\|", rest) if p.strip()]
        else:
            leftovers = [p for p in piece.split(",") if p.strip()]
        for part in leftovers:
            option = _match_option(part, options, cutoff=90)
            (found if option else unknown).append(option or part.strip())
    out = []
    for item in found:
        if item not in out:
            out.append(item)
    return out, unknown


def _country_code(text: str) -> tuple[str | None, str]:
    t = text.strip()
    if not t:
        return None, ""
    if len(t) == 2 and t.isalpha():
        return t.upper(), ""
    try:
        return pycountry.countries.lookup(t).alpha_2, ""
    except LookupError:
        pass
    try:
        hits = pycountry.countries.search_fuzzy(t)
        if hits:
            return hits[0].alpha_2, f"read as {hits[0].name}"
    except LookupError:
        pass
    except Exception:  # pycountry's fuzzy search can fail on odd input; the value is then unknown
        pass
    return None, "is not a country name or ISO code"


# ---------------------------------------------------------------------------- the import
def _header_rows(grid: list[list]) -> int:
    """1, or 2 when the first row is a section row above the question row."""
    if len(grid) < 2:
        return 1
    def score(row):
        hits = 0
        for cell in row:
            text = _cell_text(cell)
            if text.strip() and _match_field(text)[0] is not None:
                hits += 1
        return hits
    first, second = grid[0], grid[1]
    filled_first = sum(bool(_cell_text(c).strip()) for c in first)
    filled_second = sum(bool(_cell_text(c).strip()) for c in second)
    s1, s2 = score(first), score(second)
    sections = {normalise_key(s) for s in taxonomy().get("survey_sections", [])}
    section_like = sum(normalise_key(_cell_text(c)) in sections for c in first)
    if s2 > s1 or (section_like and filled_second >= filled_first) or (filled_first < filled_second and s2 >= s1 and s2 > 0):
        return 2
    return 1


def import_survey(path: str | Path, out: str | Path | None = None, *, strict: bool = False,
                  keep_unmapped: bool = False, limits: Limits | None = None) -> SurveyImport:
    """Read a survey export, map it onto the profile schema and validate it.

    `strict` refuses unknown answers (ProfileValidationError listing them) instead of dropping
    them with a note; `keep_unmapped` keeps unmapped columns as `x_<header>` columns. `out`
    (.parquet, .csv or .jsonl) is written atomically, only when everything validated.
    """
    path = Path(path)
    grid = read_survey_grid(path, limits)
    width = max((len(r) for r in grid), default=0)
    grid = [list(r) + [None] * (width - len(r)) for r in grid]
    if not grid or width == 0:
        raise _fail(path, "the export is empty")
    n_head = _header_rows(grid)
    if len(grid) <= n_head:
        raise _fail(path, "the export has no answer rows below its header")
    parquet = path.suffix.lower() == ".parquet"
    section_row = [_cell_text(c) for c in grid[0]] if n_head == 2 else [""] * width
    section_ff, last = [], ""
    for text in section_row:  # merged cells: the text is in the first cell only
        last = text if text.strip() else last
        section_ff.append(last)
    headers = [_cell_text(c) for c in grid[n_head - 1]]
    columns: list[ColumnReport] = []
    for j, header in enumerate(headers):
        rep = _map_column(section_ff[j], header)
        rep.position = j + 1
        columns.append(rep)
    mapped_fields = {c.mapped_to for c in columns if c.mapped_to}
    notes = []
    if "name" not in mapped_fields:
        raise ProfileValidationError(
            [{"file": str(path), "row": None, "column": None, "value": None,
              "message": "no column gives the city name (a header such as 'City', 'City name' or 'Municipality'); "
                         "columns seen: " + "; ".join(_short(h, 40) for h in headers if h.strip())[:600]}],
            str(path), "survey")
    seen_single = {}
    for c in columns:  # two columns for one single-value field: the first wins
        if c.mapped_to and c.how != "question+option" and c.mapped_to not in ("barriers", "priority_sectors",
                                                                                "co_benefits", "funding_gaps"):
            if c.mapped_to in seen_single:
                notes.append(f"column {c.position} ({_short(c.header, 40)}) also gives {c.mapped_to}; "
                             f"column {seen_single[c.mapped_to]} is used")
                c.note = f"duplicate of column {seen_single[c.mapped_to]}: ignored"
                c.how, c.mapped_to = "ignored", None
            else:
                seen_single[c.mapped_to] = c.position

    values: list[ValueReport] = []
    rows, row_numbers = [], []
    first_data_row = n_head + 1 if not parquet else 1
    for i, raw in enumerate(grid[n_head:]):
        row_no = first_data_row + i
        cells = [_cell_text(c) for c in raw]
        if not any(t.strip() for t in cells):
            continue  # an empty row
        rec: dict = {}
        lists: dict[str, list[str]] = {}
        for c, text, rawcell in zip(columns, cells, raw):
            header = c.header or f"column {c.position}"
            if c.mapped_to is None:
                if keep_unmapped and text.strip():
                    rec[f"x_{normalise_key(header).replace(' ', '_')[:60] or c.position}"] = text
                continue
            if len(text) > MAX_CELL_CHARS:
                values.append(ValueReport(row_no, header, text[:40] + "...", "unknown", c.mapped_to,
                                          f"the cell is {len(text):,} characters long (at most {MAX_CELL_CHARS:,})"))
                rec.setdefault(c.mapped_to, text[: COLUMN_BY_NAME.get(c.mapped_to, COLUMN_BY_NAME['name']).max_chars + 1])
                continue
            fieldname = c.mapped_to
            if c.how == "question+option":
                mark = text.strip().lower()
                if mark in FALSE_MARKS:
                    continue
                if mark in TRUE_MARKS or _match_option(text, (c.option,)) == c.option:
                    lists.setdefault(fieldname, []).append(c.option)
                    values.append(ValueReport(row_no, header, text, "mapped", fieldname, f"option '{c.option}'"))
                else:
                    values.append(ValueReport(row_no, header, text, "unknown", fieldname,
                                              "is not a yes/no mark (Yes, 1, x, true or empty)"))
                continue
            if not text.strip():
                continue
            if fieldname in ("barriers", "priority_sectors", "co_benefits", "funding_gaps"):
                found, unknown = _split_multi(text, _profile_vocab(fieldname))
                if fieldname == "priority_sectors" and NO_SECTOR_YET in found:
                    found.remove(NO_SECTOR_YET)
                    values.append(ValueReport(row_no, header, NO_SECTOR_YET, "mapped", fieldname,
                                              "no priority sector identified yet: left empty"))
                for item in found:
                    values.append(ValueReport(row_no, header, item, "mapped", fieldname))
                for item in unknown:
                    why = ("an 'Other' answer: free text" if item.lower().startswith(OTHER_PREFIX)
                           else f"is not a survey option of {fieldname}")
                    guess = _match_option(item, _profile_vocab(fieldname), cutoff=70)
                    if guess and not item.lower().startswith(OTHER_PREFIX):
                        why += f"; did you mean '{guess}'?"
                    values.append(ValueReport(row_no, header, item, "unknown", fieldname, why))
                lists.setdefault(fieldname, []).extend(found)
            elif fieldname == "target_text":
                option = _match_option(text, _options("target_ranges"), cutoff=85)
                if option is None:
                    values.append(ValueReport(row_no, header, text, "unknown", fieldname,
                                              "is not one of the survey's target ranges; kept as free text"))
                    rec[fieldname] = text.strip()
                else:
                    values.append(ValueReport(row_no, header, text, "mapped", fieldname,
                                              f"target range '{option}' (no year is inferred from a range)"))
                    rec[fieldname] = option
            elif fieldname in ("country", "country_code"):
                code, why = _country_code(text)
                if fieldname == "country":
                    rec["country"] = text.strip()
                if code is None:
                    values.append(ValueReport(row_no, header, text, "unknown", "country_code", why))
                    rec.setdefault("country_code", text.strip())  # validation names it with row and column
                else:
                    values.append(ValueReport(row_no, header, text, "mapped", "country_code", why))
                    if fieldname == "country_code" or "country_code" not in rec:
                        rec["country_code"] = code
            elif fieldname == "net_zero_target_year":
                if isinstance(rawcell, (_dt.date, pd.Timestamp)):
                    rec[fieldname] = rawcell.year
                    values.append(ValueReport(row_no, header, text, "mapped", fieldname, "the year of an Excel date"))
                else:
                    m = re.fullmatch(r"\s*(\d{4})(\.0+)?\s*", text)
                    if m:
                        rec[fieldname] = m.group(1)
                        values.append(ValueReport(row_no, header, text, "mapped", fieldname))
                    else:
                        values.append(ValueReport(row_no, header, text, "unknown", fieldname,
                                                  "is not a year; no year is inferred from it"))
            elif fieldname == "population":
                cleaned = re.sub(r"[\s,'\u00a0\u202f]", "", text) if re.fullmatch(r"[\d\s,'\u00a0\u202f.]+", text) else text
                rec[fieldname] = cleaned
            elif fieldname == "languages":
                rec[fieldname] = ";".join(p.strip() for p in re.split(r"[;,\n/]+", text) if p.strip())
            else:
                rec[fieldname] = text.strip() if COLUMN_BY_NAME.get(fieldname) and \
                    COLUMN_BY_NAME[fieldname].kind != "list" else text
        for fieldname, items in lists.items():
            rec[fieldname] = list(dict.fromkeys(items))
        rows.append(rec)
        row_numbers.append(row_no)
    if not rows:
        raise _fail(path, "the export has no answer rows (every row below the header is empty)")
    unknown = [v for v in values if v.status == "unknown"]
    if strict and unknown:
        cap = resolve_limits(limits).max_problems
        raise ProfileValidationError([{"file": str(path), "row": v.row, "column": v.column, "value": v.value,
                                       "message": f"'{_short(v.value, 60)}' {v.reason}"} for v in unknown[:cap]],
                                     str(path), "survey", stopped_at=cap if len(unknown) > cap else None)
    frame = pd.DataFrame(rows)
    for col in frame.columns:
        if col in COLUMN_BY_NAME and COLUMN_BY_NAME[col].kind == "list":
            frame[col] = [v if isinstance(v, list) else ([] if v is None or (isinstance(v, float) and math.isnan(v))
                                                         else v) for v in frame[col]]
    try:
        # Rows are numbered as the user sees them in the export, in every message.
        profiles = validate_profiles(frame, source=str(path), row_numbers=row_numbers, limits=limits)
    except ProfileValidationError as exc:
        by_field = {}
        for c in columns:
            if c.mapped_to:
                by_field.setdefault(c.mapped_to, []).append(c.header)
        by_field.setdefault("country_code", by_field.get("country", []))
        for p in exc.problems:
            if p.get("column") and by_field.get(p["column"]):
                p["message"] += f" (export column '{_short(by_field[p['column']][0], 50)}')"
            p["file"] = str(path)
        raise ProfileValidationError(exc.problems, str(path), "survey", stopped_at=exc.stopped_at) from None
    profiles["provenance"] = [p if isinstance(p, str) and p else f"survey export {path.name}, row {r}"
                              for p, r in zip(profiles["provenance"], row_numbers)]
    result = SurveyImport(profiles, columns, values, str(path), n_head, notes)
    if out is not None:
        write_profiles(profiles, out)
    return result


def write_profiles(profiles: pd.DataFrame, out: str | Path) -> None:
    """Write imported profiles atomically: .parquet, .jsonl, or .csv (lists as ';' text, spreadsheet-safe)."""
    from .files import atomic_path, atomic_write_parquet, atomic_write_text
    from .io import spreadsheet_safe

    out = Path(out)
    suffix = out.suffix.lower()
    table = profiles.drop(columns=[c for c in ("known_facets", "completeness") if c in profiles.columns])
    if suffix == ".parquet":
        atomic_write_parquet(table, out)
    elif suffix in (".jsonl", ".ndjson"):
        lines = [json.dumps({k: (None if v is pd.NA or (isinstance(v, float) and math.isnan(v)) else v)
                             for k, v in rec.items()}, ensure_ascii=False, default=_json_default)
                 for rec in table.to_dict("records")]
        atomic_write_text(out, "\n".join(lines) + "\n")
    elif suffix == ".csv":
        flat = table.copy()
        for col in flat.columns:
            flat[col] = [";".join(v) if isinstance(v, list) else spreadsheet_safe(v) for v in flat[col]]
        with atomic_path(out) as tmp:
            flat.to_csv(tmp, index=False, lineterminator="\r\n")  # CR/LF inside a cell: quoted
    else:
        raise MatcherError(f"cannot write '{out.suffix}': use .parquet, .jsonl or .csv")


def _json_default(value):
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (np.floating,)):
        return float(value)
    if isinstance(value, np.ndarray):
        return value.tolist()
    return str(value)
