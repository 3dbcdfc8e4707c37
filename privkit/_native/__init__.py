"""Hazardous materials: thin, checked bindings to privkit's C kernels.

This is the only module that touches cffi's ``ffi`` and ``lib``.  Each wrapper
validates lengths, dtypes, ranges and memory layout before the call (the C code
re-checks what it can), passes caller-allocated buffers, and turns a non-zero C
status into :class:`privkit.errors.NativeError`.  Most users want
:mod:`privkit.prg` instead.

At import the ABI number compiled into the extension is compared with
:data:`EXPECTED_ABI`; a stale build raises ``ImportError`` that says how to
rebuild.
"""

from __future__ import annotations

from typing import Any, Final

import numpy as np
import numpy.typing as npt

from privkit.errors import NativeError, ParameterError

__all__ = [
    "EXPECTED_ABI",
    "FIELD_PRIME",
    "GROUP_ELEMENTS",
    "ISA_NAMES",
    "MAX_ELEMENTS",
    "NONCE_BYTES",
    "R255_BYTES",
    "R255_POINT_BYTES",
    "R255_PREPARED_WORDS",
    "R255_SC_OPS",
    "SEED_BYTES",
    "active_isa",
    "available_isas",
    "chacha20_keystream",
    "field_lincomb",
    "field_matmul",
    "field_poly_eval",
    "mask_add",
    "r255_add",
    "r255_decode",
    "r255_encode",
    "r255_equal",
    "r255_from_uniform",
    "r255_from_uniform_batch",
    "r255_generator",
    "r255_identity",
    "r255_msm",
    "r255_msm_small",
    "r255_neg",
    "r255_prepare",
    "r255_scalar_check",
    "r255_scalar_op",
    "r255_scalar_reduce",
    "r255_scalarmult",
    "r255_scalarmult_base",
    "r255_sub",
    "r255_unprepare",
]

EXPECTED_ABI: Final = 4
_REBUILD = (
    "rebuild the C extension from the project root with: python -m pip install -e . "
    "(or reinstall privkit with: python -m pip install --force-reinstall --no-deps privkit)"
)

try:
    from privkit._native._pk_native import ffi, lib
except ImportError as exc:  # pragma: no cover - exercised only on broken installs
    raise ImportError(
        f"privkit's C extension is missing or failed to load ({exc}); {_REBUILD}"
    ) from exc

if lib.pk_abi_version() != EXPECTED_ABI:  # pragma: no cover - exercised by the ABI test
    raise ImportError(
        f"privkit's C extension is stale: it has ABI {lib.pk_abi_version()}, this Python code "
        f"needs ABI {EXPECTED_ABI}; {_REBUILD}"
    )

SEED_BYTES: Final[int] = lib.PK_SEED_BYTES
NONCE_BYTES: Final[int] = lib.PK_NONCE_BYTES
ISA_NAMES: Final[dict[str, int]] = {
    "portable": lib.PK_ISA_PORTABLE,
    "avx2": lib.PK_ISA_AVX2,
    "avx512": lib.PK_ISA_AVX512,
}
#: The prime of the Shamir field GF(p): the Mersenne prime 2^61 - 1.
FIELD_PRIME: Final[int] = int(lib.PK_FIELD_PRIME)
_FIELD_PRIME_U64: Final = np.uint64(FIELD_PRIME)
_ISA_BY_CODE: Final = {code: name for name, code in ISA_NAMES.items()}
#: The mask stream is made of groups of 16 ChaCha20 blocks; chunk offsets are multiples of this.
GROUP_ELEMENTS: Final[dict[np.dtype[Any], int]] = {
    np.dtype(np.uint32): lib.PK_GROUP_U32,
    np.dtype(np.uint64): lib.PK_GROUP_U64,
}
#: One 32-bit block-counter space: the longest mask stream per seed and nonce.
MAX_ELEMENTS: Final[dict[np.dtype[Any], int]] = {
    np.dtype(np.uint32): 1 << 36,
    np.dtype(np.uint64): 1 << 35,
}
_STATUS = {
    lib.PK_ERR_ARG: "invalid argument",
    lib.PK_ERR_ISA: "instruction set not available on this CPU",
    lib.PK_ERR_RANGE: "length or value out of range",
}


