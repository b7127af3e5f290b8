"""Read profile tables (CSV, JSONL, Parquet, XLSX) into the schema; writes are atomic (matcher.files)."""
from __future__ import annotations

import codecs
import io
import json
import os
import re
import zipfile
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from .errors import LimitExceededError, ProfileValidationError
from .limits import Limits
from .limits import resolve as resolve_limits
from .settings import default_data_dir
from .schema import COLUMNS, validate_profiles

PROFILE_FILE = Path("city_profiles") / "cities.parquet"


def _fail(path: Path, message: str, row=None, column=None, what: str = "profile") -> ProfileValidationError:
    return ProfileValidationError(
        [{"file": str(path), "row": row, "column": column, "value": None, "message": message}], str(path), what
    )


# ---------------------------------------------------------------------------- guarded reading
# Every reader of an outside file goes through these: the path is checked (a regular file, not
# a link unless allowed, not over max_file_bytes), compressed containers are measured from their
# directory / metadata before anything is decompressed, and rows, cells and nesting are counted
# while streaming. Each limit hit is a LimitExceededError naming the file and the limit.

def check_input_file(path: str | os.PathLike, limits: Limits | None = None, what: str = "profile") -> Path:
    """The path of an input file after the checks every loader makes before reading a byte."""
    limits = resolve_limits(limits)
    path = Path(path)
    if path.is_symlink() and not limits.allow_symlinks:
        raise LimitExceededError(path, "allow_symlinks", False, "the file is a symbolic link; give the file "
                                 "itself (links are refused so a planted link cannot pull in another file)",
                                 what=what)
    if not path.is_file():
        raise _fail(path, "file not found" if not path.exists() else "not a regular file", what=what)
    size = path.stat().st_size
    if size > limits.max_file_bytes:
        raise LimitExceededError(path, "max_file_bytes", limits.max_file_bytes,
                                 f"the file is {size:,} bytes long", what=what)
    return path


