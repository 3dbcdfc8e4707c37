"""ChaCha20 keystream and keyed mask expansion: the PRG behind secure-aggregation masks.

A *seed* is a 32-byte ChaCha20 key.  The mask of a seed is the ChaCha20
keystream for (seed, nonce), block counter from 0, read as ring elements in
privkit's mask word order (docs/native.md): uint32 for Z_2^32, uint64 for
Z_2^64.  :func:`mask_add` adds or subtracts the masks of many seeds into one
accumulator in a single pass, in C, on every core.

Security assumption: seeds are uniformly random secrets (from :func:`random_seed`
or a KDF output) and a (seed, nonce) pair masks one vector only; reusing it
for two vectors reveals their difference.  The masks are then computationally
indistinguishable from uniform ring elements (ChaCha20 as a PRF).
"""

from __future__ import annotations

import os
import secrets
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Final

import numpy as np
import numpy.typing as npt

from privkit import _native
from privkit.errors import ParameterError

__all__ = [
    "NONCE_BYTES",
    "SEED_BYTES",
    "ZERO_NONCE",
    "expand",
    "keystream",
    "mask_add",
    "random_ring",
    "random_seed",
]

SEED_BYTES: Final = _native.SEED_BYTES
NONCE_BYTES: Final = _native.NONCE_BYTES
ZERO_NONCE: Final = bytes(NONCE_BYTES)

# Below this many (element x seed) units per thread, fanning out costs more than it saves.
_MIN_WORK_PER_THREAD: Final = 1 << 20

_pool_lock = threading.Lock()
_pool: ThreadPoolExecutor | None = None
_pool_size = 0


def _forget_pool_after_fork() -> None:
    # A forked child inherits the pool object but not its threads; submitting to
    # it would wait forever.  Start afresh in the child.
    global _pool, _pool_lock, _pool_size
    _pool, _pool_size = None, 0
    _pool_lock = threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_pool_after_fork)


def _cpu_count() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


def _executor(size: int) -> ThreadPoolExecutor:
    global _pool, _pool_size
    with _pool_lock:
        if _pool is None or _pool_size < size:
            if _pool is not None:
                _pool.shutdown(wait=False)
            _pool = ThreadPoolExecutor(max_workers=size, thread_name_prefix="privkit-prg")
            _pool_size = size
        return _pool


def random_seed() -> bytes:
    """Return a fresh 32-byte seed from the operating system's CSPRNG."""
    return secrets.token_bytes(SEED_BYTES)


def keystream(key: bytes, nonce: bytes, length: int, *, counter: int = 0) -> bytes:
    """ChaCha20 keystream (RFC 8439 byte order), as the ``cryptography`` package produces it.

    Args:
        key: 32-byte key.
        nonce: 12-byte nonce.
        length: number of bytes.
        counter: initial block counter; the stream may not pass block 2^32 - 1.

    Returns:
        ``length`` keystream bytes.

    Raises:
        ParameterError: wrong sizes or ranges, or a stream that would wrap the counter.
    """
    return _native.chacha20_keystream(key, nonce, counter, length)


def _as_seeds(seeds: object) -> npt.NDArray[np.uint8]:
    if isinstance(seeds, np.ndarray):
        arr = seeds
        if arr.dtype != np.uint8 or arr.ndim != 2 or arr.shape[1] != SEED_BYTES:
            raise ParameterError(
                f"seeds array must be uint8 of shape (k, {SEED_BYTES}), got {arr.dtype} {arr.shape}"
            )
        return np.ascontiguousarray(arr)
    if isinstance(seeds, bytes | bytearray | memoryview):
        raw = bytes(seeds)
        if len(raw) % SEED_BYTES:
            raise ParameterError(
                f"seeds as bytes must be a multiple of {SEED_BYTES} long, got {len(raw)} bytes"
            )
        return np.frombuffer(raw, dtype=np.uint8).reshape(-1, SEED_BYTES).copy()
    if isinstance(seeds, Sequence):
        rows = []
        for i, seed in enumerate(seeds):
            if not isinstance(seed, bytes | bytearray | memoryview) or len(seed) != SEED_BYTES:
                raise ParameterError(f"seeds[{i}] must be {SEED_BYTES} bytes")
            rows.append(bytes(seed))
        buf = b"".join(rows)
        return np.frombuffer(buf, dtype=np.uint8).reshape(len(rows), SEED_BYTES).copy()
    raise ParameterError(
        f"seeds must be bytes, a sequence of {SEED_BYTES}-byte seeds or a (k, {SEED_BYTES}) "
        f"uint8 array, got {type(seeds).__name__}"
    )


