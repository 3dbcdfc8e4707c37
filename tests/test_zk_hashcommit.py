"""privkit.zk.hashcommit: salted, domain-separated SHA-256 commitments."""

from __future__ import annotations

import hashlib
import struct

import pytest
from hypothesis import given
from hypothesis import strategies as st

from privkit.errors import DecodeError, ParameterError
from privkit.wire.values import encode_value
from privkit.zk import hashcommit
from privkit.zk.hashcommit import (
    COMMITMENT_BYTES,
    DEFAULT_DOMAIN,
    SALT_BYTES,
    Opening,
    commit,
    commitment_for,
    verify,
)

domains = st.text(
    alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7E), min_size=1, max_size=20
)


def reference(domain: str, salt: bytes, data: bytes) -> bytes:
    """The documented hash input, written out field by field."""

    def field(x: bytes) -> bytes:
        return struct.pack("<Q", len(x)) + x

    return hashlib.sha256(
        field(b"privkit/zk/hashcommit/v1") + field(domain.encode()) + field(salt) + field(data)
    ).digest()


def test_round_trip() -> None:
    c, opening = commit(b"model update digest")
    assert len(c) == COMMITMENT_BYTES
    assert len(opening.salt) == SALT_BYTES
    assert verify(c, b"model update digest", opening)
    assert verify(bytearray(c), memoryview(b"model update digest"), opening)


def test_known_answer() -> None:
    """privkit's own vector (generated once from the documented formula and frozen)."""
    opening = Opening(bytes(range(32)))
    c = commitment_for(b"hello", opening, domain="privkit.test")
    assert c == reference("privkit.test", bytes(range(32)), b"hello")
    assert c.hex() == "c6e0a427ec26e50934a1724df8827fa59e569aa703837f9fa643ed77ec1fb821"
    assert commitment_for(b"", Opening(b"\x00" * 32)).hex() == (
        "af6c580565394e64d6fb02b0ef2b0196b52246f6ddd8b448de08323159bc4383"
    )


@given(data=st.binary(max_size=300), domain=domains)
def test_commit_matches_the_documented_formula(data: bytes, domain: str) -> None:
    c, opening = commit(data, domain=domain)
    assert c == reference(domain, opening.salt, data)
    assert verify(c, data, opening, domain=domain)


@given(data=st.binary(max_size=100), other=st.binary(max_size=100))
def test_wrong_data_rejected(data: bytes, other: bytes) -> None:
    c, opening = commit(data)
    assert verify(c, other, opening) == (other == data)


@given(data=st.binary(max_size=100), salt=st.binary(min_size=32, max_size=32))
def test_wrong_salt_rejected(data: bytes, salt: bytes) -> None:
    c, opening = commit(data)
    assert verify(c, data, Opening(salt)) == (salt == opening.salt)


@given(data=st.binary(max_size=100), a=domains, b=domains)
def test_wrong_domain_rejected(data: bytes, a: str, b: str) -> None:
    c, opening = commit(data, domain=a)
    assert verify(c, data, opening, domain=b) == (a == b)


@given(data=st.binary(max_size=64))
def test_fields_cannot_slide(data: bytes) -> None:
    """Moving bytes between the domain and the data changes the commitment."""
    opening = Opening(b"\x07" * 32)
    c1 = commitment_for(b"x" + data, opening, domain="ab")
    c2 = commitment_for(data, opening, domain="abx")
    assert c1 != c2


def test_salts_are_fresh() -> None:
    commitments = {commit(b"same")[0] for _ in range(50)}
    assert len(commitments) == 50


