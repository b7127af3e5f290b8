"""Facet blocks: kernel maps for scalars and places, multi-hot label sets, and the text
embedder with its content-hash cache. The facet registry (matcher.facets) says which facet
uses which block."""
from .kernels import GeoRBF, MeanRBF, OrdinalRBF, ScalarRBF, Shares, haversine_km, l2_normalise_rows
from .multihot import MultiHot
from .text import (MODEL_CHOICES, CachedEncoder, Encoder, MultilingualUSEEncoder, SentenceTransformerEncoder,
                   TextEmbedder, make_encoder)

__all__ = [
    "CachedEncoder", "Encoder", "GeoRBF", "MODEL_CHOICES", "MeanRBF", "MultiHot", "MultilingualUSEEncoder", "OrdinalRBF",
    "ScalarRBF", "SentenceTransformerEncoder", "Shares", "TextEmbedder", "haversine_km", "l2_normalise_rows",
    "make_encoder",
]
