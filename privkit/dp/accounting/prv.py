"""PRV accounting: numerical composition of privacy random variables.

privkit's own implementation of Gopi, Lee and Wutschitz, "Numerical Composition of
Differential Privacy" (NeurIPS 2021).  For the Poisson-subsampled Gaussian the privacy
loss Y = log(P(x)/Q(x)), x ~ P, of the dominating pair P = (1-q) N(0, s^2) + q N(1, s^2),
Q = N(0, s^2) (the pair Opacus and the authors' code use) has a closed-form CDF.  Each
mechanism's Y is discretised on one grid of mesh h (bin masses from the CDF, then shifted
so the discrete mean equals the continuous one), all mechanisms are composed at once by
FFT (each transform raised to its count, the transforms multiplied), and epsilon is read
off the composed distribution.

Error control (what makes :meth:`PRVAccountant.get_epsilon` an upper bound like Opacus's):

* the rounding error of each step lies in an interval of length h with mean 0, so by
  Hoeffding the total rounding error exceeds eps_error = h * sqrt(T log(2/delta_err) / 2)
  with probability <= delta_err / 2: the mesh is chosen from eps_error and T;
* each step's loss is truncated above where an RDP tail bound (Markov on
  e^{(alpha-1) Y}) leaves mass <= delta_err / (4 T);
* the composed grid is a window [lo, hi] chosen by Chernoff bounds computed from the
  discretised distributions themselves, so mass wrapped down from above hi is
  <= delta_err / 4 (mass wrapped up from below lo only makes the result pessimistic);
* epsilon = eps_discrete(delta - delta_err) + eps_error, with delta_err = delta / 1000
  rounded down to a power of 10 (see :func:`delta_error_for`).

The grid therefore adapts to the history: the window is the composed loss's actual range
(not a symmetric [-L, L]) and the per-step support starts at log(1 - q), which keeps one
``get_epsilon`` at the anchor (q = 0.01, sigma = 1, 10,000 steps) to tens of milliseconds.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import numpy.typing as npt
from scipy import fft as sfft
from scipy import special

from privkit.dp.accounting._base import Accountant, History
from privkit.dp.accounting._mechanisms import Mechanism, SampledGaussian, _real
from privkit.dp.accounting.rdp import DEFAULT_ORDERS, mechanism_rdp
from privkit.errors import ParameterError

__all__ = ["ComposedPRV", "PRVAccountant", "compose_prv", "delta_error_for", "prv_epsilon"]

_FloatArray = npt.NDArray[np.float64]
_MAX_GRID = 1 << 26  # 64 Mi points (0.5 GiB of float64): refuse rather than swap
_LAMBDAS = np.geomspace(0.05, 200.0, 16)


def _log_likelihood_z(q: float, t: _FloatArray) -> tuple[_FloatArray, npt.NDArray[np.bool_]]:
    """z = Gaussian log-likelihood ratio giving privacy loss t, and where t is attainable."""
    if q == 1.0:
        return t, np.ones(t.shape, dtype=bool)
    valid = t > math.log1p(-q)
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.log(np.where(valid, np.expm1(t) + q, 1.0)) - math.log(q)
    return z, valid


def _cdf_sf(q: float, sigma: float, t: _FloatArray) -> tuple[_FloatArray, _FloatArray]:
    """CDF and survival function of the privacy loss at ``t`` (both accurate in their tail)."""
    z, valid = _log_likelihood_z(q, t)
    u1 = (sigma**2 * z - 0.5) / sigma
    u0 = (sigma**2 * z + 0.5) / sigma
    cdf = np.where(valid, q * special.ndtr(u1) + (1 - q) * special.ndtr(u0), 0.0)
    sf = np.where(valid, q * special.ndtr(-u1) + (1 - q) * special.ndtr(-u0), 1.0)
    return cdf, sf


@dataclass(frozen=True)
class _Discrete:
    """One mechanism's discretised loss: mass[k] sits at (first + k) * h + shift."""

    mass: _FloatArray
    first: int
    shift: float


