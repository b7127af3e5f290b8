"""Profile -> facet blocks: one transformer per facet in a ColumnTransformer.

Each block is L2-normalised on its own, so <q_f, x_f> is that facet's similarity and a query
whose block f is scaled by w_f scores sum_f w_f * sim_f in one inner product (DESIGN.md).
"""
from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer

from ..config import FACETS, FACET_HELP, SETTING_DEFAULTS
from ..schema import MATURITY_LEVELS, barrier_parents, language_codes, vocabularies
from .kernels import GeoRBF, OrdinalRBF, ScalarRBF
from .multihot import MultiHot
from .text import Encoder, TextEmbedder

FACET_INPUT_COLUMNS: dict[str, list[str]] = {
    "size": ["population"],
    "target": ["net_zero_target_year"],
    "maturity": ["maturity"],
    "barriers": ["barriers"],
    "sectors": ["priority_sectors"],
    "languages": ["languages"],
    "co_benefits": ["co_benefits"],
    "funding_gaps": ["funding_gaps"],
    "geography": ["lat", "lon"],
    "narrative": ["narrative"],
}


_EMPTY_PROFILE = pd.DataFrame([{
    "population": None, "net_zero_target_year": None, "maturity": None, "barriers": [],
    "priority_sectors": [], "languages": [], "co_benefits": [], "funding_gaps": [], "lat": None, "lon": None,
    "narrative": None,
}])


class ProfileFeaturizer:
    """Builds, fits and applies the facet blocks; knows each facet's slice and kernel."""

    def __init__(self, encoder: Encoder, settings: dict | None = None):
        self.encoder = encoder
        self.settings = {**SETTING_DEFAULTS, **(settings or {})}

    def _transformers(self) -> dict:
        s, vocab = self.settings, vocabularies()
        return {
            "size": ScalarRBF(length_scale=float(s["size_length_scale"]), low=1_000, high=50_000_000,
                              log=True, label="pop"),
            "target": ScalarRBF(length_scale=float(s["target_length_scale"]), low=2020, high=2070,
                                label="year"),
            "maturity": OrdinalRBF(levels=MATURITY_LEVELS, length_scale=float(s["maturity_length_scale"])),
            "barriers": MultiHot(vocabulary=vocab["barriers"], parents=barrier_parents()),
            "sectors": MultiHot(vocabulary=vocab["priority_sectors"]),
            "languages": MultiHot(vocabulary=language_codes()),
            "co_benefits": MultiHot(vocabulary=vocab["co_benefits"]),
            "funding_gaps": MultiHot(vocabulary=vocab["funding_gaps"]),
            "geography": GeoRBF(length_scale_km=float(s["geography_length_scale_km"])),
            "narrative": TextEmbedder(encoder=self.encoder),
        }

    def fit(self, profiles: pd.DataFrame | None = None) -> "ProfileFeaturizer":
        """Set up the blocks. Their state comes from settings and fixed vocabularies only, never
        from the data, so the layout (and the index check) is known before any profile is read."""
        blocks = self._transformers()
        self.column_transformer_ = ColumnTransformer(
            [(facet, blocks[facet], FACET_INPUT_COLUMNS[facet]) for facet in FACETS],
            remainder="drop", sparse_threshold=0.0, verbose_feature_names_out=True,
        )
        self.column_transformer_.fit(_EMPTY_PROFILE[self.input_columns])
        self.facet_slices_ = {
            facet: self.column_transformer_.output_indices_[facet] for facet in FACETS
        }
        self.dim_ = max(s.stop for s in self.facet_slices_.values())
        return self

    @property
    def input_columns(self) -> list[str]:
        return [c for facet in FACETS for c in FACET_INPUT_COLUMNS[facet]]

    def block(self, facet: str):
        return self.column_transformer_.named_transformers_[facet]

    def transform(self, profiles: pd.DataFrame) -> np.ndarray:
        return np.ascontiguousarray(
            self.column_transformer_.transform(profiles[self.input_columns]), dtype=np.float32)

    def embed_text(self, text: str) -> np.ndarray:
        """The narrative block of a free text (a theme), normalised."""
        frame = pd.DataFrame({"narrative": [text]})
        return self.block("narrative").transform(frame)[0]

    def get_feature_names_out(self) -> np.ndarray:
        return self.column_transformer_.get_feature_names_out()

    def kernel_description(self, facet: str) -> str:
        s = self.settings
        return {
            "size": f"RBF on ln(population), length scale {s['size_length_scale']}: "
                    "a factor of 2 scores 0.80, a factor of 10 scores 0.09",
            "target": f"RBF on target year, length scale {s['target_length_scale']} years: "
                      "5 years apart score 0.77, 10 years 0.36",
            "maturity": f"RBF on maturity level ({' < '.join(MATURITY_LEVELS)}), length scale "
                        f"{s['maturity_length_scale']}: one level apart scores 0.46",
            "geography": f"RBF on distance, length scale {s['geography_length_scale_km']:.0f} km: "
                         "200 km apart score 0.88, 800 km 0.14",
            "narrative": f"cosine of sentence embeddings ({self.encoder.model_id})",
        }.get(facet, "shared labels / sqrt(labels of each): 1 when the lists are equal")

    def spec(self) -> dict:
        """What the index manifest records to refuse a mismatched layout."""
        return {
            "facets": list(FACETS),
            "slices": {f: [s.start, s.stop] for f, s in self.facet_slices_.items()},
            "dim": int(self.dim_),
            "settings": {k: self.settings[k] for k in (
                "size_length_scale", "target_length_scale", "maturity_length_scale",
                "geography_length_scale_km")},
            "language_vocabulary": list(language_codes()),
            "model_id": self.encoder.model_id,
            "kernels": {f: self.kernel_description(f) for f in FACETS},
            "help": FACET_HELP,
        }
