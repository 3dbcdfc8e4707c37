"""privkit.zk.transcript: the Fiat-Shamir transcript and its byte format."""

from __future__ import annotations

import hashlib
import struct
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from privkit.errors import ParameterError
from privkit.wire.values import encode_value
from privkit.zk.transcript import (
    GROUP_ORDER,
    MAX_CHALLENGE_BYTES,
    Transcript,
)

# --------------------------------------------------------------------------- reference
# The byte format of docs/zk-commitments.md, written out independently of the module.


def u64(n: int) -> bytes:
    return struct.pack("<Q", n)


def lp(x: bytes) -> bytes:
    return u64(len(x)) + x


def init_record(protocol: str, version: int) -> bytes:
    return b"\x01" + lp(b"privkit.zk.transcript.v1") + lp(protocol.encode()) + u64(version)


def append_record(label: str, data: bytes) -> bytes:
    return b"\x02" + lp(label.encode()) + lp(data)


def squeeze_record(label: str, n: int) -> bytes:
    return b"\x03" + lp(label.encode()) + u64(n)


def test_bytes_follow_the_documented_format() -> None:
    t = Transcript("proto", version=7)
    t.append("a", b"xyz")
    first = t.challenge_bytes("c1", 40)
    t.append("b", b"")
    second = t.challenge_bytes("c2", 16)
    stream = init_record("proto", 7) + append_record("a", b"xyz") + squeeze_record("c1", 40)
    assert first == hashlib.shake_256(stream).digest(40)
    stream += append_record("b", b"") + squeeze_record("c2", 16)
    assert second == hashlib.shake_256(stream).digest(16)


def test_helpers_follow_the_documented_format() -> None:
    t = Transcript("proto", version=1)
    t.bind_round(5)
    t.bind_party(9)
    t.bind_statement({"C": b"\x01" * 32})
    t.bind_generators([b"\x02" * 32, b"\x03"])
    out = t.challenge_scalar("e")
    stream = (
        init_record("proto", 1)
        + append_record("privkit/round", u64(5))
        + append_record("privkit/party", encode_value(9))
        + append_record("privkit/statement", encode_value({"C": b"\x01" * 32}))
        + append_record("privkit/generators", u64(2) + lp(b"\x02" * 32) + lp(b"\x03"))
        + squeeze_record("e", 64)
    )
    expected = int.from_bytes(hashlib.shake_256(stream).digest(64), "little") % GROUP_ORDER
    assert out == expected


def test_append_value_is_append_of_the_wire_encoding() -> None:
    a = Transcript("p", version=0)
    b = Transcript("p", version=0)
    a.append_value("v", [1, "two", b"3"])
    b.append("v", encode_value([1, "two", b"3"]))
    assert a.challenge_bytes("c", 32) == b.challenge_bytes("c", 32)


# --------------------------------------------------------------------------- known answers
# privkit's own vectors: generated once with this implementation (after checking it
# against the reference above) and frozen here so that the format can never drift.


def test_known_answers() -> None:
    t = Transcript("privkit.test", version=1)
    assert t.challenge_bytes("c", 32).hex() == (
        "be3e585900488a0be9ce1fd9ae5a0aef576f08216e68f6a591abf2d6da141ec7"
    )
    t = Transcript("privkit.test", version=1)
    t.append("msg", b"hello")
    assert t.challenge_bytes("c", 32).hex() == (
        "fa6ecbd60a9972cac48b098fce0e00ec322feed5c06fa4aacba25c8a87202049"
    )
    assert t.challenge_scalar("s") == (
        449814112859698413234932679370627903498153074491888982690483213874793447807
    )
    t.bind_round(3)
    t.bind_party("client-7")
    t.bind_statement([b"\x01" * 32, b"\x02" * 32])
    t.bind_generators([b"\x03" * 32, b"\x04" * 32])
    assert t.challenge_scalar("e") == (
        4754974847197852445892708409340571695622189598465874858404620563041583855869
    )
    assert t.challenge_bytes("tail", 5).hex() == "106dd05e32"


# --------------------------------------------------------------------------- behaviour


def test_determinism_and_range() -> None:
    def run() -> tuple[bytes, int]:
        t = Transcript("p", version=2)
        t.append("m", b"message")
        return t.challenge_bytes("x", 100), t.challenge_scalar("y")

    assert run() == run()
    out, scalar = run()
    assert len(out) == 100
    assert 0 <= scalar < GROUP_ORDER


def _challenge(ops: list[tuple[str, Any]], protocol: str = "p", version: int = 1) -> bytes:
    t = Transcript(protocol, version=version)
    for kind, arg in ops:
        getattr(t, kind)(*arg)
    return t.challenge_bytes("final", 32)


