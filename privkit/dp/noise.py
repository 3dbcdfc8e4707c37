"""Noise for differential privacy: continuous and discrete Gaussian samples from ChaCha20.

Every random bit comes from the ChaCha20 keystream (:mod:`privkit.prg`, RFC 8439) keyed
with a fresh 32-byte seed from the operating system's CSPRNG
(:func:`privkit.prg.random_seed`), or with an explicit 32-byte ``seed`` for reproducible
tests.  ``numpy.random`` and ``random`` are never used: their generators are predictable,
and predictable noise protects nothing.

- :func:`gaussian` draws ``N(0, sigma^2)`` in float64 by the inverse normal CDF.
- :func:`discrete_gaussian` draws the discrete Gaussian ``N_Z(0, sigma^2)``,
  ``P(x) ∝ exp(-x^2 / (2 sigma^2))`` on the integers, by the rejection sampler of
  Canonne, Kamath and Steinke (NeurIPS 2020), vectorised over numpy arrays.

Security notes (hazardous material):

- **Floating-point Gaussian noise is not a perfect DP mechanism.**  Mironov (CCS 2012)
  showed that the low-order bits of floating-point Laplace samples leak the value they
  were added to; similar attacks apply to floating-point Gaussian samplers (Jin et al.,
  IEEE S&P 2022).  :func:`gaussian` uses 53-bit uniforms and a correctly computed
  inverse CDF, which avoids the grossest artefacts, but its output still lies on a
  non-uniform grid.  Where that matters (the noise is added by clients, the sum is
  public), add :func:`discrete_gaussian` noise to integers instead, as
  :class:`privkit.dp.client.ClientDP` does in distributed mode.
- :func:`discrete_gaussian` works on integers except in two places, both marked in the
  code: the geometric part ``V`` of its discrete Laplace proposal (``floor(-log(u))``,
  a support of at most 37 values) and the Bernoulli tests ``u < exp(-...)``.  The
  uniform part of the proposal is an exact integer.  Each float step has an absolute
  probability error of a few ``2**-53`` (53-bit uniforms, float64 ``exp``/``log``), so
  one sample is within a total-variation distance of roughly ``100 * 2**-53 ≈ 1e-14``
  of the exact discrete Gaussian, independently of ``sigma``; a vector of ``d``
  samples within ``d`` times that.  That is far below any DP ``delta`` in use; an
  exact sampler with rational arithmetic (CKS Algorithms 1-3) would remove even that,
  at ~100x the cost.
"""

from __future__ import annotations

import math
import numbers
import operator
from typing import Final

import numpy as np
import numpy.typing as npt
from scipy import special

from privkit import prg
from privkit.errors import ParameterError

__all__ = ["ChaChaStream", "discrete_gaussian", "discrete_gaussian_variance", "gaussian"]

_BLOCK: Final = 64  # bytes per ChaCha20 block
_MAX_BLOCKS: Final = 1 << 32  # the block counter is 32 bits
_MAX_SIGMA: Final = 2.0**40  # discrete samples stay far inside int64
_MAX_SAMPLES: Final = 1 << 31
_BATCH: Final = 1 << 17  # proposal lanes per batch of discrete_gaussian


