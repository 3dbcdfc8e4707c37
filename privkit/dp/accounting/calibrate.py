"""Noise calibration: the smallest noise multiplier that meets a target epsilon.

PRV calibration (the default) is built for speed without giving up tightness:

1. RDP calibration first (a few ms): RDP is looser, so its sigma is (almost always) an
   upper bracket for the PRV answer.
2. A bracketed root finder (Brent, on log sigma) over the PRV *estimate* computed on a
   coarse grid (mesh 10x larger, ~10 ms per evaluation), aiming at
   target - eps_error, because the reported PRV epsilon is the estimate plus eps_error.
3. Verification on the accurate grid (the same computation as
   :meth:`PRVAccountant.get_epsilon`), nudging sigma up until epsilon(result) <= target.

The result is on the safe side (epsilon(result) <= target_epsilon, for the chosen
accountant) and within ~2e-4 relative of the smallest such sigma.
"""

from __future__ import annotations

import math
from collections.abc import Callable

from scipy import optimize

from privkit.dp.accounting._mechanisms import SampledGaussian, _integer, _rate, _real
from privkit.dp.accounting.gdp import gdp_delta, gdp_epsilon, gdp_mu
from privkit.dp.accounting.prv import compose_prv, delta_error_for, prv_epsilon
from privkit.dp.accounting.rdp import DEFAULT_ORDERS, rdp_to_epsilon, sampled_gaussian_rdp
from privkit.errors import ParameterError

__all__ = ["MAX_NOISE_MULTIPLIER", "calibrate_noise"]

#: calibration gives up (ParameterError) when even this much noise is not enough
MAX_NOISE_MULTIPLIER = 1e4
_MIN_NOISE_MULTIPLIER = 1e-2
_NUDGE = 2e-4


def _rdp_eps(q: float, steps: int, delta: float) -> Callable[[float], float]:
    def eps(sigma: float) -> float:
        rdp = steps * sampled_gaussian_rdp(q, sigma, DEFAULT_ORDERS)
        return rdp_to_epsilon(DEFAULT_ORDERS, rdp, delta)[0]

    return eps


def _solve_decreasing(
    eps: Callable[[float], float], target: float, start: float, *, xtol: float = 1e-6
) -> float:
    """sigma with eps(sigma) ~= target for a decreasing eps: bracket from ``start`` (doubling
    up, then a power-law guess down), then Brent on log sigma; every evaluation is memoised.
    Raises ParameterError if even MAX_NOISE_MULTIPLIER is not enough."""
    memo: dict[float, float] = {}

    def f(log_sigma: float) -> float:
        if log_sigma not in memo:
            value = eps(math.exp(log_sigma))
            if not math.isfinite(value):
                memo[log_sigma] = 745.0  # no guarantee at all: far above any target
            else:
                memo[log_sigma] = (math.log(value) if value > 0 else -745.0) - math.log(target)
        return memo[log_sigma]

    hi = min(max(start, _MIN_NOISE_MULTIPLIER), MAX_NOISE_MULTIPLIER)
    while f(math.log(hi)) > 0:
        if hi >= MAX_NOISE_MULTIPLIER:
            raise ParameterError(
                f"target_epsilon={target} is unreachable: even noise multiplier "
                f"{MAX_NOISE_MULTIPLIER:g} gives more; raise the target or delta, or lower "
                "the sample rate or steps"
            )
        hi = min(hi * 2, MAX_NOISE_MULTIPLIER)
    # epsilon falls roughly like sigma^-1.5 here: guess just below the root
    gap = f(math.log(hi))
    lo = max(hi * math.exp(gap / 1.5) * 0.99, _MIN_NOISE_MULTIPLIER) if gap > -700 else hi / 2
    lo = min(lo, hi / (1 + 1e-4))
    while f(math.log(lo)) <= 0:
        if lo <= _MIN_NOISE_MULTIPLIER:
            return _MIN_NOISE_MULTIPLIER
        hi, lo = lo, max(lo / 1.25, _MIN_NOISE_MULTIPLIER)
    root = optimize.brentq(f, math.log(lo), math.log(hi), xtol=xtol, rtol=1e-12)
    return math.exp(float(root))


def _nudge_up(eps: Callable[[float], float], target: float, sigma: float) -> float:
    """Move sigma up by small relative steps until eps(sigma) <= target."""
    step = _NUDGE / 4
    while eps(sigma) > target:
        sigma *= 1 + step
        step *= 2
        if sigma > MAX_NOISE_MULTIPLIER:
            raise ParameterError(f"target_epsilon={target} is unreachable")
    return sigma


