"""The interface in the users' languages: English, German, French, Spanish and Italian.

Standard gettext catalogues, one per language and domain, under matcher/locale:

- `matcher.po`: the interface (labels, help, messages, table headings, the twinning brief);
- `survey.po`: the NetZeroCities survey vocabulary (barriers, priority sectors, co-benefits,
  funding gaps, case-study sectors, maturity levels). What is stored and compared stays the
  English survey wording; only what is shown is translated, with the English one hover away;
- `reasons.po`: the templates of the reasons behind each match and of the workspace's errors
  (matcher.wording.Reason: the library keeps the English text and how it was made; `t.reason(r)`
  shows it in a language).

The .po files are the only source: they are compiled into gettext catalogues in memory the first
time a language is used (Babel's reader and writer; no .mo build step, nothing to keep in sync).
`scripts/i18n.py` extracts the strings of the code into matcher/locale/*.pot and updates the .po
files (README: "Languages").

There is no global language: each caller asks for the translator of its language, e.g. a
Streamlit page with `t = session_translator(st.session_state)` and then `t("Find twin cities")`.
"""
from __future__ import annotations

import gettext
import io
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import NamedTuple

from ..wording import City, Num, Reason, Technical, Terms

# The languages offered, each in its own name (what the chooser shows).
LANGUAGES: dict[str, str] = {"en": "English", "de": "Deutsch", "fr": "Français", "es": "Español", "it": "Italiano"}
SOURCE_LANGUAGE = "en"
DOMAINS = ("matcher", "survey", "reasons")
URL_KEY = "lang"  # the query parameter and session-state key that hold the interface language


def N_(message: str) -> str:
    """Marks a string for the catalogues where it is defined; it is translated where it is shown."""
    return message


def language(code) -> str:
    """An offered language code from what a URL or a browser says ('de', 'DE', 'de-AT', 'fr_FR');
    anything else is English."""
    text = str(code or "").strip().replace("_", "-").split("-")[0].lower()
    return text if text in LANGUAGES else SOURCE_LANGUAGE


def catalogue_path(lang: str, domain: str = "matcher"):
    """The .po file of a language and domain, inside the installed package."""
    return resources.files("matcher").joinpath("locale", lang, "LC_MESSAGES", f"{domain}.po")


@lru_cache(maxsize=None)
def _compiled(lang: str, domain: str) -> gettext.NullTranslations:
    """The .po file compiled into a gettext catalogue in memory (once per process and language)."""
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po

    path = catalogue_path(lang, domain)
    if lang == SOURCE_LANGUAGE or not path.is_file():
        return gettext.NullTranslations()
    with path.open("rb") as fh:
        catalog = read_po(fh, locale=lang, domain=domain)
    buffer = io.BytesIO()
    write_mo(buffer, catalog, use_fuzzy=False)
    buffer.seek(0)
    return gettext.GNUTranslations(buffer)


@dataclass(frozen=True)
class Translator:
    """The words of one language. `t("Twins for {name}", name=...)` translates, then fills the
    named placeholders; `t.survey(term)` translates a survey term (unknown terms stay English)."""

    lang: str = SOURCE_LANGUAGE

    def __call__(self, message: str, **values) -> str:
        text = _compiled(self.lang, "matcher").gettext(message) if message else message
        return text.format(**values) if values else text

    gettext = __call__

    def survey(self, term) -> str:
        """A survey term in this language ('Lack of political leadership' -> 'Mangelnde
        politische Führung'); the stored value is never changed."""
        if term is None or self.lang == SOURCE_LANGUAGE:
            return term
        return _compiled(self.lang, "survey").gettext(str(term))

    def survey_list(self, terms: Iterable) -> list[str]:
        return [self.survey(t) for t in terms]

    def glossary(self, terms: Iterable, limit: int = 40) -> str | None:
        """Markdown for a tooltip: each shown term with the survey's English wording beside it
        (None in English, where the shown words are the survey's own)."""
        if self.lang == SOURCE_LANGUAGE:
            return None
        pairs = [(self.survey(t), str(t)) for t in dict.fromkeys(terms) if t is not None]
        pairs = [(shown, english) for shown, english in pairs if shown != english][:limit]
        if not pairs:
            return None
        lines = [f"- {shown} = *{english}*" for shown, english in pairs]
        return self(N_("The survey's English wording:")) + "\n\n" + "\n".join(lines)

    def country(self, code) -> str:
        return country_name(code, self.lang)

    def language_name(self, code) -> str:
        return language_name(code, self.lang)

    def number(self, value, digits: int = 0) -> str:
        """A number as this language writes it (1,234.5 / 1.234,5 / 1 234,5)."""
        from babel.numbers import format_decimal

        return format_decimal(value, format="#,##0" + ("." + "0" * digits if digits else ""), locale=self.lang)

    def reason(self, text, plain: bool = False, names: bool = False, cities: Mapping | None = None) -> str:
        """A reason the library worded (matcher.wording.Reason) in this language: its template from
        the `reasons` catalogue, survey terms from the `survey` one, numbers as this language writes
        them. `plain` leaves out technical figures (a cosine) and names languages and countries
        instead of giving their codes; `names` only names them (the figures stay); `cities` (city
        id -> name) names the cities a message holds (matcher.wording.City), the library's label
        for a city it lacks. In English, neither plain nor names and without `cities`, it is the
        library's own text, character for character.
        Text that is not a Reason (e.g. read back from JSON) comes back as it is."""
        if not isinstance(text, Reason):
            return "" if text is None else str(text)
        return self._rendered(text, _Style(plain, plain or names or self.lang != SOURCE_LANGUAGE, cities or {}))

    def _rendered(self, value, style: _Style) -> str:
        if isinstance(value, Reason):
            template = _compiled(self.lang, "reasons").gettext(value.template) if self.lang != SOURCE_LANGUAGE \
                else value.template
            if not value.args:
                return template
            return template.format(**{k: self._rendered(v, style) for k, v in value.args.items()})
        if isinstance(value, Technical):
            return "" if style.plain else self._rendered(value.reason, style)
        if isinstance(value, Terms):
            return value.sep.join(self._item(value.kind, item, style) for item in value.items)
        if isinstance(value, Num):
            return local_number(value, self.lang)
        if isinstance(value, City):
            return str(style.cities.get(value.city_id) or value.label)
        return str(value)

    def _item(self, kind: str, item, style: _Style) -> str:
        if kind == "survey":
            return self.survey(str(item))
        if kind == "language":
            return self.language_name(item) if style.names else str(item)
        if kind == "country":
            return self.country(item) if style.names else str(item)
        return self._rendered(item, style)


