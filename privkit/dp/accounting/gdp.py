"""GDP accounting by the central limit theorem (Bu, Dong, Long, Su 2020).

T releases of the Poisson-subsampled Gaussian with rate q and noise multiplier sigma are
*approximately* mu-GDP with mu = q * sqrt(T * (exp(1/sigma^2) - 1)); a mixed history adds
the squares, mu^2 = sum_i count_i * q_i^2 * (exp(1/sigma_i^2) - 1).  Releases without
subsampling (q = 1) are exactly (1/sigma)-GDP and contribute count / sigma^2.  mu-GDP
gives delta(eps) = Phi(-eps/mu + mu/2) - e^eps Phi(-eps/mu - mu/2) (Dong, Roth, Su 2019).

This is an approximation, **not a bound**: the CLT can underestimate epsilon (see Gopi et
al. 2021), and Opacus warns the same.  Use it for quick estimates, never for a guarantee.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import ClassVar

from scipy import optimize, special

from privkit.dp.accounting._base import Accountant, History
from privkit.dp.accounting._mechanisms import Mechanism, SampledGaussian
from privkit.errors import ParameterError

__all__ = ["GDPAccountant", "gdp_delta", "gdp_epsilon", "gdp_mu"]


def gdp_mu(history: Sequence[tuple[Mechanism, int]]) -> float:
    """The CLT mu of a history of sampled Gaussians (see module doc)."""
    total = 0.0
    for mech, count in history:
        if not isinstance(mech, SampledGaussian):
            raise ParameterError("GDP accounting supports SampledGaussian only; use RDPAccountant")
        sigma, q = mech.noise_multiplier, mech.sample_rate
        if q == 1.0:
            total += count / sigma**2
        else:
            total += count * q**2 * math.expm1(1 / sigma**2)
    return math.sqrt(total)


def gdp_delta(mu: float, epsilon: float) -> float:
    """delta of mu-GDP at ``epsilon`` (computed in log space for large epsilon)."""
    if mu == 0:
        return 0.0
    first = special.ndtr(-epsilon / mu + mu / 2)
    second = math.exp(epsilon + special.log_ndtr(-epsilon / mu - mu / 2))
    return float(min(1.0, max(0.0, first - second)))


def gdp_epsilon(mu: float, delta: float) -> float:
    """Smallest epsilon >= 0 with delta_mu(epsilon) <= ``delta`` (inf if none below 500)."""
    if not math.isfinite(mu):
        return math.inf
    if gdp_delta(mu, 0.0) <= delta:
        return 0.0
    if gdp_delta(mu, 500.0) > delta:
        return math.inf
    return float(
        optimize.brentq(lambda e: gdp_delta(mu, e) - delta, 0.0, 500.0, xtol=1e-12, rtol=1e-13)
    )


class GDPAccountant(Accountant):
    """Gaussian-DP accountant via the CLT: an *approximation*, not a bound.

    Matches Opacus's ``GaussianAccountant`` for a constant (q, sigma) with Poisson
    sampling; also accepts mixed histories (the mu^2 add).

    Args: see :class:`~privkit.dp.accounting.Accountant`.

    Raises:
        ParameterError: invalid arguments; composing a DistributedDiscreteGaussian.

    Security assumption: none beyond the approximation itself: do not use this epsilon as
    a guarantee.
    """

    method: ClassVar[str] = "gdp"

    def _check_supported(self, mech: Mechanism) -> None:
        if not isinstance(mech, SampledGaussian):
            raise ParameterError(
                "GDPAccountant supports SampledGaussian only; account a "
                "DistributedDiscreteGaussian with RDPAccountant"
            )

    def _epsilon(self, history: History, delta: float) -> tuple[float, float | None]:
        return gdp_epsilon(gdp_mu(history), delta), None

    def _delta(self, history: History, epsilon: float) -> float:
        return gdp_delta(gdp_mu(history), epsilon)
