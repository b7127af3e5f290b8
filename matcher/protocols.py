"""What the other recommenders need of the twin side, as a small typed interface.

Cohort planning, reviewer assignment and the case library depend on this protocol, not on
TwinRecommender's members, so each can be tested with any object that offers these (and the
twin side can change inside without touching them).
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

import numpy as np
import pandas as pd

if TYPE_CHECKING:  # annotations only: no import at run time, so no cycle
    from .lookup import CityLookup
    from .scoring import Term
    from .twins import Query, TwinMatch


class TwinSpace(Protocol):
    profiles: pd.DataFrame  # validated profiles, row i = vector i
    lookup: "CityLookup"

    def resolve(self, city: str, country: str | None = None) -> int: ...

    def row_of_id(self, city_id: str) -> int | None: ...

    def vectors(self, rows) -> np.ndarray: ...

    def weight_vector(self, weights: dict[str, float] | None = None) -> np.ndarray: ...

    def similarity_matrix(self, rows, weights: dict[str, float] | None = None) -> np.ndarray: ...

    def explain_pair(self, row_a: int, row_b: int, weights: dict[str, float] | None = None) -> "TwinMatch": ...

    def mentor_term(self, asker: dict, peer_row: int) -> "Term": ...

    def query(self, city: str | None = None, country: str | None = None, profile=None) -> "Query": ...
