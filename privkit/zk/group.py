"""The ristretto255 prime-order group (RFC 9496), implemented in privkit's C code.

:class:`Scalar` is an integer modulo the group order
``l = 2**252 + 27742317777372353535851937790883648493``; :class:`Point` is a
group element.  Both are immutable, compare and hash by value, and travel only
as their canonical 32-byte encodings (:meth:`Scalar.to_bytes`,
:meth:`Point.to_bytes`): decoding anything else raises
:class:`~privkit.errors.DecodeError`.  Neither can be pickled (explicit
encodings only), and a scalar's ``repr`` never shows its value.

A :class:`Point` keeps its decoded coordinates (inside C-made bytes) between
operations and encodes only on :meth:`Point.to_bytes`.  A :class:`PointArray`
holds many points prepared for multi-scalar multiplication (:func:`msm`,
:func:`msm_small`): build it once (for example, for a list of Pedersen
generators) and reuse it.

Timing: scalar arithmetic, point arithmetic, encoding, decoding and the single
scalar multiplications run in constant time in C.  :func:`msm` and
:func:`msm_small` are **variable time** in the scalars (Pippenger's bucket
method): use them on public scalars, or where the time a commitment takes may
depend on the committed values.  :meth:`Scalar.from_int` and :func:`int`
conversions go through Python integers, which are not constant time.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Iterable, Sequence
from typing import Any, Final, NoReturn

import numpy as np
import numpy.typing as npt

from privkit import _native
from privkit.errors import DecodeError, ParameterError

__all__ = [
    "ORDER",
    "Point",
    "PointArray",
    "Scalar",
    "expand_message_xmd",
    "msm",
    "msm_small",
]

#: The order l of the ristretto255 group (a prime).
ORDER: Final = 2**252 + 27742317777372353535851937790883648493
_BYTES: Final = 32


def _no_pickle(obj: object) -> NoReturn:
    raise TypeError(
        f"{type(obj).__name__} cannot be pickled; use to_bytes() and from_bytes() explicitly"
    )


class Scalar:
    """An integer modulo the ristretto255 group order ``l`` (immutable).

    Build one with :meth:`from_int`, :meth:`from_bytes` (canonical 32 bytes),
    :meth:`reduce_bytes` (32 or 64 bytes, reduced mod l) or :meth:`random`.
    Supports ``+``, ``-``, ``*``, unary ``-`` (with Scalars or ints), :meth:`inverse`,
    ``==`` (constant time), ``hash`` and ``scalar * point``.
    """

    __slots__ = ("_b",)
    _b: bytes

    def __init__(self, *_args: object, **_kwargs: object) -> None:
        raise TypeError("use Scalar.from_int, from_bytes, reduce_bytes or random")

    @classmethod
    def _make(cls, data: bytes) -> Scalar:
        obj = object.__new__(cls)
        object.__setattr__(obj, "_b", data)
        return obj

    @classmethod
    def from_int(cls, value: int) -> Scalar:
        """``value mod l`` for any Python int (negative ones included)."""
        if isinstance(value, bool) or not isinstance(value, int):
            raise ParameterError(f"expected an int, got {type(value).__name__}")
        return cls._make((value % ORDER).to_bytes(_BYTES, "little"))

    @classmethod
    def from_bytes(cls, data: bytes) -> Scalar:
        """Decode a canonical scalar: 32 little-endian bytes of a value below l.

        Raises:
            DecodeError: wrong length, or a value >= l (non-canonical).
        """
        if not isinstance(data, bytes | bytearray | memoryview):
            raise DecodeError(f"a scalar must be 32 bytes, got {type(data).__name__}")
        raw = bytes(data)
        if len(raw) != _BYTES:
            raise DecodeError(f"a scalar must be exactly 32 bytes, got {len(raw)}")
        if not _native.r255_scalar_check(raw):
            raise DecodeError("non-canonical scalar encoding (value >= group order)")
        return cls._make(raw)

    @classmethod
    def reduce_bytes(cls, data: bytes) -> Scalar:
        """Reduce 32 or 64 little-endian bytes mod l (64 uniform bytes give a uniform scalar)."""
        if not isinstance(data, bytes | bytearray | memoryview) or len(data) not in (32, 64):
            raise ParameterError("reduce_bytes takes 32 or 64 bytes")
        return cls._make(_native.r255_scalar_reduce(bytes(data)))

    @classmethod
    def random(cls) -> Scalar:
        """A uniformly random scalar from the operating system's CSPRNG."""
        return cls._make(_native.r255_scalar_reduce(secrets.token_bytes(64)))

    def to_bytes(self) -> bytes:
        """The canonical 32-byte little-endian encoding."""
        return self._b

    def __int__(self) -> int:
        return int.from_bytes(self._b, "little")

    def is_zero(self) -> bool:
        """Whether this is the zero scalar (constant time)."""
        return hmac.compare_digest(self._b, bytes(_BYTES))

    @staticmethod
    def _coerce(other: object) -> Scalar | None:
        if isinstance(other, Scalar):
            return other
        if isinstance(other, int) and not isinstance(other, bool):
            return Scalar.from_int(other)
        return None

    def __add__(self, other: object) -> Scalar:
        o = self._coerce(other)
        if o is None:
            return NotImplemented
        return Scalar._make(_native.r255_scalar_op("add", self._b, o._b))

    __radd__ = __add__

    def __sub__(self, other: object) -> Scalar:
        o = self._coerce(other)
        if o is None:
            return NotImplemented
        return Scalar._make(_native.r255_scalar_op("sub", self._b, o._b))

    def __rsub__(self, other: object) -> Scalar:
        o = self._coerce(other)
        if o is None:
            return NotImplemented
        return Scalar._make(_native.r255_scalar_op("sub", o._b, self._b))

    def __mul__(self, other: object) -> Any:
        if isinstance(other, Point):
            return other._mul(self)
        o = self._coerce(other)
        if o is None:
            return NotImplemented
        return Scalar._make(_native.r255_scalar_op("mul", self._b, o._b))

    def __rmul__(self, other: object) -> Scalar:
        o = self._coerce(other)
        if o is None:
            return NotImplemented
        return Scalar._make(_native.r255_scalar_op("mul", o._b, self._b))

    def __neg__(self) -> Scalar:
        return Scalar._make(_native.r255_scalar_op("neg", self._b))

    def inverse(self) -> Scalar:
        """The multiplicative inverse mod l.

        Raises:
            ZeroDivisionError: the scalar is zero.
        """
        return Scalar._make(_native.r255_scalar_op("inv", self._b))

    def __eq__(self, other: object) -> bool:
        # Scalars only: ``Scalar == int`` is False, which keeps ``hash`` consistent.
        if not isinstance(other, Scalar):
            return NotImplemented
        return hmac.compare_digest(self._b, other._b)

    def __hash__(self) -> int:
        return hash((Scalar, self._b))

    def __repr__(self) -> str:
        return "Scalar(<hidden>)"

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError("Scalar is immutable")

    def __delattr__(self, name: str) -> None:
        raise AttributeError("Scalar is immutable")

    def __reduce__(self) -> NoReturn:
        _no_pickle(self)

    def __reduce_ex__(self, protocol: object) -> NoReturn:
        _no_pickle(self)

    def __copy__(self) -> Scalar:
        return self

    def __deepcopy__(self, memo: object) -> Scalar:
        return self


