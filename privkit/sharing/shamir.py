"""Shamir t-of-n secret sharing over the prime field GF(p), p = 2^61 - 1.

A secret is a vector of field elements ``s``.  :func:`split` draws, for every
coordinate, a random polynomial ``f(x) = s + a_1 x + ... + a_{t-1} x^{t-1}``
with coefficients uniform in GF(p) and hands party ``j`` the share
``f(j)`` for ``j = 1..n``.  Any ``t`` shares determine ``f`` and so
``s = f(0)`` (Lagrange interpolation, :func:`combine`); any ``t - 1`` shares
are jointly uniform and independent of ``s`` (information-theoretic hiding).

Byte secrets are cut into :data:`CHUNK_BYTES` = 7-byte little-endian chunks
(each below 2^56 < p; the last one zero-padded), and the byte length travels
in every share, so :func:`combine` returns exactly the bytes that were split.

The field arithmetic (Horner evaluation of all coordinates at all points, and
the linear combinations of reconstruction) runs in C
(:func:`privkit._native.field_poly_eval`, :func:`~privkit._native.field_matmul`);
Python only computes the t Lagrange coefficients.

Security assumptions and limits:

* The polynomial coefficients come from :func:`privkit.prg.random_ring`, a
  ChaCha20 stream keyed by a fresh OS-random seed, turned into uniform field
  elements by masking to 61 bits and rejecting the single value p.
* Fewer than ``threshold`` shares reveal nothing about the secret.
* Shamir sharing does **not** authenticate shares.  A wrong share among the
  ``threshold`` used for reconstruction silently changes the result (for byte
  secrets it is usually caught by the range and padding checks, but not
  always).  Extra shares beyond the threshold let :func:`combine` detect
  inconsistency (``check=True``), not say which share is wrong.  Protocols
  that need integrity must authenticate shares themselves (privkit.secagg
  sends them under an AEAD).
* Reconstruction is not constant time; it is meant for the party entitled to
  the secret.  See ``docs/sharing.md``.
"""

from __future__ import annotations

import functools
import hmac
import operator
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

import numpy as np
import numpy.typing as npt

from privkit import _native, prg, wire
from privkit.errors import DecodeError, ParameterError, VerificationError

__all__ = [
    "CHUNK_BYTES",
    "FINGERPRINT",
    "MAX_SHARES",
    "PRIME",
    "Share",
    "combine",
    "combine_many",
    "lagrange_coefficients",
    "split",
    "split_many",
]

PRIME: Final = 2**61 - 1
"""The field modulus p: the Mersenne prime 2^61 - 1."""
CHUNK_BYTES: Final = 7
"""Bytes of a byte secret per field element (7 bytes < 2^56 < p)."""
MAX_SHARES: Final = 2**32 - 1
"""The largest ``n`` (and share index): indices are 1..2^32 - 1."""
WIRE_DOMAIN: Final = "privkit.sharing.shamir.v1"
FINGERPRINT: Final = wire.fingerprint(WIRE_DOMAIN, {"chunk_bytes": CHUNK_BYTES, "prime": PRIME})
"""The wire fingerprint every serialized :class:`Share` carries (binds field and chunking)."""

if _native.FIELD_PRIME != PRIME:  # pragma: no cover - guards a mismatched build
    raise ImportError(
        f"privkit's C extension uses the field prime {_native.FIELD_PRIME}, "
        f"privkit.sharing.shamir needs {PRIME}; rebuild with: python -m pip install -e ."
    )

_P_U64: Final = np.uint64(PRIME)
_CHUNK_LIMIT: Final = np.uint64(1 << (8 * CHUNK_BYTES))
_WIRE_FIELDS: Final = frozenset({"index", "threshold", "secret_bytes", "values"})
_INDEX: Final = operator.attrgetter("index")
_VALUES: Final = operator.attrgetter("values")
_META: Final = operator.attrgetter("threshold", "secret_bytes")


# --------------------------------------------------------------------------- the share


def _check_int(value: object, name: str, low: int, high: int) -> int:
    if isinstance(value, bool | np.bool_):
        raise ParameterError(f"{name} must be an int in [{low}, {high}], got {value!r}")
    try:
        v = operator.index(value)  # type: ignore[arg-type]
    except TypeError:
        raise ParameterError(
            f"{name} must be an int in [{low}, {high}], got {type(value).__name__}"
        ) from None
    if not low <= v <= high:
        raise ParameterError(f"{name} must be an int in [{low}, {high}], got {v}")
    return v


