"""Edited profiles (the workspace's versions) laid over a profile table: an edited city keeps its
row and gets its new values; a city created in the workspace is appended. What the twin index
must re-embed follows from it: the changed rows and the new ones."""
from __future__ import annotations

from dataclasses import dataclass

import pandas as pd


@dataclass
class Overlay:
    profiles: pd.DataFrame  # the table after the edits (same columns as before)
    changed_rows: list[int]  # rows whose values were replaced
    new_rows: list[int]  # rows appended (cities created in the workspace)


def _plain(row: pd.Series) -> dict:
    """A row's values comparable across sources (arrays as lists, missing as None)."""
    out = {}
    for key, value in row.items():
        if hasattr(value, "tolist") and not isinstance(value, str):
            value = value.tolist()
        if not isinstance(value, (list, tuple)) and pd.isna(value):
            value = None
        out[key] = list(value) if isinstance(value, tuple) else value
    return out


def overlay_profiles(profiles: pd.DataFrame, edited: pd.DataFrame) -> Overlay:
    """`profiles` with the rows of `edited` (validated, keyed by city_id) laid over it."""
    if edited is None or edited.empty:
        return Overlay(profiles, [], [])
    edited = edited.drop_duplicates("city_id", keep="last").reindex(columns=profiles.columns)
    position = {cid: i for i, cid in enumerate(profiles["city_id"])}
    known = [c in position for c in edited["city_id"]]
    same = [k and _plain(profiles.iloc[position[c]]) == _plain(row)
            for k, c, (_, row) in zip(known, edited["city_id"], edited.iterrows())]
    existing = edited[[k and not sm for k, sm in zip(known, same)]]
    added = edited[[not k for k in known]]
    changed_rows = [position[c] for c in existing["city_id"]]
    table = profiles
    if changed_rows:
        replacement = existing.set_axis(profiles.index[changed_rows])
        table = pd.concat([profiles.drop(index=replacement.index), replacement]).sort_index()
    new_rows = list(range(len(table), len(table) + len(added)))
    if len(added):
        table = pd.concat([table, added], ignore_index=True)
    for col in profiles.columns:  # back to the base types where the values allow it
        if table[col].dtype != profiles[col].dtype:
            try:
                table[col] = table[col].astype(profiles[col].dtype)
            except (TypeError, ValueError):
                pass
    return Overlay(table.reset_index(drop=True), changed_rows, new_rows)
