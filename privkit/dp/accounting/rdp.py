"""Rényi-DP accounting (Mironov 2017; Mironov, Talwar, Zhang 2019 for the sampled Gaussian).

The RDP of the Poisson-subsampled Gaussian is computed at Opacus's default orders with
the same series as Opacus/TF-Privacy (arXiv:1908.10530, Section 3.3), vectorised over
orders, and converted to (epsilon, delta) with Balle et al. 2020, Theorem 21 — the same
conversion Opacus uses — so privkit's RDP epsilon matches Opacus's to rounding.

RDP is a *bound*: valid for any composition (including mixed mechanisms and the
distributed discrete Gaussian) but a little looser than PRV accounting.
"""

from __future__ import annotations

import functools
import math
from typing import ClassVar

import numpy as np
import numpy.typing as npt
from scipy import special

from privkit.dp.accounting._base import Accountant, History
from privkit.dp.accounting._ddg import ddg_rdp
from privkit.dp.accounting._mechanisms import (
    DistributedDiscreteGaussian,
    Mechanism,
    SampledGaussian,
)

__all__ = [
    "DEFAULT_ORDERS",
    "RDPAccountant",
    "mechanism_rdp",
    "rdp_to_delta",
    "rdp_to_epsilon",
    "sampled_gaussian_rdp",
]

_FloatArray = npt.NDArray[np.float64]

#: Opacus's default orders: 1.1, 1.2, ..., 10.9 and 12, ..., 63.
DEFAULT_ORDERS: _FloatArray = np.array(
    [1 + x / 10.0 for x in range(1, 100)] + list(range(12, 64)), dtype=np.float64
)
DEFAULT_ORDERS.setflags(write=False)

_STOP_LOG_TERM = -30.0  # the series is truncated once a term drops below e^-30 (as Opacus)


def _log_a_integer(q: float, sigma: float, alphas: _FloatArray) -> _FloatArray:
    """log A_alpha for integer orders: a finite binomial sum, done as one logsumexp."""
    max_alpha = int(alphas.max())
    i = np.arange(max_alpha + 1, dtype=np.float64)
    a = alphas[:, None]
    with np.errstate(divide="ignore", invalid="ignore"):
        log_coef = np.log(special.binom(a, i)) + i * math.log(q) + (a - i) * math.log1p(-q)
    terms = log_coef + (i * i - i) / (2 * sigma**2)
    terms = np.where(i <= a, terms, -np.inf)
    out, _ = _signed_lse(terms, np.ones_like(terms))
    return out


def _log_erfc(x: _FloatArray) -> _FloatArray:
    out: _FloatArray = math.log(2.0) + special.log_ndtr(-x * math.sqrt(2.0))
    return out


def _signed_lse(
    values: _FloatArray, signs: _FloatArray, axis: int = -1
) -> tuple[_FloatArray, _FloatArray]:
    """log|sum(sign * exp(value))| and its sign along ``axis`` (numpy; scipy's is slow)."""
    top = np.max(values, axis=axis, keepdims=True)
    top = np.where(np.isfinite(top), top, 0.0)
    total = np.sum(signs * np.exp(values - top), axis=axis, keepdims=True)
    with np.errstate(divide="ignore"):
        out = np.log(np.abs(total)) + top
    return np.squeeze(out, axis=axis), np.squeeze(np.sign(total), axis=axis)


