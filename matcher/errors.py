"""The library's own error types.

The core raises these; only the CLI and the app turn them into messages. Each one carries
enough context (file, row, column, close matches, how to rebuild) to be shown as it is.
"""
from __future__ import annotations

from .wording import R_, Reason, Terms, worded


class MatcherError(Exception):
    """Base class of every error the library raises on purpose."""

    @property
    def reason(self) -> Reason | None:
        """The message with its template and values, for the app to word in the user's language
        (None for a message worded without one)."""
        return self.args[0] if self.args and isinstance(self.args[0], Reason) else None


class ConfigError(MatcherError, ValueError):
    """A setting, weight or option has an unknown name or a bad value."""


class ProfileValidationError(MatcherError, ValueError):
    """A profile file or table breaks the schema.

    `problems` lists every problem found (not only the first), each a dict with
    file, row (1-based data row, header excluded), column, value and message.
    """

    def __init__(self, problems: list[dict], source: str = "<table>", what: str = "profile",
                 stopped_at: int | None = None):
        self.problems = problems
        self.source = source
        self.what = what
        self.stopped_at = stopped_at  # set when validation stopped early (the max_problems limit)
        shown = problems[:20]
        if stopped_at is not None:
            lines = [f"{source}: validation stopped after {len(problems)} problem(s) in the {what} data "
                     f"(limit max_problems={stopped_at:,}); fix these and run it again"]
        else:
            lines = [f"{source}: {len(problems)} problem(s) in the {what} data"]
        for p in shown:
            where = ", ".join(
                part
                for part in (
                    p["file"] if p.get("file") and p["file"] != source else "",
                    f"row {p['row']}" if p.get("row") is not None else "",
                    f"column {p['column']}" if p.get("column") else "",
                )
                if part
            )
            lines.append(f"  {where}: {p['message']}" if where else f"  {p['message']}")
        if len(problems) > len(shown):
            lines.append(f"  ... and {len(problems) - len(shown)} more")
        super().__init__("\n".join(lines))


class LimitExceededError(ProfileValidationError):
    """An input is over one of the resource limits (`matcher.limits.Limits`): too large once
    decompressed, too many rows or cells, nested too deep, a cell too long, a symbolic link.

    `limit` is the name of the Limits field that was hit, `value` its setting; `problems` names
    the file (and row/column where it applies) like any validation error.
    """

    def __init__(self, path, limit: str, value, message: str, row=None, column=None, what: str = "input"):
        self.limit = limit
        self.value = value
        text = f"{message} (limit {limit}={value:,})" if isinstance(value, int) and not isinstance(value, bool) \
            else f"{message} (limit {limit}={value})"
        super().__init__([{"file": str(path), "row": row, "column": column, "value": None, "message": text}],
                         str(path), what)


class UnknownCityError(MatcherError, LookupError):
    """A city name or id matches no profile; carries close matches to suggest."""

    def __init__(self, query: str, suggestions: list[str] | None = None, country: str | None = None):
        self.query = query
        self.suggestions = suggestions or []
        templates = {(False, False): R_("Unknown city '{query}'."),
                     (True, False): R_("Unknown city '{query}' in {country}."),
                     (False, True): R_("Unknown city '{query}'. Did you mean: {suggestions}?"),
                     (True, True): R_("Unknown city '{query}' in {country}. Did you mean: {suggestions}?")}
        super().__init__(worded(templates[bool(country), bool(self.suggestions)], query=query,
                                country=Terms([country], "", "country"), suggestions=Terms(self.suggestions, "; ")))


class AmbiguousCityError(MatcherError, LookupError):
    """A name matches several cities; the caller must name the country (or a city id)."""

    def __init__(self, query: str, candidates: list[str]):
        self.query = query
        self.candidates = candidates
        super().__init__(Reason("'{query}' matches {n} cities: {candidates}. Name the country (--country CC) or pass "
                                "the city id.", query=query, n=len(candidates), candidates=Terms(candidates, "; ")))


class IndexMismatchError(MatcherError):
    """A saved index does not belong to the current data, model or feature layout."""


class IndexWriteError(MatcherError, RuntimeError):
    """An index could not be written (a full disk, no permission): nothing half-written is
    left behind and the last good index stays live. (A RuntimeError, as the faiss write
    failure it replaces was.)"""


class IndexMissingError(MatcherError, FileNotFoundError):
    """No usable index exists yet in the index folder."""
