"""The workspace as the app shows it: a profile's edit form in survey wording and the changes it
makes, its completeness and what would improve its matches, its history, the board's matches
with terms that add up, the organisations register and saved work (tables, CSV, comparisons).

Nothing here stores or scores: it words what matcher.workspace and matcher.board_matches return.
Every function that words something takes the interface language (`locale`, English by default);
survey terms are translated for showing only, the stored values stay the survey's English.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from functools import partial

import pandas as pd

from ..facets import FACETS, has_value, known_facets
from ..vocab import MATURITY_LEVELS, vocabularies
from ..wording import Reason
from .i18n import N_, translator
from .safe import md_escape
from .view import (SURVEY_FIELDS, UNKNOWN, country_name, error_text, facet_label, language_name, reasons_text,
                   shown)

ROLE_NAMES = {"admin": N_("network admin"), "officer": N_("city officer"), "viewer": N_("viewer")}
ORG_KIND_NAMES = {"delivery_partner": N_("delivery partner"), "investor": N_("investor"),
                  "financial_expert": N_("financial expert"), "energy_agency": N_("energy agency"), "other": N_("other")}
SAVED_KIND_NAMES = {"shortlist": N_("shortlist of twins"), "pairing": N_("accepted pairing"),
                    "cohort_plan": N_("cohort plan"), "review_plan": N_("reviewer assignment")}
POST_KIND_NAMES = {"need": N_("need"), "offer": N_("offer")}
STATUS_NAMES = {"pending": N_("waiting for approval"), "approved": N_("approved"), "rejected": N_("rejected"),
                "visible": N_("visible"), "hidden": N_("hidden")}
SOURCE_NAMES = {"app": N_("the app"), "cli": N_("the command line"), "shipped": N_("shipped data")}
# The board's match terms (matcher.board_matches.LABELS), in the interface language.
TERM_LABELS = {"tags": N_("Shared tags"), "text": N_("Meaning of the texts"), "peer": N_("Alike cities"),
               "both_ways": N_("Both ways"), "reach": N_("Works where you are"), "done_it": N_("Has done it"),
               "actions": N_("Actions in these sectors")}


def code_name(table: dict, code, locale: str = "en") -> str:
    """A stored code (a role, an organisation's kind, a saved item's kind, a status, a post's kind,
    where a version came from) in people's words, from one of the tables above; a code the table
    does not know stays as it is."""
    return translator(locale)(table[code]) if code in table else code


role_name = partial(code_name, ROLE_NAMES)
org_kind_name = partial(code_name, ORG_KIND_NAMES)
saved_kind_name = partial(code_name, SAVED_KIND_NAMES)
status_name = partial(code_name, STATUS_NAMES)


def source_name(source, locale: str = "en") -> str:
    """Where a version came from ('app', 'cli', a survey file, 'revert to version 2') in words."""
    t = translator(locale)
    text = str(source or "")
    if text.startswith("revert to version "):
        return t("revert to version {n}", n=text.removeprefix("revert to version "))
    return code_name(SOURCE_NAMES, text, locale) if text else t(UNKNOWN)


@dataclass(frozen=True)
class EditField:
    """One question of the profile form: the profile field, the survey's wording, the widget."""

    field: str
    label: str
    widget: str  # "number", "year", "maturity", "languages", "choices", "text"
    vocabulary: str | None = None


