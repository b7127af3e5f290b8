"""Profile validation: every problem named by file, row and column; nothing half-loaded."""
from __future__ import annotations

import pandas as pd
import pytest

from matcher.errors import ProfileValidationError
from matcher.io import load_profiles
from matcher.facets import FACETS
from matcher.schema import validate_profiles
from matcher.vocab import vocabularies


def _row(**over):
    base = {"name": "Testville", "country_code": "DE", "population": "120000", "lat": "50.1", "lon": "8.6",
            "languages": "de", "barriers": "Lack of know-how and skills", "priority_sectors": "Energy systems"}
    base.update(over)
    return base


def _write_csv(tmp_path, rows, name="profiles.csv"):
    path = tmp_path / name
    pd.DataFrame(rows).to_csv(path, index=False)
    return path


def test_misspelt_barrier_names_file_row_column_and_suggests(tmp_path):
    rows = [_row(name=f"Town {i}") for i in range(14)]
    rows[12]["barriers"] = "lack of know-how and skils"  # file line 14 (header is line 1)
    path = _write_csv(tmp_path, rows)
    with pytest.raises(ProfileValidationError) as err:
        load_profiles(path)
    problem = err.value.problems[0]
    assert problem["file"] == str(path)
    assert (problem["row"], problem["column"]) == (14, "barriers")
    assert "did you mean 'Lack of know-how and skills'?" in problem["message"]
    assert "row 14, column barriers" in str(err.value)


@pytest.mark.parametrize("column, value, fragment", [
    ("population", "many", "not a number"),
    ("population", "-5", "outside"),
    ("lat", "123", "latitude"),
    ("country_code", "Germany", "ISO 3166-1"),
    ("maturity", "expert", "allowed values: starting, developing, advanced"),
    ("net_zero_target_year", "2300", "target year"),
    ("net_zero_target_year", "2040.5", "whole number"),
    ("languages", "German", "ISO 639-1"),
    ("priority_sectors", "Transport stuff", "not a known priority sector"),
    ("eu_mission", "maybe", "true/false"),
])
def test_bad_cells_are_reported_with_column(column, value, fragment):
    with pytest.raises(ProfileValidationError) as err:
        validate_profiles(pd.DataFrame([_row(**{column: value})]), source="t.csv")
    assert err.value.problems[0]["column"] == column
    assert fragment in err.value.problems[0]["message"]


def test_all_problems_are_collected_before_raising():
    rows = [_row(population="x"), _row(name="B", lat="999"), _row(name="C", barriers="nonsense barrier xyz")]
    with pytest.raises(ProfileValidationError) as err:
        validate_profiles(pd.DataFrame(rows))
    assert [(p["row"], p["column"]) for p in err.value.problems] == [(1, "population"), (2, "lat"), (3, "barriers")]


def test_missing_required_and_unknown_columns():
    frame = pd.DataFrame([{"name": "A", "barriers_list": "x"}])
    with pytest.raises(ProfileValidationError) as err:
        validate_profiles(frame)
    messages = " | ".join(p["message"] for p in err.value.problems)
    assert "unknown column 'barriers_list'; did you mean 'barriers'?" in messages
    assert "required column 'country_code' is missing" in messages


def test_duplicate_ids_and_half_coordinates():
    rows = [_row(city_id="a"), _row(city_id="a", name="Other", lon="")]
    with pytest.raises(ProfileValidationError) as err:
        validate_profiles(pd.DataFrame(rows))
    messages = [p["message"] for p in err.value.problems]
    assert any("duplicate city_id 'a'" in m for m in messages)
    assert any("lat and lon must both be given" in m for m in messages)


def test_valid_rows_are_normalised():
    table = validate_profiles(pd.DataFrame([_row(barriers="lack of know-how and skills;Very high investment costs",
                                                 languages="DE;fr", maturity="Advanced")]))
    row = table.iloc[0]
    assert row["barriers"] == ["Lack of know-how and skills", "Very high investment costs"]
    assert row["languages"] == ["de", "fr"]
    assert row["maturity"] == "advanced"
    assert row["city_id"] == "x-testville-de"
    assert set(row["known_facets"]) == {"size", "barriers", "sectors", "languages", "geography", "maturity"}
    assert row["completeness"] == pytest.approx(6 / len(FACETS))  # six of the registry's facets are known
    assert pd.isna(row["net_zero_target_year"])  # unknown stays empty, never invented


def test_unreadable_files_give_clear_errors(tmp_path):
    bad_json = tmp_path / "p.jsonl"
    bad_json.write_text('{"name": "A", "country_code": "DE"}\n{not json}\n', encoding="utf-8")
    with pytest.raises(ProfileValidationError, match=r"row 2.*not valid JSON"):
        load_profiles(bad_json)
    with pytest.raises(ProfileValidationError, match="unsupported file type"):
        load_profiles(_write_csv(tmp_path, [_row()], name="p.xml"))
    with pytest.raises(ProfileValidationError, match="file not found"):
        load_profiles(tmp_path / "missing.csv")
    empty = tmp_path / "empty.csv"
    empty.write_text("name,country_code\n", encoding="utf-8")
    with pytest.raises(ProfileValidationError, match="no data rows"):
        load_profiles(empty)


def test_cp1252_and_semicolon_csv_are_read(tmp_path):
    path = tmp_path / "excel.csv"
    path.write_bytes("name;country_code;population\nKöln;DE;1000000\n".encode("cp1252"))
    table = load_profiles(path)
    assert table.iloc[0]["name"] == "Köln" and int(table.iloc[0]["population"]) == 1_000_000


def test_vocabulary_follows_the_survey():
    vocab = vocabularies()
    assert len([b for b in vocab["barriers"][:17]]) == 17
    assert vocab["barriers"][0] == "Insufficient administrative and operational capacity"
    assert "Have not identified yet" not in vocab["priority_sectors"]
