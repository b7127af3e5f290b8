"""Shared helpers of the network staff tools (reviewer assignment, cohort planning): the
infeasibility error with plain-language reasons, city resolution over a TwinSpace, reading a
city list (a file, or the text of an upload), and the wording used to name cities and rules."""
from __future__ import annotations

import csv
from pathlib import Path


from .errors import ConfigError, MatcherError, ProfileValidationError
from .io import check_input_file, decode_text
from .limits import Limits
from .protocols import TwinSpace
from .wording import Reason, Terms


class InfeasibleRulesError(MatcherError):
    """The rules cannot all hold. `reasons` says why, one broken rule per item, in words a staff
    member understands (never a solver status); `rules` lists the rules that were in force.

    A reason may be given as (why, fix): its text then ends with "; smallest fix: <fix>", so a
    list shown one reason per line carries its fixes, and `fixes` holds the fixes alone, parallel
    to `reasons` (None where no single change is known); `broken` holds the reasons without their
    fixes. Reasons, fixes and rules are `matcher.wording.Reason`s where the library words them, so
    the app shows them in its users' language (the message itself stays English)."""

    def __init__(self, reasons: list, rules: list[str] | None = None):
        self.reasons, self.fixes, self.broken = [], [], []
        for item in reasons:
            why, fix = item if isinstance(item, tuple) else (item, None)
            self.reasons.append(Reason("{why}; smallest fix: {fix}", why=why, fix=fix) if fix else why)
            self.fixes.append(fix)
            self.broken.append(why)
        self.rules = list(rules or [])
        lines = ["The rules cannot all hold:"] + [f"  - {r}" for r in self.reasons]
        if self.rules:
            lines.append("Rules in force: " + "; ".join(self.rules) + ".")
        super().__init__("\n".join(lines))


def resolve_rows(space: TwinSpace, cities) -> list[int]:
    """Profile rows of the given cities: ints are rows, strings names or city ids, (name, country)
    tuples a name with its country. "all" (or None) means every city with a climate profile.
    Duplicates are dropped (first kept)."""
    if cities is None or (isinstance(cities, str) and cities == "all"):
        return [int(r) for r in range(len(space.profiles)) if bool(space.profiles["has_climate_profile"].iat[r])]
    rows: list[int] = []
    for item in cities:
        if isinstance(item, (int,)) or (hasattr(item, "dtype") and str(getattr(item, "dtype", "")).startswith("int")):
            row = int(item)
            if not 0 <= row < len(space.profiles):
                raise ConfigError(f"Profile row {row} does not exist.")
        elif isinstance(item, tuple):
            row = space.resolve(item[0], item[1] if len(item) > 1 else None)
        else:
            row = space.resolve(str(item))
        rows.append(int(row))
    seen: set[int] = set()
    return [r for r in rows if not (r in seen or seen.add(r))]


def read_city_file(path: str | Path, limits: Limits | None = None) -> list[tuple[str, str | None]]:
    """City names from a text file (one name per line) or a CSV with a `name` column (and an
    optional `country_code` column). The file passes the loaders' checks (no link, size limit,
    encodings) before a byte is read."""
    path = check_input_file(path, limits, what="city list")
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ProfileValidationError([{"file": str(path), "row": None, "column": None, "value": None,
                                       "message": f"cannot read the city list: {exc}"}], str(path)) from None
    return parse_city_list(decode_text(raw, path, what="city list"), str(path))


def parse_city_list(text: str, source: str = "the city list") -> list[tuple[str, str | None]]:
    """(name, country code or None) pairs from the text of a city list: one name per line
    (blank lines and # comments skipped), or a CSV whose header has a `name` column."""
    lines = [ln for ln in text.splitlines() if ln.strip() and not ln.lstrip().startswith("#")]
    if not lines:
        raise ConfigError(f"{source}: the city list is empty.")
    try:
        header = next(csv.reader([lines[0]]))
        if "name" not in [h.strip().lower() for h in header]:
            return [(ln.strip(), None) for ln in lines]
        reader = csv.DictReader(lines)
        reader.fieldnames = [f.strip().lower() for f in reader.fieldnames or []]
        out = []
        for record in reader:
            name = (record.get("name") or "").strip()
            if name:
                out.append((name, (record.get("country_code") or "").strip() or None))
        return out
    except csv.Error as exc:
        raise ConfigError(f"{source}: the list cannot be read as CSV ({exc}).") from None


def resolve_city_list(space: TwinSpace, items: list[tuple[str, str | None]]) -> tuple[list[str], list[str]]:
    """City ids of (name, country) pairs, and one message per name that matches no city or
    several (all of them, so a list is fixed in one pass)."""
    ids, problems = [], []
    for name, country in items:
        try:
            ids.append(space.profiles.at[space.resolve(name, country), "city_id"])
        except MatcherError as exc:
            problems.append(str(exc))
    return ids, problems


def city_label(space: TwinSpace, row: int) -> str:
    r = space.profiles.iloc[int(row)]
    return f"{r['name']} ({r['country_code']})"


def join_names(names: list, limit: int = 8, either: bool = False) -> str:
    """'A, B and C' ('A, B or C' with `either`), 'A, ..., H and 3 more' past `limit` names; a Reason
    (names may be Reasons) that the app shows in its users' language."""
    names = list(names)
    if len(names) > limit:
        more = len(names) - limit
        return Reason("{names} or {more} more", names=Terms(names[:limit]), more=more) if either else \
            Reason("{names} and {more} more", names=Terms(names[:limit]), more=more)
    if len(names) <= 1:
        return names[0] if names else ""
    return Reason("{names} or {last}", names=Terms(names[:-1]), last=names[-1]) if either else \
        Reason("{names} and {last}", names=Terms(names[:-1]), last=names[-1])