# The questions of "Describe my city", in the same words and vocabularies.
EDIT_FIELDS = (
    EditField("population", N_("Population"), "number"),
    EditField("net_zero_target_year", N_("When does your city aim to reach net zero? (year)"), "year"),
    EditField("maturity", N_("How far is your climate action?"), "maturity"),
    EditField("languages", N_("Languages"), "languages"),
    EditField("barriers", N_("What are the main barriers and gaps your city faces?"), "choices", "barriers"),
    EditField("priority_sectors", N_("What are your priority sectors for reducing emissions?"), "choices",
              "priority_sectors"),
    EditField("co_benefits", N_("Which co-benefits do you seek?"), "choices", "co_benefits"),
    EditField("funding_gaps", N_("Where are your funding gaps?"), "choices", "funding_gaps"),
    EditField("narrative", N_("What do you want to learn? (a few lines)"), "text"),
)
SURVEY_BARRIERS = 17  # the survey's own barrier list comes first in the vocabulary (the rest are from reports)
FIELD_LABELS = {f.field: f.label for f in EDIT_FIELDS} | {
    "name": N_("City name"), "country_code": N_("Country"), "networks": N_("Networks"),
    "eu_mission": N_("EU Mission city"), "lat": N_("Latitude"), "lon": N_("Longitude"),
    "has_climate_profile": N_("Has a climate profile")}
SHORT_LABELS = {"population": N_("population"), "net_zero_target_year": N_("net-zero target year"),
                "maturity": N_("maturity"), "languages": N_("languages"), "barriers": N_("barriers"),
                "priority_sectors": N_("priority sectors"), "co_benefits": N_("co-benefits"),
                "funding_gaps": N_("funding gaps"), "narrative": N_("what the city wants to learn"),
                "has_climate_profile": N_("has a climate profile")}
MATURITY_CHOICES = ("unknown", *MATURITY_LEVELS)


def field_name(field: str, locale: str = "en") -> str:
    """A profile field in people's words (history, comparisons)."""
    label = SHORT_LABELS.get(field) or FIELD_LABELS.get(field)
    return translator(locale)(label) if label else field.replace("_", " ")


def choices_for(edit: EditField, current) -> list[str]:
    """The options of a multi-select question: the survey vocabulary, plus what the profile holds
    already (an answer from another source is kept, never dropped by the form)."""
    options = list(vocabularies()[edit.vocabulary])
    if edit.vocabulary == "barriers":
        options = options[:SURVEY_BARRIERS]
    return options + [v for v in (current or []) if v not in options]


def form_value(edit: EditField, profile: dict):
    """What the form shows for a field of the profile (None / [] / 'unknown' when unknown)."""
    value = profile.get(edit.field)
    if edit.widget in ("languages", "choices"):
        return list(value or [])
    if edit.widget == "maturity":
        return value if has_value(value) else "unknown"
    if edit.widget in ("number", "year"):
        return int(value) if has_value(value) else None
    return value if has_value(value) else ""


def _stored(edit: EditField, value):
    """A form answer as the profile stores it."""
    if edit.widget in ("languages", "choices"):
        return list(value or [])
    if edit.widget == "maturity":
        return None if value in (None, "unknown") else value
    if edit.widget in ("number", "year"):
        return int(value) if value is not None else None
    return (value or "").strip() or None


def form_changes(profile: dict, answers: dict) -> dict:
    """The fields whose answer differs from the profile: field -> new value (for set_profile)."""
    out = {}
    for edit in EDIT_FIELDS:
        if edit.field not in answers:
            continue
        new, old = _stored(edit, answers[edit.field]), _stored(edit, form_value(edit, profile))
        if new != old:
            out[edit.field] = new
    return out


def completeness(profile: dict) -> tuple[int, int]:
    """(facets known, facets in all): what the profile can be compared on."""
    return len(known_facets(profile)), len(FACETS)


def improve_matches(profile: dict, locale: str = "en") -> pd.DataFrame:
    """The facets unknown for this city, most weighted first: what adding them would compare,
    and whether the form here can add it (the others come from data sources)."""
    t = translator(locale)
    editable = {"size": "population", "target": "net_zero_target_year", "maturity": "maturity",
                "languages": "languages", "barriers": "barriers", "sectors": "priority_sectors",
                "co_benefits": "co_benefits", "funding_gaps": "funding_gaps", "narrative": "narrative"}
    known = set(known_facets(profile))
    columns = [t("what is unknown"), t("adding it compares"), t("how to add it")]
    rows = [dict(zip(columns, (t(f.label), t(f.help),
                               t("answer “{question}” below", question=t(FIELD_LABELS[editable[f.name]]))
                               if f.name in editable else t("from the data sources (Covenant of Mayors, CDP, Urban Audit)"))))
            for f in sorted(FACETS, key=lambda f: (f.name not in editable, -f.default_weight)) if f.name not in known]
    return pd.DataFrame(rows, columns=columns)


