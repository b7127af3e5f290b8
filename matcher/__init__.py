"""Peer-learning matchmaking and twinning recommender for cities working towards climate
neutrality. Data flows one way: files -> schema -> features -> index -> recommenders -> CLI/app."""
from .config import DEFAULT_WEIGHTS, FACETS, SETTINGS, SIZE_BANDS, normalise_weights
from .errors import (AmbiguousCityError, ConfigError, IndexMismatchError, IndexMissingError, MatcherError,
                     ProfileValidationError, UnknownCityError)
from .evaluate import evaluate_twins, load_labelled_pairs
from .io import load_profiles
from .schema import MATURITY_LEVELS, profile_from_dict, validate_profiles, vocabularies
from .twins import Contribution, TwinFilters, TwinMatch, TwinRecommender, TwinResult, recommend_twins

__version__ = "0.1.0"

__all__ = [
    "AmbiguousCityError", "ConfigError", "Contribution", "DEFAULT_WEIGHTS", "FACETS", "IndexMismatchError",
    "IndexMissingError", "MATURITY_LEVELS", "MatcherError", "ProfileValidationError", "SETTINGS", "SIZE_BANDS",
    "TwinFilters", "TwinMatch", "TwinRecommender", "TwinResult", "UnknownCityError", "evaluate_twins",
    "load_labelled_pairs", "load_profiles", "normalise_weights", "profile_from_dict", "recommend_twins",
    "validate_profiles", "vocabularies",
]
