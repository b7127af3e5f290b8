"""The workspace as the app shows it: a profile's edit form in survey wording and the changes it
makes, its completeness and what would improve its matches, its history, the board's matches
with terms that add up, the organisations register and saved work (tables, CSV, comparisons).

Nothing here stores or scores: it words what matcher.workspace and matcher.board_matches return.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

import pandas as pd

from ..facets import FACETS, has_value, known_facets
from ..vocab import MATURITY_LEVELS, vocabularies
from .view import UNKNOWN, country_name, facet_label, reasons_text, shown

ROLE_NAMES = {"admin": "network admin", "officer": "city officer", "viewer": "viewer"}
ORG_KIND_NAMES = {"delivery_partner": "delivery partner", "investor": "investor",
                  "financial_expert": "financial expert", "energy_agency": "energy agency", "other": "other"}
SAVED_KIND_NAMES = {"shortlist": "shortlist of twins", "pairing": "accepted pairing", "cohort_plan": "cohort plan",
                    "review_plan": "reviewer assignment"}


@dataclass(frozen=True)
class EditField:
    """One question of the profile form: the profile field, the survey's wording, the widget."""

    field: str
    label: str
    widget: str  # "number", "year", "maturity", "languages", "choices", "text"
    vocabulary: str | None = None


# The questions of "Describe my city", in the same words and vocabularies.
EDIT_FIELDS = (
    EditField("population", "Population", "number"),
    EditField("net_zero_target_year", "When does your city aim to reach net zero? (year)", "year"),
    EditField("maturity", "How far is your climate action?", "maturity"),
    EditField("languages", "Languages", "languages"),
    EditField("barriers", "What are the main barriers and gaps your city faces?", "choices", "barriers"),
    EditField("priority_sectors", "What are your priority sectors for reducing emissions?", "choices",
              "priority_sectors"),
    EditField("co_benefits", "Which co-benefits do you seek?", "choices", "co_benefits"),
    EditField("funding_gaps", "Where are your funding gaps?", "choices", "funding_gaps"),
    EditField("narrative", "What do you want to learn? (a few lines)", "text"),
)
SURVEY_BARRIERS = 17  # the survey's own barrier list comes first in the vocabulary (the rest are from reports)
FIELD_LABELS = {f.field: f.label for f in EDIT_FIELDS} | {
    "name": "City name", "country_code": "Country", "networks": "Networks", "eu_mission": "EU Mission city",
    "lat": "Latitude", "lon": "Longitude", "has_climate_profile": "Has a climate profile"}
SHORT_LABELS = {"population": "population", "net_zero_target_year": "net-zero target year",
                "maturity": "maturity", "languages": "languages", "barriers": "barriers",
                "priority_sectors": "priority sectors", "co_benefits": "co-benefits", "funding_gaps": "funding gaps",
                "narrative": "what the city wants to learn", "has_climate_profile": "has a climate profile"}
MATURITY_CHOICES = ("unknown", *MATURITY_LEVELS)


_QUOTED_ID = re.compile(r"'([a-z]{1,4}\d{3,})'")


def with_names(message: str, names: dict) -> str:
    """A library message with the city ids it quotes replaced by the cities' names."""
    return _QUOTED_ID.sub(lambda m: f"'{names[m.group(1)]}'" if m.group(1) in names else m.group(0), message)


def field_name(field: str) -> str:
    """A profile field in people's words (history, comparisons)."""
    return SHORT_LABELS.get(field) or FIELD_LABELS.get(field, field.replace("_", " "))


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


def improve_matches(profile: dict) -> pd.DataFrame:
    """The facets unknown for this city, most weighted first: what adding them would compare,
    and whether the form here can add it (the others come from data sources)."""
    editable = {"size": "population", "target": "net_zero_target_year", "maturity": "maturity",
                "languages": "languages", "barriers": "barriers", "sectors": "priority_sectors",
                "co_benefits": "co_benefits", "funding_gaps": "funding_gaps", "narrative": "narrative"}
    known = set(known_facets(profile))
    rows = [{"what is unknown": f.label, "adding it compares": f.help,
             "how to add it": (f"answer “{FIELD_LABELS[editable[f.name]]}” below" if f.name in editable
                               else "from the data sources (Covenant of Mayors, CDP, Urban Audit)")}
            for f in sorted(FACETS, key=lambda f: (f.name not in editable, -f.default_weight)) if f.name not in known]
    return pd.DataFrame(rows, columns=["what is unknown", "adding it compares", "how to add it"])