def _chunks(secret_bytes: int) -> int:
    return -(-secret_bytes // CHUNK_BYTES)


def _frozen(values: npt.NDArray[np.uint64]) -> npt.NDArray[np.uint64]:
    if values.flags.writeable or not values.flags.c_contiguous:
        values = np.array(values, dtype=np.uint64, order="C", copy=True)
        values.flags.writeable = False
    return values


@dataclass(frozen=True, eq=False, repr=False)
class Share:
    """One party's Shamir share of a secret.

    Shares are secret material: ``repr`` shows only the public fields (index,
    threshold, length), ``==`` compares the values in constant time, and
    :meth:`to_bytes` writes the values only because you asked for them.

    Attributes:
        index: the evaluation point x of this share, 1..2^32 - 1 (party j holds x = j).
        threshold: t, the number of shares that reconstruct the secret.
        values: read-only 1-D uint64 array of field elements (< 2^61 - 1), one per
            coordinate (per 7-byte chunk of a byte secret).
        secret_bytes: the byte length of a byte secret, or ``None`` when the secret is
            a vector of field elements.

    Raises:
        ParameterError: (from the constructor) a field of the wrong type or out of
            range, or ``values`` whose length does not match ``secret_bytes``.
    """

    index: int
    threshold: int
    values: npt.NDArray[np.uint64]
    secret_bytes: int | None = None

    def __post_init__(self) -> None:
        index = _check_int(self.index, "index", 1, MAX_SHARES)
        threshold = _check_int(self.threshold, "threshold", 1, MAX_SHARES)
        values = self.values
        if not isinstance(values, np.ndarray) or values.dtype != np.uint64 or values.ndim != 1:
            raise ParameterError("values must be a 1-D numpy uint64 array of field elements")
        if values.size and bool(np.any(values >= _P_U64)):
            raise ParameterError("every value must be a field element in [0, 2**61 - 1)")
        secret_bytes = self.secret_bytes
        if secret_bytes is not None:
            secret_bytes = _check_int(secret_bytes, "secret_bytes", 0, CHUNK_BYTES * values.size)
            if _chunks(secret_bytes) != values.size:
                raise ParameterError(
                    f"a {secret_bytes}-byte secret has {_chunks(secret_bytes)} chunks of "
                    f"{CHUNK_BYTES} bytes, but values holds {values.size}"
                )
        object.__setattr__(self, "index", index)
        object.__setattr__(self, "threshold", threshold)
        object.__setattr__(self, "values", _frozen(values))
        object.__setattr__(self, "secret_bytes", secret_bytes)

    @classmethod
    def _unchecked(
        cls,
        index: int,
        threshold: int,
        values: npt.NDArray[np.uint64],
        secret_bytes: int | None,
    ) -> Share:
        # For shares this module has just computed or fully validated: skip the checks.
        # (A frozen dataclass without slots keeps its fields in __dict__.)
        share = object.__new__(cls)
        share.__dict__.update(
            index=index, threshold=threshold, values=values, secret_bytes=secret_bytes
        )
        return share

    def __repr__(self) -> str:
        return (
            f"Share(index={self.index}, threshold={self.threshold}, "
            f"length={self.values.size}, secret_bytes={self.secret_bytes})"
        )

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Share):
            return NotImplemented
        return (
            self.index == other.index
            and self.threshold == other.threshold
            and self.secret_bytes == other.secret_bytes
            and self.values.shape == other.values.shape
            and hmac.compare_digest(self.values.tobytes(), other.values.tobytes())
        )

    def __hash__(self) -> int:
        # Public fields only: equal shares hash equal, and the values never reach hash().
        return hash((self.index, self.threshold, self.secret_bytes, self.values.size))

    def to_bytes(self) -> bytes:
        """Serialize this share as a privkit.wire message (secret material!).

        The message has type ``MessageType.SHAMIR_SHARE`` (0x0201), carries
        :data:`FINGERPRINT`, and its body is the dict ``{"index", "threshold",
        "secret_bytes", "values"}`` (values as a little-endian uint64 array).

        Returns:
            The message bytes.  Send them only over an encrypted, authenticated channel.
        """
        return wire.encode(
            wire.MessageType.SHAMIR_SHARE,
            {
                "index": self.index,
                "threshold": self.threshold,
                "secret_bytes": self.secret_bytes,
                "values": self.values,
            },
            fingerprint=FINGERPRINT,
        )

    @classmethod
    def from_bytes(
        cls, data: bytes | bytearray | memoryview, *, max_size: int | None = None
    ) -> Share:
        """Decode a share written by :meth:`to_bytes`, from untrusted bytes.

        Args:
            data: exactly one message.
            max_size: refuse input longer than this many bytes before parsing.

        Returns:
            The share (its values are a fresh read-only array).

        Raises:
            DecodeError: not a well-formed SHAMIR_SHARE message for this field: wrong
                type tag or fingerprint, truncated or trailing bytes, missing or extra
                fields, an index outside 1..2^32 - 1, a threshold outside
                1..2^32 - 1, values that are not a 1-D uint64 array of elements
                < 2^61 - 1, or a ``secret_bytes`` that does not match the length.
            ParameterError: ``data`` is not bytes-like or ``max_size`` is invalid.
        """
        msg = wire.decode(
            data,
            expect_type=wire.MessageType.SHAMIR_SHARE,
            expect_fingerprint=FINGERPRINT,
            max_size=max_size,
        )
        body = msg.body
        if not isinstance(body, dict) or set(body) != _WIRE_FIELDS:
            raise DecodeError(
                "a Shamir share body must be a dict with exactly the keys index, threshold, "
                "secret_bytes and values"
            )
        index, threshold = body["index"], body["threshold"]
        values, secret_bytes = body["values"], body["secret_bytes"]
        if isinstance(index, bool) or not isinstance(index, int) or not 1 <= index <= MAX_SHARES:
            raise DecodeError(f"share index must be an int in [1, {MAX_SHARES}]")
        if (
            isinstance(threshold, bool)
            or not isinstance(threshold, int)
            or not 1 <= threshold <= MAX_SHARES
        ):
            raise DecodeError(f"share threshold must be an int in [1, {MAX_SHARES}]")
        if not isinstance(values, np.ndarray) or values.dtype != np.uint64 or values.ndim != 1:
            raise DecodeError("share values must be a 1-D uint64 array")
        if values.size and bool(np.any(values >= _P_U64)):
            raise DecodeError("share values must be field elements < 2**61 - 1")
        if secret_bytes is not None and (
            isinstance(secret_bytes, bool)
            or not isinstance(secret_bytes, int)
            or secret_bytes < 0
            or _chunks(secret_bytes) != values.size
        ):
            raise DecodeError(
                f"share secret_bytes must be None or the byte length of a secret of "
                f"{values.size} chunks of {CHUNK_BYTES} bytes"
            )
        values.flags.writeable = False  # the decoder returned a fresh, contiguous copy
        return cls._unchecked(index, threshold, _frozen(values), secret_bytes)