@given(data=st.binary(max_size=40), bit=st.integers(0, 8 * COMMITMENT_BYTES - 1))
def test_altered_or_truncated_commitment_rejected(data: bytes, bit: int) -> None:
    c, opening = commit(data)
    altered = bytearray(c)
    altered[bit // 8] ^= 1 << (bit % 8)
    assert not verify(bytes(altered), data, opening)
    assert not verify(c[:-1], data, opening)
    assert not verify(c + b"\x00", data, opening)
    assert not verify(b"", data, opening)


def test_opening_serialization() -> None:
    _, opening = commit(b"x")
    raw = opening.to_bytes()
    assert raw == encode_value({"salt": opening.salt})
    assert len(raw) == 62
    assert Opening.from_bytes(raw) == opening
    assert Opening.from_bytes(bytearray(raw)) == opening


def test_repr_hides_the_salt() -> None:
    opening = Opening(b"\xab" * 32)
    text = repr(opening) + str(opening)
    assert "abab" not in text.lower()
    assert "\\xab" not in text
    assert text == "Opening(salt=<hidden>)" * 2


MALFORMED = [
    b"",
    b"\x00",
    encode_value(None),
    encode_value(b"\x00" * 32),
    encode_value({}),
    encode_value({"salt": b"\x00" * 31}),
    encode_value({"salt": b"\x00" * 33}),
    encode_value({"salt": "0" * 32}),
    encode_value({"salt": [0] * 32}),
    encode_value({"salt": b"\x00" * 32, "domain": "x"}),
    encode_value({"salt": b"\x00" * 32}) + b"\x00",
    encode_value({"salt": b"\x00" * 32})[:-1],
    b"\x00" * 10_000,
]


@pytest.mark.parametrize("raw", MALFORMED)
def test_malformed_openings_raise_decode_error(raw: bytes) -> None:
    with pytest.raises(DecodeError):
        Opening.from_bytes(raw)


@given(raw=st.binary(max_size=100))
def test_random_bytes_never_crash_the_decoder(raw: bytes) -> None:
    try:
        opening = Opening.from_bytes(raw)
    except DecodeError as exc:
        message = str(exc)
    else:
        assert opening.to_bytes() == raw
        return
    assert "internal decoder error" not in message


@given(bit=st.integers(0, 8 * 62 - 1))
def test_bit_flips_in_an_encoded_opening(bit: int) -> None:
    raw = bytearray(Opening(b"\x11" * 32).to_bytes())
    raw[bit // 8] ^= 1 << (bit % 8)
    try:
        other = Opening.from_bytes(bytes(raw))
    except DecodeError:
        return
    assert other.salt != b"\x11" * 32


def test_bad_arguments_raise_parameter_error() -> None:
    c, opening = commit(b"x")
    for domain in ("", "caf\u00e9", "tab\there", 3, b"bytes"):
        with pytest.raises(ParameterError):
            commit(b"x", domain=domain)  # type: ignore[arg-type]
        with pytest.raises(ParameterError):
            verify(c, b"x", opening, domain=domain)  # type: ignore[arg-type]
    with pytest.raises(ParameterError):
        commit("text")  # type: ignore[arg-type]
    with pytest.raises(ParameterError):
        verify(c, b"x", opening.salt)  # type: ignore[arg-type]
    with pytest.raises(ParameterError):
        verify("00" * 32, b"x", opening)  # type: ignore[arg-type]
    with pytest.raises(ParameterError):
        Opening(b"\x00" * 16)
    with pytest.raises(ParameterError):
        Opening("0" * 32)  # type: ignore[arg-type]
    with pytest.raises(ParameterError):
        Opening.from_bytes("text")  # type: ignore[arg-type]


def test_default_domain_is_documented() -> None:
    assert DEFAULT_DOMAIN == "privkit.zk.hashcommit"
    assert hashcommit.PREFIX == b"privkit/zk/hashcommit/v1"


def test_opening_equality() -> None:
    a = Opening(b"\x01" * 32)
    assert a == Opening(bytearray(b"\x01" * 32))  # type: ignore[arg-type]
    assert a != Opening(b"\x02" * 32)
    assert a != b"\x01" * 32
    assert len({a, Opening(b"\x01" * 32)}) == 1
