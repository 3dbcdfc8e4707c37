"""The canonical value codec: the body of every privkit wire message.

A *value* is one of ``None``, ``bool``, ``int`` (in ``[-2**63, 2**64)``), ``float``,
``bytes``, ``str``, ``list`` / ``tuple`` of values, ``dict`` with ``str`` keys, or a
``numpy.ndarray`` of a plain numeric or boolean dtype.  Each value is written as one tag
byte followed by its payload; every length, count and integer is little-endian.  The
normative byte layout is in ``docs/wire-format.md``.

The encoding is *canonical*: every value has exactly one encoding, and the decoder
refuses every byte string that the encoder would not have produced, so
``encode_value(decode_value(b)) == b`` for every ``b`` that decodes.  This is what lets
signatures, MACs, commitments and fingerprints be computed over encoded values.

Security assumption: the bytes given to :func:`decode_value` are untrusted (they come
from the network).  The decoder checks every length and count against the bytes that
remain *before* allocating, never recurses (nesting is handled with an explicit stack
and bounded by ``max_depth``), allocates at most a small constant multiple of the input
size, runs in time linear in the input size, and raises only
:class:`privkit.errors.DecodeError` on malformed input.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Final, TypeAlias

import numpy as np

from privkit.errors import DecodeError, ParameterError

__all__ = [
    "DEFAULT_MAX_DEPTH",
    "MAX_NDIM",
    "Value",
    "ValueLike",
    "decode_value",
    "encode_value",
]

Value: TypeAlias = (
    bool
    | int
    | float
    | bytes
    | str
    | list["Value"]
    | tuple["Value", ...]
    | dict[str, "Value"]
    | np.ndarray[Any, Any]
    | None
)
"""A wire value: what :func:`decode_value` returns (decoding gives list, dict and bytes)."""

ValueLike: TypeAlias = (
    bool
    | int
    | float
    | bytes
    | bytearray
    | memoryview
    | str
    | Sequence["ValueLike"]
    | Mapping[str, "ValueLike"]
    | np.ndarray[Any, Any]
    | np.bool_
    | np.integer[Any]
    | np.floating[Any]
    | None
)
"""What the encoders accept: a :data:`Value`, or anything that encodes like one.

