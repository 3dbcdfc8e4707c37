/*
 * ristretto255 (RFC 9496) over edwards25519, written for privkit.
 *
 * Field: GF(2^255 - 19) in five 51-bit limbs (RFC 7748 prime), products in
 * unsigned __int128.  Points: extended twisted-Edwards coordinates (X:Y:Z:T),
 * a = -1, with the unified formulas of RFC 8032 section 5.1.4.  Scalars: four
 * 64-bit words, Montgomery multiplication modulo the group order l.
 *
 * Constant time: every routine that can see a secret (field and scalar
 * arithmetic, encode/decode, the one-way map, both single scalar
 * multiplications) uses no secret-dependent branch or memory index; table
 * lookups scan the whole table with masks.  The multi-scalar multiplications
 * (pk_r255_msm, pk_r255_msm_small) are variable time in the scalars: use them
 * on public scalars, or where the timing of the sum does not matter.
 *
 * Storage formats shared with Python (native byte order, host-private; never
 * a wire format):
 *   point:    PK_R255_POINT_WORDS uint64 limbs, (X, Y, Z, T), 5 limbs each.
 *   prepared: PK_R255_PREPARED_WORDS uint64 limbs, affine (y+x, y-x, 2dxy).
 * Every point loaded from the caller is re-carried, so arbitrary limb values
 * give wrong answers at worst, never undefined behaviour.
 */
#include <stdlib.h>
#include <string.h>

#include "pk_internal.h"
#include "privkit.h"

#if defined(_WIN32)
#define PK_NO_PTHREAD 1
#else
#include <pthread.h>
#endif

__extension__ typedef unsigned __int128 u128;
typedef uint64_t fe[5];

#define MASK51 ((uint64_t)0x7ffffffffffffULL)

/* Constants computed from the definitions in RFC 7748 / RFC 9496 (see docs/zk-group.md). */
static const fe FE_ZERO = {0, 0, 0, 0, 0};
static const fe FE_ONE = {1, 0, 0, 0, 0};
static const fe FE_D = {0x34dca135978a3ULL, 0x1a8283b156ebdULL, 0x5e7a26001c029ULL,
                        0x739c663a03cbbULL, 0x52036cee2b6ffULL};
static const fe FE_D2 = {0x69b9426b2f159ULL, 0x35050762add7aULL, 0x3cf44c0038052ULL,
                         0x6738cc7407977ULL, 0x2406d9dc56dffULL};
static const fe FE_SQRT_M1 = {0x61b274a0ea0b0ULL, 0xd5a5fc8f189dULL, 0x7ef5e9cbd0c60ULL,
                              0x78595a6804c9eULL, 0x2b8324804fc1dULL};
static const fe FE_SQRT_AD_MINUS_ONE = {0x7f6a0497b2e1bULL, 0x1836f0a97afd2ULL,
                                        0x7d747f6be7638ULL, 0x456079e7e6498ULL,
                                        0x376931bf2b834ULL};
static const fe FE_INVSQRT_A_MINUS_D = {0xfdaa805d40eaULL, 0x2eb482e57d339ULL, 0x7610274bc58ULL,
                                        0x6510b613dc8ffULL, 0x786c8905cfaffULL};
static const fe FE_ONE_MINUS_D_SQ = {0x409c1945fc176ULL, 0x719abc6a1fc4fULL, 0x1c37f90b20684ULL,
                                     0x6bccca55eedfULL, 0x29072a8b2b3eULL};
static const fe FE_D_MINUS_ONE_SQ = {0x55aaa44ed4d20ULL, 0x59603c3332635ULL,
                                     0x26d3baf4a7928ULL, 0x120a66e6997a9ULL,
                                     0x5968b37af66c2ULL};

/* ------------------------------------------------------------------ field */

static void fe_copy(fe r, const fe a) { memcpy(r, a, sizeof(fe)); }

/* One carry pass: limbs back under 2^51 (limb 0 under 2^51 + 2^18). */
static void fe_carry(fe h) {
    uint64_t c;
    c = h[0] >> 51; h[0] &= MASK51; h[1] += c;
    c = h[1] >> 51; h[1] &= MASK51; h[2] += c;
    c = h[2] >> 51; h[2] &= MASK51; h[3] += c;
    c = h[3] >> 51; h[3] &= MASK51; h[4] += c;
    c = h[4] >> 51; h[4] &= MASK51; h[0] += 19 * c;
}

static void fe_add(fe r, const fe a, const fe b) {
    for (int i = 0; i < 5; i++) r[i] = a[i] + b[i];
    fe_carry(r);
}

/* a - b computed as a + 4p - b; inputs must have limbs below 2^53. */
static void fe_sub(fe r, const fe a, const fe b) {
    r[0] = a[0] + 0x1fffffffffffb4ULL - b[0];
    for (int i = 1; i < 5; i++) r[i] = a[i] + 0x1ffffffffffffcULL - b[i];
    fe_carry(r);
}

static void fe_neg(fe r, const fe a) { fe_sub(r, FE_ZERO, a); }

/* Carry five 128-bit column sums (each below 2^115) into limbs. */
static void fe_reduce_wide(fe r, u128 t0, u128 t1, u128 t2, u128 t3, u128 t4) {
    t1 += (uint64_t)(t0 >> 51);
    t2 += (uint64_t)(t1 >> 51);
    t3 += (uint64_t)(t2 >> 51);
    t4 += (uint64_t)(t3 >> 51);
    u128 c = (t4 >> 51) * 19 + ((uint64_t)t0 & MASK51);
    r[0] = (uint64_t)c & MASK51;
    r[1] = ((uint64_t)t1 & MASK51) + (uint64_t)(c >> 51);
    r[2] = (uint64_t)t2 & MASK51;
    r[3] = (uint64_t)t3 & MASK51;
    r[4] = (uint64_t)t4 & MASK51;
}

/* Inputs: limbs below 2^54. */
static void fe_mul(fe r, const fe a, const fe b) {
    uint64_t b19[5];
    for (int i = 1; i < 5; i++) b19[i] = b[i] * 19;
    u128 t0 = (u128)a[0] * b[0] + (u128)a[1] * b19[4] + (u128)a[2] * b19[3] +
              (u128)a[3] * b19[2] + (u128)a[4] * b19[1];
    u128 t1 = (u128)a[0] * b[1] + (u128)a[1] * b[0] + (u128)a[2] * b19[4] +
              (u128)a[3] * b19[3] + (u128)a[4] * b19[2];
    u128 t2 = (u128)a[0] * b[2] + (u128)a[1] * b[1] + (u128)a[2] * b[0] + (u128)a[3] * b19[4] +
              (u128)a[4] * b19[3];
    u128 t3 = (u128)a[0] * b[3] + (u128)a[1] * b[2] + (u128)a[2] * b[1] + (u128)a[3] * b[0] +
              (u128)a[4] * b19[4];
    u128 t4 = (u128)a[0] * b[4] + (u128)a[1] * b[3] + (u128)a[2] * b[2] + (u128)a[3] * b[1] +
              (u128)a[4] * b[0];
    fe_reduce_wide(r, t0, t1, t2, t3, t4);
}

