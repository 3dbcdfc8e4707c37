"""Fuzz tests of privkit.wire decoding: hostile bytes raise DecodeError and nothing else.

Every input is treated as an attack: random bytes, mutations of valid messages (aimed in
particular at length and count fields), adversarial shapes crafted by hand.  For each we
check that decoding either raises ``DecodeError`` (and not through the decoder's internal
backstop, which would mean a missing check) or returns a value whose re-encoding is the
input byte for byte (canonical form), and that the peak allocation stays below
``64 * len(input) + 64 KiB``.
"""

from __future__ import annotations

import struct
import tracemalloc
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from privkit.errors import DecodeError
from privkit.wire import (
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
)

FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
HUGE = [2**64 - 1, 2**63, 2**63 - 1, 2**62, 2**40, 2**32, 2**32 - 1, 2**31, 1 << 20, 255]


def u64(n: int) -> bytes:
    return struct.pack("<Q", n)


# ----------------------------------------------------------------------------- strategies

fuzz_arrays = st.sampled_from(
    ["?", "u1", "i1", "<u2", "<i2", "<u4", "<i4", "<u8", "<i8", "<f2", "<f4", "<f8", ">i4"]
).flatmap(
    lambda dt: hnp.arrays(
        dtype=np.dtype(dt),
        shape=hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=3),
    )
)
fuzz_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**64 - 1)
    | st.floats()
    | st.binary(max_size=12)
    | st.text(max_size=12)
)
fuzz_values = st.recursive(
    fuzz_scalars | fuzz_arrays,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=6), children, max_size=4)
    ),
    max_leaves=12,
)
fuzz_messages = st.builds(
    lambda tag, body, fp: encode(tag, body, fingerprint=fp),
    st.integers(1, 0xFFFF),
    fuzz_values,
    st.sampled_from([NO_FINGERPRINT, bytes(range(16))]),
)


# ----------------------------------------------------------------------------- reference walker


def field_offsets(data: bytes, pos: int = 0) -> tuple[list[int], list[int], int]:
    """Walk a *valid* encoding (test reference, recursive is fine for small inputs).

    Returns the offsets of every u64 length/count/shape field, of every one-byte field
    (value tags, dtype codes, ndims), and the end position.
    """
    u64s: list[int] = []
    small: list[int] = [pos]
    tag = data[pos]
    pos += 1
    if tag in (0x00, 0x01, 0x02):
        return u64s, small, pos
    if tag in (0x03, 0x04, 0x05):
        return u64s, small, pos + 8
    if tag in (0x06, 0x07):
        u64s.append(pos)
        return u64s, small, pos + 8 + struct.unpack_from("<Q", data, pos)[0]
    if tag == 0x08:
        u64s.append(pos)
        count = struct.unpack_from("<Q", data, pos)[0]
        pos += 8
        for _ in range(count):
            sub_u64, sub_small, pos = field_offsets(data, pos)
            u64s += sub_u64
            small += sub_small
        return u64s, small, pos
    if tag == 0x09:
        u64s.append(pos)
        count = struct.unpack_from("<Q", data, pos)[0]
        pos += 8
        for _ in range(count):
            u64s.append(pos)
            pos += 8 + struct.unpack_from("<Q", data, pos)[0]
            sub_u64, sub_small, pos = field_offsets(data, pos)
            u64s += sub_u64
            small += sub_small
        return u64s, small, pos
    assert tag == 0x0A
    itemsize = {1: 1, 2: 1, 3: 1, 4: 2, 5: 2, 6: 4, 7: 4, 8: 8, 9: 8, 10: 2, 11: 4, 12: 8}
    size = itemsize[data[pos]]
    ndim = data[pos + 1]
    small += [pos, pos + 1]
    pos += 2
    for _ in range(ndim):
        u64s.append(pos)
        size *= struct.unpack_from("<Q", data, pos)[0]
        pos += 8
    return u64s, small, pos + size


def message_fields(msg: bytes) -> tuple[list[int], list[int]]:
    """Offsets of u64 fields and one-byte fields in a valid message, header included."""
    u64s, small, end = field_offsets(msg, HEADER_SIZE)
    assert end == len(msg)
    return [24, *u64s], [0, 4, 5, 6, 7, *small]