def _dst_bytes(dst: bytes) -> bytes:
    if not isinstance(dst, bytes | bytearray | memoryview) or len(dst) == 0:
        raise ParameterError("dst (the domain separation tag) must be non-empty bytes")
    raw = bytes(dst)
    if len(raw) > 255:  # RFC 9380 5.3.3
        raw = hashlib.sha512(b"H2C-OVERSIZE-DST-" + raw).digest()
    return raw


def expand_message_xmd(msg: bytes, dst: bytes, length: int) -> bytes:
    """RFC 9380 section 5.3.1 ``expand_message_xmd`` with SHA-512.

    Args:
        msg: the message.
        dst: domain separation tag, non-empty (longer than 255 bytes is hashed, 5.3.3).
        length: output bytes, 1 to 255 * 64.

    Returns:
        ``length`` pseudorandom bytes.
    """
    if not isinstance(msg, bytes | bytearray | memoryview):
        raise ParameterError(f"msg must be bytes, got {type(msg).__name__}")
    if isinstance(length, bool) or not isinstance(length, int) or not 0 < length <= 255 * 64:
        raise ParameterError(f"length must be an int in [1, {255 * 64}], got {length!r}")
    dst_prime = _dst_bytes(dst)
    dst_prime += bytes([len(dst_prime)])
    ell = -(-length // 64)
    b0 = hashlib.sha512(
        bytes(128) + bytes(msg) + length.to_bytes(2, "big") + b"\x00" + dst_prime
    ).digest()
    out = [hashlib.sha512(b0 + b"\x01" + dst_prime).digest()]
    for i in range(2, ell + 1):
        prev = bytes(x ^ y for x, y in zip(b0, out[-1], strict=True))
        out.append(hashlib.sha512(prev + bytes([i]) + dst_prime).digest())
    return b"".join(out)[:length]


class Point:
    """An element of the ristretto255 group (immutable).

    Build one with :meth:`from_bytes`, :meth:`identity`, :meth:`generator`,
    :meth:`from_uniform_bytes` or :meth:`hash_to_group`.  Supports ``+``, ``-``,
    unary ``-``, ``scalar * point`` and ``point * scalar`` (a :class:`Scalar` or an
    int), ``==`` (ristretto equality, constant time) and ``hash``.
    """

    __slots__ = ("_enc", "_p")
    _p: bytes
    _enc: bytes | None

    def __init__(self, *_args: object, **_kwargs: object) -> None:
        raise TypeError("use Point.from_bytes, identity, generator, from_uniform_bytes, ...")

    @classmethod
    def _make(cls, decoded: bytes, encoding: bytes | None = None) -> Point:
        obj = object.__new__(cls)
        object.__setattr__(obj, "_p", decoded)
        object.__setattr__(obj, "_enc", encoding)
        return obj

    @classmethod
    def from_bytes(cls, data: bytes) -> Point:
        """Decode a canonical 32-byte ristretto255 encoding (RFC 9496 4.3.1).

        Raises:
            DecodeError: wrong length, or an invalid or non-canonical encoding.
        """
        if not isinstance(data, bytes | bytearray | memoryview):
            raise DecodeError(f"a point must be 32 bytes, got {type(data).__name__}")
        raw = bytes(data)
        if len(raw) != _BYTES:
            raise DecodeError(f"a point must be exactly 32 bytes, got {len(raw)}")
        decoded = _native.r255_decode(raw)
        if decoded is None:
            raise DecodeError("invalid or non-canonical ristretto255 encoding")
        return cls._make(decoded, raw)

    @classmethod
    def identity(cls) -> Point:
        """The identity element (encodes as 32 zero bytes)."""
        return _IDENTITY

    @classmethod
    def generator(cls) -> Point:
        """The standard generator (the edwards25519 base point)."""
        return _GENERATOR

    @classmethod
    def from_uniform_bytes(cls, data: bytes) -> Point:
        """RFC 9496 4.3.4: map 64 uniformly random bytes to a point."""
        if not isinstance(data, bytes | bytearray | memoryview) or len(data) != 64:
            raise ParameterError("from_uniform_bytes takes exactly 64 bytes")
        return cls._make(_native.r255_from_uniform(bytes(data)))

    @classmethod
    def hash_to_group(cls, msg: bytes, dst: bytes) -> Point:
        """Hash to ristretto255: ``expand_message_xmd`` (SHA-512) to 64 bytes, then the map.

        This is RFC 9380's ``hash_to_ristretto255`` with suite
        ``ristretto255_XMD:SHA-512_R255MAP_RO_``.

        Args:
            msg: the message.
            dst: a non-empty, application-specific domain separation tag.
        """
        return cls.from_uniform_bytes(expand_message_xmd(msg, dst, 64))

    @classmethod
    def base_mul(cls, scalar: Scalar | int) -> Point:
        """``scalar * generator`` through the precomputed table (constant time)."""
        s = _as_scalar(scalar)
        return cls._make(_native.r255_scalarmult_base(s._b))

    def to_bytes(self) -> bytes:
        """The canonical 32-byte encoding (RFC 9496 4.3.2)."""
        enc = self._enc
        if enc is None:
            enc = _native.r255_encode(self._p)
            object.__setattr__(self, "_enc", enc)
        return enc

    def _mul(self, scalar: Scalar) -> Point:
        if self._p == _GENERATOR_P:
            return Point._make(_native.r255_scalarmult_base(scalar._b))
        return Point._make(_native.r255_scalarmult(scalar._b, self._p))

    def __add__(self, other: object) -> Point:
        if not isinstance(other, Point):
            return NotImplemented
        return Point._make(_native.r255_add(self._p, other._p))

    def __sub__(self, other: object) -> Point:
        if not isinstance(other, Point):
            return NotImplemented
        return Point._make(_native.r255_sub(self._p, other._p))

    def __neg__(self) -> Point:
        return Point._make(_native.r255_neg(self._p))

    def __mul__(self, other: object) -> Point:
        if isinstance(other, Scalar):
            return self._mul(other)
        if isinstance(other, int) and not isinstance(other, bool):
            return self._mul(Scalar.from_int(other))
        return NotImplemented

    __rmul__ = __mul__

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Point):
            return NotImplemented
        return _native.r255_equal(self._p, other._p)

    def __hash__(self) -> int:
        return hash((Point, self.to_bytes()))

    def __repr__(self) -> str:
        return f"Point({self.to_bytes().hex()})"

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError("Point is immutable")

    def __delattr__(self, name: str) -> None:
        raise AttributeError("Point is immutable")

    def __reduce__(self) -> NoReturn:
        _no_pickle(self)

    def __reduce_ex__(self, protocol: object) -> NoReturn:
        _no_pickle(self)

    def __copy__(self) -> Point:
        return self

    def __deepcopy__(self, memo: object) -> Point:
        return self


