"""Multi-scalar multiplication (privkit.zk.group.msm / msm_small) against the sum of products."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from privkit.zk.group import ORDER, Point, PointArray, Scalar, msm, msm_small

POOL = [
    Point.from_uniform_bytes(hashlib.sha512(b"privkit-msm-test" + bytes([i])).digest())
    for i in range(24)
]
EDGE_INTS = [0, 1, 2, ORDER - 1, ORDER - 2, 2**252, 2**252 - 1, -1, 2**253 - 1, 2**255]


def _points(idx: list[int], flips: list[bool]) -> list[Point]:
    """Points from a small pool, so repeats and P, -P pairs are frequent."""
    out = []
    for i, f in zip(idx, flips, strict=True):
        p = POOL[i % len(POOL)] if i < 2 * len(POOL) else Point.identity()
        out.append(-p if f else p)
    return out


def _reference(coeffs: list[int], points: list[Point]) -> Point:
    acc = Point.identity()
    for c, p in zip(coeffs, points, strict=True):
        acc = acc + Scalar.from_int(c) * p
    return acc


point_lists = st.integers(min_value=0, max_value=40).flatmap(
    lambda n: st.tuples(
        st.lists(st.integers(min_value=0, max_value=2 * len(POOL)), min_size=n, max_size=n),
        st.lists(st.booleans(), min_size=n, max_size=n),
    )
)


@given(point_lists, st.data())
def test_msm_equals_sum_of_products(pl: tuple[list[int], list[bool]], data: st.DataObject) -> None:
    pts = _points(*pl)
    coeffs = data.draw(
        st.lists(
            st.one_of(st.sampled_from(EDGE_INTS), st.integers(min_value=0, max_value=ORDER - 1)),
            min_size=len(pts),
            max_size=len(pts),
        )
    )
    expected = _reference(coeffs, pts)
    assert msm([Scalar.from_int(c) for c in coeffs], pts) == expected
    assert msm(coeffs, PointArray(pts)) == expected


def _boundary_ints(bits: int) -> st.SearchStrategy[int]:
    """Values at signed-digit window edges: +-2^k, +-(2^k - 1), +-(2^k + 1)."""
    edges = st.builds(
        lambda k, d, neg: (-1 if neg else 1) * (2**k + d),
        st.integers(min_value=0, max_value=bits - 2),
        st.integers(min_value=-1, max_value=1),
        st.booleans(),
    )
    lo, hi = -(2 ** (bits - 1)), 2 ** (bits - 1) - 1
    return st.one_of(edges, st.integers(min_value=lo, max_value=hi)).map(
        lambda v: max(lo, min(hi, v))
    )


@pytest.mark.parametrize(("dtype", "bits"), [(np.int8, 8), (np.int16, 16), (np.int32, 32)])
@given(point_lists, st.data())
def test_msm_small_equals_sum_of_products(
    dtype: type[np.signedinteger], bits: int, pl: tuple[list[int], list[bool]], data: st.DataObject
) -> None:
    pts = _points(*pl)
    values = data.draw(st.lists(_boundary_ints(bits), min_size=len(pts), max_size=len(pts)))
    arr = np.array(values, dtype=dtype)
    assert msm_small(arr, pts) == _reference(values, pts)


@pytest.mark.parametrize("n", [0, 1, 2, 3, 4, 5, 8, 15, 16, 17, 31, 32, 33, 64, 65, 129, 300])
def test_msm_sizes_across_windows(n: int) -> None:
    rng = np.random.default_rng(n)
    pts = [POOL[i % len(POOL)] for i in range(n)]
    coeffs = [int.from_bytes(rng.bytes(32), "little") % ORDER for _ in range(n)]
    arr = PointArray(pts)
    expected = _reference(coeffs, pts)
    assert msm(coeffs, arr) == expected
    small = rng.integers(-(2**31), 2**31, size=n, dtype=np.int32)
    small[: min(n, 2)] = [np.iinfo(np.int32).min, np.iinfo(np.int32).max][: min(n, 2)]
    assert msm_small(small, arr) == _reference([int(v) for v in small], pts)
    sixteen = rng.integers(-(2**15), 2**15, size=n, dtype=np.int16)
    assert msm_small(sixteen, arr) == _reference([int(v) for v in sixteen], pts)


def test_msm_cancellation_and_identity() -> None:
    p, q = POOL[0], POOL[1]
    o = Point.identity()
    assert msm([5, 5], [p, -p]) == o
    assert msm([ORDER - 1, 1], [p, p]) == o
    assert msm([3, 7], [o, o]) == o
    assert msm_small(np.array([1, 1, -2], dtype=np.int16), [q, q, q]) == o
    assert msm_small(np.array([-32768, 32767], dtype=np.int16), [p, p]) == -p


def test_point_array_batch_constructors_and_indexing() -> None:
    dst = b"privkit-test-generators"
    msgs = [i.to_bytes(4, "little") for i in range(300)]
    arr = PointArray.hash_to_group(msgs, dst)
    singles = [Point.hash_to_group(m, dst) for m in msgs]
    assert len(arr) == 300
    assert [arr[i] for i in (0, 1, 255, 256, 299, -1)] == [
        singles[i] for i in (0, 1, 255, 256, 299, -1)
    ]
    assert arr[7].to_bytes() == singles[7].to_bytes()
    coeffs = list(range(-150, 150))
    assert msm(coeffs, arr) == msm(coeffs, singles) == _reference(coeffs, singles)
    with pytest.raises(IndexError):
        arr[300]
    assert len(PointArray.from_uniform_bytes(b"")) == 0