# --------------------------------------------------------------------------- field helpers


def _random_field(count: int) -> npt.NDArray[np.uint64]:
    """``count`` independent uniform elements of GF(p) from the CSPRNG.

    A 64-bit word masked to its low 61 bits is uniform in [0, 2^61); every draw
    equal to p = 2^61 - 1 is rejected and redrawn, which leaves the others
    uniform in [0, p).  A redraw happens with probability 2^-61 per element.
    """
    out = prg.random_ring(count, dtype=np.uint64)
    np.bitwise_and(out, _P_U64, out=out)
    redo = np.flatnonzero(out == _P_U64)
    while redo.size:
        fresh = prg.random_ring(redo.size, dtype=np.uint64) & _P_U64
        out[redo] = fresh
        redo = redo[fresh == _P_U64]
    return out


def _batch_inverse(values: Sequence[int]) -> list[int]:
    """Inverses mod p of non-zero field elements, with one modular exponentiation."""
    prefix: list[int] = []
    acc = 1
    for v in values:
        prefix.append(acc)
        acc = acc * v % PRIME
    inv = pow(acc, -1, PRIME)
    out = [0] * len(values)
    for i in range(len(values) - 1, -1, -1):
        out[i] = inv * prefix[i] % PRIME
        inv = inv * values[i] % PRIME
    return out


