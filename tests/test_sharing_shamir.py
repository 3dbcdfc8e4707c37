"""Shamir t-of-n sharing: round trips, the big-int oracle, errors, wire format, statistics."""

from __future__ import annotations

import contextlib
import pathlib
import re
import struct

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from reference import field as ref

from privkit import wire
from privkit.errors import DecodeError, ParameterError, VerificationError
from privkit.sharing import shamir
from privkit.sharing.shamir import Share

P = 2**61 - 1
SOME = settings(max_examples=60, deadline=None)


def u64(values: list[int]) -> np.ndarray[tuple[int, ...], np.dtype[np.uint64]]:
    return np.array(values, dtype=np.uint64)


@st.composite
def params(draw: st.DrawFn, max_n: int = 9) -> tuple[int, int]:
    n = draw(st.integers(1, max_n))
    return draw(st.integers(1, n)), n


def field_vector(seed: int, length: int) -> np.ndarray[tuple[int, ...], np.dtype[np.uint64]]:
    # Test data, not secrets: a seeded Generator, with edge values mixed in.
    rng = np.random.default_rng(seed)
    v = rng.integers(0, P, size=length, dtype=np.uint64)
    if length:
        v[rng.integers(0, length, size=min(length, 5))] = rng.choice(
            u64([0, 1, P - 1, 2**60]), size=min(length, 5)
        )
    return v


# --------------------------------------------------------------------------- round trips


