"""Resource limits for everything matcher reads from outside.

Every loader that reads a file someone else made (profile tables, survey exports, case-study
libraries) and the text encoder take `limits: Limits | None = None`; None means
`DEFAULT_LIMITS`. A limit that is hit raises the library's own `LimitExceededError` (a
`ProfileValidationError`) naming the file, the limit and, where it applies, row and column; the
input is refused before it is materialised whenever the size can be known up front (file size,
the uncompressed sizes in a workbook's zip directory, Parquet metadata), and while streaming
otherwise (rows and cells of a workbook, nesting of a JSON line or YAML front matter).

The defaults are documented in SECURITY.md ("Limits"). Each field carries its help text in
`dataclasses.fields(Limits)[i].metadata["help"]`, so a settings system can list them.
"""
from __future__ import annotations

from dataclasses import dataclass, field, fields, replace

MB = 1024 * 1024


@dataclass(frozen=True)
class Limits:
    max_file_bytes: int = field(default=200 * MB, metadata={
        "help": "Largest input file accepted, in bytes on disk (profile tables, survey exports, "
                "case-study files)."})
    max_decompressed_bytes: int = field(default=128 * MB, metadata={
        "help": "Largest total uncompressed size of a compressed input (the members of an XLSX "
                "workbook, read from its zip directory before parsing; the column chunks of a "
                "Parquet file, read from its metadata)."})
    max_archive_members: int = field(default=10_000, metadata={
        "help": "Most parts (zip entries) in an XLSX workbook, read from the end of its zip "
                "directory before the directory itself is parsed (a workbook has a few dozen)."})
    max_rows: int = field(default=500_000, metadata={
        "help": "Most data rows in one table (or files in one case-study folder); the shipped "
                "profiles have about 27,400."})
    max_columns: int = field(default=2_000, metadata={
        "help": "Most columns in one table (a survey export with one column per option has a "
                "few hundred)."})
    max_cells: int = field(default=10_000_000, metadata={
        "help": "Most cells (rows x columns) in one table, and most texts in a workbook's "
                "shared-string table."})
    max_cell_chars: int = field(default=2_000_000, metadata={
        "help": "Longest single cell or front-matter value, in characters, at read time (the "
                "schema then allows 20,000 for most columns and 2,000,000 for a case-study body)."})
    max_nesting_depth: int = field(default=20, metadata={
        "help": "Deepest nesting of lists/objects in a JSON line or a YAML front matter."})
    max_problems: int = field(default=1_000, metadata={
        "help": "Validation stops after this many problems and reports those (a file of junk is "
                "refused in seconds, not minutes)."})
    max_embed_chars: int = field(default=10_000, metadata={
        "help": "Texts are cut to this many characters before they are embedded (a narrative, a "
                "theme, a passage). The bundled MiniLM model reads only its first 256 tokens "
                "(about 1,000-1,500 characters) anyway; the cut only bounds tokenizer time and memory."})
    allow_symlinks: bool = field(default=False, metadata={
        "help": "Follow a symbolic link given as an input file or found inside a case-study "
                "folder. Off: links are refused, so a planted link cannot pull in a file from "
                "elsewhere (or show its first line in an error message)."})


DEFAULT_LIMITS = Limits()


def resolve(limits: Limits | None) -> Limits:
    """`limits`, or the defaults when None."""
    return DEFAULT_LIMITS if limits is None else limits


def describe() -> list[tuple[str, object, str]]:
    """(name, default, help) of every limit, in declaration order (for docs and settings)."""
    return [(f.name, f.default, f.metadata["help"]) for f in fields(Limits)]


__all__ = ["Limits", "DEFAULT_LIMITS", "resolve", "describe", "replace"]
