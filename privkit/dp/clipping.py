"""Clipping for differential privacy: L2 clipping, conditional randomized rounding, adaptive clips.

- :func:`clip_l2` bounds the L2 norm of an update (the sensitivity of a sum).
- :func:`rounded_l2_bound` and :func:`randomized_round` map a clipped vector to the
  integer grid with a bounded L2 norm, as the distributed discrete Gaussian mechanism
  needs (Kairouz, Liu, Steinke, ICML 2021, "The Distributed Discrete Gaussian
  Mechanism for Federated Learning with Secure Aggregation", Section 4.1).
- :class:`AdaptiveClip` follows a quantile of the clients' update norms (Andrew,
  Thakkar, McMahan, Ramaswamy, NeurIPS 2021, "Differentially Private Learning with
  Adaptive Clipping"); :func:`adaptive_noise_multiplier` splits the noise between the
  update and the clipped-count estimate as in that paper.

Randomness (randomized rounding) comes from the ChaCha20 keystream of
:class:`privkit.dp.noise.ChaChaStream`, keyed from the OS CSPRNG.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Final

import numpy as np
import numpy.typing as npt

from privkit.dp.noise import ChaChaStream
from privkit.errors import ParameterError

__all__ = [
    "DEFAULT_BETA",
    "AdaptiveClip",
    "adaptive_noise_multiplier",
    "clip_l2",
    "l2_norm",
    "randomized_round",
    "rounded_l2_bound",
]

DEFAULT_BETA: Final = math.exp(-0.5)
"""The default failure probability bound ``beta`` of one randomized-rounding attempt
(Kairouz et al. 2021 use ``exp(-1/2)``)."""

_SMALL: Final = 2.0**-500
_LARGE: Final = 2.0**500


def _real(value: object, what: str) -> float:
    if isinstance(value, bool | np.bool_) or not isinstance(value, numbers.Real):
        raise ParameterError(f"{what} must be a real number, got {type(value).__name__}")
    return float(value)


def _positive(value: object, what: str) -> float:
    v = _real(value, what)
    if not (math.isfinite(v) and v > 0):
        raise ParameterError(f"{what} must be finite and > 0, got {v!r}")
    return v


def _as_float_vector(vector: object) -> npt.NDArray[np.float64]:
    arr = np.asarray(vector)
    if arr.dtype.kind not in "biuf":
        raise ParameterError(f"expected real numbers, got an array of dtype {arr.dtype}")
    out = np.array(arr, dtype=np.float64, copy=True)
    if not np.isfinite(out).all():
        raise ParameterError("the vector holds NaN or infinite values; only finite ones clip")
    return out


def l2_norm(vector: npt.NDArray[np.float64]) -> float:
    """The L2 norm of a finite float64 array (all elements), without overflow or underflow.

    ``sqrt(dot(x, x))`` in float64, computed on ``x / max|x|`` when the squares could
    leave the normal float64 range.

    Args:
        vector: a finite float64 array of any shape.

    Returns:
        The norm as a float (``inf`` only if the true norm exceeds the float64 range).

    Security assumption: none (arithmetic only).
    """
    flat = vector.reshape(-1)
    if flat.size == 0:
        return 0.0
    scale = float(np.max(np.abs(flat)))
    if scale == 0.0:
        return 0.0
    if _SMALL < scale < _LARGE:
        return math.sqrt(float(np.dot(flat, flat)))
    y = flat / scale
    return scale * math.sqrt(float(np.dot(y, y)))


def _norm_slack(size: int) -> float:
    """Relative error bound of :func:`l2_norm`: dot product of ``size`` terms plus sqrt.

    The dot product of non-negative terms has relative error at most ``gamma_d =
    d u / (1 - d u)`` (Higham, eq. 3.5, ``u = 2**-53``); the square root halves it and
    adds ``u``; scaling adds a few ``u``.  ``(d + 8) * 2**-52`` covers all of it.
    """
    return (size + 8) * 2.0**-52


def _exact_squared_norm(x: npt.NDArray[np.float64]) -> Fraction:
    return sum((Fraction(float(v)) ** 2 for v in x.reshape(-1)), Fraction(0))


def _exceeds(x: npt.NDArray[np.float64], bound: float) -> bool:
    """Whether the exact (real-number) L2 norm of ``x`` exceeds ``bound``.

    Decided by the float norm and its error bound; only when the float norm is within
    that error of ``bound`` is the sum of squares computed exactly (rationals).
    """
    norm = l2_norm(x)
    slack = _norm_slack(x.size)
    if norm <= bound * (1.0 - slack):
        return False
    if norm > bound * (1.0 + slack):
        return True
    return _exact_squared_norm(x) > Fraction(bound) ** 2


def clip_l2(vector: npt.ArrayLike, bound: float) -> tuple[npt.NDArray[np.float64], float]:
    """Scale a vector down to L2 norm at most ``bound``; leave it alone if already within.

    The norm is taken over all elements (any shape).  The test is exact: a vector whose
    real-number L2 norm is ``<= bound`` is returned unchanged (as a float64 copy); a
    longer one is scaled by ``bound / norm`` times ``1 - (d + 8) * 2**-52`` (the error
    bound of the float norm, so that rounding cannot leave it above ``bound``), and in
    the unlikely case that it still exceeds ``bound`` every coordinate moves one ulp
    toward zero until it does not.  The exact real-number norm of the output never exceeds
    ``bound``.

    Args:
        vector: an array-like of real numbers (bool, int or float dtype), any shape.
        bound: the L2 bound, finite and > 0.

    Returns:
        ``(clipped, norm)``: a new float64 array of the input's shape and the input's
        original L2 norm (float64, from :func:`l2_norm`).

    Raises:
        ParameterError: ``vector`` is not real-valued or holds NaN or infinity, or
            ``bound`` is not finite and > 0.

    Security assumption: none beyond correctness; the returned norm is as sensitive as
    the vector it was computed from (do not log it).
    """
    c = _positive(bound, "bound")
    x = _as_float_vector(vector)
    norm = l2_norm(x)
    if not _exceeds(x, c):
        return x, norm
    current = norm
    if not (_SMALL < current < _LARGE and c / current > _SMALL):
        # bound / norm would overflow or underflow: normalise to max |x| = 1 first
        x /= float(np.max(np.abs(x)))
        current = l2_norm(x)
    x *= (c / current) * (1.0 - _norm_slack(x.size))
    while _exceeds(x, c):  # rare: each pass moves every coordinate one ulp toward 0
        x = np.nextafter(x, 0.0)
    return x, norm


def rounded_l2_bound(clip: float, dimension: int, *, beta: float = DEFAULT_BETA) -> float:
    """The L2 bound after conditional randomized rounding (Kairouz et al. 2021, Thm. 4).

    For ``x`` with ``||x||_2 <= c`` in ``d`` dimensions, unbiased randomized rounding to
    the integers gives ``||round(x)||_2 <= sqrt(c^2 + d/4 + sqrt(2 ln(1/beta)) *
    (c + sqrt(d)/2))`` with probability at least ``1 - beta``.

    Args:
        clip: ``c``, the L2 norm bound before rounding, in integer units, > 0.
        dimension: ``d >= 1``.
        beta: the per-attempt failure probability in (0, 1).

    Returns:
        The bound, rounded up to the next float.

    Raises:
        ParameterError: an argument out of range.

    Security assumption: none (arithmetic only).
    """
    c = _positive(clip, "clip")
    if isinstance(dimension, bool) or not isinstance(dimension, int | np.integer):
        raise ParameterError(f"dimension must be an int >= 1, got {dimension!r}")
    d = int(dimension)
    if d < 1:
        raise ParameterError(f"dimension must be >= 1, got {d}")
    b = _real(beta, "beta")
    if not 0.0 < b < 1.0:
        raise ParameterError(f"beta must be in (0, 1), got {b!r}")
    value = c * c + d / 4.0 + math.sqrt(2.0 * math.log(1.0 / b)) * (c + math.sqrt(d) / 2.0)
    return math.nextafter(math.sqrt(value), math.inf)


def randomized_round(
    vector: npt.ArrayLike,
    *,
    l2_bound: float,
    max_tries: int = 100,
    seed: bytes | None = None,
) -> npt.NDArray[np.int64]:
    """Conditional randomized rounding to the integers (Kairouz et al. 2021, Alg. 1 step 3).

    Every coordinate ``y`` is rounded to ``floor(y) + 1`` with probability
    ``y - floor(y)`` and to ``floor(y)`` otherwise (unbiased); the whole vector is
    redrawn until its L2 norm is at most ``l2_bound``.  With ``l2_bound =
    rounded_l2_bound(c, d, beta=beta)`` and ``||vector||_2 <= c`` an attempt fails
    with probability at most ``beta``, so ``max_tries`` failures in a row have
    probability at most ``beta**max_tries`` (``exp(-50)`` for the defaults).  Every
    output coordinate satisfies ``|r| <= ceil(|y|)``.

    Args:
        vector: real numbers (any shape), finite, ``|y| < 2**62``.
        l2_bound: the accepted L2 norm of the result, > 0.
        max_tries: attempts before giving up (>= 1).
        seed: a 32-byte ChaCha20 key for reproducible tests; ``None`` for a fresh one
            from the OS CSPRNG.

    Returns:
        A new int64 array of the input's shape with L2 norm ``<= l2_bound``.

    Raises:
        ParameterError: bad arguments, or ``max_tries`` attempts all exceeded the bound
            (the input is probably longer than the bound was computed for: clip it
            first, or compute ``l2_bound`` with :func:`rounded_l2_bound`).

    Security assumption: the rounding randomness is secret (it is part of the DP
    noise budget's analysis); never pass an explicit seed outside tests.
    """
    bound = _positive(l2_bound, "l2_bound")
    if isinstance(max_tries, bool) or not isinstance(max_tries, int) or max_tries < 1:
        raise ParameterError(f"max_tries must be an int >= 1, got {max_tries!r}")
    y = _as_float_vector(vector)
    if y.size and float(np.max(np.abs(y))) >= 2.0**62:
        raise ParameterError("randomized_round takes values with |y| < 2**62")
    floor = np.floor(y)
    frac = y - floor  # in [0, 1), exact
    stream = ChaChaStream(seed)
    for _ in range(max_tries):
        # u in (0, 1) on a 2**-53 grid; round up when u < frac: P(up) = frac (to 2**-53).
        up = stream.uniform(y.size).reshape(y.shape) < frac
        rounded = (floor + up).astype(np.int64)
        # sum r^2 is exact in float64 while it stays below 2**53 (any realistic use).
        if l2_norm(rounded.astype(np.float64)) <= bound:
            return rounded
    raise ParameterError(
        f"conditional randomized rounding failed {max_tries} times in a row to stay within "
        f"the L2 bound {bound:.6g}; the input's norm is {l2_norm(y):.6g}.  Clip the input to "
        "the norm the bound was computed for (rounded_l2_bound)"
    )


def adaptive_noise_multiplier(noise_multiplier: float, count_noise: float) -> float:
    """The update's noise multiplier when part of the budget goes to the clipped count.

    Andrew et al. 2021 (Theorem 1): noise ``sigma_b`` on the count of clients below the
    clip (sensitivity 1/2 after centring each indicator at 1/2) and noise multiplier
    ``z_delta`` on the clipped update sum together are as private as one Gaussian
    mechanism of multiplier ``z = (z_delta^-2 + (2 sigma_b)^-2)^(-1/2)``, so
    ``z_delta = (z^-2 - (2 sigma_b)^-2)^(-1/2)``.

    Args:
        noise_multiplier: the target overall multiplier ``z`` (>= 0; 0 gives 0).
        count_noise: ``sigma_b``, the std of the noise on the count (finite, >= 0).

    Returns:
        ``z_delta >= z``.

    Raises:
        ParameterError: negative or non-finite arguments, or ``2 sigma_b <= z`` (the
            count would need more than the whole budget: raise ``count_noise``).

    Security assumption: none (arithmetic only).
    """
    z = _real(noise_multiplier, "noise_multiplier")
    sb = _real(count_noise, "count_noise")
    if not (math.isfinite(z) and z >= 0):
        raise ParameterError(f"noise_multiplier must be finite and >= 0, got {z!r}")
    if not (math.isfinite(sb) and sb >= 0):
        raise ParameterError(f"count_noise must be finite and >= 0, got {sb!r}")
    if z == 0.0:
        return 0.0
    if 2.0 * sb <= z:
        raise ParameterError(
            f"count_noise={sb!r} is too small for noise_multiplier={z!r}: adaptive clipping "
            f"needs 2 * count_noise > noise_multiplier (Andrew et al. 2021); use "
            f"count_noise > {z / 2.0!r} (the paper suggests expected_clients / 20)"
        )
    return 1.0 / math.sqrt(z**-2 - (2.0 * sb) ** -2)


@dataclass
class AdaptiveClip:
    """A clipping bound that follows a quantile of the update norms (Andrew et al. 2021).

    State: the current clip ``C`` (:attr:`value`, starting at ``initial``).  Each round,
    every client reports whether its update norm is ``<= C``; the server obtains the
    noised fraction ``b = (sum b_i + N(0, count_noise^2)) / n`` and calls
    :meth:`update`, which sets ``C <- C * exp(-learning_rate * (b - target_quantile))``
    (geometric update: the clip shrinks when more than the target fraction is below it).

    With :class:`privkit.dp.client.ClientDP`, the count travels inside the (secure)
    sum as one extra coordinate, the update noise uses the multiplier of
    :func:`adaptive_noise_multiplier` and the accounting sees the overall
    ``noise_multiplier``.  ``count_noise=None`` lets ClientDP choose the paper's
    default ``n / 20`` for ``n`` clients invited to the round (central mode only;
    distributed mode needs an explicit value, since clients add that noise).

    Args:
        initial: the first clip, finite and > 0.
        target_quantile: the fraction of updates meant to be unclipped, in [0, 1].
        learning_rate: the geometric step ``eta``, finite and > 0.
        count_noise: the std of the noise on the count (finite, >= 0) or None.

    Raises:
        ParameterError: a parameter out of range.

    Security assumption: the fraction passed to :meth:`update` must already be noised
    (it is a function of every client's norm).  The object is mutable: one instance
    belongs to one training run.
    """

    initial: float
    target_quantile: float = 0.5
    learning_rate: float = 0.2
    count_noise: float | None = None
    _value: float = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        self.initial = _positive(self.initial, "initial")
        q = _real(self.target_quantile, "target_quantile")
        if not 0.0 <= q <= 1.0:
            raise ParameterError(f"target_quantile must be in [0, 1], got {q!r}")
        self.target_quantile = q
        self.learning_rate = _positive(self.learning_rate, "learning_rate")
        if self.count_noise is not None:
            sb = _real(self.count_noise, "count_noise")
            if not (math.isfinite(sb) and sb >= 0):
                raise ParameterError(f"count_noise must be finite and >= 0, got {sb!r}")
            self.count_noise = sb
        self._value = self.initial

    @property
    def value(self) -> float:
        """The current clip."""
        return self._value

    def update(self, fraction_below: float) -> float:
        """Move the clip after a round: ``C <- C * exp(-eta * (b - target_quantile))``.

        Args:
            fraction_below: the noised fraction ``b`` of clients whose norm was within
                the clip (finite; noise may push it outside [0, 1]).

        Returns:
            The new clip.

        Raises:
            ParameterError: ``fraction_below`` is not finite, or the new clip would not
                be a positive finite float (the state is then unchanged).
        """
        b = _real(fraction_below, "fraction_below")
        if not math.isfinite(b):
            raise ParameterError(f"fraction_below must be finite, got {b!r}")
        new = self._value * math.exp(-self.learning_rate * (b - self.target_quantile))
        if not (math.isfinite(new) and new > 0):
            raise ParameterError(
                f"the clip would become {new!r}; lower learning_rate or reset the clip"
            )
        self._value = new
        return new

    def params(self) -> dict[str, float | None]:
        """The fixed parameters (not the current value), for scheme fingerprints."""
        return {
            "initial": self.initial,
            "target_quantile": self.target_quantile,
            "learning_rate": self.learning_rate,
            "count_noise": self.count_noise,
        }

    def state_dict(self) -> dict[str, float | None]:
        """The parameters and the current clip, JSON-serialisable."""
        return {**self.params(), "value": self._value}

    def load_state_dict(self, state: dict[str, float | None]) -> None:
        """Restore the current clip saved by :meth:`state_dict`.

        Raises:
            ParameterError: the state was saved with other parameters, or holds an
                invalid clip; nothing changes then.
        """
        if not isinstance(state, dict) or set(state) != {*self.params(), "value"}:
            raise ParameterError("state must be a dict from AdaptiveClip.state_dict()")
        if {k: state[k] for k in self.params()} != self.params():
            raise ParameterError("the state was saved by an AdaptiveClip with other parameters")
        self._value = _positive(state["value"], "value")
