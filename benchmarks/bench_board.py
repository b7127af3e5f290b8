"""Match quality of the board (issue 12): for each need of a small labelled set
(tests/data/board_labelled.json), is the expected offer among the top 3 offers, and the expected
organisation among the top 3 organisations? Beside baselines on the same candidates in the same
run: ranking by the shared tags alone, by the meaning of the texts alone, and random (expected).

    python -m benchmarks.bench_board
"""
from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

LABELLED = Path(__file__).resolve().parent.parent / "tests" / "data" / "board_labelled.json"


def load_labelled(ws, admin, twins, labelled: dict) -> tuple[dict, dict]:
    """Post the labelled offers and needs and register the organisations; (key -> post id or org id)."""
    from matcher.workspace import add_organisation, approve_organisation, create_post

    posts, orgs = {}, {}
    for item in labelled["offers"] + labelled["needs"]:
        city = twins.profiles.at[twins.resolve(item["city"]), "city_id"]
        kind = "offer" if item in labelled["offers"] else "need"
        posts[item["key"]] = create_post(ws, kind, item["text"], admin, city_id=city, tags=item["tags"]).id
    for o in labelled["organisations"]:
        org = add_organisation(ws, o["name"], o["kind"], admin, sectors=o["sectors"], services=o["services"],
                               countries=o["countries"], languages=o["languages"], description=o["description"])
        orgs[o["key"]] = approve_organisation(ws, org.id, admin).id
    return posts, orgs


def hit_rates(m, labelled: dict, posts: dict, orgs: dict, k: int = 3) -> dict[str, dict[str, float]]:
    """Top-k hit rates of the full score and of single terms, for offers and organisations."""
    found: dict[str, dict[str, list[bool]]] = {"offers": {}, "organisations": {}}
    for need in labelled["needs"]:
        result = m.board_matches(posts[need["key"]], k=50)
        for what, matches, want in (("offers", result.posts.matches, str(posts[need["offer"]])),
                                    ("organisations", result.organisations.matches, str(orgs[need["org"]]))):
            rankings = {"full score": [x.id for x in matches]}
            for term in ("tags", "text"):
                by_term = sorted(matches, key=lambda x: -next(t.similarity for t in x.explanation if t.name == term))
                rankings[f"{term} alone"] = [x.id for x in by_term]
            for name, ids in rankings.items():
                found[what].setdefault(f"{name} top-1", []).append(want in ids[:1])
                found[what].setdefault(f"{name} top-{k}", []).append(want in ids[:k])
            found[what].setdefault(f"random top-{k} (expected)", []).append(min(1.0, k / max(len(matches), 1)))
    return {what: {name: sum(v) / len(v) for name, v in table.items()} for what, table in found.items()}


def main() -> None:
    from matcher.matcher import Matcher
    from matcher.workspace import init_workspace

    labelled = json.loads(LABELLED.read_text(encoding="utf-8"))
    with tempfile.TemporaryDirectory() as tmp:
        ws, admin = init_workspace(os.path.join(tmp, "w.db"), admin_email="admin@example.org",
                                   admin_password="bench-pass-1")
        m = Matcher.open(build="missing", workspace=ws)
        posts, orgs = load_labelled(ws, admin, m.twins, labelled)
        rates = hit_rates(m, labelled, posts, orgs)
    print(f"{len(labelled['needs'])} needs, {len(labelled['offers'])} offers, "
          f"{len(labelled['organisations'])} organisations; hit rates:")
    for what, table in rates.items():
        print(f"  {what}: " + ", ".join(f"{name} {rate:.2f}" for name, rate in table.items()))


if __name__ == "__main__":
    main()
