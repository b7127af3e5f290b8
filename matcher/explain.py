"""Explained twin matches: one term per facet (weight x block similarity, worded by the facet
registry), the reasons in survey wording, and what could not be compared because it is unknown.
The terms add up to the score by construction: the score is their sum."""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from .facets import Facet, Pair
from .scoring import Match, Term
from .wording import Reason, Terms, words

# Columns of a profile that results carry about the asking city.
PUBLIC_COLUMNS = ("city_id", "name", "country_code", "population", "lat", "lon", "languages", "net_zero_target_year",
                  "maturity", "barriers", "priority_sectors", "known_facets", "completeness")
REASON_FLOOR = 0.005  # terms contributing less than this are not listed as reasons
PLACE_FACETS = frozenset({"size", "geography", "languages"})  # what every town has: weak evidence alone
FEW_FACETS = 5  # compared on fewer facets than this: limited evidence


@dataclass(kw_only=True)
class TwinMatch(Match):
    city_id: str
    name: str
    country_code: str
    not_compared: list[str] = field(default_factory=list)
    compared: list[str] = field(default_factory=list)  # facets known on both sides
    evidence: str = ""  # how much the match rests on, in words (a Reason)
    weak: bool = False  # rests on population, place and language only (or on almost nothing)
    population: float | None = None
    lat: float | None = None
    lon: float | None = None


def _float_or_none(value) -> float | None:
    return None if value is None or pd.isna(value) else float(value)


def public_profile(row: dict) -> dict:
    """The asking city as results show it: plain Python values, unknown as None."""
    out = {}
    for key in PUBLIC_COLUMNS:
        value = row.get(key)
        if isinstance(value, np.ndarray):
            value = value.tolist()
        if (isinstance(value, float) and math.isnan(value)) or value is pd.NA:
            value = None
        out[key] = value
    return out


def facet_terms(facets: tuple[Facet, ...], slices: dict, q: np.ndarray, x: np.ndarray, weights: dict,
                asker: dict, peer: dict, theme: str | None) -> tuple[list[Term], list[str], list[str]]:
    """One term per facet, the "not compared, unknown for X: ..." notes, and the facets compared."""
    terms, unknown, compared = [], {}, []
    for facet in facets:
        sl = slices[facet.name]
        sim = float(q[sl].astype(np.float64) @ x[sl].astype(np.float64))
        asker_known, peer_known = facet.known(asker, theme), facet.known(peer)
        if asker_known and peer_known:
            detail = facet.describe(Pair(asker, peer, sim, theme))
            compared.append(facet.name)
        else:
            who = Reason("both") if not (asker_known or peer_known) else (
                asker.get("name") or Reason("you") if not asker_known else peer["name"])
            unknown.setdefault(who, []).append(facet.unknown)
            detail = ""
        terms.append(Term(facet.name, weights[facet.name], sim, weights[facet.name] * sim, detail, facet.label))
    notes = [Reason("not compared, {rest}", rest=Reason("unknown for {who}: {what}", who=who, what=words(whats)))
             for who, whats in unknown.items()]
    return terms, notes, compared


def evidence(compared: list[str], labels: dict[str, str], total: int) -> tuple[Reason, bool]:
    """How much a match rests on, in words, and whether that is weak."""
    named = words(labels.get(c, c).lower() for c in compared)
    if not compared or set(compared) <= PLACE_FACETS:
        if not compared:
            return Reason("weak: rests on nothing known on both sides only"), True
        return Reason("weak: rests on {facets} only", facets=named), True
    if len(compared) < FEW_FACETS:
        return Reason("limited: compared on {n} of {total} facets ({facets})", n=len(compared), total=total,
                      facets=named), False
    return Reason("compared on {n} of {total} facets", n=len(compared), total=total), False


def shared_memberships(a: dict, b: dict) -> list[Reason]:
    out = []
    if a.get("eu_mission") and b.get("eu_mission"):
        out.append(Reason("both are EU Mission climate-neutral cities"))
    shared = [n for n in (a.get("networks") or []) if n in (b.get("networks") or []) and n != "EU Mission 100"]
    if shared:
        out.append(Reason("both in {networks}", networks=Terms(shared)))
    return out


def twin_match(terms: list[Term], not_compared: list[str], compared: list[str], asker: dict,
               peer: dict) -> TwinMatch:
    """A match from its terms: score = their sum; reasons = the wording of the terms that count,
    biggest first, then shared memberships; the evidence it rests on."""
    reasons = [t.detail for t in sorted(terms, key=lambda t: -t.contribution)
               if t.contribution > REASON_FLOOR and t.detail]
    words, weak = evidence(compared, {t.name: t.label for t in terms}, len(terms))
    return TwinMatch(
        city_id=peer["city_id"], name=peer["name"], country_code=peer["country_code"],
        score=float(sum(t.contribution for t in terms)), rank=0, explanation=terms,
        reasons=reasons + shared_memberships(asker, peer), not_compared=not_compared, compared=compared,
        evidence=words, weak=weak,
        population=_float_or_none(peer.get("population")), lat=_float_or_none(peer.get("lat")),
        lon=_float_or_none(peer.get("lon")))


def add_term(match: TwinMatch, term: Term) -> None:
    """One more explained term (the mentor bonus): the score stays the sum of the terms."""
    match.explanation.append(term)
    match.score = float(sum(t.contribution for t in match.explanation))
    if term.contribution > REASON_FLOOR and term.detail:
        match.reasons.insert(0, term.detail)
