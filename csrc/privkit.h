/*
 * privkit native kernels: the one header.
 *
 * The C compiler includes this file; cffi's cdef reads the lines between the
 * BEGIN CDEF and END CDEF markers (see csrc/build_ffi.py), so the Python
 * binding and the C definitions cannot drift apart.
 *
 * Conventions: every symbol is prefixed pk_; every routine returns an int
 * status (PK_OK on success); the caller allocates every output.  The C code
 * re-checks its arguments (null pointers, ranges) even though the Python
 * wrappers in privkit._native validate them first: C never trusts Python.
 */
#ifndef PRIVKIT_H
#define PRIVKIT_H

#include <stddef.h>
#include <stdint.h>

/* BEGIN CDEF */
/* Bumped whenever a declaration below changes; checked at import. */
#define PK_ABI_VERSION 3

#define PK_OK 0
#define PK_ERR_ARG 1
#define PK_ERR_ISA 2
#define PK_ERR_RANGE 3

/* Instruction-set variants of the vectorised kernels. */
#define PK_ISA_PORTABLE 0
#define PK_ISA_AVX2 1
#define PK_ISA_AVX512 2

/* Seed (ChaCha20 key) and nonce sizes in bytes. */
#define PK_SEED_BYTES 32
#define PK_NONCE_BYTES 12

/* Elements per group of 16 ChaCha20 blocks in the mask word order. */
#define PK_GROUP_U32 256
#define PK_GROUP_U64 128

int pk_abi_version(void);

/* 1 if the variant is compiled in and the running CPU supports it, else 0. */
int pk_isa_available(int isa);

/* The fastest available variant. */
int pk_isa_best(void);

/*
 * ChaCha20 keystream in RFC 8439 byte order: len bytes of the stream for
 * (key, nonce) starting at block `counter`.  The block counter is 32 bits, as
 * in RFC 8439: a request that would need a block past 2^32 - 1 returns
 * PK_ERR_RANGE and writes nothing (carrying into the nonce would alias the
 * stream of another nonce; current OpenSSL/`cryptography` refuse it too).
 */
int pk_chacha20_keystream(const uint8_t *key, const uint8_t *nonce, uint32_t counter,
                          uint8_t *out, size_t len);

/*
 * Keyed mask expansion: for each of the k seeds (k * 32 bytes, contiguous),
 * expand the seed with ChaCha20 (key = seed, the given 12-byte nonce, block
 * counter from 0) into ring elements in privkit's mask word order
 * (docs/native.md) and add (sign +1) or subtract (sign -1) elements
 * offset .. offset+n-1 of that stream into acc[0..n-1], modulo 2^32 or 2^64.
 * offset must be a multiple of PK_GROUP_U32 (u32) or PK_GROUP_U64 (u64), so
 * a long vector can be processed in independent chunks (threads, streaming).
 * signs holds k values, each +1 or -1.  The output is walked once, in
 * cache-sized tiles, applying all k seeds to a tile before moving on.  `isa`
 * picks the variant; PK_ERR_ISA if it is not available.  offset + n may be at
 * most 2^36 (u32) or 2^35 (u64): one 32-bit block-counter space.
 */
int pk_mask_add_u32(uint32_t *acc, size_t n, uint64_t offset, const uint8_t *seeds,
                    const int8_t *signs, size_t k, const uint8_t *nonce, int isa);
int pk_mask_add_u64(uint64_t *acc, size_t n, uint64_t offset, const uint8_t *seeds,
                    const int8_t *signs, size_t k, const uint8_t *nonce, int isa);

/*
 * Prime-field arithmetic for Shamir secret sharing: GF(p), p = 2^61 - 1 (a
 * Mersenne prime).  Elements are uint64_t values in [0, p); every input
 * element is checked and a value >= p makes the routine return PK_ERR_RANGE
 * before anything is written.  A null pointer with a non-zero size, or an
 * output that overlaps an input, is PK_ERR_ARG; element counts whose product
 * (or byte size) would overflow size_t are PK_ERR_RANGE.  Results are
 * canonical (< p).  Matrices are row-major and contiguous.
 */
#define PK_FIELD_BITS 61
#define PK_FIELD_PRIME 2305843009213693951

/*
 * Evaluate m polynomials of t coefficients at n points.  coeffs is t x m:
 * row k holds the coefficient of x^k of each of the m polynomials.  out is
 * n x m: out[j*m + c] = sum_k coeffs[k*m + c] * xs[j]^k mod p (0 when t = 0).
 */
int pk_field_poly_eval(const uint64_t *coeffs, size_t t, size_t m, const uint64_t *xs,
                       size_t n, uint64_t *out);

/* Linear combination of t rows of m elements: out[c] = sum_i weights[i] * rows[i*m + c] mod p. */
int pk_field_lincomb(const uint64_t *rows, const uint64_t *weights, size_t t, size_t m,
                     uint64_t *out);

/*
 * Matrix product: weights is r x t, rows is t x m, out is r x m:
 * out[q*m + c] = sum_i weights[q*t + i] * rows[i*m + c] mod p.
 * pk_field_lincomb is the case r = 1.
 */
int pk_field_matmul(const uint64_t *weights, size_t r, const uint64_t *rows, size_t t,
                    size_t m, uint64_t *out);
/* END CDEF */

#endif /* PRIVKIT_H */