def _discretise(mech: SampledGaussian, h: float, tail: float) -> _Discrete:
    q, sigma = mech.sample_rate, mech.noise_multiplier
    rdp = mechanism_rdp(mech, DEFAULT_ORDERS)
    # upper truncation point: P(Y > b) <= exp((alpha-1)(D_alpha - b)) <= tail
    b = float(np.min(rdp + math.log(1 / tail) / (DEFAULT_ORDERS - 1)))
    if q == 1.0:
        mu = 1 / (2 * sigma**2)
        z = -float(special.ndtri(tail / 2))  # upper tail/2 quantile, accurate for tiny tails
        a = mu - math.sqrt(2 * mu) * z
        b = min(b, mu + math.sqrt(2 * mu) * z)
    else:
        a = math.log1p(-q)
    j_lo, j_hi = round(a / h), max(round(b / h), round(a / h))
    if j_hi - j_lo + 1 > _MAX_GRID:
        raise ParameterError("PRV grid too large for this history; use RDPAccountant")
    edges = (np.arange(j_lo, j_hi + 2, dtype=np.float64) - 0.5) * h
    edges[0], edges[-1] = a, max(b, a)
    cdf, sf = _cdf_sf(q, sigma, edges)
    upper = edges > 0  # use the survival function where the CDF is close to 1
    mass = np.where(upper[1:], sf[:-1] - sf[1:], cdf[1:] - cdf[:-1])
    mass = np.maximum(mass, 0.0)
    total = float(np.sum(mass))
    if not total > 0:
        raise ParameterError("PRV discretisation lost all mass; use RDPAccountant")
    mass /= total
    # continuous mean of the truncated loss: a + integral_a^b P(Y > t | a <= Y <= b) dt
    tail_fn = np.where(upper, sf - sf[-1], (1 - cdf) - sf[-1]) / total
    mean_c = a + float(np.sum((tail_fn[1:] + tail_fn[:-1]) * np.diff(edges)) / 2)
    grid = np.arange(j_lo, j_hi + 1, dtype=np.float64) * h
    mean_d = float(np.dot(mass, grid))
    return _Discrete(mass=mass, first=j_lo, shift=mean_c - mean_d)


def _log_mgf(d: _Discrete, h: float, lam: _FloatArray) -> _FloatArray:
    """Upper bound on log E[e^{lam Y~}] for every lam (positive or negative).

    Exact on the core of the distribution (which, composed thousands of times, must not be
    blurred); the thin tail is merged into blocks of width <= 0.002 valued at their worst
    end, which keeps the cost at a few thousand points per lam.
    """
    mass = d.mass
    n = mass.size
    survive = np.cumsum(mass[::-1])[::-1]
    core = int(np.searchsorted(-survive, -1e-9))  # first index with tail mass < 1e-9
    core = min(max(core, 1), n)
    block = max(1, int(0.002 / h))
    tail = mass[core:]
    pad = (-tail.size) % block
    tail_mass = np.concatenate([tail, np.zeros(pad)]).reshape(-1, block).sum(axis=1)
    core_t = (d.first + np.arange(core)) * h + d.shift
    tail_start = (d.first + core + np.arange(tail_mass.size) * block) * h + d.shift
    tail_end = tail_start + (block - 1) * h
    pos = lam[:, None] > 0
    t_tail = np.where(pos, tail_end[None, :], tail_start[None, :])
    with np.errstate(divide="ignore"):
        vals = np.concatenate(
            [
                np.log(mass[:core])[None, :] + lam[:, None] * core_t[None, :],
                np.log(tail_mass)[None, :] + lam[:, None] * t_tail,
            ],
            axis=1,
        )
    top = np.max(vals, axis=1, keepdims=True)
    out: _FloatArray = np.log(np.sum(np.exp(vals - top), axis=1)) + top[:, 0]
    return out


