"""Reasons that remember how they were worded, so they can be shown in the users' language.

A `Reason` *is* the English text the library has always produced (a str: the CLI, the JSON, the
CSV and every comparison read it unchanged), and it also keeps its template and the values put
into it. The library never translates: the present layer renders a reason in the user's language
(matcher/present/i18n.py, `Translator.reason`), the template through the `reasons` catalogue,
survey terms through the `survey` catalogue and numbers as that language writes them.

The values a template takes:
- a plain str or number: shown as it is (a city's name, a case study's title, a year);
- `Num(value, spec)`: a number, `format(value, spec)` in English, the locale's digits elsewhere;
- `Terms(items, sep, kind)`: a list: survey terms (`kind="survey"`), language codes
  (`kind="language"`: names when shown to people), country codes (`kind="country"`: names when
  shown to people) or reasons and plain words (`kind="reason"`);
- `Technical(reason)`: a figure for the technical detail only (a cosine), left out of the plain
  wording the app shows;
- `City(city_id, label)`: a city a message names (the workspace's errors): the label in English
  ('Milton Keynes (GB)'), the name the app knows for the id where it is shown;
- another `Reason` (a word such as a sector name is a `Reason` without values).

Templates are literal first arguments of `Reason(...)` or marked with `R_(...)` where they are
defined away from their use; `scripts/i18n.py` extracts both into the `reasons` catalogue.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


def R_(template: str) -> str:
    """Marks a reason template (or a word) for the `reasons` catalogue where it is defined."""
    return template


@dataclass(frozen=True)
class Num:
    """A number and its Python format spec (',', '.1f', ',.0f', '.0%', '+.0f', 'g')."""

    value: float
    spec: str = ""

    def __str__(self) -> str:
        return format(self.value, self.spec)


@dataclass(frozen=True)
class Terms:
    """A list shown joined by `sep`; `kind` says how each item is shown in another language."""

    items: tuple
    sep: str = ", "
    kind: str = "reason"  # "survey", "language", "country" or "reason" (reasons, words and plain text)

    def __init__(self, items: Iterable, sep: str = ", ", kind: str = "reason"):
        object.__setattr__(self, "items", tuple(items))
        object.__setattr__(self, "sep", sep)
        object.__setattr__(self, "kind", kind)

    def __str__(self) -> str:
        return self.sep.join(str(i) for i in self.items)


@dataclass(frozen=True)
class Technical:
    """A technical figure inside a reason (the detail shows it, the plain wording leaves it out)."""

    reason: object

    def __str__(self) -> str:
        return str(self.reason)


@dataclass(frozen=True)
class City:
    """A city named in a message: its id, so the present layer can name it, and the library's own
    words for it ('Milton Keynes (GB)'), which are the English text."""

    city_id: str
    label: str

    def __str__(self) -> str:
        return self.label


class Reason(str):
    """English text (the str itself) with its `template` and `args`, for rendering elsewhere."""

    template: str
    args: dict

    def __new__(cls, template: str, **args):
        text = template.format(**{k: str(v) for k, v in args.items()}) if args else template
        made = super().__new__(cls, text)
        made.template, made.args = template, args
        return made


def worded(template: str, /, **values) -> Reason:
    """A Reason from one of several templates chosen at run time (mark each with `R_`): the values
    the template does not name are left out of it."""
    return Reason(template, **{k: v for k, v in values.items() if "{" + k + "}" in template})


def plural(count: int, one: str, many: str, /, **values) -> Reason:
    """A reason worded for `count` things: template `one` when it is 1, else `many` (mark both with
    `R_` for the catalogue); the two may name a value differently ('the {rule} rule' / 'the
    {rules} rules')."""
    return worded(one if count == 1 else many, **values)


def joined(parts: Iterable, sep: str = "; ") -> Reason:
    """Reasons joined into one (`"; ".join(parts)`, keeping each part's structure)."""
    return Reason("{parts}", parts=Terms(parts, sep))


def survey_list(terms: Iterable, sep: str = "; ") -> Terms:
    """Survey terms as they are stored (English), translated when shown."""
    return Terms(terms, sep, "survey")


def cosine_figure(value: float) -> Technical:
    """' (cosine 0.43)': a figure for the technical detail, left out of the plain wording."""
    return Technical(Reason(" (cosine {value})", value=Num(value, ".2f")))


def survey_term(value) -> Terms:
    """One survey term (a maturity level), translated when shown."""
    return Terms([value], "", "survey")


def words(items: Iterable, sep: str = ", ") -> Terms:
    """Registry words (sector names, commitments, what is unknown), translated when shown."""
    return Terms((Reason(i) for i in items), sep)


def country_code(code) -> Terms:
    """A country code ('GB'), its name when shown to people ('Vereinigtes Königreich')."""
    return Terms([code], "", "country")


def language_code(code) -> Terms:
    """A language code ('nl'), its name when shown to people ('Niederländisch')."""
    return Terms([code], "", "language")
