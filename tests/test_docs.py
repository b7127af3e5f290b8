"""The README documents every setting and facet (datasette's habit: docs enforced by tests)."""
from pathlib import Path

from matcher.facets import DEFAULT_WEIGHTS, FACETS
from matcher.present.text import facet_table, settings_table
from matcher.settings import DEFAULT_SETTINGS, SETTINGS

README = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")


def test_every_setting_and_facet_is_in_the_readme():
    missing = [s.name for s in SETTINGS if f"`{s.name}`" not in README]
    missing += [f.name for f in FACETS if f"`{f.name}`" not in README]
    assert not missing, f"document these in README.md: {missing}"
    assert set(DEFAULT_WEIGHTS) == {f.name for f in FACETS}


def test_readme_tables_are_the_registry_and_the_declared_settings():
    """Regenerate with: python -c 'from matcher.present.text import facet_table, settings_table; ...'"""
    assert facet_table(FACETS, DEFAULT_SETTINGS) in README
    assert settings_table(DEFAULT_SETTINGS) in README


def test_readme_names_the_two_commands_and_ci_runs_the_test_one():
    assert "scripts/run.sh" in README and "scripts/test.sh" in README
    ci = (Path(__file__).resolve().parent.parent / ".ci" / "run").read_text(encoding="utf-8")
    assert "scripts/test.sh" in ci
