"""Profile -> facet vectors (see profile.py); kernels, multi-hot and text blocks."""
from .kernels import GeoRBF, OrdinalRBF, ScalarRBF, haversine_km
from .multihot import MultiHot
from .profile import FACET_INPUT_COLUMNS, ProfileFeaturizer
from .text import (MODEL_CHOICES, CachedEncoder, Encoder, MultilingualUSEEncoder, SentenceTransformerEncoder,
                   TextEmbedder, make_encoder)

__all__ = [
    "CachedEncoder", "Encoder", "MODEL_CHOICES", "MultilingualUSEEncoder", "make_encoder", "FACET_INPUT_COLUMNS", "GeoRBF", "MultiHot", "OrdinalRBF",
    "ProfileFeaturizer", "ScalarRBF", "SentenceTransformerEncoder", "TextEmbedder", "haversine_km",
]
