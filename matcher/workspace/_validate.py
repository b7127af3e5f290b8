"""Checks shared by the workspace's inputs; problems read like file problems (field and message)."""
from __future__ import annotations

from datetime import datetime, timezone

from ..errors import ProfileValidationError
from ..vocab import closest, normalise_key
from ..wording import R_, Num, Reason, Terms, survey_term
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
            raise problem(source, field, value, Reason("{field} is required", field=field_word(field)))
        return None
    if not isinstance(value, str):
        raise problem(source, field, None, Reason("{field} must be text, got {kind}", field=field_word(field),
                                                  kind=type(value).__name__))
    if "\x00" in value:
        raise problem(source, field, None, Reason("{field} contains a NUL character", field=field_word(field)))
    if len(value) > max_chars:
        raise problem(source, field, value[:40] + "...", Reason("{field} is {n} characters long (at most {most})",
                      field=field_word(field), n=Num(len(value), ","), most=Num(max_chars, ",")))
    return value


def choice(source: str, field: str, value, allowed: tuple[str, ...]) -> str:
    if value not in allowed:
        raise problem(source, field, value, Reason("'{value}' is not a valid {field}; allowed values: {allowed}",
                                                   value=value, field=field_word(field), allowed=Terms(allowed)))
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
            bad.append((field, value, Reason("'{value}' is not a known {noun}; did you mean '{guess}'?", value=value,
                                             noun=Reason(noun), guess=survey_term(guess)) if guess
                        else Reason("'{value}' is not a known {noun}", value=value, noun=Reason(noun))))
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
    """The row `row_id` of `model`, or NotFoundError naming it (`noun`: a key of NOT_FOUND)."""
    row = session.get(model, row_id)
    if row is None:
        raise NotFoundError(Reason(NOT_FOUND[noun], id=row_id))
    return row


NOT_FOUND = {"post": R_("no post {id}"), "organisation": R_("no organisation {id}"),
             "saved work": R_("no saved work {id}")}
# The fields the workspace's messages name, as a word of their own (translated where shown).
FIELD_WORDS = {
    "text": R_("text"), "name": R_("name"), "email": R_("email"), "password": R_("password"), "role": R_("role"),
    "kind": R_("kind"), "status": R_("status"), "reason": R_("reason"), "tags": R_("tags"), "tag": R_("tag"),
    "services": R_("services"), "description": R_("description"), "website": R_("website"),
    "sectors": R_("sectors"), "countries": R_("countries"), "languages": R_("languages"),
    "sector": R_("sector"), "payload": R_("payload"), "rules": R_("rules"), "objective": R_("objective")}


def field_word(field: str) -> Reason:
    """A field named in a message: its English name, worded in the user's language where shown."""
    return Reason(FIELD_WORDS.get(field, field))
