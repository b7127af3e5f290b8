"""Survey import: a network's export of the NetZeroCities city survey onto the profile schema.

The fixture exports are built here. Every city in them is fictional ("... (synthetic)") and
every answer is made up for the test: nothing is copied from real survey answers.
"""
from __future__ import annotations

import datetime as dt
import json

import pandas as pd
import pytest
from openpyxl import Workbook

from matcher.errors import MatcherError, ProfileValidationError
from matcher.vocab import taxonomy
from matcher.cli import main
from matcher.survey import import_survey

Q = {k: v["question"] for k, v in taxonomy()["_questions"].items()}

HEADER = ["Timestamp", "City name", "Country", "Population", Q["target_ranges"],
          "What are the main barriers & gaps your city faces...", Q["priority_sectors"], Q["co_benefits"],
          "Funding gaps", Q["staff_sizes"], "Comments"]
ROWS = [
    ["2024-03-01 10:02", "Fictionville (synthetic)", "Germany", "120 000", "Yes, with a timeline range of 2030 - 2040",
     "Lack of know-how and skills; Very high investment costs\nOther: flooding of the old town",
     "Energy systems, Built environment",
     "Improved access to services (i.e., public transport, energy), Poverty alleviation",
     "Lack of mixed funding models", "Less than 5", "synthetic answers"],
    [""] * 11,
    ["2024-03-02 09:00", "Testburg (synthetic)", "FR", "45000", "No target yet",
     "Too many bureaucratic hurdles, Lack of digitalisation", "Have not identified yet", "", "", "5 - 10", ""],
    ["2024-03-03 12:30", "Mockstadt (synthetic)", "Österreich", "80000", "Yes, with a timeline range of up to 2030",
     "lack of know how & skills,  Lack of fundng for everything", "Mobility and transport", "Poverty alleviation",
     "", "", ""],
]


def _write_csv(path, rows, sep=",", encoding="utf-8"):
    frame = pd.DataFrame(rows)
    path.write_bytes(frame.to_csv(header=False, index=False, sep=sep).encode(encoding))
    return path


@pytest.mark.parametrize("encoding,sep", [("utf-8", ","), ("utf-8-sig", ";"), ("cp1252", ";"), ("utf-8", "\t")])
def test_csv_export_maps_questions_and_answers(tmp_path, encoding, sep):
    path = _write_csv(tmp_path / "survey.csv", [HEADER] + ROWS, sep, encoding)
    result = import_survey(path)
    p = result.profiles.set_index("name")
    assert list(p.index) == ["Fictionville (synthetic)", "Testburg (synthetic)", "Mockstadt (synthetic)"]
    assert list(p["country_code"]) == ["DE", "FR", "AT"]
    assert p.loc["Fictionville (synthetic)", "population"] == 120000
    assert p.loc["Fictionville (synthetic)", "barriers"] == ["Lack of know-how and skills", "Very high investment costs"]
    assert p.loc["Fictionville (synthetic)", "priority_sectors"] == ["Energy systems", "Built environment"]
    # An option that holds commas is read whole.
    assert p.loc["Fictionville (synthetic)", "co_benefits"] == [
        "Improved access to services (i.e., public transport, energy)", "Poverty alleviation"]
    assert p.loc["Testburg (synthetic)", "priority_sectors"] == []  # "Have not identified yet"
    # A target range is kept as a range; no year is made up.
    assert p.loc["Fictionville (synthetic)", "target_text"] == "Yes, with a timeline range of 2030 - 2040"
    assert p["net_zero_target_year"].isna().all()
    by_header = {c.header: c for c in result.columns}
    assert by_header["What are the main barriers & gaps your city faces..."].mapped_to == "barriers"
    assert by_header[Q["staff_sizes"]].mapped_to is None and "does not use" in by_header[Q["staff_sizes"]].note
    assert by_header["Timestamp"].mapped_to is None
    unknown = {(v.row, v.value): v.reason for v in result.unknown_values}
    # Rows as the user sees them: header is row 1, the empty row 3 is skipped.
    assert "free text" in unknown[(2, "Other: flooding of the old town")]
    assert (5, "Lack of fundng for everything") in unknown
    assert p.loc["Mockstadt (synthetic)", "barriers"] == ["Lack of know-how and skills"]  # case and '&' folded
    assert "survey export survey.csv, row 5" in p.loc["Mockstadt (synthetic)", "provenance"]