def _log_a_fractional(q: float, sigma: float, alphas: _FloatArray) -> _FloatArray:
    """log A_alpha for fractional orders: the two-sided erfc series, truncated like Opacus
    (after the first index whose two terms are both below e^-30).

    Computed in chunks of indices over the orders still running, so one slowly converging
    order (alpha near 1 with small sigma needs thousands of terms) does not make every
    order pay for its length.
    """
    z0 = sigma**2 * math.log(1 / q - 1) + 0.5
    log_q, log_1q = math.log(q), math.log1p(-q)
    n = alphas.shape[0]
    parts0: list[list[float]] = [[] for _ in range(n)]
    parts1: list[list[float]] = [[] for _ in range(n)]
    signs0: list[list[float]] = [[] for _ in range(n)]
    signs1: list[list[float]] = [[] for _ in range(n)]
    active = np.arange(n)
    chunk = 64
    start = 0
    while active.size and start < 1 << 20:
        i = np.arange(start, start + chunk, dtype=np.float64)[None, :]
        a = alphas[active][:, None]
        coef = special.binom(a, i)
        log_coef = np.log(np.abs(coef))
        j = a - i
        log_t0 = log_coef + i * log_q + j * log_1q
        log_t1 = log_coef + j * log_q + i * log_1q
        log_e0 = math.log(0.5) + _log_erfc((i - z0) / (math.sqrt(2) * sigma))
        log_e1 = math.log(0.5) + _log_erfc((z0 - j) / (math.sqrt(2) * sigma))
        log_s0 = log_t0 + (i * i - i) / (2 * (sigma**2)) + log_e0
        log_s1 = log_t1 + (j * j - j) / (2 * (sigma**2)) + log_e1
        small = np.maximum(log_s0, log_s1) < _STOP_LOG_TERM
        done = small.any(axis=1)
        stop = np.where(done, np.argmax(small, axis=1), chunk - 1)
        keep = np.arange(chunk)[None, :] <= stop[:, None]
        sign = np.where(coef > 0, 1.0, -1.0)
        v0, s0 = _signed_lse(np.where(keep, log_s0, -np.inf), sign)
        v1, s1 = _signed_lse(np.where(keep, log_s1, -np.inf), sign)
        for k, row in enumerate(active.tolist()):
            parts0[row].append(float(v0[k]))
            signs0[row].append(float(s0[k]))
            parts1[row].append(float(v1[k]))
            signs1[row].append(float(s1[k]))
        active = active[~done]
        start += chunk
        chunk = min(chunk * 2, 4096)
    width = max(len(p) for p in parts0)
    pad = np.full((n, width), -np.inf)
    vals0, vals1, sg0, sg1 = pad.copy(), pad.copy(), np.zeros((n, width)), np.zeros((n, width))
    for row in range(n):
        m = len(parts0[row])
        vals0[row, :m], sg0[row, :m] = parts0[row], signs0[row]
        vals1[row, :m], sg1[row, :m] = parts1[row], signs1[row]
    a0, _ = _signed_lse(vals0, sg0)
    a1, _ = _signed_lse(vals1, sg1)
    out: _FloatArray = np.logaddexp(a0, a1)
    return out


def sampled_gaussian_rdp(q: float, sigma: float, orders: _FloatArray) -> _FloatArray:
    """RDP of one release of the Poisson-subsampled Gaussian at each order (> 1).

    Args:
        q: sampling rate in (0, 1].
        sigma: noise multiplier > 0.
        orders: RDP orders, all > 1.

    Returns:
        A float64 array like ``orders`` (may contain ``inf``).
    """
    alphas = np.asarray(orders, dtype=np.float64)
    if q == 1.0:
        full: _FloatArray = alphas / (2 * sigma**2)
        return full
    out = np.empty_like(alphas)
    is_int = alphas == np.floor(alphas)
    with np.errstate(over="ignore"):
        if is_int.any():
            out[is_int] = _log_a_integer(q, sigma, alphas[is_int])
        if (~is_int).any():
            out[~is_int] = _log_a_fractional(q, sigma, alphas[~is_int])
    result: _FloatArray = out / (alphas - 1)
    return result


@functools.lru_cache(maxsize=1024)
def _mechanism_rdp_cached(mech: Mechanism, orders: tuple[float, ...]) -> _FloatArray:
    arr = np.array(orders, dtype=np.float64)
    if isinstance(mech, SampledGaussian):
        out = sampled_gaussian_rdp(mech.sample_rate, mech.noise_multiplier, arr)
    else:
        out = ddg_rdp(mech, arr)
    out.setflags(write=False)
    return out


def mechanism_rdp(mech: Mechanism, orders: _FloatArray = DEFAULT_ORDERS) -> _FloatArray:
    """RDP of one release of ``mech`` at each order (cached; read-only array)."""
    return _mechanism_rdp_cached(mech, tuple(float(o) for o in orders))