def _when(value) -> str:
    return value.strftime("%Y-%m-%d %H:%M UTC") if value is not None else "shipped data"


def history_table(versions) -> pd.DataFrame:
    """A profile's versions, newest first: who saved it, when, from where and what changed."""
    rows = [{"version": v.version, "saved by": v.author or "shipped data", "when": _when(v.created_at),
             "source": v.source, "what changed": "; ".join(field_name(f) for f in v.changes) or "—"}
            for v in reversed(versions)]
    return pd.DataFrame(rows, columns=["version", "saved by", "when", "source", "what changed"])


def version_label(v) -> str:
    who = f", {v.author}" if v.author else ""
    return f"version {v.version} ({_when(v.created_at)}{who})"


def _value(field: str, value) -> str:
    if field == "country_code":
        return country_name(value)
    if field == "population" and has_value(value):
        return f"{int(value):,}"
    return shown(value)


def version_diff_table(diff: dict, a: int, b: int) -> pd.DataFrame:
    """compare_versions' fields that differ, in survey wording: field, value in a, value in b."""
    rows = [{"": field_name(f), f"version {a}": _value(f, x), f"version {b}": _value(f, y)} for f, (x, y) in diff.items()]
    return pd.DataFrame(rows, columns=["", f"version {a}", f"version {b}"])


# ---------------------------------------------------------------------------- board
def post_label(post, city_names: dict) -> str:
    """A post in one line for a picker: '#3 need, Milton Keynes: Joint procurement of e-buses'."""
    who = city_names.get(post.city_id, post.city_id) if post.city_id else post.org_name
    first = " ".join(post.text.split())
    return f"#{post.id} {post.kind}, {who}: {first[:80] + '…' if len(first) > 80 else first}"


def match_sum(match) -> str:
    """'0.123 (Shared tags) + 0.245 (Meaning of the texts) = 0.368': the terms that make the score."""
    terms = " + ".join(f"{t.contribution:.3f} ({t.label or facet_label(t.name)})" for t in match.explanation)
    return f"{terms} = {match.score:.3f}"


def board_matches_table(result, kind: str, locale: str = "en") -> pd.DataFrame:
    """The matches of one kind ("post", "organisation", "city", "case study") as rows: what, who,
    score, why (in words, in the interface language) and how the score adds up."""
    rows = []
    for m in result.matches:
        if kind == "case study":
            what, by = m.title, ", ".join(x for x in (m.city, country_name(m.country_code) if m.country_code else None) if x)
        else:
            what, by = m.title, m.by
            if kind == "organisation":
                by = ORG_KIND_NAMES.get(by, by)
        if kind == "city":
            by = ""  # the title names the city and its country
        rows.append({"match": what, "from": by if by is not None else UNKNOWN, "score": round(m.score, 3),
                     "why": reasons_text(m.reasons, locale, 3) or "—", "how the score adds up": match_sum(m)})
    return pd.DataFrame(rows, columns=["match", "from", "score", "why", "how the score adds up"])


def organisations_table(orgs) -> pd.DataFrame:
    rows = [{"organisation": o.name, "kind": ORG_KIND_NAMES.get(o.kind, o.kind), "sectors": shown(o.sectors),
             "services": shown(o.services), "countries": shown([country_name(c) for c in o.countries]),
             "languages": shown(o.languages), "status": o.status, "website": o.website or ""} for o in orgs]
    return pd.DataFrame(rows, columns=["organisation", "kind", "sectors", "services", "countries", "languages",
                                       "status", "website"])


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


def saved_list_table(items) -> pd.DataFrame:
    rows = [{"name": x.name, "kind": SAVED_KIND_NAMES.get(x.kind, x.kind), "saved by": x.owner,
             "when": _when(x.created_at), "objective": x.objective or "—",
             "rules": "; ".join(x.rules.get("rules", [])) if isinstance(x.rules.get("rules"), list) else
             "; ".join(f"{k}: {v}" for k, v in x.rules.items() if v not in (None, "", [], {}) and k != "weights")}
            for x in items]
    return pd.DataFrame(rows, columns=["name", "kind", "saved by", "when", "objective", "rules"])


