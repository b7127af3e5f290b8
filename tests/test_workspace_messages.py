"""The workspace's errors in the users' languages: the library words each one as a
matcher.wording.Reason (the English text, unchanged for the CLI, plus its template and values,
the cities as ids), and the app renders it from the catalogues with the cities by their names.
Every error here is raised by the library itself on a real workspace over the shipped data."""
from __future__ import annotations

import re

import pytest

from matcher.errors import MatcherError
from matcher.present.i18n import translator
from matcher.present.workspace_view import workspace_message
from matcher.wording import City, Reason, Terms
from matcher.workspace import (Actor, add_organisation, authenticate, city_label, create_first_admin, create_post,
                               create_user, get_user, open_workspace, set_profile)

MK, LYON, RE = "gn2642465", "gn2996944", "gn3169522"  # Milton Keynes, Lyon, Reggio nell'Emilia (shipped)
NAMES = {MK: "Milton Keynes", LYON: "Lyon", RE: "Reggio nell'Emilia"}  # as the app passes them
CASES = {
    "wrong password": lambda w: authenticate(w.ws, "admin@example.org", "not the password"),
    "an officer editing another city": lambda w: set_profile(w.ws, LYON, {"population": 5}, 0, w.officer),
    "an officer posting for another city": lambda w: create_post(w.ws, "need", "Help", w.officer, city_id=RE),
    "not allowed to edit a city": lambda w: set_profile(w.ws, MK, {"population": 5}, 0, w.viewer),
    "not allowed to manage users": lambda w: create_user(w.ws, "x@example.org", "password 1", "viewer", w.viewer),
    "not signed in": lambda w: create_user(w.ws, "x@example.org", "password 1", "viewer", None),
    "unknown user": lambda w: create_user(w.ws, "x@example.org", "password 1", "viewer",
                                          Actor(999, "ghost@example.org", "admin")),
    "no such user": lambda w: get_user(w.ws, "nobody@example.org"),
    "short password": lambda w: create_user(w.ws, "x@example.org", "short", "viewer", w.admin),
    "bad email": lambda w: create_user(w.ws, "not an address", "password 1", "viewer", w.admin),
    "duplicate user": lambda w: create_user(w.ws, "viewer@example.org", "password 1", "viewer", w.admin),
    "officer without city": lambda w: create_user(w.ws, "y@example.org", "password 1", "officer", w.admin),
    "a second first admin": lambda w: create_first_admin(w.ws, "z@example.org", "password 1"),
    "organisation not approved": lambda w: create_post(w.ws, "offer", "We fund", w.admin, org_id=w.org.id),
    "a required field": lambda w: create_post(w.ws, "need", "   ", w.admin, city_id=MK),
    "a bad website": lambda w: add_organisation(w.ws, "Acme", "investor", w.admin, website="ftp://acme.example"),
    "a bad role": lambda w: create_user(w.ws, "y@example.org", "password 1", "boss", w.admin),
    "a tag not in the survey": lambda w: create_post(w.ws, "need", "x", w.admin, city_id=MK, tags=["Transprt"]),
}


class Workspace:
    def __init__(self, path):
        self.ws = open_workspace(f"sqlite:///{path / 'ws.db'}")
        self.admin = create_first_admin(self.ws, "admin@example.org", "correct horse battery")
        self.officer = create_user(self.ws, "officer@mk.example.org", "officer password", "officer", self.admin,
                                   city_id=MK)
        self.viewer = create_user(self.ws, "viewer@example.org", "viewer password", "viewer", self.admin)
        self.org = add_organisation(self.ws, "Acme Fund", "investor", self.officer)


@pytest.fixture(scope="module")
def raised(tmp_path_factory) -> dict[str, MatcherError]:
    """Each case's error, raised by the library."""
    w = Workspace(tmp_path_factory.mktemp("ws"))
    out = {}
    for case, call in CASES.items():
        with pytest.raises(MatcherError) as info:
            call(w)
        out[case] = info.value
    out["labels"] = {c: city_label(w.ws, c) for c in NAMES}
    w.ws.close()
    return out


def _reason(exc) -> Reason:
    """The Reason the error carries: its message, or the message of its one problem."""
    problems = getattr(exc, "problems", None)
    return problems[0]["message"] if problems else exc.reason


def _parts(value):
    """Every template inside a reason and every value put into it."""
    if isinstance(value, Reason):
        parts = [_parts(v) for v in value.args.values()]
        return {value.template}.union(*(p[0] for p in parts)), [x for p in parts for x in p[1]]
    if isinstance(value, Terms):
        parts = [_parts(i) for i in value.items]
        return set().union(*(p[0] for p in parts)), [x for p in parts for x in p[1]]
    return set(), [value]


@pytest.mark.parametrize("case", list(CASES))
def test_each_error_carries_its_template_and_english_is_unchanged(raised, case):
    exc = raised[case]
    reason = _reason(exc)
    assert isinstance(reason, Reason), f"{case}: {exc!r} carries no template"
    english = str(exc) if not getattr(exc, "problems", None) else exc.problems[0]["message"]
    assert reason == english  # the text the CLI prints, character for character
    assert workspace_message(exc, {}, "en") == english
    assert translator("en").reason(reason) == english


@pytest.mark.parametrize("case", list(CASES))
def test_each_error_reads_in_german_with_the_cities_by_name(raised, case):
    exc = raised[case]
    german = workspace_message(exc, NAMES, "de")
    templates, values = _parts(_reason(exc))
    cities = [v for v in values if isinstance(v, City)]
    assert "{" not in german and german != workspace_message(exc, NAMES, "en")
    for city in cities:  # named as the app names it: no id, no English label
        assert NAMES[city.city_id] in german and city.city_id not in german
        assert city.label == raised["labels"][city.city_id] and f"'{city.label}'" not in german
    # no English word of the message is left (values people typed, e-mails and web addresses aside)
    rest = german
    for v in values:
        if not isinstance(v, City):
            rest = rest.replace(str(v), " ")
    rest = re.sub(r"\S+@\S+|https?://\S*", " ", rest)
    english_words = {w for t in templates
                     for w in re.findall(r"[A-Za-z][a-z]{2,}", re.sub(r"\{\w+\}|https?://", " ", t))}
    left = english_words & set(re.findall(r"[A-Za-z][a-z]{2,}", rest))
    assert not left, f"{case}: English left in {german!r}: {left}"


def test_the_english_names_the_cities_as_the_app_knows_them(raised):
    exc = raised["an officer editing another city"]
    labels = raised["labels"]
    named = workspace_message(exc, NAMES, "en")
    assert named == str(exc).replace(labels[MK], NAMES[MK]).replace(labels[LYON], NAMES[LYON])
    assert named != str(exc) and workspace_message(exc, {}, "en") == str(exc)


def test_a_city_with_an_apostrophe_is_named_whole_in_every_language(raised):
    exc = raised["an officer posting for another city"]
    for lang in ("de", "fr", "es", "it"):
        text = workspace_message(exc, NAMES, lang)
        assert "'Reggio nell'Emilia'" in text and "'Milton Keynes'" in text


def test_a_survey_term_in_a_message_is_shown_in_the_language(raised):
    exc = raised["a tag not in the survey"]
    guess = _reason(exc).args["guess"].items[0]
    german = workspace_message(exc, NAMES, "de")
    assert translator("de").survey(guess) in german and guess not in german


def test_an_error_worded_elsewhere_is_shown_as_the_library_says_it():
    exc = MatcherError("something the workspace did not word")
    assert workspace_message(exc, NAMES, "de") == "something the workspace did not word"