def when(value, locale: str = "en") -> str:
    """A saving time as 'YYYY-MM-DD HH:MM UTC' (no time: the shipped data)."""
    return value.strftime("%Y-%m-%d %H:%M UTC") if value is not None else translator(locale)("shipped data")


def history_table(versions, locale: str = "en") -> pd.DataFrame:
    """A profile's versions, newest first: who saved it, when, from where and what changed."""
    t = translator(locale)
    columns = [t("version"), t("saved by"), t("when"), t("source"), t("what changed")]
    rows = [dict(zip(columns, (v.version, v.author or t("shipped data"), when(v.created_at, locale),
                               source_name(v.source, locale),
                               "; ".join(field_name(f, locale) for f in v.changes) or "—")))
            for v in reversed(versions)]
    return pd.DataFrame(rows, columns=columns)


def version_label(v, locale: str = "en") -> str:
    t = translator(locale)
    who = f", {v.author}" if v.author else ""
    return t("version {n} ({when}{who})", n=v.version, when=when(v.created_at, locale), who=who)


def _value(field: str, value, locale: str = "en") -> str:
    t = translator(locale)
    if field == "country_code":
        return country_name(value, locale)
    if field == "population" and has_value(value):
        return t.number(int(value))
    if field == "languages" and has_value(value):
        return shown([language_name(v, locale) for v in value], locale)
    if field in SURVEY_FIELDS and has_value(value):
        return shown(t.survey(value) if isinstance(value, str) else t.survey_list(value), locale)
    return shown(value, locale)


def version_diff_table(diff: dict, a: int, b: int, locale: str = "en") -> pd.DataFrame:
    """compare_versions' fields that differ, in survey wording: field, value in a, value in b."""
    t = translator(locale)
    columns = ["", t("version {n}", n=a), t("version {n}", n=b)]
    rows = [dict(zip(columns, (field_name(f, locale), _value(f, x, locale), _value(f, y, locale))))
            for f, (x, y) in diff.items()]
    return pd.DataFrame(rows, columns=columns)


# ---------------------------------------------------------------------------- board
def post_label(post, city_names: dict, locale: str = "en") -> str:
    """A post in one line for a picker: '#3 need, Milton Keynes: Joint procurement of e-buses'."""
    t = translator(locale)
    who = city_names.get(post.city_id, post.city_id) if post.city_id else post.org_name
    first = " ".join(post.text.split())
    kind = code_name(POST_KIND_NAMES, post.kind, locale)
    return f"#{post.id} {kind}, {who}: {first[:80] + '…' if len(first) > 80 else first}"


def match_sum(match, locale: str = "en") -> str:
    """'0.123 (Shared tags) + 0.245 (Meaning of the texts) = 0.368': the terms that make the score."""
    t = translator(locale)

    def label(term) -> str:
        if term.name in TERM_LABELS:
            return t(TERM_LABELS[term.name])
        return term.label or facet_label(term.name, locale)

    terms = " + ".join(f"{x.contribution:.3f} ({label(x)})" for x in match.explanation)
    return f"{terms} = {match.score:.3f}"


