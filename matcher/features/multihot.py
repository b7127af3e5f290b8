"""Multi-hot blocks over a fixed vocabulary (barriers, sectors, languages, ...)."""
from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from .kernels import l2_normalise_rows


def _labels(value) -> list[str]:
    if value is None or (isinstance(value, float) and value != value):
        return []
    return [str(v) for v in value]


class MultiHot(TransformerMixin, BaseEstimator):
    """L2-normalised multi-hot of a list column; the block cosine is |A & B| / sqrt(|A| |B|).

    `vocabulary` fixes the order (survey order). When it is empty, the sorted labels seen in
    fit are used (languages). `parents` maps a detailed label to a broader survey label that is
    switched on too, so two cities reporting the same problem in different wording still meet.
    Unknown labels are ignored (the schema rejects them before they get here).
    """

    def __init__(self, vocabulary: tuple[str, ...] = (), parents: dict | None = None):
        self.vocabulary = vocabulary
        self.parents = parents

    def fit(self, X, y=None):
        vocab = list(self.vocabulary)
        if not vocab:
            seen = set()
            for value in self._column(X):
                seen.update(_labels(value))
            vocab = sorted(seen)
        if len(set(vocab)) != len(vocab):
            raise ValueError("vocabulary has duplicate labels")
        self.classes_ = np.array(vocab, dtype=object)
        self.index_ = {label: i for i, label in enumerate(vocab)}
        self.n_features_in_ = 1
        return self

    @staticmethod
    def _column(X):
        return X.iloc[:, 0] if hasattr(X, "iloc") else np.asarray(X, dtype=object)[:, 0]

    def expand(self, labels) -> list[str]:
        """The labels a row switches on: its own plus their parents."""
        out = list(dict.fromkeys(_labels(labels)))
        for label in list(out):
            parent = (self.parents or {}).get(label)
            if parent and parent not in out:
                out.append(parent)
        return out

    def transform(self, X):
        check_is_fitted(self, "classes_")
        col = self._column(X)
        out = np.zeros((len(col), len(self.classes_)), dtype=np.float64)
        for r, value in enumerate(col):
            for label in self.expand(value):
                j = self.index_.get(label)
                if j is not None:
                    out[r, j] = 1.0
        return l2_normalise_rows(out).astype(np.float32)

    def get_feature_names_out(self, input_features=None):
        return np.array([str(c) for c in self.classes_], dtype=object)
