"""privkit.zk.proofs: Sigma proofs (opening, equality) with Fiat-Shamir."""

from __future__ import annotations

import contextlib
import dataclasses

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from privkit.errors import DecodeError, ParameterError
from privkit.wire.values import Value, decode_value, encode_value
from privkit.zk.group import ORDER, Point, Scalar
from privkit.zk.pedersen import Generators, Opening, commit
from privkit.zk.proofs import (
    PROTOCOL_OPENING,
    EqualityProof,
    OpeningProof,
    prove_equal,
    prove_opening,
    verify_equal,
    verify_opening_proof,
)
from privkit.zk.transcript import Transcript

small_ints = st.integers(min_value=-(2**64), max_value=2**64)
vectors = st.lists(small_ints, min_size=0, max_size=5)
OTHER = Generators.derive(3, label=b"other.G", blinding_label=b"other.H")


def t(protocol: str = "privkit.test.proofs") -> Transcript:
    return Transcript(protocol, version=1)


# --------------------------------------------------------------- proof of opening


@given(values=vectors)
def test_opening_completeness(values: list[int]) -> None:
    c, o = commit(values)
    proof = prove_opening(c, o, t(), round_number=3, party="client-7")
    assert len(proof.z) == len(values)
    assert verify_opening_proof(c, proof, t(), round_number=3, party="client-7")


def test_opening_large_vector_and_constant_time() -> None:
    vals = np.random.default_rng(3).integers(-(2**15), 2**15, size=2000).astype(np.int16)
    c, o = commit(vals)
    proof = prove_opening(c, o, t())
    assert verify_opening_proof(c, proof, t())
    c2, o2 = commit([5, -6])
    proof2 = prove_opening(c2, o2, t(), constant_time=True)
    assert verify_opening_proof(c2, proof2, t())


def test_opening_soundness_sanity() -> None:
    c, o = commit([1, 2, 3])
    proof = prove_opening(c, o, t(), round_number=1, party=1)

    def ok(**kw: object) -> bool:
        args: dict[str, object] = {
            "commitment": c,
            "proof": proof,
            "transcript": t(),
            "round_number": 1,
            "party": 1,
        }
        args.update(kw)
        return verify_opening_proof(**args)  # type: ignore[arg-type]

    assert ok()
    other_c, _ = commit([1, 2, 3])
    assert not ok(commitment=other_c)  # another statement
    assert not ok(round_number=2)
    assert not ok(round_number=None)
    assert not ok(party=2)
    assert not ok(party="1")
    assert not ok(transcript=t("privkit.test.other"))
    assert not ok(transcript=Transcript("privkit.test.proofs", version=2))
    used = t()
    used.append("earlier", b"message")
    assert not ok(transcript=used)
    assert not ok(generators=Generators.derive(3, label=b"x"))
    assert not ok(generators=Generators.derive(4))
    one = Scalar.from_int(1)
    assert not ok(proof=dataclasses.replace(proof, s=proof.s + one))
    assert not ok(proof=dataclasses.replace(proof, z=(proof.z[0] + one, *proof.z[1:])))
    assert not ok(proof=dataclasses.replace(proof, z=proof.z[:2]))
    assert not ok(proof=dataclasses.replace(proof, a=proof.a + Point.generator()))
    assert not ok(proof="proof")
    assert not ok(commitment=c.to_bytes())


def test_wrong_opening_is_refused() -> None:
    c, o = commit([1, 2, 3])
    bad = Opening([1, 2, 4], o.blinding)
    with pytest.raises(ParameterError, match="does not open") as info:
        prove_opening(c, bad, t())
    assert o.blinding.to_bytes().hex() not in str(info.value)
    with pytest.raises(ParameterError):
        prove_opening(c, "opening", t())  # type: ignore[arg-type]
    with pytest.raises(ParameterError):
        prove_opening(c, o, "transcript")  # type: ignore[arg-type]


def test_transcripts_chain() -> None:
    c1, o1 = commit([1])
    c2, o2 = commit([2, 3])
    prover = t()
    p1 = prove_opening(c1, o1, prover, party=1)
    p2 = prove_opening(c2, o2, prover, party=2)
    verifier = t()
    assert verify_opening_proof(c1, p1, verifier, party=1)
    assert verify_opening_proof(c2, p2, verifier, party=2)
    assert not verify_opening_proof(c2, p2, t(), party=2)  # out of order


def test_opening_serialisation_round_trip() -> None:
    c, o = commit([10, -20, 30])
    proof = prove_opening(c, o, t())
    data = proof.to_bytes()
    assert len(data) < 512 + 32 * 3
    back = OpeningProof.from_bytes(data, max_values=3)
    assert back == proof
    assert back.to_bytes() == data
    assert verify_opening_proof(c, back, t())
    assert OpeningProof.from_bytes(bytearray(data), max_values=10) == proof


def _tamper(data: bytes, key: str, value: Value) -> bytes:
    fields = decode_value(data)
    assert isinstance(fields, dict)
    if value is None:
        del fields[key]
    else:
        fields[key] = value
    return encode_value(fields)