def board_matches_table(result, kind: str, locale: str = "en") -> pd.DataFrame:
    """The matches of one kind ("post", "organisation", "city", "case study") as rows: what, who,
    score, why (in words, in the interface language) and how the score adds up. The keys stay
    English (the app reads them and translates the headings where it shows them)."""
    rows = []
    for m in result.matches:
        if kind == "case study":
            what, by = m.title, ", ".join(x for x in (m.city, country_name(m.country_code, locale) if m.country_code
                                                     else None) if x)
        else:
            what, by = m.title, m.by
            if kind == "organisation":
                by = org_kind_name(by, locale)
        if kind == "city":
            by = ""  # the title names the city and its country
        rows.append({"match": what, "from": by if by is not None else translator(locale)(UNKNOWN),
                     "score": round(m.score, 3), "why": reasons_text(m.reasons, locale, 3) or "—",
                     "how the score adds up": match_sum(m, locale)})
    return pd.DataFrame(rows, columns=["match", "from", "score", "why", "how the score adds up"])


def organisations_table(orgs, locale: str = "en") -> pd.DataFrame:
    t = translator(locale)
    columns = [t("organisation"), t("kind"), t("sectors"), t("services"), t("countries"), t("languages"),
               t("status"), t("website")]
    rows = [dict(zip(columns, (o.name, org_kind_name(o.kind, locale), shown(t.survey_list(o.sectors), locale),
                               shown(o.services, locale), shown([country_name(c, locale) for c in o.countries], locale),
                               shown([language_name(c, locale) for c in o.languages], locale),
                               status_name(o.status, locale), o.website or ""))) for o in orgs]
    return pd.DataFrame(rows, columns=columns)


# ---------------------------------------------------------------------------- saved work
def shortlist_payload(result, weights: dict | None = None) -> tuple[dict, dict, str]:
    """A twins result as saved work: (payload, rules, objective)."""
    asker = result.asker or {}
    members = [{"city_id": m.city_id, "name": m.name, "country_code": m.country_code, "rank": m.rank,
                "score": round(float(m.score), 4), "why": "; ".join(m.reasons[:3])} for m in result.matches]
    rules = {"mode": result.mode, "asker": asker.get("name"), "asker_id": asker.get("city_id"),
             "weights": {k: round(float(v), 4) for k, v in (weights or result.weights).items()},
             "theme": result.query or None}
    return {"members": members}, rules, f"twin score (weighted facets) for {asker.get('name') or 'a city'}"


def cohort_payload(plan) -> tuple[dict, dict, str]:
    cohorts = [{"number": c.number, "members": [{"city_id": m["city_id"], "name": m["name"],
                                                  "country_code": m.get("country_code")} for m in c.members],
                "mean_similarity": round(float(c.mean_similarity), 4)} for c in plan.cohorts]
    objective = (f"similarity of members {plan.objective:.2f} (bound {plan.upper_bound:.2f}, "
                 f"{'proven best' if plan.optimal else f'gap {plan.gap:.1%}'})")
    return {"cohorts": cohorts}, {"rules": list(plan.rules)}, objective


def review_payload(assignment) -> tuple[dict, dict, str]:
    reviews = [{"plan_id": r.plan_id, "plan": r.plan, "reviewer_id": r.reviewer_id, "reviewer": r.reviewer,
                "affinity": round(float(r.affinity), 4)} for r in assignment.reviews]
    objective = (f"{'fairest (worst-off plan first)' if assignment.mode == 'fair' else 'best total affinity'}: "
                 f"total {assignment.total_affinity:.2f}, worst-off plan {assignment.worst_plan_affinity:.2f}")
    return {"reviews": reviews}, {"rules": list(assignment.rules), "mode": assignment.mode}, objective


def json_safe(value):
    """A brief as JSON can hold it: unknown numbers (NaN) as null, numpy scalars as Python ones."""
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    if hasattr(value, "item") and not isinstance(value, str):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def pairing_payload(brief: dict, a: dict, b: dict) -> tuple[dict, dict, str]:
    """An accepted pairing as saved work: the two cities, the agreed themes and the whole
    two-way brief (so it can be downloaded again as it was accepted)."""
    pair = brief["twins"][0]
    themes = list(brief.get("agreed_themes") or [])
    city = (lambda x: {"city_id": x.get("city_id"), "name": x.get("name"), "country_code": x.get("country_code")})
    payload = {"pairs": [{"a": city(a), "b": city(b), "themes": themes, "score": round(float(pair["score"]), 4)}],
               "brief": json_safe(brief)}
    return payload, {"themes": themes}, f"two-way twin score {pair['score']:.3f}"


