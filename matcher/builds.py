"""Building or opening the saved indexes: the twin index over the profiles and the passage
index over the case studies. What each index must match (data hash, model, facet layout, schema)
is written here once; `matcher.index.open_index` decides load vs build, and a mismatched index
is never used."""
from __future__ import annotations

from pathlib import Path
from typing import Callable

import pandas as pd

from .case_studies import CASE_FILE, CaseLibrary, load_case_studies, read_saved_table
from .case_text import CHUNKING, PIPELINE_VERSION
from .errors import ProfileValidationError
from .facets import FACETS, Facet
from .featurizer import ProfileFeaturizer
from .features.text import CachedEncoder, Encoder, model_slug
from .index import FORMAT_VERSION, build_index, layout_hash, open_index, save_index
from .files import file_sha256
from .io import load_profiles, read_validated_profiles, shipped_profiles_path
from .lookup import CityLookup, resolve_city_ids
from .mentor import Experience
from .schema import schema_fingerprint
from .settings import Settings
from .twins import TwinRecommender

VALIDATED_PROFILES = "profiles.parquet"  # the validated table, kept with the index
LOOKUP_KEYS = "lookup_keys.parquet"  # folded name keys of those profiles
Say = Callable[[str], None]


def _missing(path: Path, what: str) -> ProfileValidationError:
    return ProfileValidationError([{"file": str(path), "row": None, "column": None, "value": None,
                                    "message": f"{what} file not found"}], str(path), what)


def cached_encoder(encoder: Encoder, index_dir: Path, settings: Settings | None = None) -> CachedEncoder:
    """The encoder behind a content-hash cache kept beside the index (one file per model)."""
    limits = settings.limits if settings is not None else None
    return CachedEncoder(encoder, index_dir / "embedding_cache" / f"{model_slug(encoder.model_id)}.npz", limits=limits)


def open_twins(data_dir: Path, index_dir: Path, encoder: Encoder, settings: Settings, build: str, say: Say,
               facets: tuple[Facet, ...] = FACETS) -> tuple[pd.DataFrame, ProfileFeaturizer, object, CityLookup]:
    """(profiles, featurizer, index, lookup) of the data folder, building the index if the policy says so."""
    profile_path = shipped_profiles_path(data_dir)
    if not profile_path.is_file():
        raise _missing(profile_path, "profile")
    cached = cached_encoder(encoder, index_dir, settings)
    featurizer = ProfileFeaturizer(cached, settings, facets).fit()
    expected = {"format_version": FORMAT_VERSION, "model_id": cached.model_id,
                "data_sha256": file_sha256(profile_path), "layout_sha256": layout_hash(featurizer.spec()),
                "schema_sha256": schema_fingerprint()}
    index = open_index(index_dir, expected, build, say)
    if index is not None:
        # Same profile bytes and same schema code as at build time: the table validated then is
        # reused, so a warm start does not validate 20,000 rows again.
        profiles = read_validated_profiles(index.folder / VALIDATED_PROFILES)
        return profiles, featurizer, index, CityLookup(profiles, pd.read_parquet(index.folder / LOOKUP_KEYS))
    say(f"Reading profiles from {profile_path}")
    profiles = load_profiles(profile_path, settings.limits)
    say(f"Building the twin index for {len(profiles):,} profiles (embedding narratives; "
        "cached texts are not encoded again)")
    vectors = featurizer.transform(profiles)
    cached.save()
    manifest = dict(expected, facet_layout=featurizer.spec(), data_file="city_profiles/cities.parquet", normalize=True)
    index = build_index(vectors, profiles["city_id"], manifest)
    save_index(index, index_dir, tables={VALIDATED_PROFILES: profiles, LOOKUP_KEYS: CityLookup.key_table(profiles)})
    say(f"Index saved in {index_dir} ({index.n:,} rows, {index.faiss_index.d} dimensions)")
    return profiles, featurizer, index, CityLookup(profiles)


def twins_in_memory(profiles: pd.DataFrame, encoder: Encoder, settings: Settings | None = None,
                    facets: tuple[Facet, ...] = FACETS, cases: pd.DataFrame | None = None) -> TwinRecommender:
    """A recommender over a validated table, nothing saved (tests, a network's uploaded profiles)."""
    featurizer = ProfileFeaturizer(encoder, settings, facets).fit()
    manifest = {"model_id": encoder.model_id, "layout_sha256": layout_hash(featurizer.spec())}
    index = build_index(featurizer.transform(profiles), profiles["city_id"], manifest)
    lookup = CityLookup(profiles)
    return TwinRecommender(profiles, featurizer, index, lookup, Experience(with_city_ids(cases, lookup)))


def read_case_table(data_dir: Path, lookup: CityLookup, settings: Settings | None = None) -> pd.DataFrame | None:
    """The data folder's case studies with the city id each names (None: the folder has none)."""
    path = Path(data_dir) / CASE_FILE
    limits = settings.limits if settings is not None else None
    return with_city_ids(load_case_studies(path, limits), lookup) if path.is_file() else None


def with_city_ids(cases: pd.DataFrame | None, lookup: CityLookup) -> pd.DataFrame | None:
    if cases is None or "city_id" in cases.columns:
        return cases
    return cases.assign(city_id=resolve_city_ids(lookup, cases["city"], cases["country_code"]))


def open_case_library(data_dir: Path, index_root: Path, encoder: Encoder, twins: TwinRecommender | None,
                      build: str, say: Say, settings: Settings | None = None) -> CaseLibrary:
    """The data folder's case studies and their passage index (one folder per model)."""
    path = Path(data_dir) / CASE_FILE
    if not path.is_file():
        raise _missing(path, "case-study")
    cached = cached_encoder(encoder, index_root, settings)
    folder = index_root / model_slug(cached.model_id)
    profiles_hash = twins.index.manifest.get("data_sha256") if twins is not None else None
    expected = {"format_version": FORMAT_VERSION, "model_id": cached.model_id, "data_sha256": file_sha256(path),
                "layout_sha256": layout_hash({"pipeline": PIPELINE_VERSION, "chunking": CHUNKING,
                                              "twins": profiles_hash}),
                "schema_sha256": schema_fingerprint()}
    index = open_index(folder, expected, build, say)
    if index is not None:
        return CaseLibrary(read_saved_table(index.folder / "cases.parquet"),
                           pd.read_parquet(index.folder / "passages.parquet"), index, cached, twins,
                           index.manifest.get("tag_inference", {}))
    say(f"Building the case-study index from {path}")
    cases = load_case_studies(path, settings.limits if settings is not None else None)
    if twins is not None:
        cases = with_city_ids(cases, twins.lookup)
    cases, passages, vectors, report = CaseLibrary.prepare(cases, cached, twins)
    cached.save()
    index = build_index(vectors, passages["passage_id"],
                        dict(expected, tag_inference=report, chunking=CHUNKING, data_file=str(CASE_FILE)))
    save_index(index, folder, tables={"cases.parquet": cases, "passages.parquet": passages})
    say(f"Case-study index saved in {folder} ({len(cases)} case studies, {len(passages)} passages, "
        f"{cached.encoded_count} passages encoded)")
    return CaseLibrary(cases, passages, index, cached, twins, report)
