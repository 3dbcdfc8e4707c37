"""Weighted means inside a secure sum: the rules every weighted scheme shares.

A weighted scheme adds ``w * x`` and ``w`` itself (one more coordinate) inside its
secure sum, then divides.  The weights stay as private as the updates: the server
learns only their total.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from privkit.errors import ParameterError, ProtocolError

__all__ = ["Weighting"]


@dataclass(frozen=True)
class Weighting:
    """How a scheme combines updates: sum, mean, or weighted mean.

    Attributes:
        weighted: each client passes a weight; the result is the weighted mean.
        max_weight: the largest accepted weight.
        mean: the unweighted mean over survivors (excludes ``weighted``).

    Raises:
        ParameterError: ``weighted`` and ``mean`` together, or a bad ``max_weight``.
    """

    weighted: bool = False
    max_weight: float = 1.0
    mean: bool = False

    def __post_init__(self) -> None:
        if self.weighted and self.mean:
            raise ParameterError(
                "weighted=True already returns the (weighted) mean; drop mean=True"
            )
        w = self.max_weight
        if isinstance(w, bool) or not isinstance(w, int | float) or not 0 < w < math.inf:
            raise ParameterError(f"max_weight must be a positive finite number, got {w!r}")

    def client_weight(self, weight: object) -> float:
        """Validate a client's ``weight=`` argument; 1.0 when unweighted or omitted.

        Raises:
            ParameterError: a weight for an unweighted scheme, or outside [0, max_weight].
        """
        if not self.weighted:
            if weight is not None:
                raise ParameterError("weight= is only accepted by schemes built with weighted=True")
            return 1.0
        w = 1.0 if weight is None else weight
        if isinstance(w, bool) or not isinstance(w, int | float) or not 0.0 <= w <= self.max_weight:
            raise ParameterError(f"weight must be a number in [0, {self.max_weight}], got {w!r}")
        return float(w)

    def length(self, length: int) -> int:
        """Coordinates in the secure sum for updates of ``length``: one more when weighted."""
        return length + 1 if self.weighted else length

    def prepare(self, vector: npt.NDArray[np.float64], weight: float) -> npt.NDArray[np.float64]:
        """What a client feeds into the secure sum: ``[w * x, w]`` when weighted, else ``x``."""
        if self.weighted:
            return np.append(vector * weight, weight)
        return vector

    def finish(self, total: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        """Turn the decrypted or unmasked sum into the weighted mean (identity otherwise).

        Raises:
            ProtocolError: the surviving weights sum to zero.
        """
        if not self.weighted:
            return np.asarray(total, dtype=np.float64)
        weight = float(total[-1])
        if weight <= 0.0:
            raise ProtocolError("the contributing clients' weights sum to zero: no weighted mean")
        return np.asarray(total[:-1] / weight, dtype=np.float64)