def saved_item_label(item) -> str:
    return f"{item.name} ({SAVED_KIND_NAMES.get(item.kind, item.kind)}, {_when(item.created_at)}, {item.owner})"


def saved_table(item) -> pd.DataFrame:
    """A saved item's content as the table to show and download (CSV)."""
    p = item.payload
    if item.kind == "shortlist":
        return pd.DataFrame([{"rank": m.get("rank"), "city": m.get("name"), "country": country_name(m.get("country_code")),
                              "score": m.get("score"), "why": m.get("why")} for m in p.get("members", [])],
                            columns=["rank", "city", "country", "score", "why"])
    if item.kind == "cohort_plan":
        return pd.DataFrame([{"cohort": c.get("number", i + 1), "city": m.get("name"),
                              "country": country_name(m.get("country_code"))}
                             for i, c in enumerate(p.get("cohorts", [])) for m in c.get("members", [])],
                            columns=["cohort", "city", "country"])
    if item.kind == "review_plan":
        return pd.DataFrame([{"plan": r.get("plan"), "reviewer": r.get("reviewer"), "affinity": r.get("affinity")}
                             for r in p.get("reviews", [])], columns=["plan", "reviewer", "affinity"])
    return pd.DataFrame([{"city": (x.get("a") if isinstance(x, dict) else x[0]),
                          "twin": (x.get("b") if isinstance(x, dict) else x[1]),
                          "themes": shown(x.get("themes") if isinstance(x, dict) else None)}
                         for x in p.get("pairs", [])], columns=["city", "twin", "themes"])


def _names_in(payload: dict) -> dict:
    """city id -> name, from what a payload holds."""
    out = {}
    for group in (payload.get("members", []), *[c.get("members", []) for c in payload.get("cohorts", [])]):
        for m in group:
            if isinstance(m, dict) and m.get("city_id"):
                out[m["city_id"]] = m.get("name") or m["city_id"]
    for r in payload.get("reviews", []):
        out[r.get("plan_id")] = r.get("plan") or r.get("plan_id")
        out[r.get("reviewer_id")] = r.get("reviewer") or r.get("reviewer_id")
    return out


def comparison_lines(kind: str, diff: dict, old: dict, new: dict) -> list[str]:
    """compare_saved's result in words, with city names instead of ids."""
    names = {**_names_in(old), **_names_in(new)}

    def name(x) -> str:
        if isinstance(x, (list, tuple)):
            return " → ".join(name(y) for y in x) if kind == "review_plan" else ", ".join(name(y) for y in x)
        return str(names.get(x, x))

    words = {"added": "new in this run", "removed": "no longer in this run", "kept": "in both",
             "moved": "moved to another cohort", "joined": "joined the call", "left": "left the call"}
    if kind == "cohort_plan":
        keys = ["kept", "moved", "joined", "left"]
        lines = [f"Cohorts unchanged: {len(diff['kept'])}; changed or new: {len(diff['added'])}."]
    else:
        keys = ["added", "removed", "kept"]
        lines = []
    for key in keys:
        items = diff.get(key, [])
        if kind == "cohort_plan" and key == "kept":
            continue
        shown_items = "; ".join(name(x) for x in items[:30]) + ("; …" if len(items) > 30 else "")
        lines.append(f"{words[key].capitalize()} ({len(items)}): {shown_items or 'none'}")
    return lines


def post_card(post, city_names: dict) -> str:
    """A post as Markdown, every user-written part escaped (texts, tags, organisation names)."""
    from .safe import md_escape

    who = md_escape(city_names.get(post.city_id, post.city_id)) if post.city_id else \
        f"{md_escape(post.org_name)} (organisation)"
    word = "Need" if post.kind == "need" else "Offer"
    tags = " · ".join(md_escape(t) for t in post.tags)
    hidden = " (hidden by a moderator)" if post.status == "hidden" else ""
    return (f"**{word} #{post.id}** from **{who}**{hidden}, {_when(post.created_at)}  \n"
            + (f"*{tags}*  \n" if tags else "") + md_escape(post.text))