/* Squaring: the symmetric products once, doubled (15 products instead of 25). */
static void fe_sq(fe r, const fe a) {
    uint64_t d0 = 2 * a[0], d1 = 2 * a[1], a3_19 = 19 * a[3], a4_19 = 19 * a[4];
    u128 t0 = (u128)a[0] * a[0] + (u128)d1 * a4_19 + (u128)(2 * a[2]) * a3_19;
    u128 t1 = (u128)d0 * a[1] + (u128)(2 * a[2]) * a4_19 + (u128)a[3] * a3_19;
    u128 t2 = (u128)d0 * a[2] + (u128)a[1] * a[1] + (u128)(2 * a[3]) * a4_19;
    u128 t3 = (u128)d0 * a[3] + (u128)d1 * a[2] + (u128)a[4] * a4_19;
    u128 t4 = (u128)d0 * a[4] + (u128)d1 * a[3] + (u128)a[2] * a[2];
    fe_reduce_wide(r, t0, t1, t2, t3, t4);
}

static void fe_sqn(fe r, const fe a, int n) {
    fe_sq(r, a);
    for (int i = 1; i < n; i++) fe_sq(r, r);
}

/* Fully reduce and write the canonical little-endian encoding (RFC 7748). */
static void fe_tobytes(uint8_t out[32], const fe a) {
    fe h;
    fe_copy(h, a);
    fe_carry(h);
    fe_carry(h);
    /* Now h < 2^255 + 2^13 < 2p: q = 1 iff h >= p. */
    uint64_t q = (h[0] + 19) >> 51;
    q = (h[1] + q) >> 51;
    q = (h[2] + q) >> 51;
    q = (h[3] + q) >> 51;
    q = (h[4] + q) >> 51;
    h[0] += 19 * q;
    uint64_t c;
    c = h[0] >> 51; h[0] &= MASK51; h[1] += c;
    c = h[1] >> 51; h[1] &= MASK51; h[2] += c;
    c = h[2] >> 51; h[2] &= MASK51; h[3] += c;
    c = h[3] >> 51; h[3] &= MASK51; h[4] += c;
    h[4] &= MASK51;
    uint64_t w[4] = {h[0] | (h[1] << 51), (h[1] >> 13) | (h[2] << 38),
                     (h[2] >> 26) | (h[3] << 25), (h[3] >> 39) | (h[4] << 12)};
    for (int i = 0; i < 4; i++)
        for (int j = 0; j < 8; j++) out[8 * i + j] = (uint8_t)(w[i] >> (8 * j));
}

/* Little-endian bytes to a field element; the top bit is ignored (value mod 2^255). */
static void fe_frombytes(fe h, const uint8_t in[32]) {
    uint64_t w[4];
    for (int i = 0; i < 4; i++) {
        w[i] = 0;
        for (int j = 0; j < 8; j++) w[i] |= (uint64_t)in[8 * i + j] << (8 * j);
    }
    h[0] = w[0] & MASK51;
    h[1] = ((w[0] >> 51) | (w[1] << 13)) & MASK51;
    h[2] = ((w[1] >> 38) | (w[2] << 26)) & MASK51;
    h[3] = ((w[2] >> 25) | (w[3] << 39)) & MASK51;
    h[4] = (w[3] >> 12) & MASK51;
}

/* All-ones if the 32 bytes are equal, else 0; no early exit. */
static uint64_t bytes_eq_mask(const uint8_t *a, const uint8_t *b, size_t n) {
    uint32_t d = 0;
    for (size_t i = 0; i < n; i++) d |= (uint32_t)(a[i] ^ b[i]);
    return (uint64_t)0 - (uint64_t)(((d - 1) >> 8) & 1);
}

static uint64_t fe_eq_mask(const fe a, const fe b) {
    uint8_t ea[32], eb[32];
    fe_tobytes(ea, a);
    fe_tobytes(eb, b);
    return bytes_eq_mask(ea, eb, 32);
}

static uint64_t fe_is_zero_mask(const fe a) { return fe_eq_mask(a, FE_ZERO); }

/* All-ones if the canonical encoding is odd ("negative" in RFC 9496). */
static uint64_t fe_is_negative_mask(const fe a) {
    uint8_t e[32];
    fe_tobytes(e, a);
    return (uint64_t)0 - (uint64_t)(e[0] & 1);
}

/* r = mask ? b : r, mask all-ones or zero. */
static void fe_cmov(fe r, const fe b, uint64_t mask) {
    for (int i = 0; i < 5; i++) r[i] ^= mask & (r[i] ^ b[i]);
}

static void fe_cneg(fe r, uint64_t mask) {
    fe n;
    fe_neg(n, r);
    fe_cmov(r, n, mask);
}

static void fe_abs(fe r, const fe a) {
    fe_copy(r, a);
    fe_cneg(r, fe_is_negative_mask(a));
}

/* z^(2^250 - 1), and z^11 on the side: the shared head of invert and pow22523. */
static void fe_pow2_250_1(fe out, fe z11, const fe z) {
    fe z2, z9, t, a, b, c;
    fe_sq(z2, z);
    fe_sqn(t, z2, 2);
    fe_mul(z9, t, z);
    fe_mul(z11, z9, z2);
    fe_sq(t, z11);
    fe_mul(a, t, z9);         /* 2^5 - 1 */
    fe_sqn(t, a, 5);
    fe_mul(b, t, a);          /* 2^10 - 1 */
    fe_sqn(t, b, 10);
    fe_mul(c, t, b);          /* 2^20 - 1 */
    fe_sqn(t, c, 20);
    fe_mul(t, t, c);          /* 2^40 - 1 */
    fe_sqn(t, t, 10);
    fe_mul(a, t, b);          /* 2^50 - 1 */
    fe_sqn(t, a, 50);
    fe_mul(b, t, a);          /* 2^100 - 1 */
    fe_sqn(t, b, 100);
    fe_mul(t, t, b);          /* 2^200 - 1 */
    fe_sqn(t, t, 50);
    fe_mul(out, t, a);        /* 2^250 - 1 */
}

/* z^(p - 2) = z^(2^255 - 21); 0 maps to 0. */
static void fe_invert(fe r, const fe z) {
    fe t, z11;
    fe_pow2_250_1(t, z11, z);
    fe_sqn(t, t, 5);
    fe_mul(r, t, z11);
}

