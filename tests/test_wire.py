"""Tests of privkit.wire: value codec, envelope, fingerprints, tag registry, spec example."""

from __future__ import annotations

import collections
import hashlib
import math
import re
import struct
import tracemalloc
import types
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from privkit import wire
from privkit.errors import DecodeError, ParameterError, PrivkitError
from privkit.wire import (
    FINGERPRINT_SIZE,
    FORMAT_VERSION,
    HEADER_SIZE,
    MAGIC,
    NO_FINGERPRINT,
    Message,
    MessageType,
    ValueLike,
    decode,
    decode_value,
    encode,
    encode_value,
    fingerprint,
)
from privkit.wire import tags as wire_tags

DOCS = Path(__file__).resolve().parent.parent / "docs" / "wire-format.md"

WIRE_DTYPES = ["?", "u1", "i1", "<u2", "<i2", "<u4", "<i4", "<u8", "<i8", "<f2", "<f4", "<f8"]
DTYPE_CODES = dict(zip(WIRE_DTYPES, range(1, 13), strict=True))


# ----------------------------------------------------------------------------- helpers


def norm(v: Any) -> Any:
    """A comparable, type-tagged form of a value (floats and arrays compared bit-exactly)."""
    if v is None:
        return ("none",)
    if isinstance(v, bool):
        return ("bool", v)
    if isinstance(v, int):
        return ("int", int(v))
    if isinstance(v, float):
        return ("float", struct.pack("<d", v))
    if isinstance(v, bytes | bytearray | memoryview):
        return ("bytes", bytes(v))
    if isinstance(v, str):
        return ("str", v)
    if isinstance(v, list | tuple):
        return ("list", tuple(norm(x) for x in v))
    if isinstance(v, dict):
        return ("dict", tuple((k, norm(v[k])) for k in sorted(v)))
    if isinstance(v, np.ndarray):
        le = v.dtype.newbyteorder("<") if v.dtype.byteorder == ">" else v.dtype
        return ("ndarray", le.str, v.shape, np.ascontiguousarray(v.astype(le)).tobytes())
    raise AssertionError(f"not a value: {type(v)}")


def u64(n: int) -> bytes:
    return struct.pack("<Q", n)


def header(
    *,
    magic: bytes = MAGIC,
    version: int = FORMAT_VERSION,
    tag: int = MessageType.TEST,
    fp: bytes = NO_FINGERPRINT,
    length: int,
) -> bytes:
    return magic + struct.pack("<HH", version, tag) + fp + u64(length)


wire_arrays = st.sampled_from([*WIRE_DTYPES, ">u2", ">i4", ">u8", ">f4", ">f8"]).flatmap(
    lambda dt: hnp.arrays(
        dtype=np.dtype(dt),
        shape=hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=4),
    )
)
scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**64 - 1)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.binary(max_size=24)
    | st.text(max_size=24)
)
values = st.recursive(
    scalars | wire_arrays,
    lambda children: (
        st.lists(children, max_size=5)
        | st.lists(children, max_size=5).map(tuple)
        | st.dictionaries(st.text(max_size=8), children, max_size=5)
    ),
    max_leaves=20,
)


# ----------------------------------------------------------------------------- API


def test_public_api_and_constants() -> None:
    assert set(wire.__all__) == {
        "FINGERPRINT_SIZE",
        "FORMAT_VERSION",
        "HEADER_SIZE",
        "MAGIC",
        "NO_FINGERPRINT",
        "Message",
        "MessageType",
        "Value",
        "ValueLike",
        "decode",
        "decode_value",
        "encode",
        "encode_value",
        "fingerprint",
    }
    for name in wire.__all__:
        assert hasattr(wire, name)
    assert MAGIC == b"\x89PKW"
    assert FORMAT_VERSION == 1
    assert HEADER_SIZE == 32
    assert FINGERPRINT_SIZE == 16
    assert bytes(16) == NO_FINGERPRINT
    assert wire.MessageType is wire_tags.MessageType


def test_decode_error_is_value_error() -> None:
    with pytest.raises(ValueError, match="magic"):
        decode(b"XXXX" + bytes(28))
    assert issubclass(DecodeError, ValueError)
    assert issubclass(DecodeError, PrivkitError)
    assert issubclass(ParameterError, ValueError)


