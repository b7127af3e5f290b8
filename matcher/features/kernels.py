"""Kernel feature maps for scalar and geographic facets.

An L2-normalised 1-d block is only its sign, so scalars get a map whose inner product falls
off with distance: Gaussian bumps on a grid. With bumps of width s = l / sqrt(2),
<phi(a), phi(b)> / (|phi(a)| |phi(b)|) = exp(-(a - b)^2 / (2 l^2)): to within 1e-3 for
scalars (bumps s apart) and 0.02 for geography (bumps 1.3 s apart, to keep the block at ~400
dimensions), so every block similarity is an RBF kernel value in [0, 1] with a stated length
scale l (tested in tests/test_features.py).
"""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin, clone
from sklearn.utils.validation import check_is_fitted

EARTH_RADIUS_KM = 6371.0088


def l2_normalise_rows(matrix: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    out = np.zeros_like(matrix)
    np.divide(matrix, norms, out=out, where=norms > 1e-12)
    return out


def _column_values(X) -> np.ndarray:
    """First column of a DataFrame/array as float64, missing -> NaN."""
    col = X.iloc[:, 0] if hasattr(X, "iloc") else np.asarray(X, dtype=object)[:, 0]
    return np.array([np.nan if pd.isna(v) else float(v) for v in col], dtype=np.float64)


def rbf(distance: float, length_scale: float) -> float:
    return math.exp(-(distance**2) / (2 * length_scale**2))


class ScalarRBF(TransformerMixin, BaseEstimator):
    """RBF kernel features of one scalar column via Gaussian bumps on a fixed grid.

    `log=True` compares ln(value) (population). Missing values give a zero row, which scores
    0 against everything: "not compared".
    """

    def __init__(self, length_scale: float = 1.0, low: float = 0.0, high: float = 1.0,
                 log: bool = False, label: str = "x", unit: str = ""):
        self.length_scale = length_scale
        self.low = low
        self.high = high
        self.log = log
        self.label = label
        self.unit = unit

    def fit(self, X=None, y=None):
        if not self.length_scale > 0:
            raise ValueError(f"length_scale must be > 0, got {self.length_scale}")
        lo, hi = (math.log(self.low), math.log(self.high)) if self.log else (self.low, self.high)
        if not hi > lo:
            raise ValueError(f"high must be above low, got low={self.low}, high={self.high}")
        self.width_ = self.length_scale / math.sqrt(2)
        step = self.width_  # spacing = width keeps the kernel error below ~1e-3
        margin = 2 * self.width_
        n = int(math.ceil((hi - lo + 2 * margin) / step)) + 1
        self.centers_ = lo - margin + step * np.arange(n)
        self.range_ = (lo, hi)
        self.n_features_in_ = 1
        return self

    def _scaled(self, values: np.ndarray) -> np.ndarray:
        with np.errstate(divide="ignore", invalid="ignore"):
            v = np.log(values) if self.log else values.copy()
        return np.clip(v, *self.range_)

    def transform(self, X):
        check_is_fitted(self, "centers_")
        values = _column_values(X)
        v = self._scaled(values)
        feats = np.exp(-((v[:, None] - self.centers_[None, :]) ** 2) / (2 * self.width_**2))
        feats[~np.isfinite(values)] = 0.0
        return l2_normalise_rows(feats).astype(np.float32)

    def kernel(self, a: float, b: float) -> float:
        """The exact kernel value the block approximates (for explanations and tests)."""
        va, vb = self._scaled(np.array([a, b], dtype=np.float64))
        return rbf(va - vb, self.length_scale)

    def get_feature_names_out(self, input_features=None):
        prefix = f"ln_{self.label}" if self.log else self.label
        return np.array([f"{prefix}_{c:.2f}" for c in self.centers_], dtype=object)


class OrdinalRBF(TransformerMixin, BaseEstimator):
    """Exact RBF features of an ordinal label: rows of the Cholesky factor of the level kernel.

    The order of `levels` carries the meaning (never alphabetical). <phi(i), phi(j)> equals
    exp(-(i - j)^2 / (2 l^2)) exactly.
    """

    def __init__(self, levels: tuple[str, ...] = (), length_scale: float = 1.0):
        self.levels = levels
        self.length_scale = length_scale

    def fit(self, X=None, y=None):
        if len(self.levels) < 2:
            raise ValueError("OrdinalRBF needs at least two levels")
        idx = np.arange(len(self.levels), dtype=np.float64)
        gram = np.exp(-((idx[:, None] - idx[None, :]) ** 2) / (2 * self.length_scale**2))
        self.factor_ = np.linalg.cholesky(gram + 1e-12 * np.eye(len(idx)))
        self.index_ = {level: i for i, level in enumerate(self.levels)}
        self.n_features_in_ = 1
        return self

    def transform(self, X):
        check_is_fitted(self, "factor_")
        col = X.iloc[:, 0] if hasattr(X, "iloc") else np.asarray(X, dtype=object)[:, 0]
        out = np.zeros((len(col), len(self.levels)), dtype=np.float64)
        for r, value in enumerate(col):
            i = self.index_.get(value) if isinstance(value, str) else None
            if i is not None:
                out[r] = self.factor_[i]
        return l2_normalise_rows(out).astype(np.float32)

    def kernel(self, a: str, b: str) -> float:
        return rbf(self.index_[a] - self.index_[b], self.length_scale)

    def get_feature_names_out(self, input_features=None):
        return np.array([f"level_{i}" for i in range(len(self.levels))], dtype=object)


def unit_vectors(lat_deg: np.ndarray, lon_deg: np.ndarray) -> np.ndarray:
    lat, lon = np.radians(lat_deg), np.radians(lon_deg)
    return np.stack([np.cos(lat) * np.cos(lon), np.cos(lat) * np.sin(lon), np.sin(lat)], axis=-1)


def haversine_km(lat1, lon1, lat2, lon2) -> float:
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(h)))