/* z^((p - 5) / 8) = z^(2^252 - 3). */
static void fe_pow22523(fe r, const fe z) {
    fe t, z11;
    fe_pow2_250_1(t, z11, z);
    fe_sqn(t, t, 2);
    fe_mul(r, t, z);
}

/* RFC 9496 4.2 SQRT_RATIO_M1: returns all-ones if u/v was square. */
static uint64_t fe_sqrt_ratio_m1(fe r, const fe u, const fe v) {
    fe v3, v7, t, check, nu, nui, rp;
    fe_sq(t, v);
    fe_mul(v3, t, v);
    fe_sq(t, v3);
    fe_mul(v7, t, v);
    fe_mul(t, u, v7);
    fe_pow22523(t, t);
    fe_mul(t, t, v3);
    fe_mul(r, t, u);
    fe_sq(t, r);
    fe_mul(check, t, v);
    fe_neg(nu, u);
    fe_mul(nui, nu, FE_SQRT_M1);
    uint64_t correct = fe_eq_mask(check, u);
    uint64_t flipped = fe_eq_mask(check, nu);
    uint64_t flipped_i = fe_eq_mask(check, nui);
    fe_mul(rp, r, FE_SQRT_M1);
    fe_cmov(r, rp, flipped | flipped_i);
    fe_abs(r, r);
    return correct | flipped;
}

/* ----------------------------------------------------------------- points */

typedef struct { fe X, Y, Z, T; } ge;           /* extended */
typedef struct { fe YpX, YmX, Z, T2d; } ge_cached;
typedef struct { fe ypx, ymx, t2d; } ge_niels; /* affine, Z = 1 */

static void ge_identity(ge *p) {
    fe_copy(p->X, FE_ZERO);
    fe_copy(p->Y, FE_ONE);
    fe_copy(p->Z, FE_ONE);
    fe_copy(p->T, FE_ZERO);
}

static void ge_to_cached(ge_cached *c, const ge *p) {
    fe_add(c->YpX, p->Y, p->X);
    fe_sub(c->YmX, p->Y, p->X);
    fe_copy(c->Z, p->Z);
    fe_mul(c->T2d, p->T, FE_D2);
}

/* RFC 8032 5.1.4 addition, second operand pre-arranged. */
static void ge_add_cached(ge *r, const ge *p, const ge_cached *q, int subtract) {
    fe a, b, c, d, e, f, g, h, t;
    fe_sub(t, p->Y, p->X);
    fe_mul(a, t, subtract ? q->YpX : q->YmX);
    fe_add(t, p->Y, p->X);
    fe_mul(b, t, subtract ? q->YmX : q->YpX);
    fe_mul(c, p->T, q->T2d);
    fe_mul(d, p->Z, q->Z);
    fe_add(d, d, d);
    fe_sub(e, b, a);
    fe_add(h, b, a);
    if (subtract) {
        fe_add(f, d, c);
        fe_sub(g, d, c);
    } else {
        fe_sub(f, d, c);
        fe_add(g, d, c);
    }
    fe_mul(r->X, e, f);
    fe_mul(r->Y, g, h);
    fe_mul(r->T, e, h);
    fe_mul(r->Z, f, g);
}

static void ge_add_niels(ge *r, const ge *p, const ge_niels *q, int subtract) {
    fe a, b, c, d, e, f, g, h, t;
    fe_sub(t, p->Y, p->X);
    fe_mul(a, t, subtract ? q->ypx : q->ymx);
    fe_add(t, p->Y, p->X);
    fe_mul(b, t, subtract ? q->ymx : q->ypx);
    fe_mul(c, p->T, q->t2d);
    fe_add(d, p->Z, p->Z);
    fe_sub(e, b, a);
    fe_add(h, b, a);
    if (subtract) {
        fe_add(f, d, c);
        fe_sub(g, d, c);
    } else {
        fe_sub(f, d, c);
        fe_add(g, d, c);
    }
    fe_mul(r->X, e, f);
    fe_mul(r->Y, g, h);
    fe_mul(r->T, e, h);
    fe_mul(r->Z, f, g);
}

static void ge_add(ge *r, const ge *p, const ge *q) {
    ge_cached c;
    ge_to_cached(&c, q);
    ge_add_cached(r, p, &c, 0);
}

static void ge_sub(ge *r, const ge *p, const ge *q) {
    ge_cached c;
    ge_to_cached(&c, q);
    ge_add_cached(r, p, &c, 1);
}

/* RFC 8032 5.1.4 doubling (a = -1). */
static void ge_double(ge *r, const ge *p) {
    fe a, b, c, e, f, g, h, t;
    fe_sq(a, p->X);
    fe_sq(b, p->Y);
    fe_sq(c, p->Z);
    fe_add(c, c, c);
    fe_add(h, a, b);
    fe_add(t, p->X, p->Y);
    fe_sq(t, t);
    fe_sub(e, h, t);
    fe_sub(g, a, b);
    fe_add(f, c, g);
    fe_mul(r->X, e, f);
    fe_mul(r->Y, g, h);
    fe_mul(r->T, e, h);
    fe_mul(r->Z, f, g);
}

static void ge_neg(ge *r, const ge *p) {
    fe_neg(r->X, p->X);
    fe_copy(r->Y, p->Y);
    fe_copy(r->Z, p->Z);
    fe_neg(r->T, p->T);
}

/* Ristretto equality: X1*Y2 == Y1*X2 or Y1*Y2 == X1*X2.  All-ones if equal. */
static uint64_t ge_ristretto_eq_mask(const ge *p, const ge *q) {
    fe a, b;
    fe_mul(a, p->X, q->Y);
    fe_mul(b, p->Y, q->X);
    uint64_t m1 = fe_eq_mask(a, b);
    fe_mul(a, p->Y, q->Y);
    fe_mul(b, p->X, q->X);
    return m1 | fe_eq_mask(a, b);
}

/* RFC 9496 4.3.1; all-ones on success. */
static uint64_t ristretto_decode(ge *p, const uint8_t in[32]) {
    fe s, ss, u1, u2, u2sq, v, t, invsqrt, denx, deny;
    uint8_t again[32];
    fe_frombytes(s, in);
    fe_tobytes(again, s);
    uint64_t ok = bytes_eq_mask(again, in, 32); /* canonical, top bit clear */
    ok &= ~fe_is_negative_mask(s);
    fe_sq(ss, s);
    fe_sub(u1, FE_ONE, ss);
    fe_add(u2, FE_ONE, ss);
    fe_sq(u2sq, u2);
    fe_sq(t, u1);
    fe_mul(t, t, FE_D);
    fe_neg(t, t);
    fe_sub(v, t, u2sq);
    fe_mul(t, v, u2sq);
    uint64_t square = fe_sqrt_ratio_m1(invsqrt, FE_ONE, t);
    fe_mul(denx, invsqrt, u2);
    fe_mul(t, invsqrt, denx);
    fe_mul(deny, t, v);
    fe_mul(t, s, denx);
    fe_add(t, t, t);
    fe_abs(p->X, t);
    fe_mul(p->Y, u1, deny);
    fe_copy(p->Z, FE_ONE);
    fe_mul(p->T, p->X, p->Y);
    ok &= square;
    ok &= ~fe_is_negative_mask(p->T);
    ok &= ~fe_is_zero_mask(p->Y);
    return ok;
}