# ----------------------------------------------------------------------------- scalars


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, b"\x00"),
        (False, b"\x01"),
        (True, b"\x02"),
        (0, b"\x03" + bytes(8)),
        (1, b"\x03\x01" + bytes(7)),
        (2**64 - 1, b"\x03" + b"\xff" * 8),
        (-1, b"\x04" + b"\xff" * 8),
        (-(2**63), b"\x04" + bytes(7) + b"\x80"),
        (1.5, b"\x05" + struct.pack("<d", 1.5)),
        (b"", b"\x06" + u64(0)),
        (b"ab", b"\x06" + u64(2) + b"ab"),
        ("", b"\x07" + u64(0)),
        ("é", b"\x07" + u64(2) + b"\xc3\xa9"),
        ([], b"\x08" + u64(0)),
        ([None, True], b"\x08" + u64(2) + b"\x00\x02"),
        ({}, b"\x09" + u64(0)),
        ({"a": None}, b"\x09" + u64(1) + u64(1) + b"a\x00"),
    ],
)
def test_exact_encoding(value: Any, expected: bytes) -> None:
    assert encode_value(value) == expected
    assert norm(decode_value(expected)) == norm(value)


@pytest.mark.parametrize(
    "value",
    [
        None,
        True,
        False,
        0,
        1,
        2**63,
        2**64 - 1,
        -1,
        -(2**63),
        0.0,
        -0.0,
        math.inf,
        -math.inf,
        math.nan,
        5e-324,
        1.7976931348623157e308,
        b"",
        b"\x00\xff" * 100,
        "",
        "héllo ☃ 𝄞 \x00",
        [],
        {},
        [[[[]]]],
        {"a": {"b": {"c": [1, "x", b"y", None]}}},
    ],
)
def test_scalar_and_container_round_trip(value: Any) -> None:
    encoded = encode_value(value)
    decoded = decode_value(encoded)
    assert norm(decoded) == norm(value)
    assert type(decoded) is type(value)
    assert encode_value(decoded) == encoded


def test_bool_is_not_int() -> None:
    assert encode_value(True) != encode_value(1)
    assert encode_value(False) != encode_value(0)
    assert decode_value(encode_value(True)) is True
    assert decode_value(encode_value(1)) == 1
    assert type(decode_value(encode_value(1))) is int


@pytest.mark.parametrize("value", [2**64, -(2**63) - 1, 10**30, -(10**30)])
def test_int_out_of_range(value: int) -> None:
    with pytest.raises(ParameterError, match="int"):
        encode_value(value)


def test_int_subclass_encodes_as_int() -> None:
    assert encode_value(MessageType.TEST) == encode_value(0x7F00)


def test_negative_tag_with_non_negative_value_is_rejected() -> None:
    with pytest.raises(DecodeError, match="non-canonical int"):
        decode_value(b"\x04" + u64(5))
    with pytest.raises(DecodeError, match="non-canonical int"):
        decode_value(b"\x04" + u64(0))


def test_float_nan_payload_is_bit_exact() -> None:
    for bits in (0x7FF8000000000001, 0xFFF8DEADBEEF0000, 0x7FF0000000000001):
        raw = b"\x05" + u64(bits)
        value = decode_value(raw)
        assert isinstance(value, float)
        assert math.isnan(value)
        assert encode_value(value) == raw


def test_numpy_scalars_encode_as_python_scalars() -> None:
    assert encode_value(np.float32(1.5)) == encode_value(1.5)
    assert encode_value(np.int16(-3)) == encode_value(-3)
    assert encode_value(np.uint64(2**64 - 1)) == encode_value(2**64 - 1)
    assert encode_value(np.bool_(True)) == encode_value(True)
    if np.dtype(np.longdouble).itemsize > 8:
        with pytest.raises(ParameterError, match="float"):
            encode_value(np.longdouble(1))


def test_bytes_like_encode_as_bytes() -> None:
    expected = encode_value(b"abcdef")
    assert encode_value(bytearray(b"abcdef")) == expected
    assert encode_value(memoryview(b"xabcdefx")[1:-1]) == expected
    # Non-contiguous and non-byte-format memoryviews.
    assert encode_value(memoryview(b"aXbXcXdXeXfX")[::2]) == expected
    ints = np.arange(3, dtype="<u2")
    assert encode_value(ints.data) == encode_value(ints.tobytes())
    decoded = decode_value(encode_value(bytearray(b"q")))
    assert type(decoded) is bytes


def test_list_and_tuple_encode_alike() -> None:
    assert encode_value((1, "a", (2,))) == encode_value([1, "a", [2]])
    assert decode_value(encode_value((1, 2))) == [1, 2]


