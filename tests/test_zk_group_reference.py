"""ristretto255 in C against a slow, obviously-correct Python model written from RFC 9496.

The model below uses Python integers and affine Edwards coordinates; it needs no
third-party package, so it also runs where the libsodium oracle (rbcl) is absent.
"""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from privkit.errors import DecodeError
from privkit.zk.group import ORDER, Point, Scalar

P = 2**255 - 19
D = -121665 * pow(121666, -1, P) % P
SQRT_M1 = pow(2, (P - 1) // 4, P)
# RFC 9496 section 4.1 constants, recomputed from their definitions.
SQRT_AD_MINUS_ONE = 25063068953384623474111414158702152701244531502492656460079210482610430750235
INVSQRT_A_MINUS_D = 54469307008909316920995813868745141605393597292927456921205312896311721017578
assert SQRT_AD_MINUS_ONE**2 % P == (-D - 1) % P
assert INVSQRT_A_MINUS_D**2 * (-1 - D) % P == 1
ONE_MINUS_D_SQ = (1 - D * D) % P
D_MINUS_ONE_SQ = (D - 1) ** 2 % P

Ext = tuple[int, int, int, int]


def is_neg(x: int) -> bool:
    return (x % P) & 1 == 1


def ct_abs(x: int) -> int:
    return (-x) % P if is_neg(x) else x % P


def sqrt_ratio_m1(u: int, v: int) -> tuple[bool, int]:
    r = u * pow(v, 3, P) * pow(u * pow(v, 7, P), (P - 5) // 8, P) % P
    check = v * r * r % P
    correct, flipped = check == u % P, check == (-u) % P
    flipped_i = check == (-u * SQRT_M1) % P
    if flipped or flipped_i:
        r = r * SQRT_M1 % P
    return correct or flipped, ct_abs(r)


def decode(b: bytes) -> Ext | None:
    s = int.from_bytes(b, "little")
    if s >= P or is_neg(s):
        return None
    ss = s * s
    u1, u2 = (1 - ss) % P, (1 + ss) % P
    v = (-(D * u1 * u1) - u2 * u2) % P
    ok, invsqrt = sqrt_ratio_m1(1, v * u2 * u2 % P)
    den_x = invsqrt * u2 % P
    den_y = invsqrt * den_x * v % P
    x = ct_abs(2 * s * den_x)
    y = u1 * den_y % P
    t = x * y % P
    if not ok or is_neg(t) or y == 0:
        return None
    return (x, y, 1, t)


def encode(pt: Ext) -> bytes:
    x0, y0, z0, t0 = pt
    u1 = (z0 + y0) * (z0 - y0) % P
    u2 = x0 * y0 % P
    _, invsqrt = sqrt_ratio_m1(1, u1 * u2 * u2 % P)
    den1, den2 = invsqrt * u1 % P, invsqrt * u2 % P
    z_inv = den1 * den2 * t0 % P
    if is_neg(t0 * z_inv):
        x, y, den_inv = y0 * SQRT_M1 % P, x0 * SQRT_M1 % P, den1 * INVSQRT_A_MINUS_D % P
    else:
        x, y, den_inv = x0, y0, den2
    if is_neg(x * z_inv):
        y = -y % P
    return ct_abs(den_inv * (z0 - y)).to_bytes(32, "little")


def add(p1: Ext, p2: Ext) -> Ext:
    """RFC 8032 5.1.4 addition on -x^2 + y^2 = 1 + d x^2 y^2."""
    x1, y1, z1, t1 = p1
    x2, y2, z2, t2 = p2
    a = (y1 - x1) * (y2 - x2) % P
    b = (y1 + x1) * (y2 + x2) % P
    c = t1 * 2 * D * t2 % P
    d = z1 * 2 * z2 % P
    e, f, g, h = b - a, d - c, d + c, b + a
    return (e * f % P, g * h % P, f * g % P, e * h % P)


def mul(k: int, pt: Ext) -> Ext:
    acc: Ext = (0, 1, 1, 0)
    for bit in bin(k % ORDER)[2:]:
        acc = add(acc, acc)
        if bit == "1":
            acc = add(acc, pt)
    return acc


def one_way_map(b: bytes) -> Ext:
    t = int.from_bytes(b, "little") & ((1 << 255) - 1)
    r = SQRT_M1 * t * t % P
    u = (r + 1) * ONE_MINUS_D_SQ % P
    v = (-1 - r * D) * (r + D) % P
    was_square, s = sqrt_ratio_m1(u, v)
    if not was_square:
        s = -ct_abs(s * t) % P
    c = -1 if was_square else r
    n = (c * (r - 1) * D_MINUS_ONE_SQ - v) % P
    w0, w1 = 2 * s * v % P, n * SQRT_AD_MINUS_ONE % P
    w2, w3 = (1 - s * s) % P, (1 + s * s) % P
    return (w0 * w3 % P, w2 * w1 % P, w1 * w3 % P, w0 * w2 % P)


def _generator() -> Ext:
    gen = decode(bytes.fromhex("e2f2ae0a6abc4e71a884a961c500515f58e30b6aa582dd8db6a65945e08d2d76"))
    assert gen is not None
    return gen


GEN = _generator()


@given(st.binary(min_size=64, max_size=64), st.integers(min_value=-(2**260), max_value=2**260))
def test_map_mul_add_encode_match_model(data: bytes, k: int) -> None:
    model = add(one_way_map(data[:32]), one_way_map(data[32:]))
    point = Point.from_uniform_bytes(data)
    assert point.to_bytes() == encode(model)
    assert (Scalar.from_int(k) * point).to_bytes() == encode(mul(k, model))
    assert Point.base_mul(k).to_bytes() == encode(mul(k, GEN))
    assert (point + Point.generator()).to_bytes() == encode(add(model, GEN))


@given(st.binary(min_size=32, max_size=32))
def test_decode_matches_model(data: bytes) -> None:
    model = decode(data)
    if model is None:
        try:
            Point.from_bytes(data)
        except DecodeError:
            return
        raise AssertionError("C accepted an encoding the RFC 9496 model rejects")
    assert Point.from_bytes(data).to_bytes() == encode(model) == data


@given(st.integers(min_value=0, max_value=ORDER - 1))
def test_decode_of_valid_points_matches_model(k: int) -> None:
    enc = encode(mul(k, GEN))
    model = decode(enc)
    assert model is not None
    assert encode(model) == enc
    assert Point.from_bytes(enc) == Point.base_mul(k)