/* RFC 9496 4.3.2. */
static void ristretto_encode(uint8_t out[32], const ge *p) {
    fe u1, u2, t, invsqrt, den1, den2, zinv, ix, iy, ench, x, y, deninv;
    fe_add(t, p->Z, p->Y);
    fe_sub(u1, p->Z, p->Y);
    fe_mul(u1, t, u1);
    fe_mul(u2, p->X, p->Y);
    fe_sq(t, u2);
    fe_mul(t, t, u1);
    (void)fe_sqrt_ratio_m1(invsqrt, FE_ONE, t);
    fe_mul(den1, invsqrt, u1);
    fe_mul(den2, invsqrt, u2);
    fe_mul(t, den1, den2);
    fe_mul(zinv, t, p->T);
    fe_mul(ix, p->X, FE_SQRT_M1);
    fe_mul(iy, p->Y, FE_SQRT_M1);
    fe_mul(ench, den1, FE_INVSQRT_A_MINUS_D);
    fe_mul(t, p->T, zinv);
    uint64_t rotate = fe_is_negative_mask(t);
    fe_copy(x, p->X);
    fe_copy(y, p->Y);
    fe_cmov(x, iy, rotate);
    fe_cmov(y, ix, rotate);
    fe_copy(deninv, den2);
    fe_cmov(deninv, ench, rotate);
    fe_mul(t, x, zinv);
    fe_cneg(y, fe_is_negative_mask(t));
    fe_sub(t, p->Z, y);
    fe_mul(t, deninv, t);
    fe_abs(t, t);
    fe_tobytes(out, t);
}

/* RFC 9496 4.3.4 MAP. */
static void ristretto_map(ge *p, const uint8_t in[32]) {
    fe t, r, u, v, s, sp, c, n, w0, w1, w2, w3, tmp, tmp2;
    fe_frombytes(t, in);
    fe_sq(tmp, t);
    fe_mul(r, tmp, FE_SQRT_M1);
    fe_add(tmp, r, FE_ONE);
    fe_mul(u, tmp, FE_ONE_MINUS_D_SQ);
    fe_mul(tmp, r, FE_D);
    fe_neg(tmp, tmp);
    fe_sub(tmp, tmp, FE_ONE);
    fe_add(tmp2, r, FE_D);
    fe_mul(v, tmp, tmp2);
    uint64_t square = fe_sqrt_ratio_m1(s, u, v);
    fe_mul(tmp, s, t);
    fe_abs(sp, tmp);
    fe_neg(sp, sp);
    fe_cmov(sp, s, square);
    fe_copy(s, sp);
    fe_copy(c, r);
    fe_neg(tmp, FE_ONE);
    fe_cmov(c, tmp, square);
    fe_sub(tmp, r, FE_ONE);
    fe_mul(n, c, tmp);
    fe_mul(n, n, FE_D_MINUS_ONE_SQ);
    fe_sub(n, n, v);
    fe_mul(w0, s, v);
    fe_add(w0, w0, w0);
    fe_mul(w1, n, FE_SQRT_AD_MINUS_ONE);
    fe_sq(tmp, s);
    fe_sub(w2, FE_ONE, tmp);
    fe_add(w3, FE_ONE, tmp);
    fe_mul(p->X, w0, w3);
    fe_mul(p->Y, w2, w1);
    fe_mul(p->Z, w1, w3);
    fe_mul(p->T, w0, w2);
}

/* Caller-supplied storage <-> ge, re-carrying every limb. */
static void ge_load(ge *p, const uint8_t *in) {
    uint64_t w[PK_R255_POINT_WORDS];
    memcpy(w, in, sizeof(w));
    for (int k = 0; k < 4; k++) {
        fe *dst = k == 0 ? &p->X : k == 1 ? &p->Y : k == 2 ? &p->Z : &p->T;
        for (int i = 0; i < 5; i++) (*dst)[i] = w[5 * k + i] & ((1ULL << 54) - 1);
        fe_carry(*dst);
    }
}

static void ge_store(uint8_t *out, const ge *p) {
    uint64_t w[PK_R255_POINT_WORDS];
    const fe *src[4] = {&p->X, &p->Y, &p->Z, &p->T};
    for (int k = 0; k < 4; k++) {
        fe t;
        fe_copy(t, *src[k]);
        fe_carry(t);
        memcpy(w + 5 * k, t, sizeof(fe));
    }
    memcpy(out, w, sizeof(w));
}

static void niels_load(ge_niels *q, const uint64_t *w) {
    fe *dst[3] = {&q->ypx, &q->ymx, &q->t2d};
    for (int k = 0; k < 3; k++) {
        for (int i = 0; i < 5; i++) (*dst[k])[i] = w[5 * k + i] & ((1ULL << 54) - 1);
        fe_carry(*dst[k]);
    }
}

/* ---------------------------------------------------------------- scalars */

static const uint64_t SC_L[4] = {0x5812631a5cf5d3edULL, 0x14def9dea2f79cd6ULL,
                                 0x0000000000000000ULL, 0x1000000000000000ULL};
static const uint64_t SC_R2[4] = {0xa40611e3449c0f01ULL, 0xd00e1ba768859347ULL,
                                  0xceec73d217f5be65ULL, 0x0399411b7c309a3dULL};
static const uint64_t SC_R3[4] = {0x2a9e49687b83a2dbULL, 0x278324e6aef7f3ecULL,
                                  0x8065dc6c04ec5b65ULL, 0x0e530b773599cec7ULL};
static const uint64_t SC_ONE[4] = {1, 0, 0, 0};
#define SC_LP 0xd2b51da312547e1bULL /* -l^-1 mod 2^64 */

static void sc_load(uint64_t w[4], const uint8_t in[32]) {
    for (int i = 0; i < 4; i++) {
        w[i] = 0;
        for (int j = 0; j < 8; j++) w[i] |= (uint64_t)in[8 * i + j] << (8 * j);
    }
}

static void sc_store(uint8_t out[32], const uint64_t w[4]) {
    for (int i = 0; i < 4; i++)
        for (int j = 0; j < 8; j++) out[8 * i + j] = (uint8_t)(w[i] >> (8 * j));
}

