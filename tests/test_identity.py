"""Tests of privkit.identity: node keys, domain-separated Ed25519 signatures, rosters."""

from __future__ import annotations

import copy
import hashlib
import pathlib
import pickle
import re
import struct
import subprocess
import sys
from typing import Any

import numpy as np
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from hypothesis import given
from hypothesis import strategies as st

import privkit.identity
from privkit import wire
from privkit.errors import (
    DecodeError,
    ParameterError,
    PrivkitError,
    ProtocolError,
    VerificationError,
)
from privkit.identity import (
    PUBLIC_KEY_BYTES,
    ROSTER_FORMAT,
    SIGNATURE_BYTES,
    NodeIdentity,
    Roster,
    key_id,
    verify,
)
from privkit.identity._points import (
    SMALL_ORDER_ENCODINGS,
    is_canonical_large_order,
    is_curve_point,
)
from privkit.testing.strategies import client_ids

DOCS = pathlib.Path(__file__).resolve().parent.parent / "docs" / "identity.md"

# RFC 8032, "Edwards-Curve Digital Signature Algorithm (EdDSA)", section 7.1, TEST 1.
RFC8032_SECRET = bytes.fromhex("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60")
RFC8032_PUBLIC = bytes.fromhex("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a")
RFC8032_MESSAGE = b""
RFC8032_SIGNATURE = bytes.fromhex(
    "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b"
)

CTX = "privkit.test.v1/message"

# Reference arithmetic on edwards25519, written independently of privkit/identity/_points.py.
P = 2**255 - 19
D = -121665 * pow(121666, P - 2, P) % P
IDENTITY_ENCODING = bytes([1]) + bytes(31)


def signing_input_reference(context: str, message: bytes) -> bytes:
    """The documented signing input, spelled out field by field."""
    prefix = b"privkit/identity/v1"
    ctx = context.encode("ascii")
    return (
        struct.pack("<Q", len(prefix))
        + prefix
        + struct.pack("<Q", len(ctx))
        + ctx
        + struct.pack("<Q", len(message))
        + message
    )


