"""Additive secret sharing over the ring Z_2^bits (bits = 32 or 64).

A secret vector ``x`` is split into ``n`` shares ``s_1, ..., s_n`` with
``s_1 + ... + s_n = x (mod 2^bits)``: the first ``n - 1`` shares are uniformly
random ring elements and the last one is ``x`` minus their sum.  Any ``n - 1``
shares are jointly uniform and independent of ``x`` (information-theoretic
hiding); all ``n`` together give ``x`` back.  Sums are homomorphic: adding
the i-th shares of many secrets gives an i-th share of their sum.

Security assumption: the random shares come from :func:`privkit.prg.random_ring`
(a ChaCha20 stream under a fresh 32-byte key from the operating system CSPRNG),
so they are computationally indistinguishable from uniform.  Nothing here
authenticates shares: a party that alters its share shifts the result by the
same amount, undetected.
"""

from __future__ import annotations

import operator
from collections.abc import Sequence
from typing import Any, Final

import numpy as np
import numpy.typing as npt

from privkit import prg
from privkit.errors import ParameterError

__all__ = ["RING_BITS", "combine", "split"]

RING_BITS: Final = (32, 64)
"""The supported ring sizes: Z_2^32 (uint32 shares) and Z_2^64 (uint64 shares)."""

_DTYPES: Final[dict[int, np.dtype[Any]]] = {32: np.dtype(np.uint32), 64: np.dtype(np.uint64)}


def _ring_dtype(ring_bits: object) -> np.dtype[Any]:
    if isinstance(ring_bits, bool | np.bool_) or not isinstance(ring_bits, int | np.integer):
        raise ParameterError(f"ring_bits must be 32 or 64, got {ring_bits!r}")
    bits = int(ring_bits)
    if bits not in _DTYPES:
        raise ParameterError(
            f"ring_bits must be 32 or 64 (the rings Z_2^32 and Z_2^64), got {bits}"
        )
    return _DTYPES[bits]


def _as_ring(x: object, dtype: np.dtype[Any], bits: int) -> npt.NDArray[Any]:
    """Return ``x`` as a fresh array of ``dtype`` after checking every element is in range."""
    if isinstance(x, np.ndarray):
        arr = x
    else:
        if isinstance(x, bool | np.bool_):
            raise ParameterError("x must hold integers, got a bool")
        try:
            arr = np.asarray(x)
        except (TypeError, ValueError, OverflowError) as exc:
            raise ParameterError(f"x must be an array-like of integers: {exc}") from None
        if arr.size == 0 and arr.dtype.kind in "fO":  # [] or () has no integer dtype
            arr = arr.astype(dtype)
    if arr.dtype == object:  # Python ints too large for int64/uint64, or mixed types
        flat = arr.reshape(-1).tolist()
        if not all(isinstance(v, int) and not isinstance(v, bool) for v in flat):
            raise ParameterError("x must hold integers only")
        if not all(0 <= v < 1 << bits for v in flat):
            raise ParameterError(
                f"every element of x must be a ring element in [0, 2**{bits}); found one outside"
            )
        return np.array(flat, dtype=dtype).reshape(arr.shape)
    if arr.dtype.kind not in "iu":
        raise ParameterError(
            f"x must hold integers (a uint{bits} array for ring_bits={bits}), got dtype {arr.dtype}"
        )
    if arr.size and ((arr.dtype.kind == "i" and int(arr.min()) < 0) or int(arr.max()) >= 1 << bits):
        raise ParameterError(
            f"every element of x must be a ring element in [0, 2**{bits}); found one outside"
        )
    return np.array(arr, dtype=dtype, order="C", copy=True)


def split(x: npt.ArrayLike, n: int, *, ring_bits: int = 32) -> list[npt.NDArray[Any]]:
    """Split ``x`` into ``n`` additive shares modulo ``2**ring_bits``.

    Security assumption: the first ``n - 1`` shares are uniform ring elements
    from a ChaCha20 stream keyed by a fresh OS-random seed; any ``n - 1`` shares
    then reveal nothing about ``x``.  Shares are not authenticated.

    Args:
        x: the secret: an integer array (any shape) or nested sequence of Python
            ints, every element in ``[0, 2**ring_bits)``.  uint32 (ring_bits=32) or
            uint64 (ring_bits=64) is the natural dtype; other integer dtypes are
            converted after the range check.
        n: the number of shares, at least 2.
        ring_bits: 32 (shares are uint32, ring Z_2^32) or 64 (uint64, Z_2^64).

    Returns:
        ``n`` new arrays of the ring dtype with the shape of ``x``, whose sum modulo
        ``2**ring_bits`` is ``x``.

    Raises:
        ParameterError: ``ring_bits`` not 32 or 64, ``n`` not an int >= 2, or ``x`` not
            integers in ``[0, 2**ring_bits)``.
    """
    dtype = _ring_dtype(ring_bits)
    bits = int(ring_bits)
    if isinstance(n, bool | np.bool_):
        raise ParameterError(f"n must be an int >= 2, got {n!r}")
    try:
        count = operator.index(n)
    except TypeError:
        raise ParameterError(f"n must be an int >= 2, got {type(n).__name__}") from None
    if count < 2:
        raise ParameterError(f"n must be at least 2 shares, got {count}")
    secret = _as_ring(x, dtype, bits)
    shape, size = secret.shape, secret.size
    out = np.empty((count, size), dtype=dtype)
    # One fresh seed for all random shares: n - 1 disjoint slices of one ChaCha20 stream.
    out[:-1] = prg.random_ring((count - 1) * size, dtype=dtype).reshape(count - 1, size)
    # Unsigned array arithmetic wraps modulo 2**bits (array ops never warn on overflow).
    np.subtract(secret.reshape(size), out[:-1].sum(axis=0, dtype=dtype), out=out[-1])
    return [out[i].reshape(shape) for i in range(count)]


def combine(shares: Sequence[npt.NDArray[Any]]) -> npt.NDArray[Any]:
    """Add additive shares back together: the secret, modulo ``2**bits``.

    Args:
        shares: at least one numpy array; all of the same dtype, uint32 (ring
            Z_2^32) or uint64 (Z_2^64), and of the same shape.

    Returns:
        A new array of that dtype and shape: the sum of the shares modulo ``2**bits``.

    Raises:
        ParameterError: no shares, a share that is not a uint32/uint64 array, or shares
            whose dtypes or shapes differ.
    """
    if not isinstance(shares, Sequence):
        raise ParameterError("shares must be a sequence (list or tuple) of numpy arrays")
    if not shares:
        raise ParameterError("combine needs at least 1 share, got 0")
    first = shares[0]
    if not isinstance(first, np.ndarray) or first.dtype not in _DTYPES.values():
        raise ParameterError(
            "every share must be a numpy array of dtype uint32 or uint64, got "
            f"{type(first).__name__ if not isinstance(first, np.ndarray) else first.dtype}"
        )
    for i, share in enumerate(shares):
        if not isinstance(share, np.ndarray):
            raise ParameterError(f"shares[{i}] must be a numpy array, got {type(share).__name__}")
        if share.dtype != first.dtype or share.shape != first.shape:
            raise ParameterError(
                f"all shares must have the same dtype and shape: shares[0] is {first.dtype} "
                f"{first.shape}, shares[{i}] is {share.dtype} {share.shape}"
            )
    acc = np.array(first, order="C", copy=True).reshape(first.size)
    for share in shares[1:]:
        np.add(acc, share.reshape(share.size), out=acc)
    return acc.reshape(first.shape)