BASE: list[tuple[str, Any]] = [
    ("bind_round", (1,)),
    ("bind_party", ("alice",)),
    ("bind_statement", (b"statement",)),
    ("bind_generators", ([b"G", b"H"],)),
    ("append", ("commitment", b"C")),
    ("challenge_bytes", ("c", 32)),
    ("append", ("response", b"z")),
]

VARIANTS: list[tuple[str, list[tuple[str, Any]], str, int]] = [
    ("protocol", BASE, "q", 1),
    ("version", BASE, "p", 2),
    ("round", [("bind_round", (2,)), *BASE[1:]], "p", 1),
    ("party", [BASE[0], ("bind_party", ("bob",)), *BASE[2:]], "p", 1),
    ("party type", [BASE[0], ("bind_party", (b"alice",)), *BASE[2:]], "p", 1),
    ("statement", [*BASE[:2], ("bind_statement", (b"statemenT",)), *BASE[3:]], "p", 1),
    ("generators", [*BASE[:3], ("bind_generators", ([b"GH"],)), *BASE[4:]], "p", 1),
    ("generator order", [*BASE[:3], ("bind_generators", ([b"H", b"G"],)), *BASE[4:]], "p", 1),
    ("label", [*BASE[:4], ("append", ("commitmenT", b"C")), *BASE[5:]], "p", 1),
    ("data", [*BASE[:4], ("append", ("commitment", b"D")), *BASE[5:]], "p", 1),
    ("squeeze label", [*BASE[:5], ("challenge_bytes", ("d", 32)), *BASE[6:]], "p", 1),
    ("squeeze length", [*BASE[:5], ("challenge_bytes", ("c", 31)), *BASE[6:]], "p", 1),
    ("no squeeze", [*BASE[:5], *BASE[6:]], "p", 1),
    ("missing round", BASE[1:], "p", 1),
    ("order", [BASE[1], BASE[0], *BASE[2:]], "p", 1),
    ("after squeeze", BASE[:-1], "p", 1),
]


@pytest.mark.parametrize(
    ("what", "ops", "protocol", "version"), VARIANTS, ids=[v[0] for v in VARIANTS]
)
def test_every_field_changes_the_challenge(
    what: str, ops: list[tuple[str, Any]], protocol: str, version: int
) -> None:
    assert _challenge(ops, protocol, version) != _challenge(BASE)


def test_absorbs_after_a_squeeze_continue_the_chain() -> None:
    a = Transcript("p", version=1)
    b = Transcript("p", version=1)
    first = a.challenge_bytes("c", 32)
    assert first == b.challenge_bytes("c", 32)
    # The same label asked again gives a new value: the first squeeze is in the chain.
    assert a.clone().challenge_bytes("c", 32) != first
    # Absorbs after the squeeze still change every later challenge.
    a.append("m", b"1")
    b.append("m", b"2")
    assert a.challenge_bytes("c", 32) != b.challenge_bytes("c", 32)


def test_clone_is_independent() -> None:
    t = Transcript("p", version=1)
    t.append("m", b"shared")
    fork = t.clone()
    assert repr(fork) == repr(t) == "Transcript('p', version=1)"
    assert (fork.protocol, fork.version) == ("p", 1)
    assert fork.challenge_bytes("c", 16) == t.clone().challenge_bytes("c", 16)
    fork.append("extra", b"x")
    assert fork.challenge_bytes("c", 16) != t.challenge_bytes("c", 16)


def test_challenge_lengths_are_domain_separated() -> None:
    """A shorter challenge is not a prefix of a longer one (the length is absorbed)."""
    short = Transcript("p", version=1).challenge_bytes("c", 16)
    long = Transcript("p", version=1).challenge_bytes("c", 32)
    assert long[:16] != short


# An absorb operation: (label, data); labels are printable ASCII.
labels = st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7E), min_size=1)
op_lists = st.lists(st.tuples(labels, st.binary(max_size=16)), max_size=5)


@given(a=op_lists, b=op_lists)
def test_different_absorb_sequences_give_different_challenges(
    a: list[tuple[str, bytes]], b: list[tuple[str, bytes]]
) -> None:
    def run(ops: list[tuple[str, bytes]]) -> bytes:
        t = Transcript("p", version=1)
        for label, data in ops:
            if label.startswith("privkit/"):
                label = "x" + label
            t.append(label, data)
        return t.challenge_bytes("c", 32)

    def norm(ops: list[tuple[str, bytes]]) -> list[tuple[str, bytes]]:
        return [("x" + lb if lb.startswith("privkit/") else lb, d) for lb, d in ops]

    assert (run(a) == run(b)) == (norm(a) == norm(b))


