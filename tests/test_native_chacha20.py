"""ChaCha20 keystream: RFC 8439 known answers, the pure-Python reference, and `cryptography`."""

from __future__ import annotations

import json
import pathlib
import struct

import pytest
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms
from hypothesis import given
from hypothesis import strategies as st
from reference import chacha20 as ref

from privkit import prg
from privkit.errors import ParameterError

VECTORS = json.loads((pathlib.Path(__file__).parent / "vectors" / "rfc8439.json").read_text())


def oracle(key: bytes, nonce: bytes, counter: int, length: int) -> bytes:
    """`cryptography` (OpenSSL) ChaCha20: 16-byte nonce = LE counter + RFC nonce."""
    cipher = Cipher(algorithms.ChaCha20(key, struct.pack("<I", counter) + nonce), mode=None)
    return cipher.encryptor().update(bytes(length))


@pytest.mark.parametrize("vec", VECTORS["block"], ids=lambda v: v["name"])
def test_rfc8439_block_vectors(vec: dict[str, object]) -> None:
    key, nonce = bytes.fromhex(str(vec["key"])), bytes.fromhex(str(vec["nonce"]))
    expected = bytes.fromhex(str(vec["keystream"]))
    counter = int(str(vec["counter"]))
    assert prg.keystream(key, nonce, len(expected), counter=counter) == expected
    assert ref.block(key, counter, nonce)[: len(expected)] == expected


@pytest.mark.parametrize("vec", VECTORS["encrypt"], ids=lambda v: v["name"])
def test_rfc8439_encryption_vectors(vec: dict[str, object]) -> None:
    key, nonce = bytes.fromhex(str(vec["key"])), bytes.fromhex(str(vec["nonce"]))
    plaintext = bytes.fromhex(str(vec["plaintext"]))
    stream = prg.keystream(key, nonce, len(plaintext), counter=int(str(vec["counter"])))
    ciphertext = bytes(p ^ s for p, s in zip(plaintext, stream, strict=True))
    assert ciphertext.hex() == vec["ciphertext"]


def test_vector_file_covers_the_rfc() -> None:
    sections = {v["section"] for v in VECTORS["block"] + VECTORS["encrypt"]}
    assert {"2.3.2", "2.4.2"} <= sections
    assert len(VECTORS["block"]) >= 6
    assert len(VECTORS["encrypt"]) >= 4


keys = st.binary(min_size=32, max_size=32)
nonces = st.binary(min_size=12, max_size=12)
lengths = st.one_of(st.integers(0, 300), st.integers(0, 5000), st.sampled_from([63, 64, 65, 1023]))


def _fits(counter: int, length: int) -> bool:
    return counter + -(-length // 64) <= 2**32


@given(key=keys, nonce=nonces, counter=st.integers(0, 2**32 - 1), length=lengths)
def test_keystream_equals_cryptography(key: bytes, nonce: bytes, counter: int, length: int) -> None:
    if _fits(counter, length):
        assert prg.keystream(key, nonce, length, counter=counter) == oracle(
            key, nonce, counter, length
        )
    else:
        with pytest.raises(ParameterError):
            prg.keystream(key, nonce, length, counter=counter)
        with pytest.raises(ValueError, match="overflow"):
            oracle(key, nonce, counter, length)


@given(key=keys, nonce=nonces, blocks_left=st.integers(1, 5), extra=st.integers(-100, 100))
def test_counter_wrap_boundary_matches_cryptography(
    key: bytes, nonce: bytes, blocks_left: int, extra: int
) -> None:
    # Near the end of the 32-bit counter space: up to the last block both agree
    # byte for byte; one byte more and both refuse (no silent carry into the nonce).
    counter = 2**32 - blocks_left
    length = max(0, 64 * blocks_left + extra)
    if length <= 64 * blocks_left:
        got = prg.keystream(key, nonce, length, counter=counter)
        assert got == oracle(key, nonce, counter, length)
        assert got == ref.keystream(key, nonce, counter, length)
    else:
        with pytest.raises(ParameterError, match="2\\*\\*32 - 1"):
            prg.keystream(key, nonce, length, counter=counter)
        with pytest.raises(ValueError, match="overflow"):
            oracle(key, nonce, counter, length)
        with pytest.raises(ValueError, match="wrap"):
            ref.keystream(key, nonce, counter, length)


@given(key=keys, nonce=nonces, counter=st.integers(0, 2**32 - 4), length=st.integers(0, 200))
def test_keystream_equals_python_reference(
    key: bytes, nonce: bytes, counter: int, length: int
) -> None:
    assert prg.keystream(key, nonce, length, counter=counter) == ref.keystream(
        key, nonce, counter, length
    )


@pytest.mark.parametrize(
    ("key", "nonce", "counter", "length"),
    [
        (bytes(31), bytes(12), 0, 1),
        (bytes(32), bytes(11), 0, 1),
        (bytes(32), bytes(12), -1, 1),
        (bytes(32), bytes(12), 2**32, 1),
        (bytes(32), bytes(12), 0, -1),
        ("k" * 32, bytes(12), 0, 1),
    ],
)
def test_keystream_rejects_bad_arguments(
    key: object, nonce: bytes, counter: int, length: int
) -> None:
    with pytest.raises(ParameterError):
        prg.keystream(key, nonce, length, counter=counter)  # type: ignore[arg-type]
