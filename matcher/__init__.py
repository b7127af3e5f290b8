"""Peer-learning matchmaking and twinning recommender for cities working towards climate
neutrality. Data flows one way: files -> schema -> facets/features -> index -> recommenders ->
CLI/app; `Matcher.open()` puts it together.

Shapes of the main results (all dataclasses, `to_dict()`/`to_records()` for JSON):
- Result: mode, asker (dict or None), weights {name: w, sum 1}, query (theme/search text), matches
- TwinMatch: city_id, name, country_code, score, rank, explanation [Term], reasons [str],
  not_compared [str], population, lat, lon; sum(t.contribution for t in explanation) == score
- CaseHit: case_id, title, city, country_code, score, rank, explanation [Term], reasons, passage, tags
- Term: name, weight, similarity, contribution (= weight x similarity), detail, label
"""
from .candidates import TwinFilters
from .case_studies import CaseFilters, CaseHit, CaseLibrary, load_case_studies
from .cohorts import CohortPlan, CohortRules, plan_cohorts
from .errors import (AmbiguousCityError, ConfigError, IndexMismatchError, IndexMissingError, MatcherError,
                     ProfileValidationError, UnknownCityError)
from .evaluate import evaluate_twins, load_labelled_pairs
from .explain import TwinMatch
from .facets import DEFAULT_WEIGHTS, FACETS, Facet
from .io import load_profiles
from .matcher import Matcher
from .network import InfeasibleRulesError
from .reviewers import ReviewAssignment, ReviewRules, assign_reviewers
from .schema import profile_from_dict, validate_profiles
from .scoring import Result, Term, normalise_weights
from .settings import SETTINGS, Settings
from .twins import TwinRecommender
from .vocab import MATURITY_LEVELS, SIZE_BANDS, vocabularies

__version__ = "0.1.0"

__all__ = [
    "AmbiguousCityError", "CaseFilters", "CaseHit", "CaseLibrary", "CohortPlan", "CohortRules", "ConfigError",
    "DEFAULT_WEIGHTS", "FACETS", "Facet", "IndexMismatchError", "IndexMissingError", "InfeasibleRulesError",
    "MATURITY_LEVELS", "Matcher", "MatcherError", "ProfileValidationError", "Result", "ReviewAssignment",
    "ReviewRules", "SETTINGS", "SIZE_BANDS", "Settings", "Term", "TwinFilters", "TwinMatch", "TwinRecommender",
    "UnknownCityError", "assign_reviewers", "evaluate_twins", "load_case_studies", "load_labelled_pairs",
    "load_profiles", "normalise_weights", "plan_cohorts", "profile_from_dict", "validate_profiles", "vocabularies",
]
