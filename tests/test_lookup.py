"""City lookup: accents, exonyms, alternate names, ambiguity and close matches."""
from __future__ import annotations

import pandas as pd
import pytest

from matcher.errors import AmbiguousCityError, UnknownCityError
from matcher.lookup import CityLookup
from matcher.schema import validate_profiles


@pytest.fixture(scope="module")
def lookup(shipped_profiles):
    return CityLookup(shipped_profiles)


def _id(lookup, name, country=None):
    return lookup.profiles.at[lookup.resolve(name, country), "city_id"]


@pytest.mark.parametrize("variants", [
    ("Köln", "Koln", "Cologne", "koeln", "KÖLN"),
    ("Padova", "Padua"),
    ("Munich", "München", "Muenchen"),
    ("Gothenburg", "Göteborg"),
])
def test_variants_resolve_to_one_city(lookup, variants):
    ids = {_id(lookup, v) for v in variants}
    assert len(ids) == 1


def test_small_towns_are_findable(lookup):
    row = lookup.resolve("Fundao", "PT")
    assert lookup.profiles.at[row, "name"] == "Fundão"
    assert lookup.profiles.at[row, "population"] < 20_000


def test_city_id_resolves_directly(lookup, shipped_profiles):
    cid = shipped_profiles.iloc[5]["city_id"]
    assert lookup.profiles.at[lookup.resolve(cid), "city_id"] == cid


def test_unknown_name_suggests_close_matches(lookup):
    with pytest.raises(UnknownCityError) as err:
        lookup.resolve("Koeln am Rhein xyz")
    assert isinstance(err.value.suggestions, list)
    with pytest.raises(UnknownCityError) as err:
        lookup.resolve("Barcelonna")
    assert any(s.startswith("Barcelona (ES") for s in err.value.suggestions)


def test_ambiguous_name_asks_for_the_country():
    table = validate_profiles(pd.DataFrame([
        {"name": "Newtown", "country_code": "GB", "population": 30_000},
        {"name": "Newtown", "country_code": "IE", "population": 25_000},
        {"name": "Bigtown", "country_code": "NO", "population": 300_000, "tier": "universe"},
        {"name": "Bigtown", "country_code": "NL", "population": 6_000, "tier": "universe"},
    ]))
    lookup = CityLookup(table)
    with pytest.raises(AmbiguousCityError, match="Name the country") as err:
        lookup.resolve("Newtown")
    assert len(err.value.candidates) == 2
    assert table.at[lookup.resolve("Newtown", "ie"), "country_code"] == "IE"
    assert table.at[lookup.resolve("Bigtown"), "country_code"] == "NO"  # 50x larger: the obvious one


def test_lookup_errors_keep_their_wording_for_other_languages(lookup):
    """The English message is unchanged (the CLI prints it); it also keeps its template, so the
    app can word it in the user's language, the country by its name."""
    from matcher.present.view import error_text

    with pytest.raises(UnknownCityError) as unknown:
        lookup.resolve("Miltn Keynes", "GB")
    text = str(unknown.value)
    assert text.startswith("Unknown city 'Miltn Keynes' in GB. Did you mean: ") and unknown.value.reason == text
    assert error_text(unknown.value) == error_text(text)  # English as the CLI says it, internal ids left out
    french = error_text(unknown.value, "fr")
    assert french.startswith("Ville inconnue : 'Miltn Keynes' (Royaume-Uni). Vouliez-vous dire : ")
    assert french.endswith(" ?") and "[gn" not in french
    assert french.split("dire : ")[1] == error_text(text).split("Did you mean: ")[1][:-1] + " ?"  # the same towns
    plain = UnknownCityError("Atlantis")
    assert str(plain) == "Unknown city 'Atlantis'." and error_text(plain, "it") == "Città sconosciuta: 'Atlantis'."
    many = AmbiguousCityError("Springfield", ["Springfield (US)", "Springfield (AU)"])
    assert str(many) == ("'Springfield' matches 2 cities: Springfield (US); Springfield (AU). Name the country "
                         "(--country CC) or pass the city id.")
    assert error_text(many, "de").startswith("'Springfield' passt auf 2 Städte: Springfield (US); Springfield (AU).")