def _lagrange_rows(xs: Sequence[int], ats: Sequence[int]) -> list[list[int]]:
    """Row q: the Lagrange coefficients at ``ats[q]`` for the distinct points ``xs``.

    Barycentric form: ``L_i(a) = l(a) * w_i / (a - x_i)`` with ``l(a) = prod (a - x_j)``
    and ``w_i = 1 / prod_{j != i} (x_i - x_j)``: O(t^2) for the weights, then O(t)
    per point, with all inversions batched.
    """
    t = len(xs)
    denominators = []
    for i, xi in enumerate(xs):
        d = 1
        for j, xj in enumerate(xs):
            if j != i:
                d = d * (xi - xj) % PRIME
        denominators.append(d)
    position = {x: i for i, x in enumerate(xs)}
    off_grid = [a for a in ats if a not in position]
    inverses = _batch_inverse(denominators + [(a - x) % PRIME for a in off_grid for x in xs])
    weights, diff_inv = inverses[:t], inverses[t:]
    rows: list[list[int]] = []
    k = 0
    for a in ats:
        if a in position:
            row = [0] * t
            row[position[a]] = 1
        else:
            ell = 1
            for x in xs:
                ell = ell * (a - x) % PRIME
            row = [ell * weights[i] % PRIME * diff_inv[k + i] % PRIME for i in range(t)]
            k += t
        rows.append(row)
    return rows


@functools.lru_cache(maxsize=64)
def _weights(xs: tuple[int, ...], ats: tuple[int, ...]) -> npt.NDArray[np.uint64]:
    """:func:`_lagrange_rows` as a read-only uint64 matrix, cached.

    Reconstructions with the same share holders (every SecAgg round after the
    first, every group of a batch) reuse the coefficients.  They depend only on
    the public indices, so caching them keeps nothing secret.
    """
    weights = np.array(_lagrange_rows(xs, ats), dtype=np.uint64).reshape(len(ats), len(xs))
    weights.flags.writeable = False
    return weights


def _check_point(value: object, name: str) -> int:
    if isinstance(value, bool | np.bool_):
        raise ParameterError(f"{name} must be an int in [0, 2**61 - 1), got {value!r}")
    try:
        v = operator.index(value)  # type: ignore[arg-type]
    except TypeError:
        raise ParameterError(
            f"{name} must be an int in [0, 2**61 - 1), got {type(value).__name__}"
        ) from None
    if not 0 <= v < PRIME:
        raise ParameterError(f"{name} must be a field element in [0, 2**61 - 1), got {v}")
    return v


def lagrange_coefficients(xs: Sequence[int], at: int = 0) -> list[int]:
    """The Lagrange coefficients at ``at`` for interpolation through the points ``xs``.

    For any polynomial f of degree < len(xs): ``f(at) = sum_i c[i] * f(xs[i]) mod p``.

    Args:
        xs: distinct field elements (ints in [0, 2^61 - 1)); may be empty.
        at: the field element to interpolate at (default 0: the secret).

    Returns:
        One coefficient per point, each in [0, 2^61 - 1), in the order of ``xs``.

    Raises:
        ParameterError: a point that is not an int in the field, or repeated points.
    """
    if isinstance(xs, str | bytes) or not isinstance(xs, Sequence):
        raise ParameterError("xs must be a sequence of ints")
    points = [_check_point(x, f"xs[{i}]") for i, x in enumerate(xs)]
    if len(set(points)) != len(points):
        raise ParameterError("xs must be distinct points; found a repeated one")
    return _lagrange_rows(points, [_check_point(at, "at")])[0]


# --------------------------------------------------------------------------- splitting


def _check_threshold_n(threshold: object, n: object) -> tuple[int, int]:
    count = _check_int(n, "n", 1, MAX_SHARES)
    t = _check_int(threshold, "threshold", 1, MAX_SHARES)
    if t > count:
        raise ParameterError(f"threshold must be in [1, n] = [1, {count}], got {t}")
    return t, count


def _secret_values(secret: object, name: str) -> tuple[npt.NDArray[np.uint64], int | None]:
    """The field elements of a secret and its byte length (None for a field vector)."""
    if isinstance(secret, bytes | bytearray | memoryview):
        data = np.frombuffer(secret if isinstance(secret, bytes) else bytes(secret), np.uint8)
        size = data.size
        k = _chunks(size)
        flat = np.zeros(k * CHUNK_BYTES, dtype=np.uint8)
        flat[:size] = data
        padded = np.zeros((k, 8), dtype=np.uint8)
        padded[:, :CHUNK_BYTES] = flat.reshape(k, CHUNK_BYTES)
        values = padded.view("<u8").reshape(k).astype(np.uint64)
        flat.fill(0)  # best effort: no stray copies of the secret
        padded.fill(0)
        return values, size
    if isinstance(secret, np.ndarray):
        if secret.dtype != np.uint64 or secret.ndim != 1:
            raise ParameterError(
                f"{name} as an array must be 1-D uint64 field elements, got "
                f"{secret.dtype} {secret.shape}"
            )
        if secret.size and bool(np.any(secret >= _P_U64)):
            raise ParameterError(
                f"every element of {name} must be a field element in [0, 2**61 - 1)"
            )
        return secret, None
    raise ParameterError(
        f"{name} must be bytes or a 1-D numpy uint64 array of field elements, got "
        f"{type(secret).__name__}"
    )


