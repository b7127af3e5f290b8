"""Matches for a post on the board (a need or an offer): the posts of the other kind, the
organisations that offer it, the cities that have done it and the case studies about it, each
match explained by terms that add up to its score, like twins.

A need and an offer meet on their survey tags (shared / sqrt(each count)), the meaning of their
texts (cosine of sentence embeddings), how alike their cities are (the twin score) and whether it
works both ways ("you need what they offer and they need what you offer").
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .facets import has_value
from .scoring import Match, Result, Term, check_k, ranked
from .vocab import ACTION_SECTORS, PRIORITY_ACTION_SECTORS
from .wording import Num, Reason, Terms, cosine_figure, survey_list

POST_WEIGHTS = {"tags": 0.35, "text": 0.4, "peer": 0.15, "both_ways": 0.1}
ORG_WEIGHTS = {"tags": 0.35, "text": 0.45, "reach": 0.2}
CITY_WEIGHTS = {"done_it": 0.7, "actions": 0.3}
LABELS = {"tags": "Shared tags", "text": "Meaning of the texts", "peer": "Alike cities",
          "both_ways": "Both ways", "reach": "Works where you are", "done_it": "Has done it",
          "actions": "Actions in these sectors"}
BOTH_WAYS_FLOOR = 0.35  # a reverse need-offer pair counts when its own tag+text fit reaches this


@dataclass(kw_only=True)
class BoardMatch(Match):
    kind: str  # "post", "organisation", "city"
    id: str  # post id, organisation id or city id
    title: str  # the text's first line, the organisation's or the city's name
    by: str | None = None  # the city or organisation behind a post
    extra: dict = field(default_factory=dict)


@dataclass
class BoardMatches:
    """Everything matched to one post, by kind; each a Result whose matches' terms add up."""

    post_id: int
    posts: Result
    organisations: Result
    cities: Result
    case_studies: Result


def _term(name: str, weight: float, similarity: float, detail: Reason) -> Term:
    return Term(name, weight, float(similarity), float(weight * similarity), detail, LABELS[name])


def _tag_fit(mine, theirs) -> tuple[float, list[str]]:
    shared = [t for t in mine if t in set(theirs)]
    if not mine or not theirs:
        return 0.0, shared
    return len(shared) / np.sqrt(len(set(mine)) * len(set(theirs))), shared


def _first_line(text: str, limit: int = 90) -> str:
    line = (text or "").strip().splitlines()[0] if (text or "").strip() else ""
    return line if len(line) <= limit else line[: limit - 1] + "…"


