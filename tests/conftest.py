"""Shared fixtures: the shipped data, a deterministic fake encoder for fast unit tests, and the
real bundled model (loaded once per session) for the integration tests."""
from __future__ import annotations

import os
import tempfile
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from matcher.builds import twins_in_memory  # noqa: E402
from matcher.io import load_profiles, shipped_profiles_path  # noqa: E402
from matcher.matcher import Matcher  # noqa: E402
from matcher.twins import TwinRecommender  # noqa: E402

from .fakes import FakeEncoder  # noqa: E402


@pytest.fixture(scope="session")
def shipped_profiles() -> pd.DataFrame:
    return load_profiles(shipped_profiles_path())


@pytest.fixture(scope="session")
def curated_profiles(shipped_profiles) -> pd.DataFrame:
    """The curated tier only (a few hundred real cities): small enough for fast unit tests."""
    return shipped_profiles[shipped_profiles["tier"] == "curated"].reset_index(drop=True)


@pytest.fixture(scope="session")
def fake_recommender(curated_profiles) -> TwinRecommender:
    return twins_in_memory(curated_profiles, FakeEncoder())


@pytest.fixture(scope="session")
def real_encoder():
    from matcher.features import SentenceTransformerEncoder

    return SentenceTransformerEncoder()


@pytest.fixture(scope="session")
def real_index_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("twin_index")


@pytest.fixture(scope="session")
def real_matcher(real_encoder, real_index_dir) -> Matcher:
    """The shipped data with the real model, built once into a temporary index folder."""
    return Matcher.open(index_dir=real_index_dir, encoder=real_encoder, build="missing")


@pytest.fixture(scope="session")
def real_recommender(real_matcher) -> TwinRecommender:
    return real_matcher.twins


REPO = Path(__file__).resolve().parent.parent
APP = str(REPO / "app_streamlit.py")


SERVER_PIDS: dict[str, int] = {}


@contextmanager
def streamlit_server(index_dir, db_url: str | None = None):
    """`streamlit run` of the app on a free local port, as scripts/run.sh starts it (no file
    watcher), over the given index folder; stopped on exit; yields its URL. The workspace is
    `db_url`, else a new SQLite file in a temporary folder (never the repository's)."""
    from benchmarks.bench_browser import app_server

    with tempfile.TemporaryDirectory(prefix="matcher-ws-") as scratch:
        db_url = db_url or f"sqlite:///{Path(scratch) / 'workspace.db'}"
        with app_server(REPO, {"MATCHER_INDEX_DIR": str(index_dir), "MATCHER_DB_URL": db_url}) as (url, pid, _s):
            SERVER_PIDS[url] = pid  # for a load test that reads the server's CPU time
            yield url


@pytest.fixture(scope="session")
def app_db_url(tmp_path_factory) -> str:
    """The workspace of the app tests that do not use one: an empty SQLite file, never the repository's."""
    return f"sqlite:///{tmp_path_factory.mktemp('app_workspace') / 'workspace.db'}"


@pytest.fixture
def app(real_recommender, real_index_dir, app_db_url, monkeypatch):
    """The app under streamlit.testing.v1.AppTest, first run done, on the session's index."""
    from streamlit.testing.v1 import AppTest

    monkeypatch.setenv("MATCHER_INDEX_DIR", str(real_index_dir))
    monkeypatch.setenv("MATCHER_DB_URL", app_db_url)
    at = AppTest.from_file(APP, default_timeout=600)
    at.run()
    assert not at.exception, at.exception
    return at


@pytest.fixture
def app_at_url(real_recommender, real_index_dir, app_db_url, monkeypatch):
    """Open the app at a URL: app_at_url(twins_city="Cologne", f_countries=["DE"]) runs it once
    with those query parameters (a shared link, a reload, or a town typed that is not in the list)."""
    from streamlit.testing.v1 import AppTest

    monkeypatch.setenv("MATCHER_INDEX_DIR", str(real_index_dir))
    monkeypatch.setenv("MATCHER_DB_URL", app_db_url)

    def open_at(**params):
        at = AppTest.from_file(APP, default_timeout=600)
        for key, value in params.items():
            at.query_params[key] = value
        return at.run()

    return open_at


def planted_vectors(n: int = 4000, d: int = 48, clusters: int = 40, seed: int = 0) -> np.ndarray:
    """Clustered vectors (like text embeddings) in three unit-norm facet blocks of d/3, so ANN
    recall is tested on realistic neighbourhoods and a weighted query means something."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(clusters, d))
    X = (centres[rng.integers(0, clusters, n)] + 0.35 * rng.normal(size=(n, d))).astype(np.float32)
    for f in range(3):
        block = slice(f * d // 3, (f + 1) * d // 3)
        X[:, block] /= np.linalg.norm(X[:, block], axis=1, keepdims=True)
    return X


@pytest.fixture(scope="session")
def planted() -> np.ndarray:
    return planted_vectors()