/* r = t - l if t >= l else t, for t (with its fifth word hi) < 2l. */
static void sc_reduce_once(uint64_t r[4], const uint64_t t[4], uint64_t hi) {
    uint64_t d[4], borrow = 0;
    for (int i = 0; i < 4; i++) {
        u128 x = (u128)t[i] - SC_L[i] - borrow;
        d[i] = (uint64_t)x;
        borrow = (uint64_t)(x >> 64) & 1;
    }
    /* t >= l iff no borrow out of the 5-word subtraction. */
    uint64_t keep = (uint64_t)0 - (borrow & (uint64_t)(hi == 0 ? 1 : 0));
    uint64_t hib = (uint64_t)0 - (uint64_t)((hi | (0 - hi)) >> 63); /* hi != 0 */
    keep &= ~hib;
    for (int i = 0; i < 4; i++) r[i] = (keep & t[i]) | (~keep & d[i]);
}

/* Montgomery product a*b/2^256 mod l, for a < 2^256, b < l; result < l. */
static void sc_montmul(uint64_t r[4], const uint64_t a[4], const uint64_t b[4]) {
    uint64_t t[6] = {0, 0, 0, 0, 0, 0};
    for (int i = 0; i < 4; i++) {
        u128 c = 0;
        for (int j = 0; j < 4; j++) {
            c = (u128)t[j] + (u128)a[j] * b[i] + (uint64_t)(c >> 64);
            t[j] = (uint64_t)c;
        }
        c = (u128)t[4] + (uint64_t)(c >> 64);
        t[4] = (uint64_t)c;
        t[5] = (uint64_t)(c >> 64);
        uint64_t m = t[0] * SC_LP;
        c = (u128)t[0] + (u128)m * SC_L[0];
        for (int j = 1; j < 4; j++) {
            c = (u128)t[j] + (u128)m * SC_L[j] + (uint64_t)(c >> 64);
            t[j - 1] = (uint64_t)c;
        }
        c = (u128)t[4] + (uint64_t)(c >> 64);
        t[3] = (uint64_t)c;
        t[4] = t[5] + (uint64_t)(c >> 64);
    }
    sc_reduce_once(r, t, t[4]);
}

static void sc_add_w(uint64_t r[4], const uint64_t a[4], const uint64_t b[4]) {
    uint64_t t[4];
    u128 c = 0;
    for (int i = 0; i < 4; i++) {
        c = (u128)a[i] + b[i] + (uint64_t)(c >> 64);
        t[i] = (uint64_t)c;
    }
    sc_reduce_once(r, t, (uint64_t)(c >> 64));
}

static void sc_sub_w(uint64_t r[4], const uint64_t a[4], const uint64_t b[4]) {
    uint64_t t[4], borrow = 0;
    for (int i = 0; i < 4; i++) {
        u128 x = (u128)a[i] - b[i] - borrow;
        t[i] = (uint64_t)x;
        borrow = (uint64_t)(x >> 64) & 1;
    }
    uint64_t mask = (uint64_t)0 - borrow;
    u128 c = 0;
    for (int i = 0; i < 4; i++) {
        c = (u128)t[i] + (SC_L[i] & mask) + (uint64_t)(c >> 64);
        r[i] = (uint64_t)c;
    }
}

/* All-ones if w < l. */
static uint64_t sc_canonical_mask(const uint64_t w[4]) {
    uint64_t borrow = 0;
    for (int i = 0; i < 4; i++) {
        u128 x = (u128)w[i] - SC_L[i] - borrow;
        borrow = (uint64_t)(x >> 64) & 1;
    }
    return (uint64_t)0 - borrow;
}

static void sc_reduce32_w(uint64_t r[4], const uint64_t x[4]) {
    uint64_t t[4];
    sc_montmul(t, x, SC_R2);
    sc_montmul(r, t, SC_ONE);
}

static void sc_reduce64_w(uint64_t r[4], const uint8_t in[64]) {
    uint64_t lo[4], hi[4], a[4], b[4];
    sc_load(lo, in);
    sc_load(hi, in + 32);
    sc_montmul(a, lo, SC_R2);
    sc_montmul(b, hi, SC_R3);
    sc_add_w(a, a, b);
    sc_montmul(r, a, SC_ONE);
}

static void sc_mul_w(uint64_t r[4], const uint64_t a[4], const uint64_t b[4]) {
    uint64_t t[4];
    sc_montmul(t, a, b);
    sc_montmul(r, t, SC_R2);
}

/* a^(l-2) mod l; the exponent is public, so its bits may steer the loop. */
static void sc_invert_w(uint64_t r[4], const uint64_t a[4]) {
    uint64_t am[4], acc[4], e[4];
    sc_montmul(am, a, SC_R2);      /* a R */
    sc_montmul(acc, SC_ONE, SC_R2); /* R */
    memcpy(e, SC_L, sizeof(e));
    e[0] -= 2;
    for (int i = 255; i >= 0; i--) {
        sc_montmul(acc, acc, acc);
        if ((e[i / 64] >> (i % 64)) & 1) sc_montmul(acc, acc, am);
    }
    sc_montmul(r, acc, SC_ONE);
}

/* Signed radix-16 digits e[0..63] in [-8, 8) of a reduced scalar. */
static void sc_radix16(int8_t e[64], const uint64_t w[4]) {
    uint8_t b[32];
    sc_store(b, w);
    for (int i = 0; i < 32; i++) {
        e[2 * i] = (int8_t)(b[i] & 15);
        e[2 * i + 1] = (int8_t)(b[i] >> 4);
    }
    int8_t carry = 0;
    for (int i = 0; i < 63; i++) {
        e[i] = (int8_t)(e[i] + carry);
        carry = (int8_t)((e[i] + 8) >> 4);
        e[i] = (int8_t)(e[i] - carry * 16);
    }
    e[63] = (int8_t)(e[63] + carry);
}

/* ----------------------------------------------- constant-time scalar mult */

static uint64_t ct_eq_u8(uint8_t a, uint8_t b) {
    uint32_t x = (uint32_t)(a ^ b);
    return (uint64_t)0 - (uint64_t)(((x - 1) >> 31) & 1);
}

static void cached_cmov(ge_cached *r, const ge_cached *q, uint64_t mask) {
    fe_cmov(r->YpX, q->YpX, mask);
    fe_cmov(r->YmX, q->YmX, mask);
    fe_cmov(r->Z, q->Z, mask);
    fe_cmov(r->T2d, q->T2d, mask);
}

static void niels_cmov(ge_niels *r, const ge_niels *q, uint64_t mask) {
    fe_cmov(r->ypx, q->ypx, mask);
    fe_cmov(r->ymx, q->ymx, mask);
    fe_cmov(r->t2d, q->t2d, mask);
}