def rdp_to_epsilon(orders: _FloatArray, rdp: _FloatArray, delta: float) -> tuple[float, float]:
    """Smallest epsilon over ``orders`` with Balle et al. (2020) Thm 21; (epsilon, order).

    Returns ``(inf, nan)`` when every order gives no guarantee.
    """
    a = np.asarray(orders, dtype=np.float64)
    with np.errstate(invalid="ignore"):
        eps = rdp - (math.log(delta) + np.log(a)) / (a - 1) + np.log((a - 1) / a)
    if np.isnan(eps).all():
        return math.inf, math.nan
    idx = int(np.nanargmin(eps))
    return max(0.0, float(eps[idx])), float(a[idx])


def rdp_to_delta(orders: _FloatArray, rdp: _FloatArray, epsilon: float) -> float:
    """Smallest delta over ``orders`` at ``epsilon``: the inverse of :func:`rdp_to_epsilon`."""
    a = np.asarray(orders, dtype=np.float64)
    with np.errstate(invalid="ignore", over="ignore"):
        log_delta = (a - 1) * (rdp + np.log((a - 1) / a) - epsilon) - np.log(a)
    if np.isnan(log_delta).all():
        return 1.0
    return float(min(1.0, math.exp(min(0.0, float(np.nanmin(log_delta))))))


class RDPAccountant(Accountant):
    """Rényi-DP accountant (a bound; composes SampledGaussian and DistributedDiscreteGaussian).

    Uses Opacus's default orders and conversion, so its epsilon equals Opacus's
    ``RDPAccountant`` for sampled Gaussians.  A distributed discrete Gaussian's
    ``failure_probability`` p is charged as delta_total(eps) = delta_rdp(eps) +
    (1 + e^eps) * sum(p_i * count_i) (the mechanism equals the ideal one except on an event
    of that probability), and :meth:`get_epsilon` returns the smallest epsilon with
    delta_total(epsilon) <= delta.

    Args: see :class:`~privkit.dp.accounting.Accountant`.

    Raises:
        ParameterError: see :class:`~privkit.dp.accounting.Accountant`.

    Security assumption: as for every accountant, all releases are composed here.
    """

    method: ClassVar[str] = "rdp"
    orders: ClassVar[_FloatArray] = DEFAULT_ORDERS

    def _rdp(self, history: History) -> tuple[_FloatArray, float]:
        total = np.zeros_like(self.orders)
        fail = 0.0
        for mech, count in history:
            total = total + count * mechanism_rdp(mech, self.orders)
            if isinstance(mech, DistributedDiscreteGaussian):
                fail += mech.failure_probability * count
        return total, fail

    def _epsilon(self, history: History, delta: float) -> tuple[float, float | None]:
        rdp, fail = self._rdp(history)
        if fail == 0.0:
            return rdp_to_epsilon(self.orders, rdp, delta)
        # Smallest eps with delta_rdp(eps) + (1 + e^eps) fail <= delta.  The map
        # eps -> eps_rdp(delta - (1 + e^eps) fail) is non-decreasing, so iterating it from
        # eps_rdp(delta) climbs monotonically to the smallest fixed point.
        eps, order = rdp_to_epsilon(self.orders, rdp, delta)
        for _ in range(200):
            budget = delta - (1.0 + math.exp(min(eps, 700.0))) * fail
            if budget <= 0 or not math.isfinite(eps):
                return math.inf, None
            new_eps, order = rdp_to_epsilon(self.orders, rdp, budget)
            if new_eps <= eps * (1 + 1e-13) + 1e-15:
                eps = max(eps, new_eps)
                break
            eps = new_eps
        # guard against the last rounding step: nudge up until the total is within delta
        while self._delta(history, eps) > delta and math.isfinite(eps):
            eps = eps * (1 + 1e-12) + 1e-12
        return eps, order

    def _delta(self, history: History, epsilon: float) -> float:
        rdp, fail = self._rdp(history)
        base = rdp_to_delta(self.orders, rdp, epsilon)
        if fail == 0.0:
            return base
        if epsilon > 700:
            return 1.0
        return min(1.0, base + (1.0 + math.exp(epsilon)) * fail)