def _calibrate_gdp(target: float, delta: float, q: float, steps: int) -> float:
    if gdp_delta(1e-12, target) > delta:
        raise ParameterError(f"target_epsilon={target} is unreachable for delta={delta}")
    mu = float(optimize.brentq(lambda m: gdp_delta(m, target) - delta, 1e-12, 1e3, xtol=1e-14))

    def sigma_of(m: float) -> float:
        if q == 1.0:
            return math.sqrt(steps) / m
        return 1 / math.sqrt(math.log1p(m**2 / (q**2 * steps)))

    def eps(sigma: float) -> float:
        return gdp_epsilon(gdp_mu([(SampledGaussian(sigma, q), steps)]), delta)

    sigma = sigma_of(mu)
    if sigma > MAX_NOISE_MULTIPLIER:
        raise ParameterError(f"target_epsilon={target} is unreachable")
    return _nudge_up(eps, target, sigma)


def _calibrate_prv(target: float, delta: float, q: float, steps: int) -> float:
    eps_error = min(0.01, target / 20)
    delta_error = delta_error_for(delta)

    def estimate(sigma: float, err: float) -> float:
        composed = compose_prv(
            [(SampledGaussian(sigma, q), steps)], eps_error=err, delta_error=delta_error
        )
        return composed.epsilon_estimate(delta - delta_error)

    def fine(sigma: float) -> float:
        # exactly PRVAccountant(eps_error=eps_error).get_epsilon(delta)
        return prv_epsilon([(SampledGaussian(sigma, q), steps)], delta, eps_error=eps_error)

    goal = target - eps_error
    start = _solve_decreasing(_rdp_eps(q, steps, delta), target, 1.0, xtol=1e-4)
    coarse_err = min(10 * eps_error, 0.1)
    sigma = _solve_decreasing(lambda s: estimate(s, coarse_err), goal, start, xtol=1e-5)
    sigma *= 1 + _NUDGE
    # accurate grid: step up along the local slope until the bound holds
    for _ in range(20):
        value = fine(sigma)
        if value <= target:
            return sigma
        ratio = math.log(value / target)
        sigma *= math.exp(ratio) * (1 + _NUDGE)  # |d log eps / d log sigma| >= ~1 here
    return _nudge_up(fine, target, sigma)


def calibrate_noise(
    *,
    target_epsilon: float,
    target_delta: float,
    sample_rate: float,
    steps: int,
    accountant: str = "prv",
) -> float:
    """The smallest noise multiplier whose accounted epsilon is at most ``target_epsilon``.

    Args:
        target_epsilon: the budget, > 0.
        target_delta: in (0, 1).
        sample_rate: Poisson rate q in (0, 1].
        steps: number of releases (SampledGaussian(sigma, q) each), int >= 1.
        accountant: ``"prv"`` (default; tight bound), ``"rdp"`` (bound, looser) or
            ``"gdp"`` (CLT approximation, not a bound).

    Returns:
        sigma with epsilon(sigma) <= target_epsilon for that accountant, within about
        2e-4 relative (always <= 1e-3) of the smallest such sigma.  For PRV the epsilon is
        that of ``PRVAccountant()`` (eps_error 0.01); below target_epsilon = 0.2 the
        calibration uses eps_error = target_epsilon / 20, i.e.
        ``PRVAccountant(eps_error=target_epsilon / 20)``.

    Raises:
        ParameterError: invalid arguments, or a target no sigma <= 1e4 reaches.

    Security assumption: the training must then really use Poisson sampling at this rate,
    this many steps and this noise; the result is only as good as that match.
    """
    target = _real("target_epsilon", target_epsilon)
    if target <= 0:
        raise ParameterError(f"target_epsilon must be > 0, got {target!r}")
    delta = _real("target_delta", target_delta)
    if not 0 < delta < 1:
        raise ParameterError(f"target_delta must be in (0, 1), got {delta!r}")
    q = _rate("sample_rate", sample_rate)
    n = _integer("steps", steps, minimum=1)
    if not isinstance(accountant, str) or accountant not in ("prv", "rdp", "gdp"):
        raise ParameterError(f"accountant must be 'prv', 'rdp' or 'gdp', got {accountant!r}")
    if accountant == "gdp":
        return _calibrate_gdp(target, delta, q, n)
    if accountant == "rdp":
        eps = _rdp_eps(q, n, delta)
        return _nudge_up(eps, target, _solve_decreasing(eps, target, 1.0, xtol=1e-8))
    return _calibrate_prv(target, delta, q, n)
