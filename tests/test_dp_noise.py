"""privkit.dp.noise: ChaCha20-driven continuous and discrete Gaussian noise.

Statistical tests use fixed seeds and a stated two-sided significance ALPHA = 1e-6: a
correct sampler fails one of them with probability 1e-6 for a random seed, and, with
the seed fixed, never (the outcome is deterministic).  A wrong variance by a few
percent, a biased mean or a wrong pmf fails them.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from privkit import prg
from privkit.dp import noise
from privkit.dp.noise import ChaChaStream, discrete_gaussian, discrete_gaussian_variance, gaussian
from privkit.errors import ParameterError

ALPHA = 1e-6
Z = float(stats.norm.ppf(1 - ALPHA / 2))  # 4.89
N = 200_000


def seed(i: int) -> bytes:
    return bytes([i]) * 32


def exact_moments(sigma: float) -> tuple[float, float]:
    """(E[X^2], E[X^4]) of the discrete Gaussian, by direct summation."""
    x = np.arange(-math.ceil(40 * sigma) - 10, math.ceil(40 * sigma) + 11, dtype=np.float64)
    w = np.exp(-(x**2) / (2 * sigma * sigma))
    w /= math.fsum(w)
    return math.fsum(x**2 * w), math.fsum(x**4 * w)


# ----------------------------------------------------------------------- the stream


def test_stream_matches_chacha20_keystream_across_calls() -> None:
    key = seed(9)
    a = ChaChaStream(key)
    words = np.concatenate([a.words(3), a.words(13), a.words(0), a.words(40)])
    raw = prg.keystream(key, bytes(12), 8 * 56)
    assert np.array_equal(words, np.frombuffer(raw, dtype="<u8"))


def test_stream_uniforms_are_open_interval() -> None:
    u = ChaChaStream(seed(1)).uniform(100_000)
    assert u.dtype == np.float64
    assert u.min() > 0.0
    assert u.max() < 1.0
    assert stats.kstest(u, "uniform").pvalue > ALPHA


def test_stream_refuses_bad_seed_and_hides_key() -> None:
    with pytest.raises(ParameterError):
        ChaChaStream(b"short")
    assert seed(3).hex() not in repr(ChaChaStream(seed(3)))


# --------------------------------------------------------------------- gaussian


def test_gaussian_shape_dtype_and_zero_sigma() -> None:
    x = gaussian((3, 4), 2.0, seed=seed(1))
    assert x.shape == (3, 4)
    assert x.dtype == np.float64
    assert np.array_equal(gaussian(5, 0.0), np.zeros(5))
    assert gaussian(0, 1.0).shape == (0,)


def test_gaussian_reproducible_with_seed_and_fresh_without() -> None:
    assert np.array_equal(gaussian(64, 1.0, seed=seed(2)), gaussian(64, 1.0, seed=seed(2)))
    assert not np.array_equal(gaussian(64, 1.0, seed=seed(2)), gaussian(64, 1.0, seed=seed(3)))
    assert not np.array_equal(gaussian(64, 1.0), gaussian(64, 1.0))


@pytest.mark.parametrize("sigma", [0.5, 3.0, 1e4])
def test_gaussian_variance_in_chi_square_interval(sigma: float) -> None:
    x = gaussian(N, sigma, seed=seed(4))
    # sum (x / sigma)^2 ~ chi^2(N) when x ~ N(0, sigma^2)
    statistic = float(np.sum((x / sigma) ** 2))
    lo, hi = stats.chi2.ppf([ALPHA / 2, 1 - ALPHA / 2], N)
    assert lo <= statistic <= hi
    assert abs(float(x.mean())) <= Z * sigma / math.sqrt(N)
    assert stats.kstest(x / sigma, "norm").pvalue > ALPHA


def test_gaussian_detects_wrong_variance() -> None:
    # The interval of the test above is tight enough to catch a 2% error in sigma.
    x = gaussian(N, 1.02, seed=seed(4))
    statistic = float(np.sum(x**2))
    lo, hi = stats.chi2.ppf([ALPHA / 2, 1 - ALPHA / 2], N)
    assert not lo <= statistic <= hi


@pytest.mark.parametrize("bad", [-1.0, math.nan, math.inf, "1", True])
def test_gaussian_refuses_bad_sigma(bad: object) -> None:
    with pytest.raises(ParameterError):
        gaussian(3, bad)  # type: ignore[arg-type]


@pytest.mark.parametrize("shape", [-1, (2, -1), 1.5, True, "3"])
def test_refuses_bad_shapes(shape: object) -> None:
    with pytest.raises(ParameterError):
        gaussian(shape, 1.0)  # type: ignore[arg-type]
    with pytest.raises(ParameterError):
        discrete_gaussian(shape, 1.0)  # type: ignore[arg-type]


# ------------------------------------------------------------- discrete gaussian


def test_discrete_gaussian_basics() -> None:
    x = discrete_gaussian((2, 5), 3.0, seed=seed(1))
    assert x.shape == (2, 5)
    assert x.dtype == np.int64
    assert np.array_equal(discrete_gaussian(7, 0.0), np.zeros(7, dtype=np.int64))
    assert np.array_equal(
        discrete_gaussian(50, 2.0, seed=seed(5)), discrete_gaussian(50, 2.0, seed=seed(5))
    )
    assert not np.array_equal(discrete_gaussian(50, 2.0), discrete_gaussian(50, 2.0))
    with pytest.raises(ParameterError):
        discrete_gaussian(3, 2.0**41)
    with pytest.raises(ParameterError):
        discrete_gaussian(3, -0.5)


@pytest.mark.parametrize("sigma", [0.3, 0.7, 2.0, 5.0, 60.0, 2.0**20])
def test_discrete_gaussian_mean_and_variance(sigma: float) -> None:
    x = discrete_gaussian(N, sigma, seed=seed(6)).astype(np.float64)
    if sigma <= 100:
        m2, m4 = exact_moments(sigma)
        assert discrete_gaussian_variance(sigma) == pytest.approx(m2, rel=1e-12)
    else:  # the discrete Gaussian's variance is sigma^2 within exp(-2 pi^2 sigma^2)
        m2, m4 = sigma**2, 3 * sigma**4
    estimate = float(np.mean(x**2))  # the mean is known (0)
    assert abs(estimate - m2) <= Z * math.sqrt((m4 - m2 * m2) / N)
    assert abs(float(x.mean())) <= Z * math.sqrt(m2 / N)


def test_discrete_gaussian_variance_helper() -> None:
    assert discrete_gaussian_variance(0.0) == 0.0
    assert discrete_gaussian_variance(3.0) == pytest.approx(9.0, rel=1e-12)
    assert discrete_gaussian_variance(0.3) < 0.3**2  # small sigma: well below sigma^2


@pytest.mark.parametrize("sigma", [0.7, 2.0, 5.0])
def test_discrete_gaussian_pmf_goodness_of_fit(sigma: float) -> None:
    x = discrete_gaussian(N, sigma, seed=seed(7))
    support = np.arange(-math.ceil(40 * sigma) - 10, math.ceil(40 * sigma) + 11)
    pmf = np.exp(-(support.astype(np.float64) ** 2) / (2 * sigma * sigma))
    pmf /= pmf.sum()
    expected = N * pmf
    # Bins: every value with an expected count >= 5, plus the two tails lumped together.
    keep = expected >= 5
    lo, hi = support[keep].min(), support[keep].max()
    observed = [int(np.count_nonzero(x == v)) for v in range(lo, hi + 1)]
    observed.append(int(np.count_nonzero((x < lo) | (x > hi))))
    exp_bins = list(expected[keep])
    exp_bins.append(N - sum(exp_bins))
    observed_arr = np.array(observed, dtype=np.float64)
    expected_arr = np.array(exp_bins)
    if expected_arr[-1] < 1e-9:  # no tail mass to speak of: drop that bin
        assert observed_arr[-1] == 0
        observed_arr, expected_arr = observed_arr[:-1], expected_arr[:-1]
    expected_arr *= observed_arr.sum() / expected_arr.sum()
    assert stats.chisquare(observed_arr, expected_arr).pvalue > ALPHA


def test_discrete_gaussian_goodness_of_fit_detects_a_wrong_sigma() -> None:
    x = discrete_gaussian(N, 2.1, seed=seed(7))
    support = np.arange(-12, 13)
    pmf = np.exp(-(support.astype(np.float64) ** 2) / 8.0)
    pmf /= pmf.sum()
    observed = np.array([np.count_nonzero(x == v) for v in support], dtype=np.float64)
    assert stats.chisquare(observed, pmf * observed.sum()).pvalue < ALPHA


@pytest.mark.parametrize(("sigma", "shares"), [(20.0, 10), (3.0, 4), (1000.0, 7)])
def test_distributed_shares_sum_to_the_target_variance(sigma: float, shares: int) -> None:
    # Each of `shares` parties adds N_Z(0, (sigma / sqrt(shares))^2): the sum has variance
    # shares * Var(N_Z(0, sigma^2 / shares)), which is sigma^2 up to the discrete
    # correction (below 1e-6 relative for these sigmas).
    local = sigma / math.sqrt(shares)
    target = shares * discrete_gaussian_variance(local)
    assert target == pytest.approx(sigma**2, rel=1e-6)
    n = N // 2
    total = np.sum(discrete_gaussian((shares, n), local, seed=seed(8)), axis=0).astype(float)
    m2, m4 = exact_moments(local)
    fourth = shares * m4 + 3 * shares * (shares - 1) * m2 * m2  # E[S^4] of the sum
    estimate = float(np.mean(total**2))
    assert abs(estimate - target) <= Z * math.sqrt((fourth - target * target) / n)


def test_discrete_gaussian_is_fast_path_vectorised() -> None:
    # 10^6 samples in one call (no timing assertion: only that the batched path works).
    x = discrete_gaussian(1_000_000, 4.0, seed=seed(10))
    assert x.size == 1_000_000
    assert abs(float(np.mean(x.astype(float) ** 2)) - 16.0) < 0.2


def test_module_exports() -> None:
    assert set(noise.__all__) == {
        "ChaChaStream",
        "discrete_gaussian",
        "discrete_gaussian_variance",
        "gaussian",
    }