@SOME
@given(
    secret=st.one_of(
        st.binary(max_size=100),
        st.binary(max_size=30).map(lambda b: b + bytes(8)),  # trailing zero bytes
        st.binary(max_size=30).map(lambda b: b + b"\xff" * 7),
    ),
    tn=params(),
    data=st.data(),
)
def test_any_threshold_subset_reconstructs_a_byte_secret(
    secret: bytes, tn: tuple[int, int], data: st.DataObject
) -> None:
    t, n = tn
    shares = shamir.split(secret, threshold=t, n=n)
    assert [s.index for s in shares] == list(range(1, n + 1))
    assert all(s.threshold == t and s.secret_bytes == len(secret) for s in shares)
    assert all(s.values.size == -(-len(secret) // 7) for s in shares)
    subset = data.draw(st.permutations(shares))[: data.draw(st.integers(t, n))]
    got = shamir.combine(subset)
    assert isinstance(got, bytes)
    assert got == secret
    # The oracle: textbook Lagrange interpolation with Python ints, on the first t shares.
    indexed = [(s.index, [int(v) for v in s.values]) for s in subset[:t]]
    assert ref.combine(indexed, len(secret)) == secret


@SOME
@given(
    length=st.one_of(st.integers(0, 3), st.integers(0, 500)),
    seed=st.integers(0, 2**32 - 1),
    tn=params(),
    data=st.data(),
)
def test_any_threshold_subset_reconstructs_a_field_vector(
    length: int, seed: int, tn: tuple[int, int], data: st.DataObject
) -> None:
    t, n = tn
    secret = field_vector(seed, length)
    shares = shamir.split(secret, threshold=t, n=n)
    assert all(s.secret_bytes is None and s.values.dtype == np.uint64 for s in shares)
    subset = data.draw(st.permutations(shares))[: data.draw(st.integers(t, n))]
    got = shamir.combine(subset)
    assert isinstance(got, np.ndarray)
    assert got.dtype == np.uint64
    np.testing.assert_array_equal(got, secret)
    got[:] = 0  # the result is the caller's own array
    np.testing.assert_array_equal(shamir.combine(subset), secret)


@SOME
@given(length=st.integers(0, 40), seed=st.integers(0, 2**32 - 1), tn=params(max_n=7))
def test_all_shares_lie_on_one_polynomial_of_degree_below_t(
    length: int, seed: int, tn: tuple[int, int]
) -> None:
    t, n = tn
    secret = field_vector(seed, length)
    shares = shamir.split(secret, threshold=t, n=n)
    base = [(s.index, [int(v) for v in s.values]) for s in shares[:t]]
    assert ref.interpolate(base, 0) == [int(v) for v in secret]
    for s in shares[t:]:
        assert ref.interpolate(base, s.index) == [int(v) for v in s.values]


def test_chunking_is_seven_byte_little_endian() -> None:
    secret = bytes(range(1, 16))  # 15 bytes: chunks of 7, 7, 1
    shares = shamir.split(secret, threshold=1, n=2)  # t = 1: every share is the secret
    assert [int(v) for v in shares[0].values] == ref.chunks(secret)
    assert int(shares[0].values[0]) == int.from_bytes(secret[:7], "little")
    assert int(shares[1].values[2]) == 15
    assert shamir.CHUNK_BYTES == 7
    assert shamir.PRIME == P


@pytest.mark.parametrize("secret", [b"", b"\x00", bytes(7), bytes(8), b"\xff" * 7, b"a" * 64])
def test_edge_byte_secrets(secret: bytes) -> None:
    for t, n in [(1, 1), (1, 3), (2, 2), (3, 5)]:
        shares = shamir.split(bytearray(secret), threshold=t, n=n)
        assert shamir.combine(shares) == secret
        assert shamir.combine(shares[::-1][:t]) == secret
        assert shamir.combine(shares, check=False) == secret


def test_memoryview_secret_and_extreme_field_values() -> None:
    assert shamir.combine(shamir.split(memoryview(b"abc"), threshold=2, n=2)) == b"abc"
    secret = u64([P - 1] * 9 + [0] * 9)
    np.testing.assert_array_equal(shamir.combine(shamir.split(secret, threshold=5, n=9)), secret)


def test_share_values_are_read_only() -> None:
    share = shamir.split(b"secret", threshold=2, n=3)[0]
    with pytest.raises(ValueError, match="read-only"):
        share.values[0] = 1
    with pytest.raises(AttributeError):
        share.index = 5  # type: ignore[misc]


# --------------------------------------------------------------------------- errors


def test_too_few_shares() -> None:
    shares = shamir.split(b"top secret", threshold=3, n=5)
    with pytest.raises(ParameterError, match=r"need 3 shares .*got 2"):
        shamir.combine(shares[:2])
    with pytest.raises(ParameterError, match="at least 1 share"):
        shamir.combine([])


def test_duplicate_indices() -> None:
    shares = shamir.split(b"top secret", threshold=2, n=5)
    with pytest.raises(ParameterError, match="index 1 appears more than once"):
        shamir.combine([shares[0], shares[0]])
    with pytest.raises(ParameterError, match="index 2 appears more than once"):
        shamir.combine([shares[0], shares[1], shares[2], shares[1]])


def test_disagreeing_shares() -> None:
    a = shamir.split(b"x" * 14, threshold=2, n=3)
    b = shamir.split(b"x" * 14, threshold=3, n=3)
    c = shamir.split(b"x" * 13, threshold=2, n=3)
    d = shamir.split(b"x" * 21, threshold=2, n=3)
    e = shamir.split(u64([1, 2]), threshold=2, n=3)
    for other in (b, c, d, e):
        with pytest.raises(ParameterError, match="must agree on threshold, length"):
            shamir.combine([a[0], other[1]])


@pytest.mark.parametrize(
    "bad", [None, b"bytes", "str", 5, [b"not a share"], (np.zeros(2, np.uint64),)]
)
def test_combine_refuses_non_shares(bad: object) -> None:
    with pytest.raises(ParameterError):
        shamir.combine(bad)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"threshold": 0, "n": 3}, r"threshold must be an int in \[1, 4294967295\]"),
        ({"threshold": 4, "n": 3}, r"threshold must be in \[1, n\] = \[1, 3\]"),
        ({"threshold": 1, "n": 0}, r"n must be an int in \[1, 4294967295\]"),
        ({"threshold": 1, "n": 2**32}, r"n must be an int in \[1, 4294967295\]"),
        ({"threshold": True, "n": 3}, "threshold must be an int"),
        ({"threshold": 2, "n": 3.0}, "n must be an int"),
        ({"threshold": "2", "n": 3}, "threshold must be an int"),
    ],
)
def test_split_refuses_bad_parameters(kwargs: dict[str, object], match: str) -> None:
    with pytest.raises(ParameterError, match=match):
        shamir.split(b"s", **kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "secret",
    [
        "a str",
        [1, 2, 3],
        np.zeros(3, np.uint32),
        np.zeros(3, np.int64),
        np.zeros((2, 2), np.uint64),
        u64([0, P]),
        u64([2**64 - 1]),
    ],
)
def test_split_refuses_bad_secrets(secret: object) -> None:
    with pytest.raises(ParameterError, match="secret"):
        shamir.split(secret, threshold=1, n=2)  # type: ignore[arg-type]


