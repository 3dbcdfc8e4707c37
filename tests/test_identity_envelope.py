"""Tests of privkit.identity.envelope: sealed (signed) envelopes and the replay cache."""

from __future__ import annotations

import threading
from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from privkit import wire
from privkit.errors import DecodeError, ParameterError, ProtocolError, VerificationError
from privkit.identity import (
    NONCE_BYTES,
    NodeIdentity,
    ReplayCache,
    Roster,
    open_sealed,
    seal,
)

CTX = "privkit.test.v1/sealed"
T = 0x7F10
ALICE = NodeIdentity.generate()
BOB = NodeIdentity.generate()
MALLORY = NodeIdentity.generate()
ROSTER = Roster({"alice": ALICE.public_key, 2: BOB.public_key})


def _open(data: bytes, cache: ReplayCache | None = None, **kw: Any) -> tuple[Any, Any]:
    args: dict[str, Any] = {
        "roster": ROSTER,
        "round_id": 7,
        "replay_cache": cache if cache is not None else ReplayCache(),
        "context": CTX,
    }
    args.update(kw)
    return open_sealed(data, **args)


def _fields(data: bytes) -> dict[str, Any]:
    body = wire.decode(data, expect_type=wire.MessageType.IDENTITY_SEALED).body
    assert isinstance(body, dict)
    return dict(body)


def _rebuild(fields: dict[str, Any]) -> bytes:
    return wire.encode(wire.MessageType.IDENTITY_SEALED, fields)


def test_round_trip() -> None:
    data = seal(ALICE, T, {"update": [1, 2, 3]}, round_id=7, context=CTX)
    assert _open(data) == ("alice", {"update": [1, 2, 3]})
    data = seal(BOB, T, b"raw", round_id=7, context=CTX)
    assert _open(data, expect_type=T) == (2, b"raw")


def test_envelope_layout() -> None:
    nonce = bytes(range(16))
    data = seal(ALICE, T, None, round_id=7, nonce=nonce, context=CTX)
    fields = _fields(data)
    assert set(fields) == {"type", "signer", "round", "nonce", "body", "signature"}
    assert fields["signer"] == ALICE.public_key
    assert fields["nonce"] == nonce
    assert fields["round"] == 7
    assert fields["type"] == T
    assert len(fields["signature"]) == 64


def test_fresh_nonce_each_time() -> None:
    a = _fields(seal(ALICE, T, 1, round_id=7, context=CTX))["nonce"]
    b = _fields(seal(ALICE, T, 1, round_id=7, context=CTX))["nonce"]
    assert len(a) == NONCE_BYTES
    assert a != b


def test_arrays_survive() -> None:
    arr = np.arange(5, dtype=np.int32)
    _, body = _open(seal(ALICE, T, {"a": arr}, round_id=7, context=CTX))
    assert isinstance(body, dict)
    np.testing.assert_array_equal(body["a"], arr)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("body", {"update": [1, 2, 4]}),
        ("round", 8),
        ("nonce", b"\x01" * 16),
        ("type", T + 1),
        ("signer", BOB.public_key),
    ],
)
def test_tampered_fields_fail_verification(field: str, value: Any) -> None:
    data = seal(ALICE, T, {"update": [1, 2, 3]}, round_id=7, context=CTX)
    fields = _fields(data)
    fields[field] = value
    with pytest.raises(VerificationError):
        _open(_rebuild(fields), round_id=fields["round"])


def test_tampered_signature_fails_and_is_not_recorded() -> None:
    data = seal(ALICE, T, 5, round_id=7, context=CTX)
    fields = _fields(data)
    sig = bytearray(fields["signature"])
    sig[0] ^= 1
    fields["signature"] = bytes(sig)
    cache = ReplayCache()
    with pytest.raises(VerificationError):
        _open(_rebuild(fields), cache)
    assert len(cache) == 0
    assert _open(data, cache) == ("alice", 5)


def test_wrong_context_fails() -> None:
    data = seal(ALICE, T, 5, round_id=7, context=CTX)
    with pytest.raises(VerificationError):
        _open(data, context="privkit.test.v1/other")