class GeoRBF(TransformerMixin, BaseEstimator):
    """RBF kernel on distance between two places, via Gaussian bumps on a Fibonacci lattice.

    Raw coordinates as a unit vector would give a cosine near 1 for any two European cities;
    this block gives exp(-d^2 / (2 l^2)) with d the (chord ~ great-circle) distance in km.
    The lattice covers a box around Europe (`bounds` = lat_min, lat_max, lon_min, lon_max);
    places outside it get a zero row (not compared).
    """

    def __init__(self, length_scale_km: float = 400.0, bounds: tuple[float, float, float, float] = (25.0, 73.0, -35.0, 55.0)):
        self.length_scale_km = length_scale_km
        self.bounds = bounds

    def fit(self, X=None, y=None):
        if not self.length_scale_km > 0:
            raise ValueError(f"length_scale_km must be > 0, got {self.length_scale_km}")
        self.width_km_ = self.length_scale_km / math.sqrt(2)
        spacing = 1.3 * self.width_km_  # 418 bumps over Europe; kernel error < 0.02
        n_sphere = int(math.ceil(4 * math.pi * EARTH_RADIUS_KM**2 / spacing**2))
        i = np.arange(n_sphere) + 0.5
        lat = np.degrees(np.arcsin(1 - 2 * i / n_sphere))
        lon = (np.degrees(np.pi * (1 + 5**0.5) * i) + 180) % 360 - 180
        margin_deg = math.degrees(2 * self.width_km_ / EARTH_RADIUS_KM)
        lat0, lat1, lon0, lon1 = self.bounds
        lon_margin = margin_deg / max(math.cos(math.radians(max(abs(lat0), abs(lat1)))), 0.2)
        keep = (lat >= lat0 - margin_deg) & (lat <= lat1 + margin_deg) & \
               (lon >= lon0 - lon_margin) & (lon <= lon1 + lon_margin)
        self.center_lat_, self.center_lon_ = lat[keep], lon[keep]
        self.centers_ = unit_vectors(self.center_lat_, self.center_lon_) * EARTH_RADIUS_KM
        self.n_features_in_ = 2
        return self

    def transform(self, X):
        check_is_fitted(self, "centers_")
        arr = X.to_numpy(dtype=object) if hasattr(X, "to_numpy") else np.asarray(X, dtype=object)
        lat = np.array([np.nan if pd.isna(v) else float(v) for v in arr[:, 0]])
        lon = np.array([np.nan if pd.isna(v) else float(v) for v in arr[:, 1]])
        known = np.isfinite(lat) & np.isfinite(lon)
        lat0, lat1, lon0, lon1 = self.bounds
        inside = known & (lat >= lat0) & (lat <= lat1) & (lon >= lon0) & (lon <= lon1)
        out = np.zeros((len(lat), len(self.centers_)), dtype=np.float64)
        if inside.any():
            pts = unit_vectors(lat[inside], lon[inside]) * EARTH_RADIUS_KM
            d2 = ((pts[:, None, :] - self.centers_[None, :, :]) ** 2).sum(-1)
            out[inside] = np.exp(-d2 / (2 * self.width_km_**2))
        return l2_normalise_rows(out).astype(np.float32)

    def kernel(self, lat1, lon1, lat2, lon2) -> float:
        a, b = unit_vectors(np.array([lat1, lat2]), np.array([lon1, lon2])) * EARTH_RADIUS_KM
        return rbf(float(np.linalg.norm(a - b)), self.length_scale_km)

    def get_feature_names_out(self, input_features=None):
        return np.array([f"bump_{la:.1f}N_{lo:.1f}E" for la, lo in zip(self.center_lat_, self.center_lon_)],
                        dtype=object)