@dataclass(frozen=True)
class ComposedPRV:
    """The composed discrete privacy loss: ``pmf[k]`` at ``ts[k]`` (ascending).

    ``eps_error`` and ``delta_error`` are the error terms the grid was built for.
    """

    ts: _FloatArray
    pmf: _FloatArray
    eps_error: float
    delta_error: float

    def epsilon_estimate(self, delta: float) -> float:
        """Smallest epsilon with delta_discrete(epsilon) <= ``delta`` (no error terms)."""
        # only losses above 0 matter for epsilon >= 0 (one point below keeps the bracket)
        first = max(int(np.searchsorted(self.ts, 0.0)) - 1, 0)
        p, t = self.pmf[first:], self.ts[first:]
        d1 = np.cumsum(p[::-1])[::-1]
        d2 = np.cumsum((p * np.exp(-t))[::-1])[::-1]
        # delta at eps = t_k, using the mass strictly above t_k
        above1 = np.append(d1[1:], 0.0)
        above2 = np.append(d2[1:], 0.0)
        delta_at = above1 - np.exp(t) * above2
        hits = np.flatnonzero(delta_at <= delta)
        if hits.size == 0:
            return math.inf
        k = int(hits[0])
        num = d1[k] - delta
        if num <= 0 or d2[k] <= 0:
            return max(0.0, float(t[k]))
        return max(0.0, math.log(num / d2[k]))

    def delta_estimate(self, epsilon: float) -> float:
        """delta_discrete(``epsilon``) = sum over t > eps of pmf * (1 - e^(eps - t))."""
        sel = self.ts > epsilon
        return float(np.sum(self.pmf[sel] * -np.expm1(epsilon - self.ts[sel])))


def compose_prv(
    history: Sequence[tuple[Mechanism, int]], *, eps_error: float, delta_error: float
) -> ComposedPRV:
    """Discretise and compose a history of sampled Gaussians (see module doc).

    Args:
        history: (SampledGaussian, count) pairs.
        eps_error: epsilon error budget (sets the mesh), > 0.
        delta_error: delta error budget (tails and Hoeffding), in (0, 1).

    Returns:
        The composed :class:`ComposedPRV`.

    Raises:
        ParameterError: a mechanism other than SampledGaussian, or a grid too large.
    """
    total = sum(count for _, count in history)
    h = eps_error / math.sqrt(total * math.log(2 / delta_error) / 2)
    parts: list[tuple[_Discrete, int]] = []
    for mech, count in history:
        if not isinstance(mech, SampledGaussian):
            raise ParameterError("PRV accounting supports SampledGaussian only; use RDPAccountant")
        parts.append((_discretise(mech, h, delta_error / (4 * total)), count))
    # window of the composed loss from Chernoff bounds on the discretised variables
    log_up = sum(count * _log_mgf(d, h, _LAMBDAS) for d, count in parts)
    log_dn = sum(count * _log_mgf(d, h, -_LAMBDAS) for d, count in parts)
    wrap = math.log(4 / delta_error)
    hi = float(np.min((log_up + wrap) / _LAMBDAS))
    lo = float(np.max(-(log_dn + wrap) / _LAMBDAS))
    shift = sum(count * d.shift for d, count in parts)
    k_min = sum(count * d.first for d, count in parts)
    k_max = sum(count * (d.first + d.mass.size - 1) for d, count in parts)
    k_lo = max(k_min, math.floor((lo - shift) / h))
    k_hi = min(k_max, math.ceil((hi - shift) / h))
    k_hi = max(k_hi, k_lo)
    width = max(k_hi - k_lo + 1, max(d.mass.size for d, _ in parts))
    n = sfft.next_fast_len(width, real=True)
    if n > _MAX_GRID:
        raise ParameterError("PRV grid too large for this history; use RDPAccountant")
    spectrum: npt.NDArray[np.complex128] | None = None
    for d, count in parts:
        f = sfft.rfft(d.mass, n=n)
        f = f**count if count > 1 else f
        spectrum = f if spectrum is None else spectrum * f
    assert spectrum is not None
    composed = sfft.irfft(spectrum, n=n)
    # composed index m holds the sum whose grid index is k_min + m (mod n); put k_lo first
    pmf = np.roll(composed, -((k_lo - k_min) % n))
    ts = (k_lo + np.arange(n, dtype=np.float64)) * h + shift
    return ComposedPRV(ts=ts, pmf=pmf, eps_error=eps_error, delta_error=delta_error)