def test_unknown_signer() -> None:
    data = seal(MALLORY, T, 5, round_id=7, context=CTX)
    with pytest.raises(VerificationError, match="unknown signer"):
        _open(data)


def test_unknown_signer_claiming_a_roster_key() -> None:
    # Mallory puts Alice's key in the envelope but can only sign with her own
    fields = _fields(seal(MALLORY, T, 5, round_id=7, context=CTX))
    fields["signer"] = ALICE.public_key
    with pytest.raises(VerificationError, match="does not verify"):
        _open(_rebuild(fields))


def test_replay_is_refused() -> None:
    cache = ReplayCache()
    data = seal(ALICE, T, 5, round_id=7, context=CTX)
    assert _open(data, cache) == ("alice", 5)
    with pytest.raises(ProtocolError, match="replay") as info:
        _open(data, cache)
    assert info.value.client_id == "alice"
    # the same nonce from another signer is a different message
    nonce = _fields(data)["nonce"]
    assert _open(seal(BOB, T, 5, round_id=7, nonce=nonce, context=CTX), cache) == (2, 5)


def test_other_round_is_refused() -> None:
    data = seal(ALICE, T, 5, round_id=6, context=CTX)
    cache = ReplayCache()
    with pytest.raises(ProtocolError, match="round 6, but this is round 7"):
        _open(data, cache)
    assert len(cache) == 0
    assert _open(data, cache, round_id=6) == ("alice", 5)


def test_expect_type() -> None:
    data = seal(ALICE, T, 5, round_id=7, context=CTX)
    with pytest.raises(DecodeError, match="message type"):
        _open(data, expect_type=T + 1)
    assert _open(data, expect_type=[T, T + 1]) == ("alice", 5)
    with pytest.raises(ParameterError):
        _open(data, expect_type="x")


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"not a message",
        wire.encode(wire.MessageType.TEST, {}),
        wire.encode(wire.MessageType.IDENTITY_SEALED, [1, 2]),
        wire.encode(wire.MessageType.IDENTITY_SEALED, {"body": 1}),
    ],
)
def test_malformed_is_a_decode_error(data: bytes) -> None:
    with pytest.raises(DecodeError):
        _open(data)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("type", 0),
        ("type", "x"),
        ("signer", b"\x00" * 31),
        ("round", -1),
        ("round", 1.0),
        ("nonce", b"\x00" * 15),
        ("signature", b"\x00" * 63),
    ],
)
def test_malformed_fields_are_decode_errors(field: str, value: Any) -> None:
    fields = _fields(seal(ALICE, T, 5, round_id=7, context=CTX))
    fields[field] = value
    with pytest.raises(DecodeError):
        _open(_rebuild(fields))


def test_extra_key_is_a_decode_error() -> None:
    fields = _fields(seal(ALICE, T, 5, round_id=7, context=CTX))
    fields["extra"] = 1
    with pytest.raises(DecodeError, match="exactly the keys"):
        _open(_rebuild(fields))


def test_max_size() -> None:
    data = seal(ALICE, T, b"x" * 1000, round_id=7, context=CTX)
    with pytest.raises(DecodeError, match="too large"):
        _open(data, max_size=100)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"round_id": -1},
        {"round_id": 2**64},
        {"round_id": True},
        {"nonce": b"short"},
        {"context": ""},
        {"context": "bad\ncontext"},
    ],
)
def test_seal_argument_checks(kwargs: dict[str, Any]) -> None:
    args: dict[str, Any] = {"round_id": 7, "context": CTX}
    args.update(kwargs)
    with pytest.raises(ParameterError):
        seal(ALICE, T, 5, **args)


def test_seal_rejects_bad_identity_and_type() -> None:
    with pytest.raises(ParameterError, match="NodeIdentity"):
        seal(ALICE.public_key, T, 5, round_id=7, context=CTX)  # type: ignore[arg-type]
    for bad in (0, 0x10000, True, "x"):
        with pytest.raises(ParameterError, match="message_type"):
            seal(ALICE, bad, 5, round_id=7, context=CTX)  # type: ignore[arg-type]


