"""Find a city by what a person types: accents, exonyms and alternate names resolve
("Cologne", "Koln", "Köln"); an ambiguous name asks for the country."""
from __future__ import annotations

from collections import defaultdict

import pandas as pd
from rapidfuzz import fuzz, process

from .errors import AmbiguousCityError, UnknownCityError
from .vocab import normalise_key

# A candidate this many times larger than every other one is taken as the obvious meaning
# ("Bergen" -> Bergen, NO rather than Bergen, NL); otherwise the caller must say which.
DOMINANCE = 20
CURATED_DOMINANCE = 5


class CityLookup:
    def __init__(self, profiles: pd.DataFrame, keys: pd.DataFrame | None = None):
        """`keys` is a saved key_table() of the same profiles (kept with the index), which
        spares folding 100,000 names again on every start."""
        self.profiles = profiles
        self._row_of_id = {cid: i for i, cid in enumerate(profiles["city_id"])}
        keys = self.key_table(profiles) if keys is None else keys
        self.keys = keys
        self._primary: dict[str, list[int]] = defaultdict(list)
        self._alternate: dict[str, list[int]] = defaultdict(list)
        for key, row, primary in zip(keys["key"].tolist(), keys["row"].tolist(), keys["primary"].tolist()):
            (self._primary if primary else self._alternate)[key].append(row)
        self._keys = list(set(self._primary) | set(self._alternate))

    @staticmethod
    def key_table(profiles: pd.DataFrame) -> pd.DataFrame:
        """Folded name keys: (key, row, primary) for names and ASCII names, then alternates."""
        keys, rows, primary = [], [], []
        names = profiles["name"].tolist()
        asciis = profiles["ascii_name"].tolist()
        alts = profiles["alternate_names"].tolist()
        for row, (name, ascii_name, alternates) in enumerate(zip(names, asciis, alts)):
            own = {normalise_key(name)}
            if isinstance(ascii_name, str):
                own.add(normalise_key(ascii_name))
            for key in sorted(own):
                keys.append(key), rows.append(row), primary.append(True)
            for alt in sorted({normalise_key(a) for a in (alternates if alternates is not None else ())} - own):
                if alt:
                    keys.append(alt), rows.append(row), primary.append(False)
        return pd.DataFrame({"key": keys, "row": rows, "primary": primary})

    def with_rows(self, profiles: pd.DataFrame, rows: list[int]) -> "CityLookup":
        """The lookup of `profiles`, where only `rows` (edited or new) need their names folded again."""
        fresh = self.key_table(profiles.iloc[rows])
        fresh["row"] = [rows[i] for i in fresh["row"]]
        keep = self.keys[~self.keys["row"].isin(rows)]
        return CityLookup(profiles, pd.concat([keep, fresh], ignore_index=True))

    def row_of_id(self, city_id: str) -> int | None:
        return self._row_of_id.get(city_id)

    def _label(self, row: int) -> str:
        r = self.profiles.iloc[row]
        parts = [r["country_code"]]
        if isinstance(r.get("admin1"), str):
            parts.append(r["admin1"])
        if pd.notna(r.get("population")):
            parts.append(f"pop. {int(r['population']):,}")
        return f"{r['name']} ({', '.join(parts)}) [{r['city_id']}]"

    def resolve(self, query: str, country: str | None = None) -> int:
        """Return the profile row meant by `query` (a name or a city id)."""
        query = (query or "").strip()
        if query in self._row_of_id:
            return self._row_of_id[query]
        key = normalise_key(query)
        cc = country.strip().upper() if country else None
        # Exonyms count as much as names: "Cologne" is Köln before it is the Italian village.
        rows = [r for r in self._primary.get(key, []) + self._alternate.get(key, [])
                if cc is None or self.profiles.at[r, "country_code"] == cc]
        if rows:
            return self._choose(query, sorted(set(rows)))
        raise UnknownCityError(query, self.suggest(query, cc), country=cc)

    def _choose(self, query: str, rows: list[int]) -> int:
        if len(rows) == 1:
            return rows[0]
        tier_rank = {"curated": 0}
        pops = self.profiles["population"]
        ranked = sorted(rows, key=lambda r: (tier_rank.get(self.profiles.at[r, "tier"], 1),
                                             -(pops.iloc[r] if pd.notna(pops.iloc[r]) else 0)))
        best, rest = ranked[0], ranked[1:]
        if not any(self.profiles.at[r, "tier"] == "curated" for r in rest):
            # A city with a climate profile wins over small namesakes sooner than two plain ones.
            factor = CURATED_DOMINANCE if self.profiles.at[best, "tier"] == "curated" else DOMINANCE
            pop = lambda r: float(pops.iloc[r]) if pd.notna(pops.iloc[r]) else 0.0  # noqa: E731
            if all(pop(best) >= factor * pop(r) for r in rest):
                return best
        raise AmbiguousCityError(query, [self._label(r) for r in ranked[:8]])

    def suggest(self, query: str, country: str | None = None, limit: int = 5) -> list[str]:
        """Close matches to offer when a name is unknown."""
        key = normalise_key(query)
        if not key:
            return []
        hits = process.extract(key, self._keys, scorer=fuzz.WRatio, limit=limit * 4, score_cutoff=75)
        labels: list[str] = []
        for hit_key, _score, _ in hits:
            for row in self._primary.get(hit_key, []) + self._alternate.get(hit_key, []):
                if country and self.profiles.at[row, "country_code"] != country:
                    continue
                label = self._label(row)
                if label not in labels:
                    labels.append(label)
            if len(labels) >= limit:
                break
        return labels[:limit]


def resolve_city_ids(lookup: CityLookup, cities, countries) -> list[str | None]:
    """City ids for free-text city names (case studies, uploaded lists); None where a name
    matches no profile or stays ambiguous, never a guess."""
    out = []
    for city, cc in zip(cities, countries):
        if not isinstance(city, str) or not city.strip():
            out.append(None)
            continue
        try:
            row = lookup.resolve(city, cc if isinstance(cc, str) and cc else None)
        except (UnknownCityError, AmbiguousCityError):
            out.append(None)
            continue
        out.append(lookup.profiles.at[row, "city_id"])
    return out