def ref_decode(data: bytes) -> tuple[int, int] | None:
    """Affine point of an encoding, by Euler's criterion and Tonelli-free sqrt (p = 5 mod 8)."""
    value = int.from_bytes(data, "little")
    sign, y = value >> 255, value & (2**255 - 1)
    if y >= P:
        return None
    x2 = (y * y - 1) * pow(D * y * y + 1, P - 2, P) % P
    if x2 == 0:
        return None if sign else (0, y)
    if pow(x2, (P - 1) // 2, P) != 1:  # not a square: no x
        return None
    x = pow(x2, (P + 3) // 8, P)
    if x * x % P != x2:
        x = x * pow(2, (P - 1) // 4, P) % P
    assert x * x % P == x2
    if x % 2 != sign:
        x = P - x
    return x, y


def ref_add(a: tuple[int, int], b: tuple[int, int]) -> tuple[int, int]:
    (x1, y1), (x2, y2) = a, b
    t = D * x1 * x2 * y1 * y2 % P
    x3 = (x1 * y2 + y1 * x2) * pow(1 + t, P - 2, P) % P
    y3 = (y1 * y2 + x1 * x2) * pow(1 - t, P - 2, P) % P
    return x3, y3


def ref_times8(point: tuple[int, int]) -> tuple[int, int]:
    for _ in range(3):
        point = ref_add(point, point)
    return point


def off_curve_key() -> bytes:
    """The smallest y whose encoding is not a curve point."""
    for y in range(2, 100):
        data = y.to_bytes(32, "little")
        if ref_decode(data) is None:
            return data
    raise AssertionError("no off-curve y below 100")


# A pool of real keys: hypothesis draws from it instead of generating keys per example.
POOL = [NodeIdentity.generate() for _ in range(24)]
POOL_KEYS = [n.public_key for n in POOL]

contexts = st.text(
    alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7E), min_size=1, max_size=40
)


@st.composite
def rosters_as_dicts(draw: st.DrawFn) -> dict[Any, bytes]:
    ids = draw(client_ids(min_size=1, max_size=8, kind="mixed"))
    keys = draw(st.permutations(POOL_KEYS))
    return dict(zip(ids, keys, strict=False))


# ---------------------------------------------------------------------------- NodeIdentity


def test_public_surface() -> None:
    assert PUBLIC_KEY_BYTES == 32
    assert SIGNATURE_BYTES == 64
    assert set(privkit.identity.__all__) == {
        "PUBLIC_KEY_BYTES",
        "ROSTER_FORMAT",
        "SIGNATURE_BYTES",
        "ClientId",
        "NodeIdentity",
        "Roster",
        "key_id",
        "verify",
        "NONCE_BYTES",
        "SEALED_FORMAT",
        "ReplayCache",
        "seal",
        "open_sealed",
        "save_identity",
        "load_identity",
        "save_public_key",
        "load_public_key_file",
        "save_roster",
        "load_roster",
    }
    for name in privkit.identity.__all__:
        assert hasattr(privkit.identity, name)


def test_identity_does_not_import_upward() -> None:
    code = (
        "import sys, privkit.identity; "
        "print(sorted(m for m in sys.modules if m.startswith('privkit.') and "
        "m.split('.')[1] in {'aggregation', 'secagg', 'testing', 'integrations', 'cli'}))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


@given(message=st.binary(max_size=300), context=contexts)
def test_sign_verify_round_trip(message: bytes, context: str) -> None:
    node = POOL[0]
    signature = node.sign(message, context=context)
    assert isinstance(signature, bytes)
    assert len(signature) == SIGNATURE_BYTES
    verify(node.public_key, message, signature, context=context)
    # bytes-like inputs are accepted too
    verify(
        bytearray(node.public_key),
        memoryview(message),
        bytearray(signature),
        context=context,
    )


@given(
    message=st.binary(max_size=64), contexts=st.lists(contexts, min_size=2, max_size=2, unique=True)
)
def test_wrong_context_refused(message: bytes, contexts: list[str]) -> None:
    signature = POOL[0].sign(message, context=contexts[0])
    with pytest.raises(VerificationError):
        verify(POOL[0].public_key, message, signature, context=contexts[1])


def test_field_boundaries_cannot_be_shifted() -> None:
    node = POOL[0]
    signature = node.sign(b"bc", context="a")
    with pytest.raises(VerificationError):
        verify(node.public_key, b"c", signature, context="ab")
    signature = node.sign(b"", context="ab")
    with pytest.raises(VerificationError):
        verify(node.public_key, b"b", signature, context="a")


@given(message=st.binary(min_size=1, max_size=64), data=st.data())
def test_modified_message_refused(message: bytes, data: st.DataObject) -> None:
    node = POOL[1]
    signature = node.sign(message, context=CTX)
    index = data.draw(st.integers(0, len(message) - 1))
    bit = data.draw(st.integers(0, 7))
    flipped = bytearray(message)
    flipped[index] ^= 1 << bit
    for other in (bytes(flipped), message[:-1], message + b"\x00", b"\x00" + message):
        with pytest.raises(VerificationError):
            verify(node.public_key, other, signature, context=CTX)


def test_every_single_bit_flip_of_a_signature_is_refused() -> None:
    node = POOL[2]
    signature = node.sign(b"payload", context=CTX)
    for bit in range(8 * SIGNATURE_BYTES):
        bad = bytearray(signature)
        bad[bit // 8] ^= 1 << (bit % 8)
        with pytest.raises(VerificationError):
            verify(node.public_key, b"payload", bytes(bad), context=CTX)


def test_malleated_signature_refused() -> None:
    # S + L encodes the same scalar; RFC 8032 requires S < L, so this must not verify.
    order = 2**252 + 27742317777372353535851937790883648493
    node = POOL[2]
    signature = node.sign(b"m", context=CTX)
    s = int.from_bytes(signature[32:], "little")
    malleated = signature[:32] + (s + order).to_bytes(32, "little")
    with pytest.raises(VerificationError):
        verify(node.public_key, b"m", malleated, context=CTX)


@given(message=st.binary(max_size=64))
def test_other_key_refused(message: bytes) -> None:
    signature = POOL[3].sign(message, context=CTX)
    with pytest.raises(VerificationError):
        verify(POOL[4].public_key, message, signature, context=CTX)


@pytest.mark.parametrize("length", [n for n in range(0, 100) if n != PUBLIC_KEY_BYTES])
def test_public_key_of_every_wrong_length_refused(length: int) -> None:
    node = POOL[0]
    signature = node.sign(b"m", context=CTX)
    key = (node.public_key * 4)[:length]
    with pytest.raises(VerificationError, match="32 bytes"):
        verify(key, b"m", signature, context=CTX)


@pytest.mark.parametrize("length", [n for n in range(0, 140) if n != SIGNATURE_BYTES])
def test_signature_of_every_wrong_length_refused(length: int) -> None:
    node = POOL[0]
    signature = node.sign(b"m", context=CTX)
    with pytest.raises(VerificationError, match="64 bytes"):
        verify(node.public_key, b"m", (signature * 3)[:length], context=CTX)


@pytest.mark.parametrize("bad", [None, "a" * 32, 7, [0] * 32, 3.5, np.zeros(32, np.uint8)])
def test_non_bytes_inputs_to_verify_raise_verification_error(bad: object) -> None:
    node = POOL[0]
    signature = node.sign(b"m", context=CTX)
    with pytest.raises(VerificationError):
        verify(bad, b"m", signature, context=CTX)  # type: ignore[arg-type]
    with pytest.raises(VerificationError):
        verify(node.public_key, b"m", bad, context=CTX)  # type: ignore[arg-type]
    with pytest.raises(VerificationError):
        verify(node.public_key, bad, signature, context=CTX)  # type: ignore[arg-type]


@pytest.mark.parametrize("encoding", sorted(SMALL_ORDER_ENCODINGS), ids=lambda b: b.hex()[:8])
def test_small_order_public_keys_refused(encoding: bytes) -> None:
    # The all-zero S with the identity as R is the forgery that works under these keys.
    forged = IDENTITY_ENCODING + bytes(32)
    with pytest.raises(VerificationError, match="not a valid Ed25519 public key"):
        verify(encoding, b"any message", forged, context=CTX)
    with pytest.raises(ParameterError, match="not a valid Ed25519 public key"):
        Roster({1: encoding})


def test_small_order_forgery_is_real_in_openssl() -> None:
    # Why the check exists: OpenSSL accepts this forged signature for any message.
    forged = IDENTITY_ENCODING + bytes(32)
    Ed25519PublicKey.from_public_bytes(IDENTITY_ENCODING).verify(forged, b"any message")
    with pytest.raises(VerificationError):
        verify(IDENTITY_ENCODING, b"any message", forged, context=CTX)


def test_small_order_list_is_exactly_the_8_torsion_points() -> None:
    points = set()
    for encoding in SMALL_ORDER_ENCODINGS:
        point = ref_decode(encoding)
        assert is_curve_point(encoding) == (point is not None), encoding.hex()
        if point is None:  # a negative-zero encoding of a point with x = 0
            assert encoding[31] & 0x80
            x_zero = encoding[:31] + bytes([encoding[31] & 0x7F])
            assert ref_decode(x_zero) is not None
            assert ref_decode(x_zero)[0] == 0  # type: ignore[index]
            assert x_zero in SMALL_ORDER_ENCODINGS
            continue
        assert ref_times8(point) == (0, 1), encoding.hex()
        points.add(point)
    # edwards25519 has cofactor 8 and its 8-torsion subgroup has exactly 8 points.
    assert len(points) == 8
    assert len(SMALL_ORDER_ENCODINGS) == 10


def test_non_canonical_and_off_curve_keys_refused() -> None:
    forged = IDENTITY_ENCODING + bytes(32)
    # y = p + 1 encodes the identity non-canonically; y = 2**255 - 1 is above p.
    for y in (P + 1, P, 2**255 - 1):
        data = y.to_bytes(32, "little")
        assert not is_canonical_large_order(data)
        with pytest.raises(VerificationError):
            verify(data, b"m", forged, context=CTX)
        with pytest.raises(ParameterError):
            Roster({1: data})
    bad = off_curve_key()
    assert not is_curve_point(bad)
    with pytest.raises(VerificationError):
        verify(bad, b"m", POOL[0].sign(b"m", context=CTX), context=CTX)
    with pytest.raises(ParameterError, match="not a valid Ed25519 public key"):
        Roster({1: bad})


@given(data=st.binary(min_size=32, max_size=32))
def test_curve_point_check_agrees_with_reference(data: bytes) -> None:
    assert is_curve_point(data) == (ref_decode(data) is not None)


def test_generated_keys_are_acceptable() -> None:
    for node in POOL:
        assert is_curve_point(node.public_key)
        assert is_canonical_large_order(node.public_key)


def test_rfc8032_test1_known_answer() -> None:
    node = NodeIdentity.from_private_bytes(RFC8032_SECRET)
    assert node.public_key == RFC8032_PUBLIC
    assert node.private_bytes() == RFC8032_SECRET
    # The oracle and the vector agree (raw Ed25519, no privkit domain separation).
    oracle_public = Ed25519PublicKey.from_public_bytes(RFC8032_PUBLIC)
    oracle_public.verify(RFC8032_SIGNATURE, RFC8032_MESSAGE)
    oracle_private = Ed25519PrivateKey.from_private_bytes(RFC8032_SECRET)
    assert oracle_private.sign(RFC8032_MESSAGE) == RFC8032_SIGNATURE
    # privkit's signature is standard Ed25519 over the documented signing input.
    signature = node.sign(RFC8032_MESSAGE, context=CTX)
    encoded = signing_input_reference(CTX, RFC8032_MESSAGE)
    oracle_public.verify(signature, encoded)
    assert signature == oracle_private.sign(encoded)  # Ed25519 is deterministic
    # ... and never the signature of the bare message.
    assert signature != RFC8032_SIGNATURE
    with pytest.raises(VerificationError):
        verify(RFC8032_PUBLIC, RFC8032_MESSAGE, RFC8032_SIGNATURE, context=CTX)


def test_signing_input_layout_is_pinned() -> None:
    encoded = signing_input_reference("ab", b"xyz")
    assert encoded == (
        b"\x13\x00\x00\x00\x00\x00\x00\x00privkit/identity/v1"
        b"\x02\x00\x00\x00\x00\x00\x00\x00ab"
        b"\x03\x00\x00\x00\x00\x00\x00\x00xyz"
    )
    node = NodeIdentity.from_private_bytes(RFC8032_SECRET)
    Ed25519PublicKey.from_public_bytes(RFC8032_PUBLIC).verify(
        node.sign(b"xyz", context="ab"), encoded
    )


@given(message=st.binary(max_size=64), context=contexts)
def test_signatures_made_with_cryptography_over_the_signing_input_verify(
    message: bytes, context: str
) -> None:
    oracle = Ed25519PrivateKey.from_private_bytes(RFC8032_SECRET)
    signature = oracle.sign(signing_input_reference(context, message))
    verify(RFC8032_PUBLIC, message, signature, context=context)
    with pytest.raises(VerificationError):
        verify(RFC8032_PUBLIC, message, oracle.sign(message), context=context)


@pytest.mark.parametrize("context", ["", "caf\u00e9", "tab\there", "new\nline", b"bytes", None, 3])
def test_invalid_context_is_a_parameter_error(context: object) -> None:
    node = POOL[0]
    with pytest.raises(ParameterError, match="context"):
        node.sign(b"m", context=context)  # type: ignore[arg-type]
    signature = node.sign(b"m", context=CTX)
    with pytest.raises(ParameterError, match="context"):
        verify(node.public_key, b"m", signature, context=context)  # type: ignore[arg-type]
    with pytest.raises(ParameterError, match="context"):
        Roster({1: node.public_key}).verify(1, b"m", signature, context=context)  # type: ignore[arg-type]


@pytest.mark.parametrize("bad", [None, "m", 5, [1, 2]])
def test_sign_refuses_non_bytes_messages(bad: object) -> None:
    with pytest.raises(ParameterError, match="message must be bytes"):
        POOL[0].sign(bad, context=CTX)  # type: ignore[arg-type]


@pytest.mark.parametrize("length", [0, 1, 16, 31, 33, 64])
def test_from_private_bytes_wrong_size(length: int) -> None:
    secret = (RFC8032_SECRET * 3)[:length]
    with pytest.raises(ParameterError, match=f"got {length} bytes") as info:
        NodeIdentity.from_private_bytes(secret)
    if length:
        assert secret.hex() not in str(info.value)


@pytest.mark.parametrize("bad", [None, RFC8032_SECRET.hex(), 12, list(RFC8032_SECRET)])
def test_from_private_bytes_wrong_type(bad: object) -> None:
    with pytest.raises(ParameterError, match="32 raw bytes"):
        NodeIdentity.from_private_bytes(bad)  # type: ignore[arg-type]


def test_from_private_bytes_accepts_bytes_like() -> None:
    assert NodeIdentity.from_private_bytes(bytearray(RFC8032_SECRET)).public_key == RFC8032_PUBLIC
    assert NodeIdentity.from_private_bytes(memoryview(RFC8032_SECRET)).public_key == RFC8032_PUBLIC


def test_generate_round_trip_and_equality() -> None:
    a, b = NodeIdentity.generate(), NodeIdentity.generate()
    assert a.public_key != b.public_key
    assert a.private_bytes() != b.private_bytes()
    assert len(a.public_key) == PUBLIC_KEY_BYTES
    assert len(a.private_bytes()) == 32
    again = NodeIdentity.from_private_bytes(a.private_bytes())
    assert again == a
    assert hash(again) == hash(a)
    assert a != b
    assert a != a.public_key
    assert len({a, again, b}) == 2


def test_cannot_construct_directly_or_mutate() -> None:
    with pytest.raises(TypeError, match="generate"):
        NodeIdentity()
    node = NodeIdentity.generate()
    with pytest.raises(AttributeError):
        node._public = POOL[0].public_key
    with pytest.raises(AttributeError):
        node.public_key = b""  # type: ignore[misc]
    with pytest.raises(AttributeError):
        del node._private
    assert node.public_key != POOL[0].public_key


@pytest.mark.parametrize("protocol", range(pickle.HIGHEST_PROTOCOL + 1))
def test_pickling_refused(protocol: int) -> None:
    node = NodeIdentity.from_private_bytes(RFC8032_SECRET)
    with pytest.raises(TypeError, match="pickle"):
        pickle.dumps(node, protocol=protocol)
    with pytest.raises(TypeError, match="pickle"):
        pickle.dumps([{"nested": node}], protocol=protocol)
    with pytest.raises(TypeError, match="pickle"):
        pickle.dumps(Roster({1: node.public_key}), protocol=protocol)


def test_copy_returns_the_same_immutable_object() -> None:
    node = POOL[0]
    assert copy.copy(node) is node
    assert copy.deepcopy({"k": node})["k"] is node
    roster = Roster({1: node.public_key})
    assert copy.deepcopy(roster) is roster


def test_repr_shows_key_id_and_no_secret() -> None:
    node = NodeIdentity.from_private_bytes(RFC8032_SECRET)
    secret_hex = RFC8032_SECRET.hex()
    for text in (repr(node), str(node), f"{node}", repr([node])):
        assert node.key_id in text
        assert RFC8032_PUBLIC.hex() not in text
        for start in range(0, len(secret_hex) - 7):
            assert secret_hex[start : start + 8] not in text
        assert repr(RFC8032_SECRET)[2:10] not in text
    assert "__dict__" not in dir(node)


def test_key_id() -> None:
    expected = hashlib.sha256(b"privkit/identity/v1/key-id\x00" + RFC8032_PUBLIC).hexdigest()[:16]
    assert key_id(RFC8032_PUBLIC) == expected
    assert NodeIdentity.from_private_bytes(RFC8032_SECRET).key_id == expected
    assert re.fullmatch(r"[0-9a-f]{16}", expected)
    assert expected != RFC8032_PUBLIC.hex()[:16]
    assert len({key_id(k) for k in POOL_KEYS}) == len(POOL_KEYS)
    for bad in (b"", RFC8032_PUBLIC[:31], RFC8032_PUBLIC + b"\x00"):
        with pytest.raises(ParameterError, match="32 bytes"):
            key_id(bad)
    with pytest.raises(ParameterError):
        key_id("x" * 32)  # type: ignore[arg-type]


# ---------------------------------------------------------------------------- Roster


def sort_ids(ids: list[Any]) -> list[Any]:
    ints = sorted(i for i in ids if isinstance(i, int))
    strs = sorted(i for i in ids if isinstance(i, str))
    return ints + strs


@given(members=rosters_as_dicts())
def test_roster_mapping_and_canonical_order(members: dict[Any, bytes]) -> None:
    roster = Roster(members)
    assert len(roster) == len(members)
    assert list(roster) == sort_ids(list(members))
    assert roster.ids == tuple(sort_ids(list(members)))
    for cid, pk in members.items():
        assert cid in roster
        assert roster.public_key(cid) == pk
        assert roster[cid] == pk
    assert dict(roster) == members


def test_roster_canonical_order_example() -> None:
    roster = Roster({"b": POOL_KEYS[0], 10: POOL_KEYS[1], "a": POOL_KEYS[2], -5: POOL_KEYS[3]})
    assert roster.ids == (-5, 10, "a", "b")
    assert list(roster.keys()) == [-5, 10, "a", "b"]
    assert roster.to_dict()["members"] == [
        [-5, POOL_KEYS[3]],
        [10, POOL_KEYS[1]],
        ["a", POOL_KEYS[2]],
        ["b", POOL_KEYS[0]],
    ]


def test_roster_empty_and_bad_constructor_arguments() -> None:
    assert len(Roster()) == 0
    assert Roster() == Roster({})
    assert Roster().ids == ()
    for bad in ([(1, POOL_KEYS[0])], "abc", 5):
        with pytest.raises(ParameterError, match="mapping"):
            Roster(bad)  # type: ignore[arg-type]


def test_roster_accepts_another_roster() -> None:
    roster = Roster({1: POOL_KEYS[0], "x": POOL_KEYS[1]})
    assert Roster(roster) == roster


def test_roster_refuses_one_key_under_two_ids() -> None:
    with pytest.raises(ParameterError, match=r"two ids, 1 and 'one'"):
        Roster({1: POOL_KEYS[0], "one": POOL_KEYS[0]})
    with pytest.raises(ParameterError, match="two ids"):
        Roster({1: POOL_KEYS[0], 2: bytearray(POOL_KEYS[0])})
    roster = Roster({1: POOL_KEYS[0]})
    with pytest.raises(ParameterError, match="two ids"):
        roster.admit(2, POOL_KEYS[0])


@pytest.mark.parametrize(
    "bad_id", [True, False, 1.0, None, b"id", 2**64, -(2**63) - 1, np.int64(1), "\ud800", (1,)]
)
def test_roster_refuses_invalid_ids(bad_id: Any) -> None:
    with pytest.raises(ParameterError, match="client id"):
        Roster({bad_id: POOL_KEYS[0]})
    with pytest.raises(ParameterError, match="client id"):
        Roster().admit(bad_id, POOL_KEYS[0])


def test_roster_accepts_extreme_ids() -> None:
    roster = Roster({-(2**63): POOL_KEYS[0], 2**64 - 1: POOL_KEYS[1], "": POOL_KEYS[2]})
    assert roster.ids == (-(2**63), 2**64 - 1, "")
    assert Roster.from_dict(wire.decode_value(wire.encode_value(roster.to_dict()))) == roster


@pytest.mark.parametrize(
    "bad_key",
    [
        b"",
        b"\x00" * 31,
        b"\x00" * 33,
        "k" * 32,
        None,
        IDENTITY_ENCODING,
        (P + 1).to_bytes(32, "little"),
    ],
)
def test_roster_refuses_invalid_keys(bad_key: Any) -> None:
    with pytest.raises(ParameterError, match="client 7"):
        Roster({7: bad_key})
    with pytest.raises(ParameterError, match="client 7"):
        Roster().admit(7, bad_key)


def test_unknown_id_is_a_protocol_error() -> None:
    roster = Roster({1: POOL_KEYS[0], "alice": POOL_KEYS[1]})
    signature = POOL[0].sign(b"m", context=CTX)
    unknowns: list[Any] = [2, "1", "bob", True, 1.0, [1], {"a": 1}, None, np.int64(1)]
    for unknown in unknowns:
        with pytest.raises(ProtocolError, match="unknown node") as info:
            roster.public_key(unknown)
        assert info.value.client_id is unknown or info.value.client_id == unknown
        with pytest.raises(ProtocolError, match="unknown node"):
            roster.verify(unknown, b"m", signature, context=CTX)
        assert unknown not in roster
        with pytest.raises(KeyError):
            roster[unknown]
        assert roster.get(unknown) is None
    with pytest.raises(ProtocolError, match="'bob' is not in the roster"):
        roster.public_key("bob")


def test_unknown_id_refused_before_the_signature_is_checked() -> None:
    # An unadmitted node with a perfectly valid signature is still refused.
    outsider = NodeIdentity.generate()
    roster = Roster({1: POOL_KEYS[0]})
    signature = outsider.sign(b"m", context=CTX)
    verify(outsider.public_key, b"m", signature, context=CTX)
    with pytest.raises(ProtocolError) as info:
        roster.verify(2, b"m", signature, context=CTX)
    assert info.value.client_id == 2


def test_roster_verify() -> None:
    roster = Roster({1: POOL_KEYS[0], 2: POOL_KEYS[1]})
    signature = POOL[0].sign(b"m", context=CTX)
    roster.verify(1, b"m", signature, context=CTX)
    with pytest.raises(VerificationError, match="client 2"):
        roster.verify(2, b"m", signature, context=CTX)  # impersonation
    with pytest.raises(VerificationError):
        roster.verify(1, b"m2", signature, context=CTX)
    with pytest.raises(VerificationError):
        roster.verify(1, b"m", signature, context=CTX + "x")
    with pytest.raises(VerificationError, match="64 bytes"):
        roster.verify(1, b"m", signature[:63], context=CTX)
    with pytest.raises(VerificationError):
        roster.verify(1, None, signature, context=CTX)  # type: ignore[arg-type]
    with pytest.raises(VerificationError):
        roster.verify(1, b"m", "s" * 64, context=CTX)  # type: ignore[arg-type]


def test_admit_and_remove_return_new_rosters() -> None:
    base = Roster({1: POOL_KEYS[0], 2: POOL_KEYS[1]})
    before = (base.ids, dict(base), base.fingerprint, base.to_dict())
    bigger = base.admit("c", POOL_KEYS[2])
    smaller = base.remove(1)
    assert (base.ids, dict(base), base.fingerprint, base.to_dict()) == before
    assert bigger.ids == (1, 2, "c")
    assert bigger.public_key("c") == POOL_KEYS[2]
    assert smaller.ids == (2,)
    assert 1 in base
    assert 1 not in smaller
    assert bigger.remove("c") == base
    assert smaller.admit(1, POOL_KEYS[0]) == base
    bigger.verify("c", b"m", POOL[2].sign(b"m", context=CTX), context=CTX)
    with pytest.raises(ProtocolError):
        smaller.verify(1, b"m", POOL[0].sign(b"m", context=CTX), context=CTX)
    with pytest.raises(AttributeError):
        base._keys = {}
    with pytest.raises(TypeError):
        base[3] = POOL_KEYS[3]  # type: ignore[index]


def test_admit_existing_id_and_remove_unknown_id_refused() -> None:
    base = Roster({1: POOL_KEYS[0]})
    with pytest.raises(ParameterError, match="already in the roster"):
        base.admit(1, POOL_KEYS[1])
    with pytest.raises(ParameterError, match="already in the roster"):
        base.admit(1, POOL_KEYS[0])
    unknowns: list[Any] = [2, "1", True, [1]]
    for unknown in unknowns:
        with pytest.raises(ParameterError, match="not in the roster"):
            base.remove(unknown)


@given(members=rosters_as_dicts() | st.just({}))
def test_to_dict_from_dict_round_trip(members: dict[Any, bytes]) -> None:
    roster = Roster(members)
    as_dict = roster.to_dict()
    assert set(as_dict) == {"format", "members"}
    assert as_dict["format"] == ROSTER_FORMAT
    again = Roster.from_dict(wire.decode_value(wire.encode_value(as_dict)))
    assert again == roster
    assert again.fingerprint == roster.fingerprint
    assert list(again) == list(roster)
    assert wire.encode_value(again.to_dict()) == wire.encode_value(as_dict)
    # Through a full envelope too.
    message = wire.encode(wire.MessageType.TEST, as_dict)
    assert Roster.from_dict(wire.decode(message).body) == roster


def valid_dict() -> dict[str, Any]:
    return Roster({1: POOL_KEYS[0], 2: POOL_KEYS[1], "x": POOL_KEYS[2]}).to_dict()


def with_members(*members: Any) -> dict[str, Any]:
    return {"format": ROSTER_FORMAT, "members": list(members)}


HOSTILE: list[tuple[str, Any]] = [
    ("not a dict", [ROSTER_FORMAT, []]),
    ("none", None),
    ("bytes", b"roster"),
    ("empty dict", {}),
    ("missing members", {"format": ROSTER_FORMAT}),
    ("missing format", {"members": []}),
    ("extra key", {**valid_dict(), "extra": 1}),
    ("other format", {"format": "privkit.identity.roster.v2", "members": []}),
    ("format as bytes", {"format": ROSTER_FORMAT.encode(), "members": []}),
    ("format as array", {"format": np.zeros(3), "members": []}),
    ("members not a list", {"format": ROSTER_FORMAT, "members": {"1": POOL_KEYS[0]}}),
    ("members as bytes", {"format": ROSTER_FORMAT, "members": POOL_KEYS[0]}),
    ("member not a pair", with_members([1])),
    ("member triple", with_members([1, POOL_KEYS[0], b""])),
    ("member is a dict", with_members({"id": 1, "key": POOL_KEYS[0]})),
    ("member is bytes", with_members(POOL_KEYS[0])),
    ("bool id", with_members([True, POOL_KEYS[0]])),
    ("float id", with_members([1.0, POOL_KEYS[0]])),
    ("bytes id", with_members([b"1", POOL_KEYS[0]])),
    ("none id", with_members([None, POOL_KEYS[0]])),
    ("list id", with_members([[1], POOL_KEYS[0]])),
    ("huge id", with_members([2**64, POOL_KEYS[0]])),
    ("out of order ints", with_members([2, POOL_KEYS[0]], [1, POOL_KEYS[1]])),
    ("str before int", with_members(["a", POOL_KEYS[0]], [1, POOL_KEYS[1]])),
    ("out of order strs", with_members(["b", POOL_KEYS[0]], ["a", POOL_KEYS[1]])),
    ("repeated id", with_members([1, POOL_KEYS[0]], [1, POOL_KEYS[1]])),
    ("repeated key", with_members([1, POOL_KEYS[0]], [2, POOL_KEYS[0]])),
    ("short key", with_members([1, POOL_KEYS[0][:31]])),
    ("long key", with_members([1, POOL_KEYS[0] + b"\x00"])),
    ("str key", with_members([1, POOL_KEYS[0].hex()])),
    ("array key", with_members([1, np.frombuffer(POOL_KEYS[0], np.uint8)])),
    ("none key", with_members([1, None])),
    ("small-order key", with_members([1, IDENTITY_ENCODING])),
    ("non-canonical key", with_members([1, (P + 1).to_bytes(32, "little")])),
    ("off-curve key", with_members([1, off_curve_key()])),
]


@pytest.mark.parametrize(("what", "data"), HOSTILE, ids=[w for w, _ in HOSTILE])
def test_hostile_from_dict_raises_decode_error(what: str, data: Any) -> None:
    with pytest.raises(DecodeError):
        Roster.from_dict(data)


def test_valid_dict_loads() -> None:
    # The baseline the hostile cases are mutations of.
    assert Roster.from_dict(valid_dict()).ids == (1, 2, "x")
    assert Roster.from_dict(with_members()) == Roster()
    as_tuples = {
        "format": ROSTER_FORMAT,
        "members": tuple(tuple(m) for m in valid_dict()["members"]),
    }
    assert Roster.from_dict(as_tuples) == Roster.from_dict(valid_dict())


wire_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**64 - 1)
    | st.floats(allow_nan=False)
    | st.binary(max_size=40)
    | st.sampled_from([*POOL_KEYS[:3], IDENTITY_ENCODING])
    | st.text(max_size=8)
    | st.just(ROSTER_FORMAT),
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(st.sampled_from(["format", "members", "x"]), inner, max_size=3)
    ),
    max_leaves=12,
)


@given(value=wire_values)
def test_arbitrary_values_give_a_roster_or_decode_error(value: Any) -> None:
    try:
        roster = Roster.from_dict(value)
    except DecodeError:
        return
    assert Roster.from_dict(roster.to_dict()) == roster


@given(data=st.data())
def test_mutated_wire_bytes_give_a_roster_or_decode_error(data: st.DataObject) -> None:
    encoded = bytearray(wire.encode_value(valid_dict()))
    for _ in range(data.draw(st.integers(1, 3))):
        index = data.draw(st.integers(0, len(encoded) - 1))
        encoded[index] = data.draw(st.integers(0, 255))
    try:
        roster = Roster.from_dict(wire.decode_value(bytes(encoded)))
    except DecodeError:
        return
    except PrivkitError as exc:  # pragma: no cover - reported as a failure below
        raise AssertionError(f"only DecodeError is allowed, got {exc!r}") from exc
    assert isinstance(roster, Roster)


@given(members=rosters_as_dicts(), data=st.data())
def test_fingerprint_ignores_insertion_order(
    members: dict[Any, bytes], data: st.DataObject
) -> None:
    items = data.draw(st.permutations(list(members.items())))
    a, b = Roster(members), Roster(dict(items))
    assert a.fingerprint == b.fingerprint
    assert a == b
    assert hash(a) == hash(b)
    assert len(a.fingerprint) == wire.FINGERPRINT_SIZE == 16


@given(members=rosters_as_dicts(), data=st.data())
def test_fingerprint_changes_when_any_entry_changes(
    members: dict[Any, bytes], data: st.DataObject
) -> None:
    roster = Roster(members)
    target = data.draw(st.sampled_from(sorted(members, key=repr)))
    unused = [k for k in POOL_KEYS if k not in members.values()]
    changed = []
    # another key for one id
    changed.append(roster.remove(target).admit(target, unused[0]))
    # the same key under another id
    other_id = data.draw(
        st.one_of(st.integers(-(2**63), 2**64 - 1), st.text(max_size=6)).filter(
            lambda c: c not in members
        )
    )
    changed.append(roster.remove(target).admit(other_id, members[target]))
    # one entry more, one entry less
    changed.append(roster.admit(other_id, unused[1]))
    changed.append(roster.remove(target))
    for other in changed:
        assert other.fingerprint != roster.fingerprint
        assert other != roster


def test_fingerprint_distinguishes_int_and_str_ids() -> None:
    a = Roster({1: POOL_KEYS[0]})
    b = Roster({"1": POOL_KEYS[0]})
    assert a.fingerprint != b.fingerprint
    assert a != b


def test_fingerprint_is_the_documented_wire_fingerprint() -> None:
    roster = Roster({"b": POOL_KEYS[0], 3: POOL_KEYS[1]})
    expected = wire.fingerprint(
        "privkit.identity.roster.v1", {"members": [[3, POOL_KEYS[1]], ["b", POOL_KEYS[0]]]}
    )
    assert roster.fingerprint == expected
    assert Roster().fingerprint == wire.fingerprint("privkit.identity.roster.v1", {"members": []})
    assert roster.fingerprint.hex() in repr(roster)


def test_roster_equality() -> None:
    a = Roster({1: POOL_KEYS[0]})
    assert a == Roster({1: bytearray(POOL_KEYS[0])})
    assert a != Roster({1: POOL_KEYS[1]})
    assert a != {1: POOL_KEYS[0]}
    assert a != a.to_dict()


# ---------------------------------------------------------------------------- docs

BLOCK = re.compile(r"^```python\n(.*?)^```", re.MULTILINE | re.DOTALL)


def test_doc_examples_run() -> None:
    blocks = BLOCK.findall(DOCS.read_text(encoding="utf-8"))
    assert blocks
    for i, code in enumerate(blocks):
        exec(compile(code, f"identity.md#{i}", "exec"), {"__name__": f"docs_identity_{i}"})


def test_module_docstring_example_runs() -> None:
    import doctest

    result = doctest.testmod(privkit.identity, raise_on_error=False)
    assert result.attempted > 0
    assert result.failed == 0


def test_docs_state_the_signing_input_and_roster_format() -> None:
    text = DOCS.read_text(encoding="utf-8")
    assert 'field(b"privkit/identity/v1") || field(context) || field(message)' in text
    assert "u64le(len(x)) || x" in text
    assert ROSTER_FORMAT in text
    assert "privkit/identity/v1/key-id" in text