def _split_values(
    secrets: list[tuple[npt.NDArray[np.uint64], int | None]], t: int, n: int
) -> list[list[Share]]:
    """Share every secret with one polynomial evaluation in C."""
    lengths = [values.size for values, _ in secrets]
    total = sum(lengths)
    coeffs = np.empty((t, total), dtype=np.uint64)
    if secrets:
        np.concatenate([values for values, _ in secrets], out=coeffs[0])
    if t > 1:
        coeffs[1:] = _random_field((t - 1) * total).reshape(t - 1, total)
    evaluations = _native.field_poly_eval(coeffs, np.arange(1, n + 1, dtype=np.uint64))
    coeffs.fill(0)  # best effort: the secret and the polynomial are not kept around
    evaluations.flags.writeable = False
    parties = list(enumerate(evaluations, start=1))  # (index, that party's row) pairs
    make = Share._unchecked
    result: list[list[Share]] = []
    start = 0
    for (_, secret_bytes), length in zip(secrets, lengths, strict=True):
        stop = start + length
        result.append([make(x, t, row[start:stop], secret_bytes) for x, row in parties])
        start = stop
    return result


def split(secret: bytes | npt.NDArray[np.uint64], *, threshold: int, n: int) -> list[Share]:
    """Split a secret into ``n`` Shamir shares, any ``threshold`` of which reconstruct it.

    Security assumption: the polynomial coefficients are uniform field elements
    from a ChaCha20 stream under a fresh OS-random key; fewer than ``threshold``
    shares then reveal nothing about the secret (``threshold=1`` gives no secrecy:
    every share equals the secret).  Shares are not authenticated.

    Args:
        secret: bytes (any length, including 0; cut into 7-byte chunks), or a 1-D
            numpy uint64 array of field elements, each < 2^61 - 1.
        threshold: t, the number of shares needed, 1 <= t <= n.
        n: the number of shares, 1 <= n <= 2^32 - 1.

    Returns:
        ``n`` shares; share ``j`` (0-based) has ``index = j + 1``.

    Raises:
        ParameterError: ``threshold`` or ``n`` out of range, or a secret that is not
            bytes or a 1-D uint64 array of field elements.
    """
    t, count = _check_threshold_n(threshold, n)
    return _split_values([_secret_values(secret, "secret")], t, count)[0]


def split_many(
    secrets: Sequence[bytes | npt.NDArray[np.uint64]], *, threshold: int, n: int
) -> list[list[Share]]:
    """Split many secrets at once: :func:`split` for each, with one C call for all.

    Args:
        secrets: byte strings and/or 1-D uint64 field-element arrays.
        threshold: t, 1 <= t <= n.
        n: the number of shares of each secret, 1 <= n <= 2^32 - 1.

    Returns:
        One list per secret (in order), each holding that secret's ``n`` shares.

    Raises:
        ParameterError: as :func:`split`, or ``secrets`` not a sequence.
    """
    t, count = _check_threshold_n(threshold, n)
    if isinstance(secrets, bytes | bytearray | memoryview | str) or not isinstance(
        secrets, Sequence
    ):
        raise ParameterError("secrets must be a sequence (list or tuple) of secrets")
    values = [_secret_values(s, f"secrets[{i}]") for i, s in enumerate(secrets)]
    return _split_values(values, t, count)


# --------------------------------------------------------------------------- combining


