"""Tests of privkit.encoding.FixedPoint: floats <-> Z_2^bits."""

from __future__ import annotations

import dataclasses
import math
import os
import random
from fractions import Fraction
from typing import Any

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from privkit.encoding import FixedPoint
from privkit.errors import ParameterError

BITS = st.integers(2, 64)
CLIPS = st.floats(1e-3, 1e3, allow_nan=False, allow_infinity=False)


def exact_qmax(clip: float, frac_bits: int) -> int:
    scaled = Fraction(clip) * (1 << frac_bits)
    return scaled.numerator // scaled.denominator


def signed_reference(value: int, bits: int) -> int:
    """The signed integer in [-2**(bits-1), 2**(bits-1)) congruent to value mod 2**bits."""
    value %= 2**bits
    return value - 2**bits if value >= 2 ** (bits - 1) else value


@st.composite
def fixed_points(draw: st.DrawFn, bits: st.SearchStrategy[int] = BITS) -> FixedPoint:
    """A valid FixedPoint: any bits, any clip, any frac_bits that fits."""
    b = draw(bits)
    clip = draw(CLIPS)
    f_lo = next(f for f in range(2000) if exact_qmax(clip, f) >= 1)
    limit = min(2**53, 2 ** (b - 1) - 1)
    assume(exact_qmax(clip, f_lo) <= limit)
    f_hi = max(f for f in range(f_lo, f_lo + 80) if exact_qmax(clip, f) <= limit)
    frac_bits = draw(st.integers(f_lo, f_hi))
    return FixedPoint(bits=b, frac_bits=frac_bits, clip=clip, stochastic=draw(st.booleans()))


# ---------------------------------------------------------------------- parameters


def test_defaults() -> None:
    fp = FixedPoint()
    assert (fp.bits, fp.frac_bits, fp.clip, fp.stochastic) == (32, 16, 1.0, False)
    assert fp.qmax == 2**16
    assert fp.dtype is np.uint32
    assert fp.resolution == 2**-16
    assert fp.max_summands == (2**31 - 1) // 2**16


@pytest.mark.parametrize(
    ("bits", "dtype"),
    [(2, np.uint32), (31, np.uint32), (32, np.uint32), (33, np.uint64), (64, np.uint64)],
)
def test_dtype(bits: int, dtype: type) -> None:
    fp = FixedPoint(bits=bits, frac_bits=0, clip=1.0)
    assert fp.dtype is dtype
    assert fp.encode([0.5, -1.0]).dtype == dtype


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"bits": 1}, "bits must be in"),
        ({"bits": 65}, "bits must be in"),
        ({"bits": True}, "bool"),
        ({"bits": 32.0}, "int"),
        ({"bits": "32"}, "int"),
        ({"frac_bits": -1}, "frac_bits must be in"),
        ({"frac_bits": 1001, "clip": 2.0**-995}, "frac_bits must be in"),
        ({"frac_bits": 1.5}, "int"),
        ({"clip": 0.0}, "clip must be finite and > 0"),
        ({"clip": -1.0}, "clip must be finite and > 0"),
        ({"clip": float("nan")}, "clip must be finite"),
        ({"clip": float("inf")}, "clip must be finite"),
        ({"clip": "1"}, "real number"),
        ({"clip": True}, "real number"),
        ({"clip": 1j}, "real number"),
        ({"stochastic": 1}, "bool"),
        ({"stochastic": "yes"}, "bool"),
    ],
)
def test_invalid_parameters(kwargs: dict[str, Any], match: str) -> None:
    with pytest.raises(ParameterError, match=match):
        FixedPoint(**kwargs)


def test_parameters_accept_numpy_and_other_real_types() -> None:
    fp = FixedPoint(bits=np.int64(16), frac_bits=np.uint8(8), clip=Fraction(1, 2))  # type: ignore[arg-type]
    assert fp == FixedPoint(bits=16, frac_bits=8, clip=0.5)
    assert type(fp.bits) is int
    assert type(fp.clip) is float
    assert FixedPoint(clip=np.float32(0.5), stochastic=np.True_).stochastic is True  # type: ignore[arg-type]


def test_qmax_too_large_for_the_ring_says_which_frac_bits_fit() -> None:
    with pytest.raises(ParameterError, match=r"largest frac_bits for clip=1\.0 and bits=16 is 14"):
        FixedPoint(bits=16, frac_bits=16, clip=1.0)
    FixedPoint(bits=16, frac_bits=14, clip=1.0)  # and that one is accepted