def delta_error_for(delta: float) -> float:
    """The delta error budget used for ``delta``: delta/1000 rounded down to a power of 10.

    Rounding to a decade (never up: a smaller error budget is always safe) lets
    :meth:`PRVAccountant.get_delta` rebuild exactly the grid that :func:`prv_epsilon` used,
    so the two stay consistent.
    """
    return 10.0 ** math.floor(math.log10(delta / 1000))


def prv_epsilon(
    history: Sequence[tuple[Mechanism, int]], delta: float, *, eps_error: float = 0.01
) -> float:
    """Upper bound on epsilon at ``delta`` (like Opacus's ``eps_upper``): see module doc.

    Raises:
        ParameterError: unsupported mechanism, a grid too large, or delta so small that
            floating-point error would dominate.
    """
    delta_error = delta_error_for(delta)
    composed = compose_prv(history, eps_error=eps_error, delta_error=delta_error)
    if np.finfo(np.float64).eps * composed.pmf.size > delta - delta_error:
        # rounding noise of the FFT would be as large as delta itself
        raise ParameterError(
            f"delta={delta:g} is too small for PRV accounting of this history (floating-point "
            "error would dominate); use RDPAccountant"
        )
    return composed.epsilon_estimate(delta - delta_error) + eps_error


class PRVAccountant(Accountant):
    """Tight numerical accountant (Gopi et al. 2021) for Poisson-subsampled Gaussians.

    ``get_epsilon`` is an upper bound: the discrete estimate at delta - delta_err (about
    delta/1000) plus ``eps_error`` (as Opacus's PRV accountant, whose default eps_error is
    also 0.01).
    ``get_delta(eps)`` is the matching upper bound on delta.

    Args:
        eps_error: the epsilon error budget, in (0, 1]; smaller is tighter and slower.
        target_delta, max_epsilon, config: see :class:`~privkit.dp.accounting.Accountant`.

    Raises:
        ParameterError: invalid arguments; composing a DistributedDiscreteGaussian (use
            RDPAccountant, which has its bound).

    Security assumption: as for every accountant, all releases are composed here.
    """

    method: ClassVar[str] = "prv"

    def __init__(
        self,
        *,
        target_delta: float | None = None,
        max_epsilon: float | None = None,
        config: object | None = None,
        eps_error: float = 0.01,
    ) -> None:
        err = _real("eps_error", eps_error)
        if not 0 < err <= 1:
            raise ParameterError(f"eps_error must be in (0, 1], got {err!r}")
        self._eps_error = err
        super().__init__(target_delta=target_delta, max_epsilon=max_epsilon, config=config)

    def _check_supported(self, mech: Mechanism) -> None:
        if not isinstance(mech, SampledGaussian):
            raise ParameterError(
                "PRVAccountant supports SampledGaussian only; account a "
                "DistributedDiscreteGaussian with RDPAccountant"
            )

    def _epsilon(self, history: History, delta: float) -> tuple[float, float | None]:
        return prv_epsilon(history, delta, eps_error=self._eps_error), None

    def _delta(self, history: History, epsilon: float) -> float:
        # delta_true(eps) <= delta_discrete(eps - eps_error) + delta_error for *any* grid
        # built for delta_error.  Guess the decade from a first pass, then take the best of
        # the neighbouring decades: one of them is the grid get_epsilon used for the answer.
        def bound(delta_error: float) -> float:
            composed = compose_prv(history, eps_error=self._eps_error, delta_error=delta_error)
            return composed.delta_estimate(epsilon - self._eps_error) + delta_error

        first = bound(1e-12)
        if first >= 1:
            return 1.0
        decade = math.floor(math.log10(max(first, 1e-300) / 1000))
        candidates = [first] + [bound(10.0**d) for d in (decade - 1, decade, decade + 1) if d < 0]
        return min(1.0, *candidates)
