"""Mechanism descriptions, results and validation shared by every accountant.

The dataclasses here only *describe* a release (noise scale, sampling rate, ...); they hold
no secret and draw no randomness.  They validate themselves on construction, so a history
of mechanisms is always well-formed.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass

from privkit.errors import ParameterError

__all__ = [
    "AccountingConfig",
    "DistributedDiscreteGaussian",
    "Mechanism",
    "PrivacySpent",
    "SampledGaussian",
]


def _real(name: str, value: object) -> float:
    """Return ``value`` as a finite float; bool, NaN, inf and non-numbers are refused."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ParameterError(f"{name} must be a real number, got {type(value).__name__}")
    out = float(value)
    if not math.isfinite(out):
        raise ParameterError(f"{name} must be finite, got {out!r}")
    return out


def _integer(name: str, value: object, *, minimum: int) -> int:
    """Return ``value`` as an int >= ``minimum``; bool and non-integers are refused."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ParameterError(f"{name} must be an integer, got {type(value).__name__}")
    out = int(value)
    if out < minimum:
        raise ParameterError(f"{name} must be >= {minimum}, got {out}")
    return out


def _positive(name: str, value: object) -> float:
    out = _real(name, value)
    if out <= 0:
        raise ParameterError(f"{name} must be > 0, got {out!r}")
    return out


def _rate(name: str, value: object) -> float:
    out = _real(name, value)
    if not 0 < out <= 1:
        raise ParameterError(f"{name} must be in (0, 1], got {out!r}")
    return out


@dataclass(frozen=True)
class SampledGaussian:
    """The Poisson-subsampled Gaussian mechanism under add/remove-one adjacency.

    One release adds N(0, (noise_multiplier * sensitivity)^2) noise to a sum over a Poisson
    sample in which every record is present independently with probability
    ``sample_rate`` (``1.0``: no subsampling).

    Args:
        noise_multiplier: noise standard deviation divided by the L2 sensitivity; finite, > 0.
        sample_rate: Poisson inclusion probability q in (0, 1].

    Raises:
        ParameterError: a field is not a finite number in range (bool is not a number).

    Security assumption: the accounting is only valid if the noise really is Gaussian with
    this scale, is drawn from a secure source, and the sampling really is Poisson with this
    rate and stays secret.
    """

    noise_multiplier: float
    sample_rate: float = 1.0

    def __post_init__(self) -> None:
        object.__setattr__(
            self, "noise_multiplier", _positive("noise_multiplier", self.noise_multiplier)
        )
        object.__setattr__(self, "sample_rate", _rate("sample_rate", self.sample_rate))


@dataclass(frozen=True)
class DistributedDiscreteGaussian:
    """The distributed discrete Gaussian of Kairouz, Liu and Steinke (ICML 2021).

    ``n_shares`` parties each add an independent discrete Gaussian N_Z(0, local_sigma^2)
    to an integer vector of length ``dimension``; only the sum is released (for example
    through secure aggregation).  Sensitivities are in the same integer units as the noise.

    Args:
        local_sigma: scale parameter of each share, >= 0.5 (the bound of the paper needs it).
        n_shares: number of shares in the released sum, >= 1.
        l2_sensitivity: L2 sensitivity in integer units (after rounding), > 0.
        l1_sensitivity: L1 sensitivity in integer units, > 0.
        dimension: vector length, >= 1.
        sample_rate: Poisson inclusion probability in (0, 1].
        failure_probability: probability per release that the implemented mechanism
            deviates from the ideal one (for example modular clamping); in [0, 1).

    Raises:
        ParameterError: a field is out of range, not finite, or of the wrong type.

    Security assumption: at least ``n_shares`` honest parties' shares are in every
    released sum; shares from colluding parties must not be counted.
    """

    local_sigma: float
    n_shares: int
    l2_sensitivity: float
    l1_sensitivity: float
    dimension: int
    sample_rate: float = 1.0
    failure_probability: float = 0.0

    def __post_init__(self) -> None:
        sigma = _real("local_sigma", self.local_sigma)
        if sigma < 0.5:
            raise ParameterError(f"local_sigma must be >= 0.5, got {sigma!r}")
        object.__setattr__(self, "local_sigma", sigma)
        object.__setattr__(self, "n_shares", _integer("n_shares", self.n_shares, minimum=1))
        object.__setattr__(self, "l2_sensitivity", _positive("l2_sensitivity", self.l2_sensitivity))
        object.__setattr__(self, "l1_sensitivity", _positive("l1_sensitivity", self.l1_sensitivity))
        object.__setattr__(self, "dimension", _integer("dimension", self.dimension, minimum=1))
        object.__setattr__(self, "sample_rate", _rate("sample_rate", self.sample_rate))
        fail = _real("failure_probability", self.failure_probability)
        if not 0 <= fail < 1:
            raise ParameterError(f"failure_probability must be in [0, 1), got {fail!r}")
        object.__setattr__(self, "failure_probability", fail)


Mechanism = SampledGaussian | DistributedDiscreteGaussian


@dataclass(frozen=True)
class PrivacySpent:
    """Cumulative privacy expenditure (the field names of Flower's ``PrivacySpent``).

    Attributes:
        epsilon: the epsilon spent at ``delta``.
        delta: the delta it was computed for.
        num_releases: total number of composed releases.
        accounting_method: ``"rdp"``, ``"prv"`` or ``"gdp"``.
        optimal_order: the RDP order that gave ``epsilon`` (RDP only, else ``None``).
    """

    epsilon: float
    delta: float
    num_releases: int
    accounting_method: str
    optimal_order: float | None = None


@dataclass(frozen=True)
class AccountingConfig:
    """privkit's stand-in for Flower's ``PrivacyConfig`` (same field names).

    Returned by :attr:`Accountant.config` when no Flower config was given.  Only the
    add-or-remove-one relation with Poisson or no-amplification sampling is supported.
    """

    target_delta: float | None = None
    population_size: int | None = None
    neighboring_relation: str = "add-or-remove-one"
    sampling_method: str = "poisson"
    max_epsilon: float | None = None