def test_qmax_too_large_for_float64_says_which_frac_bits_fit() -> None:
    with pytest.raises(ParameterError, match=r"2\*\*53.*largest frac_bits .* is 53"):
        FixedPoint(bits=64, frac_bits=54, clip=1.0)
    assert FixedPoint(bits=64, frac_bits=53, clip=1.0).qmax == 2**53
    # one ulp above 1.0: floor(clip * 2**53) = 2**53 + 1 > 2**53
    with pytest.raises(ParameterError, match="2\\*\\*53"):
        FixedPoint(bits=64, frac_bits=53, clip=math.nextafter(1.0, 2.0))


def test_qmax_zero_says_the_smallest_frac_bits() -> None:
    with pytest.raises(ParameterError, match="frac_bits >= 20"):
        FixedPoint(frac_bits=2, clip=1e-6)
    assert FixedPoint(frac_bits=20, clip=1e-6).qmax == 1


def test_clip_too_large_for_the_ring_says_which_bits_fit() -> None:
    with pytest.raises(ParameterError, match="bits >= 11"):
        FixedPoint(bits=8, frac_bits=0, clip=1000.0)


def test_one_value_exactly_filling_the_ring_is_allowed() -> None:
    fp = FixedPoint(bits=8, frac_bits=0, clip=127.0)
    assert fp.qmax == 127
    assert fp.max_summands == 1
    with pytest.raises(ParameterError):
        FixedPoint(bits=8, frac_bits=0, clip=128.0)


@given(fixed_points())
def test_derived_quantities(fp: FixedPoint) -> None:
    limit = 2 ** (fp.bits - 1) - 1
    assert fp.qmax == exact_qmax(fp.clip, fp.frac_bits)
    assert 1 <= fp.qmax <= min(2**53, limit)
    assert fp.max_summands * fp.qmax <= limit < (fp.max_summands + 1) * fp.qmax
    assert fp.resolution == 2.0**-fp.frac_bits
    assert fp.dtype is (np.uint32 if fp.bits <= 32 else np.uint64)


def test_params_repr_eq_hash_frozen() -> None:
    fp = FixedPoint(bits=48, frac_bits=20, clip=2, stochastic=True)
    assert fp.params() == {
        "name": "fixed-point",
        "bits": 48,
        "frac_bits": 20,
        "clip": 2.0,
        "stochastic": True,
    }
    assert isinstance(fp.params()["clip"], float)
    assert repr(fp) == "FixedPoint(bits=48, frac_bits=20, clip=2.0, stochastic=True)"
    same = FixedPoint(bits=48, frac_bits=20, clip=2.0, stochastic=True)
    assert fp == same
    assert hash(fp) == hash(same)
    assert len({fp, same, FixedPoint()}) == 2
    assert fp != FixedPoint(bits=48, frac_bits=20, clip=2.0, stochastic=False)
    assert fp != FixedPoint(bits=48, frac_bits=19, clip=2.0, stochastic=True)
    with pytest.raises(dataclasses.FrozenInstanceError):
        fp.bits = 32  # type: ignore[misc]
    with pytest.raises(TypeError):
        FixedPoint(32)  # type: ignore[call-arg]


# ------------------------------------------------------------------------ encoding


def test_encode_known_values() -> None:
    fp = FixedPoint(bits=8, frac_bits=4, clip=4.0)  # qmax = 64
    values = [1.0, -1.0, 100.0, -100.0, 0.03125, 0.09375, -0.09375, 0.0, -0.0, 4.0, -4.0]
    # 0.03125 and 0.09375 are 0.5 and 1.5 units: ties go to even
    assert fp.encode(values).tolist() == [16, 240, 64, 192, 0, 2, 254, 0, 0, 64, 192]


def test_negatives_wrap_to_twos_complement() -> None:
    for bits in (8, 16, 32, 33, 48, 63, 64):
        fp = FixedPoint(bits=bits, frac_bits=0, clip=3.0)
        assert fp.encode([-1.0, -3.0, 1.0]).tolist() == [2**bits - 1, 2**bits - 3, 1]


