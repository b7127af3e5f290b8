"""The one definition of "ahead": who can mentor whom.

Twins (mentor mode), cohorts (mentors per cohort) and reviewers (a more mature reviewer, the
mentor bonus in the affinity) all ask this module, so "ahead" means the same everywhere:
- a peer is *more mature* than an asker when both maturity levels are known and the peer's is
  higher (starting < developing < advanced);
- a city *is a mentor* (for a cohort) when its maturity is advanced, or when it is not
  'starting' and its own net-zero target is `target_year_max` or earlier;
- the *mentor bonus* of a peer for an asker adds up what the peer is ahead in, measured where the
  data says it (Covenant of Mayors inventories and plans): maturity, an earlier climate target, a
  more ambitious 2030 target, a larger cut of emissions per inhabitant since the baseline, actions
  (with their estimated CO2 reduction) in the asker's sectors, and experience (case studies,
  pilot activities, initiatives) in the asker's barriers and sectors. The wording quotes the
  numbers; where nothing is known it says so.
- a *two-way* pair adds what each side can teach the other: the harmonic mean of the two
  directions' bonuses, so a pair ranks high only when both sides learn something.
"""
from __future__ import annotations

import pandas as pd

from .facets import has_value
from .scoring import Term
from .vocab import ACTION_SECTORS, MATURITY_LEVELS, PRIORITY_ACTION_SECTORS, expand_barriers
from .wording import Num, Reason, Terms, survey_list, survey_term

YOUR = Reason("your")  # the asker's side in the notes of what a peer is ahead in
MATURITY_RANK = {level: i for i, level in enumerate(MATURITY_LEVELS)}
TOP_MATURITY = len(MATURITY_LEVELS) - 1
# How much each way of being ahead counts in the bonus (sums to 1).
MENTOR_PARTS = {"maturity": 0.15, "target": 0.15, "ambition": 0.1, "progress": 0.2, "actions": 0.2,
                "experience": 0.2}
AHEAD_MARGIN_PCT = 5.0  # points by which a reduction or a target must be ahead to count
FULL_PROGRESS_PCT = 40.0  # a cut of emissions per inhabitant this large counts in full
FULL_ACTIONS = 20  # this many actions in the asker's sectors count in full
# Emission-inventory sectors -> the action-plan sectors that act on them.
EMISSION_ACTION_SECTORS = {"residential": "residential", "tertiary": "tertiary", "municipal": "municipal",
                           "transport": "transport", "industry": "industry", "waste": "waste"}


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
        return True, Reason("maturity {theirs}", theirs=survey_term(MATURITY_LEVELS[TOP_MATURITY]))
    year = target_year(row.get("net_zero_target_year"))
    if year is not None and year <= target_year_max and level != 0:
        return True, Reason("target {year}", year=year)
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


def mentor_rule_words(target_year_max: int) -> Reason:
    return Reason("maturity {top}, or a target of {year} or earlier and maturity not '{first}'",
                  top=survey_term(MATURITY_LEVELS[TOP_MATURITY]), year=target_year_max,
                  first=survey_term(MATURITY_LEVELS[0]))


class Experience:
    """Case studies by city, so the bonus does not scan the whole library for every peer."""

    def __init__(self, cases: pd.DataFrame | None = None):
        self.by_city: dict[str, list[dict]] = {}
        if cases is not None and len(cases) and "city_id" in cases.columns:
            for case in cases.to_dict("records"):
                if isinstance(case.get("city_id"), str):
                    self.by_city.setdefault(case["city_id"], []).append(case)

    def relevant(self, asker: dict, peer: dict, your: Reason | None = None) -> list[Reason]:
        """The peer's case studies and initiatives that touch the asker's barriers or sectors
        (`your` names the asker's side: "your" by default)."""
        barriers = set(expand_barriers(asker.get("barriers")))
        sectors = {s.lower() for s in (asker.get("priority_sectors") or [])}
        found = [Reason("case study '{title}'", title=c["title"]) for c in self.by_city.get(peer.get("city_id"), [])
                 if barriers & set(c["barriers_addressed"]) or sectors & {s.lower() for s in c["sectors"]}]
        shared_sectors = [s for s in (peer.get("priority_sectors") or []) if s.lower() in sectors]
        if len(peer.get("initiatives") or []) and shared_sectors:
            listed = "; ".join(f"'{i}'" for i in list(peer["initiatives"])[:2])
            found.append(Reason("documented initiatives ({initiatives}) in {your} priority sectors ({sectors})",
                                initiatives=listed, your=your or YOUR, sectors=survey_list(shared_sectors, ", ")))
        return found


