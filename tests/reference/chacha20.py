"""Pure-Python ChaCha20 (RFC 8439 section 2) and privkit's mask word order.

Written for clarity, not speed: it is the specification the C kernels are
tested against (alongside the ``cryptography`` package as an oracle).
"""

from __future__ import annotations

import struct

import numpy as np
import numpy.typing as npt

MASK32 = 0xFFFFFFFF
CONSTANTS = (0x61707865, 0x3320646E, 0x79622D32, 0x6B206574)


def _rotl(x: int, n: int) -> int:
    return ((x << n) | (x >> (32 - n))) & MASK32


def _quarter_round(s: list[int], a: int, b: int, c: int, d: int) -> None:
    s[a] = (s[a] + s[b]) & MASK32
    s[d] = _rotl(s[d] ^ s[a], 16)
    s[c] = (s[c] + s[d]) & MASK32
    s[b] = _rotl(s[b] ^ s[c], 12)
    s[a] = (s[a] + s[b]) & MASK32
    s[d] = _rotl(s[d] ^ s[a], 8)
    s[c] = (s[c] + s[d]) & MASK32
    s[b] = _rotl(s[b] ^ s[c], 7)


def block(key: bytes, counter: int, nonce: bytes) -> bytes:
    """The ChaCha20 block function (RFC 8439 section 2.3): 64 bytes."""
    state = [*CONSTANTS, *struct.unpack("<8I", key), counter & MASK32, *struct.unpack("<3I", nonce)]
    work = list(state)
    for _ in range(10):
        _quarter_round(work, 0, 4, 8, 12)
        _quarter_round(work, 1, 5, 9, 13)
        _quarter_round(work, 2, 6, 10, 14)
        _quarter_round(work, 3, 7, 11, 15)
        _quarter_round(work, 0, 5, 10, 15)
        _quarter_round(work, 1, 6, 11, 12)
        _quarter_round(work, 2, 7, 8, 13)
        _quarter_round(work, 3, 4, 9, 14)
    return struct.pack("<16I", *((w + s) & MASK32 for w, s in zip(work, state, strict=True)))


def keystream(key: bytes, nonce: bytes, counter: int, length: int) -> bytes:
    """``length`` bytes of keystream; refuses to run past block 2^32 - 1 (RFC 8439)."""
    if counter + -(-length // 64) > 1 << 32:
        raise ValueError("the 32-bit block counter would wrap")
    out = bytearray()
    for ctr in range(counter, counter + -(-length // 64)):
        out += block(key, ctr, nonce)
    return bytes(out[:length])


def mask_order(words: npt.NDArray[np.uint32], dtype: type) -> npt.NDArray[np.generic]:
    """Reorder an RFC-order keystream (whole groups of 256 words) into the mask word order.

    u32: element 256g + 16i + j = word i of block 16g + j.
    u64: element 128g + 16i + j = word i | word (i + 8) << 32 of block 16g + j.
    """
    groups = words.reshape(-1, 16, 16)  # (group, block j, word i)
    if dtype is np.uint32:
        return groups.transpose(0, 2, 1).reshape(-1)
    lo = groups[:, :, :8].transpose(0, 2, 1).reshape(-1).astype(np.uint64)
    hi = groups[:, :, 8:].transpose(0, 2, 1).reshape(-1).astype(np.uint64)
    return lo | (hi << np.uint64(32))


def mask(
    seed: bytes, nonce: bytes, n: int, dtype: type, *, offset: int = 0, stream: bytes | None = None
) -> npt.NDArray[np.generic]:
    """Elements ``offset .. offset+n-1`` of the mask of ``seed`` (from ``stream`` if given)."""
    per_group = 256 if dtype is np.uint32 else 128
    first = offset // per_group
    groups = -(-(offset + n) // per_group) - first
    if stream is None:
        stream = keystream(seed, nonce, 16 * first, 1024 * groups)
    words = np.frombuffer(stream, dtype="<u4").astype(np.uint32)
    start = offset - first * per_group
    return mask_order(words, dtype)[start : start + n]
