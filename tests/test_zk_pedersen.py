"""privkit.zk.pedersen: Pedersen vector commitments on ristretto255."""

from __future__ import annotations

import copy
import pickle
import struct
from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from privkit.encoding import FixedPoint
from privkit.errors import DecodeError, ParameterError
from privkit.zk.group import ORDER, Point, Scalar, expand_message_xmd, msm
from privkit.zk.pedersen import (
    BLINDING_LABEL,
    DST,
    LABEL,
    Commitment,
    Generators,
    Opening,
    centred,
    commit,
    commit_update,
    commitment_for,
    verify_opening,
    verify_update_opening,
)

small_ints = st.integers(min_value=-(2**40), max_value=2**40)
vectors = st.lists(small_ints, min_size=0, max_size=6)


def reference_commitment(values: list[int], r: Scalar, label: bytes = LABEL) -> Point:
    """The documented formula, term by term with constant-time scalar multiplications."""
    total = Point.identity()
    for i, v in enumerate(values):
        g = Point.from_uniform_bytes(expand_message_xmd(label + struct.pack("<Q", i), DST, 64))
        total = total + g * Scalar.from_int(v)
    h = Point.from_uniform_bytes(expand_message_xmd(BLINDING_LABEL + bytes(8), DST, 64))
    return total + h * r


# ----------------------------------------------------------------------- generators


def test_generators_match_documented_derivation() -> None:
    g = Generators.derive(4)
    assert len(g) == 4
    for i in range(4):
        assert g.point(i) == Point.hash_to_group(LABEL + struct.pack("<Q", i), DST)
    assert g.h == Point.hash_to_group(BLINDING_LABEL + bytes(8), DST)


def test_known_answers() -> None:
    """privkit's own vectors: generated once from the documented derivation and frozen.

    They come from no external standard; the derivation itself is checked against
    RFC 9380 hash-to-group (Point.hash_to_group, tested with the RFC 9496 vectors).
    """
    g = Generators.derive(2)
    assert g.point(0).to_bytes().hex() == (
        "d2a5c12ae0df1509b8abc0a9a789a45a71d5df6b2931a1a8ce204bb82e2b1a6d"
    )
    assert g.point(1).to_bytes().hex() == (
        "fcf84e1e6754dc42f790feab16972b16c99c05ea2940371c230582a3b5035d30"
    )
    assert g.h.to_bytes().hex() == (
        "0aaae7f9b2ece9d7178355d68c0321fb893954704d5ec21276619878e160574f"
    )
    c, _ = commit([1, -2], Scalar.from_int(3))
    assert c.to_bytes().hex() == (
        "3eb06d4c37d11f257cac1f19c9499792c8aa2692847012faa4cd00e3e2ab3e38"
    )


def test_generators_deterministic_cached_and_distinct() -> None:
    a = Generators.derive(16)
    assert Generators.derive(16) is a  # cached
    assert Generators.derive(16) == a
    points = [a.point(i).to_bytes() for i in range(16)] + [a.h.to_bytes()]
    assert len(set(points)) == 17
    assert Point.identity().to_bytes() not in points
    assert Point.generator().to_bytes() not in points
    other = Generators.derive(16, label=b"another.label")
    assert other != a
    assert other.h == a.h
    assert {other.point(i).to_bytes() for i in range(16)}.isdisjoint(points)
    assert a.digest() != Generators.derive(15).digest()
    assert len(a.digest()) == 64


def test_generators_parameter_errors() -> None:
    with pytest.raises(ParameterError):
        Generators.derive(-1)
    with pytest.raises(ParameterError):
        Generators.derive(True)
    with pytest.raises(ParameterError):
        Generators.derive(2, label=b"")
    with pytest.raises(ParameterError):
        Generators.derive(2, label="text")  # type: ignore[arg-type]
    with pytest.raises(ParameterError, match="differ"):
        Generators.derive(2, label=b"same", blinding_label=b"same")
    with pytest.raises(ParameterError):
        Generators.derive(2).point(2)
    with pytest.raises(TypeError):
        Generators(2)
    with pytest.raises(TypeError):
        pickle.dumps(Generators.derive(2))


# ------------------------------------------------------------------ commit / verify


@given(values=vectors)
def test_commit_matches_reference(values: list[int]) -> None:
    r = Scalar.random()
    c, opening = commit(values, r)
    assert c.point == reference_commitment(values, r)
    assert opening.values == tuple(values)
    assert verify_opening(c, opening)


@given(a=vectors, data=st.data())
def test_homomorphism(a: list[int], data: st.DataObject) -> None:
    b = data.draw(st.lists(small_ints, min_size=len(a), max_size=len(a)))
    ca, oa = commit(a)
    cb, ob = commit(b)
    summed, _ = commit([x + y for x, y in zip(a, b, strict=True)], oa.blinding + ob.blinding)
    assert ca + cb == summed
    assert verify_opening(ca + cb, oa + ob)
    assert verify_opening(ca - cb, oa - ob)
    assert commitment_for(oa + ob) == ca + cb


