"""The workspace as the app words it (matcher.present.workspace_view), on real shipped profiles."""
from __future__ import annotations

from matcher.facets import FACETS
from matcher.present.workspace_view import (EDIT_FIELDS, choices_for, comparison_lines, completeness, form_changes,
                                            form_value, improve_matches, workspace_message)
from matcher.workspace import compare_saved
from matcher.workspace.profiles import row_to_profile


def _profile(shipped_profiles, name: str) -> dict:
    return row_to_profile(shipped_profiles.loc[shipped_profiles["name"] == name].iloc[0])


def test_the_form_sends_only_what_changed(shipped_profiles):
    mk = _profile(shipped_profiles, "Milton Keynes")
    answers = {e.field: form_value(e, mk) for e in EDIT_FIELDS}
    assert form_changes(mk, answers) == {}  # the form as drawn changes nothing
    answers["barriers"] = ["Lack of know-how and skills"]
    answers["maturity"] = "developing"
    answers["narrative"] = "  "
    changes = form_changes(mk, answers)
    assert changes["barriers"] == ["Lack of know-how and skills"] and changes["maturity"] == "developing"
    assert ("narrative" in changes) == (mk["narrative"] is not None) and changes.get("narrative") is None


def test_an_answer_outside_the_survey_list_is_kept_as_an_option():
    barriers = next(e for e in EDIT_FIELDS if e.field == "barriers")
    options = choices_for(barriers, ["Fuel poverty"])
    assert options[-1] == "Fuel poverty" and options.count("Fuel poverty") == 1


def test_what_would_improve_the_matches_lists_exactly_the_unknown_facets(shipped_profiles):
    mk = _profile(shipped_profiles, "Milton Keynes")
    known, total = completeness(mk)
    table = improve_matches(mk)
    assert total == len(FACETS) and len(table) == total - known
    assert "Barriers" in set(table["what is unknown"])  # Milton Keynes reports none
    row = table.loc[table["what is unknown"] == "Barriers"].iloc[0]
    assert row["how to add it"].startswith("answer “What are the main barriers")
    mk["barriers"] = ["Lack of know-how and skills"]
    assert "Barriers" not in set(improve_matches(mk)["what is unknown"]) and completeness(mk)[0] == known + 1


def test_comparisons_name_cities_not_ids():
    old = {"members": [{"city_id": "gn2642465", "name": "Milton Keynes"}]}
    new = {"members": [{"city_id": "gn2996944", "name": "Lyon"}]}
    lines = comparison_lines("shortlist", compare_saved("shortlist", old, new), old, new)
    assert lines == ["New in this run (1): Lyon", "No longer in this run (1): Milton Keynes", "In both (0): none"]