The covariant ``Sequence`` / ``Mapping`` let typed code pass a ``list[int]`` or a
``dict[str, float]`` without casts.  Every ``Value`` is a ``ValueLike``.
"""

DEFAULT_MAX_DEPTH: Final = 32
"""Default bound on the number of nested containers (lists and dicts) when decoding."""

MAX_NDIM: Final = 32
"""Most dimensions an array may have on the wire."""

# Value tag bytes.
TAG_NONE: Final = 0x00
TAG_FALSE: Final = 0x01
TAG_TRUE: Final = 0x02
TAG_UINT: Final = 0x03
TAG_NEGINT: Final = 0x04
TAG_FLOAT: Final = 0x05
TAG_BYTES: Final = 0x06
TAG_STR: Final = 0x07
TAG_LIST: Final = 0x08
TAG_DICT: Final = 0x09
TAG_NDARRAY: Final = 0x0A

# Array dtype codes -> little-endian numpy dtype.
DTYPE_BY_CODE: Final[dict[int, np.dtype[Any]]] = {
    1: np.dtype("?"),
    2: np.dtype("u1"),
    3: np.dtype("i1"),
    4: np.dtype("<u2"),
    5: np.dtype("<i2"),
    6: np.dtype("<u4"),
    7: np.dtype("<i4"),
    8: np.dtype("<u8"),
    9: np.dtype("<i8"),
    10: np.dtype("<f2"),
    11: np.dtype("<f4"),
    12: np.dtype("<f8"),
}
_CODE_BY_KIND_SIZE: Final[dict[tuple[str, int], int]] = {
    (dt.kind, dt.itemsize): code for code, dt in DTYPE_BY_CODE.items()
}
_DTYPE_BOOL: Final = 1

_U64_MAX: Final = (1 << 64) - 1
_I64_MIN: Final = -(1 << 63)
_INTP_MAX: Final = (1 << 63) - 1  # numpy's limit on an array's byte size, even when empty

_B: Final = struct.Struct("<B")
_Q: Final = struct.Struct("<Q")
_q: Final = struct.Struct("<q")
_d: Final = struct.Struct("<d")
_BB: Final = struct.Struct("<BB")
_unpack_q_u64: Final = _Q.unpack_from
_unpack_q_i64: Final = _q.unpack_from
_unpack_f64: Final = _d.unpack_from

# Bytes a dict entry takes at the least: key length (8) + value tag (1).
_MIN_DICT_ENTRY: Final = 9

# A buffer that ``bytes.join`` accepts: the encoder collects these and joins them once.
_Part: TypeAlias = "bytes | memoryview"


# --------------------------------------------------------------------------- encoding


def _array_parts(arr: np.ndarray[Any, Any], parts: list[_Part]) -> None:
    """Append the encoding of ``arr`` (tag included) to ``parts`` without element loops."""
    if isinstance(arr, np.ma.MaskedArray):
        raise ParameterError(
            "cannot encode a numpy masked array: the mask would be lost; "
            "pass arr.filled(...) or arr.compressed() instead"
        )
    arr = np.asarray(arr)  # drop ndarray subclasses (np.matrix, memmap): no copy
    dtype = arr.dtype
    code = None
    if dtype.fields is None and dtype.subdtype is None:
        code = _CODE_BY_KIND_SIZE.get((dtype.kind, dtype.itemsize))
    if code is None:
        raise ParameterError(
            f"cannot encode an array of dtype {dtype.str!r} ({dtype}); the wire format "
            "carries bool, (u)int8/16/32/64 and float16/32/64 arrays only"
        )
    if arr.ndim > MAX_NDIM:
        raise ParameterError(
            f"cannot encode an array with {arr.ndim} dimensions; at most {MAX_NDIM} allowed"
        )
    # Little-endian, C-contiguous: a no-op (no copy) for the usual native arrays.
    wire = arr.astype(DTYPE_BY_CODE[code], order="C", copy=False)
    flat = wire.reshape(-1).view(np.uint8)
    if code == _DTYPE_BOOL and flat.size and int(flat.max()) > 1:
        # A bool array viewed from other bytes: normalise to 0/1 so the output is canonical.
        flat = (flat != 0).view(np.uint8)
    parts.append(_BB.pack(TAG_NDARRAY, code) + _B.pack(arr.ndim))
    if arr.ndim:
        parts.append(struct.pack(f"<{arr.ndim}Q", *arr.shape))
    parts.append(flat.data)


def _str_bytes(s: str, what: str) -> bytes:
    try:
        return s.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ParameterError(
            f"cannot encode {what}: it is not valid Unicode ({exc.reason} at index "
            f"{exc.start}); lone surrogates cannot be written as UTF-8"
        ) from None


class _Exit:
    """Encoder stack marker: the container with this id has been fully written."""

    __slots__ = ("ident",)

    def __init__(self, ident: int) -> None:
        self.ident = ident


class _Raw:
    """Encoder stack marker: bytes to write as they are (an encoded dict key)."""

    __slots__ = ("data",)

    def __init__(self, data: bytes) -> None:
        self.data = data


def encode_parts(value: object) -> list[_Part]:
    """Encode ``value`` into a list of buffers whose concatenation is its encoding.

    The envelope joins these with its header in one pass, so a large array is copied
    only once.  See :func:`encode_value` for the rules and errors.
    """
    parts: list[_Part] = []
    append = parts.append
    # Explicit stack instead of recursion: arbitrarily deep values cannot overflow the
    # interpreter stack, and ``active`` (ids of the containers being written) finds cycles.
    stack: list[object] = [value]
    active: set[int] = set()
    while stack:
        v = stack.pop()
        if v is None:
            append(b"\x00")
        elif v is True or v is False or isinstance(v, np.bool_):
            append(b"\x02" if v else b"\x01")
        elif isinstance(v, _Raw):
            append(v.data)
        elif isinstance(v, int | np.integer):
            n = int(v)
            if 0 <= n <= _U64_MAX:
                append(b"\x03" + _Q.pack(n))
            elif _I64_MIN <= n < 0:
                append(b"\x04" + _q.pack(n))
            else:
                raise ParameterError(
                    f"cannot encode int {n}: the wire format carries integers in "
                    f"[-2**63, 2**64 - 1]; encode larger numbers as bytes"
                )
        elif isinstance(v, float | np.floating):
            if isinstance(v, np.floating) and v.dtype.itemsize > 8:
                raise ParameterError(
                    f"cannot encode a {v.dtype} scalar: only float16/32/64 fit in an f64"
                )
            append(b"\x05" + _d.pack(float(v)))
        elif isinstance(v, bytes | bytearray | memoryview):
            if isinstance(v, bytes):
                data: bytes | memoryview = v
            else:
                data = memoryview(v)
                data = data.cast("B") if data.c_contiguous else memoryview(data.tobytes())
            append(b"\x06" + _Q.pack(len(data)))
            append(data)
        elif isinstance(v, str):
            b = _str_bytes(v, "a str")
            append(b"\x07" + _Q.pack(len(b)))
            append(b)
        elif isinstance(v, _Exit):
            active.discard(v.ident)
        elif isinstance(v, np.ndarray):
            _array_parts(v, parts)
        elif isinstance(v, list | tuple | Sequence):
            ident = id(v)
            if ident in active:
                raise ParameterError("cannot encode a value that contains itself (a cycle)")
            items = v if isinstance(v, list | tuple) else list(v)
            append(b"\x08" + _Q.pack(len(items)))
            if items:
                active.add(ident)
                stack.append(_Exit(ident))
                stack.extend(reversed(items))
        elif isinstance(v, dict | Mapping):
            ident = id(v)
            if ident in active:
                raise ParameterError("cannot encode a value that contains itself (a cycle)")
            entries: list[tuple[bytes, object]] = []
            for key, item in v.items():
                if not isinstance(key, str):
                    raise ParameterError(
                        f"cannot encode a dict key of type {type(key).__name__}: "
                        "dict keys must be str"
                    )
                entries.append((_str_bytes(key, "a dict key"), item))
            entries.sort(key=lambda e: e[0])
            for i in range(1, len(entries)):
                if entries[i - 1][0] == entries[i][0]:
                    raise ParameterError("cannot encode a dict with two keys of equal UTF-8")
            append(b"\x09" + _Q.pack(len(entries)))
            if entries:
                active.add(ident)
                stack.append(_Exit(ident))
                for kb, item in reversed(entries):
                    stack.append(item)
                    stack.append(_Raw(_Q.pack(len(kb)) + kb))
        else:
            raise ParameterError(
                f"cannot encode a value of type {type(v).__name__}; the wire format carries "
                "None, bool, int, float, bytes, str, list/tuple, dict[str, ...] and "
                "numpy arrays (see privkit.wire.Value)"
            )
    return parts


def encode_value(value: ValueLike) -> bytes:
    """Encode one value canonically.

    Args:
        value: ``None``, ``bool``, ``int`` in ``[-2**63, 2**64 - 1]``, ``float``,
            ``bytes`` (or ``bytearray`` / ``memoryview``), ``str``, ``list`` or
            ``tuple`` (or any other ``Sequence``; all encoded alike) of values, ``dict``
            (or any ``Mapping``) with ``str`` keys, or a ``numpy.ndarray`` of dtype
            bool, (u)int8/16/32/64 or float16/32/64 (any byte order, any memory layout).
            As a convenience numpy scalars (``numpy.bool_``, ``numpy.integer``,
            ``numpy.float16/32/64``) are encoded as the matching Python ``bool`` /
            ``int`` / ``float``.

    Returns:
        The canonical encoding: equal values (up to list/tuple, dict insertion order and
        array byte order / layout) give equal bytes.

    Raises:
        ParameterError: ``value`` holds an unsupported type or dtype, an int out of
            range, a non-``str`` dict key, a ``str`` that is not valid Unicode (lone
            surrogates), an array with more than 32 dimensions, or a reference cycle.
    """
    return b"".join(encode_parts(value))


# --------------------------------------------------------------------------- decoding


class _ListFrame:
    __slots__ = ("count", "items")

    def __init__(self, count: int) -> None:
        self.count = count
        self.items: list[Value] = []


class _DictFrame:
    __slots__ = ("count", "items", "key", "last_key")

    def __init__(self, count: int) -> None:
        self.count = count
        self.items: dict[str, Value] = {}
        self.key = ""
        self.last_key: bytes | None = None


def _need(pos: int, n: int, end: int, what: str) -> None:
    if n > end - pos:
        raise DecodeError(f"truncated {what} at offset {pos}: needs {n} bytes, {end - pos} remain")


def _read_u64(buf: memoryview, pos: int, end: int, what: str) -> int:
    _need(pos, 8, end, what)
    n: int = _unpack_q_u64(buf, pos)[0]
    return n


def _read_key(buf: memoryview, pos: int, end: int, frame: _DictFrame) -> int:
    """Read the next dict key into ``frame``; return the position after it."""
    klen = _read_u64(buf, pos, end, "dict key length")
    pos += 8
    # The key must leave room for at least the value's tag byte.
    if klen >= end - pos:
        raise DecodeError(
            f"truncated dict key at offset {pos}: key length {klen} does not leave room "
            f"for a value in the {end - pos} bytes that remain"
        )
    kb = bytes(buf[pos : pos + klen])
    if frame.last_key is not None and kb <= frame.last_key:
        raise DecodeError(
            f"non-canonical dict at offset {pos}: keys must be strictly increasing in "
            "UTF-8 byte order (found an out-of-order or duplicate key)"
        )
    try:
        frame.key = kb.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise DecodeError(
            f"dict key at offset {pos} is not valid UTF-8 ({exc.reason} at byte {exc.start})"
        ) from None
    frame.last_key = kb
    return pos + klen


def _read_array(buf: memoryview, pos: int, end: int) -> tuple[np.ndarray[Any, Any], int]:
    """Read an array payload (after the tag byte); return the array and the new position."""
    _need(pos, 2, end, "array header")
    code, ndim = _BB.unpack_from(buf, pos)
    dtype = DTYPE_BY_CODE.get(code)
    if dtype is None:
        raise DecodeError(
            f"unknown array dtype code {code} at offset {pos}; expected 1..{len(DTYPE_BY_CODE)}"
        )
    if ndim > MAX_NDIM:
        raise DecodeError(
            f"array at offset {pos} has {ndim} dimensions; at most {MAX_NDIM} allowed"
        )
    pos += 2
    _need(pos, 8 * ndim, end, "array shape")
    shape = struct.unpack_from(f"<{ndim}Q", buf, pos)
    pos += 8 * ndim
    # Python ints: these products cannot overflow.
    count = 1
    nonzero_bytes = dtype.itemsize
    for dim in shape:
        count *= dim
        if dim:
            nonzero_bytes *= dim
    nbytes = count * dtype.itemsize
    if nbytes > end - pos:
        raise DecodeError(
            f"truncated array data at offset {pos}: shape {shape} of {dtype} needs "
            f"{nbytes} bytes, {end - pos} remain"
        )
    if nonzero_bytes > _INTP_MAX:
        # Only reachable for zero-size arrays: numpy refuses such shapes.
        raise DecodeError(
            f"array at offset {pos} has shape {shape}, too large for numpy even when empty"
        )
    if count == 0:
        return np.empty(shape, dtype=dtype), pos
    if code == _DTYPE_BOOL:
        raw = np.frombuffer(buf, dtype=np.uint8, count=nbytes, offset=pos)
        if int(raw.max()) > 1:
            raise DecodeError(f"bool array data at offset {pos} holds a byte other than 0 or 1")
    arr = np.frombuffer(buf, dtype=dtype, count=count, offset=pos).reshape(shape).copy()
    return arr, pos + nbytes


def _decode_at(buf: memoryview, pos: int, end: int, max_depth: int) -> tuple[Value, int]:
    """Decode one value from ``buf[pos:end]``; return it and the position after it.

    ``buf`` must be a one-dimensional, C-contiguous memoryview of unsigned bytes.
    Iterative: nesting is kept on an explicit stack, never on the interpreter's.
    """
    stack: list[_ListFrame | _DictFrame] = []
    value: Value
    while True:
        if pos >= end:
            raise DecodeError(f"truncated: expected a value tag at offset {pos}, found end")
        tag = buf[pos]
        pos += 1
        if tag == TAG_NONE:
            value = None
        elif tag == TAG_FALSE:
            value = False
        elif tag == TAG_TRUE:
            value = True
        elif tag == TAG_UINT:
            value = _read_u64(buf, pos, end, "int")
            pos += 8
        elif tag == TAG_NEGINT:
            _need(pos, 8, end, "negative int")
            neg: int = _unpack_q_i64(buf, pos)[0]
            if neg >= 0:
                raise DecodeError(
                    f"non-canonical int at offset {pos - 1}: tag 0x04 holds {neg}; "
                    "non-negative ints must use tag 0x03"
                )
            value = neg
            pos += 8
        elif tag == TAG_FLOAT:
            _need(pos, 8, end, "float")
            value = _unpack_f64(buf, pos)[0]
            pos += 8
        elif tag == TAG_BYTES:
            n = _read_u64(buf, pos, end, "bytes length")
            pos += 8
            _need(pos, n, end, "bytes")
            value = bytes(buf[pos : pos + n])
            pos += n
        elif tag == TAG_STR:
            n = _read_u64(buf, pos, end, "str length")
            pos += 8
            _need(pos, n, end, "str")
            try:
                value = str(buf[pos : pos + n], "utf-8")
            except UnicodeDecodeError as exc:
                raise DecodeError(
                    f"str at offset {pos} is not valid UTF-8 ({exc.reason} at byte {exc.start})"
                ) from None
            pos += n
        elif tag in (TAG_LIST, TAG_DICT):
            if len(stack) >= max_depth:
                raise DecodeError(
                    f"nesting too deep at offset {pos - 1}: more than {max_depth} nested "
                    "lists/dicts (max_depth)"
                )
            count = _read_u64(buf, pos, end, "container count")
            pos += 8
            if tag == TAG_LIST:
                # Every item takes at least one byte.
                if count > end - pos:
                    raise DecodeError(
                        f"truncated list at offset {pos - 9}: {count} items cannot fit in "
                        f"the {end - pos} bytes that remain"
                    )
                if count:
                    stack.append(_ListFrame(count))
                    continue
                value = []
            else:
                if count > (end - pos) // _MIN_DICT_ENTRY:
                    raise DecodeError(
                        f"truncated dict at offset {pos - 9}: {count} entries cannot fit in "
                        f"the {end - pos} bytes that remain"
                    )
                if count:
                    frame = _DictFrame(count)
                    stack.append(frame)
                    pos = _read_key(buf, pos, end, frame)
                    continue
                value = {}
        elif tag == TAG_NDARRAY:
            value, pos = _read_array(buf, pos, end)
        else:
            raise DecodeError(
                f"unknown value tag 0x{tag:02x} at offset {pos - 1}; expected 0x00..0x0a"
            )

        # Attach the finished value to its container; close containers that are full.
        while True:
            if not stack:
                return value, pos
            top = stack[-1]
            if isinstance(top, _ListFrame):
                top.items.append(value)
                if len(top.items) < top.count:
                    break
                value = top.items
            else:
                top.items[top.key] = value
                if len(top.items) < top.count:
                    pos = _read_key(buf, pos, end, top)
                    break
                value = top.items
            stack.pop()


def as_byte_view(data: object) -> memoryview:
    """Return a flat, C-contiguous memoryview of unsigned bytes over ``data`` (no copy).

    Raises:
        ParameterError: ``data`` does not support the buffer protocol.
    """
    if isinstance(data, str) or not isinstance(data, bytes | bytearray | memoryview):
        try:
            view = memoryview(data)  # type: ignore[arg-type]
        except TypeError:
            raise ParameterError(
                f"expected bytes, bytearray or memoryview to decode, got {type(data).__name__}"
            ) from None
    else:
        view = memoryview(data)
    if not view.c_contiguous:
        view = memoryview(view.tobytes())
    if view.ndim != 1 or view.format != "B":
        view = view.cast("B")
    return view


def _guarded(func: Callable[[], tuple[Value, int]]) -> tuple[Value, int]:
    """Run a decoder step; turn any escaping non-DecodeError into DecodeError.

    Every malformed input is meant to be caught by an explicit check; this backstop only
    exists so that a bug can never let a foreign exception reach a caller that parses
    untrusted input.  Its message says "internal decoder error" so tests can spot it.
    """
    try:
        return func()
    except DecodeError:
        raise
    except Exception as exc:
        raise DecodeError(
            f"internal decoder error ({type(exc).__name__}) on malformed input"
        ) from exc


def check_max_depth(max_depth: int) -> None:
    """Raise ParameterError unless ``max_depth`` is a non-negative int."""
    if isinstance(max_depth, bool) or not isinstance(max_depth, int) or max_depth < 0:
        raise ParameterError(f"max_depth must be a non-negative int, got {max_depth!r}")


def decode_body(buf: memoryview, pos: int, max_depth: int) -> Value:
    """Decode exactly one value spanning ``buf[pos:]``; see :func:`decode_value`."""
    end = len(buf)
    value, stop = _guarded(lambda: _decode_at(buf, pos, end, max_depth))
    if stop != end:
        raise DecodeError(
            f"trailing bytes: the value ends at offset {stop} but {end - stop} more "
            f"bytes follow (expected exactly one value)"
        )
    return value


def decode_value(
    data: bytes | bytearray | memoryview, *, max_depth: int = DEFAULT_MAX_DEPTH
) -> Value:
    """Decode exactly one canonically encoded value.

    The input is treated as untrusted: every length is checked against the bytes that
    remain before anything is allocated, nesting is bounded by ``max_depth`` without
    recursion, and the work and memory are linear in ``len(data)``.

    Args:
        data: the encoding; read through a memoryview, not copied.
        max_depth: the most lists/dicts that may be nested inside one another (a
            top-level list counts as 1; 0 allows no containers at all).

    Returns:
        The value.  Lists come back as ``list`` (tuples were encoded as lists), byte
        strings as ``bytes``, arrays as fresh, writable, C-contiguous arrays with a
        little-endian dtype.

    Raises:
        DecodeError: the bytes are not exactly one canonical encoding: truncated,
            trailing bytes, unknown tag or dtype code, invalid UTF-8, unsorted or
            duplicate dict keys, a non-negative int under the negative tag, a bool
            array byte other than 0/1, a shape numpy cannot hold, or nesting deeper
            than ``max_depth``.  Also a ``ValueError``.
        ParameterError: ``data`` is not bytes-like or ``max_depth`` is negative.
    """
    check_max_depth(max_depth)
    return decode_body(as_byte_view(data), 0, max_depth)