def saved_list_table(items, locale: str = "en") -> pd.DataFrame:
    """Saved items: name, kind, who, when, objective and rules (the last two as they were saved)."""
    t = translator(locale)
    columns = [t("name"), t("kind"), t("saved by"), t("when"), t("objective"), t("rules")]
    rows = [dict(zip(columns, (
        x.name, saved_kind_name(x.kind, locale), x.owner, when(x.created_at, locale), x.objective or "—",
        "; ".join(x.rules.get("rules", [])) if isinstance(x.rules.get("rules"), list) else
        "; ".join(f"{k}: {v}" for k, v in x.rules.items() if v not in (None, "", [], {}) and k != "weights"))))
        for x in items]
    return pd.DataFrame(rows, columns=columns)


def saved_item_label(item, locale: str = "en") -> str:
    return f"{item.name} ({saved_kind_name(item.kind, locale)}, {when(item.created_at, locale)}, {item.owner})"


# The headings of saved work's tables (translated where they are shown).
SAVED_HEADINGS = (N_("rank"), N_("city"), N_("country"), N_("score"), N_("why"), N_("cohort"), N_("plan"),
                  N_("reviewer"), N_("affinity"), N_("twin"), N_("themes"))


def _frame(rows: list[tuple], columns: list[str], locale: str) -> pd.DataFrame:
    """Rows under headings in the interface language."""
    t = translator(locale)
    return pd.DataFrame(rows, columns=[t(c) for c in columns])


def saved_table(item, locale: str = "en") -> pd.DataFrame:
    """A saved item's content as the table to show and download (CSV), headings in the language."""
    p = item.payload

    def country(code) -> str:
        return country_name(code, locale)

    if item.kind == "shortlist":
        return _frame([(m.get("rank"), m.get("name"), country(m.get("country_code")), m.get("score"), m.get("why"))
                       for m in p.get("members", [])], ["rank", "city", "country", "score", "why"], locale)
    if item.kind == "cohort_plan":
        return _frame([(c.get("number", i + 1), m.get("name"), country(m.get("country_code")))
                       for i, c in enumerate(p.get("cohorts", [])) for m in c.get("members", [])],
                      ["cohort", "city", "country"], locale)
    if item.kind == "review_plan":
        return _frame([(r.get("plan"), r.get("reviewer"), r.get("affinity")) for r in p.get("reviews", [])],
                      ["plan", "reviewer", "affinity"], locale)
    def side(x) -> str:
        return x.get("name") or x.get("city_id") if isinstance(x, dict) else x

    return _frame([((side(x.get("a")) if isinstance(x, dict) else x[0]), (side(x.get("b")) if isinstance(x, dict) else x[1]),
                    shown(x.get("themes") if isinstance(x, dict) else None, locale)) for x in p.get("pairs", [])],
                  ["city", "twin", "themes"], locale)


def _names_in(payload: dict) -> dict:
    """city id -> name, from what a payload holds."""
    out = {}
    for group in (payload.get("members", []), *[c.get("members", []) for c in payload.get("cohorts", [])]):
        for m in group:
            if isinstance(m, dict) and m.get("city_id"):
                out[m["city_id"]] = m.get("name") or m["city_id"]
    for pair in payload.get("pairs", []):
        for side in (pair.get("a"), pair.get("b")) if isinstance(pair, dict) else ():
            if isinstance(side, dict) and side.get("city_id"):
                out[side["city_id"]] = side.get("name") or side["city_id"]
    for r in payload.get("reviews", []):
        out[r.get("plan_id")] = r.get("plan") or r.get("plan_id")
        out[r.get("reviewer_id")] = r.get("reviewer") or r.get("reviewer_id")
    return out