def test_xlsx_with_section_row_one_column_per_option_and_excel_dates(tmp_path):
    wb = Workbook()
    ws = wb.active
    ws.append(["Urban Governance", None, None, Q["barriers"], None, None, "Funding and Partnerships", None])
    ws.append(["City", "Country code", "Submitted", "Lack of know-how and skills", "Very high investment costs",
               "Other (please specify)", Q["funding_gaps"], "Net zero target year"])
    ws.merge_cells("A1:C1")
    ws.merge_cells("D1:F1")
    ws.append(["Exampleton (synthetic)", "NL", dt.datetime(2024, 5, 10), "Yes", None, "floods",
               "Lack of funding for capital costs", dt.datetime(2040, 1, 1)])
    ws.append([None] * 8)
    ws.append(["Sampleby (synthetic)", "se", dt.datetime(2024, 5, 11), 1, "x", None, None, 2035])
    ws.append(["Mockford (synthetic)", "PT", None, "maybe", "0", None, None, None])
    wb.save(tmp_path / "survey.xlsx")
    result = import_survey(tmp_path / "survey.xlsx")
    assert result.header_rows == 2
    p = result.profiles.set_index("name")
    assert p.loc["Exampleton (synthetic)", "barriers"] == ["Lack of know-how and skills"]
    assert p.loc["Sampleby (synthetic)", "barriers"] == ["Lack of know-how and skills", "Very high investment costs"]
    assert p.loc["Sampleby (synthetic)", "country_code"] == "SE"
    assert p.loc["Exampleton (synthetic)", "net_zero_target_year"] == 2040
    assert p.loc["Sampleby (synthetic)", "net_zero_target_year"] == 2035
    assert [(v.row, v.value) for v in result.unknown_values] == [(6, "maybe")]
    assert {c.header: c.option for c in result.columns}["Very high investment costs"] == "Very high investment costs"


def test_parquet_with_list_answers(tmp_path):
    frame = pd.DataFrame({"city": ["Parqueton (synthetic)"], "country_code": ["IT"],
                          "barriers": [["Lack of digitalisation", "Lack of political leadership"]],
                          Q["co_benefits"]: ["Poverty alleviation"]})
    frame.to_parquet(tmp_path / "s.parquet")
    p = import_survey(tmp_path / "s.parquet").profiles
    assert p.loc[0, "barriers"] == ["Lack of digitalisation", "Lack of political leadership"]
    assert p.loc[0, "co_benefits"] == ["Poverty alleviation"]


def test_schema_errors_name_the_export_row_and_column(tmp_path):
    rows = [["City", "Country", "Population"], ["Okville (synthetic)", "DE", "5000"], ["", "", ""],
            ["Badtown (synthetic)", "Atlantis", "-3"], ["Okville (synthetic)", "DE", "7000"]]
    path = _write_csv(tmp_path / "bad.csv", rows)
    with pytest.raises(ProfileValidationError) as err:
        import_survey(path)
    problems = {(p["row"], p["column"]) for p in err.value.problems}
    assert (4, "country_code") in problems and (4, "population") in problems and (5, "city_id") in problems
    assert "export column 'Country'" in str(err.value)


def test_strict_refuses_unknown_answers_and_nothing_is_written(tmp_path):
    path = _write_csv(tmp_path / "s.csv", [HEADER] + ROWS)
    out = tmp_path / "out.parquet"
    with pytest.raises(ProfileValidationError, match="row 2"):
        import_survey(path, out, strict=True)
    assert not out.exists()
    import_survey(path, out)
    assert len(pd.read_parquet(out)) == 3


def test_refusals_are_library_errors(tmp_path):
    (tmp_path / "noname.csv").write_text("Population,Country\n5000,DE\n")
    (tmp_path / "empty.csv").write_text("")
    (tmp_path / "headeronly.csv").write_text("City,Country\n\n\n")
    (tmp_path / "bad.xlsx").write_bytes(b"PK\x03\x04 not a workbook")
    (tmp_path / "bytes.csv").write_bytes(b"City\n\x81\x8d\x8f\x90\x9d\xff\n")
    for name in ("noname.csv", "empty.csv", "headeronly.csv", "bad.xlsx", "bytes.csv", "missing.csv"):
        with pytest.raises(MatcherError):
            import_survey(tmp_path / name)


def test_cli_entry(tmp_path, capsys):
    path = _write_csv(tmp_path / "s.csv", [HEADER] + ROWS)
    out, report = tmp_path / "p.csv", tmp_path / "r.json"
    assert main(["import-survey", str(path), "--out", str(out), "--report", str(report)]) == 0
    assert "3 profile(s) imported" in capsys.readouterr().out
    assert json.loads(report.read_text())["rows"] == 3
    assert "Fictionville (synthetic)" in out.read_text()
    (tmp_path / "x.csv").write_text("nothing,here\n1,2\n")
    assert main(["import-survey", str(tmp_path / "x.csv")]) == 2
    assert "city name" in capsys.readouterr().err