@given(fixed_points(), st.lists(st.floats(-1e6, 1e6), min_size=1, max_size=20))
def test_negation_is_ring_negation(fp: FixedPoint, values: list[float]) -> None:
    assume(not fp.stochastic)
    x = np.array(values)
    modulus = 2**fp.bits
    pos = [int(v) for v in fp.encode(x)]
    neg = [int(v) for v in fp.encode(-x)]
    assert all((p + n) % modulus == 0 for p, n in zip(pos, neg, strict=True))


@given(fixed_points(), st.lists(st.floats(allow_nan=False, allow_infinity=False), max_size=20))
def test_encode_matches_reference(fp: FixedPoint, values: list[float]) -> None:
    assume(not fp.stochastic)
    got = fp.encode(values)
    assert got.dtype == fp.dtype
    assert got.shape == (len(values),)
    for value, enc in zip(values, got.tolist(), strict=True):
        clipped = Fraction(min(max(value, -fp.clip), fp.clip))
        scaled = clipped * 2**fp.frac_bits
        rounded = round(scaled)  # Fraction rounding: ties to even
        q = max(-fp.qmax, min(fp.qmax, rounded))
        assert enc == q % 2**fp.bits


def test_encode_keeps_shape_and_accepts_array_likes() -> None:
    fp = FixedPoint()
    assert fp.encode(0.5).shape == ()
    assert isinstance(fp.encode(0.5), np.ndarray)
    assert int(fp.encode(0.5)) == 2**15
    assert fp.encode(np.zeros((2, 0, 3))).shape == (2, 0, 3)
    assert fp.encode(np.ones((2, 3), dtype=np.float32)).shape == (2, 3)
    assert fp.encode(np.array([1, -1], dtype=np.int8)).tolist() == [2**16, 2**32 - 2**16]
    assert fp.encode(np.array([True, False])).tolist() == [2**16, 0]
    assert fp.encode([[0.25], [0.5]]).tolist() == [[2**14], [2**15]]


def test_encode_does_not_modify_its_input() -> None:
    values = np.array([3.0, -0.3, 0.7])
    FixedPoint(stochastic=True).encode(values)
    FixedPoint().encode(values)
    assert values.tolist() == [3.0, -0.3, 0.7]


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
@pytest.mark.parametrize("stochastic", [False, True])
def test_non_finite_values_are_rejected(bad: float, stochastic: bool) -> None:
    fp = FixedPoint(stochastic=stochastic)
    with pytest.raises(ParameterError, match="non-finite"):
        fp.encode([0.0, bad, 1.0])
    with pytest.raises(ParameterError, match="non-finite"):
        fp.encode(bad)
    with pytest.raises(ParameterError, match="non-finite"):
        fp.encode(np.array([[1.0, 2.0], [bad, 3.0]], dtype=np.float32))


@pytest.mark.parametrize(
    "bad", [np.array([1 + 1j]), np.array(["1.0"]), np.array([1.0], dtype=object), "abc"]
)
def test_non_real_values_are_rejected(bad: Any) -> None:
    with pytest.raises(ParameterError, match="real numbers"):
        FixedPoint().encode(bad)


# ------------------------------------------------------------------------ decoding


def test_decode_known_values() -> None:
    fp = FixedPoint(bits=8, frac_bits=4, clip=4.0)
    assert fp.decode(np.array([255, 128, 127, 0, 16], dtype=np.uint32)).tolist() == [
        -1 / 16,
        -8.0,
        127 / 16,
        0.0,
        1.0,
    ]
    # reduced mod 2**8 first; signed inputs work too
    assert fp.decode(np.array([256 + 16, 2**40 + 255], dtype=np.uint64)).tolist() == [1.0, -1 / 16]
    assert fp.decode(np.array([-1, -16, -256], dtype=np.int64)).tolist() == [-1 / 16, -1.0, 0.0]
    assert fp.decode(np.array([-1], dtype=np.int8)).tolist() == [-1 / 16]
    assert fp.decode([16, 32]).tolist() == [1.0, 2.0]
    assert fp.decode(16).shape == ()
    assert isinstance(fp.decode(16), np.ndarray)


def test_decode_64_bit_is_exact_integer_arithmetic() -> None:
    fp = FixedPoint(bits=64, frac_bits=0, clip=1.0)
    # float arithmetic would turn 2**64 - 3 into 2**64 and then decode it as 0
    got = fp.decode(np.array([2**64 - 3, 2**64 - 1, 2**63, 2**53 + 1], dtype=np.uint64))
    assert got.tolist() == [-3.0, -1.0, -(2.0**63), float(2**53 + 1)]
    assert fp.decode(np.array([np.iinfo(np.int64).min], dtype=np.int64)).tolist() == [-(2.0**63)]


