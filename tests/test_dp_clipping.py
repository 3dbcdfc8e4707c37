"""privkit.dp.clipping: L2 clipping, conditional randomized rounding, adaptive clipping.

Statistical tests use fixed seeds and a two-sided significance ALPHA = 1e-6.
"""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from scipy import stats

from privkit.dp import clipping
from privkit.dp.clipping import (
    AdaptiveClip,
    adaptive_noise_multiplier,
    clip_l2,
    l2_norm,
    randomized_round,
    rounded_l2_bound,
)
from privkit.errors import ParameterError

ALPHA = 1e-6
Z = float(stats.norm.ppf(1 - ALPHA / 2))

finite = st.floats(allow_nan=False, allow_infinity=False)
vectors = hnp.arrays(
    np.float64, hnp.array_shapes(min_dims=1, max_dims=2, max_side=12), elements=finite
)
bounds = st.floats(min_value=1e-300, max_value=1e300)


def exact_sq(x: np.ndarray) -> Fraction:
    return sum((Fraction(float(v)) ** 2 for v in x.reshape(-1)), Fraction(0))


# ------------------------------------------------------------------------- clip_l2


@given(vectors, bounds)
def test_clip_never_exceeds_the_bound_exactly(x: np.ndarray, bound: float) -> None:
    out, norm = clip_l2(x, bound)
    assert out.shape == x.shape
    assert out.dtype == np.float64
    assert exact_sq(out) <= Fraction(bound) ** 2  # real-number norm, no rounding
    assert l2_norm(out) <= bound * (1 + 1e-12)
    assert norm == l2_norm(x)
    if exact_sq(x) <= Fraction(bound) ** 2:
        assert np.array_equal(out, x)  # already within: unchanged, bit for bit
    else:
        # clipped: the direction is kept (tiny coordinates may underflow to 0) and, away
        # from the subnormal range, the norm is the bound up to rounding
        assert np.all((np.sign(out) == np.sign(x)) | (out == 0))
        if bound > 1e-250:
            assert l2_norm(out) >= bound * (1 - 1e-9)


@given(hnp.arrays(np.float64, st.integers(1, 40), elements=st.floats(-1e3, 1e3)))
def test_clip_scales_by_bound_over_norm(x: np.ndarray) -> None:
    norm = l2_norm(x)
    bound = 1.0
    out, _ = clip_l2(x, bound)
    if norm > bound:
        np.testing.assert_allclose(out, x * (bound / norm), rtol=1e-12, atol=0)


def test_clip_examples() -> None:
    out, norm = clip_l2([3.0, 4.0], 1.0)
    assert norm == 5.0
    np.testing.assert_allclose(out, [0.6, 0.8], rtol=1e-14)
    same, _ = clip_l2(np.array([3, 4], dtype=np.int32), 5.0)
    assert same.dtype == np.float64
    assert np.array_equal(same, [3.0, 4.0])
    big, norm = clip_l2([1e308, -1e308], 2.0)
    assert math.isfinite(norm)
    assert exact_sq(big) <= 4
    empty, zero = clip_l2(np.zeros(0), 1.0)
    assert empty.size == 0
    assert zero == 0.0


@pytest.mark.parametrize("bad", [[1.0, math.nan], [math.inf], ["a"], [1 + 2j]])
def test_clip_refuses_non_finite_or_non_real(bad: list[object]) -> None:
    with pytest.raises(ParameterError):
        clip_l2(np.array(bad), 1.0)


@pytest.mark.parametrize("bound", [0.0, -1.0, math.nan, math.inf, True])
def test_clip_refuses_bad_bounds(bound: object) -> None:
    with pytest.raises(ParameterError):
        clip_l2([1.0], bound)  # type: ignore[arg-type]


# -------------------------------------------------------------- randomized rounding


def test_rounded_l2_bound_formula() -> None:
    c, d = 10.0, 100
    beta = math.exp(-0.5)
    want = math.sqrt(c * c + d / 4 + math.sqrt(2 * math.log(1 / beta)) * (c + math.sqrt(d) / 2))
    assert rounded_l2_bound(c, d) == pytest.approx(want, rel=1e-15)
    assert rounded_l2_bound(c, d) >= want
    assert rounded_l2_bound(c, d, beta=1e-9) > rounded_l2_bound(c, d)
    for bad in ({"clip": 0.0, "dimension": 1}, {"clip": 1.0, "dimension": 0}):
        with pytest.raises(ParameterError):
            rounded_l2_bound(**bad)  # type: ignore[arg-type]
    with pytest.raises(ParameterError):
        rounded_l2_bound(1.0, 3, beta=1.0)