static void cached_cneg(ge_cached *r, uint64_t mask) {
    fe t;
    fe_copy(t, r->YpX);
    fe_cmov(r->YpX, r->YmX, mask);
    fe_cmov(r->YmX, t, mask);
    fe_cneg(r->T2d, mask);
}

static void niels_cneg(ge_niels *r, uint64_t mask) {
    fe t;
    fe_copy(t, r->ypx);
    fe_cmov(r->ypx, r->ymx, mask);
    fe_cmov(r->ymx, t, mask);
    fe_cneg(r->t2d, mask);
}

static void digit_abs(int8_t d, uint8_t *mag, uint64_t *negmask) {
    uint8_t neg = (uint8_t)((uint8_t)d >> 7);
    *negmask = (uint64_t)0 - (uint64_t)neg;
    *mag = (uint8_t)(((uint8_t)d ^ (uint8_t)(0 - neg)) + neg);
}

static void ge_scalarmult(ge *r, const uint64_t w[4], const ge *p) {
    ge_cached table[8];
    ge acc;
    int8_t e[64];
    sc_radix16(e, w);
    ge_to_cached(&table[0], p);
    acc = *p;
    for (int j = 1; j < 8; j++) {
        ge_add_cached(&acc, &acc, &table[0], 0);
        ge_to_cached(&table[j], &acc);
    }
    ge_identity(r);
    for (int i = 63; i >= 0; i--) {
        if (i != 63)
            for (int k = 0; k < 4; k++) ge_double(r, r);
        uint8_t mag;
        uint64_t neg;
        digit_abs(e[i], &mag, &neg);
        ge_cached sel;
        fe_copy(sel.YpX, FE_ONE);
        fe_copy(sel.YmX, FE_ONE);
        fe_copy(sel.Z, FE_ONE);
        fe_copy(sel.T2d, FE_ZERO);
        for (int j = 0; j < 8; j++) cached_cmov(&sel, &table[j], ct_eq_u8(mag, (uint8_t)(j + 1)));
        cached_cneg(&sel, neg);
        ge_add_cached(r, r, &sel, 0);
        pk_secure_zero(&sel, sizeof(sel));
    }
    pk_secure_zero(e, sizeof(e));
    pk_secure_zero(table, sizeof(table));
    pk_secure_zero(&acc, sizeof(acc));
}

/* Generator B and the fixed-base table: BASE_TABLE[i][j] = (j + 1) 16^i B. */
static const uint8_t GENERATOR_ENC[32] = {
    0xe2, 0xf2, 0xae, 0x0a, 0x6a, 0xbc, 0x4e, 0x71, 0xa8, 0x84, 0xa9, 0x61, 0xc5, 0x00, 0x51, 0x5f,
    0x58, 0xe3, 0x0b, 0x6a, 0xa5, 0x82, 0xdd, 0x8d, 0xb6, 0xa6, 0x59, 0x45, 0xe0, 0x8d, 0x2d, 0x76};
static ge GENERATOR;
static ge_niels BASE_TABLE[64][8];

static void to_niels(ge_niels *n, const ge *p) {
    fe zi, x, y;
    fe_invert(zi, p->Z);
    fe_mul(x, p->X, zi);
    fe_mul(y, p->Y, zi);
    fe_add(n->ypx, y, x);
    fe_sub(n->ymx, y, x);
    fe_mul(n->t2d, x, y);
    fe_mul(n->t2d, n->t2d, FE_D2);
}

static void base_init(void) {
    (void)ristretto_decode(&GENERATOR, GENERATOR_ENC);
    ge row = GENERATOR;
    for (int i = 0; i < 64; i++) {
        ge m = row;
        for (int j = 0; j < 8; j++) {
            to_niels(&BASE_TABLE[i][j], &m);
            ge_add(&m, &m, &row);
        }
        for (int k = 0; k < 4; k++) ge_double(&row, &row);
    }
}

#ifdef PK_NO_PTHREAD
static int base_ready = 0;
static void ensure_base(void) {
    if (!base_ready) {
        base_init();
        base_ready = 1;
    }
}
#else
static pthread_once_t base_once = PTHREAD_ONCE_INIT;
static void ensure_base(void) { (void)pthread_once(&base_once, base_init); }
#endif

static void ge_scalarmult_base(ge *r, const uint64_t w[4]) {
    int8_t e[64];
    ensure_base();
    sc_radix16(e, w);
    ge_identity(r);
    for (int i = 0; i < 64; i++) {
        uint8_t mag;
        uint64_t neg;
        digit_abs(e[i], &mag, &neg);
        ge_niels sel;
        fe_copy(sel.ypx, FE_ONE);
        fe_copy(sel.ymx, FE_ONE);
        fe_copy(sel.t2d, FE_ZERO);
        for (int j = 0; j < 8; j++)
            niels_cmov(&sel, &BASE_TABLE[i][j], ct_eq_u8(mag, (uint8_t)(j + 1)));
        niels_cneg(&sel, neg);
        ge_add_niels(r, r, &sel, 0);
        pk_secure_zero(&sel, sizeof(sel));
    }
    pk_secure_zero(e, sizeof(e));
}

/* ------------------------------------------------------------- public API */

int pk_r255_decode(const uint8_t *in, uint8_t *out) {
    if (!in || !out) return PK_ERR_ARG;
    ge p;
    uint64_t ok = ristretto_decode(&p, in);
    if (!ok) return PK_ERR_RANGE; /* validity is public: the caller learns it anyway */
    ge_store(out, &p);
    return PK_OK;
}

int pk_r255_encode(const uint8_t *in, uint8_t *out) {
    if (!in || !out) return PK_ERR_ARG;
    ge p;
    ge_load(&p, in);
    ristretto_encode(out, &p);
    return PK_OK;
}

int pk_r255_identity(uint8_t *out) {
    if (!out) return PK_ERR_ARG;
    ge p;
    ge_identity(&p);
    ge_store(out, &p);
    return PK_OK;
}

int pk_r255_generator(uint8_t *out) {
    if (!out) return PK_ERR_ARG;
    ensure_base();
    ge_store(out, &GENERATOR);
    return PK_OK;
}

int pk_r255_add(const uint8_t *a, const uint8_t *b, uint8_t *out) {
    if (!a || !b || !out) return PK_ERR_ARG;
    ge p, q;
    ge_load(&p, a);
    ge_load(&q, b);
    ge_add(&p, &p, &q);
    ge_store(out, &p);
    return PK_OK;
}

int pk_r255_sub(const uint8_t *a, const uint8_t *b, uint8_t *out) {
    if (!a || !b || !out) return PK_ERR_ARG;
    ge p, q;
    ge_load(&p, a);
    ge_load(&q, b);
    ge_sub(&p, &p, &q);
    ge_store(out, &p);
    return PK_OK;
}

