"""GF(2^61 - 1) kernels (csrc/field.c): C against the big-int reference, and argument checks."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from reference import field as ref

from privkit import _native
from privkit.errors import NativeError, ParameterError

P = 2**61 - 1
EDGES = [0, 1, 2, P - 1, P - 2, 2**60, 2**60 - 1, 2**32, 2**61 - 3, 12345]


def field_array(
    rng: np.random.Generator, shape: tuple[int, ...], kind: str
) -> np.ndarray[tuple[int, ...], np.dtype[np.uint64]]:
    """Test data (not secret): uniform, edge values, all p-1, or all zero."""
    if kind == "uniform":
        return rng.integers(0, P, size=shape, dtype=np.uint64)
    if kind == "edges":
        return rng.choice(np.array(EDGES, dtype=np.uint64), size=shape)
    if kind == "max":
        return np.full(shape, P - 1, dtype=np.uint64)
    return np.zeros(shape, dtype=np.uint64)


KINDS = st.sampled_from(["uniform", "edges", "max", "zero"])
SEEDS = st.integers(0, 2**32 - 1)


def as_lists(a: np.ndarray) -> list:  # type: ignore[type-arg]
    return [[int(v) for v in row] for row in a] if a.ndim == 2 else [int(v) for v in a]


def test_field_prime_is_the_mersenne_prime() -> None:
    assert _native.FIELD_PRIME == P
    assert ref.P == P


@given(
    t=st.integers(0, 9),
    m=st.one_of(st.integers(0, 3), st.integers(60, 70), st.integers(0, 140)),
    n=st.integers(0, 7),
    kinds=st.tuples(KINDS, KINDS),
    seed=SEEDS,
)
def test_poly_eval_matches_reference(
    t: int, m: int, n: int, kinds: tuple[str, str], seed: int
) -> None:
    rng = np.random.default_rng(seed)
    coeffs = field_array(rng, (t, m), kinds[0])
    xs = field_array(rng, (n,), kinds[1])
    got = _native.field_poly_eval(coeffs, xs)
    assert got.shape == (n, m)
    assert got.dtype == np.uint64
    want = ref.poly_eval(as_lists(coeffs), as_lists(xs)) if t else [[0] * m for _ in range(n)]
    assert as_lists(got) == want


@given(
    t=st.one_of(st.integers(0, 5), st.integers(30, 70), st.just(129)),
    m=st.one_of(st.integers(0, 3), st.integers(60, 70), st.integers(0, 200)),
    kinds=st.tuples(KINDS, KINDS),
    seed=SEEDS,
)
def test_lincomb_matches_reference(t: int, m: int, kinds: tuple[str, str], seed: int) -> None:
    # t crosses the 32-product lazy-reduction blocks; "max" is the worst case for them.
    rng = np.random.default_rng(seed)
    rows = field_array(rng, (t, m), kinds[0])
    weights = field_array(rng, (t,), kinds[1])
    got = _native.field_lincomb(rows, weights)
    assert got.shape == (m,)
    assert as_lists(got) == ref.lincomb(as_lists(rows), as_lists(weights), m)


@given(
    r=st.integers(0, 6),
    t=st.one_of(st.integers(0, 5), st.integers(31, 66)),
    m=st.one_of(st.integers(0, 3), st.integers(0, 140)),
    kinds=st.tuples(KINDS, KINDS),
    seed=SEEDS,
)
def test_matmul_matches_reference(
    r: int, t: int, m: int, kinds: tuple[str, str], seed: int
) -> None:
    rng = np.random.default_rng(seed)
    weights = field_array(rng, (r, t), kinds[0])
    rows = field_array(rng, (t, m), kinds[1])
    got = _native.field_matmul(weights, rows)
    assert got.shape == (r, m)
    assert as_lists(got) == ref.matmul(as_lists(weights), as_lists(rows), m)


def test_all_max_worst_case_large() -> None:
    # (p-1)^2 products summed 1000 times: every lazy block is at its largest.
    t, m = 1000, 67
    rows = np.full((t, m), P - 1, dtype=np.uint64)
    weights = np.full(t, P - 1, dtype=np.uint64)
    assert set(_native.field_lincomb(rows, weights).tolist()) == {t % P}
    # At x = p - 1 = -1 the t = 1000 coefficients -1 sum to -(1 - 1 + 1 - ...) = 0;
    # at x = 1 to 1000 * (p - 1); at x = 0 to the constant term.
    got = _native.field_poly_eval(rows, np.array([P - 1, 1, 0], dtype=np.uint64))
    assert set(got[0].tolist()) == {0}
    assert set(got[1].tolist()) == {t * (P - 1) % P}
    assert set(got[2].tolist()) == {P - 1}


def test_results_are_canonical() -> None:
    rng = np.random.default_rng(7)
    coeffs = field_array(rng, (5, 4000), "edges")
    xs = field_array(rng, (9,), "edges")
    assert int(_native.field_poly_eval(coeffs, xs).max()) < P
    assert int(_native.field_lincomb(coeffs, xs[:5]).max()) < P


BAD_ARRAYS = [
    ([[1, 2]], "numpy uint64 array"),
    (np.zeros((2, 2), np.int64), "numpy uint64 array"),
    (np.zeros((2, 2), np.uint32), "numpy uint64 array"),
    (np.zeros((2, 2), ">u8"), "numpy uint64 array"),
    (np.zeros(4, np.uint64), "numpy uint64 array"),
    (np.zeros((2, 4), np.uint64)[:, ::2], "C-contiguous"),
    (np.array([[P]], np.uint64), "field element"),
    (np.array([[0, 2**64 - 1]], np.uint64), "field element"),
]


@pytest.mark.parametrize(("bad", "match"), BAD_ARRAYS)
def test_wrappers_refuse_bad_matrices(bad: object, match: str) -> None:
    ok1 = np.zeros(1, np.uint64)
    with pytest.raises(ParameterError, match=match):
        _native.field_poly_eval(bad, ok1)  # type: ignore[arg-type]
    with pytest.raises(ParameterError, match=match):
        _native.field_matmul(np.zeros((1, 1), np.uint64), bad)  # type: ignore[arg-type]
    with pytest.raises(ParameterError, match=match):
        _native.field_lincomb(bad, ok1)  # type: ignore[arg-type]


def test_wrappers_refuse_bad_vectors_and_shapes() -> None:
    rows = np.zeros((2, 3), np.uint64)
    with pytest.raises(ParameterError, match="field element"):
        _native.field_poly_eval(rows, np.array([P], np.uint64))
    with pytest.raises(ParameterError, match="field element"):
        _native.field_lincomb(rows, np.array([0, P + 5], np.uint64))
    with pytest.raises(ParameterError, match="numpy uint64 array"):
        _native.field_poly_eval(rows, np.zeros((1, 1), np.uint64))
    with pytest.raises(ParameterError, match="one weight per row"):
        _native.field_lincomb(rows, np.zeros(3, np.uint64))
    with pytest.raises(ParameterError, match="must be equal"):
        _native.field_matmul(np.zeros((1, 3), np.uint64), rows)


def _ptr(arr: np.ndarray) -> object:  # type: ignore[type-arg]
    from privkit._native import _pk_native

    return _pk_native.ffi.from_buffer("uint64_t[]", arr, require_writable=arr.flags.writeable)


def test_c_rechecks_ranges_and_leaves_output_untouched() -> None:
    # Bypass the Python checks to prove C re-checks and the status is translated.
    from privkit._native import _pk_native

    lib = _pk_native.lib
    coeffs = np.array([[1, 2], [3, P]], np.uint64)
    xs = np.array([1, 2], np.uint64)
    out = np.full((2, 2), 99, np.uint64)
    rc = lib.pk_field_poly_eval(_ptr(coeffs), 2, 2, _ptr(xs), 2, _ptr(out))
    assert rc == lib.PK_ERR_RANGE
    assert out.tolist() == [[99, 99], [99, 99]]
    with pytest.raises(NativeError, match="out of range"):
        _native._check(rc, "field_poly_eval")
    xs_bad = np.array([1, 2**64 - 1], np.uint64)
    rc = lib.pk_field_poly_eval(_ptr(coeffs[:1].copy()), 1, 2, _ptr(xs_bad), 2, _ptr(out))
    assert rc == lib.PK_ERR_RANGE
    weights = np.array([P, 1], np.uint64)
    out1 = np.full(2, 99, np.uint64)
    rows = np.zeros((2, 2), np.uint64)
    assert lib.pk_field_lincomb(_ptr(rows), _ptr(weights), 2, 2, _ptr(out1)) == lib.PK_ERR_RANGE
    assert out1.tolist() == [99, 99]
    assert (
        lib.pk_field_matmul(_ptr(weights.reshape(1, 2)), 1, _ptr(coeffs), 2, 2, _ptr(out1))
        == lib.PK_ERR_RANGE
    )


def test_c_rechecks_pointers_sizes_and_overlap() -> None:
    from privkit._native import _pk_native

    ffi, lib = _pk_native.ffi, _pk_native.lib
    a = np.ones((2, 2), np.uint64)
    x = np.ones(2, np.uint64)
    out = np.zeros((2, 2), np.uint64)
    assert lib.pk_field_poly_eval(ffi.NULL, 2, 2, _ptr(x), 2, _ptr(out)) == lib.PK_ERR_ARG
    assert lib.pk_field_poly_eval(_ptr(a), 2, 2, ffi.NULL, 2, _ptr(out)) == lib.PK_ERR_ARG
    assert lib.pk_field_poly_eval(_ptr(a), 2, 2, _ptr(x), 2, ffi.NULL) == lib.PK_ERR_ARG
    assert lib.pk_field_poly_eval(ffi.NULL, 0, 0, ffi.NULL, 0, ffi.NULL) == lib.PK_OK
    assert lib.pk_field_lincomb(ffi.NULL, _ptr(x), 2, 2, _ptr(out)) == lib.PK_ERR_ARG
    assert lib.pk_field_lincomb(_ptr(a), ffi.NULL, 2, 2, _ptr(out)) == lib.PK_ERR_ARG
    assert lib.pk_field_matmul(_ptr(a), 2, _ptr(a), 2, 2, ffi.NULL) == lib.PK_ERR_ARG
    # Output overlapping an input.
    assert lib.pk_field_poly_eval(_ptr(a), 2, 2, _ptr(x), 2, _ptr(a)) == lib.PK_ERR_ARG
    assert lib.pk_field_matmul(_ptr(a), 1, _ptr(a), 2, 2, _ptr(a)) == lib.PK_ERR_ARG
    # Sizes whose products overflow size_t.
    huge = 2**63
    assert lib.pk_field_poly_eval(_ptr(a), huge, 4, _ptr(x), 2, _ptr(out)) == lib.PK_ERR_RANGE
    assert lib.pk_field_poly_eval(_ptr(a), 1, 2, _ptr(x), huge, _ptr(out)) == lib.PK_ERR_RANGE
    assert lib.pk_field_matmul(_ptr(a), huge, _ptr(a), 2, 2, _ptr(out)) == lib.PK_ERR_RANGE
    assert lib.pk_field_lincomb(_ptr(a), _ptr(x), 2, 2**62, _ptr(out)) == lib.PK_ERR_RANGE
