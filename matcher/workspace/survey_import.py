"""A survey export into the workspace: `matcher.survey.import_survey` maps and validates it, then
every answered row becomes a new profile version (all rows or none). A row's city is found by
name and country among the merged profiles; a city that is not there is created."""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy.exc import IntegrityError

from ..errors import AmbiguousCityError, ProfileValidationError, UnknownCityError
from ..lookup import CityLookup
from ..survey import SurveyImport, import_survey
from ..wording import Reason, Terms
from .db import Workspace
from .errors import WorkspaceError
from .profiles import apply_changes, current_version, merged_profiles, row_to_profile
from .users import Actor, load_actor, require

IDENTITY = ("city_id", "name", "country_code", "country")  # how a row is matched, not what it changes


@dataclass
class WorkspaceSurveyImport:
    report: SurveyImport  # the per-column and per-answer mapping report
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    versions: dict[str, int] = field(default_factory=dict)  # city_id -> its new version

    def summary(self) -> str:
        return (f"{len(self.created)} city(ies) created, {len(self.updated)} updated, "
                f"{len(self.unchanged)} unchanged.")


def import_survey_to_workspace(ws: Workspace, path: str | Path, actor: Actor, *, strict: bool = False,
                               keep_unmapped: bool = False) -> WorkspaceSurveyImport:
    """Store a survey export's answers as new versions; an answer left empty changes nothing."""
    with ws.transaction() as s:  # refuse early, before reading the export
        require(load_actor(s, actor), "import")
    result = import_survey(path, strict=strict, keep_unmapped=keep_unmapped)
    mapped = {c.mapped_to for c in result.columns if c.mapped_to}
    answered = mapped - set(IDENTITY)
    lookup = CityLookup(merged_profiles(ws))
    out = WorkspaceSurveyImport(result)
    plan, problems = [], []
    for _, row in result.profiles.iterrows():
        prof = row_to_profile(row)
        try:
            if "city_id" in mapped and lookup.row_of_id(prof["city_id"]) is not None:
                hit = lookup.row_of_id(prof["city_id"])  # the export names the city by its id
            elif "city_id" in mapped:
                raise UnknownCityError(prof["city_id"])
            else:
                hit = lookup.resolve(prof["name"], prof["country_code"])
            city_id = str(lookup.profiles.iloc[hit]["city_id"])
            changes = {f: prof[f] for f in answered if prof.get(f) not in (None, [])}
        except UnknownCityError:
            city_id, changes = prof["city_id"], {f: v for f, v in prof.items() if v not in (None, [])}
        except AmbiguousCityError as exc:
            row_no = re.search(r"row (\d+)$", prof.get("provenance") or "")
            problems.append({"file": str(path), "row": int(row_no.group(1)) if row_no else None, "column": "name",
                             "value": prof["name"],
                             "message": Reason("'{name}' matches several cities: {candidates}. Add a city_id "
                                               "column giving the id in [brackets]", name=prof["name"],
                                               candidates=Terms(exc.candidates, "; "))})
            continue
        plan.append((city_id, changes, prof.get("provenance") or f"survey {Path(path).name}"))
    if problems:
        raise ProfileValidationError(problems, str(path), "survey")
    try:
        with ws.transaction(write=True) as s:
            me = load_actor(s, actor)
            require(me, "import")
            for city_id, changes, source in plan:
                existed = lookup.row_of_id(city_id) is not None or city_id in out.versions
                current = current_version(ws, s, city_id)
                info = apply_changes(ws, s, me, city_id, changes, current.version if current else 0,
                                     source=source[:300])
                if info is None:
                    out.unchanged.append(city_id)
                    continue
                out.versions[city_id] = info.version
                (out.updated if existed else out.created).append(city_id)
    except IntegrityError:
        raise WorkspaceError(Reason("another session saved profiles during the import; nothing was imported, "
                                    "run it again")) from None
    out.updated = list(dict.fromkeys(c for c in out.updated if c not in out.created))
    return out