# ----------------------------------------------------------------------------- mutations


@st.composite
def mutated_messages(draw: st.DrawFn) -> bytes:
    """A valid message with 1-4 mutations, many of them aimed at its fields."""
    msg = draw(fuzz_messages)
    u64_fields, small_fields = message_fields(msg)
    data = bytearray(msg)
    for _ in range(draw(st.integers(1, 4))):
        if not data:
            data += draw(st.binary(min_size=1, max_size=8))
            continue
        n = len(data)
        pos = draw(st.integers(0, n - 1))
        kind = draw(
            st.sampled_from(
                [
                    "flip",
                    "replace",
                    "truncate",
                    "truncate_at_field",
                    "insert",
                    "delete",
                    "duplicate",
                    "length_huge",
                    "length_off_by_one",
                    "small_field",
                ]
            )
        )
        if kind == "flip":
            data[pos] ^= 1 << draw(st.integers(0, 7))
        elif kind == "replace":
            data[pos] = draw(st.integers(0, 255) | st.sampled_from([0, 1, 2, 0x80, 0xFF]))
        elif kind == "truncate":
            del data[pos:]
        elif kind == "truncate_at_field":
            field = draw(st.sampled_from(u64_fields + small_fields))
            del data[field + draw(st.integers(0, 8)) :]
        elif kind == "insert":
            data[pos:pos] = draw(st.binary(min_size=1, max_size=16))
        elif kind == "delete":
            del data[pos : pos + draw(st.integers(1, 16))]
        elif kind == "duplicate":
            stop = draw(st.integers(pos + 1, min(n, pos + 32)))
            data[stop:stop] = data[pos:stop]
        elif kind in ("length_huge", "length_off_by_one"):
            field = draw(st.sampled_from(u64_fields))
            if field + 8 > len(data):
                continue
            if kind == "length_huge":
                value = draw(st.sampled_from(HUGE))
            else:
                old = struct.unpack_from("<Q", data, field)[0]
                value = max(0, min(2**64 - 1, old + draw(st.sampled_from([-2, -1, 1, 2]))))
            data[field : field + 8] = u64(value)
        else:
            field = draw(st.sampled_from(small_fields))
            if field < len(data):
                data[field] = draw(st.integers(0, 13) | st.sampled_from([32, 33, 0x80, 0xFF]))
    return bytes(data)


@st.composite
def header_then_random(draw: st.DrawFn) -> bytes:
    """A plausible header (so the body decoder is reached) followed by random bytes."""
    body = draw(st.binary(max_size=200))
    tag = draw(st.sampled_from([1, MessageType.TEST, 0xFFFF]))
    return MAGIC + struct.pack("<HH", 1, tag) + NO_FINGERPRINT + u64(len(body)) + body


@st.composite
def tagged_random(draw: st.DrawFn) -> bytes:
    """Random bytes that start like a value (a valid tag byte), to get past the first check."""
    tag = draw(st.integers(0, 0x0A))
    return bytes([tag]) + draw(st.binary(max_size=120))


# ----------------------------------------------------------------------------- oracles


def check_decode(data: bytes) -> None:
    """decode() either refuses with DecodeError or accepts a canonical message."""
    try:
        msg = decode(data)
    except DecodeError as exc:
        reason = f"{exc} (cause: {exc.__cause__!r})"
    else:
        assert isinstance(msg, Message)
        assert msg.to_bytes() == data
        return
    assert "internal decoder error" not in reason, reason


def check_decode_value(data: bytes) -> None:
    """decode_value() either refuses with DecodeError or accepts a canonical encoding."""
    try:
        value = decode_value(data)
    except DecodeError as exc:
        reason = f"{exc} (cause: {exc.__cause__!r})"
    else:
        assert encode_value(value) == data
        return
    assert "internal decoder error" not in reason, reason


