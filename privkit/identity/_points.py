"""Validity checks of Ed25519 public-key encodings (RFC 8032, section 5.1.3).

Hazardous-materials layer: pure-Python arithmetic on *public* data only.  Nothing here
handles secrets, so nothing here needs to run in constant time.  Signing and signature
verification are done by the ``cryptography`` package (OpenSSL); this module only decides
whether 32 bytes are an acceptable public key, because OpenSSL accepts keys that privkit
refuses:

- points of small order (the identity and the 7 other points of the 8-torsion
  subgroup), and the "negative zero" encodings of the two such points with ``x = 0``.
  Under such a key an Ed25519 signature verifies for many messages without any secret:
  with the identity as key, ``(R, S) = ([S]B, S)`` verifies for *every* message.
  libsodium refuses these keys too;
- non-canonical encodings (``y >= p``);
- encodings of no curve point at all: OpenSSL loads them and fails only at
  verification, so :func:`is_curve_point` catches them early, when a key is admitted.
"""

from __future__ import annotations

from typing import Final

__all__ = ["SMALL_ORDER_ENCODINGS", "is_canonical_large_order", "is_curve_point"]

_P: Final = (1 << 255) - 19
"""The field prime of Curve25519."""
_D: Final = (-121665 * pow(121666, -1, _P)) % _P
"""The Edwards curve constant d = -121665/121666."""
_SQRT_M1: Final = pow(2, (_P - 1) // 4, _P)
"""A square root of -1 modulo p."""
_Y_MASK: Final = (1 << 255) - 1

SMALL_ORDER_ENCODINGS: Final = frozenset(
    bytes.fromhex(h)
    for h in (
        # order 1: (0, 1), and the same point with the sign bit set ("negative zero")
        "0100000000000000000000000000000000000000000000000000000000000000",
        "0100000000000000000000000000000000000000000000000000000000000080",
        # order 2: (0, -1), and its negative-zero variant
        "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
        "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",
        # order 4: (+-sqrt(-1), 0)
        "0000000000000000000000000000000000000000000000000000000000000000",
        "0000000000000000000000000000000000000000000000000000000000000080",
        # order 8: the four points with y = +-y8
        "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05",
        "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc85",
        "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a",
        "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac03fa",
    )
)
"""Every canonical 32-byte encoding of a point of small order (8 points), plus the two
negative-zero encodings that a lenient decoder reads as the points with ``x = 0``."""


def is_canonical_large_order(data: bytes) -> bool:
    """Fast check: 32 bytes, canonical ``y < p``, and not a point of small order.

    It does not check that ``data`` is a curve point at all (OpenSSL's verification
    refuses those); :func:`is_curve_point` does.

    Args:
        data: the candidate public key.

    Returns:
        Whether ``data`` passes.
    """
    if len(data) != 32:
        return False
    if int.from_bytes(data, "little") & _Y_MASK >= _P:
        return False
    return data not in SMALL_ORDER_ENCODINGS


def is_curve_point(data: bytes) -> bool:
    """Whether 32 bytes decode to a point of the curve (RFC 8032, section 5.1.3).

    Costs one modular exponentiation (about 0.1 ms in pure Python), so it runs when a
    key is admitted to a roster, not at every verification.

    Args:
        data: the candidate encoding.

    Returns:
        ``True`` when ``data`` is 32 bytes with ``y < p``, ``x`` exists, and the sign
        bit is not set for ``x = 0``.
    """
    if len(data) != 32:
        return False
    value = int.from_bytes(data, "little")
    sign = value >> 255
    y = value & _Y_MASK
    if y >= _P:
        return False
    y2 = y * y % _P
    u = (y2 - 1) % _P
    v = (_D * y2 + 1) % _P
    x = u * pow(v, 3, _P) * pow(u * pow(v, 7, _P), (_P - 5) // 8, _P) % _P
    vx2 = v * x * x % _P
    if vx2 == (-u) % _P:
        x = x * _SQRT_M1 % _P
    elif vx2 != u:
        return False
    return not (x == 0 and sign == 1)