_BOMS = ((codecs.BOM_UTF32_LE, "utf-32"), (codecs.BOM_UTF32_BE, "utf-32"),
         (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"))


def decode_text(raw: bytes, path: Path, what: str = "profile") -> str:
    """Text of an input file: UTF-8 (with or without BOM), UTF-16/32 with a BOM, or cp1252.
    NUL bytes without a BOM mean UTF-16/32 without a BOM or a binary file: refused, saying so."""
    for bom, encoding in _BOMS:
        if raw.startswith(bom):
            try:
                return raw.decode(encoding)
            except UnicodeDecodeError as exc:
                raise _fail(path, f"cannot decode the file as {encoding.upper()} ({exc.reason} at byte "
                                  f"{exc.start})", what=what) from None
    if b"\x00" in raw:
        raise _fail(path, "the file holds NUL bytes: it is binary, or UTF-16/UTF-32 without a byte-order mark, "
                          "which is not supported; save it as UTF-8 (CSV UTF-8 in Excel)", what=what)
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    try:
        return raw.decode("cp1252")
    except UnicodeDecodeError as exc:
        raise _fail(path, f"cannot decode the file as UTF-8 or cp1252 ({exc.reason} at byte {exc.start}); "
                          "save it as UTF-8", what=what) from None


def _zip_entry_count(path: Path) -> int | None:
    """The number of entries a zip file's end-of-central-directory record declares, read from
    its last bytes before zipfile builds an object per entry (None when there is no record:
    zipfile then refuses the file itself)."""
    size = path.stat().st_size
    with open(path, "rb") as fh:
        fh.seek(max(0, size - 65_557))  # the record (22 bytes) and a comment of up to 64 KB
        tail = fh.read()
        at = tail.rfind(b"PK\x05\x06")
        if at < 0 or len(tail) < at + 22:
            return None
        count = int.from_bytes(tail[at + 10:at + 12], "little")
        locator = tail.rfind(b"PK\x06\x07", 0, at)
        if count == 0xFFFF and locator >= 0 and len(tail) >= locator + 20:  # zip64: the count is elsewhere
            fh.seek(int.from_bytes(tail[locator + 8:locator + 16], "little"))
            record = fh.read(40)
            if record[:4] == b"PK\x06\x06" and len(record) == 40:
                count = int.from_bytes(record[32:40], "little")
    return count


def check_zip_members(path: Path, limits: Limits | None = None, what: str = "profile") -> None:
    """Refuse a workbook whose members would decompress past max_decompressed_bytes, from the
    sizes in its zip central directory (zipfile then never inflates a member past its declared
    size, so a lying directory cannot get more through)."""
    limits = resolve_limits(limits)
    members = _zip_entry_count(path)
    if members is not None and members > limits.max_archive_members:
        raise LimitExceededError(path, "max_archive_members", limits.max_archive_members,
                                 f"the workbook's zip directory lists {members:,} parts", what=what)
    try:
        with zipfile.ZipFile(path) as archive:
            infos = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as exc:
        raise _fail(path, f"cannot read the file as Excel workbook: {exc}", what=what) from None
    total = sum(max(info.file_size, 0) for info in infos)
    if total > limits.max_decompressed_bytes:
        biggest = max(infos, key=lambda i: i.file_size)
        raise LimitExceededError(path, "max_decompressed_bytes", limits.max_decompressed_bytes,
                                 f"the workbook would decompress to {total:,} bytes ({biggest.filename}: "
                                 f"{biggest.file_size:,} from {biggest.compress_size:,})", what=what)
    _prescan_sheets(path, [i for i in infos if _SHEET_MEMBER.fullmatch(i.filename)
                           or i.filename.lower() == "xl/sharedstrings.xml"], limits, what)


_SHEET_MEMBER = re.compile(r"xl/worksheets/[^/]+\.xml", re.I)
_ROW_TAG = re.compile(rb"<(?:[A-Za-z_][\w.-]{0,30}:)?row[\s>/]")
_CELL_TAG = re.compile(rb"<(?:[A-Za-z_][\w.-]{0,30}:)?c[\s>/]")
_STRING_TAG = re.compile(rb"<(?:[A-Za-z_][\w.-]{0,30}:)?si[\s>/]")


def _count_tags(archive: zipfile.ZipFile, info, patterns) -> list[int]:
    """How often each pattern occurs in a member, in one streaming pass (zlib and a bytes regex:
    about a second for a million rows); nothing is parsed or kept."""
    counts, tail = [0] * len(patterns), b""
    with archive.open(info) as fh:
        while chunk := fh.read(1 << 20):
            data = tail + chunk
            # Tags starting in the last 64 bytes are counted with the next chunk (a tag split by
            # the boundary is then whole).
            cut = max(len(data) - 64, 0)
            for k, pattern in enumerate(patterns):
                counts[k] += len(pattern.findall(data)) - len(pattern.findall(data, cut))
            tail = data[cut:]
    for k, pattern in enumerate(patterns):
        counts[k] += len(pattern.findall(tail))
    return counts


def _prescan_sheets(path: Path, members: list, limits: Limits, what: str) -> None:
    """Count the rows and cells of each worksheet (and the strings of the shared-string table)
    before openpyxl parses anything, so a small workbook holding a million rows is refused
    before a Python object is built for any of them."""
    with zipfile.ZipFile(path) as archive:
        for info in members:
            if info.filename.lower() == "xl/sharedstrings.xml":
                (strings,) = _count_tags(archive, info, (_STRING_TAG,))
                if strings > limits.max_cells:
                    raise LimitExceededError(path, "max_cells", limits.max_cells, f"the workbook's shared-string "
                                             f"table holds {strings:,} texts", what=what)
                continue
            rows, cells = _count_tags(archive, info, (_ROW_TAG, _CELL_TAG))
            if rows - 1 > limits.max_rows:
                raise LimitExceededError(path, "max_rows", limits.max_rows, f"the sheet {info.filename} holds "
                                         f"{rows:,} rows", what=what)
            if cells > limits.max_cells:
                raise LimitExceededError(path, "max_cells", limits.max_cells, f"the sheet {info.filename} holds "
                                         f"{cells:,} cells", what=what)


def check_shape(path: Path, rows: int, columns: int, limits: Limits, what: str) -> None:
    if rows > limits.max_rows:
        raise LimitExceededError(path, "max_rows", limits.max_rows, f"the table has more than {limits.max_rows:,} "
                                 "data rows", what=what)
    if columns > limits.max_columns:
        raise LimitExceededError(path, "max_columns", limits.max_columns, f"the table has {columns:,} columns",
                                 what=what)
    if rows * columns > limits.max_cells:
        raise LimitExceededError(path, "max_cells", limits.max_cells, f"the table has {rows:,} rows x {columns:,} "
                                 "columns", what=what)


def read_xlsx_rows(path: Path, limits: Limits | None = None, what: str = "profile") -> list[list]:
    """The first sheet as rows of raw cell values (header rows included), streamed with openpyxl
    in read-only, values-only mode; refused as soon as a row, cell or size limit is passed."""
    from openpyxl import load_workbook

    limits = resolve_limits(limits)
    check_zip_members(path, limits, what)
    wb = load_workbook(path, read_only=True, data_only=True)
    try:
        ws = wb.worksheets[0]
        try:  # the declared dimension, when the sheet has one: refused before streaming
            declared_rows, declared_cols = ws.max_row or 0, ws.max_column or 0
        except Exception:  # noqa: BLE001 - a damaged <dimension> is only a hint
            declared_rows = declared_cols = 0
        if declared_cols > limits.max_columns:
            check_shape(path, 0, declared_cols, limits, what)
        if declared_rows - 1 > limits.max_rows:
            check_shape(path, declared_rows - 1, 1, limits, what)
        rows, widest = [], 0
        for row_no, row in enumerate(ws.iter_rows(values_only=True), start=1):
            row = list(row)
            while row and row[-1] is None:
                row.pop()
            widest = max(widest, len(row))
            check_shape(path, row_no, widest, limits, what)  # the grid as callers pad it: rows x widest
            for j, value in enumerate(row):
                if isinstance(value, str) and len(value) > limits.max_cell_chars:
                    raise LimitExceededError(path, "max_cell_chars", limits.max_cell_chars,
                                             f"a cell is {len(value):,} characters long", row=row_no,
                                             column=str(j + 1), what=what)
            rows.append(row)
    finally:
        wb.close()
    while rows and not any(v is not None and str(v).strip() for v in rows[-1]):
        rows.pop()  # trailing empty rows (formatting left below the data)
    return rows


def check_parquet(path: Path, limits: Limits | None = None, what: str = "profile") -> None:
    """Refuse a Parquet file over the row, column, cell or uncompressed-size limits from its
    metadata alone."""
    limits = resolve_limits(limits)
    meta = pq.ParquetFile(path).metadata
    check_shape(path, meta.num_rows, meta.num_columns, limits, what)
    total = sum(meta.row_group(i).total_byte_size for i in range(meta.num_row_groups))
    if total > limits.max_decompressed_bytes:
        raise LimitExceededError(path, "max_decompressed_bytes", limits.max_decompressed_bytes,
                                 f"the Parquet data is {total:,} bytes uncompressed", what=what)


def read_parquet_table(path: Path, limits: Limits | None = None, what: str = "profile") -> pa.Table:
    """A Parquet file as an Arrow table, bounded: the metadata is checked first, then the text
    columns are read still dictionary-encoded and their decoded size is computed from the
    dictionary and its indices. (Parquet's own uncompressed size counts a dictionary value
    once: a 1 KB file can hold 3,000 rows of one 1 MB text, 3 GB once decoded.)"""
    limits = resolve_limits(limits)
    check_parquet(path, limits, what)
    schema = pq.ParquetFile(path).schema
    texts = [schema.column(i).path for i in range(len(schema)) if schema.column(i).physical_type == "BYTE_ARRAY"]
    if texts:
        encoded = pq.read_table(path, read_dictionary=texts)
        decoded = sum(decoded_nbytes(chunk) for column in encoded.columns for chunk in column.chunks)
        del encoded
        if decoded > limits.max_decompressed_bytes:
            raise LimitExceededError(path, "max_decompressed_bytes", limits.max_decompressed_bytes,
                                     f"the Parquet data is {decoded:,} bytes once decoded", what=what)
    return pq.read_table(path)


def decoded_nbytes(array: pa.Array) -> int:
    """Bytes `array` takes once every dictionary in it is decoded, without decoding it."""
    kind = array.type
    if pa.types.is_dictionary(kind):
        lengths = pc.binary_length(array.dictionary).fill_null(0).to_numpy(zero_copy_only=False)
        indices = array.indices.drop_null().to_numpy(zero_copy_only=False)
        return int(lengths[indices].sum()) + 8 * len(array)
    if pa.types.is_list(kind) or pa.types.is_large_list(kind) or pa.types.is_fixed_size_list(kind) \
            or pa.types.is_map(kind):
        return decoded_nbytes(array.flatten()) + 8 * len(array)
    if pa.types.is_struct(kind):
        return sum(decoded_nbytes(child) for child in array.flatten()) + len(array)
    return array.nbytes


def json_too_deep(line: str, max_depth: int) -> bool:
    """True when a JSON text nests lists/objects deeper than max_depth (checked before
    json.loads, whose recursion would otherwise end in RecursionError)."""
    if line.count("[") + line.count("{") <= max_depth:
        return False
    depth = 0
    for char in _JSON_STRING.sub("", line):
        if char in "[{":
            depth += 1
            if depth > max_depth:
                return True
        elif char in "]}":
            depth -= 1
    return False


_JSON_STRING = re.compile(r'"(?:[^"\\]|\\.)*"')


def nesting_depth(value, limit: int) -> int:
    """Depth of nested lists/tuples/dicts in `value` (0 for a scalar), counted without
    recursion and given up at `limit` + 1 (so shared references, a YAML alias graph, cost
    nothing extra)."""
    deepest, stack = 0, [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            item = list(item.values())
        if isinstance(item, (list, tuple, set)):
            depth += 1
            deepest = max(deepest, depth)
            if deepest > limit:
                return deepest
            stack.extend((child, depth) for child in item)
    return deepest


def read_profile_table(path: str | os.PathLike, limits: Limits | None = None,
                       what: str = "profile") -> tuple[pd.DataFrame, int]:
    """Read a raw profile table (CSV, Parquet, JSONL) without validating it.

    Returns the table and the row number of its first data row as a user sees it
    (2 for CSV and JSONL lines counted from a header / line 1, 1 for Parquet).
    """
    limits = resolve_limits(limits)
    path = check_input_file(path, limits, what)
    suffix = path.suffix.lower()
    try:
        if suffix in (".parquet", ".xlsx", ".xlsm"):
            return _read_binary_table(path, suffix, limits, what)
        if suffix in (".jsonl", ".ndjson"):
            rows, keys = [], set()
            text = decode_text(path.read_bytes(), path, what)
            # Lines one at a time, split on "\n" only (U+2028 is JSON text; and a file of 200 MB of
            # newlines must not become a list of 200 million strings).
            for line_no, line in enumerate(io.StringIO(text, newline="\n"), start=1):
                if not line.strip():
                    continue
                if json_too_deep(line, limits.max_nesting_depth):
                    raise LimitExceededError(path, "max_nesting_depth", limits.max_nesting_depth,
                                             "the line nests lists or objects too deep", row=line_no, what=what)
                try:
                    obj = json.loads(line)
                except json.JSONDecodeError as exc:
                    raise _fail(path, f"line is not valid JSON ({exc.msg})", row=line_no, what=what) from None
                if not isinstance(obj, dict):
                    raise _fail(path, "each line must be a JSON object", row=line_no, what=what)
                keys.update(obj)
                check_shape(path, len(rows) + 1, len(keys), limits, what)  # before the frame is built
                rows.append(obj)
            frame = pd.DataFrame(rows)
            check_shape(path, len(frame), len(frame.columns), limits, what)
            return frame, 1
        if suffix in (".csv", ".tsv", ".txt"):
            text = decode_text(path.read_bytes(), path, what)
            first = text.split("\n", 1)[0]
            sep = "\t" if suffix == ".tsv" or first.count("\t") > first.count(",") else (
                ";" if first.count(";") > first.count(",") else ","
            )
            check_shape(path, 0, first.count(sep) + 1, limits, what)  # before pandas allocates the columns
            frame = pd.read_csv(io.StringIO(text), sep=sep, dtype=str, keep_default_na=False,
                                skip_blank_lines=True, nrows=limits.max_rows + 1)
            check_shape(path, len(frame), len(frame.columns), limits, what)
            return frame, 2
    except ProfileValidationError:
        raise
    except RecursionError:
        raise LimitExceededError(path, "max_nesting_depth", limits.max_nesting_depth,
                                 "the file nests values too deep to read", what=what) from None
    except (pd.errors.ParserError, pa.ArrowException, ValueError, OSError, KeyError, zipfile.BadZipFile) as exc:
        raise _fail(path, f"cannot read the file: {str(exc).splitlines()[0]}", what=what) from None
    raise _fail(path, f"unsupported file type '{suffix}'; use .csv, .tsv, .xlsx, .parquet or .jsonl", what=what)


def _unique_headers(cells: list) -> list[str]:
    """Header cells as column names the way pandas names them (empty -> 'Unnamed: j', a
    repeated name -> 'name.1')."""
    out, seen = [], {}
    for j, cell in enumerate(cells):
        name = f"Unnamed: {j}" if cell is None or str(cell).strip() == "" else str(cell)
        if name in seen:
            seen[name] += 1
            name = f"{name}.{seen[name]}"
        else:
            seen[name] = 0
        out.append(name)
    return out


def _read_binary_table(path: Path, suffix: str, limits: Limits, what: str) -> tuple[pd.DataFrame, int]:
    """Parquet or XLSX: a damaged file can fail anywhere inside pyarrow, zipfile, zlib or the
    XML parser, with their own exception types; all of them mean "cannot read this file"."""
    try:
        if suffix == ".parquet":
            return read_parquet_table(path, limits, what).to_pandas(), 1
        # The first sheet, header on row 1, every cell as text (spreadsheet row numbers).
        rows = read_xlsx_rows(path, limits, what)
        if not rows:
            return pd.DataFrame(), 2
        header = _unique_headers(rows[0])
        width = len(header)
        body = [[("" if v is None else str(v)) for v in (r + [None] * (width - len(r)))[:width]] for r in rows[1:]]
        return pd.DataFrame(body, columns=header, dtype=object), 2
    except ProfileValidationError:
        raise
    except Exception as exc:  # noqa: BLE001 - third-party parsers of untrusted bytes
        detail = (str(exc).splitlines() or [""])[0][:200] or type(exc).__name__
        kind = "Parquet" if suffix == ".parquet" else "Excel workbook"
        raise _fail(path, f"cannot read the file as {kind}: {detail}", what=what) from None


def load_profiles(path: str | os.PathLike, limits: Limits | None = None) -> pd.DataFrame:
    """Read and validate a profile file; raises ProfileValidationError naming file, row and column."""
    frame, first_row = read_profile_table(path, limits)
    return validate_profiles(frame, source=str(path), first_row=first_row, limits=limits)


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