_GENERATOR_P: Final = _native.r255_generator()
_GENERATOR: Final = Point._make(_GENERATOR_P)
_IDENTITY: Final = Point._make(_native.r255_identity(), bytes(_BYTES))


def _as_scalar(value: object) -> Scalar:
    if isinstance(value, Scalar):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return Scalar.from_int(value)
    raise ParameterError(f"expected a Scalar or an int, got {type(value).__name__}")


class PointArray:
    """Many points, decoded and prepared (affine) in one C-side table for :func:`msm`.

    Build it once and reuse it: preparing costs about one field inversion per
    256 points plus a few multiplications per point.  Immutable.
    """

    __slots__ = ("_n", "_table")
    _table: npt.NDArray[np.uint64]
    _n: int

    def __init__(self, points: Iterable[Point]) -> None:
        pts = list(points)
        for p in pts:
            if not isinstance(p, Point):
                raise ParameterError(f"PointArray takes Points, got {type(p).__name__}")
        table = _native.r255_prepare(b"".join(p._p for p in pts), len(pts))
        table.setflags(write=False)  # the C side reads it; nobody writes it again
        object.__setattr__(self, "_table", table)
        object.__setattr__(self, "_n", len(pts))

    @classmethod
    def _from_table(cls, table: npt.NDArray[np.uint64]) -> PointArray:
        table.setflags(write=False)
        obj = object.__new__(cls)
        object.__setattr__(obj, "_table", table)
        object.__setattr__(obj, "_n", int(table.shape[0]))
        return obj

    @classmethod
    def from_uniform_bytes(cls, data: bytes) -> PointArray:
        """The one-way map (RFC 9496 4.3.4) of each 64-byte block of ``data``, in one C call."""
        if not isinstance(data, bytes | bytearray | memoryview) or len(data) % 64:
            raise ParameterError("data must be bytes whose length is a multiple of 64")
        return cls._from_table(_native.r255_from_uniform_batch(bytes(data)))

    @classmethod
    def hash_to_group(cls, msgs: Iterable[bytes], dst: bytes) -> PointArray:
        """``[Point.hash_to_group(m, dst) for m in msgs]`` as one array (faster: batched maps)."""
        return cls.from_uniform_bytes(b"".join(expand_message_xmd(m, dst, 64) for m in msgs))

    def __len__(self) -> int:
        return self._n

    def __getitem__(self, index: int) -> Point:
        if isinstance(index, bool) or not isinstance(index, int):
            raise TypeError("PointArray indices must be ints")
        if not -self._n <= index < self._n:
            raise IndexError(f"index {index} out of range for {self._n} points")
        return Point._make(_native.r255_unprepare(self._table[index]))

    def __repr__(self) -> str:
        return f"PointArray(<{self._n} points>)"

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError("PointArray is immutable")

    def __reduce__(self) -> NoReturn:
        _no_pickle(self)

    def __reduce_ex__(self, protocol: object) -> NoReturn:
        _no_pickle(self)


