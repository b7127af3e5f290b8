"""An accepted pairing's two-way brief: the same score from either side, what each city can
teach the other, and the agreed themes in the Markdown and the PDF."""
from __future__ import annotations

import pytest

from matcher.errors import ConfigError
from matcher.matcher import Matcher
from matcher.present.brief import brief_markdown, brief_pdf

from .fakes import FakeEncoder


@pytest.fixture(scope="module")
def matcher(curated_profiles):
    return Matcher.from_profiles(curated_profiles, FakeEncoder())


def test_a_pairing_brief_says_both_directions_and_the_agreed_themes(matcher):
    themes = ["Built environment", "  ", "one-stop shop for home renovation"]
    brief = matcher.pairing_brief("Milton Keynes", "Lyon", themes)
    back = matcher.pairing_brief("Lyon", "Milton Keynes")
    assert brief["mode"] == "two-way twins" and len(brief["twins"]) == 1
    assert brief["agreed_themes"] == ["Built environment", "one-stop shop for home renovation"]
    pair = brief["twins"][0]
    assert pair["name"] == "Lyon" and back["twins"][0]["name"] == "Milton Keynes"
    assert pair["score"] == pytest.approx(back["twins"][0]["score"], abs=1e-6)  # symmetric
    assert sum(t["contribution"] for t in pair["terms"]) == pytest.approx(pair["score"], abs=1e-6)
    two_way = next(t for t in pair["terms"] if t["name"] == "two_way")
    assert "Lyon can teach you:" in two_way["detail"] and "you can teach Lyon:" in two_way["detail"]

    text = brief_markdown(brief)
    assert "## Agreed themes" in text and "- Built environment" in text and "## The pairing" in text
    assert "Proposed twins" not in text
    german = brief_markdown(brief, "de")
    assert "Built environment" not in german.split("## ")[2]  # the survey term is translated
    assert brief_pdf(brief).startswith(b"%PDF")


def test_a_pairing_needs_two_cities(matcher):
    with pytest.raises(ConfigError, match="two different cities"):
        matcher.pairing_brief("Lyon", "Lyon")


def test_a_saved_pairing_brief_renders_again_after_json(matcher):
    """The workspace stores the brief as JSON (unknown numbers as null): it renders the same."""
    import json

    from matcher.present.workspace_view import pairing_payload

    brief = matcher.pairing_brief("Milton Keynes", "Lyon", ["Built environment"])
    a, b = ({"city_id": "gn2642465", "name": "Milton Keynes", "country_code": "GB"},
            {"city_id": "gn2996944", "name": "Lyon", "country_code": "FR"})
    payload, rules, objective = pairing_payload(brief, a, b)
    stored = json.loads(json.dumps(payload, allow_nan=False))
    assert stored["pairs"][0]["themes"] == ["Built environment"] == rules["themes"]
    assert objective.startswith("two-way twin score")
    assert brief_markdown(stored["brief"]) == brief_markdown(brief)
    assert "## Thèmes convenus" in brief_markdown(stored["brief"], "fr")