@given(values=st.lists(small_ints, min_size=1, max_size=5), index=st.integers(0, 4))
def test_binding_sanity(values: list[int], index: int) -> None:
    r = Scalar.random()
    c, _ = commit(values, r)
    other = list(values)
    other[index % len(values)] += 1
    c2, o2 = commit(other, r)
    assert c != c2
    assert not verify_opening(c, o2)
    assert not verify_opening(c, Opening(values, r + 1))
    assert verify_opening(c, Opening(values, r))


def test_values_are_taken_mod_l_and_centred() -> None:
    r = Scalar.random()
    c1, o1 = commit([-5, 7], r)
    c2, o2 = commit([ORDER - 5, Scalar.from_int(7)], r)
    assert c1 == c2
    assert o1.values == o2.values == (-5, 7)
    assert o1 == o2


def test_hiding_fresh_blinding() -> None:
    c1, o1 = commit([1, 2, 3])
    c2, o2 = commit([1, 2, 3])
    assert c1 != c2
    assert o1.blinding != o2.blinding


def test_empty_vector() -> None:
    r = Scalar.random()
    c, o = commit([], r)
    assert c.point == Generators.derive(0).h * r
    assert verify_opening(c, o)


@pytest.mark.parametrize("dtype", [np.int8, np.int16, np.int32, np.int64, np.uint8, np.uint64])
def test_numpy_paths_equal_generic_path(dtype: type[np.integer[Any]]) -> None:
    info = np.iinfo(dtype)
    rng = np.random.default_rng(7)
    vals = rng.integers(info.min, info.max, size=300, dtype=dtype, endpoint=True)
    vals[:4] = [info.min, info.max, 0, 1] if info.min < 0 else [0, info.max, 1, 2]
    r = Scalar.random()
    fast, opening = commit(vals, r)
    assert opening.values == tuple(int(v) for v in vals)
    generic = msm([int(v) for v in vals], Generators.derive(300).array)
    assert fast.point == generic + Generators.derive(300).h * r
    assert verify_opening(fast, opening)


def test_constant_time_path_equal() -> None:
    vals = [3, -1, 2**200, 0]
    r = Scalar.random()
    c_fast, _ = commit(vals, r)
    c_ct, _ = commit(vals, r, constant_time=True)
    assert c_fast == c_ct


def test_large_vector_fast_path() -> None:
    vals = np.random.default_rng(1).integers(-(2**15), 2**15, size=10_000).astype(np.int16)
    c, o = commit(vals)
    assert verify_opening(c, o)
    vals[17] ^= 1
    assert not verify_opening(c, Opening(vals, o.blinding))


def test_explicit_generators() -> None:
    g = Generators.derive(3, label=b"my.app.v1")
    c, o = commit([1, 2, 3], generators=g)
    assert verify_opening(c, o, generators=g)
    assert not verify_opening(c, o)  # the default generators are different
    assert not verify_opening(c, o, generators=Generators.derive(4))
    with pytest.raises(ParameterError, match="3 values for 4 generators"):
        commit([1, 2, 3], generators=Generators.derive(4))
    with pytest.raises(ParameterError):
        commit([1], generators="default")  # type: ignore[arg-type]


def test_commit_parameter_errors() -> None:
    with pytest.raises(ParameterError):
        commit([1.5])  # type: ignore[list-item]
    with pytest.raises(ParameterError):
        commit([True])
    with pytest.raises(ParameterError):
        commit(b"abc")
    with pytest.raises(ParameterError):
        commit(np.zeros(3))  # type: ignore[arg-type]
    with pytest.raises(ParameterError):
        commit(np.zeros((2, 2), dtype=np.int16))
    with pytest.raises(ParameterError):
        commit([1], 5)  # type: ignore[arg-type]
    assert not verify_opening(b"x" * 32, commit([1])[1])  # type: ignore[arg-type]


def test_secrets_hidden_and_no_pickle() -> None:
    r = Scalar.random()
    c, o = commit([123456789], r)
    text = repr(o) + str(o)
    assert "123456789" not in text
    assert r.to_bytes().hex() not in text
    assert "hidden" in text
    assert repr(c) == f"Commitment({c.to_bytes().hex()})"
    for obj in (c, o):
        with pytest.raises(TypeError):
            pickle.dumps(obj)
    with pytest.raises(AttributeError):
        o.values = ()
    assert copy.copy(c) == c


# ---------------------------------------------------------------------- encodings