def test_other_sequences_and_mappings() -> None:
    expected = encode_value([0, 1, 2])
    assert encode_value(range(3)) == expected
    assert encode_value(collections.deque([0, 1, 2])) == expected
    d: dict[str, ValueLike] = {"b": 1, "a": [2]}
    assert encode_value(types.MappingProxyType(d)) == encode_value(d)
    assert encode_value(collections.OrderedDict(reversed(d.items()))) == encode_value(d)
    typed: dict[str, list[int]] = {"ids": [1, 2]}  # a ValueLike, not a Value (invariance)
    assert decode_value(encode_value(typed)) == typed


def test_shared_references_are_not_cycles() -> None:
    shared: list[ValueLike] = [1, {"k": 2}]
    value: list[ValueLike] = [shared, shared, (shared,)]
    assert norm(decode_value(encode_value(value))) == norm(value)


def test_cycles_are_rejected() -> None:
    cyclic: list[Any] = [1]
    cyclic.append(cyclic)
    with pytest.raises(ParameterError, match="cycle"):
        encode_value(cyclic)
    d: dict[str, Any] = {}
    d["self"] = [d]
    with pytest.raises(ParameterError, match="cycle"):
        encode_value(d)


@pytest.mark.parametrize(
    "value",
    [
        {1, 2},
        object(),
        1 + 2j,
        {1: "a"},
        {"ok": {b"k": 1}},
        [frozenset({1})],
        {"a": 1j},
        "\ud800",
        {"\udfff": 1},
    ],
)
def test_unsupported_values(value: Any) -> None:
    with pytest.raises(ParameterError):
        encode_value(value)


def test_invalid_utf8_is_rejected() -> None:
    for bad in (b"\xff", b"\xc3", b"\xed\xa0\x80", b"\xc0\x80", b"a\x80"):
        with pytest.raises(DecodeError, match="UTF-8"):
            decode_value(b"\x07" + u64(len(bad)) + bad)
        with pytest.raises(DecodeError, match="UTF-8"):
            decode_value(b"\x09" + u64(1) + u64(len(bad)) + bad + b"\x00")


@pytest.mark.parametrize("tag", [0x0B, 0x10, 0x7F, 0x80, 0xFF])
def test_unknown_tag(tag: int) -> None:
    with pytest.raises(DecodeError, match="unknown value tag"):
        decode_value(bytes([tag]) + bytes(16))


def test_empty_input_and_trailing_bytes() -> None:
    with pytest.raises(DecodeError, match="truncated"):
        decode_value(b"")
    with pytest.raises(DecodeError, match="trailing bytes"):
        decode_value(b"\x00\x00")
    with pytest.raises(DecodeError, match="trailing bytes"):
        decode_value(encode_value([1, 2]) + b"\x00")


def test_truncated_lengths() -> None:
    with pytest.raises(DecodeError, match="truncated"):
        decode_value(b"\x06" + u64(2**64 - 1) + b"abc")
    with pytest.raises(DecodeError, match="truncated"):
        decode_value(b"\x07" + u64(4) + b"abc")
    with pytest.raises(DecodeError, match="truncated list"):
        decode_value(b"\x08" + u64(2**40) + b"\x00" * 10)
    with pytest.raises(DecodeError, match="truncated dict"):
        decode_value(b"\x09" + u64(2) + u64(1) + b"a\x00" + b"\x00" * 7)
    with pytest.raises(DecodeError, match="truncated"):
        decode_value(b"\x03\x00\x00")