def peak_allocation(func: Callable[[bytes], Any], data: bytes) -> int:
    """Peak bytes allocated while ``func(data)`` runs (its result kept alive to the end)."""
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        base = tracemalloc.get_traced_memory()[0]
        try:
            result = func(data)
        except DecodeError:
            result = None
        peak = tracemalloc.get_traced_memory()[1] - base
        del result
    finally:
        tracemalloc.stop()
    return peak


def allocation_bound(data: bytes) -> int:
    return 64 * len(data) + 64 * 1024


def check_allocation(data: bytes) -> None:
    for func in (decode, decode_value):
        peak = peak_allocation(func, data)
        assert peak < allocation_bound(data), (func.__name__, peak, len(data))


# ----------------------------------------------------------------------------- (1) random bytes


@given(st.binary(max_size=300) | tagged_random())
@FUZZ
def test_random_bytes_decode_value(data: bytes) -> None:
    check_decode_value(data)


@given(st.binary(max_size=300) | header_then_random())
@FUZZ
def test_random_bytes_decode(data: bytes) -> None:
    check_decode(data)
    check_decode_value(data)


# ----------------------------------------------------------------------------- (2) mutations


@given(mutated_messages())
@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_mutated_messages(data: bytes) -> None:
    check_decode(data)
    if len(data) >= HEADER_SIZE:
        check_decode_value(data[HEADER_SIZE:])


@given(fuzz_messages)
@settings(max_examples=100, deadline=None)
def test_every_truncation_and_every_length_field(msg: bytes) -> None:
    for cut in range(len(msg)):
        with pytest.raises(DecodeError):
            decode(msg[:cut])
    u64_fields, _ = message_fields(msg)
    for field in u64_fields:
        for value in HUGE:
            data = bytearray(msg)
            data[field : field + 8] = u64(value)
            check_decode(bytes(data))


RICH_BODY: dict[str, ValueLike] = {
    "bools": np.array([True, False, True]),
    "neg": -5,
    "pos": 7,
    "big": 2**64 - 1,
    "f": -0.0,
    "s": "héllo",
    "b": b"\x00\x01",
    "l": [None, True, False, [], {}],
    "d": {"a": 1, "b": 2, "c": {"x": np.zeros((2, 0), np.float32)}},
    "m": np.arange(6, dtype=np.int16).reshape(2, 3),
    "z": np.array(1.5),
}


def test_every_single_byte_replacement() -> None:
    msg = encode(MessageType.TEST, RICH_BODY, fingerprint=bytes(range(16)))
    for pos in range(len(msg)):
        data = bytearray(msg)
        for byte in range(256):
            if byte != msg[pos]:
                data[pos] = byte
                check_decode(bytes(data))


@given(fuzz_messages)
@settings(max_examples=40, deadline=None)
def test_every_value_of_every_one_byte_field(msg: bytes) -> None:
    _, small_fields = message_fields(msg)
    for field in small_fields:
        data = bytearray(msg)
        for byte in range(256):
            data[field] = byte
            check_decode(bytes(data))


def test_mutation_walker_finds_fields() -> None:
    value: dict[str, ValueLike] = {"a": [1, b"xy", "z"], "b": np.zeros((2, 3), np.int16)}
    msg = encode(MessageType.TEST, value)
    u64s, small = message_fields(msg)
    # body length, dict count, 2 keys, list count, bytes and str lengths, 2 shape dims
    assert len(u64s) == 9
    for field in u64s:
        assert field + 8 <= len(msg)
    assert msg[small[5]] == 0x09


# ----------------------------------------------------------------------------- (3) allocation


@given(st.binary(max_size=300) | tagged_random() | header_then_random() | mutated_messages())
@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_allocation_bound_fuzzed(data: bytes) -> None:
    check_allocation(data)


