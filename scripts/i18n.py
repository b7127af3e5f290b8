"""Keep the translation catalogues in step with the code (README: "Languages").

    python scripts/i18n.py            # extract, then update every language's .po files
    python scripts/i18n.py --check    # exit 1 when a string of the code is missing from a catalogue
    python scripts/i18n.py --domain reasons   # update one domain's catalogues only

Three domains, each a template matcher/locale/<domain>.pot and one .po per language:
- matcher: every `_("...")`, `t("...")` and `N_("...")` of the app (app_*.py) and of
  matcher/present, plus the facet registry's labels and help and the settings' help the app shows;
- survey: the NetZeroCities survey vocabulary (barriers, sectors, co-benefits, funding gaps,
  case-study sectors, maturity levels);
- reasons: the templates of the reasons behind each match and of the workspace's errors, every
  literal `Reason("...")` and `R_("...")` of the library (matcher/*.py, matcher/workspace/*.py,
  matcher.wording), plus the words they put in (sector and land-use names, Covenant
  commitments, what a facet lacks, facet names).
New strings arrive with an empty translation: fill them in (tests/test_i18n.py fails until every
language has them all). A string no longer in the code is dropped from the catalogues.
"""
from __future__ import annotations

import argparse
import ast
import re
import sys
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_file
from babel.messages.pofile import read_po, write_po

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from matcher.present.i18n import DOMAINS, LANGUAGES, SOURCE_LANGUAGE  # noqa: E402

LOCALE = REPO / "matcher" / "locale"
KEYWORDS = {"_": None, "t": None, "N_": None, "gettext": None}


def code_files() -> list[Path]:
    """The files whose strings are shown to users: the app's modules and matcher/present."""
    return sorted(REPO.glob("app_*.py")) + sorted((REPO / "matcher" / "present").glob("*.py"))


def _code_messages() -> list[tuple[str, str]]:
    out = []
    for path in code_files():
        for lineno, message, _comments, _context in extract_from_file("python", str(path), keywords=KEYWORDS):
            if isinstance(message, str) and message:
                out.append((message, f"{path.relative_to(REPO).as_posix()}:{lineno}"))
    return out


def _registry_messages() -> list[tuple[str, str]]:
    from matcher.facets import FACETS
    from matcher.settings import SETTINGS

    out = [(text, "matcher/facets.py") for f in FACETS for text in (f.label, f.help)]
    shown = set()
    for path in code_files():
        shown |= set(re.findall(r'SETTING_HELP\["(\w+)"\]', path.read_text(encoding="utf-8")))
    out += [(s.help, "matcher/settings.py") for s in SETTINGS if s.name in shown]
    return out


def _survey_messages() -> list[tuple[str, str]]:
    from matcher.vocab import MATURITY_LEVELS, vocabularies

    vocab = vocabularies()
    out = []
    for name in ("barriers", "priority_sectors", "co_benefits", "funding_gaps", "case_sectors", "case_barriers"):
        out += [(term, f"matcher/vocabulary ({name})") for term in vocab[name]]
    out += [(level, "matcher/vocab.py (MATURITY_LEVELS)") for level in MATURITY_LEVELS]
    return out


def _literal_reasons(path: Path) -> list[tuple[str, str]]:
    """Literal first arguments of `Reason(...)` and `R_(...)` calls in one module."""
    out = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Call) and getattr(node.func, "id", None) in ("Reason", "R_") and node.args \
                and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str):
            out.append((node.args[0].value, f"{path.relative_to(REPO).as_posix()}:{node.lineno}"))
    return out


def _reason_messages() -> list[tuple[str, str]]:
    from matcher.facets import FACETS
    from matcher.vocab import ACTION_SECTORS, COMMITMENT_WORDS, EMISSION_SECTORS, LAND_USES

    paths = sorted((REPO / "matcher").glob("*.py")) + sorted((REPO / "matcher" / "workspace").glob("*.py"))
    out = [m for path in paths for m in _literal_reasons(path)]
    out += [(f.unknown, "matcher/facets.py (unknown)") for f in FACETS]
    out += [(f.label.lower(), "matcher/facets.py (label)") for f in FACETS]
    for name, words in (("COMMITMENT_WORDS", COMMITMENT_WORDS), ("EMISSION_SECTORS", EMISSION_SECTORS),
                        ("ACTION_SECTORS", ACTION_SECTORS), ("LAND_USES", LAND_USES)):
        out += [(w, f"matcher/vocab.py ({name})") for w in words.values()]
    # a template of placeholders only ("{year} ({basis})") reads the same in every language
    return [(m, where) for m, where in out if re.sub(r"\{\w*\}", "", m).strip(" ;,()")]


def template(domain: str) -> Catalog:
    """The strings of one domain as a gettext template (no translations)."""
    catalog = Catalog(project="matcher", domain=domain, locale=None, charset="utf-8")
    found = {"matcher": lambda: _code_messages() + _registry_messages(), "survey": _survey_messages,
             "reasons": _reason_messages}[domain]()
    for message, where in found:
        path, _, line = where.partition(":")
        catalog.add(message, locations=[(path, int(line) if line.isdigit() else None)])
    return catalog


def _read(path: Path, lang: str | None) -> Catalog:
    with path.open("rb") as fh:
        return read_po(fh, locale=lang)


def _write(path: Path, catalog: Catalog) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as fh:
        write_po(fh, catalog, width=120, sort_output=False, omit_header=False)


def update(domains=DOMAINS) -> None:
    for domain in domains:
        pot = template(domain)
        _write(LOCALE / f"{domain}.pot", pot)
        for lang in LANGUAGES:
            if lang == SOURCE_LANGUAGE:
                continue
            path = LOCALE / lang / "LC_MESSAGES" / f"{domain}.po"
            catalog = _read(path, lang) if path.is_file() else Catalog(locale=lang, domain=domain, project="matcher")
            catalog.update(pot, no_fuzzy_matching=True)
            catalog.obsolete.clear()
            _write(path, catalog)
            print(f"{path.relative_to(REPO)}: {len(catalog)} strings, "
                  f"{sum(1 for m in catalog if m.id and not m.string)} untranslated")


def missing() -> dict[str, list[str]]:
    """Per catalogue, the strings of the code it does not hold (empty when all is in step)."""
    out = {}
    for domain in DOMAINS:
        wanted = {m.id for m in template(domain) if m.id}
        for lang in LANGUAGES:
            if lang == SOURCE_LANGUAGE:
                continue
            path = LOCALE / lang / "LC_MESSAGES" / f"{domain}.po"
            held = {m.id for m in _read(path, lang) if m.id} if path.is_file() else set()
            if wanted - held:
                out[f"{lang}/{domain}"] = sorted(wanted - held)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--check", action="store_true", help="only report strings missing from the catalogues")
    parser.add_argument("--domain", choices=DOMAINS, action="append",
                        help="update only this domain's catalogues (repeatable; default: all)")
    args = parser.parse_args()
    if args.check:
        gaps = missing()
        for name, ids in gaps.items():
            print(f"{name}: {len(ids)} missing, e.g. {ids[:3]}")
        sys.exit(1 if gaps else 0)
    update(args.domain or DOMAINS)


if __name__ == "__main__":
    main()