@given(
    fixed_points(),
    st.lists(st.integers(0, 2**64 - 1), min_size=1, max_size=20),
    st.booleans(),
)
def test_decode_matches_reference(fp: FixedPoint, ring: list[int], as_signed: bool) -> None:
    total = np.array(ring, dtype=np.uint64)
    if as_signed:
        total = total.view(np.int64)  # the same ring elements mod 2**64
    got = fp.decode(total)
    assert got.dtype == np.float64
    for value, dec in zip(ring, got.tolist(), strict=True):
        want = Fraction(signed_reference(value, fp.bits), 2**fp.frac_bits)
        assert dec == float(want)


@pytest.mark.parametrize("bad", [np.array([1.0]), np.array([True]), np.array(["1"]), 1.5])
def test_decode_rejects_non_integers(bad: Any) -> None:
    with pytest.raises(ParameterError, match="integer"):
        FixedPoint().decode(bad)


def test_decode_refuses_too_many_summands() -> None:
    fp = FixedPoint.for_sum(n_summands=100, clip=1.0, bits=32)
    total = fp.encode([0.5])
    fp.decode(total, n_summands=fp.max_summands)
    with pytest.raises(ParameterError, match=f"at most {fp.max_summands} summands fit"):
        fp.decode(total, n_summands=fp.max_summands + 1)
    with pytest.raises(ParameterError, match="frac_bits <= 23 or bits >= 33"):
        fp.decode(total, n_summands=200)
    for bad in (0, -1):
        with pytest.raises(ParameterError, match=">= 1"):
            fp.decode(total, n_summands=bad)
    for bad_type in (1.0, True, "2"):
        with pytest.raises(ParameterError, match="int"):
            fp.decode(total, n_summands=bad_type)  # type: ignore[arg-type]


@pytest.mark.parametrize("bits", [8, 16, 32, 33, 48, 63, 64])
@pytest.mark.parametrize("clip", [1.0, 0.3])
def test_full_sums_at_max_summands_do_not_wrap(bits: int, clip: float) -> None:
    fp = FixedPoint.for_sum(n_summands=5, clip=clip, bits=bits)
    n = fp.max_summands
    extremes = fp.encode([clip, -clip, 10 * clip, -10 * clip]).astype(np.uint64)
    total = extremes * np.uint64(n)  # n copies, summed mod 2**64
    want = n * fp.qmax / 2**fp.frac_bits
    assert fp.decode(total, n_summands=n).tolist() == [want, -want, want, -want]


# -------------------------------------------------------------- homomorphism property


@st.composite
def sum_cases(draw: st.DrawFn) -> tuple[FixedPoint, np.ndarray[Any, Any]]:
    """An encoding from for_sum and an (n, d) matrix of values with n <= max_summands."""
    bits = draw(st.sampled_from([16, 32, 48, 64]))
    clip = draw(st.sampled_from([1.0, 0.3, 2.5, 1e-3, 77.7]))
    target = draw(st.integers(1, 40))
    assume(target * max(1, math.floor(clip)) <= 2 ** (bits - 1) - 1)
    fp = FixedPoint.for_sum(n_summands=target, clip=clip, bits=bits, stochastic=draw(st.booleans()))
    n = draw(st.integers(1, fp.max_summands) | st.just(fp.max_summands))
    d = draw(st.integers(1, 6))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))  # test data, not secrets
    values = rng.uniform(-2 * clip, 2 * clip, size=(n, d))
    extreme = rng.random((n, d))
    values[extreme < 0.2] = clip
    values[extreme > 0.8] = -clip
    values[(extreme > 0.45) & (extreme < 0.5)] = 1e300
    return fp, values


@settings(deadline=None, max_examples=150)
@given(sum_cases())
def test_sum_of_encodings_decodes_to_the_sum_within_max_error(
    case: tuple[FixedPoint, np.ndarray[Any, Any]],
) -> None:
    fp, values = case
    n = values.shape[0]
    encoded = fp.encode(values)
    total = encoded.astype(np.uint64).sum(axis=0, dtype=np.uint64)  # wraps mod 2**64
    decoded = fp.decode(total, n_summands=n)
    bound = Fraction(fp.max_error(n))
    clipped = np.clip(values, -fp.clip, fp.clip)
    for j in range(values.shape[1]):
        exact = sum((Fraction(v) for v in clipped[:, j].tolist()), Fraction(0))
        assert abs(Fraction(float(decoded[j])) - exact) <= bound