def test_numpy_integer_parameters_are_accepted() -> None:
    shares = shamir.split(b"ok", threshold=np.int64(2), n=np.uint8(3))  # type: ignore[arg-type]
    assert shamir.combine(shares) == b"ok"
    assert type(shares[0].threshold) is int


# --------------------------------------------------------------------------- consistency


def tampered(share: Share, coordinate: int = 0, delta: int = 1) -> Share:
    values = share.values.copy()
    values[coordinate] = (int(values[coordinate]) + delta) % P
    return Share(share.index, share.threshold, values, share.secret_bytes)


@SOME
@given(
    secret=st.binary(min_size=1, max_size=60),
    tn=params(max_n=8).filter(lambda p: p[0] < p[1]),
    data=st.data(),
)
def test_a_tampered_extra_share_is_detected_and_named(
    secret: bytes, tn: tuple[int, int], data: st.DataObject
) -> None:
    t, n = tn
    shares = shamir.split(secret, threshold=t, n=n)
    victim = data.draw(st.integers(t, n - 1))
    coordinate = data.draw(st.integers(0, shares[0].values.size - 1))
    delta = data.draw(st.integers(1, P - 1))
    shares[victim] = tampered(shares[victim], coordinate, delta)
    with pytest.raises(VerificationError, match=rf"index {victim + 1} do not lie"):
        shamir.combine(shares)
    # Without the check, or without the extra share, the first t reconstruct correctly.
    assert shamir.combine(shares, check=False) == secret
    assert shamir.combine(shares[:t]) == secret


@SOME
@given(secret=st.binary(min_size=1, max_size=60), tn=params(max_n=6), data=st.data())
def test_a_tampered_share_among_the_first_t_never_goes_unnoticed_silently(
    secret: bytes, tn: tuple[int, int], data: st.DataObject
) -> None:
    # Shamir alone does not authenticate: a wrong share among the t used gives an
    # error (impossible chunk or padding) or a different secret -- never the original.
    t, n = tn
    shares = shamir.split(secret, threshold=t, n=n)
    victim = data.draw(st.integers(0, t - 1))
    shares[victim] = tampered(shares[victim], data.draw(st.integers(0, shares[0].values.size - 1)))
    try:
        got = shamir.combine(shares[:t])
    except VerificationError:
        return
    assert got != secret


def test_byte_secret_corruption_is_usually_caught_by_range_checks() -> None:
    secret = b"0123456789abcdef0123456789abcdef"
    rng = np.random.default_rng(5)  # test data, not secret
    caught = 0
    messages: set[str] = set()
    for _ in range(200):
        shares = shamir.split(secret, threshold=3, n=3)
        shares[1] = tampered(shares[1], 2, delta=int(rng.integers(1, P)))
        try:
            shamir.combine(shares)
        except VerificationError as exc:
            messages.add(str(exc).split(":")[0])
            caught += 1
    # A random error in a chunk leaves it below 2^56 with probability 2^-5.
    assert caught >= 150
    assert messages == {"inconsistent shares"}


