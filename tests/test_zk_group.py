"""ristretto255 (privkit.zk.group): RFC 9496 / RFC 9380 known answers and the API contract."""

from __future__ import annotations

import copy
import json
import pathlib
import pickle
from typing import Any

import numpy as np
import pytest

from privkit import _native
from privkit.errors import DecodeError, ParameterError
from privkit.zk.group import ORDER, Point, PointArray, Scalar, expand_message_xmd, msm, msm_small

VECTORS: dict[str, Any] = json.loads(
    (pathlib.Path(__file__).resolve().parent / "vectors" / "rfc9496.json").read_text()
)


@pytest.mark.parametrize("vec", VECTORS["multiples_of_generator"], ids=lambda v: str(v["k"]))
def test_multiples_of_generator(vec: dict[str, Any]) -> None:
    k, enc = vec["k"], bytes.fromhex(vec["encoding"])
    g = Point.generator()
    by_adds = Point.identity()
    for _ in range(k):
        by_adds = by_adds + g
    assert by_adds.to_bytes() == enc
    assert Point.base_mul(k).to_bytes() == enc
    assert (Scalar.from_int(k) * g).to_bytes() == enc
    decoded = Point.from_bytes(enc)
    assert decoded == by_adds
    assert decoded.to_bytes() == enc
    # The constant-time variable-base routine (Point * Scalar takes the table for g itself).
    point = _native.r255_scalarmult(Scalar.from_int(k).to_bytes(), _native.r255_generator())
    assert _native.r255_encode(point) == enc
    shifted = g + Point.identity()  # same element, other coordinates: variable base path
    assert (k * shifted).to_bytes() == enc


@pytest.mark.parametrize(
    "vec", VECTORS["invalid_encodings"], ids=lambda v: f"{v['reason']}:{v['encoding'][:8]}"
)
def test_invalid_encodings_rejected(vec: dict[str, Any]) -> None:
    with pytest.raises(DecodeError):
        Point.from_bytes(bytes.fromhex(vec["encoding"]))


@pytest.mark.parametrize("vec", VECTORS["from_uniform_bytes"], ids=lambda v: v["label"][:20])
def test_from_uniform_bytes(vec: dict[str, Any]) -> None:
    import hashlib

    data = bytes.fromhex(vec["input"])
    assert hashlib.sha512(vec["label"].encode()).digest() == data
    assert Point.from_uniform_bytes(data).to_bytes().hex() == vec["output"]


@pytest.mark.parametrize(
    "vec",
    VECTORS["expand_message_xmd_sha512"]["vectors"],
    ids=lambda v: f"{v['msg']}-{v['len_in_bytes']}",
)
def test_expand_message_xmd(vec: dict[str, Any]) -> None:
    dst = VECTORS["expand_message_xmd_sha512"]["dst"].encode()
    out = expand_message_xmd(vec["msg"].encode(), dst, vec["len_in_bytes"])
    assert out.hex() == vec["uniform_bytes"]


def test_hash_to_group_is_xmd_then_map() -> None:
    msg, dst = b"privkit test message", b"privkit-test-v1"
    expected = Point.from_uniform_bytes(expand_message_xmd(msg, dst, 64))
    assert Point.hash_to_group(msg, dst) == expected
    assert Point.hash_to_group(msg, b"privkit-test-v2") != expected
    long_dst = b"x" * 300  # RFC 9380 5.3.3: oversize tags are hashed first
    assert len(expand_message_xmd(msg, long_dst, 64)) == 64
    with pytest.raises(ParameterError):
        Point.hash_to_group(msg, b"")
    with pytest.raises(ParameterError):
        expand_message_xmd(msg, dst, 0)


def test_encoding_sizes_and_errors() -> None:
    with pytest.raises(DecodeError):
        Point.from_bytes(b"\x00" * 31)
    with pytest.raises(DecodeError):
        Point.from_bytes("00" * 32)  # type: ignore[arg-type]
    with pytest.raises(DecodeError):
        Scalar.from_bytes(ORDER.to_bytes(32, "little"))
    with pytest.raises(DecodeError):
        Scalar.from_bytes(b"\xff" * 32)
    with pytest.raises(DecodeError):
        Scalar.from_bytes(b"\x01" * 33)
    assert int(Scalar.from_bytes((ORDER - 1).to_bytes(32, "little"))) == ORDER - 1
    with pytest.raises(ParameterError):
        Scalar.reduce_bytes(b"\x00" * 48)
    with pytest.raises(ParameterError):
        Point.from_uniform_bytes(b"\x00" * 32)


