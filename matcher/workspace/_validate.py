"""Checks shared by the workspace's inputs; problems read like file problems (field and message)."""
from __future__ import annotations

from datetime import datetime, timezone

from ..errors import ProfileValidationError
from ..vocab import closest, normalise_key
from .errors import NotFoundError


def problem(source: str, field: str, value, message: str) -> ProfileValidationError:
    return problems(source, [(field, value, message)])


def problems(source: str, items: list[tuple[str, object, str]], what: str = "workspace") -> ProfileValidationError:
    return ProfileValidationError([{"file": source, "row": None, "column": f, "value": v, "message": m}
                                   for f, v, m in items], source, what)


def text(source: str, field: str, value, *, max_chars: int, required: bool = True) -> str | None:
    """Text stored verbatim (quotes, Markdown, SQL and all: queries are parametrised, renderers
    escape); only a NUL byte is refused, since PostgreSQL cannot store it."""
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise problem(source, field, value, f"{field} is required")
        return None
    if not isinstance(value, str):
        raise problem(source, field, None, f"{field} must be text, got {type(value).__name__}")
    if "\x00" in value:
        raise problem(source, field, None, f"{field} contains a NUL character")
    if len(value) > max_chars:
        raise problem(source, field, value[:40] + "...", f"{field} is {len(value):,} characters long (at most {max_chars:,})")
    return value


def choice(source: str, field: str, value, allowed: tuple[str, ...]) -> str:
    if value not in allowed:
        raise problem(source, field, value, f"'{value}' is not a valid {field}; allowed values: {', '.join(allowed)}")
    return value


def vocab_list(source: str, field: str, values, vocab: tuple[str, ...], noun: str) -> list[str]:
    """Canonical survey wording for each value (case and accents folded), every unknown one listed."""
    if values is None:
        return []
    if isinstance(values, str):
        values = [values]
    table = {normalise_key(v): v for v in vocab}
    out, bad = [], []
    for value in values:
        hit = table.get(normalise_key(value)) if isinstance(value, str) else None
        if hit is None:
            guess = closest(str(value), vocab) if isinstance(value, str) else None
            bad.append((field, value, f"'{value}' is not a known {noun}"
                        + (f"; did you mean '{guess}'?" if guess else "")))
        elif hit not in out:
            out.append(hit)
    if bad:
        raise problems(source, bad)
    return out


def utc(value: datetime | None) -> datetime | None:
    """SQLite gives naive datetimes back: they were stored as UTC."""
    if value is None:
        return None
    return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)


def existing(session, model, row_id, noun: str):
    """The row `row_id` of `model`, or NotFoundError naming it."""
    row = session.get(model, row_id)
    if row is None:
        raise NotFoundError(f"no {noun} {row_id}")
    return row