int pk_r255_neg(const uint8_t *a, uint8_t *out) {
    if (!a || !out) return PK_ERR_ARG;
    ge p;
    ge_load(&p, a);
    ge_neg(&p, &p);
    ge_store(out, &p);
    return PK_OK;
}

int pk_r255_equal(const uint8_t *a, const uint8_t *b, int *out) {
    if (!a || !b || !out) return PK_ERR_ARG;
    ge p, q;
    ge_load(&p, a);
    ge_load(&q, b);
    *out = (int)(ge_ristretto_eq_mask(&p, &q) & 1);
    return PK_OK;
}

int pk_r255_from_uniform(const uint8_t *in, uint8_t *out) {
    if (!in || !out) return PK_ERR_ARG;
    ge p, q;
    ristretto_map(&p, in);
    ristretto_map(&q, in + 32);
    ge_add(&p, &p, &q);
    ge_store(out, &p);
    return PK_OK;
}

int pk_r255_scalarmult(const uint8_t *scalar, const uint8_t *point, uint8_t *out) {
    if (!scalar || !point || !out) return PK_ERR_ARG;
    uint64_t w[4];
    ge p, r;
    sc_load(w, scalar);
    sc_reduce32_w(w, w);
    ge_load(&p, point);
    ge_scalarmult(&r, w, &p);
    ge_store(out, &r);
    pk_secure_zero(w, sizeof(w));
    return PK_OK;
}

int pk_r255_scalarmult_base(const uint8_t *scalar, uint8_t *out) {
    if (!scalar || !out) return PK_ERR_ARG;
    uint64_t w[4];
    ge r;
    sc_load(w, scalar);
    sc_reduce32_w(w, w);
    ge_scalarmult_base(&r, w);
    ge_store(out, &r);
    pk_secure_zero(w, sizeof(w));
    return PK_OK;
}

int pk_r255_scalar_reduce(const uint8_t *in, size_t len, uint8_t *out) {
    if (!in || !out) return PK_ERR_ARG;
    uint64_t w[4];
    if (len == 32) {
        sc_load(w, in);
        sc_reduce32_w(w, w);
    } else if (len == 64) {
        sc_reduce64_w(w, in);
    } else {
        return PK_ERR_RANGE;
    }
    sc_store(out, w);
    return PK_OK;
}

int pk_r255_scalar_check(const uint8_t *in) {
    if (!in) return PK_ERR_ARG;
    uint64_t w[4];
    sc_load(w, in);
    return sc_canonical_mask(w) ? PK_OK : PK_ERR_RANGE;
}

/* Load two canonical scalars; PK_ERR_RANGE if either is not < l. */
static int sc_load2(uint64_t x[4], uint64_t y[4], const uint8_t *a, const uint8_t *b) {
    sc_load(x, a);
    sc_load(y, b);
    return (sc_canonical_mask(x) & sc_canonical_mask(y)) ? PK_OK : PK_ERR_RANGE;
}

int pk_r255_scalar_op(int op, const uint8_t *a, const uint8_t *b, uint8_t *out) {
    if (!a || !out || (op != PK_R255_SC_NEG && op != PK_R255_SC_INV && !b)) return PK_ERR_ARG;
    uint64_t x[4], y[4], r[4];
    int rc = sc_load2(x, y, a, (op == PK_R255_SC_NEG || op == PK_R255_SC_INV) ? a : b);
    if (rc != PK_OK) return rc;
    switch (op) {
    case PK_R255_SC_ADD: sc_add_w(r, x, y); break;
    case PK_R255_SC_SUB: sc_sub_w(r, x, y); break;
    case PK_R255_SC_MUL: sc_mul_w(r, x, y); break;
    case PK_R255_SC_NEG: {
        static const uint64_t zero[4] = {0, 0, 0, 0};
        sc_sub_w(r, zero, x);
        break;
    }
    case PK_R255_SC_INV:
        if ((x[0] | x[1] | x[2] | x[3]) == 0) return PK_ERR_RANGE;
        sc_invert_w(r, x);
        break;
    default: return PK_ERR_ARG;
    }
    sc_store(out, r);
    pk_secure_zero(x, sizeof(x));
    pk_secure_zero(y, sizeof(y));
    pk_secure_zero(r, sizeof(r));
    return PK_OK;
}

/* -------------------------------------------- multi-scalar multiplication */

int pk_r255_prepare(const uint8_t *points, size_t n, uint64_t *out) {
    if (n == 0) return PK_OK;
    if (!points || !out) return PK_ERR_ARG;
    if (n > SIZE_MAX / (sizeof(fe) * 4)) return PK_ERR_RANGE;
    /* Batch inversion of the Z coordinates (Montgomery's trick). */
    fe *acc = malloc(n * sizeof(fe));
    if (!acc) return PK_ERR_RANGE;
    fe run;
    fe_copy(run, FE_ONE);
    for (size_t i = 0; i < n; i++) {
        ge p;
        ge_load(&p, points + i * PK_R255_POINT_BYTES);
        fe_copy(acc[i], run);
        fe_mul(run, run, p.Z);
    }
    fe inv;
    fe_invert(inv, run);
    for (size_t i = n; i-- > 0;) {
        ge p;
        ge_load(&p, points + i * PK_R255_POINT_BYTES);
        fe zi, x, y;
        fe_mul(zi, inv, acc[i]);
        fe_mul(inv, inv, p.Z);
        fe_mul(x, p.X, zi);
        fe_mul(y, p.Y, zi);
        ge_niels q;
        fe_add(q.ypx, y, x);
        fe_sub(q.ymx, y, x);
        fe_mul(q.t2d, x, y);
        fe_mul(q.t2d, q.t2d, FE_D2);
        memcpy(out + i * PK_R255_PREPARED_WORDS, &q, sizeof(q));
    }
    free(acc);
    return PK_OK;
}

/* Many one-way maps at once: in holds n * 64 bytes; out gets n prepared points. */
int pk_r255_from_uniform_batch(const uint8_t *in, size_t n, uint64_t *out) {
    if (n == 0) return PK_OK;
    if (!in || !out) return PK_ERR_ARG;
    if (n > SIZE_MAX / PK_R255_POINT_BYTES) return PK_ERR_RANGE;
    const size_t chunk = 256;
    uint8_t *ext = malloc(chunk * PK_R255_POINT_BYTES);
    if (!ext) return PK_ERR_RANGE;
    for (size_t start = 0; start < n; start += chunk) {
        size_t m = n - start < chunk ? n - start : chunk;
        for (size_t i = 0; i < m; i++)
            (void)pk_r255_from_uniform(in + 64 * (start + i), ext + PK_R255_POINT_BYTES * i);
        int rc = pk_r255_prepare(ext, m, out + PK_R255_PREPARED_WORDS * start);
        if (rc != PK_OK) {
            free(ext);
            return rc;
        }
    }
    free(ext);
    return PK_OK;
}