class _Style(NamedTuple):
    """How a reason is rendered: without technical figures (plain), with languages and countries
    named (names), and the names of the cities it holds (cities)."""

    plain: bool
    names: bool
    cities: Mapping


_SPEC = re.compile(r"^(?P<sign>\+)?(?P<group>,)?(?:\.(?P<digits>\d+))?(?P<kind>[dfg%])?$")


def local_number(number: Num, lang: str) -> str:
    """A number of a reason as a language writes it ('265,208' / '265.208' / '265 208', '30%' /
    '30 %'), rounded exactly as the English text rounds it (the digits are the same)."""
    spec = _SPEC.match(number.spec)
    if lang == SOURCE_LANGUAGE or spec is None:
        return str(number)
    from babel.numbers import format_decimal, format_percent

    digits = int(spec["digits"] or 0)
    if spec["kind"] == "g":
        return format_decimal(float(format(number.value, "g")), locale=lang)
    if spec["kind"] == "%":
        pattern = "#,##0" + ("." + "0" * digits if digits else "") + "%"
        value = float(format(number.value * 100, f".{digits}f")) / 100
        return format_percent(value, locale=lang) if not digits else format_percent(value, pattern, locale=lang)
    pattern = ("#,##0" if spec["group"] else "0") + ("." + "0" * digits if digits else "")
    if spec["sign"]:
        pattern = f"+{pattern};-{pattern}"
    return format_decimal(float(format(number.value, f".{digits}f")), format=pattern, locale=lang)


@lru_cache(maxsize=8)
def _locale(lang: str):
    from babel import Locale

    return Locale.parse(lang)


def _known(code) -> bool:
    try:
        return code is not None and code == code and str(code).strip() not in ("", "None", "nan", "<NA>")
    except (TypeError, ValueError):  # pd.NA compares to nothing
        return False


def country_name(code, locale: str = SOURCE_LANGUAGE) -> str:
    """'DE' -> 'Germany' / 'Deutschland' (CLDR names, in the interface language); an unknown
    code stays as it is, a missing one is 'unknown' in that language."""
    if not _known(code):
        return translator(locale)("unknown")
    return _locale(language(locale)).territories.get(str(code).upper(), str(code))


def language_name(code, locale: str = SOURCE_LANGUAGE) -> str:
    """'nl' -> 'Dutch' / 'Niederländisch'."""
    if not _known(code):
        return translator(locale)("unknown")
    return _locale(language(locale)).languages.get(str(code).lower(), str(code))


@lru_cache(maxsize=None)
def translator(lang=SOURCE_LANGUAGE) -> Translator:
    """The translator of a language (an unknown one gives English)."""
    return Translator(language(lang))


def session_translator(state: Mapping) -> Translator:
    """The translator of one user's session: the language kept under `URL_KEY` in its state
    (Streamlit's st.session_state), English when none is chosen. Each session has its own."""
    return translator(state.get(URL_KEY) or SOURCE_LANGUAGE)