def test_max_error_values() -> None:
    fp = FixedPoint(bits=32, frac_bits=16, clip=1.0)
    assert fp.max_error(1) == 2.0**-17
    assert fp.max_error(10) == 10 * 2.0**-17
    stochastic = FixedPoint(bits=32, frac_bits=16, clip=1.0, stochastic=True)
    assert stochastic.max_error(10) == 10 * 2.0**-16
    with pytest.raises(ParameterError):
        fp.max_error(fp.max_summands + 1)
    with pytest.raises(ParameterError):
        fp.max_error(0)


def test_max_error_covers_the_clamp_for_a_non_dyadic_clip() -> None:
    # 0.3 * 2**16 = 19660.8: 0.3 rounds to 19661, which is clamped to qmax = 19660,
    # an error of 0.8 units, more than the half unit of rounding alone
    fp = FixedPoint(bits=32, frac_bits=16, clip=0.3)
    error = abs(Fraction(float(fp.decode(fp.encode(0.3)))) - Fraction(0.3))
    assert error > Fraction(1, 2**17)
    assert error <= Fraction(fp.max_error(1))


def test_max_error_covers_float64_rounding_of_large_sums() -> None:
    fp = FixedPoint(bits=64, frac_bits=53, clip=1.0)  # qmax = 2**53
    n = fp.max_summands  # 1023: sums in [2**62, 2**63) units lie on a float64 grid of 2**10
    # 2**53 - 512 units, encoded without rounding error; the exact sum n * (2**53 - 512)
    # is 512 mod 1024, a tie halfway between two float64 values: 512 units are lost
    value = 1 - 2.0**-44
    total = fp.encode([value]).astype(np.uint64) * np.uint64(n)
    decoded = Fraction(float(fp.decode(total, n_summands=n)[0]))
    error = abs(decoded - n * Fraction(value))
    assert error > n * Fraction(1, 2**54)  # beyond the rounding-only bound n * 2**-(f+1)
    assert error <= Fraction(fp.max_error(n))


# ------------------------------------------------------------------------- for_sum


def test_for_sum_example() -> None:
    fp = FixedPoint.for_sum(n_summands=100, clip=1.0, bits=32)
    assert fp.frac_bits == 24  # 100 * 2**24 < 2**31 <= 100 * 2**25
    assert fp.max_summands >= 100
    assert fp.clip == 1.0
    assert fp.bits == 32
    assert not fp.stochastic
    assert FixedPoint.for_sum(n_summands=1, clip=1.0, bits=64, stochastic=True).stochastic


def _smallest_usable_frac_bits(clip: float) -> int:
    return next(f for f in range(2000) if exact_qmax(clip, f) >= 1)


@given(n=st.integers(1, 10**7) | st.integers(1, 2**63), clip=CLIPS, bits=BITS)
def test_for_sum_picks_the_largest_frac_bits(n: int, clip: float, bits: int) -> None:
    limit = 2 ** (bits - 1) - 1
    try:
        fp = FixedPoint.for_sum(n_summands=n, clip=clip, bits=bits)
    except ParameterError:
        # impossible: even the coarsest usable encoding wraps (or one value is too big)
        q_min = exact_qmax(clip, _smallest_usable_frac_bits(clip))
        assert n * q_min > limit
        return
    assert fp.bits == bits
    assert fp.clip == clip
    assert fp.max_summands >= n
    assert n * fp.qmax <= limit
    # one more fractional bit would be invalid or would let n summands wrap
    try:
        finer = FixedPoint(bits=bits, frac_bits=fp.frac_bits + 1, clip=clip)
    except ParameterError:
        return
    assert finer.max_summands < n


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"n_summands": 2**31, "clip": 1.0, "bits": 32}, "bits >= 33.*at most 2147483647"),
        ({"n_summands": 2**31, "clip": 0.001, "bits": 32}, "bits >= 33"),
        ({"n_summands": 1000, "clip": 100.0, "bits": 16}, "bits >= 18.*at most 327 summands"),
        ({"n_summands": 2, "clip": 2.0**62, "bits": 64}, "at most 2\\*\\*53"),
        ({"n_summands": 1, "clip": 2.0**40, "bits": 32}, "single value.*bits >= 42"),
        ({"n_summands": 2**70, "clip": 1.0, "bits": 64}, "72 bits \\(> 64\\)"),
        ({"n_summands": 0, "clip": 1.0}, ">= 1"),
        ({"n_summands": 1, "clip": 1.0, "bits": 65}, "bits must be in"),
        ({"n_summands": 1, "clip": -1.0}, "clip must be"),
        ({"n_summands": 1.5, "clip": 1.0}, "int"),
    ],
)
def test_for_sum_impossible_or_invalid(kwargs: dict[str, Any], match: str) -> None:
    with pytest.raises(ParameterError, match=match):
        FixedPoint.for_sum(**kwargs)


