"""Slow, obviously-correct arithmetic in GF(2^61 - 1) and Shamir sharing, with Python ints.

This is the specification the C field kernels (csrc/field.c) and
``privkit.sharing.shamir`` are tested against.  Nothing here is clever: powers
are computed with ``pow``, every sum is reduced with ``%``, Lagrange
interpolation follows the textbook formula term by term, and inverses come
from ``pow(d, -1, p)``.  It shares no code with privkit.
"""

from __future__ import annotations

from collections.abc import Sequence

P = 2**61 - 1
CHUNK_BYTES = 7


def poly_eval(coeffs: Sequence[Sequence[int]], xs: Sequence[int]) -> list[list[int]]:
    """``out[j][c] = sum_k coeffs[k][c] * xs[j]**k mod p`` (coeffs is t rows of m)."""
    m = len(coeffs[0]) if coeffs else 0
    return [
        [sum(row[c] * pow(x, k, P) for k, row in enumerate(coeffs)) % P for c in range(m)]
        for x in xs
    ]


def lincomb(rows: Sequence[Sequence[int]], weights: Sequence[int], m: int) -> list[int]:
    """``out[c] = sum_i weights[i] * rows[i][c] mod p``."""
    return [sum(w * row[c] for w, row in zip(weights, rows, strict=True)) % P for c in range(m)]


def matmul(
    weights: Sequence[Sequence[int]], rows: Sequence[Sequence[int]], m: int
) -> list[list[int]]:
    """``weights @ rows mod p``."""
    return [lincomb(rows, w, m) for w in weights]


def lagrange(xs: Sequence[int], at: int) -> list[int]:
    """Textbook Lagrange basis at ``at``: prod_{j != i} (at - x_j) / (x_i - x_j)."""
    out = []
    for i, xi in enumerate(xs):
        num, den = 1, 1
        for j, xj in enumerate(xs):
            if j != i:
                num = num * (at - xj) % P
                den = den * (xi - xj) % P
        out.append(num * pow(den, -1, P) % P)
    return out


def interpolate(points: Sequence[tuple[int, Sequence[int]]], at: int) -> list[int]:
    """Value at ``at`` of the coordinate-wise polynomial through ``(x, values)`` points."""
    xs = [x for x, _ in points]
    m = len(points[0][1]) if points else 0
    return lincomb([list(v) for _, v in points], lagrange(xs, at), m)


def chunks(secret: bytes) -> list[int]:
    """A byte secret as 7-byte little-endian field elements, the last zero-padded."""
    return [
        int.from_bytes(secret[i : i + CHUNK_BYTES], "little")
        for i in range(0, len(secret), CHUNK_BYTES)
    ]


def unchunk(values: Sequence[int], length: int) -> bytes:
    """Inverse of :func:`chunks` (raises ValueError on impossible chunks or padding)."""
    data = b"".join(v.to_bytes(CHUNK_BYTES, "little") for v in values)
    if any(data[length:]):
        raise ValueError("non-zero padding")
    return data[:length]


def split(values: Sequence[int], randomness: Sequence[Sequence[int]], n: int) -> list[list[int]]:
    """Shares ``f(1..n)`` of the polynomials with constant terms ``values`` and the given
    higher coefficients (``randomness[k-1][c]`` is the coefficient of x^k)."""
    return poly_eval([list(values), *map(list, randomness)], range(1, n + 1))


def combine(indexed: Sequence[tuple[int, Sequence[int]]], secret_bytes: int | None) -> object:
    """Reconstruct from exactly ``t`` (index, values) pairs: bytes or a list of ints."""
    values = interpolate(indexed, 0)
    if secret_bytes is None:
        return values
    return unchunk(values, secret_bytes)