class BoardMatcher:
    """Matches posts over one Matcher (its twins, case library and encoder)."""

    def __init__(self, matcher, posts: list, organisations: list):
        self.m = matcher
        self.posts = [p for p in posts if p.status == "visible"]
        self.organisations = list(organisations)
        self.encoder = matcher.cases.encoder
        texts = [p.text for p in self.posts] + [self._org_text(o) for o in self.organisations]
        vectors = self.encoder.encode(texts) if texts else np.zeros((0, 1), dtype=np.float32)
        self._post_vec = {p.id: vectors[i] for i, p in enumerate(self.posts)}
        self._org_vec = {o.id: vectors[len(self.posts) + i] for i, o in enumerate(self.organisations)}

    @staticmethod
    def _org_text(org) -> str:
        return " ".join(x for x in [org.name, org.description or "", "; ".join(org.services)] if x)

    def _vector(self, post) -> np.ndarray:
        return self._post_vec[post.id] if post.id in self._post_vec else self.encoder.encode([post.text])[0]

    def match(self, post, k: int = 5) -> BoardMatches:
        k = check_k(k)
        mode = "offers for a need" if post.kind == "need" else "needs for an offer"
        query = _first_line(post.text)
        return BoardMatches(
            post_id=post.id,
            posts=Result(mode, None, dict(POST_WEIGHTS), self._posts(post, k), query),
            organisations=Result("organisations", None, dict(ORG_WEIGHTS), self._organisations(post, k), query),
            cities=Result("cities that have done it", None, dict(CITY_WEIGHTS), self._cities(post, k), query),
            case_studies=self.m.cases.search(post.text, k=k))

    # ------------------------------------------------------------------ posts
    def _posts(self, post, k: int) -> list[BoardMatch]:
        other = "offer" if post.kind == "need" else "need"
        q = self._vector(post)
        out = []
        for cand in self.posts:
            if cand.kind != other or cand.id == post.id or (post.city_id and cand.city_id == post.city_id):
                continue
            terms = [self._tags(post, cand), self._text(q, self._vector(cand)), self._peer(post, cand),
                     self._both_ways(post, cand)]
            out.append(self._match("post", str(cand.id), _first_line(cand.text), terms, by=self._by(cand)))
        return ranked(out, k, tie=lambda m: m.id)

    def _tags(self, post, cand) -> Term:
        fit, shared = _tag_fit(post.tags, cand.tags)
        return _term("tags", POST_WEIGHTS["tags"], fit, Reason("shared tags: {tags}", tags=survey_list(shared))
                     if shared else Reason("no tag in common"))

    def _text(self, q: np.ndarray, v: np.ndarray, weights: dict = POST_WEIGHTS) -> Term:
        cos = max(0.0, float(q @ v))
        return _term("text", weights["text"], cos, Reason("texts alike in meaning{cosine}", cosine=cosine_figure(cos)))

    def _peer(self, post, cand) -> Term:
        rows = [self.m.twins.row_of_id(c) if c else None for c in (post.city_id, cand.city_id)]
        if None in rows:
            return _term("peer", POST_WEIGHTS["peer"], 0.0, Reason("not compared: a post without a city"))
        sim = float(self.m.twins.explain_pair(rows[0], rows[1]).score)
        name = self.m.twins.profiles.at[rows[1], "name"]
        return _term("peer", POST_WEIGHTS["peer"], sim, Reason("{name} is a city like yours (twin score {score})",
                                                              name=name, score=Num(sim, ".2f")))

    def _both_ways(self, post, cand) -> Term:
        """Does the candidate's side also need what the post's side offers?"""
        mine = [p for p in self.posts if p.kind == cand.kind and _same_author(p, post)]  # my side's own offers
        theirs = [p for p in self.posts if p.kind == post.kind and _same_author(p, cand)]  # their side's needs
        best, pair = 0.0, None
        for a in theirs:
            for b in mine:
                fit = 0.5 * _tag_fit(a.tags, b.tags)[0] + 0.5 * max(0.0, float(self._vector(a) @ self._vector(b)))
                if fit > best:
                    best, pair = fit, (a, b)
        if pair is None or best < BOTH_WAYS_FLOOR:
            return _term("both_ways", POST_WEIGHTS["both_ways"], 0.0,
                         Reason("one way only (nothing the other way on the board)"))
        return _term("both_ways", POST_WEIGHTS["both_ways"], 1.0,
                     Reason("you need what they offer and they need what you offer: '{text}'",
                            text=_first_line(pair[0].text, 60)))

    # ------------------------------------------------------------------ organisations
    def _organisations(self, post, k: int) -> list[BoardMatch]:
        q = self._vector(post)
        asker = self._city(post)
        out = []
        for org in self.organisations:
            if org.status != "approved":
                continue
            fit, shared = _tag_fit([t for t in post.tags], org.sectors)
            tags = _term("tags", ORG_WEIGHTS["tags"], fit, Reason("works in: {sectors}", sectors=survey_list(shared))
                         if shared else Reason("none of your sectors"))
            terms = [tags, self._text(q, self._org_vec[org.id], ORG_WEIGHTS), self._reach(org, asker)]
            out.append(self._match("organisation", str(org.id), org.name, terms, by=org.kind))
        return ranked(out, k, tie=lambda m: m.id)

    def _reach(self, org, asker: dict | None) -> Term:
        if asker is None:
            return _term("reach", ORG_WEIGHTS["reach"], 0.0, Reason("not compared: the post names no city"))
        country, languages = asker.get("country_code"), set(asker.get("languages") or [])
        in_country = not org.countries or country in org.countries
        speaks = not org.languages or bool(languages & set(org.languages))
        share = (0.5 if in_country else 0.0) + (0.5 if speaks else 0.0)
        where = Reason("works in your country") if in_country else \
            Reason("works in {countries}", countries=Terms(org.countries, ", ", "country"))
        says = Reason("speaks your language") if speaks else \
            Reason("works in {languages}", languages=Terms(org.languages, ", ", "language"))
        return _term("reach", ORG_WEIGHTS["reach"], share, Reason("{where}; {says}", where=where, says=says))

    # ------------------------------------------------------------------ cities that have done it
    def _cities(self, post, k: int) -> list[BoardMatch]:
        hits = self.m.cases.search(post.text, k=max(20, 4 * k)).matches
        best: dict[str, tuple[float, str]] = {}
        for h in hits:
            cid = self._case_city(h)
            if cid and cid != post.city_id and (cid not in best or h.score > best[cid][0]):
                best[cid] = (h.score, h.title)
        sectors = [a for t in post.tags for a in PRIORITY_ACTION_SECTORS.get(t, ())]
        out = []
        for cid, (score, title) in best.items():
            row = self.m.twins.profiles.iloc[self.m.twins.row_of_id(cid)]
            terms = [_term("done_it", CITY_WEIGHTS["done_it"], score,
                           Reason("case study '{title}' (fit {fit})", title=title, fit=Num(score, ".2f"))),
                     self._actions(row, sectors)]
            out.append(self._match("city", cid, f"{row['name']} ({row['country_code']})", terms))
        return ranked(out, k, tie=lambda m: m.id)

    def _case_city(self, hit) -> str | None:
        cases = self.m.case_table
        if cases is None:
            return None
        rows = cases.loc[cases["case_id"] == hit.case_id, "city_id"]
        return rows.iloc[0] if len(rows) and isinstance(rows.iloc[0], str) else None

    @staticmethod
    def _actions(row, sectors: list[str]) -> Term:
        if not sectors:
            return _term("actions", CITY_WEIGHTS["actions"], 0.0, Reason("not compared: the post names no sector"))
        counts = {s: row.get(f"actions_n_{s}") for s in sectors}
        known = {s: float(v) for s, v in counts.items() if has_value(v)}
        if not known:
            return _term("actions", CITY_WEIGHTS["actions"], 0.0, Reason("no action plan on record"))
        total = sum(known.values())
        top = max(known, key=known.get)
        return _term("actions", CITY_WEIGHTS["actions"], min(1.0, total / 20),
                     Reason("{count} actions in {sector} ({total} in these sectors)", count=Num(known[top], ".0f"),
                            sector=Reason(ACTION_SECTORS[top]), total=Num(total, ".0f")))

    # ------------------------------------------------------------------ helpers
    def _city(self, post) -> dict | None:
        row = self.m.twins.row_of_id(post.city_id) if post.city_id else None
        return None if row is None else self.m.twins.profiles.iloc[row].to_dict()

    def _by(self, post) -> str | None:
        if post.org_name:
            return post.org_name
        city = self._city(post)
        return city["name"] if city else None

    @staticmethod
    def _match(kind: str, id_: str, title: str, terms: list[Term], by: str | None = None) -> BoardMatch:
        reasons = [t.detail for t in sorted(terms, key=lambda t: -t.contribution) if t.contribution > 0.005]
        return BoardMatch(kind=kind, id=id_, title=title, by=by, score=float(sum(t.contribution for t in terms)),
                          rank=0, explanation=terms, reasons=reasons)


def _same_author(a, b) -> bool:
    """Two posts from the same city or the same organisation."""
    return bool((a.city_id and a.city_id == b.city_id) or (a.org_id and a.org_id == b.org_id))