@given(label=labels, data=st.binary(max_size=20), cut=st.integers(0, 20))
def test_label_and_data_boundaries_cannot_slide(label: str, data: bytes, cut: int) -> None:
    """Moving bytes from the data into the label, or splitting one absorb into two,
    changes the challenge."""
    if label.startswith("privkit/"):
        label = "x" + label
    cut = min(cut, len(data))
    one = Transcript("p", version=1)
    one.append(label, data)
    two = Transcript("p", version=1)
    two.append(label, data[:cut])
    two.append(label, data[cut:])
    assert one.challenge_bytes("c", 32) != two.challenge_bytes("c", 32)
    first = data[:1].decode("latin-1")
    if data and first.isascii() and first.isprintable():
        three = Transcript("p", version=1)
        three.append(label + first, data[1:])
        again = Transcript("p", version=1)
        again.append(label, data)
        assert three.challenge_bytes("c", 32) != again.challenge_bytes("c", 32)


@given(st.binary(min_size=1, max_size=8))
def test_scalar_is_reduced(data: bytes) -> None:
    t = Transcript("p", version=1)
    t.append("m", data)
    assert 0 <= t.challenge_scalar("s") < GROUP_ORDER


def test_group_order() -> None:
    assert GROUP_ORDER == 2**252 + 27742317777372353535851937790883648493
    assert GROUP_ORDER.bit_length() == 253


# --------------------------------------------------------------------------- misuse


@pytest.mark.parametrize("label", ["", "caf\u00e9", "new\nline", 5, b"bytes", None])
def test_bad_labels(label: object) -> None:
    t = Transcript("p", version=1)
    with pytest.raises(ParameterError):
        t.append(label, b"")  # type: ignore[arg-type]
    with pytest.raises(ParameterError):
        t.challenge_bytes(label, 32)  # type: ignore[arg-type]
    with pytest.raises(ParameterError):
        Transcript(label, version=1)  # type: ignore[arg-type]


def test_reserved_labels_are_refused() -> None:
    t = Transcript("p", version=1)
    with pytest.raises(ParameterError, match="reserved"):
        t.append("privkit/round", b"\x00" * 8)
    with pytest.raises(ParameterError, match="reserved"):
        t.append_value("privkit/statement", b"")
    t.append("privkit-not-reserved", b"")  # only the "privkit/" prefix is reserved


def test_bad_arguments() -> None:
    t = Transcript("p", version=1)
    for version in (-1, 2**64, True, 1.0, "1"):
        with pytest.raises(ParameterError):
            Transcript("p", version=version)  # type: ignore[arg-type]
    for n in (0, -1, MAX_CHALLENGE_BYTES + 1, True, 2.0):
        with pytest.raises(ParameterError):
            t.challenge_bytes("c", n)  # type: ignore[arg-type]
    with pytest.raises(ParameterError):
        t.append("m", "text")  # type: ignore[arg-type]
    for r in (-1, 2**64, False):
        with pytest.raises(ParameterError):
            t.bind_round(r)
    for party in (True, 1.5, None, [1]):
        with pytest.raises(ParameterError):
            t.bind_party(party)  # type: ignore[arg-type]
    for generators in (b"GH", "GH", 3, ["G"]):
        with pytest.raises(ParameterError):
            t.bind_generators(generators)  # type: ignore[arg-type]
    with pytest.raises(ParameterError):
        t.bind_statement(object())  # type: ignore[arg-type]
    assert len(t.challenge_bytes("c", MAX_CHALLENGE_BYTES)) == MAX_CHALLENGE_BYTES


def test_docstring_examples() -> None:
    import doctest

    import privkit.zk.transcript

    result = doctest.testmod(privkit.zk.transcript)
    assert result.attempted >= 3
    assert result.failed == 0


def test_docs_examples_run() -> None:
    """The ``# example: ...`` blocks of docs/zk-commitments.md run as written."""
    import pathlib
    import re

    page = pathlib.Path(__file__).resolve().parent.parent / "docs" / "zk-commitments.md"
    blocks = re.findall(
        r"^```python\n(# example: (\S+)\n.*?)^```", page.read_text("utf-8"), re.M | re.S
    )
    assert {"hashcommit", "merkle", "transcript"} <= {name for _, name in blocks}
    for code, name in blocks:
        exec(compile(code, f"zk-commitments.md#{name}", "exec"), {"__name__": f"docs_{name}"})
