"""Profile -> facet vectors (see profile.py); kernels, multi-hot and text blocks."""
from .kernels import GeoRBF, OrdinalRBF, ScalarRBF, haversine_km
from .multihot import MultiHot
from .profile import FACET_INPUT_COLUMNS, ProfileFeaturizer
from .text import CachedEncoder, Encoder, SentenceTransformerEncoder, TextEmbedder

__all__ = [
    "CachedEncoder", "Encoder", "FACET_INPUT_COLUMNS", "GeoRBF", "MultiHot", "OrdinalRBF",
    "ProfileFeaturizer", "ScalarRBF", "SentenceTransformerEncoder", "TextEmbedder", "haversine_km",
]
