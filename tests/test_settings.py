"""Settings: declared once, loaded once, validated; unknown names and wrong types refused."""
from __future__ import annotations

import pytest

from matcher.builds import twins_in_memory
from matcher.errors import ConfigError
from matcher.settings import SETTINGS, Settings

from .fakes import FakeEncoder


def test_defaults_are_the_declared_ones():
    s = Settings.load()
    assert {d.name: d.default for d in SETTINGS} == s.as_dict()


def test_unknown_setting_is_refused_with_the_allowed_names():
    with pytest.raises(ConfigError) as err:
        Settings.load({"top_kk": 5})
    assert "Unknown setting 'top_kk'" in str(err.value) and "top_k" in str(err.value) and "model_name" in str(err.value)


@pytest.mark.parametrize("name, value", [("top_k", "many"), ("top_k", 2.5), ("size_length_scale", "wide"),
                                         ("profiled_only", "perhaps"), ("model_name", 3), ("top_k", 0),
                                         ("geography_length_scale_km", -1.0), ("mentor_weight", float("nan"))])
def test_wrong_types_and_values_are_refused(name, value):
    with pytest.raises(ConfigError, match=name):
        Settings.load({name: value})


def test_a_settings_file_and_the_environment(tmp_path, monkeypatch):
    f = tmp_path / "matcher.toml"
    f.write_text('[matcher]\ntop_k = 4\ngeography_length_scale_km = "250"\n', encoding="utf-8")
    s = Settings.load(path=f)
    assert s["top_k"] == 4 and s["geography_length_scale_km"] == 250.0
    monkeypatch.setenv("MATCHER_SETTINGS", str(f))
    assert Settings.load({"top_k": 7})["top_k"] == 7  # explicit values win over the file
    bad = tmp_path / "bad.toml"
    bad.write_text("top_k = 4\ncolour = 'green'\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"Unknown setting 'colour' \(in .*bad.toml\)"):
        Settings.load(path=bad)


def test_settings_reach_the_recommender(curated_profiles):
    settings = Settings.load({"top_k": 3, "geography_length_scale_km": 100.0})
    rec = twins_in_memory(curated_profiles, FakeEncoder(), settings)
    assert len(rec.recommend("Lyon").matches) == 3  # top_k is the default k
    assert "length scale 100 km" in rec.featurizer.kernel_description("geography")
    default = twins_in_memory(curated_profiles, FakeEncoder())
    assert rec.featurizer.spec() != default.featurizer.spec()  # a kernel setting changes the index layout


def test_resource_limits_are_settings_and_reach_the_loaders(tmp_path, curated_profiles):
    from matcher.errors import LimitExceededError
    from matcher.io import load_profiles

    settings = Settings.load({"max_rows": 50})
    assert settings.limits.max_rows == 50 and Settings.load().limits.max_rows > 50
    path = tmp_path / "profiles.csv"
    curated_profiles.head(80)[["name", "country_code"]].to_csv(path, index=False)
    with pytest.raises(LimitExceededError, match="max_rows"):
        load_profiles(path, settings.limits)
    assert len(load_profiles(path, Settings.load().limits)) == 80
    with pytest.raises(ConfigError, match="max_rows"):
        Settings.load({"max_rows": 0})