def test_scalar_arithmetic_against_python_ints() -> None:
    edges = [0, 1, 2, ORDER - 1, ORDER - 2, 2**252, 2**252 - 1, 2**255, -1, -(2**200)]
    for a in edges:
        for b in edges:
            sa, sb = Scalar.from_int(a), Scalar.from_int(b)
            assert int(sa + sb) == (a + b) % ORDER
            assert int(sa - sb) == (a - b) % ORDER
            assert int(sa * sb) == (a * b) % ORDER
            assert int(-sa) == (-a) % ORDER
            assert int(sa + b) == (a + b) % ORDER
            assert int(a - sb) == (a - b) % ORDER
            assert sa * b == b * sa == Scalar.from_int(a * b)
            if a % ORDER:
                assert int(sa.inverse()) == pow(a, -1, ORDER)
    with pytest.raises(ZeroDivisionError):
        Scalar.from_int(ORDER).inverse()
    wide = bytes(range(64))
    assert int(Scalar.reduce_bytes(wide)) == int.from_bytes(wide, "little") % ORDER
    assert int(Scalar.reduce_bytes(b"\xff" * 32)) == (2**256 - 1) % ORDER
    assert Scalar.random() != Scalar.random()
    assert Scalar.from_int(1) != 1
    assert len({Scalar.from_int(3), Scalar.from_int(3 + ORDER)}) == 1
    assert Scalar.from_int(0).is_zero()
    assert not Scalar.from_int(1).is_zero()


def test_point_group_laws_and_edges() -> None:
    g, o = Point.generator(), Point.identity()
    p = Point.hash_to_group(b"p", b"privkit-test")
    assert p + o == p
    assert p - p == o
    assert p + (-p) == o
    assert o.to_bytes() == bytes(32)
    assert -o == o
    assert ORDER * p == o
    assert (ORDER - 1) * p == -p
    assert (-1) * p == -p
    assert 0 * p == o
    assert p * 1 == p
    assert 2 * p == p + p
    assert Scalar.from_int(5) * g == Point.base_mul(5)
    assert (2**252) * p == Scalar.from_int(2**252) * p
    assert hash(p) == hash(Point.from_bytes(p.to_bytes()))
    assert len({p, Point.from_bytes(p.to_bytes()), g}) == 2
    # Different extended coordinates, same element: equality and encoding agree.
    q = (p + g) - g
    assert q == p
    assert q.to_bytes() == p.to_bytes()


def test_immutable_no_pickle_and_repr() -> None:
    s = Scalar.from_int(123456789)
    p = Point.generator()
    assert "123456789" not in repr(s)
    assert repr(s) == "Scalar(<hidden>)"
    assert p.to_bytes().hex() in repr(p)
    for obj in (s, p, PointArray([p])):
        with pytest.raises(TypeError):
            pickle.dumps(obj)
        with pytest.raises(AttributeError):
            obj._x = 1
    assert copy.copy(s) is s
    assert copy.deepcopy(p) is p
    with pytest.raises(TypeError):
        Scalar()
    with pytest.raises(TypeError):
        Point()
    with pytest.raises(AttributeError):
        s._b = b"\x00" * 32


def test_msm_argument_checks() -> None:
    g = Point.generator()
    with pytest.raises(ParameterError):
        msm([1, 2], [g])
    with pytest.raises(ParameterError):
        msm_small(np.array([1, 2], dtype=np.int16), [g])
    with pytest.raises(ParameterError):
        msm_small(np.array([1], dtype=np.int64), [g])
    with pytest.raises(ParameterError):
        msm_small(np.array([1], dtype=np.uint16), [g])
    with pytest.raises(ParameterError):
        PointArray([g, b"x"])  # type: ignore[list-item]
    assert msm([], []) == Point.identity()
    assert msm_small(np.zeros(0, dtype=np.int16), PointArray([])) == Point.identity()


def test_native_wrappers_check_inputs() -> None:
    with pytest.raises(ParameterError):
        _native.r255_encode(b"\x00" * 32)
    with pytest.raises(ParameterError):
        _native.r255_scalar_op("pow", b"\x00" * 32, b"\x00" * 32)
    with pytest.raises(ParameterError):
        _native.r255_scalar_op("add", b"\xff" * 32, b"\x00" * 32)
    with pytest.raises(ParameterError):
        _native.r255_msm(b"\x00" * 32, np.zeros((2, 15), dtype=np.uint64))
    with pytest.raises(ParameterError):
        _native.r255_msm_small(np.zeros(1, dtype=np.int32), np.zeros((1, 14), dtype=np.uint64))