class ChaChaStream:
    """A stream of random 64-bit words from the ChaCha20 keystream of one key.

    The keystream is read block by block (counter from 0); after ``2**32`` blocks the
    nonce is incremented, so a stream never repeats.  Not thread-safe.

    Args:
        seed: a 32-byte key, or ``None`` for a fresh one from
            :func:`privkit.prg.random_seed` (the OS CSPRNG).

    Raises:
        ParameterError: ``seed`` is not 32 bytes.

    Security assumption: ChaCha20 is a PRF; with a secret uniformly random key the
    words are indistinguishable from uniform.  A seed given explicitly is as secret as
    the noise it produces: never reuse one outside tests.
    """

    def __init__(self, seed: bytes | None = None) -> None:
        if seed is None:
            seed = prg.random_seed()
        elif not isinstance(seed, bytes | bytearray) or len(seed) != prg.SEED_BYTES:
            raise ParameterError(f"seed must be {prg.SEED_BYTES} bytes or None")
        self._key = bytes(seed)
        self._nonce = 0
        self._block = 0
        self._left = b""  # keystream bytes read but not yet handed out

    def __repr__(self) -> str:
        return "ChaChaStream(<secret key>)"

    def words(self, count: int) -> npt.NDArray[np.uint64]:
        """Return ``count`` fresh uniformly random uint64 words (little-endian keystream).

        Raises:
            ParameterError: ``count`` is negative.
        """
        if count < 0:
            raise ParameterError(f"count must be >= 0, got {count}")
        want = 8 * count
        parts: list[bytes] = [self._left[:want]]
        self._left = self._left[want:]
        remaining = want - len(parts[0])
        while remaining > 0:
            blocks = min(-(-remaining // _BLOCK), _MAX_BLOCKS - self._block)
            nonce = self._nonce.to_bytes(prg.NONCE_BYTES, "little")
            chunk = prg.keystream(self._key, nonce, blocks * _BLOCK, counter=self._block)
            self._block += blocks
            if self._block >= _MAX_BLOCKS:
                self._block = 0
                self._nonce += 1
            parts.append(chunk[:remaining])
            self._left = chunk[remaining:]  # kept for the next call: no byte is used twice
            remaining -= min(remaining, len(chunk))
        raw = b"".join(parts)
        # Read-only view of the keystream; "<u8" is uint64 on little-endian hosts.
        return np.frombuffer(raw, dtype="<u8").astype(np.uint64, copy=False)

    def uniform(self, count: int) -> npt.NDArray[np.float64]:
        """Return ``count`` uniforms in the open interval (0, 1), each from 53 random bits.

        ``u = (k + 1/2) * 2**-53`` with ``k`` the top 53 bits of a word: every value is
        exactly representable, never 0 or 1, and the grid is symmetric about 1/2.
        """
        return _unit(self.words(count))


def _shape(shape: object) -> tuple[int, ...]:
    if isinstance(shape, bool | np.bool_):
        raise ParameterError("shape must be an int or a tuple of ints, got a bool")
    dims: tuple[object, ...] = shape if isinstance(shape, tuple) else (shape,)
    out: list[int] = []
    for d in dims:
        if isinstance(d, bool | np.bool_):
            raise ParameterError("shape entries must be ints, got a bool")
        try:
            value = operator.index(d)  # type: ignore[arg-type]
        except TypeError:
            raise ParameterError(
                f"shape must be an int or a tuple of ints, got {type(d).__name__}"
            ) from None
        if value < 0:
            raise ParameterError(f"shape entries must be >= 0, got {value}")
        out.append(value)
    if math.prod(out) > _MAX_SAMPLES:
        raise ParameterError(f"at most {_MAX_SAMPLES} samples per call, got shape {tuple(out)}")
    return tuple(out)


def _sigma(sigma: object, *, limit: float = math.inf) -> float:
    if isinstance(sigma, bool | np.bool_) or not isinstance(sigma, numbers.Real):
        raise ParameterError(f"sigma must be a real number >= 0, got {type(sigma).__name__}")
    s = float(sigma)
    if not (math.isfinite(s) and s >= 0):
        raise ParameterError(f"sigma must be finite and >= 0, got {s!r}")
    if s > limit:
        raise ParameterError(f"sigma must be at most {limit:g}, got {s!r}")
    return s


def gaussian(
    shape: int | tuple[int, ...], sigma: float, *, seed: bytes | None = None
) -> npt.NDArray[np.float64]:
    """Draw i.i.d. ``N(0, sigma^2)`` samples in float64.

    Each sample is ``sigma * ndtri(u)`` (the inverse standard normal CDF,
    :func:`scipy.special.ndtri`) of one 53-bit uniform ``u`` in (0, 1) from the ChaCha20
    keystream; the largest magnitude is about ``8.3 sigma``, the float64 quantile of
    ``2**-54``.

    Args:
        shape: an int or a tuple of ints (>= 0 each).
        sigma: the standard deviation, finite and >= 0 (0 gives zeros, no randomness).
        seed: a 32-byte ChaCha20 key for reproducible output (tests only); ``None``
            draws a fresh key from the OS CSPRNG.

    Returns:
        A new float64 array of ``shape``.

    Raises:
        ParameterError: a bad shape, sigma or seed.

    Security assumption: the key is secret and used once.  Floating-point Gaussian
    noise is not a perfect DP mechanism (see the module docstring); prefer
    :func:`discrete_gaussian` on an integer grid when clients add noise to a sum
    that becomes public.
    """
    dims = _shape(shape)
    s = _sigma(sigma)
    stream = ChaChaStream(seed)
    n = math.prod(dims)
    if s == 0.0:
        return np.zeros(dims, dtype=np.float64)
    out = special.ndtri(stream.uniform(n))
    out *= s
    return np.asarray(out, dtype=np.float64).reshape(dims)


def _discrete_gaussian_flat(n: int, s: float, stream: ChaChaStream) -> npt.NDArray[np.int64]:
    """CKS 2020 Algorithms 2 and 3, vectorised over lanes; rejected lanes are redrawn."""
    out = np.empty(n, dtype=np.int64)
    t = math.floor(s) + 1  # the Laplace scale CKS recommend (few expected trials)
    t64 = np.uint64(t)
    partial = (1 << 64) % t  # the top `partial` word values are rejected: U is exact
    limit = np.uint64((1 << 64) - partial) if partial else None
    s2 = s * s
    shift = s2 / t
    filled = 0
    while filled < n:
        # Work in cache-sized batches; about 40% of proposals survive, so oversample.
        need = n - filled
        m = min(_BATCH, int(need / 0.35) + 64)
        w = stream.words(4 * m).reshape(4, m)
        # Discrete Laplace of scale t (CKS Algorithm 2): U uniform in {0..t-1} (exact,
        # by rejection of the top partial range), kept with probability exp(-U/t) ...
        u = (w[0] % t64).astype(np.float64)  # exact: t <= 2**40 + 1
        ok = _unit(w[1]) < np.exp(-u / t)
        if limit is not None:
            ok &= w[0] < limit
        idx = np.flatnonzero(ok)
        u = u[idx]
        w2 = w[2, idx]
        # ... plus t * V with V geometric, P(V >= k) = exp(-k): floor(-log(uniform)),
        # a support of at most 37 values (float use 1).
        x = u + t * np.floor(-np.log(_unit(w2)))
        # A random sign from a bit of w[2] that _unit does not use; (-, 0) is rejected so
        # that 0 is not counted twice.
        negative = (w2 & np.uint64(1)).astype(bool)
        # Discrete Gaussian (CKS Algorithm 3): accept with probability
        # exp(-(|x| - sigma^2/t)^2 / (2 sigma^2)) (float use 2).
        ok = _unit(w[3, idx]) < np.exp(-np.square(x - shift) / (2.0 * s2))
        ok &= ~(negative & (x == 0))
        kept = np.where(negative, -x, x)[ok].astype(np.int64)
        take = min(kept.size, need)
        out[filled : filled + take] = kept[:take]
        filled += take
    return out


def _unit(words: npt.NDArray[np.uint64]) -> npt.NDArray[np.float64]:
    """Uniforms in (0, 1) from the top 53 bits of each word: ``(k + 1/2) * 2**-53``."""
    out = (words >> np.uint64(11)).astype(np.float64)
    out += 0.5
    out *= 2.0**-53
    return out


def discrete_gaussian(
    shape: int | tuple[int, ...], sigma: float, *, seed: bytes | None = None
) -> npt.NDArray[np.int64]:
    """Draw i.i.d. discrete Gaussian samples ``N_Z(0, sigma^2)`` as int64.

    ``P(X = x) = exp(-x^2 / (2 sigma^2)) / sum_y exp(-y^2 / (2 sigma^2))`` for every
    integer ``x``.  The variance is slightly below ``sigma^2`` (see
    :func:`discrete_gaussian_variance`), and ``X`` is ``sigma``-sub-Gaussian:
    ``P(|X| >= t) <= 2 exp(-t^2 / (2 sigma^2))``.

    Sampling follows Canonne, Kamath and Steinke, "The Discrete Gaussian for
    Differential Privacy" (NeurIPS 2020), Algorithms 2 and 3: propose ``x`` from the
    discrete Laplace distribution of scale ``t = floor(sigma) + 1`` (an exact uniform
    integer below ``t`` kept with probability ``exp(-u/t)``, plus ``t`` times a
    geometric variable, with a random sign), accept with probability
    ``exp(-(|x| - sigma^2/t)^2 / (2 sigma^2))``; rejected lanes are redrawn in
    batches.  Floating point is used for the geometric part and the Bernoulli tests;
    see the module docstring for why that is within ~1e-14 total variation of exact.

    Args:
        shape: an int or a tuple of ints (>= 0 each).
        sigma: the scale parameter, finite, ``0 <= sigma <= 2**40`` (0 gives zeros).
        seed: a 32-byte ChaCha20 key for reproducible output (tests only); ``None``
            draws a fresh key from the OS CSPRNG.

    Returns:
        A new int64 array of ``shape``.

    Raises:
        ParameterError: a bad shape, sigma or seed.

    Security assumption: the key is secret and used once.
    """
    dims = _shape(shape)
    s = _sigma(sigma, limit=_MAX_SIGMA)
    stream = ChaChaStream(seed)
    n = math.prod(dims)
    if s == 0.0 or n == 0:
        return np.zeros(dims, dtype=np.int64)
    return _discrete_gaussian_flat(n, s, stream).reshape(dims)


def discrete_gaussian_variance(sigma: float) -> float:
    """The exact variance of ``N_Z(0, sigma^2)``, by direct summation over its support.

    Sums ``x^2 exp(-x^2/(2 sigma^2))`` and ``exp(-x^2/(2 sigma^2))`` over
    ``|x| <= 40 sigma + 10`` (the rest is below ``exp(-800)`` relative).

    Args:
        sigma: finite, ``0 <= sigma <= 2**20``.

    Returns:
        The variance (0.0 for ``sigma = 0``); at most ``sigma^2``.

    Raises:
        ParameterError: a bad sigma.

    Security assumption: none; public arithmetic.
    """
    s = _sigma(sigma, limit=2.0**20)
    if s == 0.0:
        return 0.0
    x = np.arange(1, math.ceil(40 * s) + 11, dtype=np.float64)
    w = np.exp(-np.square(x) / (2.0 * s * s))
    return float(2.0 * math.fsum(np.square(x) * w) / (1.0 + 2.0 * math.fsum(w)))
