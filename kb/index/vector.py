"""A query embedding as one immutable value between pipeline components.

Haystack deep-copies every value passed between components, and a list is copied element by
element with a type check per element: for a 384-float embedding that was more than half of the
answer time. A `Vector` is immutable, so it is passed as itself.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Vector:
    values: tuple[float, ...]

    def __deepcopy__(self, memo: dict) -> Vector:
        return self  # immutable

    @classmethod
    def of(cls, embedding) -> Vector:
        return cls(tuple(float(x) for x in embedding))

    def array(self) -> np.ndarray:
        return np.asarray(self.values, dtype=np.float32)


@dataclass(frozen=True)
class Hits:
    """Retrieved chunks passed on as one value (Haystack would deep-copy every document and its
    metadata between components; the answer path only reads them)."""

    documents: tuple  # of haystack Document, best first

    def __deepcopy__(self, memo: dict) -> Hits:
        return self  # read-only by contract