def test_opening_malformed_inputs() -> None:
    c, o = commit([1, 2])
    data = prove_opening(c, o, t()).to_bytes()
    non_canonical = ORDER.to_bytes(32, "little")
    cases = [
        b"",
        data[:-1],
        data + b"\x00",
        encode_value([1, 2]),
        _tamper(data, "s", non_canonical),
        _tamper(data, "z", non_canonical + bytes(32)),
        _tamper(data, "z", bytes(33)),
        _tamper(data, "a", b"\xff" * 32),
        _tamper(data, "a", bytes(31)),
        _tamper(data, "s", 5),
        _tamper(data, "type", "privkit.zk.proofs.equal"),
        _tamper(data, "version", 2),
        _tamper(data, "z", None),
        _tamper(data, "extra", b""),
    ]
    for bad in cases:
        with pytest.raises(DecodeError):
            OpeningProof.from_bytes(bad, max_values=2)
    with pytest.raises(DecodeError):
        OpeningProof.from_bytes(data, max_values=1)
    huge = _tamper(data, "z", bytes(32 * 100))
    with pytest.raises(DecodeError, match="at most"):
        OpeningProof.from_bytes(huge, max_values=2)  # refused by size, before decoding
    with pytest.raises(ParameterError):
        OpeningProof.from_bytes(data, max_values=-1)
    with pytest.raises(ParameterError):
        OpeningProof.from_bytes("text", max_values=2)  # type: ignore[arg-type]


@given(blob=st.binary(max_size=400))
def test_opening_from_random_bytes(blob: bytes) -> None:
    with contextlib.suppress(DecodeError):
        OpeningProof.from_bytes(blob, max_values=4)


# ------------------------------------------------------------ proof of equality


@given(values=st.lists(small_ints, min_size=3, max_size=3))
def test_equality_completeness_other_generators(values: list[int]) -> None:
    c1, o1 = commit(values)
    c2, o2 = commit(values, generators=OTHER)
    proof = prove_equal(c1, o1, c2, o2, t(), generators2=OTHER, round_number=0, party=b"p")
    assert verify_equal(c1, c2, proof, t(), generators2=OTHER, round_number=0, party=b"p")
    assert not verify_equal(c2, c1, proof, t(), generators2=OTHER, round_number=0, party=b"p")


@given(values=vectors)
def test_equality_completeness_same_generators(values: list[int]) -> None:
    c1, o1 = commit(values)
    c2, o2 = commit(values)  # independent blinding
    proof = prove_equal(c1, o1, c2, o2, t())
    assert verify_equal(c1, c2, proof, t())


def test_equality_soundness_sanity() -> None:
    c1, o1 = commit([4, 5, 6])
    c2, o2 = commit([4, 5, 6], generators=OTHER)
    proof = prove_equal(c1, o1, c2, o2, t(), generators2=OTHER, round_number=9, party=2)

    def ok(**kw: object) -> bool:
        args: dict[str, object] = {
            "commitment1": c1,
            "commitment2": c2,
            "proof": proof,
            "transcript": t(),
            "generators2": OTHER,
            "round_number": 9,
            "party": 2,
        }
        args.update(kw)
        return verify_equal(**args)  # type: ignore[arg-type]

    assert ok()
    c3, _ = commit([4, 5, 7], generators=OTHER)
    assert not ok(commitment2=c3)
    assert not ok(generators2=None)
    assert not ok(round_number=8)
    assert not ok(party=3)
    assert not ok(transcript=t("privkit.test.other"))
    one = Scalar.from_int(1)
    for field in ("s1", "s2"):
        changed = dataclasses.replace(proof, **{field: getattr(proof, field) + one})
        assert not ok(proof=changed)
    assert not ok(proof=dataclasses.replace(proof, a2=proof.a2 + Point.generator()))
    assert not ok(proof=dataclasses.replace(proof, z=(*proof.z[:2], proof.z[2] + one)))
    assert not ok(proof=proof.to_bytes())


def test_equality_refuses_different_values() -> None:
    c1, o1 = commit([1, 2, 3])
    c2, o2 = commit([1, 2, 4], generators=OTHER)
    with pytest.raises(ParameterError, match="same values"):
        prove_equal(c1, o1, c2, o2, t(), generators2=OTHER)
    c3, o3 = commit([1, 2])
    with pytest.raises(ParameterError):
        prove_equal(c1, o1, c3, o3, t())
    c4, o4 = commit([1, 2, 3])
    with pytest.raises(ParameterError, match="does not open"):
        prove_equal(c1, o1, c4, o4, t(), generators2=OTHER)  # c4 is not under OTHER


def test_equality_mod_l() -> None:
    c1, o1 = commit([-1])
    c2, o2 = commit([ORDER - 1])
    assert verify_equal(c1, c2, prove_equal(c1, o1, c2, o2, t()), t())


def test_equality_serialisation() -> None:
    c1, o1 = commit([1, 2, 3])
    c2, o2 = commit([1, 2, 3], generators=OTHER)
    proof = prove_equal(c1, o1, c2, o2, t(), generators2=OTHER)
    data = proof.to_bytes()
    back = EqualityProof.from_bytes(data, max_values=3)
    assert back == proof
    assert back.to_bytes() == data
    assert verify_equal(c1, c2, back, t(), generators2=OTHER)
    with pytest.raises(DecodeError):
        EqualityProof.from_bytes(data, max_values=2)
    with pytest.raises(DecodeError):
        EqualityProof.from_bytes(_tamper(data, "s2", ORDER.to_bytes(32, "little")), max_values=3)
    with pytest.raises(DecodeError):
        EqualityProof.from_bytes(_tamper(data, "a1", b"\xff" * 32), max_values=3)
    with pytest.raises(DecodeError):
        EqualityProof.from_bytes(_tamper(data, "type", PROTOCOL_OPENING), max_values=3)
    opening_proof = prove_opening(c1, o1, t()).to_bytes()
    with pytest.raises(DecodeError):  # an opening proof is not an equality proof
        EqualityProof.from_bytes(opening_proof, max_values=3)


def test_proofs_reveal_no_secrets_in_repr() -> None:
    r = Scalar.random()
    c, o = commit([987654321], r)
    proof = prove_opening(c, o, t())
    text = repr(proof)
    assert "987654321" not in text
    assert r.to_bytes().hex() not in text
