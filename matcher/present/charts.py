"""The explanation's bar chart as a Vega-Lite spec (a plain dict: built on every rerun, so no
Altair object and no schema validation, which cost about 40 ms a slider move). Only the data
differ from one match to the next, so the browser swaps the bars instead of redrawing the chart."""
from __future__ import annotations

from .i18n import translator
from .view import facet_label, plain


def contribution_spec(match, lang: str = "en") -> dict:
    """One bar per term of `match`'s explanation (the bars add up to its score), hover: the
    facet, its contribution and the reason in words."""
    t = translator(lang)
    rows = [{"facet": t(term.label) if term.label else facet_label(term.name, lang),
             "contribution": term.contribution,
             "detail": plain(term.detail, lang) if term.detail else t("not compared")} for term in match.explanation]
    return {
        "data": {"values": rows},
        "mark": {"type": "bar"},
        "height": 28 * len(rows),
        "encoding": {
            "x": {"field": "contribution", "type": "quantitative",
                  "title": t("share of the score")},
            "y": {"field": "facet", "type": "nominal", "sort": "-x", "title": None},
            "color": {"condition": {"test": "datum.contribution > 0", "value": "#2a9d8f"}, "value": "#bbbbbb"},
            "tooltip": [{"field": "facet", "type": "nominal", "title": t("facet")},
                        {"field": "contribution", "type": "quantitative", "format": ".3f", "title": t("contribution")},
                        {"field": "detail", "type": "nominal", "title": t("detail")}],
        },
    }
