"""Stand-ins used by the unit tests (the integration tests use the real bundled model)."""
from __future__ import annotations

import hashlib
import time

import numpy as np


class FakeEncoder:
    """Deterministic bag-of-words vectors: texts sharing words get similar vectors. It counts
    the texts it encodes (`encoded`, `calls`), so tests can check what a cache spared."""

    def __init__(self, model_id: str = "fake-bag-of-words", dim: int = 32, delay: float = 0.0):
        self.model_id, self.dim, self.delay = model_id, dim, delay
        self.encoded = 0
        self.calls: list[str] = []

    def encode(self, texts):
        texts = list(texts)
        time.sleep(self.delay * len(texts))
        self.encoded += len(texts)
        self.calls.extend(texts)
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for i, text in enumerate(texts):
            for word in text.lower().split():
                h = int(hashlib.sha256(word.encode()).hexdigest()[:8], 16)
                out[i] += np.random.default_rng(h).normal(size=self.dim)
            norm = np.linalg.norm(out[i])
            if norm:
                out[i] /= norm
        return out
