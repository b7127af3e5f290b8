"""Read profile tables (CSV, JSONL, Parquet, XLSX) into the schema; writes are atomic (matcher.files)."""
from __future__ import annotations

import io
import json
import os
import zipfile
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from .errors import ProfileValidationError
from .settings import default_data_dir
from .schema import COLUMNS, validate_profiles

PROFILE_FILE = Path("city_profiles") / "cities.parquet"


def _fail(path: Path, message: str, row=None, column=None) -> ProfileValidationError:
    return ProfileValidationError(
        [{"file": str(path), "row": row, "column": column, "value": None, "message": message}], str(path)
    )


def read_profile_table(path: str | os.PathLike) -> tuple[pd.DataFrame, int]:
    """Read a raw profile table (CSV, Parquet, JSONL) without validating it.

    Returns the table and the row number of its first data row as a user sees it
    (2 for CSV and JSONL lines counted from a header / line 1, 1 for Parquet).
    """
    path = Path(path)
    if not path.is_file():
        raise _fail(path, "file not found")
    suffix = path.suffix.lower()
    try:
        if suffix in (".parquet", ".xlsx", ".xlsm"):
            return _read_binary_table(path, suffix)
        if suffix in (".jsonl", ".ndjson"):
            rows = []
            with open(path, encoding="utf-8-sig") as fh:
                for line_no, line in enumerate(fh, start=1):
                    if not line.strip():
                        continue
                    try:
                        obj = json.loads(line)
                    except json.JSONDecodeError as exc:
                        raise _fail(path, f"line is not valid JSON ({exc.msg})", row=line_no) from None
                    if not isinstance(obj, dict):
                        raise _fail(path, "each line must be a JSON object", row=line_no)
                    rows.append(obj)
            return pd.DataFrame(rows), 1
        if suffix in (".csv", ".tsv", ".txt"):
            raw = path.read_bytes()
            try:
                text = raw.decode("utf-8-sig")
            except UnicodeDecodeError:
                text = raw.decode("cp1252", errors="strict")
            first = text.split("\n", 1)[0]
            sep = "\t" if suffix == ".tsv" or first.count("\t") > first.count(",") else (
                ";" if first.count(";") > first.count(",") else ","
            )
            frame = pd.read_csv(io.StringIO(text), sep=sep, dtype=str, keep_default_na=False,
                                skip_blank_lines=True)
            return frame, 2
    except ProfileValidationError:
        raise
    except UnicodeDecodeError as exc:
        raise _fail(path, f"cannot decode the file as UTF-8 or cp1252 ({exc.reason} at byte {exc.start})") from None
    except (pd.errors.ParserError, pa.ArrowException, ValueError, OSError, KeyError, zipfile.BadZipFile) as exc:
        raise _fail(path, f"cannot read the file: {str(exc).splitlines()[0]}") from None
    raise _fail(path, f"unsupported file type '{suffix}'; use .csv, .tsv, .xlsx, .parquet or .jsonl")


def _read_binary_table(path: Path, suffix: str) -> tuple[pd.DataFrame, int]:
    """Parquet or XLSX: a damaged file can fail anywhere inside pyarrow, zipfile, zlib or the
    XML parser, with their own exception types; all of them mean "cannot read this file"."""
    try:
        if suffix == ".parquet":
            return pq.read_table(path).to_pandas(), 1
        # The first sheet, header on row 1, every cell as text (spreadsheet row numbers).
        return pd.read_excel(path, sheet_name=0, dtype=str, engine="openpyxl").fillna(""), 2
    except Exception as exc:  # noqa: BLE001 - third-party parsers of untrusted bytes
        detail = (str(exc).splitlines() or [""])[0][:200] or type(exc).__name__
        kind = "Parquet" if suffix == ".parquet" else "Excel workbook"
        raise _fail(path, f"cannot read the file as {kind}: {detail}") from None


def load_profiles(path: str | os.PathLike) -> pd.DataFrame:
    """Read and validate a profile file; raises ProfileValidationError naming file, row and column."""
    frame, first_row = read_profile_table(path)
    return validate_profiles(frame, source=str(path), first_row=first_row)


def read_validated_profiles(path: str | os.PathLike) -> pd.DataFrame:
    """Read a table that validate_profiles produced (kept beside an index); lists stay lists."""
    table = pq.read_table(path)
    frame = table.to_pandas()
    for col in [c.name for c in COLUMNS if c.kind == "list"] + ["known_facets"]:
        frame[col] = [v if v is not None else [] for v in table.column(col).to_pylist()]
    return frame


def shipped_profiles_path(data_dir: str | os.PathLike | None = None) -> Path:
    return Path(data_dir or default_data_dir()) / PROFILE_FILE


_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_safe(value):
    """Neutralise text a spreadsheet would run as a formula (CSV/XLSX injection)."""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value