/* A prepared (affine) point back to the decoded form: x = (ypx - ymx) / 2, y = (ypx + ymx) / 2. */
int pk_r255_unprepare(const uint64_t *prepared, uint8_t *out) {
    if (!prepared || !out) return PK_ERR_ARG;
    static const fe half = {0x7fffffffffff7ULL, 0x7ffffffffffffULL, 0x7ffffffffffffULL,
                            0x7ffffffffffffULL, 0x3ffffffffffffULL}; /* (p + 1) / 2 */
    ge_niels q;
    niels_load(&q, prepared);
    fe_carry(q.ypx);
    fe_carry(q.ymx);
    ge p;
    fe_sub(p.X, q.ypx, q.ymx);
    fe_mul(p.X, p.X, half);
    fe_add(p.Y, q.ypx, q.ymx);
    fe_mul(p.Y, p.Y, half);
    fe_copy(p.Z, FE_ONE);
    fe_mul(p.T, p.X, p.Y);
    ge_store(out, &p);
    return PK_OK;
}

/* Window width minimising windows * (n + 2 * buckets). */
static int choose_window(size_t n, int bits) {
    int best = 1;
    double best_cost = 0;
    for (int c = 1; c <= 18; c++) {
        int nwin = (bits + 1 + c - 1) / c;
        double cost = (double)nwin * ((double)n + 2.0 * (double)(1UL << (c - 1))) + nwin * c;
        if (c == 1 || cost < best_cost) {
            best = c;
            best_cost = cost;
        }
    }
    return best;
}

/* Bits [pos, pos + c) of a little-endian byte string of len bytes (c <= 24). */
static uint32_t get_bits(const uint8_t *s, size_t len, int pos, int c) {
    uint64_t v = 0;
    size_t byte = (size_t)pos >> 3;
    for (size_t k = 0; k < 5 && byte + k < len; k++) v |= (uint64_t)s[byte + k] << (8 * k);
    return (uint32_t)((v >> (pos & 7)) & ((1ULL << c) - 1));
}

/*
 * Pippenger over magnitudes given as little-endian byte strings of `len`
 * bytes each (mag[i*len..]), with per-point sign flags; `bits` bounds every
 * magnitude.  Variable time.
 */
static int pippenger(ge *result, const uint8_t *mag, size_t len, const uint8_t *neg,
                     const uint64_t *prep, size_t n, int bits) {
    ge_identity(result);
    if (n == 0 || bits == 0) return PK_OK;
    int c = choose_window(n, bits);
    int nwin = (bits + 1 + c - 1) / c;
    size_t nb = (size_t)1 << (c - 1);
    ge *buckets = malloc(nb * sizeof(ge));
    uint8_t *used = malloc(nb);
    uint8_t *carry = calloc(n, 1);
    ge *wins = malloc((size_t)nwin * sizeof(ge));
    if (!buckets || !used || !carry || !wins) {
        free(buckets);
        free(used);
        free(carry);
        free(wins);
        return PK_ERR_RANGE;
    }
    uint32_t half = (uint32_t)1 << (c - 1), full = (uint32_t)1 << c;
    for (int w = 0; w < nwin; w++) {
        memset(used, 0, nb);
        for (size_t i = 0; i < n; i++) {
            uint32_t raw = get_bits(mag + i * len, len, w * c, c) + carry[i];
            int64_t d;
            if (raw > half) {
                d = (int64_t)raw - (int64_t)full;
                carry[i] = 1;
            } else {
                d = raw;
                carry[i] = 0;
            }
            if (d == 0) continue;
            int sub = (d < 0) ^ (neg ? neg[i] : 0);
            size_t b = (size_t)(d < 0 ? -d : d) - 1;
            ge_niels q;
            niels_load(&q, prep + i * PK_R255_PREPARED_WORDS);
            if (!used[b]) {
                ge_identity(&buckets[b]);
                used[b] = 1;
            }
            ge_add_niels(&buckets[b], &buckets[b], &q, sub);
        }
        ge running, sum;
        ge_identity(&running);
        ge_identity(&sum);
        int any = 0;
        for (size_t b = nb; b-- > 0;) {
            if (used[b]) {
                ge_add(&running, &running, &buckets[b]);
                any = 1;
            }
            if (any) ge_add(&sum, &sum, &running);
        }
        wins[w] = sum;
    }
    *result = wins[nwin - 1];
    for (int w = nwin - 2; w >= 0; w--) {
        for (int k = 0; k < c; k++) ge_double(result, result);
        ge_add(result, result, &wins[w]);
    }
    free(buckets);
    free(used);
    free(carry);
    free(wins);
    return PK_OK;
}

int pk_r255_msm(const uint8_t *scalars, const uint64_t *prepared, size_t n, uint8_t *out) {
    if (!out) return PK_ERR_ARG;
    if (n && (!scalars || !prepared)) return PK_ERR_ARG;
    if (n > SIZE_MAX / 32) return PK_ERR_RANGE;
    uint8_t *red = NULL;
    if (n) {
        red = malloc(n * 32);
        if (!red) return PK_ERR_RANGE;
        for (size_t i = 0; i < n; i++) {
            uint64_t w[4];
            sc_load(w, scalars + 32 * i);
            sc_reduce32_w(w, w);
            sc_store(red + 32 * i, w);
        }
    }
    ge r;
    int rc = pippenger(&r, red, 32, NULL, prepared, n, 253);
    free(red);
    if (rc == PK_OK) ge_store(out, &r);
    return rc;
}

int pk_r255_msm_small(const int32_t *values, const uint64_t *prepared, size_t n, uint8_t *out) {
    if (!out) return PK_ERR_ARG;
    if (n && (!values || !prepared)) return PK_ERR_ARG;
    if (n > SIZE_MAX / 4) return PK_ERR_RANGE;
    uint8_t *mag = NULL, *neg = NULL;
    uint64_t maxm = 0;
    if (n) {
        mag = malloc(n * 4);
        neg = malloc(n);
        if (!mag || !neg) {
            free(mag);
            free(neg);
            return PK_ERR_RANGE;
        }
        for (size_t i = 0; i < n; i++) {
            int64_t v = values[i];
            uint32_t m = (uint32_t)(v < 0 ? -v : v);
            neg[i] = (uint8_t)(v < 0);
            if (m > maxm) maxm = m;
            for (int k = 0; k < 4; k++) mag[4 * i + (size_t)k] = (uint8_t)(m >> (8 * k));
        }
    }
    int bits = 0;
    while (bits < 32 && (maxm >> bits) != 0) bits++;
    ge r;
    int rc = pippenger(&r, mag, 4, neg, prepared, n, bits);
    free(mag);
    free(neg);
    if (rc == PK_OK) ge_store(out, &r);
    return rc;
}