def _check_group(shares: object, name: str, prefix: str) -> tuple[list[Share], int]:
    """Validate the shares of one secret; return them and the threshold."""
    if isinstance(shares, bytes | bytearray | memoryview | str) or not isinstance(shares, Sequence):
        raise ParameterError(f"{name} must be a sequence (list or tuple) of Share")
    items = list(shares)
    if not items:
        raise ParameterError(f"{prefix}need at least 1 share, got 0")
    # map() with attrgetter keeps these per-share checks in C: a SecAgg server
    # validates thousands of shares per round.
    if set(map(type, items)) != {Share} and not all(isinstance(s, Share) for s in items):
        i, bad = next((i, s) for i, s in enumerate(items) if not isinstance(s, Share))
        raise ParameterError(f"{name}[{i}] must be a Share, got {type(bad).__name__}")
    first = items[0]
    if len(set(map(_META, items))) > 1 or len(set(map(len, map(_VALUES, items)))) > 1:
        key = (first.threshold, len(first.values), first.secret_bytes)
        other = next(s for s in items if (s.threshold, len(s.values), s.secret_bytes) != key)
        raise ParameterError(
            f"{prefix}shares of one secret must agree on threshold, length and "
            f"secret_bytes; share {first.index} has {key}, share {other.index} has "
            f"{(other.threshold, len(other.values), other.secret_bytes)}"
        )
    t = first.threshold
    if len(items) < t:
        raise ParameterError(
            f"{prefix}need {t} shares (the threshold) to reconstruct, got {len(items)}"
        )
    if len(set(map(_INDEX, items))) != len(items):
        seen: set[int] = set()
        for share in items:
            if share.index in seen:
                raise ParameterError(f"{prefix}share index {share.index} appears more than once")
            seen.add(share.index)
    return items, t


def _side_by_side(groups: list[list[Share]]) -> tuple[npt.NDArray[np.uint64], list[int]]:
    """The values of equally many shares per group as one (shares, total length) matrix.

    Group k occupies columns ``bounds[k]:bounds[k + 1]``; row i holds the values of
    each group's i-th share.
    """
    sizes = [len(group[0].values) for group in groups]
    bounds = [0]
    for size in sizes:
        bounds.append(bounds[-1] + size)
    rows, m = len(groups[0]), sizes[0]
    if all(size == m for size in sizes):
        # One concatenation, then a transpose: no per-group numpy calls.
        flat = np.concatenate([share.values for group in groups for share in group])
        stacked = flat.reshape(len(groups), rows, m).transpose(1, 0, 2)
        return np.ascontiguousarray(stacked).reshape(rows, len(groups) * m), bounds
    blocks = [np.stack([share.values for share in group]) for group in groups]
    return np.concatenate(blocks, axis=1), bounds


def _finish(values: npt.NDArray[np.uint64], secret_bytes: int | None) -> bytes | npt.NDArray[Any]:
    """Turn reconstructed field elements back into the secret's form (a new object)."""
    if secret_bytes is None:
        return values.copy()
    if values.size and bool(np.any(values >= _CHUNK_LIMIT)):
        raise VerificationError(
            f"inconsistent shares: a reconstructed chunk does not fit in {CHUNK_BYTES} "
            "bytes, so the shares do not belong to one byte secret (tampered, corrupted "
            "or from different splittings)"
        )
    raw = values.astype("<u8", copy=False).view(np.uint8).reshape(-1, 8)[:, :CHUNK_BYTES]
    data = raw.tobytes()
    if any(data[secret_bytes:]):
        raise VerificationError(
            "inconsistent shares: the padding of the reconstructed secret is not zero "
            "(tampered, corrupted or from different splittings)"
        )
    return data[:secret_bytes]


def _check_extras(
    xs: tuple[int, ...],
    rows: npt.NDArray[np.uint64],
    bounds: list[int],
    members: list[tuple[list[Share], int, str]],
) -> None:
    """Check that the extra shares of each group lie on its interpolating polynomial.

    ``rows`` holds the base shares' values of all ``members`` side by side, member k
    in columns ``bounds[k]:bounds[k + 1]``.  Members with the same extra indices are
    checked with one Lagrange computation and one C matrix product.
    """
    by_extras: dict[tuple[int, ...], list[int]] = {}
    for k, (items, t, _) in enumerate(members):
        if len(items) > t:
            by_extras.setdefault(tuple(map(_INDEX, items[t:])), []).append(k)
    for extra_xs, ks in by_extras.items():
        weights = _weights(xs, extra_xs)
        if len(ks) == len(members):
            sub = rows
        else:
            sub = np.concatenate([rows[:, bounds[k] : bounds[k + 1]] for k in ks], axis=1)
        actual, cols = _side_by_side([members[k][0][members[k][1] :] for k in ks])
        wrong = _native.field_matmul(weights, sub) != actual
        if not wrong.any():
            continue
        for pos, k in enumerate(ks):
            bad_rows = np.flatnonzero(wrong[:, cols[pos] : cols[pos + 1]].any(axis=1))
            if bad_rows.size:
                items, t, prefix = members[k]
                bad = ", ".join(str(items[t + int(i)].index) for i in bad_rows)
                raise VerificationError(
                    f"{prefix}inconsistent shares: share(s) with index {bad} do not lie on "
                    f"the polynomial through the shares with indices {list(xs)}; at least "
                    "one share is tampered, corrupted or from a different splitting"
                )