def _check(rc: int, what: str) -> None:
    if rc != lib.PK_OK:
        raise NativeError(f"{what} failed in C: {_STATUS.get(rc, f'status {rc}')}")


def available_isas() -> tuple[str, ...]:
    """Return the kernel variants this build and this CPU can run, slowest first."""
    return tuple(name for name, code in ISA_NAMES.items() if lib.pk_isa_available(code))


def active_isa() -> str:
    """Return the variant used by default: the fastest one available."""
    return _ISA_BY_CODE[lib.pk_isa_best()]


def _isa_code(isa: str | None) -> int:
    if isa is None:
        return int(lib.pk_isa_best())
    if isa not in ISA_NAMES:
        raise ParameterError(
            f"unknown instruction set {isa!r}; expected one of {sorted(ISA_NAMES)}"
        )
    code = ISA_NAMES[isa]
    if not lib.pk_isa_available(code):
        raise ParameterError(
            f"instruction set {isa!r} is not available here; available: {available_isas()}"
        )
    return code


def _check_bytes(value: object, size: int, name: str) -> bytes:
    if not isinstance(value, bytes | bytearray | memoryview):
        raise ParameterError(f"{name} must be bytes of length {size}, got {type(value).__name__}")
    data = bytes(value)
    if len(data) != size:
        raise ParameterError(f"{name} must be exactly {size} bytes, got {len(data)}")
    return data