@given(value=values)
@settings(max_examples=300, deadline=None)
def test_every_proper_prefix_is_rejected(value: Any) -> None:
    encoded = encode_value(value)
    for cut in sorted({0, 1, len(encoded) // 2, len(encoded) - 1}):
        if cut < len(encoded):
            with pytest.raises(DecodeError):
                decode_value(encoded[:cut])


# ----------------------------------------------------------------------------- dicts


def test_dict_key_order_is_canonical() -> None:
    keys = ["b", "a", "", "aa", "é", "z", "\U0001d11e", "\uffff", "A"]
    forward = {k: i for i, k in enumerate(keys)}
    backward = {k: forward[k] for k in reversed(keys)}
    assert encode_value(forward) == encode_value(backward)
    decoded = decode_value(encode_value(backward))
    assert isinstance(decoded, dict)
    assert list(decoded) == sorted(keys, key=lambda k: k.encode("utf-8"))
    assert decoded == forward


@given(st.dictionaries(st.text(max_size=6), st.integers(0, 9), max_size=8), st.randoms())
@settings(max_examples=200, deadline=None)
def test_dict_encoding_ignores_insertion_order(d: dict[str, int], rnd: Any) -> None:
    items = list(d.items())
    rnd.shuffle(items)
    assert encode_value(dict(items)) == encode_value(d)


def test_unsorted_or_duplicate_dict_keys_are_rejected() -> None:
    def entry(key: bytes) -> bytes:
        return u64(len(key)) + key + b"\x00"

    ok = b"\x09" + u64(2) + entry(b"a") + entry(b"b")
    assert decode_value(ok) == {"a": None, "b": None}
    with pytest.raises(DecodeError, match="strictly increasing"):
        decode_value(b"\x09" + u64(2) + entry(b"b") + entry(b"a"))
    with pytest.raises(DecodeError, match="strictly increasing"):
        decode_value(b"\x09" + u64(2) + entry(b"a") + entry(b"a"))
    with pytest.raises(DecodeError, match="strictly increasing"):
        decode_value(b"\x09" + u64(2) + entry(b"ab") + entry(b"a"))


# ----------------------------------------------------------------------------- arrays


def assert_fresh_array(arr: Any, like: np.ndarray[Any, Any]) -> None:
    assert isinstance(arr, np.ndarray)
    assert type(arr) is np.ndarray
    assert arr.flags.c_contiguous
    assert arr.flags.writeable
    assert arr.flags.owndata
    assert arr.dtype.byteorder in ("=", "|", "<")
    assert arr.shape == like.shape
    assert norm(arr) == norm(like)


@pytest.mark.parametrize("dt", WIRE_DTYPES)
@pytest.mark.parametrize("shape", [(), (0,), (5,), (2, 3), (3, 0, 2), (1, 1, 1, 2)])
def test_array_round_trip_every_dtype(dt: str, shape: tuple[int, ...]) -> None:
    size = math.prod(shape)
    arr = (np.arange(size) % 2 == 1) if dt == "?" else np.arange(size).astype(dt) * 3
    arr = np.asarray(arr, dtype=dt).reshape(shape)
    encoded = encode_value(arr)
    assert encoded[:3] == bytes([0x0A, DTYPE_CODES[dt], len(shape)])
    assert len(encoded) == 3 + 8 * len(shape) + arr.nbytes
    decoded = decode_value(encoded)
    assert_fresh_array(decoded, arr)
    assert isinstance(decoded, np.ndarray)
    assert decoded.dtype == np.dtype(dt)
    assert encode_value(decoded) == encoded


def test_array_exact_layout() -> None:
    arr = np.array([[1, 2, 3]], dtype="<u2")
    expected = b"\x0a\x04\x02" + u64(1) + u64(3) + b"\x01\x00\x02\x00\x03\x00"
    assert encode_value(arr) == expected


@pytest.mark.parametrize("dt", [">u2", ">i2", ">u4", ">i4", ">u8", ">i8", ">f2", ">f4", ">f8"])
def test_big_endian_arrays_are_written_little_endian(dt: str) -> None:
    big = np.arange(6, dtype=dt).reshape(2, 3)
    little = big.astype(np.dtype(dt).newbyteorder("<"))
    assert encode_value(big) == encode_value(little)
    decoded = decode_value(encode_value(big))
    assert isinstance(decoded, np.ndarray)
    assert decoded.dtype == little.dtype
    np.testing.assert_array_equal(decoded, big)


def test_non_contiguous_arrays() -> None:
    base = np.arange(60, dtype=np.float64).reshape(3, 4, 5)
    for view in (base[:, ::2, 1:], base.T, np.asfortranarray(base), base[::-1], base[..., 2]):
        assert not view.flags.c_contiguous
        expected = encode_value(np.ascontiguousarray(view))
        assert encode_value(view) == expected
        assert_fresh_array(decode_value(expected), view)


@pytest.mark.filterwarnings("ignore::PendingDeprecationWarning")
def test_array_subclasses() -> None:
    mat = np.asmatrix(np.arange(6, dtype=np.int32).reshape(2, 3))
    decoded = decode_value(encode_value(mat))
    assert type(decoded) is np.ndarray
    np.testing.assert_array_equal(decoded, np.asarray(mat))
    with pytest.raises(ParameterError, match="masked"):
        encode_value(np.ma.masked_array([1, 2], mask=[False, True]))


def test_decoded_array_does_not_alias_the_input() -> None:
    buf = bytearray(encode_value(np.arange(4, dtype=np.int64)))
    decoded = decode_value(buf)
    assert isinstance(decoded, np.ndarray)
    buf[-1] ^= 0xFF
    np.testing.assert_array_equal(decoded, np.arange(4))
    decoded[0] = 7  # writable


@pytest.mark.parametrize(
    "dt",
    [
        "O",
        "c8",
        "c16",
        "M8[s]",
        "m8[s]",
        "U3",
        "S3",
        "V4",
        [("a", "<i4"), ("b", "<f8")],
    ],
)
def test_unsupported_dtypes(dt: Any) -> None:
    with pytest.raises(ParameterError, match="dtype"):
        encode_value(np.zeros(2, dtype=dt))


def test_long_double_is_unsupported() -> None:
    if np.dtype(np.longdouble).itemsize <= 8:
        pytest.skip("longdouble is float64 on this platform")
    with pytest.raises(ParameterError, match="dtype"):
        encode_value(np.zeros(2, dtype=np.longdouble))


def test_too_many_dimensions() -> None:
    assert norm(decode_value(encode_value(np.zeros((1,) * 32)))) == norm(np.zeros((1,) * 32))
    try:
        arr = np.zeros((1,) * 33)
    except ValueError:
        pytest.skip("this numpy has at most 32 dimensions")
    with pytest.raises(ParameterError, match="dimensions"):
        encode_value(arr)
    with pytest.raises(DecodeError, match="dimensions"):
        decode_value(b"\x0a\x01\x21" + u64(1) * 33 + b"\x00")


def test_bool_array_bytes_must_be_0_or_1() -> None:
    with pytest.raises(DecodeError, match="bool"):
        decode_value(b"\x0a\x01\x01" + u64(3) + b"\x00\x01\x02")
    with pytest.raises(DecodeError, match="bool"):
        decode_value(b"\x0a\x01\x00" + b"\xff")
    # The encoder normalises a bool view of other bytes, so its output stays decodable.
    odd = np.array([0, 1, 2, 255], dtype=np.uint8).view(np.bool_)
    decoded = decode_value(encode_value(odd))
    assert isinstance(decoded, np.ndarray)
    assert decoded.view(np.uint8).tolist() == [0, 1, 1, 1]
    assert encode_value(odd) == encode_value(np.array([False, True, True, True]))


def test_malformed_array_headers() -> None:
    with pytest.raises(DecodeError, match="dtype code"):
        decode_value(b"\x0a\x00\x00")
    with pytest.raises(DecodeError, match="dtype code"):
        decode_value(b"\x0a\x0d\x00" + bytes(8))
    with pytest.raises(DecodeError, match="truncated"):
        decode_value(b"\x0a\x0c")
    with pytest.raises(DecodeError, match="truncated"):
        decode_value(b"\x0a\x0c\x02" + u64(2))
    with pytest.raises(DecodeError, match="truncated array data"):
        decode_value(b"\x0a\x0c\x01" + u64(2) + bytes(15))
    with pytest.raises(DecodeError, match="truncated array data"):
        decode_value(b"\x0a\x0c\x02" + u64(2**32) + u64(2**32) + bytes(8))
    # Zero-size arrays whose other dimensions numpy cannot represent.
    with pytest.raises(DecodeError, match="too large"):
        decode_value(b"\x0a\x0c\x02" + u64(0) + u64(2**64 - 1))
    with pytest.raises(DecodeError, match="too large"):
        decode_value(b"\x0a\x0c\x03" + u64(2**40) + u64(0) + u64(2**40))
    ok = decode_value(b"\x0a\x02\x02" + u64(0) + u64(2**40))
    assert isinstance(ok, np.ndarray)
    assert ok.shape == (0, 2**40)


def test_large_array_decodes_with_one_copy() -> None:
    arr = np.arange(1 << 20, dtype=np.float64)  # 8 MiB
    msg = encode(MessageType.TEST, {"x": arr})
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        base = tracemalloc.get_traced_memory()[0]
        decoded = decode(msg)
        peak = tracemalloc.get_traced_memory()[1] - base
    finally:
        tracemalloc.stop()
    assert isinstance(decoded.body, dict)
    np.testing.assert_array_equal(decoded.body["x"], arr)
    assert peak < arr.nbytes + (256 << 10)


def test_large_array_encodes_with_one_copy() -> None:
    arr = np.arange(1 << 20, dtype=np.float64)  # native little-endian, contiguous
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        base = tracemalloc.get_traced_memory()[0]
        msg = encode(MessageType.TEST, [arr, arr[:10]])
        peak = tracemalloc.get_traced_memory()[1] - base
    finally:
        tracemalloc.stop()
    assert len(msg) > arr.nbytes
    assert peak < arr.nbytes + (256 << 10)


# ----------------------------------------------------------------------------- nesting


def nested_lists(depth: int) -> bytes:
    return (b"\x08" + u64(1)) * depth + b"\x00"


def test_max_depth() -> None:
    assert decode_value(nested_lists(32)) is not None
    with pytest.raises(DecodeError, match="nesting"):
        decode_value(nested_lists(33))
    assert decode_value(nested_lists(3), max_depth=3) == [[[None]]]
    with pytest.raises(DecodeError, match="nesting"):
        decode_value(nested_lists(3), max_depth=2)
    with pytest.raises(DecodeError, match="nesting"):
        decode_value(b"\x08" + u64(0), max_depth=0)
    assert decode_value(b"\x00", max_depth=0) is None
    with pytest.raises(ParameterError, match="max_depth"):
        decode_value(b"\x00", max_depth=-1)


def test_deep_values_without_recursion() -> None:
    value: Any = None
    for _ in range(20_000):
        value = [value]
    encoded = encode_value(value)
    assert encoded == nested_lists(20_000)
    decoded = decode_value(encoded, max_depth=20_000)
    for _ in range(20_000):
        assert isinstance(decoded, list)
        decoded = decoded[0]
    assert decoded is None
    with pytest.raises(DecodeError, match="nesting"):
        decode_value(encoded)


# ----------------------------------------------------------------------------- canonical


@given(value=values)
@settings(max_examples=400, deadline=None)
def test_canonical_round_trip(value: Any) -> None:
    encoded = encode_value(value)
    decoded = decode_value(encoded)
    assert norm(decoded) == norm(value)
    assert encode_value(decoded) == encoded


@given(value=values, tag=st.integers(1, 0xFFFF), fp=st.binary(min_size=16, max_size=16))
@settings(max_examples=200, deadline=None)
def test_envelope_round_trip(value: Any, tag: int, fp: bytes) -> None:
    msg = encode(tag, value, fingerprint=fp)
    assert msg[:4] == MAGIC
    assert struct.unpack_from("<HH", msg, 4) == (FORMAT_VERSION, tag)
    assert msg[8:24] == fp
    assert struct.unpack_from("<Q", msg, 24)[0] == len(msg) - HEADER_SIZE
    assert msg[HEADER_SIZE:] == encode_value(value)
    decoded = decode(msg, expect_type=tag, expect_fingerprint=fp, max_size=len(msg))
    assert decoded.type_tag == tag
    assert type(decoded.type_tag) is int
    assert decoded.fingerprint == fp
    assert norm(decoded.body) == norm(value)
    assert decoded.to_bytes() == msg


# ----------------------------------------------------------------------------- envelope


def test_message_dataclass() -> None:
    m = decode(encode(MessageType.PLAIN_REQUEST, {"round": 1}))
    assert m == Message(type_tag=0x0101, fingerprint=NO_FINGERPRINT, body={"round": 1})
    with pytest.raises(AttributeError):
        m.type_tag = 2  # type: ignore[misc]


def test_decode_accepts_buffers_and_unregistered_tags() -> None:
    msg = encode(0x7F42, [1, "two"])
    for data in (msg, bytearray(msg), memoryview(msg), memoryview(b"xx" + msg)[2:]):
        m = decode(data)
        assert m.type_tag == 0x7F42
        assert m.body == [1, "two"]
    as_u16 = np.frombuffer(msg, dtype=np.uint16)
    assert decode(as_u16.data).body == [1, "two"]


@pytest.mark.parametrize("tag", [0, -1, 65536, 2**70, True, "1", 1.0, None])
def test_encode_rejects_bad_type_tags(tag: Any) -> None:
    with pytest.raises(ParameterError, match="type_tag"):
        encode(tag, None)


@pytest.mark.parametrize("fp", [b"", bytes(15), bytes(17), "x" * 16, None])
def test_encode_rejects_bad_fingerprints(fp: Any) -> None:
    with pytest.raises(ParameterError, match="fingerprint"):
        encode(MessageType.TEST, None, fingerprint=fp)


def test_decode_argument_errors() -> None:
    msg = encode(MessageType.TEST, None)
    with pytest.raises(ParameterError):
        decode("not bytes")  # type: ignore[arg-type]
    with pytest.raises(ParameterError):
        decode(12345)  # type: ignore[arg-type]
    with pytest.raises(ParameterError, match="expect_fingerprint"):
        decode(msg, expect_fingerprint=bytes(8))
    with pytest.raises(ParameterError, match="max_size"):
        decode(msg, max_size=-1)
    with pytest.raises(ParameterError):
        decode(msg, expect_type=0)
    with pytest.raises(ParameterError):
        decode(msg, max_depth=-1)


def test_wrong_magic() -> None:
    msg = bytearray(encode(MessageType.TEST, None))
    msg[0] = 0x50
    with pytest.raises(DecodeError, match=r"magic 50504b57, expected 89504b57"):
        decode(msg)


@pytest.mark.parametrize("version", [0, 2, 0xFFFF])
def test_unsupported_version(version: int) -> None:
    msg = header(version=version, length=1) + b"\x00"
    with pytest.raises(DecodeError, match=rf"version {version}; .*version 1"):
        decode(msg)


def test_tag_zero() -> None:
    with pytest.raises(DecodeError, match="type tag 0x0000"):
        decode(header(tag=0, length=1) + b"\x00")


def test_unexpected_type() -> None:
    msg = encode(MessageType.PLAIN_UPDATE, None)
    assert decode(msg, expect_type=MessageType.PLAIN_UPDATE).type_tag == 0x0102
    assert decode(msg, expect_type=[0x0101, 0x0102]).type_tag == 0x0102
    assert decode(msg, expect_type={MessageType.PLAIN_UPDATE}).type_tag == 0x0102
    with pytest.raises(
        DecodeError, match=r"0x0102 \(PLAIN_UPDATE\); expected 0x0101 \(PLAIN_REQUEST\)"
    ):
        decode(msg, expect_type=MessageType.PLAIN_REQUEST)
    with pytest.raises(DecodeError, match="unexpected message type"):
        decode(msg, expect_type=(0x7F00, 0x7F01))
    with pytest.raises(DecodeError, match="unexpected message type"):
        decode(msg, expect_type=())


def test_fingerprint_mismatch() -> None:
    fp_a = fingerprint("privkit.test.v1", {"n": 1})
    fp_b = fingerprint("privkit.test.v1", {"n": 2})
    msg = encode(MessageType.TEST, "secret body", fingerprint=fp_a)
    assert decode(msg, expect_fingerprint=fp_a).fingerprint == fp_a
    with pytest.raises(DecodeError, match="fingerprint mismatch") as info:
        decode(msg, expect_fingerprint=fp_b)
    assert fp_a.hex() in str(info.value)
    assert fp_b.hex() in str(info.value)
    assert "secret" not in str(info.value)
    with pytest.raises(DecodeError, match="fingerprint mismatch"):
        decode(encode(MessageType.TEST, None), expect_fingerprint=fp_a)


def test_truncated_and_trailing() -> None:
    msg = encode(MessageType.TEST, {"a": [1, 2, 3], "b": b"xyz"})
    for cut in range(len(msg)):
        with pytest.raises(DecodeError, match="truncated"):
            decode(msg[:cut])
    with pytest.raises(DecodeError, match="trailing bytes"):
        decode(msg + b"\x00")
    # A body length that agrees with the size, but a body with a value and extra bytes.
    body = encode_value(1) + b"\x00"
    with pytest.raises(DecodeError, match="trailing bytes"):
        decode(header(length=len(body)) + body)
    # An empty body is not a value.
    with pytest.raises(DecodeError, match="truncated"):
        decode(header(length=0))
    with pytest.raises(DecodeError, match="truncated"):
        decode(header(length=2**64 - 1) + b"\x00")


def test_max_size() -> None:
    msg = encode(MessageType.TEST, b"x" * 100)
    assert decode(msg, max_size=len(msg)).body == b"x" * 100
    with pytest.raises(DecodeError, match=rf"{len(msg)} bytes, max_size is {len(msg) - 1}"):
        decode(msg, max_size=len(msg) - 1)
    with pytest.raises(DecodeError, match="max_size"):
        decode(msg, max_size=0)


def test_body_errors_do_not_dump_the_body() -> None:
    body = encode_value(["TOPSECRET-PAYLOAD", "\xff"])[:-1] + b"\xff"
    with pytest.raises(DecodeError) as info:
        decode(header(length=len(body)) + body)
    assert "TOPSECRET" not in str(info.value)
    assert "UTF-8" in str(info.value)


# ----------------------------------------------------------------------------- fingerprint


def reference_fingerprint(domain: str, params: dict[str, ValueLike]) -> bytes:
    d = domain.encode("ascii")
    data = b"privkit.wire.fingerprint.v1\x00" + u64(len(d)) + d + encode_value(params)
    return hashlib.sha256(data).digest()[:16]


def test_fingerprint_definition() -> None:
    params: dict[str, ValueLike] = {"threshold": 3, "modulus_bits": 32, "ids": [1, 2, 3]}
    fp = fingerprint("privkit.secagg.v1", params)
    assert len(fp) == FINGERPRINT_SIZE
    assert isinstance(fp, bytes)
    assert fp == reference_fingerprint("privkit.secagg.v1", params)
    assert fp == fingerprint("privkit.secagg.v1", dict(reversed(params.items())))
    assert fp != NO_FINGERPRINT


@given(
    params=st.dictionaries(st.text(max_size=5), scalars, max_size=4),
    key=st.text(max_size=5),
    new=scalars,
)
@settings(max_examples=300, deadline=None)
def test_fingerprint_changes_with_any_param(params: dict[str, Any], key: str, new: Any) -> None:
    changed = dict(params)
    changed[key] = new
    same = key in params and norm(params[key]) == norm(new)
    before = fingerprint("privkit.test.v1", params)
    after = fingerprint("privkit.test.v1", changed)
    assert (before == after) == same
    assert before == fingerprint("privkit.test.v1", dict(params))


def test_fingerprint_domain_separation() -> None:
    base = fingerprint("privkit.a.v1", {"n": 1})
    assert base != fingerprint("privkit.b.v1", {"n": 1})
    assert base != fingerprint("privkit.a.v2", {"n": 1})
    # Moving bytes between the domain and the params must not collide.
    assert fingerprint("ab", {"c": 1}) != fingerprint("a", {"bc": 1})
    assert fingerprint("a.b", {}) != fingerprint("a", {".b": None})
    assert fingerprint("a", {"b": "c"}) != fingerprint("a", {"bc": ""})
    assert fingerprint("x", {}) != fingerprint("x", {"": None})
    # Types are part of the encoding: equal-looking values of other types differ.
    fps = {
        fingerprint("x", {"n": v})
        for v in (1, "1", b"1", 1.0, True, [1], {"1": 1}, np.array(1), np.array([1]))
    }
    assert len(fps) == 9


@pytest.mark.parametrize("domain", ["", "é", "tab\t", "new\nline", b"bytes", None])
def test_fingerprint_rejects_bad_domains(domain: Any) -> None:
    with pytest.raises(ParameterError, match="domain"):
        fingerprint(domain, {})


def test_fingerprint_rejects_bad_params() -> None:
    with pytest.raises(ParameterError):
        fingerprint("privkit.test.v1", {"n": {1, 2}})  # type: ignore[dict-item]
    with pytest.raises(ParameterError):
        fingerprint("privkit.test.v1", [("n", 1)])  # type: ignore[arg-type]


# ----------------------------------------------------------------------------- tags


def test_message_type_registry() -> None:
    assert int(MessageType.PLAIN_REQUEST) == 0x0101
    assert int(MessageType.PLAIN_UPDATE) == 0x0102
    assert int(MessageType.TEST) == 0x7F00
    assert 0 not in {int(t) for t in MessageType}
    values_ = [int(t) for t in MessageType]
    assert len(values_) == len(set(values_))
    ranges = [
        wire_tags.RANGE_AGGREGATION,
        wire_tags.RANGE_SECAGG,
        wire_tags.RANGE_HE,
        wire_tags.RANGE_ZK,
        wire_tags.RANGE_LEDGER,
        wire_tags.RANGE_DP,
        wire_tags.RANGE_USER,
    ]
    for t in MessageType:
        assert 1 <= t <= 0xFFFF
        assert any(t in r for r in ranges), t
    assert wire_tags.tag_name(0x0101) == "0x0101 (PLAIN_REQUEST)"
    assert wire_tags.tag_name(0x7F42) == "0x7f42"


def test_docs_list_every_registered_tag() -> None:
    text = DOCS.read_text(encoding="utf-8")
    for t in MessageType:
        assert t.name in text, t.name
        assert f"0x{int(t):04X}" in text, t.name


# ----------------------------------------------------------------------------- spec example


def docs_example_bytes() -> bytes:
    text = DOCS.read_text(encoding="utf-8")
    match = re.search(r"<!-- example-hex:begin -->\s*```text\n(.*?)```", text, re.S)
    assert match, "docs/wire-format.md has no example-hex block"
    hex_digits = []
    for line in match.group(1).splitlines():
        hex_digits.append(line.split("#", 1)[0].replace(" ", ""))
    return bytes.fromhex("".join(hex_digits))


def docs_example_message() -> bytes:
    fp = fingerprint("privkit.example.v1", {"length": 2})
    body: dict[str, ValueLike] = {"round": 3, "update": np.array([1, -2], dtype=np.int16)}
    return encode(MessageType.PLAIN_UPDATE, body, fingerprint=fp)


def test_docs_example_matches_encoder() -> None:
    assert docs_example_bytes() == docs_example_message()
    m = decode(docs_example_bytes(), expect_type=MessageType.PLAIN_UPDATE)
    assert isinstance(m.body, dict)
    assert m.body["round"] == 3
    np.testing.assert_array_equal(m.body["update"], [1, -2])