def _reconstruct(
    groups: list[tuple[list[Share], int, str]], check: bool
) -> list[bytes | npt.NDArray[np.uint64]]:
    """Reconstruct validated groups, batching those with the same base indices."""
    # Bucket the groups by the (sorted) indices of the threshold shares that define them.
    buckets: dict[tuple[int, ...], list[int]] = {}
    bases: list[list[Share]] = []
    for g, (items, t, _) in enumerate(groups):
        base = sorted(items[:t], key=_INDEX)
        bases.append(base)
        buckets.setdefault(tuple(map(_INDEX, base)), []).append(g)

    by_group: dict[int, bytes | npt.NDArray[np.uint64]] = {}
    for xs, members in buckets.items():
        rows, bounds = _side_by_side([bases[g] for g in members])
        weights = _weights(xs, (0,))[0]
        values = _native.field_lincomb(rows, weights)
        if check:
            _check_extras(xs, rows, bounds, [groups[g] for g in members])
        for k, g in enumerate(members):
            try:
                by_group[g] = _finish(values[bounds[k] : bounds[k + 1]], bases[g][0].secret_bytes)
            except VerificationError as exc:
                raise VerificationError(f"{groups[g][2]}{exc}") from None
        values.fill(0)  # best effort: do not leave reconstructed secrets around
    return [by_group[g] for g in range(len(groups))]


def combine(shares: Sequence[Share], *, check: bool = True) -> bytes | npt.NDArray[np.uint64]:
    """Reconstruct a secret from Shamir shares.

    Exactly ``threshold`` shares are used: the first ``threshold`` given.  With
    ``check=True`` every further share must lie on the polynomial those define.

    Security assumption: shares are not authenticated.  If one of the shares used
    is wrong, the result is wrong; for byte secrets this is usually, but not
    always, detected.  Extra shares make inconsistency detectable, not correctable.

    Args:
        shares: at least ``threshold`` shares of one secret, with distinct indices.
        check: verify the shares beyond the first ``threshold`` (if any).

    Returns:
        The secret: ``bytes`` for a byte secret, else a new 1-D uint64 array.

    Raises:
        ParameterError: no shares, an item that is not a :class:`Share`, fewer than
            ``threshold`` shares ("need t shares ..., got k"), repeated indices, or
            shares that disagree on threshold, length or ``secret_bytes``.
        VerificationError: an extra share does not lie on the polynomial (its index
            is named), or a byte secret's chunks or padding are impossible.
    """
    items, t = _check_group(shares, "shares", "")
    return _reconstruct([(items, t, "")], check)[0]


def combine_many(
    groups: Sequence[Sequence[Share]], *, check: bool = True
) -> list[bytes | npt.NDArray[np.uint64]]:
    """Reconstruct many secrets: :func:`combine` for each group of shares, batched.

    Groups whose first ``threshold`` shares have the same set of indices share one
    Lagrange computation and one C call over their concatenated values; the extra
    shares of such groups that have the same extra indices are checked with one
    more Lagrange computation and C call.  Other groups fall back to their own.

    Args:
        groups: one sequence of shares per secret (each as for :func:`combine`).
        check: verify every share beyond the first ``threshold`` of its group.

    Returns:
        The secrets, in the order of ``groups``.

    Raises:
        ParameterError: as :func:`combine`, naming the group (``groups[i]``).
        VerificationError: as :func:`combine`, naming the group and share index.
    """
    if isinstance(groups, bytes | bytearray | memoryview | str) or not isinstance(groups, Sequence):
        raise ParameterError("groups must be a sequence of sequences of Share")
    checked = []
    for g, group in enumerate(groups):
        items, t = _check_group(group, f"groups[{g}]", f"groups[{g}]: ")
        checked.append((items, t, f"groups[{g}]: "))
    return _reconstruct(checked, check)