def adversarial_inputs() -> dict[str, bytes]:
    """Inputs built to make a decoder allocate as much as possible per input byte."""
    n = 4000
    cases = {
        "many_none": b"\x08" + u64(n) + b"\x00" * n,
        "many_empty_lists": b"\x08" + u64(n) + (b"\x08" + u64(0)) * n,
        "many_empty_dicts": b"\x08" + u64(n) + (b"\x09" + u64(0)) * n,
        "many_singleton_lists": b"\x08" + u64(n) + (b"\x08" + u64(1) + b"\x00") * n,
        "many_ints": b"\x08" + u64(n) + (b"\x03" + u64(2**63)) * n,
        "many_floats": b"\x08" + u64(n) + (b"\x05" + u64(7)) * n,
        "many_short_bytes": b"\x08" + u64(n) + (b"\x06" + u64(2) + b"ab") * n,
        "many_short_strs": b"\x08" + u64(n) + (b"\x07" + u64(2) + b"ab") * n,
        "many_0d_bool_arrays": b"\x08" + u64(n) + b"\x0a\x01\x00\x01" * n,
        "many_0d_f64_arrays": b"\x08" + u64(n) + (b"\x0a\x0c\x00" + bytes(8)) * n,
        "many_empty_arrays": b"\x08" + u64(n) + (b"\x0a\x01\x01" + u64(0)) * n,
        "many_empty_32d_arrays": b"\x08"
        + u64(n // 30)
        + (b"\x0a\x0c\x20" + u64(0) * 32) * (n // 30),
        "huge_empty_shape": b"\x0a\x02\x02" + u64(0) + u64(2**62),
        "dict_many_keys": b"\x09"
        + u64(n)
        + b"".join(u64(3) + f"{i:03x}".encode() + b"\x00" for i in range(n)),
        "deep_then_wide": (b"\x08" + u64(1)) * 31 + b"\x08" + u64(n) + b"\x00" * n,
        "list_count_lies": b"\x08" + u64(2**64 - 1) + b"\x00" * n,
        "nested_count_lies": (b"\x08" + u64(2**40)) * 32 + b"\x00" * n,
        "array_size_lies": b"\x0a\x0c\x02" + u64(2**32) + u64(2**32) + bytes(n),
        "bytes_length_lies": b"\x06" + u64(2**63) + bytes(n),
    }
    dict_keys = b"".join(u64(4) + f"{i:04x}".encode() + b"\x08" + u64(0) for i in range(n))
    cases["dict_many_keys_empty_lists"] = b"\x09" + u64(n) + dict_keys
    return cases


ADVERSARIAL = adversarial_inputs()


@pytest.mark.parametrize("name", sorted(ADVERSARIAL))
def test_allocation_bound_adversarial(name: str) -> None:
    body = ADVERSARIAL[name]
    check_decode_value(body)
    msg = encode(MessageType.TEST, None)[:24] + u64(len(body)) + body
    check_decode(msg)
    peak = peak_allocation(decode_value, body)
    assert peak < allocation_bound(body), (peak, len(body))
    peak = peak_allocation(decode, msg)
    assert peak < allocation_bound(msg), (peak, len(msg))


def test_adversarial_inputs_are_meaningful() -> None:
    # The "many_*" cases are valid encodings: the allocation test measures real results.
    for name, data in ADVERSARIAL.items():
        if name.startswith("many_") or name.startswith("dict_"):
            assert encode_value(decode_value(data)) == data, name


# ----------------------------------------------------------------------------- (4) deep nesting


@pytest.mark.parametrize("header", [b"\x08" + u64(1), b"\x09" + u64(1) + u64(1) + b"k"])
@pytest.mark.parametrize("max_depth", [32, 0, 1, 100_000])
def test_deep_nesting_is_refused(header: bytes, max_depth: int) -> None:
    data = header * 10_000  # never closed: truncated, and too deep for small max_depth
    with pytest.raises(DecodeError) as info:
        decode_value(data, max_depth=max_depth)
    expected = "nesting" if max_depth < 10_000 else "truncated"
    assert expected in str(info.value)
    msg = encode(MessageType.TEST, None)[:24] + u64(len(data)) + data
    with pytest.raises(DecodeError):
        decode(msg, max_depth=max_depth)


def test_deep_nesting_allocation() -> None:
    data = (b"\x08" + u64(1)) * 10_000 + b"\x00"
    assert peak_allocation(decode_value, data) < allocation_bound(data)
    peak = peak_allocation(lambda d: decode_value(d, max_depth=10_000), data)
    assert peak < allocation_bound(data)