class Shares(TransformerMixin, BaseEstimator):
    """Several non-negative columns (sector shares, action counts, land-use shares) as one
    direction: the block cosine compares the mix, not the totals. Unknown columns count as 0; a
    row with nothing known is a zero row (not compared)."""

    def __init__(self, n_columns: int = 1):
        self.n_columns = n_columns

    def fit(self, X=None, y=None):
        if self.n_columns < 1:
            raise ValueError(f"n_columns must be at least 1, got {self.n_columns}")
        self.n_features_in_ = self.n_columns
        return self

    def transform(self, X):
        check_is_fitted(self, "n_features_in_")
        arr = X.to_numpy(dtype=object) if hasattr(X, "to_numpy") else np.asarray(X, dtype=object)
        values = np.array([[0.0 if pd.isna(v) else max(float(v), 0.0) for v in row] for row in arr],
                          dtype=np.float64).reshape(len(arr), self.n_columns)
        return l2_normalise_rows(values).astype(np.float32)

    def get_feature_names_out(self, input_features=None):
        return np.array([f"share_{i}" for i in range(self.n_columns)], dtype=object)


class MeanRBF(TransformerMixin, BaseEstimator):
    """Two or more scalar kernel maps side by side, each scaled by 1/sqrt(k): the block similarity
    is the mean of the scalar kernels (coldest and warmest month: heating and cooling need). A row
    with any value unknown is a zero row (not compared)."""

    def __init__(self, blocks: tuple = ()):
        self.blocks = blocks

    def fit(self, X=None, y=None):
        if len(self.blocks) < 2:
            raise ValueError("MeanRBF needs at least two scalar blocks")
        self.fitted_ = [clone(b).fit() for b in self.blocks]
        self.n_features_in_ = len(self.blocks)
        return self

    def transform(self, X):
        check_is_fitted(self, "fitted_")
        frame = X if hasattr(X, "iloc") else pd.DataFrame(np.asarray(X, dtype=object))
        parts = [b.transform(frame.iloc[:, [i]]) for i, b in enumerate(self.fitted_)]
        known = np.all([np.abs(p).sum(axis=1) > 0 for p in parts], axis=0)
        out = np.hstack(parts) / np.sqrt(len(parts))
        out[~known] = 0.0
        return out.astype(np.float32)

    def get_feature_names_out(self, input_features=None):
        return np.concatenate([[f"{i}_{n}" for n in b.get_feature_names_out()] for i, b in enumerate(self.fitted_)])
