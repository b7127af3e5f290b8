"""The one definition of "ahead": who can mentor whom.

Twins (mentor mode), cohorts (mentors per cohort) and reviewers (a more mature reviewer, the
mentor bonus in the affinity) all ask this module, so "ahead" means the same everywhere:
- a peer is *more mature* than an asker when both maturity levels are known and the peer's is
  higher (starting < developing < advanced);
- a city *is a mentor* (for a cohort) when its maturity is advanced, or when it is not
  'starting' and its own net-zero target is `target_year_max` or earlier;
- the *mentor bonus* of a peer for an asker adds up what the peer is ahead in: maturity, an
  earlier target, and experience (case studies or initiatives) in the asker's barriers and sectors.
"""
from __future__ import annotations

import pandas as pd

from .facets import has_value
from .scoring import Term
from .vocab import MATURITY_LEVELS, expand_barriers

MATURITY_RANK = {level: i for i, level in enumerate(MATURITY_LEVELS)}
TOP_MATURITY = len(MATURITY_LEVELS) - 1
MENTOR_PARTS = {"maturity": 0.35, "target": 0.35, "experience": 0.30}


def maturity_rank(value) -> int | None:
    """starting 0 < developing 1 < advanced 2; None when unknown."""
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return None
    return MATURITY_RANK.get(str(value))


def target_year(value) -> int | None:
    if value is None or pd.isna(value):
        return None
    return int(value)


def more_mature(peer_level, asker_level) -> bool:
    """Both known and the peer's higher. A peer of unknown maturity never counts as ahead."""
    peer, asker = maturity_rank(peer_level), maturity_rank(asker_level)
    return peer is not None and asker is not None and peer > asker


def is_mentor(row: dict, target_year_max: int = 2030) -> tuple[bool, str]:
    """Whether a city can mentor a cohort, and why in words."""
    level = maturity_rank(row.get("maturity"))
    if level == TOP_MATURITY:
        return True, "maturity advanced"
    year = target_year(row.get("net_zero_target_year"))
    if year is not None and year <= target_year_max and level != 0:
        return True, f"target {year}"
    return False, ""


def pathway_stage(row: dict) -> tuple[str | None, str]:
    """A city's stage on its pathway (starting < developing < advanced) and why: the surveyed
    maturity when known, else measured from its Covenant of Mayors data (a 2050 commitment or a
    climate-neutrality target: advanced; a 2030 commitment: developing; a 2020 commitment only:
    starting). None when nothing is known. Used to balance cohorts by stage, as the Covenant's
    peer-learning programme split its cities into units by stage of their pathway."""
    level = maturity_rank(row.get("maturity"))
    if level is not None:
        return MATURITY_LEVELS[level], f"surveyed maturity {MATURITY_LEVELS[level]}"
    commitments = set(row.get("com_commitments") if row.get("com_commitments") is not None else [])
    neutral = target_year(row.get("neutrality_target_year")) or target_year(row.get("net_zero_target_year"))
    if neutral is not None or "CoM2050" in commitments:
        return MATURITY_LEVELS[2], (f"climate-neutrality target {neutral}" if neutral else "Covenant 2050 commitment")
    if "CoM2030" in commitments:
        return MATURITY_LEVELS[1], "Covenant 2030 commitment"
    if "CoM2020" in commitments:
        return MATURITY_LEVELS[0], "Covenant 2020 commitment only"
    return None, ""


def mentor_rule_words(target_year_max: int) -> str:
    return f"maturity advanced, or a target of {target_year_max} or earlier and maturity not 'starting'"


class Experience:
    """Case studies by city, so the bonus does not scan the whole library for every peer."""

    def __init__(self, cases: pd.DataFrame | None = None):
        self.by_city: dict[str, list[dict]] = {}
        if cases is not None and len(cases) and "city_id" in cases.columns:
            for case in cases.to_dict("records"):
                if isinstance(case.get("city_id"), str):
                    self.by_city.setdefault(case["city_id"], []).append(case)

    def relevant(self, asker: dict, peer: dict) -> list[str]:
        """The peer's case studies and initiatives that touch the asker's barriers or sectors."""
        barriers = set(expand_barriers(asker.get("barriers")))
        sectors = {s.lower() for s in (asker.get("priority_sectors") or [])}
        found = [f"case study '{c['title']}'" for c in self.by_city.get(peer.get("city_id"), [])
                 if barriers & set(c["barriers_addressed"]) or sectors & {s.lower() for s in c["sectors"]}]
        shared_sectors = [s for s in (peer.get("priority_sectors") or []) if s.lower() in sectors]
        if len(peer.get("initiatives") or []) and shared_sectors:
            listed = "; ".join(f"'{i}'" for i in list(peer["initiatives"])[:2])
            found.append(f"documented initiatives ({listed}) and your priority sectors ({', '.join(shared_sectors)})")
        return found


def mentor_term(asker: dict, peer: dict, weight: float, experience: Experience) -> Term:
    """The mentor bonus of `peer` for `asker` as one explained term (weight x how far ahead)."""
    parts, notes = {}, []
    mine, theirs = asker.get("maturity"), peer.get("maturity")
    if has_value(theirs) and (not has_value(mine) or more_mature(theirs, mine)):
        parts["maturity"] = 1.0 if has_value(mine) else 0.5
        notes.append(f"maturity {theirs}" + (f" vs your {mine}" if has_value(mine) else ""))
    my_year, their_year = target_year(asker.get("net_zero_target_year")), target_year(peer.get("net_zero_target_year"))
    if their_year is not None and (my_year is None or their_year < my_year):
        parts["target"] = 1.0
        notes.append(f"target {their_year}" + (f" vs your {my_year}" if my_year is not None else " (you have none)"))
    relevant = experience.relevant(asker, peer)
    if relevant:
        parts["experience"] = min(1.0, len(relevant) / 2)
        notes.append("experience: " + "; ".join(relevant[:3]))
    raw = sum(MENTOR_PARTS[p] * v for p, v in parts.items())
    detail = ("ahead of you: " + "; ".join(notes)) if notes else "no sign of being ahead where you are stuck"
    return Term("mentor", weight, raw, weight * raw, detail, label="Ahead of you")