def climate_target_year(row: dict) -> int | None:
    """The earlier of the net-zero target and the climate-neutrality commitment (either may be unknown)."""
    years = [y for y in (target_year(row.get("net_zero_target_year")), target_year(row.get("neutrality_target_year")))
             if y is not None]
    return min(years) if years else None


def _number(row: dict, column: str) -> float | None:
    value = row.get(column)
    return float(value) if has_value(value) else None


def asker_sectors(asker: dict) -> list[str]:
    """The action-plan sectors the asker needs: its survey priority sectors, else its two largest
    emission sectors, else the sectors its own plan leaves empty."""
    wanted = [a for s in (asker.get("priority_sectors") or []) for a in PRIORITY_ACTION_SECTORS.get(s, ())]
    if not wanted:
        shares = {k: _number(asker, f"emission_share_{k}") for k in EMISSION_ACTION_SECTORS}
        top = sorted((k for k, v in shares.items() if v), key=lambda k: -shares[k])[:2]
        wanted = [EMISSION_ACTION_SECTORS[k] for k in top]
    if not wanted and _number(asker, "actions_n_total"):
        wanted = [k for k in ACTION_SECTORS if k != "other" and not _number(asker, f"actions_n_{k}")]
    return list(dict.fromkeys(wanted))


def _ahead_in_maturity(asker: dict, peer: dict, parts: dict, notes: list, your: Reason) -> None:
    mine, theirs = asker.get("maturity"), peer.get("maturity")
    # Against an unknown level only a peer above the first level counts ('starting' is nobody's lead).
    if has_value(theirs) and (more_mature(theirs, mine) if has_value(mine) else (maturity_rank(theirs) or 0) > 0):
        parts["maturity"] = 1.0 if has_value(mine) else 0.5
        notes.append(Reason("maturity {theirs} vs {your} {mine}", theirs=survey_term(theirs), your=your,
                            mine=survey_term(mine)) if has_value(mine) else
                     Reason("maturity {theirs}", theirs=survey_term(theirs)))


def _ahead_in_target(asker: dict, peer: dict, parts: dict, notes: list, your: Reason) -> None:
    mine, theirs = climate_target_year(asker), climate_target_year(peer)
    if theirs is not None and (mine is None or theirs < mine):
        parts["target"] = 1.0
        notes.append(Reason("climate target {theirs} vs {your} {mine}", theirs=theirs, your=your, mine=mine)
                     if mine is not None else
                     Reason("climate target {theirs} ({your} target: none on record)", theirs=theirs, your=your))
    mine_pct, theirs_pct = _number(asker, "target_2030_reduction_pct"), _number(peer, "target_2030_reduction_pct")
    if theirs_pct is not None and (mine_pct is None or theirs_pct >= mine_pct + AHEAD_MARGIN_PCT):
        parts["ambition"] = 1.0 if mine_pct is not None else 0.5
        notes.append(Reason("2030 target -{theirs}% vs {your} -{mine}%", theirs=Num(theirs_pct, "g"), your=your,
                            mine=Num(mine_pct, "g")) if mine_pct is not None else
                     Reason("2030 target -{theirs}%", theirs=Num(theirs_pct, "g")))