@given(values=vectors)
def test_commitment_round_trip(values: list[int]) -> None:
    c, o = commit(values)
    enc = c.to_bytes()
    assert len(enc) == 32
    assert Commitment.from_bytes(enc) == c
    assert Commitment.from_bytes(bytearray(enc)) == c
    assert hash(Commitment.from_bytes(enc)) == hash(c)
    back = Opening.from_bytes(o.to_bytes(), max_values=len(values))
    assert back == o
    assert back.values == o.values
    assert verify_opening(c, back)


def test_commitment_decode_errors() -> None:
    for bad in (b"", b"\x00" * 31, b"\x00" * 33, b"\xff" * 32, b"\x01" + bytes(31)):
        with pytest.raises(DecodeError):
            Commitment.from_bytes(bad)
    with pytest.raises(DecodeError):
        Commitment.from_bytes("00" * 32)  # type: ignore[arg-type]
    with pytest.raises(ParameterError):
        Commitment("point")  # type: ignore[arg-type]


def test_opening_decode_errors() -> None:
    _, o = commit([1, 2])
    good = o.to_bytes()
    with pytest.raises(DecodeError):
        Opening.from_bytes(good, max_values=0)  # too long for the bound
    with pytest.raises(DecodeError):
        Opening.from_bytes(good[:-1], max_values=2)
    with pytest.raises(DecodeError):
        Opening.from_bytes(good + b"\x00", max_values=2)
    # a non-canonical scalar (l itself) in place of the blinding
    tampered = good.replace(o.blinding.to_bytes(), ORDER.to_bytes(32, "little"))
    with pytest.raises(DecodeError):
        Opening.from_bytes(tampered, max_values=2)
    with pytest.raises(ParameterError):
        Opening.from_bytes(good, max_values=-1)


# ------------------------------------------------------------ fixed-point updates


def test_centred() -> None:
    ring = np.array([0, 1, 2**31 - 1, 2**31, 2**32 - 1], dtype=np.uint32)
    assert centred(ring, 32).tolist() == [0, 1, 2**31 - 1, -(2**31), -1]
    assert centred(np.array([7, 8, 15]), 4).tolist() == [7, -8, -1]
    with pytest.raises(ParameterError):
        centred(ring, 1)
    with pytest.raises(ParameterError):
        centred(np.zeros(2), 8)


@pytest.mark.parametrize("bits", [16, 32, 64])
def test_commit_update_sums_match_encoding_sums(bits: int) -> None:
    fp = FixedPoint.for_sum(n_summands=4, clip=1.0, bits=bits)
    rng = np.random.default_rng(bits)
    updates = [rng.uniform(-1.5, 1.5, size=50) for _ in range(4)]
    results = [commit_update(u, encoding=fp) for u in updates]
    for (c, o), u in zip(results, updates, strict=True):
        assert o.values == tuple(centred(fp.encode(u), bits).tolist())
        assert verify_opening(c, o)
    total_c = results[0][0]
    total_b = results[0][1].blinding
    for c, o in results[1:]:
        total_c = total_c + c
        total_b = total_b + o.blinding
    ring_sum = sum((fp.encode(u) for u in updates[1:]), fp.encode(updates[0]))
    assert verify_update_opening(total_c, ring_sum, total_b, encoding=fp, n_summands=4)
    assert not verify_update_opening(
        total_c, ring_sum + np.array(1, dtype=ring_sum.dtype), total_b, encoding=fp, n_summands=4
    )
    decoded = fp.decode(ring_sum, n_summands=4)
    assert np.allclose(decoded, sum(np.clip(u, -1, 1) for u in updates), atol=fp.max_error(4))


def test_commit_update_wrap_is_refused() -> None:
    fp = FixedPoint(bits=8, frac_bits=5, clip=1.0)  # qmax = 32, max_summands = 3
    assert fp.max_summands == 3
    updates = [np.ones(3)] * 4
    results = [commit_update(u, encoding=fp) for u in updates]
    total_c = results[0][0] + results[1][0] + results[2][0] + results[3][0]
    total_b = sum((o.blinding for _, o in results[1:]), results[0][1].blinding)
    ring_sum = sum((fp.encode(u) for u in updates[1:]), fp.encode(updates[0]))  # 128 wraps
    with pytest.raises(ParameterError, match="wrap"):
        verify_update_opening(total_c, ring_sum, total_b, encoding=fp, n_summands=4)
    # the wrapped ring sum indeed does not match the integer sum of the commitments
    wrapped = Opening(centred(ring_sum, 8), total_b)
    assert not verify_opening(total_c, wrapped)
    assert verify_opening(total_c, Opening([128, 128, 128], total_b))


def test_commit_update_accepts_state_dict() -> None:
    fp = FixedPoint(bits=16, frac_bits=8, clip=2.0)
    update = {"w": np.array([[0.5, -0.25]]), "b": np.array([1.0])}
    c, o = commit_update(update, encoding=fp)
    assert len(o) == 3
    assert verify_opening(c, o)
    with pytest.raises(ParameterError):
        commit_update(update, encoding="fixed")  # type: ignore[arg-type]
