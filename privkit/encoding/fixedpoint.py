"""Fixed-point encoding of real numbers into the ring Z_2^bits.

Secure aggregation (additive masking, secret sharing) sums integers modulo ``2**bits``.
:class:`FixedPoint` maps each float ``x`` to a ring element: clip ``x`` to
``[-clip, clip]``, scale by ``2**frac_bits``, round to an integer, clamp it to
``[-qmax, qmax]`` and reduce it modulo ``2**bits`` (negatives wrap, two's complement).
Because the map is additive up to rounding, the ring sum of ``n`` encodings decodes to
the sum of the ``n`` clipped values, within :meth:`FixedPoint.max_error`, provided the
sum cannot wrap: ``n * qmax <= 2**(bits-1) - 1`` (:attr:`FixedPoint.max_summands`).

Security note: with ``stochastic=True`` the rounding draws its randomness from the
operating system CSPRNG (:func:`os.urandom`), never from ``numpy.random`` or ``random``.
Fixed-point encoding itself hides nothing: an encoding reveals its input up to rounding.

See ``docs/encoding.md`` for the specification.
"""

from __future__ import annotations

import math
import numbers
import operator
import os
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any, Final

import numpy as np
import numpy.typing as npt

from privkit.errors import ParameterError

__all__ = ["FixedPoint"]

#: Largest integer magnitude below which every integer is exact in float64.
FLOAT64_EXACT_INT: Final = 2**53
#: Largest accepted ``frac_bits`` (keeps every decoded value a normal float64).
MAX_FRAC_BITS: Final = 1000
MIN_BITS: Final = 2
MAX_BITS: Final = 64


def _index(value: object, what: str) -> int:
    """``operator.index(value)`` that rejects bool and raises ParameterError."""
    if isinstance(value, bool | np.bool_):
        raise ParameterError(f"{what} must be an int, got the bool {value!r}")
    try:
        return operator.index(value)  # type: ignore[arg-type]
    except TypeError:
        raise ParameterError(f"{what} must be an int, got {type(value).__name__}") from None


def _check_bits(bits: object) -> int:
    b = _index(bits, "bits")
    if not MIN_BITS <= b <= MAX_BITS:
        raise ParameterError(f"bits must be in [{MIN_BITS}, {MAX_BITS}], got {b}")
    return b


def _check_clip(clip: object) -> float:
    if isinstance(clip, bool | np.bool_) or not isinstance(clip, numbers.Real):
        raise ParameterError(f"clip must be a real number, got {type(clip).__name__}")
    c = float(clip)
    if not (math.isfinite(c) and c > 0):
        raise ParameterError(f"clip must be finite and > 0, got {c!r}")
    return c


def _check_count(n: object, what: str) -> int:
    value = _index(n, what)
    if value < 1:
        raise ParameterError(f"{what} must be >= 1, got {value}")
    return value


def _ring_limit(bits: int) -> int:
    """The largest signed value of Z_2^bits: ``2**(bits-1) - 1``."""
    return (1 << (bits - 1)) - 1


def _qmax_of(clip: float, frac_bits: int) -> int:
    """``floor(clip * 2**frac_bits)``, computed exactly."""
    num, den = clip.as_integer_ratio()
    return (num << frac_bits) // den


def _smallest_frac_bits(clip: float) -> int:
    """The smallest ``frac_bits >= 0`` with ``floor(clip * 2**frac_bits) >= 1``."""
    num, den = clip.as_integer_ratio()
    f = max(0, den.bit_length() - num.bit_length())
    while f > 0 and (num << (f - 1)) >= den:
        f -= 1
    while (num << f) < den:
        f += 1
    return f


def _largest_frac_bits(clip: float, cap: int) -> int | None:
    """The largest ``frac_bits`` in ``[0, MAX_FRAC_BITS]`` with ``qmax <= cap``, or None."""
    if _qmax_of(clip, 0) > cap:
        return None
    lo, hi = 0, MAX_FRAC_BITS  # invariant: lo satisfies the condition
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if _qmax_of(clip, mid) <= cap:
            lo = mid
        else:
            hi = mid - 1
    return lo


