"""The composition root: settings, data and indexes put together once, and the recommenders
handed out from one object.

    m = Matcher.open()                       # shipped data; builds missing indexes
    m.twins.recommend("Lyon", k=5)           # twin cities, explained
    m.cases.search("green bonds")            # case studies (the default model)
    m.cohorts.plan("all", CohortRules())     # network staff
    m.reviewers.assign("all", rules=ReviewRules())

Settings are loaded once (validated), the case studies are read once and shared by the twin
side (the mentor's experience) and the case library, and nothing is kept in module globals.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import pandas as pd

from .board_matches import BoardMatcher, BoardMatches
from .builds import open_case_library, open_twins, read_case_table, twins_in_memory, with_city_ids
from .case_studies import CaseLibrary
from .cohorts import CohortPlan, CohortRules, plan_cohorts
from .facets import FACETS, Facet
from .features.text import Encoder, make_encoder
from .mentor import Experience
from .present.brief import twinning_brief
from .protocols import TwinSpace
from .reviewers import ReviewAssignment, ReviewRules, assign_reviewers
from .scoring import Result
from .settings import Settings, default_data_dir, default_index_dir
from .twins import TwinRecommender
from .errors import ConfigError
from .io import shipped_profiles_path
from .workspace import (Workspace, changed_since, get_post, latest_profiles, list_organisations, list_posts,
                        share_base_profiles)

REFRESH_OVERLAP = 50  # change ids looked at again on each refresh (out-of-order commits)


# A pick list shows the cities with a climate profile of this size or more (and every curated
# one: about 2,100 names); any other town is typed and looked up. A list of all 27,400 places
# cost the browser about 0.8 s on every rerun (slider moves: p50 1.22 s -> 0.41 s with 2,000
# names; `python -m benchmarks.bench_browser`, BENCHMARKS.md).
LISTED_MIN_POPULATION = 20_000


@dataclass(frozen=True)
class CohortPlanner:
    """Cohort planning over one twin space (matcher.cohorts)."""

    space: TwinSpace

    def plan(self, cities="all", rules: CohortRules | None = None, **options) -> CohortPlan:
        return plan_cohorts(self.space, cities, rules, **options)


@dataclass(frozen=True)
class ReviewerAssigner:
    """Peer-reviewer assignment over one twin space (matcher.reviewers)."""

    space: TwinSpace

    def assign(self, plans="all", reviewers=None, rules: ReviewRules | None = None, **options) -> ReviewAssignment:
        return assign_reviewers(self.space, plans, reviewers, rules, **options)


class Matcher:
    """Everything a front end needs, opened once: `.twins`, `.cases`, `.cohorts`, `.reviewers`."""

    def __init__(self, settings: Settings, twins: TwinRecommender, case_table: pd.DataFrame | None,
                 library_factory: Callable[[str], CaseLibrary] | None = None, workspace: Workspace | None = None):
        self.settings = settings
        self.twins = twins
        self.case_table = case_table
        self.cohorts = CohortPlanner(twins)
        self.reviewers = ReviewerAssigner(twins)
        self._library_factory = library_factory
        self._libraries: dict[str, CaseLibrary] = {}
        self.workspace = workspace
        self._seen = 0  # the workspace's change counter already laid over the profiles
        if workspace is not None:
            self.refresh()

    @classmethod
    def open(cls, data_dir: str | Path | None = None, index_dir: str | Path | None = None,
             settings: Settings | dict | None = None, encoder: Encoder | None = None, build: str = "missing",
             progress: Callable[[str], None] | None = None, facets: tuple[Facet, ...] = FACETS,
             workspace: Workspace | None = None) -> "Matcher":
        """The data folder (default: the shipped data) and its indexes (default: artifacts/).

        build="missing" builds an index when none exists; "stale" also rebuilds one made for other
        data or settings; "always" rebuilds; "never" only loads. `encoder` replaces the model that
        the `model_name` setting names (tests pass a fake one). With a `workspace`, its edited
        profiles are laid over the data (the saved index stays the base layer it was checked for)."""
        settings = settings if isinstance(settings, Settings) else Settings.load(settings)
        say = progress or (lambda msg: None)
        data_dir = Path(data_dir or default_data_dir())
        index_dir = Path(index_dir or default_index_dir())
        base = encoder or make_encoder(str(settings["model_name"]))
        profiles, featurizer, index, lookup = open_twins(data_dir, index_dir, base, settings, build, say, facets)
        if workspace is not None:  # its base layer is this same validated table: not read twice
            share_base_profiles(workspace, profiles, shipped_profiles_path(data_dir))
        case_table = read_case_table(data_dir, lookup, settings)
        twins = TwinRecommender(profiles, featurizer, index, lookup, Experience(case_table))
        case_root = index_dir.parent / "case_index"

        def library(model_name: str) -> CaseLibrary:
            model = encoder if encoder is not None and model_name == settings["model_name"] else make_encoder(model_name)
            return open_case_library(data_dir, case_root, model, twins, build, say, settings)

        return cls(settings, twins, case_table, library, workspace)

    @classmethod
    def from_profiles(cls, profiles: pd.DataFrame, encoder: Encoder, cases: pd.DataFrame | None = None,
                      settings: Settings | None = None, facets: tuple[Facet, ...] = FACETS) -> "Matcher":
        """In memory over a validated profile table (and optionally a case table): tests, uploads."""
        settings = settings or Settings.load()
        twins = twins_in_memory(profiles, encoder, settings, facets, cases)
        case_table = with_city_ids(cases, twins.lookup)

        def library(model_name: str) -> CaseLibrary:
            if cases is None:
                raise ConfigError("No case studies were given to this matcher.")
            return CaseLibrary.from_table(case_table, encoder, twins)

        return cls(settings, twins, case_table, library)

    def refresh(self) -> list[str]:
        """Lay the workspace's edits since the last refresh over the profiles and the index (in
        place, no rebuild); the city ids that changed."""
        if self.workspace is None:
            return []
        # PostgreSQL may commit change ids out of order: look again a little further back.
        changes = changed_since(self.workspace, max(0, self._seen - REFRESH_OVERLAP))
        self._seen = changes.counter
        if not changes.city_ids:
            return []
        return self.twins.apply_profiles(latest_profiles(self.workspace, changes.city_ids))

    def board_matches(self, post_id: int, k: int = 5) -> BoardMatches:
        """What matches a post of the workspace's board, by kind, each explained."""
        if self.workspace is None:
            raise ConfigError("The board lives in a workspace: open the matcher with one.")
        self.refresh()
        matcher = BoardMatcher(self, list_posts(self.workspace), list_organisations(self.workspace))
        return matcher.match(get_post(self.workspace, post_id), k)

    # ------------------------------------------------------------------ what front ends offer to pick from
    def city_options(self, everyone: bool = False) -> pd.DataFrame:
        """The cities as a person picks them: city_id and a unique label "Name (CC)", sorted; with
        `everyone`, every town follows the cities with a climate profile (a town whose name and
        country repeat an earlier one gets its region, then its population, in the label).
        `listed` marks what a pick list shows (see LISTED_MIN_POPULATION); the rest is typed."""
        p = self.twins.profiles if everyone else self.twins.profiles[self.twins.profiles["has_climate_profile"]]
        p = p.assign(_first=~p["has_climate_profile"].astype(bool)).sort_values(["_first", "name"], kind="stable")
        label = p["name"] + " (" + p["country_code"] + ")"
        for extra in (p["admin1"].fillna("").astype(str),
                      p["population"].map(lambda v: f"pop. {int(v):,}" if pd.notna(v) else ""), p["city_id"]):
            dup = label.duplicated(keep="first")  # a city with a climate profile keeps the short label
            label = label.where(~dup | (extra == ""), label.str[:-1] + ", " + extra + ")")
        listed = ~p["_first"] & ((p["population"] >= LISTED_MIN_POPULATION) | (p["tier"] == "curated"))
        out = pd.DataFrame({"city_id": p["city_id"], "label": label, "profiled": ~p["_first"], "listed": listed})
        return out.sort_values(["profiled", "label"], ascending=[False, True]).reset_index(drop=True)

    def filter_options(self) -> dict[str, list[str]]:
        """The countries, languages and networks that occur in the profiles (filter choices)."""
        p = self.twins.profiles
        return {"countries": sorted(p["country_code"].unique()),
                "languages": sorted({c for v in p["languages"] for c in v}),
                "networks": sorted({n for v in p["networks"] for n in v})}

    def network_members(self, network: str) -> list[str]:
        """City ids of a network's members."""
        pool = self.twins.pool
        return self.twins.profiles.loc[pool.rows_with("networks", {network}), "city_id"].tolist()

    # ------------------------------------------------------------------ case studies
    @property
    def cases(self) -> CaseLibrary:
        """The case library in the settings' model (built on first use)."""
        return self.case_library(str(self.settings["model_name"]))

    def case_library(self, model_name: str) -> CaseLibrary:
        if model_name not in self._libraries:
            self._libraries[model_name] = self._library_factory(model_name)
        return self._libraries[model_name]

    def cases_of_city(self, city_id: str) -> pd.DataFrame:
        """The case studies a city of the data has (empty when none)."""
        if self.case_table is None or not isinstance(city_id, str):
            return pd.DataFrame(columns=["title", "source"])
        return self.case_table[self.case_table["city_id"] == city_id]

    def twinning_brief(self, result: Result, suggested_cases: int = 3) -> dict:
        """Everything a twinning brief says, as plain data (render with matcher.present.brief)."""
        suggested = []
        if suggested_cases and result.asker and result.asker.get("city_id") and self.case_table is not None:
            suggested = self.cases.recommend_for_city(result.asker["city_id"], k=suggested_cases).matches
        return twinning_brief(result, self.case_table, self.twins.profiles, suggested)

    def pairing_brief(self, city: str, peer: str, themes=(), weights: dict[str, float] | None = None) -> dict:
        """The two-way brief of an accepted pairing: what each city can teach the other (the
        pair scores the same from either side), and the themes the two agreed to work on."""
        row_a, row_b = self.twins.resolve(city), self.twins.resolve(peer)
        if row_a == row_b:
            raise ConfigError("A pairing needs two different cities.")
        match = self.twins.explain_pair(row_a, row_b, weights, two_way=True)
        asker = self.twins.profiles.iloc[row_a].to_dict()
        result = Result("two-way twins", asker, self.twins.weights(weights), [match])
        brief = self.twinning_brief(result, suggested_cases=0)
        brief["agreed_themes"] = [str(x).strip() for x in themes if str(x).strip()]
        return brief
