"""Peer-learning matchmaking and twinning recommender for cities working towards climate
neutrality. Data flows one way: files -> schema -> features -> index -> recommenders -> CLI/app."""
from .case_studies import CaseFilters, CaseHit, CaseLibrary, load_case_studies
from .cohorts import CohortPlan, CohortRules, plan_cohorts
from .config import DEFAULT_WEIGHTS, FACETS, SETTINGS, SIZE_BANDS, normalise_weights
from .errors import (AmbiguousCityError, ConfigError, IndexMismatchError, IndexMissingError, MatcherError,
                     ProfileValidationError, UnknownCityError)
from .evaluate import evaluate_twins, load_labelled_pairs
from .io import load_profiles
from .network_explain import InfeasibleRulesError
from .reviewers import ReviewAssignment, ReviewRules, assign_reviewers
from .schema import MATURITY_LEVELS, profile_from_dict, validate_profiles, vocabularies
from .twins import Contribution, TwinFilters, TwinMatch, TwinRecommender, TwinResult, recommend_twins

__version__ = "0.1.0"

__all__ = [
    "AmbiguousCityError", "CaseFilters", "CaseHit", "CaseLibrary", "CohortPlan", "CohortRules", "ConfigError",
    "Contribution", "DEFAULT_WEIGHTS", "FACETS", "IndexMismatchError", "IndexMissingError", "InfeasibleRulesError",
    "MATURITY_LEVELS", "MatcherError", "ProfileValidationError", "ReviewAssignment", "ReviewRules", "SETTINGS",
    "SIZE_BANDS", "TwinFilters", "TwinMatch", "TwinRecommender", "TwinResult", "UnknownCityError",
    "assign_reviewers", "evaluate_twins", "load_case_studies", "load_labelled_pairs", "load_profiles",
    "normalise_weights", "plan_cohorts", "profile_from_dict", "recommend_twins", "validate_profiles", "vocabularies",
]