def _ahead_in_progress(asker: dict, peer: dict, parts: dict, notes: list, your: Reason) -> None:
    mine, theirs = _number(asker, "progress_per_capita_pct"), _number(peer, "progress_per_capita_pct")
    if theirs is None or theirs >= 0 or (mine is not None and theirs > mine - AHEAD_MARGIN_PCT):
        return
    parts["progress"] = min(1.0, -theirs / FULL_PROGRESS_PCT)
    since = peer.get("progress_baseline_year")
    cut = Num(-theirs, ".0f")
    note = Reason("cut emissions per inhabitant {cut}% since {year}", cut=cut, year=int(since)) if has_value(since) \
        else Reason("cut emissions per inhabitant {cut}%", cut=cut)
    notes.append(Reason("{note} ({your}: {change}%)", note=note, your=your, change=Num(mine, "+.0f"))
                 if mine is not None else note)


def _ahead_in_actions(asker: dict, peer: dict, parts: dict, notes: list, your: Reason) -> None:
    sectors = asker_sectors(asker)
    counts = {k: _number(peer, f"actions_n_{k}") or 0.0 for k in sectors}
    total = sum(counts.values())
    if not total:
        return
    parts["actions"] = min(1.0, total / FULL_ACTIONS)
    top = max(counts, key=counts.get)
    co2 = _number(peer, f"actions_co2_t_{top}")
    count, sector = Num(counts[top], ".0f"), Reason(ACTION_SECTORS[top])
    note = Reason("{count} actions in {sector}, est. {kt} kt CO2/yr", count=count, sector=sector,
                  kt=Num(co2 / 1000, ",.0f")) if co2 else Reason("{count} actions in {sector}", count=count, sector=sector)
    notes.append(Reason("{note} ({total} in {your} sectors)", note=note, total=Num(total, ".0f"), your=your)
                 if len(sectors) > 1 else note)


def _ahead(asker: dict, peer: dict, experience: Experience, your: Reason | None = None) -> tuple[float, list[Reason]]:
    """How far `peer` is ahead of `asker` (0..1) and the notes that say in what (`your` names
    the asker's side in them)."""
    parts: dict[str, float] = {}
    notes: list[Reason] = []
    your = your or YOUR
    for check in (_ahead_in_maturity, _ahead_in_target, _ahead_in_progress, _ahead_in_actions):
        check(asker, peer, parts, notes, your)
    relevant = experience.relevant(asker, peer, your)
    if relevant:
        parts["experience"] = min(1.0, len(relevant) / 2)
        notes.append(Reason("experience: {items}", items=Terms(relevant[:3], "; ")))
    return sum(MENTOR_PARTS[p] * v for p, v in parts.items()), notes


def _nothing_known(peer: dict) -> bool:
    columns = ("maturity", "net_zero_target_year", "neutrality_target_year", "target_2030_reduction_pct",
               "progress_per_capita_pct", "actions_n_total")
    return not any(has_value(peer.get(c)) for c in columns)


def mentor_term(asker: dict, peer: dict, weight: float, experience: Experience) -> Term:
    """The mentor bonus of `peer` for `asker` as one explained term (weight x how far ahead)."""
    raw, notes = _ahead(asker, peer, experience)
    if notes:
        detail = Reason("ahead of you: {notes}", notes=Terms(notes, "; "))
    elif _nothing_known(peer):
        detail = Reason("not known whether ahead: no maturity, target, progress or action plan on record")
    else:
        detail = Reason("no sign of being ahead where you are stuck")
    return Term("mentor", weight, raw, weight * raw, detail, label="Ahead of you")


def two_way_term(asker: dict, peer: dict, weight: float, experience: Experience) -> Term:
    """What each side of a pair can teach the other, as one term: weight x the harmonic mean of
    the two directions (symmetric: the pair scores the same from either side)."""
    name = peer.get("name") or Reason("they")
    to_asker, notes_in = _ahead(asker, peer, experience)
    to_peer, notes_out = _ahead(peer, asker, experience, your=Reason("{name}'s", name=name))
    mean = 2 * to_asker * to_peer / (to_asker + to_peer) if to_asker + to_peer > 0 else 0.0
    nothing = Reason("nothing on record")
    detail = Reason("{name} can teach you: {theirs} | you can teach {name}: {yours}", name=name,
                    theirs=Terms(notes_in, "; ") if notes_in else nothing,
                    yours=Terms(notes_out, "; ") if notes_out else nothing)
    return Term("two_way", weight, mean, weight * mean, detail, label="Learning both ways")