def chacha20_keystream(key: bytes, nonce: bytes, counter: int, length: int) -> bytes:
    """ChaCha20 keystream in RFC 8439 byte order.

    Args:
        key: 32-byte key.
        nonce: 12-byte nonce.
        counter: initial 32-bit block counter.
        length: number of keystream bytes, >= 0.  The stream may not run past
            block 2^32 - 1 (RFC 8439's 32-bit counter).

    Returns:
        ``length`` bytes of keystream.

    Raises:
        ParameterError: wrong key or nonce size, counter or length out of range.
    """
    key_b = _check_bytes(key, SEED_BYTES, "key")
    nonce_b = _check_bytes(nonce, NONCE_BYTES, "nonce")
    if isinstance(counter, bool) or not isinstance(counter, int) or not 0 <= counter < 2**32:
        raise ParameterError(f"counter must be an int in [0, 2**32), got {counter!r}")
    if isinstance(length, bool) or not isinstance(length, int) or length < 0:
        raise ParameterError(f"length must be a non-negative int, got {length!r}")
    blocks = -(-length // 64)
    if counter + blocks > 2**32:
        raise ParameterError(
            f"{length} bytes from block {counter} would pass block 2**32 - 1; ChaCha20's "
            f"32-bit counter allows at most {(2**32 - counter) * 64} bytes from this counter"
        )
    out = ffi.new("uint8_t[]", max(length, 1))
    _check(lib.pk_chacha20_keystream(key_b, nonce_b, counter, out, length), "chacha20_keystream")
    return bytes(ffi.buffer(out, length))


def mask_add(
    acc: npt.NDArray[Any],
    seeds: npt.NDArray[np.uint8],
    signs: npt.NDArray[np.int8],
    nonce: bytes,
    *,
    offset: int = 0,
    isa: str | None = None,
) -> None:
    """Add (sign +1) or subtract (sign -1) the mask of each seed into ``acc``, in place.

    The low-level form of :func:`privkit.prg.mask_add`: it takes exactly the
    layout the C kernel needs and refuses anything else.

    Args:
        acc: 1-D, C-contiguous, writeable, aligned array of dtype uint32 (ring
            Z_2^32) or uint64 (ring Z_2^64).
        seeds: C-contiguous uint8 array of shape (k, 32): one ChaCha20 key per mask.
        signs: C-contiguous int8 array of shape (k,), every value +1 or -1.
        nonce: 12-byte ChaCha20 nonce shared by all seeds.
        offset: position in the mask stream of ``acc[0]``; a multiple of
            :data:`GROUP_ELEMENTS` for the dtype (256 for uint32, 128 for uint64).
        isa: kernel variant ("portable", "avx2", "avx512"); None picks the fastest.

    Raises:
        ParameterError: any argument of the wrong type, dtype, shape, layout or range.
        NativeError: the C kernel reported a failure (it re-checks its inputs).
    """
    if not isinstance(acc, np.ndarray):
        raise ParameterError(f"acc must be a numpy array, got {type(acc).__name__}")
    if acc.dtype not in MAX_ELEMENTS:
        raise ParameterError(f"acc must have dtype uint32 or uint64, got {acc.dtype}")
    if acc.ndim != 1 or not acc.flags.c_contiguous or not acc.flags.aligned:
        raise ParameterError("acc must be a 1-D, C-contiguous, aligned array")
    if not acc.flags.writeable:
        raise ParameterError("acc must be writeable")
    group = GROUP_ELEMENTS[acc.dtype]
    if isinstance(offset, bool) or not isinstance(offset, int) or offset < 0 or offset % group:
        raise ParameterError(f"offset must be a non-negative multiple of {group}, got {offset!r}")
    if offset + acc.size > MAX_ELEMENTS[acc.dtype]:
        raise ParameterError(
            f"offset + len(acc) = {offset + acc.size}; one mask stream covers at most "
            f"{MAX_ELEMENTS[acc.dtype]} {acc.dtype} elements"
        )
    if not isinstance(seeds, np.ndarray) or seeds.dtype != np.uint8 or seeds.ndim != 2:
        raise ParameterError("seeds must be a uint8 numpy array of shape (k, 32)")
    if seeds.shape[1] != SEED_BYTES or not seeds.flags.c_contiguous:
        raise ParameterError(f"seeds must be C-contiguous with shape (k, {SEED_BYTES})")
    k = seeds.shape[0]
    if not isinstance(signs, np.ndarray) or signs.dtype != np.int8 or signs.shape != (k,):
        raise ParameterError(f"signs must be an int8 numpy array of shape ({k},)")
    if not signs.flags.c_contiguous:
        raise ParameterError("signs must be C-contiguous")
    if k and not np.all((signs == 1) | (signs == -1)):
        raise ParameterError("every sign must be +1 or -1")
    if np.may_share_memory(acc, seeds) or np.may_share_memory(acc, signs):
        raise ParameterError("acc must not overlap seeds or signs")
    nonce_b = _check_bytes(nonce, NONCE_BYTES, "nonce")
    code = _isa_code(isa)
    kernel, ctype = (
        (lib.pk_mask_add_u32, "uint32_t[]")
        if acc.dtype == np.uint32
        else (lib.pk_mask_add_u64, "uint64_t[]")
    )
    rc = kernel(
        ffi.from_buffer(ctype, acc, require_writable=True),
        acc.size,
        offset,
        ffi.from_buffer("uint8_t[]", seeds),
        ffi.from_buffer("int8_t[]", signs),
        k,
        nonce_b,
        code,
    )
    _check(rc, "mask_add")


def _check_field_array(arr: object, name: str, ndim: int) -> npt.NDArray[np.uint64]:
    """Check that ``arr`` is exactly what the field kernels read; return it typed."""
    shape = "(rows, columns)" if ndim == 2 else "(length,)"
    if not isinstance(arr, np.ndarray):
        raise ParameterError(
            f"{name} must be a numpy uint64 array of shape {shape}, got {type(arr).__name__}"
        )
    if arr.dtype != np.uint64 or arr.ndim != ndim:
        raise ParameterError(
            f"{name} must be a numpy uint64 array of shape {shape}, got {arr.dtype} {arr.shape}"
        )
    if not arr.flags.c_contiguous or not arr.flags.aligned:
        raise ParameterError(f"{name} must be C-contiguous and aligned")
    if arr.size and bool(np.any(arr >= _FIELD_PRIME_U64)):
        raise ParameterError(
            f"every element of {name} must be a field element in [0, 2**61 - 1), "
            "found one >= 2**61 - 1"
        )
    return arr


def _u64_in(arr: npt.NDArray[np.uint64]) -> Any:
    return ffi.from_buffer("uint64_t[]", arr) if arr.size else ffi.NULL


def _u64_out(arr: npt.NDArray[np.uint64]) -> Any:
    return ffi.from_buffer("uint64_t[]", arr, require_writable=True) if arr.size else ffi.NULL


def field_poly_eval(
    coeffs: npt.NDArray[np.uint64], xs: npt.NDArray[np.uint64]
) -> npt.NDArray[np.uint64]:
    """Evaluate many polynomials over GF(2^61 - 1) at many points, in C (Horner's rule).

    Args:
        coeffs: C-contiguous uint64 array of shape (t, m), every element < 2^61 - 1;
            row k holds the coefficient of x^k of each of the m polynomials.
        xs: C-contiguous uint64 array of shape (n,), the points, each < 2^61 - 1.

    Returns:
        A new uint64 array of shape (n, m): ``out[j, c] = sum_k coeffs[k, c] * xs[j]**k
        mod p`` (all zero when t = 0).

    Raises:
        ParameterError: wrong type, dtype, shape or layout, or an element >= 2^61 - 1.
        NativeError: the C routine refused its arguments (it re-checks them).
    """
    coeffs = _check_field_array(coeffs, "coeffs", 2)
    xs = _check_field_array(xs, "xs", 1)
    t, m = coeffs.shape
    n = xs.shape[0]
    out = np.empty((n, m), dtype=np.uint64)
    rc = lib.pk_field_poly_eval(_u64_in(coeffs), t, m, _u64_in(xs), n, _u64_out(out))
    _check(rc, "field_poly_eval")
    return out


def field_matmul(
    weights: npt.NDArray[np.uint64], rows: npt.NDArray[np.uint64]
) -> npt.NDArray[np.uint64]:
    """Matrix product over GF(2^61 - 1), in C.

    Args:
        weights: C-contiguous uint64 array of shape (r, t), every element < 2^61 - 1.
        rows: C-contiguous uint64 array of shape (t, m), every element < 2^61 - 1.

    Returns:
        A new uint64 array of shape (r, m): ``weights @ rows mod p`` (zero when t = 0).

    Raises:
        ParameterError: wrong type, dtype, shape or layout, inner sizes that differ, or
            an element >= 2^61 - 1.
        NativeError: the C routine refused its arguments (it re-checks them).
    """
    weights = _check_field_array(weights, "weights", 2)
    rows = _check_field_array(rows, "rows", 2)
    r, t = weights.shape
    if rows.shape[0] != t:
        raise ParameterError(
            f"weights has {t} columns but rows has {rows.shape[0]} rows; they must be equal"
        )
    m = rows.shape[1]
    out = np.empty((r, m), dtype=np.uint64)
    rc = lib.pk_field_matmul(_u64_in(weights), r, _u64_in(rows), t, m, _u64_out(out))
    _check(rc, "field_matmul")
    return out


def field_lincomb(
    rows: npt.NDArray[np.uint64], weights: npt.NDArray[np.uint64]
) -> npt.NDArray[np.uint64]:
    """Linear combination of rows over GF(2^61 - 1), in C.

    Args:
        rows: C-contiguous uint64 array of shape (t, m), every element < 2^61 - 1.
        weights: C-contiguous uint64 array of shape (t,), every element < 2^61 - 1.

    Returns:
        A new uint64 array of shape (m,): ``sum_i weights[i] * rows[i] mod p``.

    Raises:
        ParameterError: wrong type, dtype, shape or layout, one weight per row not
            given, or an element >= 2^61 - 1.
        NativeError: the C routine refused its arguments (it re-checks them).
    """
    rows = _check_field_array(rows, "rows", 2)
    weights = _check_field_array(weights, "weights", 1)
    t, m = rows.shape
    if weights.shape[0] != t:
        raise ParameterError(f"weights must hold one weight per row ({t}), got {weights.shape[0]}")
    out = np.empty(m, dtype=np.uint64)
    rc = lib.pk_field_lincomb(_u64_in(rows), _u64_in(weights), t, m, _u64_out(out))
    _check(rc, "field_lincomb")
    return out


# --------------------------------------------------------------------- ristretto255
#: Bytes of a ristretto255 encoding (and of a scalar).
R255_BYTES: Final[int] = lib.PK_R255_BYTES
#: Bytes of a decoded point: extended coordinates, 20 native-endian uint64 limbs.
R255_POINT_BYTES: Final[int] = lib.PK_R255_POINT_BYTES
#: uint64 limbs per prepared (affine) point in an MSM table.
R255_PREPARED_WORDS: Final[int] = lib.PK_R255_PREPARED_WORDS
R255_SC_OPS: Final[dict[str, int]] = {
    "add": lib.PK_R255_SC_ADD,
    "sub": lib.PK_R255_SC_SUB,
    "mul": lib.PK_R255_SC_MUL,
    "neg": lib.PK_R255_SC_NEG,
    "inv": lib.PK_R255_SC_INV,
}


def _point_in(value: bytes, name: str) -> bytes:
    if type(value) is not bytes or len(value) != R255_POINT_BYTES:
        raise ParameterError(f"{name} must be a {R255_POINT_BYTES}-byte decoded point")
    return value


def _point_out() -> Any:
    return ffi.new("uint8_t[]", R255_POINT_BYTES)


def _point_bytes(buf: Any) -> bytes:
    return bytes(ffi.buffer(buf, R255_POINT_BYTES))


def r255_decode(data: bytes) -> bytes | None:
    """Decode a 32-byte ristretto255 encoding; None if invalid or non-canonical."""
    enc = _check_bytes(data, R255_BYTES, "encoding")
    out = _point_out()
    rc = lib.pk_r255_decode(enc, out)
    if rc == lib.PK_ERR_RANGE:
        return None
    _check(rc, "r255_decode")
    return _point_bytes(out)


def r255_encode(point: bytes) -> bytes:
    """Canonical 32-byte encoding of a decoded point."""
    out = ffi.new("uint8_t[]", R255_BYTES)
    _check(lib.pk_r255_encode(_point_in(point, "point"), out), "r255_encode")
    return bytes(ffi.buffer(out, R255_BYTES))


def r255_identity() -> bytes:
    """The identity element, decoded."""
    out = _point_out()
    _check(lib.pk_r255_identity(out), "r255_identity")
    return _point_bytes(out)


def r255_generator() -> bytes:
    """The ristretto255 generator, decoded."""
    out = _point_out()
    _check(lib.pk_r255_generator(out), "r255_generator")
    return _point_bytes(out)


def r255_add(a: bytes, b: bytes) -> bytes:
    """a + b of two decoded points."""
    out = _point_out()
    _check(lib.pk_r255_add(_point_in(a, "a"), _point_in(b, "b"), out), "r255_add")
    return _point_bytes(out)


def r255_sub(a: bytes, b: bytes) -> bytes:
    """a - b of two decoded points."""
    out = _point_out()
    _check(lib.pk_r255_sub(_point_in(a, "a"), _point_in(b, "b"), out), "r255_sub")
    return _point_bytes(out)


def r255_neg(a: bytes) -> bytes:
    """-a of a decoded point."""
    out = _point_out()
    _check(lib.pk_r255_neg(_point_in(a, "a"), out), "r255_neg")
    return _point_bytes(out)


def r255_equal(a: bytes, b: bytes) -> bool:
    """Whether two decoded points are the same group element (constant time)."""
    res = ffi.new("int *")
    _check(lib.pk_r255_equal(_point_in(a, "a"), _point_in(b, "b"), res), "r255_equal")
    return bool(res[0])


def r255_from_uniform(data: bytes) -> bytes:
    """RFC 9496 one-way map of 64 uniform bytes to a decoded point."""
    buf = _check_bytes(data, 2 * R255_BYTES, "uniform bytes")
    out = _point_out()
    _check(lib.pk_r255_from_uniform(buf, out), "r255_from_uniform")
    return _point_bytes(out)


def r255_scalarmult(scalar: bytes, point: bytes) -> bytes:
    """scalar * point (constant time); the 32-byte scalar is reduced mod l."""
    sc = _check_bytes(scalar, R255_BYTES, "scalar")
    out = _point_out()
    _check(lib.pk_r255_scalarmult(sc, _point_in(point, "point"), out), "r255_scalarmult")
    return _point_bytes(out)


def r255_scalarmult_base(scalar: bytes) -> bytes:
    """scalar * generator (constant time, precomputed table)."""
    sc = _check_bytes(scalar, R255_BYTES, "scalar")
    out = _point_out()
    _check(lib.pk_r255_scalarmult_base(sc, out), "r255_scalarmult_base")
    return _point_bytes(out)


def r255_scalar_reduce(data: bytes) -> bytes:
    """Reduce a 32- or 64-byte little-endian integer mod l."""
    if not isinstance(data, bytes | bytearray | memoryview) or len(data) not in (32, 64):
        raise ParameterError("scalar input must be 32 or 64 bytes")
    buf = bytes(data)
    out = ffi.new("uint8_t[]", R255_BYTES)
    _check(lib.pk_r255_scalar_reduce(buf, len(buf), out), "r255_scalar_reduce")
    return bytes(ffi.buffer(out, R255_BYTES))


def r255_scalar_check(data: bytes) -> bool:
    """Whether 32 bytes are a canonical scalar (< l)."""
    buf = _check_bytes(data, R255_BYTES, "scalar")
    rc = lib.pk_r255_scalar_check(buf)
    if rc == lib.PK_ERR_RANGE:
        return False
    _check(rc, "r255_scalar_check")
    return True


def r255_scalar_op(op: str, a: bytes, b: bytes | None = None) -> bytes:
    """Scalar arithmetic mod l on canonical scalars: add, sub, mul (a, b); neg, inv (a).

    Raises:
        ParameterError: unknown op, wrong sizes, a non-canonical input.
        ZeroDivisionError: ``inv`` of zero.
    """
    if op not in R255_SC_OPS:
        raise ParameterError(f"unknown scalar op {op!r}; expected one of {sorted(R255_SC_OPS)}")
    a_b = _check_bytes(a, R255_BYTES, "a")
    unary = op in ("neg", "inv")
    b_b = ffi.NULL if unary else _check_bytes(b, R255_BYTES, "b")
    out = ffi.new("uint8_t[]", R255_BYTES)
    rc = lib.pk_r255_scalar_op(R255_SC_OPS[op], a_b, b_b, out)
    if rc == lib.PK_ERR_RANGE:
        if op == "inv":
            raise ZeroDivisionError("scalar inverse of zero")
        raise ParameterError("scalar operands must be canonical (< l)")
    _check(rc, f"r255_scalar_op({op})")
    return bytes(ffi.buffer(out, R255_BYTES))


def r255_prepare(points: bytes, n: int) -> npt.NDArray[np.uint64]:
    """Turn n concatenated decoded points into an (n, 15) uint64 MSM table."""
    if not isinstance(points, bytes) or len(points) != n * R255_POINT_BYTES:
        raise ParameterError(f"points must be {n} x {R255_POINT_BYTES} bytes")
    out = np.empty((n, R255_PREPARED_WORDS), dtype=np.uint64)
    if n:
        _check(lib.pk_r255_prepare(points, n, _u64_out(out)), "r255_prepare")
    return out


def r255_from_uniform_batch(data: bytes) -> npt.NDArray[np.uint64]:
    """One-way maps of n concatenated 64-byte strings, as an (n, 15) MSM table."""
    if not isinstance(data, bytes) or len(data) % (2 * R255_BYTES):
        raise ParameterError("uniform bytes must be bytes, a multiple of 64 long")
    n = len(data) // (2 * R255_BYTES)
    out = np.empty((n, R255_PREPARED_WORDS), dtype=np.uint64)
    if n:
        _check(lib.pk_r255_from_uniform_batch(data, n, _u64_out(out)), "r255_from_uniform_batch")
    return out


def r255_unprepare(row: npt.NDArray[np.uint64]) -> bytes:
    """One row of an MSM table back to a decoded point."""
    if (
        not isinstance(row, np.ndarray)
        or row.dtype != np.uint64
        or row.shape != (R255_PREPARED_WORDS,)
        or not row.flags.c_contiguous
    ):
        raise ParameterError(
            f"row must be a C-contiguous uint64 array of shape ({R255_PREPARED_WORDS},)"
        )
    out = _point_out()
    _check(lib.pk_r255_unprepare(ffi.from_buffer("uint64_t[]", row), out), "r255_unprepare")
    return _point_bytes(out)


def _check_prepared(table: object, n: int) -> npt.NDArray[np.uint64]:
    if (
        not isinstance(table, np.ndarray)
        or table.dtype != np.uint64
        or table.shape != (n, R255_PREPARED_WORDS)
        or not table.flags.c_contiguous
        or not table.flags.aligned
    ):
        raise ParameterError(
            f"prepared table must be a C-contiguous uint64 array of shape ({n}, "
            f"{R255_PREPARED_WORDS})"
        )
    return table


def r255_msm(scalars: bytes, table: npt.NDArray[np.uint64]) -> bytes:
    """sum_i scalar_i * P_i (Pippenger; variable time in the scalars).

    Args:
        scalars: n concatenated 32-byte little-endian scalars (reduced mod l in C).
        table: the (n, 15) table from :func:`r255_prepare`.
    """
    if not isinstance(scalars, bytes) or len(scalars) % R255_BYTES:
        raise ParameterError("scalars must be bytes, a multiple of 32 long")
    n = len(scalars) // R255_BYTES
    tab = _check_prepared(table, n)
    out = _point_out()
    _check(lib.pk_r255_msm(scalars if n else ffi.NULL, _u64_in(tab), n, out), "r255_msm")
    return _point_bytes(out)


def r255_msm_small(values: npt.NDArray[np.int32], table: npt.NDArray[np.uint64]) -> bytes:
    """sum_i values_i * P_i for signed 32-bit values (Pippenger; variable time)."""
    if (
        not isinstance(values, np.ndarray)
        or values.dtype != np.int32
        or values.ndim != 1
        or not values.flags.c_contiguous
    ):
        raise ParameterError("values must be a 1-D C-contiguous int32 array")
    n = values.shape[0]
    tab = _check_prepared(table, n)
    vals = ffi.from_buffer("int32_t[]", values) if n else ffi.NULL
    out = _point_out()
    _check(lib.pk_r255_msm_small(vals, _u64_in(tab), n, out), "r255_msm_small")
    return _point_bytes(out)