# --------------------------------------------------------------- stochastic rounding


def test_stochastic_rounding_is_unbiased() -> None:
    # Each encoding of 0.3 (frac_bits=0) is 0 or 1 with P(1) = 0.3.  The mean of
    # N = 200_000 draws has standard deviation sqrt(0.21 / N) ~ 0.001; the bound 0.01
    # is ~10 standard deviations (false-failure probability < 1e-20).  Rounding to
    # nearest or down gives 0.0 and up gives 1.0, so any biased rule fails.
    n = 200_000
    fp = FixedPoint(bits=32, frac_bits=0, clip=10.0, stochastic=True)
    for value, lo in ((0.3, 0), (-2.7, -3), (5.3, 5)):
        decoded = fp.decode(fp.encode(np.full(n, value)))
        assert set(np.unique(decoded).tolist()) <= {lo, lo + 1}
        assert abs(decoded.mean() - value) < 0.01


def test_stochastic_rounding_of_a_sum_is_unbiased() -> None:
    # Sum 50 encodings of 1/3 at frac_bits=2 (1.333 units each); per coordinate the
    # decoded sum has variance 50 * (1/3 * 2/3) / 16 ~ 0.69.  Averaged over 20_000
    # coordinates, the mean error has standard deviation ~0.006; bound 0.06 (10 sd).
    # Deterministic rounding makes every term 0.25 (1 unit): an error of 50/12 ~ 4.2.
    fp = FixedPoint(bits=32, frac_bits=2, clip=1.0, stochastic=True)
    total = np.zeros(20_000, dtype=np.uint64)
    for _ in range(50):
        total += fp.encode(np.full(20_000, 1 / 3))
    decoded = fp.decode(total, n_summands=50)
    assert abs(decoded.mean() - 50 / 3) < 0.06
    assert np.all(np.abs(decoded - 50 / 3) <= fp.max_error(50))


def test_stochastic_rounding_uses_os_urandom(monkeypatch: pytest.MonkeyPatch) -> None:
    fp = FixedPoint(bits=16, frac_bits=0, clip=10.0, stochastic=True)
    values = np.array([0.25, 0.5, 0.999, -0.25, 2.0, -3.0])

    def forbidden(*args: object, **kwargs: object) -> None:
        raise AssertionError("stochastic rounding must not use numpy.random / random")

    for name in ("random", "default_rng", "randint", "uniform", "bytes"):
        monkeypatch.setattr(np.random, name, forbidden)
    monkeypatch.setattr(random, "random", forbidden)
    monkeypatch.setattr(random, "getrandbits", forbidden)

    # u = 0 for every value: round up whenever there is a fractional part
    monkeypatch.setattr(os, "urandom", lambda k: bytes(k))
    assert fp.decode(fp.encode(values)).tolist() == [1.0, 1.0, 1.0, 0.0, 2.0, -3.0]
    # u = 1 - 2**-32 for every value: round down
    monkeypatch.setattr(os, "urandom", lambda k: b"\xff" * k)
    assert fp.decode(fp.encode(values)).tolist() == [0.0, 0.0, 0.0, -1.0, 2.0, -3.0]


def test_stochastic_encodings_differ_between_calls() -> None:
    fp = FixedPoint(frac_bits=0, clip=1.0, stochastic=True)
    values = np.full(256, 0.5)
    assert not np.array_equal(fp.encode(values), fp.encode(values))  # P(equal) = 2**-256


def test_stochastic_encoding_stays_within_qmax_at_the_clip() -> None:
    fp = FixedPoint(bits=16, frac_bits=4, clip=0.3, stochastic=True)  # 4.8 units, qmax 4
    decoded = fp.decode(fp.encode(np.full(1000, 0.3)))
    assert decoded.tolist() == [4 / 16] * 1000