def _as_point_array(points: PointArray | Sequence[Point]) -> PointArray:
    return points if isinstance(points, PointArray) else PointArray(points)


def msm(scalars: Sequence[Scalar | int], points: PointArray | Sequence[Point]) -> Point:
    """``sum(s_i * P_i)`` by Pippenger's bucket method in C.

    **Variable time** in the scalars: use it for public scalars or where the
    running time may reveal something about them (see the module docstring).

    Args:
        scalars: n Scalars (or ints, reduced mod l).
        points: n Points, or a prepared :class:`PointArray` (reuse one for speed).

    Raises:
        ParameterError: lengths differ, or an element of the wrong type.
    """
    arr = _as_point_array(points)
    if len(scalars) != len(arr):
        raise ParameterError(f"{len(scalars)} scalars for {len(arr)} points")
    data = b"".join(_as_scalar(s)._b for s in scalars)
    return Point._make(_native.r255_msm(data, arr._table))


def msm_small(values: npt.NDArray[Any], points: PointArray | Sequence[Point]) -> Point:
    """``sum(v_i * P_i)`` for small signed integers (int8/int16/int32 numpy array).

    The fast path for committing to quantised vectors: the number of Pippenger
    windows follows the largest ``|v_i|``, so 16-bit values need one pass.
    **Variable time** in the values.

    Raises:
        ParameterError: not a 1-D signed integer array of at most 32 bits, or lengths differ.
    """
    if not isinstance(values, np.ndarray) or values.ndim != 1:
        raise ParameterError("values must be a 1-D numpy array")
    if values.dtype not in (np.dtype(np.int8), np.dtype(np.int16), np.dtype(np.int32)):
        raise ParameterError(f"values must have dtype int8, int16 or int32, got {values.dtype}")
    arr = _as_point_array(points)
    if values.shape[0] != len(arr):
        raise ParameterError(f"{values.shape[0]} values for {len(arr)} points")
    vals = np.ascontiguousarray(values, dtype=np.int32)
    return Point._make(_native.r255_msm_small(vals, arr._table))