COMPARISON_WORDS = {"added": N_("New in this run ({n}): {items}"),
                    "removed": N_("No longer in this run ({n}): {items}"), "kept": N_("In both ({n}): {items}"),
                    "moved": N_("Moved to another cohort ({n}): {items}"), "joined": N_("Joined the call ({n}): {items}"),
                    "left": N_("Left the call ({n}): {items}")}


def comparison_lines(kind: str, diff: dict, old: dict, new: dict, locale: str = "en") -> list[str]:
    """compare_saved's result in words, with city names instead of ids."""
    t = translator(locale)
    names = {**_names_in(old), **_names_in(new)}

    def name(x) -> str:
        if isinstance(x, (list, tuple)):
            return " → ".join(name(y) for y in x) if kind == "review_plan" else ", ".join(name(y) for y in x)
        return str(names.get(x, x))

    if kind == "cohort_plan":
        keys = ["kept", "moved", "joined", "left"]
        lines = [t("Cohorts unchanged: {kept}; changed or new: {added}.", kept=len(diff["kept"]),
                   added=len(diff["added"]))]
    else:
        keys = ["added", "removed", "kept"]
        lines = []
    for key in keys:
        items = diff.get(key, [])
        if kind == "cohort_plan" and key == "kept":
            continue
        shown_items = "; ".join(name(x) for x in items[:30]) + ("; …" if len(items) > 30 else "")
        lines.append(t(COMPARISON_WORDS[key], n=len(items), items=shown_items or t("none")))
    return lines


def post_card(post, city_names: dict, locale: str = "en") -> str:
    """A post as Markdown, every user-written part escaped (texts, tags, organisation names);
    its survey tags in the interface language."""
    t = translator(locale)
    who = md_escape(city_names.get(post.city_id, post.city_id)) if post.city_id else \
        t("{name} (organisation)", name=md_escape(post.org_name))
    heading = t("Need #{id}", id=post.id) if post.kind == "need" else t("Offer #{id}", id=post.id)
    tags = " · ".join(md_escape(t.survey(tag)) for tag in post.tags)
    hidden = " " + t("(hidden by a moderator)") if post.status == "hidden" else ""
    line = t("**{post}** from **{who}**{hidden}, {when}", post=heading, who=who, hidden=hidden,
             when=when(post.created_at, locale))
    return line + "  \n" + (f"*{tags}*  \n" if tags else "") + md_escape(post.text)


# ---------------------------------------------------------------------------- messages
def workspace_message(exc: Exception, names: dict, locale: str = "en") -> str:
    """A workspace error as the user reads it: in the interface language, the cities it names by
    their `names` (city id -> name; the library's label for a city not in it). A conflict says who
    saved what and when; a refused change or a wrong answer is one line, worded from the template
    the library kept (matcher.wording.Reason); a message without one is shown as the library says it."""
    t = translator(locale)
    if hasattr(exc, "expected_version") and hasattr(exc, "attempted"):  # ConflictError
        when_ = exc.changed_at.strftime("%Y-%m-%d %H:%M:%S UTC") if exc.changed_at is not None else t("an unknown time")
        fields = ", ".join(field_name(f, locale) for f in sorted(exc.attempted)) or t("none")
        return t("Conflict on profile '{city}': you edited version {expected}, but {who} saved version {current} at "
                 "{when}. Nothing was saved; your changes ({fields}) are kept: reload the profile and apply them "
                 "again.", city=names.get(exc.city_id, exc.city_id), expected=exc.expected_version,
                 who=exc.changed_by or t("someone"), current=exc.current_version, when=when_, fields=fields)
    messages = [p.get("message") for p in getattr(exc, "problems", None) or []] or [getattr(exc, "reason", None)]
    if all(isinstance(m, Reason) for m in messages):
        return error_text("; ".join(t.reason(m, cities=names) for m in messages))
    return error_text(exc, locale)