@given(
    hnp.arrays(np.float64, st.integers(1, 50), elements=st.floats(-30, 30)),
    st.binary(min_size=32, max_size=32),
)
def test_randomized_round_respects_the_bound(x: np.ndarray, key: bytes) -> None:
    c = max(l2_norm(x), 1e-3)
    bound = rounded_l2_bound(c, x.size)
    r = randomized_round(x, l2_bound=bound, seed=key)
    assert r.dtype == np.int64
    assert np.all(np.abs(r - x) < 1)  # floor or ceil of each coordinate
    assert np.all(np.abs(r) <= np.ceil(np.abs(x)))
    assert int(np.sum(r * r)) <= bound * bound


def test_randomized_round_is_unbiased() -> None:
    x = np.array([0.25, -1.7, 3.5, 0.0, 2.0, -0.01])
    trials = 20_000
    seeds = [i.to_bytes(32, "little") for i in range(trials)]
    big = rounded_l2_bound(l2_norm(x), x.size)
    draws = np.array([randomized_round(x, l2_bound=1e9, seed=s) for s in seeds], dtype=float)
    frac = x - np.floor(x)
    sd = np.sqrt(frac * (1 - frac) / trials)
    assert np.all(np.abs(draws.mean(axis=0) - x) <= Z * sd + 1e-12)
    # conditioning on the bound keeps the result close to unbiased for generous bounds
    cond = np.array([randomized_round(x, l2_bound=big, seed=s) for s in seeds[:2000]], dtype=float)
    assert np.all(np.abs(cond.mean(axis=0) - x) < 0.1)


def test_randomized_round_refuses_when_it_keeps_failing() -> None:
    with pytest.raises(ParameterError, match="failed 5 times"):
        randomized_round(np.full(100, 0.5), l2_bound=1.0, max_tries=5, seed=bytes(32))
    with pytest.raises(ParameterError):
        randomized_round([1.0], l2_bound=1.0, max_tries=0)
    with pytest.raises(ParameterError):
        randomized_round([math.nan], l2_bound=1.0)


# ----------------------------------------------------------------- adaptive clipping


def test_adaptive_noise_multiplier_split() -> None:
    z, sb = 1.0, 5.0
    zd = adaptive_noise_multiplier(z, sb)
    assert zd > z
    assert (zd**-2 + (2 * sb) ** -2) ** -0.5 == pytest.approx(z, rel=1e-12)
    assert adaptive_noise_multiplier(0.0, 0.0) == 0.0
    with pytest.raises(ParameterError, match="count_noise"):
        adaptive_noise_multiplier(1.0, 0.5)  # 2 sigma_b == z: no budget left
    with pytest.raises(ParameterError):
        adaptive_noise_multiplier(-1.0, 5.0)
    with pytest.raises(ParameterError):
        adaptive_noise_multiplier(1.0, math.nan)


def test_adaptive_clip_update_rule() -> None:
    a = AdaptiveClip(2.0, target_quantile=0.5, learning_rate=0.2)
    assert a.value == 2.0
    assert a.update(1.0) == pytest.approx(2.0 * math.exp(-0.2 * 0.5))
    assert a.value == pytest.approx(2.0 * math.exp(-0.1))
    before = a.value
    a.update(0.0)  # nothing below the clip: it grows
    assert a.value == pytest.approx(before * math.exp(0.1))
    with pytest.raises(ParameterError):
        a.update(math.nan)
    with pytest.raises(ParameterError):
        AdaptiveClip(1.0, learning_rate=1e308).update(-1e308)


def test_adaptive_clip_converges_to_the_quantile_without_noise() -> None:
    norms = np.arange(1, 101, dtype=float)  # the 0.3-quantile is about 30
    a = AdaptiveClip(1.0, target_quantile=0.3, learning_rate=0.3)
    for _ in range(200):
        a.update(float(np.mean(norms <= a.value)))
    assert 25 <= a.value <= 36


@pytest.mark.parametrize(
    "kwargs",
    [
        {"initial": 0.0},
        {"initial": math.inf},
        {"initial": 1.0, "target_quantile": 1.5},
        {"initial": 1.0, "learning_rate": 0.0},
        {"initial": 1.0, "count_noise": -1.0},
        {"initial": True},
    ],
)
def test_adaptive_clip_validates(kwargs: dict[str, object]) -> None:
    with pytest.raises(ParameterError):
        AdaptiveClip(**kwargs)  # type: ignore[arg-type]


def test_adaptive_clip_state_round_trip() -> None:
    a = AdaptiveClip(1.0, count_noise=2.0)
    a.update(0.9)
    b = AdaptiveClip(1.0, count_noise=2.0)
    b.load_state_dict(a.state_dict())
    assert b.value == a.value
    with pytest.raises(ParameterError):
        AdaptiveClip(1.0, count_noise=3.0).load_state_dict(a.state_dict())
    assert AdaptiveClip(1.0, count_noise=3.0).value == 1.0


def test_module_exports() -> None:
    for name in clipping.__all__:
        assert hasattr(clipping, name)