def test_shares_of_two_splittings_are_detected_with_extras() -> None:
    a = shamir.split(b"same secret", threshold=3, n=6)
    b = shamir.split(b"same secret", threshold=3, n=6)
    mixed = [a[0], a[1], b[2], a[3], a[4]]
    with pytest.raises(VerificationError, match="inconsistent shares"):
        shamir.combine(mixed)
    # Exactly t shares cannot be checked: the mix interpolates to *some* polynomial,
    # which is not the secret's (it may or may not decode; the docs say so).
    with contextlib.suppress(VerificationError):
        assert shamir.combine(mixed[:3]) != b"same secret"


def test_field_vector_mixed_splittings_detected() -> None:
    secret = u64(list(range(20)))
    a = shamir.split(secret, threshold=2, n=4)
    b = shamir.split(secret, threshold=2, n=4)
    with pytest.raises(VerificationError, match="index 3, 4 do not lie"):
        shamir.combine([a[0], a[1], b[2], b[3]])


# --------------------------------------------------------------------------- batching


@SOME
@given(
    secrets=st.lists(st.binary(max_size=40), max_size=12),
    tn=params(max_n=7),
    data=st.data(),
)
def test_split_many_and_combine_many_agree_with_one_at_a_time(
    secrets: list[bytes], tn: tuple[int, int], data: st.DataObject
) -> None:
    t, n = tn
    all_shares = shamir.split_many(secrets, threshold=t, n=n)
    assert len(all_shares) == len(secrets)
    assert all(len(shares) == n for shares in all_shares)
    # Same index set for all groups (one batch) ...
    same = data.draw(st.permutations(range(n)))[: data.draw(st.integers(t, n))]
    groups = [[shares[i] for i in same] for shares in all_shares]
    assert shamir.combine_many(groups) == secrets
    assert [shamir.combine(g) for g in groups] == secrets
    # ... and a different subset per group (the per-group fallback).
    groups = [
        data.draw(st.permutations(shares))[: data.draw(st.integers(t, n))] for shares in all_shares
    ]
    assert shamir.combine_many(groups) == secrets


def test_split_many_mixes_bytes_and_field_vectors() -> None:
    vec = u64([5, P - 1, 0])
    out = shamir.split_many([b"abc", vec, b""], threshold=2, n=3)
    got = shamir.combine_many([out[0][1:], out[1][::-1], out[2][:2]])
    assert got[0] == b"abc"
    np.testing.assert_array_equal(got[1], vec)
    assert got[2] == b""
    assert shamir.split_many([], threshold=2, n=3) == []
    assert shamir.combine_many([]) == []


def test_combine_many_same_base_different_extras_and_tamper() -> None:
    all_shares = shamir.split_many([b"one", b"two", b"three!!!"], threshold=2, n=5)
    groups = [
        [all_shares[0][0], all_shares[0][1], all_shares[0][4]],
        [all_shares[1][1], all_shares[1][0]],
        [all_shares[2][0], all_shares[2][1], all_shares[2][2], all_shares[2][3]],
    ]
    assert shamir.combine_many(groups) == [b"one", b"two", b"three!!!"]
    groups[2][3] = tampered(groups[2][3])
    with pytest.raises(VerificationError, match=r"groups\[2\]: .*index 4 do not lie"):
        shamir.combine_many(groups)
    assert shamir.combine_many(groups, check=False) == [b"one", b"two", b"three!!!"]


