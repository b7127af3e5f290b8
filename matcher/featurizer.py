"""Profile -> facet blocks: one transformer per registered facet, in a ColumnTransformer.

Each block is L2-normalised on its own, so <q_f, x_f> is that facet's similarity and a query
whose block f is scaled by w_f scores sum_f w_f * sim_f in one inner product (DESIGN.md).
"""
from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer

from .facets import FACETS, Facet
from .features.text import Encoder
from .settings import DEFAULT_SETTINGS, Settings
from .vocab import language_codes

# Settings that shape the blocks: part of the layout an index is checked against.
LAYOUT_SETTINGS = ("size_length_scale", "target_length_scale", "maturity_length_scale", "geography_length_scale_km")


class ProfileFeaturizer:
    """Builds, fits and applies the blocks of the given facets; knows each facet's slice."""

    def __init__(self, encoder: Encoder, settings: Settings | None = None, facets: tuple[Facet, ...] = FACETS):
        self.encoder = encoder
        self.settings = settings or DEFAULT_SETTINGS
        self.facets = tuple(facets)

    def fit(self, profiles: pd.DataFrame | None = None) -> "ProfileFeaturizer":
        """Set up the blocks. Their state comes from settings and fixed vocabularies only, never
        from the data, so the layout (and the index check) is known before any profile is read."""
        self.column_transformer_ = ColumnTransformer(
            [(f.name, f.block(self.settings, self.encoder), list(f.columns)) for f in self.facets],
            remainder="drop", sparse_threshold=0.0, verbose_feature_names_out=True,
        )
        empty = pd.DataFrame([{c: None for c in self.input_columns}])
        self.column_transformer_.fit(empty)
        self.facet_slices_ = {f.name: self.column_transformer_.output_indices_[f.name] for f in self.facets}
        self.dim_ = max(s.stop for s in self.facet_slices_.values())
        return self

    @property
    def input_columns(self) -> list[str]:
        return list(dict.fromkeys(c for f in self.facets for c in f.columns))

    @property
    def default_weights(self) -> dict[str, float]:
        return {f.name: f.default_weight for f in self.facets}

    def block(self, facet: str):
        return self.column_transformer_.named_transformers_[facet]

    def transform(self, profiles: pd.DataFrame) -> np.ndarray:
        return np.ascontiguousarray(
            self.column_transformer_.transform(profiles[self.input_columns]), dtype=np.float32)

    def embed_text(self, text: str) -> np.ndarray:
        """The narrative block of a free text (a theme), normalised."""
        return self.block("narrative").transform(pd.DataFrame({"narrative": [text]}))[0]

    def weight_vector(self, weights: dict[str, float]) -> np.ndarray:
        """Per-dimension weights: w_f over facet f's block (weights already scaled)."""
        w = np.zeros(self.dim_, dtype=np.float32)
        for facet, sl in self.facet_slices_.items():
            w[sl] = weights[facet]
        return w

    def get_feature_names_out(self) -> np.ndarray:
        return self.column_transformer_.get_feature_names_out()

    def kernel_description(self, facet: str) -> str:
        return next(f for f in self.facets if f.name == facet).kernel(self.settings, self.encoder)

    def spec(self) -> dict:
        """What the index manifest records to refuse a mismatched layout."""
        return {
            "facets": [f.name for f in self.facets],
            "columns": {f.name: list(f.columns) for f in self.facets},
            "slices": {f: [s.start, s.stop] for f, s in self.facet_slices_.items()},
            "dim": int(self.dim_),
            "settings": {k: self.settings[k] for k in LAYOUT_SETTINGS},
            "language_vocabulary": list(language_codes()),
            "model_id": self.encoder.model_id,
            "kernels": {f.name: self.kernel_description(f.name) for f in self.facets},
        }
