"""Every result as the table users see and download (the app shows it, the CLI writes it as
CSV): twins, case studies, reviews and cohort members. One table per result kind, so the app's
table, the app's download and the CLI's CSV cannot drift apart."""
from __future__ import annotations

import pandas as pd


def _active_terms(matches) -> list[str]:
    """The terms that contribute to at least one match (the others are 0 everywhere)."""
    if not matches:
        return []
    names = [t.name for t in matches[0].explanation]
    names += [t.name for m in matches for t in m.explanation if t.name not in names]
    return [n for n in names if any(abs(t.contribution) > 1e-9 for m in matches for t in m.explanation if t.name == n)]


def twins_table(result) -> pd.DataFrame:
    """One row per twin: rank, city, score, the terms that contribute to any twin, why, what
    was not compared, and the city id."""
    active = _active_terms(result.matches)
    rows = []
    for m in result.matches:
        row = {"rank": m.rank, "city": m.name, "country": m.country_code, "score": round(m.score, 4)}
        terms = {t.name: t.contribution for t in m.explanation}
        row.update({name: round(terms.get(name, 0.0), 4) for name in active})
        row["why"] = "; ".join(m.reasons[:3])
        row["evidence"] = m.evidence
        row["not compared"] = "; ".join(n.replace("not compared, ", "") for n in m.not_compared)
        row["city_id"] = m.city_id
        rows.append(row)
    return pd.DataFrame(rows)


def cases_table(result) -> pd.DataFrame:
    rows = []
    for h in result.matches:
        row = {"rank": h.rank, "title": h.title, "city": h.city, "country": h.country_code, "score": round(h.score, 4)}
        row.update({t.name: round(t.contribution, 4) for t in h.explanation})
        row["why"] = "; ".join(h.reasons[:3])
        row["sectors"] = "; ".join(h.sectors)
        row["barriers"] = "; ".join(h.barriers)
        row["inferred tags"] = "; ".join(h.inferred_sectors + h.inferred_barriers)
        row["source"] = h.source
        row["case_id"] = h.case_id
        rows.append(row)
    return pd.DataFrame(rows)


def reviews_table(assignment) -> pd.DataFrame:
    return pd.DataFrame([{"plan": r.plan, "plan country": r.plan_country, "reviewer": r.reviewer,
                          "reviewer country": r.reviewer_country, "affinity": round(r.affinity, 4),
                          "twin score": round(r.twin_score, 4), "mentor bonus": round(r.mentor_bonus, 4),
                          "locked": r.locked, "why": "; ".join(r.reasons[:3]), "plan_id": r.plan_id,
                          "reviewer_id": r.reviewer_id} for r in assignment.reviews],
                        columns=["plan", "plan country", "reviewer", "reviewer country", "affinity", "twin score",
                                 "mentor bonus", "locked", "why", "plan_id", "reviewer_id"])


def cohort_members_table(plan, profiles: pd.DataFrame | None = None) -> pd.DataFrame:
    """One row per member: cohort, city, country, fit, mentor and why; with `profiles`, the
    coordinates for a map."""
    rows = []
    for cohort in plan.cohorts:
        for m in cohort.members:
            rows.append({"cohort": cohort.number, "city": m["name"], "country": m["country_code"],
                         "fit": round(m["fit"], 4), "mentor": bool(m["mentor"]), "mentor why": m["mentor_why"],
                         "city_id": m["city_id"]})
    table = pd.DataFrame(rows, columns=["cohort", "city", "country", "fit", "mentor", "mentor why", "city_id"])
    if profiles is not None and len(table):
        where = profiles.set_index("city_id")[["lat", "lon"]]
        table = table.join(where, on="city_id")
    return table