def test_combine_many_names_the_bad_group() -> None:
    a = shamir.split_many([b"a", b"b"], threshold=2, n=3)
    with pytest.raises(ParameterError, match=r"groups\[1\]: need 2 shares"):
        shamir.combine_many([a[0], a[1][:1]])
    with pytest.raises(ParameterError, match="sequence of sequences"):
        shamir.combine_many(b"nope")  # type: ignore[arg-type]
    with pytest.raises(ParameterError, match="secrets must be a sequence"):
        shamir.split_many(b"nope", threshold=1, n=1)  # type: ignore[arg-type]
    with pytest.raises(ParameterError, match=r"secrets\[1\]"):
        shamir.split_many([b"ok", 7], threshold=1, n=1)  # type: ignore[list-item]


# --------------------------------------------------------------------------- Lagrange


@SOME
@given(
    xs=st.lists(st.integers(0, P - 1), min_size=0, max_size=12, unique=True),
    at=st.one_of(st.just(0), st.integers(0, P - 1)),
)
def test_lagrange_coefficients_match_the_textbook_formula(xs: list[int], at: int) -> None:
    got = shamir.lagrange_coefficients(xs, at)
    if at in xs:
        assert got == [int(x == at) for x in xs]
    else:
        assert got == ref.lagrange(xs, at)
    assert all(0 <= c < P for c in got)


def test_lagrange_coefficients_refuse_bad_points() -> None:
    assert shamir.lagrange_coefficients([1, 2, 3]) == [3, P - 3, 1]
    with pytest.raises(ParameterError, match="distinct"):
        shamir.lagrange_coefficients([1, 2, 1])
    with pytest.raises(ParameterError, match="field element"):
        shamir.lagrange_coefficients([1, P])
    with pytest.raises(ParameterError, match="field element"):
        shamir.lagrange_coefficients([1, -1])
    with pytest.raises(ParameterError, match="must be an int"):
        shamir.lagrange_coefficients([1, True])
    with pytest.raises(ParameterError, match="at must be"):
        shamir.lagrange_coefficients([1, 2], at=P)
    with pytest.raises(ParameterError, match="sequence"):
        shamir.lagrange_coefficients(5)  # type: ignore[arg-type]


# --------------------------------------------------------------------------- Share object


def test_repr_does_not_leak_values() -> None:
    secret = u64([1234567890123, 987654321987])
    for share in shamir.split(secret, threshold=2, n=3):
        text = repr(share) + str(share)
        assert text == (f"Share(index={share.index}, threshold=2, length=2, secret_bytes=None)" * 2)
        for v in share.values:
            assert str(int(v)) not in text
            assert hex(int(v))[2:] not in text


def test_equality_and_hash() -> None:
    shares = shamir.split(b"abc", threshold=2, n=3)
    copy = Share(shares[0].index, 2, shares[0].values.copy(), 3)
    assert copy == shares[0]
    assert hash(copy) == hash(shares[0])
    assert copy != shares[1]
    assert tampered(copy) != copy
    assert Share(1, 2, copy.values.copy(), None) != copy
    assert Share(1, 3, copy.values.copy(), 3) != copy
    assert copy != "not a share"
    assert len({copy, shares[0], shares[1]}) == 2


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"index": 0}, "index"),
        ({"index": 2**32}, "index"),
        ({"index": True}, "index"),
        ({"threshold": 0}, "threshold"),
        ({"values": np.zeros(1, np.uint32)}, "values"),
        ({"values": np.zeros((1, 1), np.uint64)}, "values"),
        ({"values": [0]}, "values"),
        ({"values": u64([P])}, "field element"),
        ({"secret_bytes": 8}, r"secret_bytes must be an int in \[0, 7\]"),
        ({"secret_bytes": 0}, "chunks"),
        ({"secret_bytes": -1}, "secret_bytes"),
        ({"secret_bytes": 3.0}, "secret_bytes"),
    ],
)
def test_share_constructor_validates(kwargs: dict[str, object], match: str) -> None:
    fields: dict[str, object] = {
        "index": 1,
        "threshold": 1,
        "values": u64([5]),
        "secret_bytes": 7,
    }
    fields.update(kwargs)
    with pytest.raises(ParameterError, match=match):
        Share(**fields)  # type: ignore[arg-type]