def _bits_for(total: int) -> int:
    """The smallest ``bits`` with ``total <= 2**(bits-1) - 1``."""
    return total.bit_length() + 1


def _float_up(value: Fraction) -> float:
    """The smallest float64 that is >= ``value`` (for a bound that must not round down)."""
    f = float(value)
    if Fraction(f) < value:
        f = math.nextafter(f, math.inf)
    return f


@dataclass(frozen=True, kw_only=True)
class FixedPoint:
    """Fixed-point encoding of floats into Z_2^bits, for sums in secure aggregation.

    A value ``x`` encodes as ``q mod 2**bits`` with
    ``q = clamp(round(clip_to(x, clip) * 2**frac_bits), -qmax, qmax)`` and
    ``qmax = floor(clip * 2**frac_bits)``.  Rounding is to nearest, ties to even; with
    ``stochastic=True`` it is unbiased stochastic rounding instead.

    Args:
        bits: ring size; encodings live in ``[0, 2**bits)``.  ``2 <= bits <= 64``.
        frac_bits: fractional bits; the resolution is ``2**-frac_bits``.  ``>= 0``.
        clip: inputs are clipped to ``[-clip, clip]``.  Finite and ``> 0``.
        stochastic: round stochastically (unbiased; randomness from :func:`os.urandom`,
            the OS CSPRNG) instead of to nearest.

    Raises:
        ParameterError: a parameter is out of range, or the combination does not work:
            ``qmax`` must satisfy ``1 <= qmax <= 2**53`` (exact in float64) and
            ``qmax <= 2**(bits-1) - 1`` (one value fits the ring).  The message says
            which ``frac_bits`` (or ``bits``) would fit.

    Example:
        >>> fp = FixedPoint.for_sum(n_summands=100, clip=1.0, bits=32)
        >>> total = fp.encode([0.25, -0.5]) + fp.encode([0.5, 0.125])  # uint32 wraps
        >>> fp.decode(total, n_summands=2)
        array([ 0.75 , -0.375])
    """

    bits: int = 32
    frac_bits: int = 16
    clip: float = 1.0
    stochastic: bool = False
    _qmax: int = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        bits = _check_bits(self.bits)
        frac_bits = _index(self.frac_bits, "frac_bits")
        if not 0 <= frac_bits <= MAX_FRAC_BITS:
            raise ParameterError(f"frac_bits must be in [0, {MAX_FRAC_BITS}], got {frac_bits}")
        clip = _check_clip(self.clip)
        if not isinstance(self.stochastic, bool | np.bool_):
            raise ParameterError(f"stochastic must be a bool, got {type(self.stochastic).__name__}")
        object.__setattr__(self, "bits", bits)
        object.__setattr__(self, "frac_bits", frac_bits)
        object.__setattr__(self, "clip", clip)
        object.__setattr__(self, "stochastic", bool(self.stochastic))

        qmax = _qmax_of(clip, frac_bits)
        if qmax < 1:
            f_min = _smallest_frac_bits(clip)
            hint = (
                f"use frac_bits >= {f_min} or a larger clip"
                if f_min <= MAX_FRAC_BITS
                else f"clip must be at least 2**-{MAX_FRAC_BITS}"
            )
            raise ParameterError(
                f"clip={clip!r} with frac_bits={frac_bits} gives qmax = floor(clip * "
                f"2**frac_bits) = 0, so every value would encode as 0; {hint}"
            )
        limit = min(FLOAT64_EXACT_INT, _ring_limit(bits))
        if qmax > limit:
            reason = (
                f"2**(bits-1) - 1 = {_ring_limit(bits)} (one value must fit Z_2^{bits})"
                if limit < FLOAT64_EXACT_INT
                else "2**53 (the largest magnitude exact in float64)"
            )
            f_fit = _largest_frac_bits(clip, limit)
            if f_fit is not None:
                hint = f"the largest frac_bits for clip={clip!r} and bits={bits} is {f_fit}"
            elif _qmax_of(clip, 0) > FLOAT64_EXACT_INT:
                hint = "clip must be at most 2**53"
            else:
                hint = (
                    f"even frac_bits=0 does not fit; clip={clip!r} needs "
                    f"bits >= {_bits_for(_qmax_of(clip, 0))}"
                )
            raise ParameterError(
                f"clip={clip!r} with frac_bits={frac_bits} gives qmax = floor(clip * "
                f"2**frac_bits) = {qmax}, more than {reason}; {hint}"
            )
        object.__setattr__(self, "_qmax", qmax)

    # ------------------------------------------------------------------ properties

    @property
    def dtype(self) -> type[np.unsignedinteger[Any]]:
        """The dtype of encodings: ``numpy.uint32`` if ``bits <= 32`` else ``numpy.uint64``."""
        return np.uint32 if self.bits <= 32 else np.uint64

    @property
    def qmax(self) -> int:
        """The largest encoded magnitude in ring units: ``floor(clip * 2**frac_bits)``."""
        return self._qmax

    @property
    def resolution(self) -> float:
        """The value of one ring unit: ``2**-frac_bits``."""
        return math.ldexp(1.0, -self.frac_bits)

    @property
    def max_summands(self) -> int:
        """The largest ``n`` with ``n * qmax <= 2**(bits-1) - 1``: sums of up to ``n``
        encodings cannot wrap and decode correctly."""
        return _ring_limit(self.bits) // self._qmax

    # --------------------------------------------------------------- constructors

    @classmethod
    def for_sum(
        cls, *, n_summands: int, clip: float, bits: int = 32, stochastic: bool = False
    ) -> FixedPoint:
        """The most precise encoding whose sum of ``n_summands`` values cannot wrap.

        Picks the largest ``frac_bits`` (at most 1000) such that ``qmax =
        floor(clip * 2**frac_bits)`` satisfies ``n_summands * qmax <= 2**(bits-1) - 1``
        and ``qmax <= 2**53``.

        Args:
            n_summands: how many encodings will be summed (``>= 1``).
            clip: the clipping bound of each value (finite, ``> 0``).
            bits: the ring size, ``2 <= bits <= 64``.
            stochastic: use stochastic rounding (see :class:`FixedPoint`).

        Returns:
            The :class:`FixedPoint`.

        Raises:
            ParameterError: an argument is invalid, or no ``frac_bits`` works (the sum
                wraps even at the coarsest usable resolution); the message says how many
                bits ``n_summands`` would need and the largest ``n_summands`` that fits.
        """
        n = _check_count(n_summands, "n_summands")
        b = _check_bits(bits)
        c = _check_clip(clip)
        limit = _ring_limit(b)
        f_min = _smallest_frac_bits(c)
        if f_min > MAX_FRAC_BITS:
            raise ParameterError(f"clip must be at least 2**-{MAX_FRAC_BITS}, got {c!r}")
        q_min = _qmax_of(c, f_min)  # the coarsest usable qmax: max(1, floor(clip))
        if q_min > FLOAT64_EXACT_INT:
            raise ParameterError(f"clip must be at most 2**53, got {c!r}")
        if q_min > limit:
            raise ParameterError(
                f"a single value clipped to {c!r} does not fit Z_2^{b} even with "
                f"frac_bits=0 (qmax = {q_min}); use bits >= {_bits_for(q_min)} "
                "or a smaller clip"
            )
        if n * q_min > limit:
            need = _bits_for(n * q_min)
            need_text = f"bits >= {need}" if need <= MAX_BITS else f"{need} bits (> 64)"
            raise ParameterError(
                f"{n} summands clipped to {c!r} wrap Z_2^{b} at every frac_bits "
                f"(n * qmax > 2**{b - 1} - 1 even for qmax = {q_min}); they need "
                f"{need_text}, or at most {limit // q_min} summands for bits={b}"
            )
        f_max = _largest_frac_bits(c, min(FLOAT64_EXACT_INT, limit // n))
        if f_max is None or f_max < f_min:  # cannot happen: q_min fits, so f_min qualifies
            raise ParameterError(f"no frac_bits fits {n} summands clipped to {c!r} in {b} bits")
        return cls(bits=b, frac_bits=f_max, clip=c, stochastic=stochastic)

    # ------------------------------------------------------------------- encoding

    def encode(self, values: npt.ArrayLike) -> npt.NDArray[np.unsignedinteger[Any]]:
        """Encode real numbers as elements of Z_2^bits.

        Each value is clipped to ``[-clip, clip]``, multiplied by ``2**frac_bits``,
        rounded (to nearest with ties to even, or stochastically:
        ``floor(y) + (u < y - floor(y))`` with ``u`` uniform in ``[0, 1)`` on a 2**-32
        grid from :func:`os.urandom`), clamped to ``[-qmax, qmax]`` and reduced modulo
        ``2**bits`` (two's complement: ``-1`` encodes as ``2**bits - 1``).

        Args:
            values: an array-like of real numbers (numpy array of bool / int / float
                dtype, list, scalar) of any shape.

        Returns:
            A new array of :attr:`dtype` with the shape of ``values``.

        Raises:
            ParameterError: ``values`` is not real-valued (complex, object, string), or
                holds NaN or infinity.
        """
        arr = np.asarray(values)
        if arr.dtype.kind not in "biuf":
            raise ParameterError(f"encode takes real numbers, got an array of dtype {arr.dtype}")
        x = arr.astype(np.float64, copy=True)
        finite = np.isfinite(x)
        if not finite.all():
            bad = int(x.size - np.count_nonzero(finite))
            raise ParameterError(
                f"cannot encode {bad} non-finite value(s) (NaN or infinity); "
                "only finite values have a fixed-point encoding"
            )
        del finite
        np.clip(x, -self.clip, self.clip, out=x)
        x *= math.ldexp(1.0, self.frac_bits)  # exact: a power of two, |result| <= 2**53 + 1
        if self.stochastic:
            floor = np.floor(x)
            x -= floor  # the fractional part, in [0, 1)
            x *= 2.0**32
            u = np.frombuffer(os.urandom(4 * x.size), dtype="<u4").reshape(x.shape)
            np.add(floor, u < x, out=x)
        else:
            np.rint(x, out=x)
        q = float(self._qmax)  # exact: qmax <= 2**53
        if self.stochastic or q != self.clip * math.ldexp(1.0, self.frac_bits):
            # Rounding can step past qmax only when clip * 2**frac_bits is not an
            # integer (or when rounding up stochastically); otherwise |x| <= qmax already.
            np.clip(x, -q, q, out=x)
        if self.bits <= 32:
            # int64 -> uint32 keeps the low 32 bits: two's complement mod 2**32.
            ring32 = x.astype(np.int64).astype(np.uint32)
            if self.bits < 32:
                ring32 &= np.uint32((1 << self.bits) - 1)
            return ring32
        ring = x.astype(np.int64).view(np.uint64)  # two's complement mod 2**64
        if self.bits < 64:
            ring &= np.uint64((1 << self.bits) - 1)
        return ring

    def decode(self, total: npt.ArrayLike, *, n_summands: int = 1) -> npt.NDArray[np.float64]:
        """Decode a ring element (typically a sum of encodings) to float64.

        ``total`` is reduced modulo ``2**bits``, read as a signed integer in
        ``[-2**(bits-1), 2**(bits-1))`` (exact integer arithmetic, also for
        ``bits=64``) and multiplied by ``2**-frac_bits``.

        Args:
            total: an array-like of integers of any signed or unsigned dtype, any shape.
            n_summands: how many encodings were summed into ``total``.  Must be at most
                :attr:`max_summands`, else the sum may have wrapped.

        Returns:
            A new float64 array with the shape of ``total``.  Within
            :meth:`max_error` of the sum of the clipped inputs.

        Raises:
            ParameterError: ``total`` does not hold integers, or ``n_summands`` is not
                in ``[1, max_summands]`` (the message says which ``n`` fits, and which
                ``frac_bits`` or ``bits`` would fit ``n_summands``).
        """
        self._check_summands(n_summands, "decode")
        arr = np.asarray(total)
        if arr.dtype.kind not in "iu":
            raise ParameterError(
                f"decode takes ring elements of an integer dtype, got dtype {arr.dtype}"
            )
        shift = 64 - self.bits
        # signed -> unsigned is modular (two's complement), so this is total mod 2**64
        u = arr.astype(np.uint64)
        # shifting left by 64 - bits drops everything above bit `bits` (mod 2**bits);
        # the arithmetic right shift of the int64 view then sign-extends bit bits-1
        np.left_shift(u, np.uint64(shift), out=u)
        signed = u.view(np.int64)
        np.right_shift(signed, np.int64(shift), out=signed)
        out = signed.astype(np.float64)
        out *= math.ldexp(1.0, -self.frac_bits)  # exact: results stay normal floats
        return np.asarray(out)

    def max_error(self, n_summands: int) -> float:
        """Bound on ``|decode(sum of n encodings) - sum of the n clipped inputs|``.

        Per coordinate, the bound is ``n * 2**-frac_bits`` with stochastic rounding and
        ``n * 2**-(frac_bits+1)`` with rounding to nearest.  Two refinements keep it a
        true bound at the edges: with rounding to nearest, if ``clip * 2**frac_bits`` is
        not an integer the clamp to ``qmax`` can cost up to its fractional part
        ``d = clip * 2**frac_bits - qmax`` (so each value contributes ``max(1/2, d)``
        units); and if ``n * qmax > 2**53`` the float64 result itself is rounded, which
        adds half an ulp of the largest possible sum.

        Args:
            n_summands: the number of summed encodings, in ``[1, max_summands]``.

        Returns:
            The bound, rounded up to a float.

        Raises:
            ParameterError: ``n_summands`` is not in ``[1, max_summands]``.
        """
        n = self._check_summands(n_summands, "max_error")
        if self.stochastic:
            per_value = Fraction(1)
        else:
            num, den = self.clip.as_integer_ratio()
            overshoot = Fraction(num << self.frac_bits, den) - self._qmax
            per_value = max(Fraction(1, 2), overshoot)
        units = n * per_value
        largest = n * self._qmax
        if largest > FLOAT64_EXACT_INT:
            units += Fraction(2) ** (largest.bit_length() - 54)
        return _float_up(units / 2**self.frac_bits)

    def _check_summands(self, n_summands: object, where: str) -> int:
        n = _check_count(n_summands, "n_summands")
        if n <= self.max_summands:
            return n
        f_fit = _largest_frac_bits(self.clip, min(FLOAT64_EXACT_INT, _ring_limit(self.bits) // n))
        fixes = []
        if f_fit is not None and _qmax_of(self.clip, f_fit) >= 1:
            fixes.append(f"frac_bits <= {f_fit}")
        need = _bits_for(n * self._qmax)
        if need <= MAX_BITS:
            fixes.append(f"bits >= {need}")
        fix_text = (
            f"for {n} summands use {' or '.join(fixes)} (see FixedPoint.for_sum)"
            if fixes
            else f"{n} summands cannot be summed without wrapping at clip={self.clip!r}"
        )
        raise ParameterError(
            f"{where}: the sum of {n} values clipped to {self.clip!r} may wrap Z_2^{self.bits} "
            f"with frac_bits={self.frac_bits}: at most {self.max_summands} summands fit; "
            f"{fix_text}"
        )

    def params(self) -> dict[str, int | float | bool | str]:
        """The parameters, for scheme fingerprints: name, bits, frac_bits, clip, stochastic."""
        return {
            "name": "fixed-point",
            "bits": self.bits,
            "frac_bits": self.frac_bits,
            "clip": self.clip,
            "stochastic": self.stochastic,
        }
