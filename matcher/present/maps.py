"""What the app's maps show, with no tile server: country outlines shipped with the package
(Natural Earth 1:110m admin-0 countries, public domain, as TopoJSON from the world-atlas npm
package 2.0.2, ISC licence: matcher/assets/geo), the points with their hover text, and colours
for cohorts that stay distinct for as many cohorts as a plan has."""
from __future__ import annotations

import colorsys
import json
import math
from functools import lru_cache
from importlib import resources

import pandas as pd

from .i18n import translator
from .view import country_name, reasons_text

OUTLINES_SOURCE = ("Natural Earth 1:110m admin-0 countries (public domain), TopoJSON from the world-atlas "
                   "npm package 2.0.2 (ISC licence)")


# Europe and its neighbours (lon, lat): the cities of the data lie inside; the map never needs more.
REGION = (-32.0, 25.0, 60.0, 75.0)


@lru_cache(maxsize=1)
def country_outlines() -> dict:
    """The country outlines around Europe as TopoJSON (object 'countries'), read and cut once.

    The outlines travel to the browser inside every map's spec, on every rerun: the world file
    is 108 kB, its countries touching REGION a fraction of that."""
    text = resources.files("matcher.assets").joinpath("geo", "countries-110m.json").read_text(encoding="utf-8")
    return topology_within(json.loads(text), REGION)


def _arc_points(arc: list, transform: dict) -> list[tuple[float, float]]:
    """A delta-encoded, quantized TopoJSON arc as (lon, lat) points."""
    (sx, sy), (tx, ty) = transform["scale"], transform["translate"]
    x = y = 0
    points = []
    for dx, dy in arc:
        x, y = x + dx, y + dy
        points.append((x * sx + tx, y * sy + ty))
    return points


def _arc_ids(arcs) -> list[int]:
    """Every arc index a geometry's nested 'arcs' lists name (~i means arc i reversed)."""
    if isinstance(arcs, int):
        return [arcs if arcs >= 0 else ~arcs]
    return [i for part in arcs for i in _arc_ids(part)]


def _renumber(arcs, new_index: dict[int, int]):
    if isinstance(arcs, int):
        return new_index[arcs] if arcs >= 0 else ~new_index[~arcs]
    return [_renumber(part, new_index) for part in arcs]


def topology_within(topology: dict, box: tuple[float, float, float, float]) -> dict:
    """The 'countries' of a TopoJSON topology that have a point inside `box` (lon0, lat0, lon1,
    lat1), with only the arcs they use (renumbered); other objects are dropped."""
    lon0, lat0, lon1, lat1 = box
    inside = {i for i, arc in enumerate(topology["arcs"])
              if any(lon0 <= x <= lon1 and lat0 <= y <= lat1 for x, y in _arc_points(arc, topology["transform"]))}
    kept = [g for g in topology["objects"]["countries"]["geometries"] if set(_arc_ids(g.get("arcs", []))) & inside]
    used = sorted({i for g in kept for i in _arc_ids(g["arcs"])})
    new_index = {old: new for new, old in enumerate(used)}
    geometries = [{**g, "arcs": _renumber(g["arcs"], new_index)} for g in kept]
    return {"type": "Topology", "transform": topology["transform"], "arcs": [topology["arcs"][i] for i in used],
            "objects": {"countries": {"type": "GeometryCollection", "geometries": geometries}}}


def twins_map_points(result, locale: str = "en") -> pd.DataFrame:
    """One row per city on the twins map: the asking city first (role 'asking city'), then each
    twin with its rank, score and the first reasons (hover text); cities without coordinates are left out."""
    t = translator(locale)
    asker = result.asker
    rows = [{"city": asker.get("name") or t("your city"), "country": country_name(asker.get("country_code"), locale),
             "role": t("asking city"), "rank": 0, "score": None, "why": t("the city asking"),
             "lat": asker.get("lat"), "lon": asker.get("lon")}]
    rows += [{"city": m.name, "country": country_name(m.country_code, locale), "role": t("twin"), "rank": m.rank,
              "score": round(m.score, 3), "why": reasons_text(m.reasons, locale, 2) or t("unknown"),
              "lat": m.lat, "lon": m.lon} for m in result.matches]
    frame = pd.DataFrame(rows)
    frame["label"] = [f"{c}" if r == 0 else f"{r}. {c}" for c, r in zip(frame["city"], frame["rank"])]
    frame["score"] = frame["score"].map(lambda v: "" if v is None or pd.isna(v) else f"{v:.3f}")
    return frame.dropna(subset=["lat", "lon"]).reset_index(drop=True)


# Glasbey's maximally distinct colours (colorcet "glasbey_dark"-like, light ones left out: they vanish
# on the pale land), then hues spread by the golden angle for still more cohorts.
_DISTINCT = ("#d60000", "#8c3bff", "#018700", "#00acc6", "#e6a500", "#ff7ed1", "#6b004f", "#573b00", "#005659",
             "#0000dd", "#a17569", "#bf03b8", "#645474", "#790000", "#0774d8", "#004b00", "#8e7900", "#ff7266",
             "#5d7e66", "#eb0077", "#a57bb8", "#5900a3", "#03c600", "#9e4b00", "#1f6e9c", "#708297", "#3b7c00",
             "#ca6b3d", "#3a2465", "#00806f")


def cohort_colours(n: int) -> list[str]:
    """n colours that stay apart however many cohorts there are."""
    out = list(_DISTINCT[:n])
    for i in range(len(out), n):
        hue = (i * 0.618033988749895) % 1.0
        r, g, b = colorsys.hls_to_rgb(hue, (0.35, 0.5)[i % 2], 0.8)
        colour = f"#{int(r * 255):02x}{int(g * 255):02x}{int(b * 255):02x}"
        out.append(colour if colour not in out else f"#{(int(colour[1:], 16) ^ 0x010101):06x}")
    return out


def map_extent(frame: pd.DataFrame, pad: float = 2.0, grid: float | None = None) -> dict:
    """A GeoJSON box around the points (the map's projection fits it), padded in degrees. With
    `grid`, the box is widened to a grid of that many degrees: on a map that a slider redraws (the
    twins), a move that shifts a twin a little then keeps the same box, so the browser swaps the
    points instead of redrawing the whole map."""
    lon0, lon1 = float(frame["lon"].min()) - pad, float(frame["lon"].max()) + pad
    lat0, lat1 = float(frame["lat"].min()) - pad, float(frame["lat"].max()) + pad
    if grid:
        lon0, lat0 = math.floor(lon0 / grid) * grid, math.floor(lat0 / grid) * grid
        lon1, lat1 = math.ceil(lon1 / grid) * grid, math.ceil(lat1 / grid) * grid
    return {"type": "Feature", "properties": {},
            "geometry": {"type": "MultiPoint", "coordinates": [[lon0, lat0], [lon1, lat1]]}}