def test_share_constructor_copies_writeable_values() -> None:
    values = u64([1, 2])
    share = Share(1, 1, values)
    values[0] = 99
    assert int(share.values[0]) == 1
    assert not share.values.flags.writeable


# --------------------------------------------------------------------------- wire format


@SOME
@given(
    secret=st.one_of(st.binary(max_size=50), st.integers(0, 60).map(lambda k: field_vector(k, k))),
    tn=params(max_n=5),
)
def test_share_bytes_round_trip(secret: bytes | np.ndarray, tn: tuple[int, int]) -> None:  # type: ignore[type-arg]
    t, n = tn
    for share in shamir.split(secret, threshold=t, n=n):
        data = share.to_bytes()
        again = Share.from_bytes(data)
        assert again == share
        assert again.secret_bytes == share.secret_bytes
        assert not again.values.flags.writeable
        assert again.to_bytes() == data
        msg = wire.decode(data)
        assert msg.type_tag == wire.MessageType.SHAMIR_SHARE == 0x0201
        assert msg.fingerprint == shamir.FINGERPRINT


def body(**overrides: object) -> dict[str, object]:
    fields: dict[str, object] = {
        "index": 2,
        "threshold": 2,
        "secret_bytes": 9,
        "values": u64([1, 2]),
    }
    fields.update(overrides)
    return {k: v for k, v in fields.items() if v is not _MISSING}


_MISSING = object()


def forge(content: object, *, tag: int = 0x0201, fp: bytes = shamir.FINGERPRINT) -> bytes:
    return wire.encode(tag, content, fingerprint=fp)  # type: ignore[arg-type]


def test_forge_baseline_decodes() -> None:
    share = Share.from_bytes(forge(body()))
    assert (share.index, share.threshold, share.secret_bytes) == (2, 2, 9)


@pytest.mark.parametrize(
    "data",
    [
        forge(body(values=u64([1, P]))),
        forge(body(values=u64([2**64 - 1, 0]))),
        forge(body(values=np.array([1, 2], np.uint32))),
        forge(body(values=np.array([1, 2], np.int64))),
        forge(body(values=u64([[1, 2]]))),
        forge(body(values=[1, 2])),
        forge(body(index=0)),
        forge(body(index=2**32)),
        forge(body(index=True)),
        forge(body(index=-1)),
        forge(body(index="2")),
        forge(body(threshold=0)),
        forge(body(threshold=2**32)),
        forge(body(threshold=1.0)),
        forge(body(secret_bytes=15)),
        forge(body(secret_bytes=7)),
        forge(body(secret_bytes=-1)),
        forge(body(secret_bytes=False)),
        forge(body(secret_bytes=b"9")),
        forge(body(index=_MISSING)),
        forge({**body(), "extra": 1}),
        forge([2, 2, 9, u64([1, 2])]),
        forge(None),
        forge(body(), tag=0x0210),
        forge(body(), fp=bytes(16)),
        b"",
        b"\x89PKW",
    ],
)
def test_from_bytes_refuses_hostile_input(data: bytes) -> None:
    with pytest.raises(DecodeError):
        Share.from_bytes(data)


def test_from_bytes_refuses_every_truncation_and_extension() -> None:
    data = shamir.split(b"a secret of some bytes", threshold=2, n=2)[0].to_bytes()
    for cut in range(len(data)):
        with pytest.raises(DecodeError):
            Share.from_bytes(data[:cut])
    with pytest.raises(DecodeError):
        Share.from_bytes(data + b"\x00")
    with pytest.raises(DecodeError, match="too large"):
        Share.from_bytes(data, max_size=len(data) - 1)