def _as_signs(signs: object, k: int) -> npt.NDArray[np.int8]:
    try:
        arr = np.asarray(signs)
    except (TypeError, ValueError) as exc:
        raise ParameterError("signs must be a sequence of +1/-1 values") from exc
    if arr.shape != (k,):
        raise ParameterError(f"signs must have one value per seed ({k}), got shape {arr.shape}")
    if k and (arr.dtype.kind not in "iu" or not np.all((arr == 1) | (arr == -1))):
        raise ParameterError("every sign must be the integer +1 or -1")
    return np.ascontiguousarray(arr, dtype=np.int8)


def mask_add(
    acc: npt.NDArray[Any],
    seeds: bytes | Sequence[bytes] | npt.NDArray[np.uint8],
    signs: Sequence[int] | npt.NDArray[Any],
    *,
    nonce: bytes = ZERO_NONCE,
    threads: int | None = None,
    isa: str | None = None,
) -> None:
    """Add (+1) or subtract (-1) the mask of every seed into ``acc``, in place, mod 2^bits.

    This is the hot path of SecAgg: a client adds its pairwise masks and self
    mask, the server subtracts the masks it reconstructs.  All seeds are
    applied tile by tile in one pass over ``acc``.

    Args:
        acc: 1-D, C-contiguous, writeable uint32 or uint64 array (the ring accumulator).
        seeds: k seeds: bytes of length k*32, a sequence of 32-byte values, or a
            (k, 32) uint8 array.
        signs: k values, each +1 (add the mask) or -1 (subtract it).
        nonce: 12-byte nonce shared by all seeds (default all zero; use distinct
            nonces to draw independent masks from one seed).
        threads: worker threads; None uses every available core for large jobs
            and one thread for small ones; 1 stays on the calling thread.
        isa: force a kernel variant ("portable", "avx2", "avx512"), for tests
            and benchmarks; None picks the fastest the CPU supports.

    Raises:
        ParameterError: wrong dtype, shape, layout, seed size, sign or thread count.
        NativeError: the C kernel reported a failure.
    """
    seed_arr = _as_seeds(seeds)
    sign_arr = _as_signs(signs, seed_arr.shape[0])
    if threads is not None and (
        isinstance(threads, bool) or not isinstance(threads, int) or threads < 1
    ):
        raise ParameterError(f"threads must be a positive int or None, got {threads!r}")
    if not isinstance(acc, np.ndarray) or acc.dtype not in _native.GROUP_ELEMENTS:
        raise ParameterError("acc must be a numpy array of dtype uint32 or uint64")
    n = acc.size if acc.ndim == 1 else 0
    group = _native.GROUP_ELEMENTS[acc.dtype]
    if threads is None:
        work = n * seed_arr.shape[0]
        threads = max(1, min(_cpu_count(), work // _MIN_WORK_PER_THREAD))
    threads = min(threads, max(1, -(-n // group)))
    if threads == 1:
        _native.mask_add(acc, seed_arr, sign_arr, nonce, isa=isa)
        return
    # Validate once on the whole array before splitting into views.
    _native.mask_add(acc[:0], seed_arr, sign_arr, nonce, isa=isa)
    per_thread = -(-n // threads)
    chunk = -(-per_thread // group) * group  # round up to whole groups
    starts = range(0, n, chunk)
    pool = _executor(threads)
    futures = [
        pool.submit(
            _native.mask_add, acc[s : s + chunk], seed_arr, sign_arr, nonce, offset=s, isa=isa
        )
        for s in starts
    ]
    for future in futures:
        future.result()


def expand(
    seed: bytes, length: int, *, dtype: npt.DTypeLike = np.uint32, nonce: bytes = ZERO_NONCE
) -> npt.NDArray[Any]:
    """Return the mask of one seed: ``length`` ring elements of ``dtype``.

    Args:
        seed: 32-byte seed.
        length: number of elements, >= 0.
        dtype: numpy.uint32 (Z_2^32) or numpy.uint64 (Z_2^64).
        nonce: 12-byte nonce.

    Raises:
        ParameterError: wrong seed size, dtype or length.
    """
    dt = np.dtype(dtype)
    if dt not in _native.GROUP_ELEMENTS:
        raise ParameterError(f"dtype must be uint32 or uint64, got {dt}")
    if isinstance(length, bool) or not isinstance(length, int) or length < 0:
        raise ParameterError(f"length must be a non-negative int, got {length!r}")
    if length > _native.MAX_ELEMENTS[dt]:
        raise ParameterError(f"length must be at most {_native.MAX_ELEMENTS[dt]} for {dt}")
    out = np.zeros(length, dtype=dt)
    mask_add(out, [seed], [1], nonce=nonce)
    return out


def random_ring(length: int, *, dtype: npt.DTypeLike = np.uint32) -> npt.NDArray[Any]:
    """Return ``length`` uniformly random ring elements from a fresh OS-random seed.

    Suitable for secret shares and one-time pads: the seed is drawn from
    :func:`secrets.token_bytes` and discarded.
    """
    return expand(random_seed(), length, dtype=dtype)