def test_open_argument_checks() -> None:
    data = seal(ALICE, T, 5, round_id=7, context=CTX)
    with pytest.raises(ParameterError, match="Roster"):
        _open(data, roster={"alice": ALICE.public_key})
    with pytest.raises(ParameterError, match="ReplayCache"):
        open_sealed(data, roster=ROSTER, round_id=7, replay_cache=set(), context=CTX)  # type: ignore[arg-type]
    with pytest.raises(ParameterError, match="round_id"):
        _open(data, round_id=-1)


# ----------------------------------------------------------------------------- replay cache


def test_replay_cache_bounds_per_round() -> None:
    cache = ReplayCache(max_per_round=2)
    for _ in range(2):
        _open(seal(ALICE, T, 1, round_id=7, context=CTX), cache)
    with pytest.raises(ProtocolError, match="already holds 2"):
        _open(seal(ALICE, T, 1, round_id=7, context=CTX), cache)
    assert len(cache) == 2


def test_replay_cache_forgets_lowest_round_and_refuses_it_afterwards() -> None:
    cache = ReplayCache(max_rounds=2)
    old = seal(ALICE, T, 1, round_id=1, context=CTX)
    _open(old, cache, round_id=1)
    _open(seal(ALICE, T, 1, round_id=2, context=CTX), cache, round_id=2)
    _open(seal(ALICE, T, 1, round_id=3, context=CTX), cache, round_id=3)  # forgets round 1
    with pytest.raises(ProtocolError, match="older than every remembered round"):
        _open(old, cache, round_id=1)
    with pytest.raises(ProtocolError, match="older"):
        _open(seal(ALICE, T, 1, round_id=0, context=CTX), cache, round_id=0)
    assert "rounds=2" in repr(cache)


def test_replay_cache_argument_checks() -> None:
    for kwargs in ({"max_per_round": 0}, {"max_rounds": -1}, {"max_rounds": 1.5}):
        with pytest.raises(ParameterError):
            ReplayCache(**kwargs)
    cache = ReplayCache()
    with pytest.raises(ParameterError):
        cache.check_and_add(b"x", 1, b"\x00" * 16)
    with pytest.raises(ParameterError):
        cache.check_and_add(b"x" * 32, 1, b"\x00" * 3)


def test_replay_cache_is_thread_safe() -> None:
    cache = ReplayCache()
    data = seal(ALICE, T, 5, round_id=7, context=CTX)
    accepted: list[int] = []
    refused: list[int] = []

    def worker() -> None:
        try:
            _open(data, cache)
            accepted.append(1)
        except ProtocolError:
            refused.append(1)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(accepted) == 1
    assert len(refused) == 7


# ----------------------------------------------------------------------------- properties

_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1) | st.binary() | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=10,
)


@given(body=_values, round_id=st.integers(0, 2**64 - 1), nonce=st.binary(min_size=16, max_size=16))
def test_property_round_trip_and_replay(body: Any, round_id: int, nonce: bytes) -> None:
    cache = ReplayCache()
    data = seal(BOB, T, body, round_id=round_id, nonce=nonce, context=CTX)
    signer, got = _open(data, cache, round_id=round_id)
    assert signer == 2
    assert wire.encode_value(got) == wire.encode_value(body)
    with pytest.raises(ProtocolError, match="replay"):
        _open(data, cache, round_id=round_id)


@given(position=st.integers(0, 10_000), flip=st.integers(1, 255))
def test_property_any_byte_flip_is_refused(position: int, flip: int) -> None:
    data = bytearray(seal(ALICE, T, {"u": [1, 2, 3]}, round_id=7, context=CTX))
    data[position % len(data)] ^= flip
    with pytest.raises((DecodeError, VerificationError, ProtocolError)):
        _open(bytes(data))


def test_header_fingerprint_must_be_zero() -> None:
    data = bytearray(seal(ALICE, T, 5, round_id=7, context=CTX))
    data[8] ^= 1  # the (unsigned) parameter fingerprint of the envelope header
    with pytest.raises(DecodeError, match="fingerprint"):
        _open(bytes(data))
