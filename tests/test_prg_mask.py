"""Keyed mask expansion: every ISA variant against the reference word order and the oracle."""

from __future__ import annotations

import os
import struct

import numpy as np
import pytest
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms
from hypothesis import given
from hypothesis import strategies as st
from reference import chacha20 as ref

from privkit import _native, prg
from privkit.errors import NativeError, ParameterError

ISAS = _native.available_isas()
DTYPES = [np.uint32, np.uint64]


def oracle_stream(seed: bytes, nonce: bytes, first_block: int, n_bytes: int) -> bytes:
    cipher = Cipher(algorithms.ChaCha20(seed, struct.pack("<I", first_block) + nonce), mode=None)
    return cipher.encryptor().update(bytes(n_bytes))


def expected_mask(seed: bytes, nonce: bytes, n: int, dtype: type, offset: int = 0) -> np.ndarray:
    per_group = 256 if dtype is np.uint32 else 128
    first = offset // per_group
    groups = -(-(offset + n) // per_group) - first
    stream = oracle_stream(seed, nonce, 16 * first, 1024 * groups)
    return ref.mask(seed, nonce, n, dtype, offset=offset, stream=stream)


def test_portable_variant_always_available() -> None:
    assert "portable" in ISAS
    assert _native.active_isa() in ISAS


@pytest.mark.parametrize("isa", ISAS)
@pytest.mark.parametrize("dtype", DTYPES)
@given(
    n=st.one_of(st.integers(0, 600), st.integers(600, 20_000)),
    k=st.integers(0, 5),
    data=st.data(),
)
def test_mask_add_matches_reference(
    isa: str, dtype: type, n: int, k: int, data: st.DataObject
) -> None:
    seeds = [data.draw(st.binary(min_size=32, max_size=32)) for _ in range(k)]
    signs = [data.draw(st.sampled_from([1, -1])) for _ in range(k)]
    nonce = data.draw(st.binary(min_size=12, max_size=12))
    start = np.frombuffer(os.urandom(n * np.dtype(dtype).itemsize), dtype=dtype).copy()
    want = start.copy()
    for seed, sign in zip(seeds, signs, strict=True):
        m = expected_mask(seed, nonce, n, dtype)
        want = want + m if sign > 0 else want - m
    got = start.copy()
    prg.mask_add(got, seeds, signs, nonce=nonce, isa=isa, threads=1)
    np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("dtype", DTYPES)
@given(groups=st.integers(0, 5000), n=st.integers(0, 3000), data=st.data())
def test_mask_offsets_select_the_right_slice(
    dtype: type, groups: int, n: int, data: st.DataObject
) -> None:
    per_group = int(_native.GROUP_ELEMENTS[np.dtype(dtype)])
    offset = groups * per_group
    seed = data.draw(st.binary(min_size=32, max_size=32))
    nonce = data.draw(st.binary(min_size=12, max_size=12))
    isa = data.draw(st.sampled_from(ISAS))
    acc = np.zeros(n, dtype=dtype)
    _native.mask_add(
        acc,
        np.frombuffer(seed, np.uint8).reshape(1, 32).copy(),
        np.ones(1, np.int8),
        nonce,
        offset=offset,
        isa=isa,
    )
    np.testing.assert_array_equal(acc, expected_mask(seed, nonce, n, dtype, offset))


@pytest.mark.parametrize("dtype", DTYPES)
@given(n=st.integers(0, 400_000), k=st.integers(1, 4), threads=st.integers(2, 5))
def test_threaded_equals_single_thread(dtype: type, n: int, k: int, threads: int) -> None:
    seeds = os.urandom(32 * k)
    signs = [1 if i % 2 else -1 for i in range(k)]
    a = np.arange(n, dtype=dtype)
    b = a.copy()
    prg.mask_add(a, seeds, signs, threads=1)
    prg.mask_add(b, seeds, signs, threads=threads)
    np.testing.assert_array_equal(a, b)


def test_masks_cancel_and_subtract_is_inverse() -> None:
    seeds = [prg.random_seed() for _ in range(3)]
    acc = np.arange(10_001, dtype=np.uint32)
    prg.mask_add(acc, seeds, [1, 1, -1])
    assert not np.array_equal(acc, np.arange(10_001, dtype=np.uint32))
    prg.mask_add(acc, seeds, [-1, -1, 1])
    np.testing.assert_array_equal(acc, np.arange(10_001, dtype=np.uint32))


def test_expand_is_the_mask_of_one_seed() -> None:
    seed, nonce = os.urandom(32), os.urandom(12)
    for dtype in DTYPES:
        np.testing.assert_array_equal(
            prg.expand(seed, 777, dtype=dtype, nonce=nonce), expected_mask(seed, nonce, 777, dtype)
        )


def test_mask_is_a_permutation_of_the_keystream_words() -> None:
    # Independent of the word order: the multiset of words equals the oracle's.
    seed = os.urandom(32)
    got = prg.expand(seed, 4096)
    words = np.frombuffer(oracle_stream(seed, bytes(12), 0, 4 * 4096), dtype="<u4")
    np.testing.assert_array_equal(np.sort(got), np.sort(words))


def test_random_ring_draws_fresh_values() -> None:
    a, b = prg.random_ring(64), prg.random_ring(64)
    assert a.dtype == np.uint32
    assert a.shape == (64,)
    assert not np.array_equal(a, b)
    assert prg.random_ring(8, dtype=np.uint64).dtype == np.uint64


@pytest.mark.parametrize(
    ("acc", "seeds", "signs", "kwargs"),
    [
        (np.zeros(4, np.int32), os.urandom(32), [1], {}),
        (np.zeros(4, np.float64), os.urandom(32), [1], {}),
        (np.zeros((2, 2), np.uint32), os.urandom(32), [1], {}),
        (np.zeros(8, np.uint32)[::2], os.urandom(32), [1], {}),
        (np.zeros(4, np.uint32), os.urandom(31), [1], {}),
        (np.zeros(4, np.uint32), [os.urandom(32), b"short"], [1, 1], {}),
        (np.zeros(4, np.uint32), os.urandom(64), [1], {}),
        (np.zeros(4, np.uint32), os.urandom(32), [0], {}),
        (np.zeros(4, np.uint32), os.urandom(32), [2], {}),
        (np.zeros(4, np.uint32), os.urandom(32), [1.0], {}),
        (np.zeros(4, np.uint32), os.urandom(32), [1], {"nonce": bytes(8)}),
        (np.zeros(4, np.uint32), os.urandom(32), [1], {"threads": 0}),
        (np.zeros(4, np.uint32), os.urandom(32), [1], {"isa": "sse9"}),
        (np.zeros(4, np.uint32), "not seeds", [1], {}),
        ([0, 0, 0], os.urandom(32), [1], {}),
    ],
)
def test_mask_add_rejects_bad_arguments(
    acc: object, seeds: object, signs: object, kwargs: dict[str, object]
) -> None:
    with pytest.raises(ParameterError):
        prg.mask_add(acc, seeds, signs, **kwargs)  # type: ignore[arg-type]


def test_read_only_accumulator_rejected() -> None:
    acc = np.zeros(4, np.uint32)
    acc.setflags(write=False)
    with pytest.raises(ParameterError):
        prg.mask_add(acc, os.urandom(32), [1])


def test_low_level_offset_checks() -> None:
    acc = np.zeros(4, np.uint32)
    seeds = np.zeros((1, 32), np.uint8)
    signs = np.ones(1, np.int8)
    with pytest.raises(ParameterError):
        _native.mask_add(acc, seeds, signs, bytes(12), offset=3)
    with pytest.raises(ParameterError):
        _native.mask_add(acc, seeds, signs, bytes(12), offset=_native.MAX_ELEMENTS[acc.dtype])


def test_c_status_becomes_native_error() -> None:
    # Bypass the Python checks to prove C re-checks and the status is translated.
    from privkit._native import _pk_native

    acc = np.zeros(4, np.uint32)
    rc = _pk_native.lib.pk_mask_add_u32(
        _pk_native.ffi.from_buffer("uint32_t[]", acc), 4, 0, bytes(32), b"\x00", 1, bytes(12), 0
    )
    assert rc == _pk_native.lib.PK_ERR_ARG
    with pytest.raises(NativeError, match="invalid argument"):
        _native._check(rc, "mask_add")


def test_abi_number_matches() -> None:
    from privkit._native import _pk_native

    assert _pk_native.lib.pk_abi_version() == _native.EXPECTED_ABI


def test_mask_add_works_in_a_forked_child_after_the_pool_started() -> None:
    # The parent's thread pool is running; a forked child must not wait on it forever.
    import multiprocessing

    prg.mask_add(np.zeros(1 << 20, np.uint32), os.urandom(64), [1, -1], threads=2)
    ctx = multiprocessing.get_context("fork")
    with ctx.Pool(1) as pool:
        result = pool.apply_async(_child_mask_sum)
        assert result.get(timeout=60) == _child_mask_sum()


def _child_mask_sum() -> int:
    acc = np.zeros(1 << 20, np.uint32)
    prg.mask_add(acc, bytes(range(32)), [1], threads=2)
    return int(acc.sum(dtype=np.uint64))
