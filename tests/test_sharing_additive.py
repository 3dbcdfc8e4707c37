"""Additive sharing over Z_2^32 and Z_2^64: round trips, homomorphism, uniformity, errors."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from privkit.errors import ParameterError
from privkit.sharing import additive

SOME = settings(max_examples=60, deadline=None)
RINGS = {32: np.uint32, 64: np.uint64}


@SOME
@given(
    bits=st.sampled_from([32, 64]),
    shape=hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=6),
    n=st.integers(2, 10),
    data=st.data(),
)
def test_round_trip_any_shape(
    bits: int, shape: tuple[int, ...], n: int, data: st.DataObject
) -> None:
    dtype = RINGS[bits]
    x = data.draw(hnp.arrays(dtype, shape))
    shares = additive.split(x, n, ring_bits=bits)
    assert len(shares) == n
    for share in shares:
        assert share.dtype == dtype
        assert share.shape == x.shape
    got = additive.combine(shares)
    assert got.dtype == dtype
    assert got.shape == x.shape
    np.testing.assert_array_equal(got, x)
    # The sum really is taken modulo 2^bits: Python ints agree.
    flat = [s.reshape(-1).tolist() for s in shares]
    want = [sum(col) % 2**bits for col in zip(*flat, strict=True)]
    assert x.reshape(-1).tolist() == want


@SOME
@given(
    bits=st.sampled_from([32, 64]),
    values=st.lists(st.integers(0, 2**32 - 1), min_size=1, max_size=20),
    n=st.integers(2, 6),
)
def test_python_ints_and_other_integer_dtypes(bits: int, values: list[int], n: int) -> None:
    for x in (values, np.array(values, np.int64), np.array(values, np.uint64)):
        got = additive.combine(additive.split(x, n, ring_bits=bits))
        assert got.tolist() == values
        assert got.dtype == RINGS[bits]


def test_scalars_and_empty_inputs() -> None:
    got = additive.combine(additive.split(7, 3))
    assert got.shape == ()
    assert int(got) == 7
    big = 2**64 - 1  # does not fit int64: handled as a Python int
    assert int(additive.combine(additive.split(big, 2, ring_bits=64))) == big
    assert additive.combine(additive.split([2**63, 2**64 - 1], 2, ring_bits=64)).tolist() == [
        2**63,
        2**64 - 1,
    ]
    for empty in ([], (), np.zeros((0, 3), np.uint32)):
        shares = additive.split(empty, 4)
        assert all(s.size == 0 and s.dtype == np.uint32 for s in shares)
        assert additive.combine(shares).size == 0


def test_sharing_is_additively_homomorphic() -> None:
    rng = np.random.default_rng(1)  # test data, not secrets
    for bits, dtype in RINGS.items():
        xs = [rng.integers(0, 2**bits, size=50, dtype=dtype) for _ in range(5)]
        all_shares = [additive.split(x, 3, ring_bits=bits) for x in xs]
        # Party i adds up its shares of every secret; combining those gives the sum.
        per_party = [additive.combine([s[i] for s in all_shares]) for i in range(3)]
        want = np.zeros(50, dtype)
        for x in xs:
            want += x
        np.testing.assert_array_equal(additive.combine(per_party), want)


def test_shares_are_fresh_arrays_and_splits_differ() -> None:
    x = np.arange(10, dtype=np.uint32)
    a, b = additive.split(x, 2), additive.split(x, 2)
    assert not np.array_equal(a[0], b[0])
    second = a[1].copy()
    a[0][:] = 0  # shares do not alias one another
    np.testing.assert_array_equal(a[1], second)
    np.testing.assert_array_equal(x, np.arange(10, dtype=np.uint32))  # input untouched
    np.testing.assert_array_equal(additive.combine(b), x)


@pytest.mark.parametrize("bits", [32, 64])
def test_each_share_looks_uniform(bits: int) -> None:
    # Every share alone (the last one included) is uniform in the ring, whatever the
    # secret.  Randomness is the OS CSPRNG, so the bounds are generous (> 6 sigma).
    size = 20_000
    for x in (np.zeros(size, RINGS[bits]), np.full(size, 2**bits - 1, RINGS[bits])):
        for share in additive.split(x, 3, ring_bits=bits):
            u = share.astype(np.float64) / 2.0**bits
            assert abs(u.mean() - 0.5) < 0.013
            counts = np.bincount((share >> np.uint64(bits - 4)).astype(np.int64), minlength=16)
            chi2 = float(((counts - size / 16) ** 2 / (size / 16)).sum())
            assert chi2 < 60, chi2  # 15 degrees of freedom


@pytest.mark.parametrize("bits", [16, 8, 128, 0, True, "32", 32.0, None])
def test_ring_bits_must_be_32_or_64(bits: object) -> None:
    with pytest.raises(ParameterError, match="ring_bits must be 32 or 64"):
        additive.split([1], 2, ring_bits=bits)  # type: ignore[arg-type]


@pytest.mark.parametrize("n", [1, 0, -3, True, 2.0, "3", None])
def test_n_must_be_an_int_of_at_least_two(n: object) -> None:
    with pytest.raises(ParameterError, match="n must be"):
        additive.split([1], n)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("x", "bits"),
    [
        ([-1], 32),
        ([2**32], 32),
        (np.array([2**32], np.uint64), 32),
        (np.array([-5], np.int8), 64),
        ([2**64], 64),
        ([1.5], 32),
        (np.array([1.0]), 32),
        (np.array([True]), 32),
        (True, 32),
        (["a"], 32),
        ([[1, 2], [3]], 32),
        (np.array([1, None], dtype=object), 64),
        ("12", 32),
    ],
)
def test_split_refuses_values_outside_the_ring(x: object, bits: int) -> None:
    with pytest.raises(ParameterError, match=r"x must|ring element"):
        additive.split(x, 2, ring_bits=bits)  # type: ignore[arg-type]


def test_combine_refuses_bad_shares() -> None:
    a = additive.split(np.arange(4, dtype=np.uint32), 2)
    with pytest.raises(ParameterError, match="at least 1 share"):
        additive.combine([])
    with pytest.raises(ParameterError, match="same dtype and shape"):
        additive.combine([a[0], a[1].astype(np.uint64)])
    with pytest.raises(ParameterError, match="same dtype and shape"):
        additive.combine([a[0], a[1][:3]])
    with pytest.raises(ParameterError, match="uint32 or uint64"):
        additive.combine([a[0].astype(np.int32)])
    with pytest.raises(ParameterError, match="must be a numpy array"):
        additive.combine([a[0], [1, 2, 3, 4]])  # type: ignore[list-item]
    with pytest.raises(ParameterError, match="sequence"):
        additive.combine(a[0])  # type: ignore[arg-type]
    with pytest.raises(ParameterError, match="sequence"):
        additive.combine(None)  # type: ignore[arg-type]
    # One share is its own sum.
    np.testing.assert_array_equal(additive.combine([a[0]]), a[0])
    assert additive.combine([a[0]]) is not a[0]
