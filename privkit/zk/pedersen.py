"""Pedersen vector commitments on ristretto255.

A commitment to the integers (or scalars) ``v_0, ..., v_{n-1}`` with blinding ``r`` is
the group element::

    C = v_0 * G_0 + v_1 * G_1 + ... + v_{n-1} * G_{n-1} + r * H

where the generators come from hash-to-group (RFC 9380 ``expand_message_xmd`` with
SHA-512, then the ristretto255 one-way map; :meth:`privkit.zk.group.Point.hash_to_group`)::

    G_i = hash_to_group(label          || u64le(i), DST)
    H   = hash_to_group(blinding_label || u64le(0), DST)
    DST = b"privkit.zk.pedersen.v1"

with ``label = b"privkit.zk.pedersen.G"`` and ``blinding_label =
b"privkit.zk.pedersen.H"`` by default.  The two labels must differ; since every message
ends in exactly eight index bytes, distinct labels give distinct hash inputs.  Nobody
knows a discrete-log relation between any of these points (that would need a
hash-to-group preimage), which is what binding rests on.  :class:`Generators` derives
them once per ``(label, blinding_label, n)`` and keeps them decoded in a C-side
:class:`~privkit.zk.group.PointArray` (cached), so committing again to another vector of
the same length neither re-derives nor re-decodes them.

Properties (see ``docs/zk-commitments.md``):

* **Hiding** (perfect): with ``r`` uniform and secret, ``C`` is a uniform group element
  whatever the values are.  Reusing ``r`` for two vectors leaks their difference's
  commitment without blinding; never reuse a blinding.
* **Binding** (computational, discrete logarithm in ristretto255): opening ``C`` to two
  different vectors gives a non-trivial discrete-log relation between the generators.
  Values are taken modulo the group order ``l``, so ``v`` and ``v + l`` are the same
  committed value.
* **Homomorphic**: ``C(a, r) + C(b, s) == C(a + b, r + s)``; :class:`Commitment` supports
  ``+`` and ``-`` and :class:`Opening` supports ``+`` and ``-`` to match.

Timing.  The vector part is a multi-scalar multiplication (Pippenger's bucket method,
:func:`~privkit.zk.group.msm` / :func:`~privkit.zk.group.msm_small`), whose running time
depends on the values (how many bucket additions are skipped, how many windows are
needed).  That matters only when the values are secret *and* an attacker can time the
computation precisely (a co-located process, a remote party timing many commitments):
the timing may then leak information about the values, not about the blinding.  Hiding of
the published commitment is unaffected, because the blinding term ``r * H`` is always
computed with the constant-time variable-base scalar multiplication, never inside the
MSM.  Pass ``constant_time=True`` to :func:`commit` to compute the vector part with
constant-time scalar multiplications as well (about 60 µs per value instead of under
1 µs).  In the aggregation use case the values are the client's own update, committed on
the client's machine, so only a local timing attacker is a concern.

Security assumptions: blindings come from :meth:`Scalar.random` (the OS CSPRNG).
Openings are secret until revealed; their ``repr`` hides them and errors never show
them.  Commitments and openings given to :func:`verify_opening` /
:meth:`Commitment.from_bytes` / :meth:`Opening.from_bytes` are untrusted.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import struct
import threading
from collections.abc import Sequence
from typing import Any, Final, NoReturn, TypeAlias, cast

import numpy as np
import numpy.typing as npt

from privkit.encoding import FixedPoint, flatten
from privkit.errors import DecodeError, ParameterError
from privkit.wire.values import decode_value, encode_value
from privkit.zk.group import ORDER, Point, PointArray, Scalar, msm, msm_small

__all__ = [
    "BLINDING_LABEL",
    "COMMITMENT_BYTES",
    "DST",
    "LABEL",
    "MAX_GENERATORS",
    "Commitment",
    "Generators",
    "Opening",
    "Values",
    "centred",
    "commit",
    "commit_update",
    "commitment_for",
    "verify_opening",
    "verify_update_opening",
]

DST: Final = b"privkit.zk.pedersen.v1"
"""The domain separation tag of every Pedersen generator."""
LABEL: Final = b"privkit.zk.pedersen.G"
"""The default label of the vector generators ``G_i``."""
BLINDING_LABEL: Final = b"privkit.zk.pedersen.H"
"""The default label of the blinding generator ``H``."""
COMMITMENT_BYTES: Final = 32
"""Bytes of an encoded commitment (one ristretto255 point)."""
MAX_GENERATORS: Final = 1 << 28
"""The most generators one :class:`Generators` may hold."""

_U64: Final = struct.Struct("<Q")
_HALF: Final = ORDER // 2
_I32_MIN: Final = -(1 << 31)
_I32_MAX: Final = (1 << 31) - 1
_SMALL_DTYPES: Final = (np.dtype(np.int8), np.dtype(np.int16), np.dtype(np.int32))

Values: TypeAlias = Sequence[int | Scalar] | npt.NDArray[np.integer[Any]]
"""What :func:`commit` accepts as values: ints / Scalars, or a 1-D numpy integer array."""


def _no_pickle(obj: object) -> NoReturn:
    raise TypeError(
        f"{type(obj).__name__} cannot be pickled; use to_bytes() and from_bytes() explicitly"
    )


def _check_label(value: object, what: str) -> bytes:
    if not isinstance(value, bytes) or not 0 < len(value) <= 255:
        raise ParameterError(f"{what} must be 1 to 255 bytes, got {type(value).__name__}")
    return value


def _generator(label: bytes, index: int) -> Point:
    return Point.hash_to_group(label + _U64.pack(index), DST)


def _uniform_bytes(label: bytes, n: int) -> bytes:
    """``expand_message_xmd(label || u64le(i), DST, 64)`` for ``i < n``, concatenated.

    RFC 9380 5.3.1 with SHA-512 and ``len_in_bytes = 64`` (one output block):
    ``b0 = H(Z_pad || msg || I2OSP(64, 2) || I2OSP(0, 1) || DST')`` and
    ``b1 = H(b0 || I2OSP(1, 1) || DST')``, ``DST' = DST || I2OSP(len(DST), 1)``.  The
    hash state after the fixed prefix ``Z_pad || label`` is computed once and copied,
    which makes this several times faster than calling
    :func:`~privkit.zk.group.expand_message_xmd` per index (the tests check they agree).
    """
    dst_prime = DST + bytes([len(DST)])
    tail = (64).to_bytes(2, "big") + b"\x00" + dst_prime
    tail1 = b"\x01" + dst_prime
    prefix = hashlib.sha512(bytes(128) + label)
    out = []
    for i in range(n):
        h = prefix.copy()
        h.update(_U64.pack(i) + tail)
        out.append(hashlib.sha512(h.digest() + tail1).digest())
    return b"".join(out)


class Generators:
    """The Pedersen generators ``G_0..G_{n-1}`` and ``H`` for vectors of length ``n``.

    Get them with :meth:`derive` (cached per ``(n, label, blinding_label)``, the four
    most recently used sets); the vector generators are held decoded in a
    :class:`~privkit.zk.group.PointArray` ready for the multi-scalar multiplication
    (120 bytes per generator: 120 MB for 10**6).  Deriving costs about 10 µs per
    generator, once (10 s for 10**6, dominated by the one-way map).

    Attributes:
        n: the number of vector generators.
        label: the label of the vector generators.
        blinding_label: the label of ``H``.
    """

    __slots__ = ("_array", "_digest", "_h", "blinding_label", "label", "n")
    n: int
    label: bytes
    blinding_label: bytes
    _h: Point
    _array: PointArray
    _digest: bytes

    def __init__(self, *_args: object, **_kwargs: object) -> None:
        raise TypeError("use Generators.derive(n, label=..., blinding_label=...)")

    @classmethod
    def derive(
        cls, n: int, *, label: bytes = LABEL, blinding_label: bytes = BLINDING_LABEL
    ) -> Generators:
        """The generators for vectors of length ``n`` (cached, thread-safe).

        Args:
            n: vector length, ``0 <= n <=`` :data:`MAX_GENERATORS`.
            label: label of the vector generators (1 to 255 bytes).
            blinding_label: label of ``H`` (1 to 255 bytes, different from ``label``).

        Raises:
            ParameterError: an argument is out of range, or the labels are equal.
        """
        if isinstance(n, bool) or not isinstance(n, int) or not 0 <= n <= MAX_GENERATORS:
            raise ParameterError(f"n must be an int in [0, {MAX_GENERATORS}], got {n!r}")
        lab = _check_label(label, "label")
        blab = _check_label(blinding_label, "blinding_label")
        if hmac.compare_digest(lab, blab):
            raise ParameterError("label and blinding_label must differ (else H would be G_0)")
        return _derive_cached(n, lab, blab)

    @classmethod
    def _build(cls, n: int, label: bytes, blinding_label: bytes) -> Generators:
        obj = object.__new__(cls)
        h = _generator(blinding_label, 0)
        array = PointArray.from_uniform_bytes(_uniform_bytes(label, n))
        digest = hashlib.sha512(
            b"privkit.zk.pedersen.generators.v1"
            + _U64.pack(len(DST))
            + DST
            + _U64.pack(len(label))
            + label
            + _U64.pack(len(blinding_label))
            + blinding_label
            + _U64.pack(n)
        ).digest()
        for name, value in (
            ("n", n),
            ("label", label),
            ("blinding_label", blinding_label),
            ("_h", h),
            ("_array", array),
            ("_digest", digest),
        ):
            object.__setattr__(obj, name, value)
        return obj

    @property
    def h(self) -> Point:
        """The blinding generator ``H``."""
        return self._h

    @property
    def array(self) -> PointArray:
        """The vector generators, decoded, for :func:`~privkit.zk.group.msm`."""
        return self._array

    def point(self, index: int) -> Point:
        """``G_index``, read back from the prepared array."""
        if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < self.n:
            raise ParameterError(f"index must be an int in [0, {self.n}), got {index!r}")
        return self._array[index]

    def digest(self) -> bytes:
        """64 bytes naming these generators: SHA-512 of their derivation parameters.

        The generators are a deterministic public function of ``(DST, label,
        blinding_label, n)``, so this digest identifies them; proofs bind it into their
        transcripts.  The exact input is ``b"privkit.zk.pedersen.generators.v1" ||
        lp(DST) || lp(label) || lp(blinding_label) || u64le(n)``.
        """
        return self._digest

    def __len__(self) -> int:
        return self.n

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Generators):
            return NotImplemented
        return self.digest() == other.digest()

    def __hash__(self) -> int:
        return hash((Generators, self.digest()))

    def __repr__(self) -> str:
        return (
            f"Generators(n={self.n}, label={self.label!r}, blinding_label={self.blinding_label!r})"
        )

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError("Generators is immutable")

    def __copy__(self) -> Generators:
        return self

    def __deepcopy__(self, memo: object) -> Generators:
        return self

    def __reduce__(self) -> NoReturn:
        _no_pickle(self)

    def __reduce_ex__(self, protocol: object) -> NoReturn:
        _no_pickle(self)


_CACHE_LOCK: Final = threading.Lock()


@functools.lru_cache(maxsize=4)
def _derive_unlocked(n: int, label: bytes, blinding_label: bytes) -> Generators:
    return Generators._build(n, label, blinding_label)


def _derive_cached(n: int, label: bytes, blinding_label: bytes) -> Generators:
    with _CACHE_LOCK:
        return _derive_unlocked(n, label, blinding_label)


class Commitment:
    """A Pedersen commitment: one ristretto255 point, 32 bytes encoded (public).

    Supports ``+`` and ``-`` (homomorphic), ``==`` and ``hash``.  Commitments only add
    meaningfully when made under the same :class:`Generators`.
    """

    __slots__ = ("point",)
    point: Point

    def __init__(self, point: Point) -> None:
        if not isinstance(point, Point):
            raise ParameterError(f"a Commitment wraps a Point, got {type(point).__name__}")
        object.__setattr__(self, "point", point)

    def to_bytes(self) -> bytes:
        """The canonical 32-byte encoding of the point."""
        return self.point.to_bytes()

    @classmethod
    def from_bytes(cls, data: bytes | bytearray | memoryview) -> Commitment:
        """Decode a commitment from untrusted bytes.

        Raises:
            DecodeError: not exactly 32 bytes, or not a canonical ristretto255 encoding.
        """
        if not isinstance(data, bytes | bytearray | memoryview):
            raise DecodeError(f"a commitment must be 32 bytes, got {type(data).__name__}")
        return cls(Point.from_bytes(bytes(data)))

    def __add__(self, other: object) -> Commitment:
        if not isinstance(other, Commitment):
            return NotImplemented
        return Commitment(self.point + other.point)

    def __sub__(self, other: object) -> Commitment:
        if not isinstance(other, Commitment):
            return NotImplemented
        return Commitment(self.point - other.point)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Commitment):
            return NotImplemented
        return self.point == other.point

    def __hash__(self) -> int:
        return hash((Commitment, self.to_bytes()))

    def __repr__(self) -> str:
        return f"Commitment({self.to_bytes().hex()})"

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError("Commitment is immutable")

    def __copy__(self) -> Commitment:
        return self

    def __deepcopy__(self, memo: object) -> Commitment:
        return self

    def __reduce__(self) -> NoReturn:
        _no_pickle(self)

    def __reduce_ex__(self, protocol: object) -> NoReturn:
        _no_pickle(self)


def _centre(value: int) -> int:
    """The representative of ``value mod l`` in ``(-l/2, l/2]``."""
    v = value % ORDER
    return v - ORDER if v > _HALF else v


def _values_tuple(values: object) -> tuple[int, ...]:
    """Normalise committed values to a tuple of centred ints (see :class:`Opening`)."""
    if isinstance(values, np.ndarray):
        if values.ndim != 1 or values.dtype.kind not in "iu":
            raise ParameterError(
                f"values must be a 1-D numpy integer array, got dtype {values.dtype} "
                f"with {values.ndim} dimension(s)"
            )
        out: list[int] = values.tolist()  # |v| < 2**64 < l/2: already centred
        return tuple(out)
    if isinstance(values, str | bytes | bytearray | memoryview) or not isinstance(values, Sequence):
        raise ParameterError(
            f"values must be a sequence of ints / Scalars or a numpy integer array, "
            f"got {type(values).__name__}"
        )
    result = []
    for i, v in enumerate(values):
        if isinstance(v, Scalar | int | np.integer) and not isinstance(v, bool):
            result.append(_centre(int(v)))
        else:
            raise ParameterError(f"values[{i}] must be an int or a Scalar, got {type(v).__name__}")
    return tuple(result)


def _small_array(values: tuple[int, ...]) -> npt.NDArray[np.int32] | None:
    """The values as an int32 array if every one fits (the msm_small fast path)."""
    if not values:
        return np.zeros(0, dtype=np.int32)
    try:
        arr = np.array(values, dtype=np.int64)
    except OverflowError:
        return None
    if int(arr.min()) < _I32_MIN or int(arr.max()) > _I32_MAX:
        return None
    return arr.astype(np.int32)


class Opening:
    """The secret opening of a Pedersen commitment: the values and the blinding.

    ``values`` are ints, each the representative of the committed value modulo ``l``
    in ``(-l/2, l/2]`` (so small negative integers stay small and negative).  The
    ``repr`` hides everything; ``==`` compares encodings in constant time.  Openings
    add and subtract element-wise, matching :class:`Commitment` arithmetic.

    Attributes:
        values: the committed values.
        blinding: the blinding scalar ``r``.
    """

    __slots__ = ("_small", "blinding", "values")
    values: tuple[int, ...]
    blinding: Scalar
    _small: npt.NDArray[np.int32] | None

    def __init__(self, values: Values, blinding: Scalar) -> None:
        if not isinstance(blinding, Scalar):
            raise ParameterError(f"blinding must be a Scalar, got {type(blinding).__name__}")
        object.__setattr__(self, "values", _values_tuple(values))
        object.__setattr__(self, "blinding", blinding)
        object.__setattr__(self, "_small", None)

    def _small_values(self) -> npt.NDArray[np.int32] | None:
        cached = self._small
        if cached is None:
            cached = _small_array(self.values)
            object.__setattr__(self, "_small", cached)
        return cached

    def __len__(self) -> int:
        return len(self.values)

    def _combine(self, other: Opening, sign: int) -> Opening:
        if len(other.values) != len(self.values):
            raise ParameterError(
                f"openings of {len(self.values)} and {len(other.values)} values do not combine"
            )
        vals = tuple(a + sign * b for a, b in zip(self.values, other.values, strict=True))
        blinding = self.blinding + other.blinding if sign > 0 else self.blinding - other.blinding
        return Opening(vals, blinding)

    def __add__(self, other: object) -> Opening:
        if not isinstance(other, Opening):
            return NotImplemented
        return self._combine(other, 1)

    def __sub__(self, other: object) -> Opening:
        if not isinstance(other, Opening):
            return NotImplemented
        return self._combine(other, -1)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Opening):
            return NotImplemented
        return hmac.compare_digest(self.to_bytes(), other.to_bytes())

    def __hash__(self) -> int:
        return hash((Opening, hashlib.sha256(self.to_bytes()).digest()))

    def __repr__(self) -> str:
        return f"Opening(<{len(self.values)} hidden values>, blinding=<hidden>)"

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError("Opening is immutable")

    def __copy__(self) -> Opening:
        return self

    def __deepcopy__(self, memo: object) -> Opening:
        return self

    def __reduce__(self) -> NoReturn:
        _no_pickle(self)

    def __reduce_ex__(self, protocol: object) -> NoReturn:
        _no_pickle(self)

    def to_bytes(self) -> bytes:
        """Serialise the opening (secret material: only when it is to be revealed).

        The canonical :mod:`privkit.wire` value ``{"blinding": <32 bytes>, "values":
        <32 * n bytes>}``, each value as its canonical scalar encoding (mod ``l``).
        """
        vals = b"".join((v % ORDER).to_bytes(32, "little") for v in self.values)
        return encode_value({"blinding": self.blinding.to_bytes(), "values": vals})

    @classmethod
    def from_bytes(cls, data: bytes | bytearray | memoryview, *, max_values: int) -> Opening:
        """Decode an opening from untrusted bytes.

        Args:
            data: one encoding written by :meth:`to_bytes`.
            max_values: the most values accepted (checked before anything is decoded).

        Raises:
            DecodeError: malformed, too long, or a non-canonical scalar.
        """
        if isinstance(max_values, bool) or not isinstance(max_values, int) or max_values < 0:
            raise ParameterError(f"max_values must be a non-negative int, got {max_values!r}")
        if not isinstance(data, bytes | bytearray | memoryview):
            raise ParameterError(f"data must be bytes, got {type(data).__name__}")
        if len(data) > 128 + 32 * max_values:
            raise DecodeError(f"an opening of at most {max_values} values is too long")
        value = decode_value(data, max_depth=1)
        if not isinstance(value, dict) or set(value) != {"blinding", "values"}:
            raise DecodeError("an opening must be a dict with the keys 'blinding' and 'values'")
        blinding, vals = value["blinding"], value["values"]
        if not isinstance(blinding, bytes) or not isinstance(vals, bytes) or len(vals) % 32:
            raise DecodeError("an opening's blinding and values must be 32-byte scalars")
        scalars = [Scalar.from_bytes(vals[i : i + 32]) for i in range(0, len(vals), 32)]
        return cls(scalars, Scalar.from_bytes(blinding))


def _check_generators(generators: object, n: int) -> Generators:
    if generators is None:
        return Generators.derive(n)
    if not isinstance(generators, Generators):
        raise ParameterError(f"generators must be Generators, got {type(generators).__name__}")
    if generators.n != n:
        raise ParameterError(f"{n} values for {generators.n} generators")
    return generators


def _vector_part(
    values: tuple[int, ...],
    small: npt.NDArray[np.int32] | None,
    gens: Generators,
    *,
    constant_time: bool,
) -> Point:
    if constant_time:
        total = Point.identity()
        for i, v in enumerate(values):
            total = total + gens.point(i) * Scalar.from_int(v)
        return total
    if small is not None:
        return msm_small(small, gens.array)
    return msm(list(values), gens.array)


def commitment_for(
    opening: Opening, *, generators: Generators | None = None, constant_time: bool = False
) -> Commitment:
    """Recompute the commitment an opening makes (deterministic).

    Args:
        opening: the values and blinding.
        generators: defaults to ``Generators.derive(len(opening))``.
        constant_time: compute the vector part with constant-time scalar
            multiplications instead of the variable-time MSM (slow; see the module
            docstring).

    Raises:
        ParameterError: the generators do not match the number of values.
    """
    if not isinstance(opening, Opening):
        raise ParameterError(f"opening must be an Opening, got {type(opening).__name__}")
    gens = _check_generators(generators, len(opening.values))
    vec = _vector_part(opening.values, opening._small_values(), gens, constant_time=constant_time)
    return Commitment(vec + gens.h * opening.blinding)  # r * H: constant time


def commit(
    values: Values,
    blinding: Scalar | None = None,
    *,
    generators: Generators | None = None,
    constant_time: bool = False,
) -> tuple[Commitment, Opening]:
    """Commit to a vector of integers (or scalars).

    Args:
        values: ints or :class:`Scalar` values, or a 1-D numpy integer array (int8,
            int16 and int32 arrays take the fast small-scalar MSM path; so do other
            integer arrays whose values fit in int32).
        blinding: the blinding scalar; a fresh :meth:`Scalar.random` by default.  Never
            reuse one.
        generators: defaults to ``Generators.derive(len(values))``.
        constant_time: see :func:`commitment_for`.

    Returns:
        ``(commitment, opening)``; keep the opening secret until it is revealed.

    Raises:
        ParameterError: bad values, blinding or generators.
    """
    if blinding is None:
        blinding = Scalar.random()
    elif not isinstance(blinding, Scalar):
        raise ParameterError(f"blinding must be a Scalar or None, got {type(blinding).__name__}")
    opening = Opening(values, blinding)
    if isinstance(values, np.ndarray) and values.dtype in _SMALL_DTYPES:
        object.__setattr__(opening, "_small", values.astype(np.int32))
    return commitment_for(opening, generators=generators, constant_time=constant_time), opening


def verify_opening(
    commitment: Commitment,
    opening: Opening,
    *,
    generators: Generators | None = None,
) -> bool:
    """Whether ``opening`` opens ``commitment`` (under ``generators``).

    Returns ``False`` (never raises) for a commitment or opening of the wrong type or
    length.  The MSM is variable time; the values are being revealed here anyway.
    """
    if not isinstance(cast(object, commitment), Commitment) or not isinstance(
        cast(object, opening), Opening
    ):
        return False
    if generators is not None and (
        not isinstance(cast(object, generators), Generators) or generators.n != len(opening)
    ):
        return False
    try:
        return commitment_for(opening, generators=generators) == commitment
    except ParameterError:
        return False


def centred(ring: npt.ArrayLike, bits: int) -> npt.NDArray[np.int64]:
    """Ring elements of Z_2^bits as signed ints in ``[-2**(bits-1), 2**(bits-1))``.

    The two's-complement reading that :meth:`FixedPoint.decode` uses.

    Raises:
        ParameterError: ``bits`` not in ``[2, 64]`` or ``ring`` not integers.
    """
    if isinstance(bits, bool) or not isinstance(bits, int) or not 2 <= bits <= 64:
        raise ParameterError(f"bits must be an int in [2, 64], got {bits!r}")
    arr = np.asarray(ring)
    if arr.dtype.kind not in "iu":
        raise ParameterError(f"ring elements must be integers, got dtype {arr.dtype}")
    shift = np.uint64(64 - bits)
    u = np.left_shift(arr.astype(np.uint64).reshape(-1), shift)
    out: npt.NDArray[np.int64] = np.right_shift(u.view(np.int64), np.int64(64 - bits))
    return out


def _update_values(update: object, encoding: FixedPoint) -> npt.NDArray[np.integer[Any]]:
    if not isinstance(encoding, FixedPoint):
        raise ParameterError(f"encoding must be a FixedPoint, got {type(encoding).__name__}")
    vector, _ = flatten(update)
    signed = centred(encoding.encode(vector), encoding.bits)
    if encoding.bits <= 8:
        return signed.astype(np.int8)
    if encoding.bits <= 16:
        return signed.astype(np.int16)
    if encoding.bits <= 32:
        return signed.astype(np.int32)
    return signed


def commit_update(
    update: object,
    *,
    encoding: FixedPoint,
    blinding: Scalar | None = None,
    generators: Generators | None = None,
    constant_time: bool = False,
) -> tuple[Commitment, Opening]:
    """Commit to a model update through its fixed-point encoding.

    The update is flattened (:func:`privkit.encoding.flatten`), encoded with
    ``encoding`` and each ring element read as a signed integer (:func:`centred`), so
    the commitment's values are the signed fixed-point integers.  The sum of the
    commitments of ``k`` updates (with the summed blinding) therefore opens to the
    signed reading of the ring sum of their encodings, as long as the sum does not wrap
    (``k <= encoding.max_summands``; :func:`verify_update_opening` checks it).

    Args:
        update: anything :func:`privkit.encoding.flatten` accepts.
        encoding: the fixed-point encoding.
        blinding, generators, constant_time: as for :func:`commit`.

    Returns:
        ``(commitment, opening)``.
    """
    values = _update_values(update, encoding)
    return commit(values, blinding, generators=generators, constant_time=constant_time)


def verify_update_opening(
    commitment: Commitment,
    total: npt.ArrayLike,
    blinding: Scalar,
    *,
    encoding: FixedPoint,
    n_summands: int,
    generators: Generators | None = None,
) -> bool:
    """Whether ``commitment`` (a sum of :func:`commit_update` commitments) opens to a
    ring sum of encodings.

    Args:
        commitment: the sum of the ``n_summands`` clients' commitments.
        total: the ring sum of their encodings (what secure aggregation outputs).
        blinding: the sum of their blindings.
        encoding: the fixed-point encoding they used.
        n_summands: how many commitments were summed.
        generators: as for :func:`commit`.

    Raises:
        ParameterError: ``n_summands > encoding.max_summands`` (the ring sum may have
            wrapped, so it need not match the sum of the committed integers).
    """
    if not isinstance(encoding, FixedPoint):
        raise ParameterError(f"encoding must be a FixedPoint, got {type(encoding).__name__}")
    if isinstance(n_summands, bool) or not isinstance(n_summands, int) or n_summands < 1:
        raise ParameterError(f"n_summands must be a positive int, got {n_summands!r}")
    if n_summands > encoding.max_summands:
        raise ParameterError(
            f"{n_summands} summands may wrap Z_2^{encoding.bits}: at most "
            f"{encoding.max_summands} fit (see FixedPoint.for_sum)"
        )
    values = centred(total, encoding.bits)
    return verify_opening(commitment, Opening(values, blinding), generators=generators)