@settings(max_examples=300, deadline=None)
@given(data=st.data())
def test_from_bytes_on_mutated_input_only_raises_decode_error(data: st.DataObject) -> None:
    original = bytearray(shamir.split(b"0123456789abcdef", threshold=3, n=4)[2].to_bytes())
    for _ in range(data.draw(st.integers(1, 4))):
        pos = data.draw(st.integers(0, len(original) - 1))
        original[pos] = data.draw(st.integers(0, 255))
    try:
        share = Share.from_bytes(bytes(original))
    except DecodeError:
        return
    # Whatever decodes is a valid share.
    assert 1 <= share.index < 2**32
    assert share.threshold >= 1
    assert share.values.size == 0 or int(share.values.max()) < P


def test_values_field_is_little_endian_on_the_wire() -> None:
    share = Share(3, 1, u64([0x0102030405060708]), None)
    assert struct.pack("<Q", 0x0102030405060708) in share.to_bytes()


# --------------------------------------------------------------------------- randomness


def test_random_field_rejects_p_and_stays_uniform(monkeypatch: pytest.MonkeyPatch) -> None:
    real = shamir.prg.random_ring
    calls: list[int] = []

    def rigged(length: int, *, dtype: object = np.uint32) -> np.ndarray:  # type: ignore[type-arg]
        calls.append(length)
        out = real(length, dtype=dtype)
        if len(calls) <= 2:  # the first draws: every other word masks to exactly p
            out[::2] = np.uint64(2**64 - 1)
        return out

    monkeypatch.setattr(shamir.prg, "random_ring", rigged)
    got = shamir._random_field(1001)
    assert got.shape == (1001,)
    assert int(got.max()) < P
    assert calls[0] == 1001
    assert calls[1] == 501  # redraw only the rejected positions
    assert calls[2] == 251  # rigged again, so redrawn again
    assert len(calls) == 3


def test_one_share_is_independent_of_the_secret() -> None:
    # t - 1 = 1 share of a 2-of-3 sharing must look uniform in [0, p) whatever the
    # secret: compare the share distributions of two extreme secrets (all zero and all
    # p - 1) with a 16-bin chi-square test each.  Randomness is the OS CSPRNG, so the
    # bounds are generous (a false alarm has probability below 1e-6).
    bins = 16
    for secret in (np.zeros(4000, np.uint64), np.full(4000, P - 1, np.uint64)):
        share = shamir.split(secret, threshold=2, n=3)[1].values
        counts = np.bincount((share >> np.uint64(57)).astype(np.int64), minlength=bins)
        expected = share.size / bins
        chi2 = float(((counts - expected) ** 2 / expected).sum())
        assert chi2 < 60, chi2  # 15 degrees of freedom
        assert abs(float(share.mean()) / P - 0.5) < 0.03


def test_t_minus_one_shares_of_different_secrets_look_alike() -> None:
    # 4-of-6: any 3 shares of b"\x00"*7 and of b"\xff"*7 have the same distribution.
    samples: dict[bytes, list[float]] = {bytes(7): [], b"\xff" * 7: []}
    for secret, means in samples.items():
        for _ in range(300):
            shares = shamir.split(secret, threshold=4, n=6)
            means.extend(float(s.values[0]) / P for s in shares[:3])
    for means in samples.values():
        assert abs(np.mean(means) - 0.5) < 0.05
        assert abs(np.var(means) - 1 / 12) < 0.02


# --------------------------------------------------------------------------- docs


def test_docs_examples_run() -> None:
    text = (pathlib.Path(__file__).resolve().parent.parent / "docs" / "sharing.md").read_text(
        encoding="utf-8"
    )
    blocks = re.findall(r"^```python\n(.*?)^```", text, re.MULTILINE | re.DOTALL)
    assert blocks
    for i, code in enumerate(blocks):
        exec(compile(code, f"sharing.md#{i}", "exec"), {"__name__": f"docs_sharing_{i}"})
