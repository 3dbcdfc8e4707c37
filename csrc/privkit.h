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
#define PK_ABI_VERSION 4

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
/*
 * ristretto255 (RFC 9496), csrc/ristretto.c.  A decoded point is
 * PK_R255_POINT_BYTES bytes: extended Edwards coordinates (X, Y, Z, T) as 20
 * native-endian uint64 limbs (five 51-bit limbs each).  It is an in-memory
 * form only, never a wire format: the wire form is the 32-byte encoding.
 * Scalars are 32 little-endian bytes; the arithmetic routines take canonical
 * scalars (< l) and return PK_ERR_RANGE otherwise.  Everything except the two
 * MSM routines is constant time in its inputs (decode reports validity).
 */
#define PK_R255_BYTES 32
#define PK_R255_UNIFORM_BYTES 64
#define PK_R255_POINT_WORDS 20
#define PK_R255_POINT_BYTES 160
#define PK_R255_PREPARED_WORDS 15
#define PK_R255_SC_ADD 0
#define PK_R255_SC_SUB 1
#define PK_R255_SC_MUL 2
#define PK_R255_SC_NEG 3
#define PK_R255_SC_INV 4

/* Decode 32 bytes; PK_ERR_RANGE for an invalid or non-canonical encoding. */
int pk_r255_decode(const uint8_t *in, uint8_t *out);
/* Canonical 32-byte encoding of a decoded point. */
int pk_r255_encode(const uint8_t *in, uint8_t *out);
int pk_r255_identity(uint8_t *out);
/* The ristretto255 generator (the edwards25519 base point). */
int pk_r255_generator(uint8_t *out);
int pk_r255_add(const uint8_t *a, const uint8_t *b, uint8_t *out);
int pk_r255_sub(const uint8_t *a, const uint8_t *b, uint8_t *out);
int pk_r255_neg(const uint8_t *a, uint8_t *out);
/* *out = 1 if a and b are the same ristretto255 element, else 0. */
int pk_r255_equal(const uint8_t *a, const uint8_t *b, int *out);
/* RFC 9496 4.3.4: 64 uniform bytes to a point (two one-way maps, added). */
int pk_r255_from_uniform(const uint8_t *in, uint8_t *out);
/* scalar * point and scalar * generator (scalar reduced mod l first), constant time. */
int pk_r255_scalarmult(const uint8_t *scalar, const uint8_t *point, uint8_t *out);
int pk_r255_scalarmult_base(const uint8_t *scalar, uint8_t *out);
/* Reduce a 32- or 64-byte little-endian integer mod l (len is 32 or 64). */
int pk_r255_scalar_reduce(const uint8_t *in, size_t len, uint8_t *out);
/* PK_OK if the 32 bytes are a canonical scalar (< l), else PK_ERR_RANGE. */
int pk_r255_scalar_check(const uint8_t *in);
/* op is PK_R255_SC_*; b is ignored (may be NULL) for NEG and INV; INV of 0 is PK_ERR_RANGE. */
int pk_r255_scalar_op(int op, const uint8_t *a, const uint8_t *b, uint8_t *out);
/*
 * Multi-scalar multiplication (Pippenger, signed digits), VARIABLE TIME in the
 * scalars.  pk_r255_prepare turns n decoded points into n * PK_R255_PREPARED_WORDS
 * limbs (affine y+x, y-x, 2dxy) that the MSM routines read; prepare once, reuse.
 * pk_r255_msm takes n 32-byte scalars (reduced mod l internally);
 * pk_r255_msm_small takes n signed 32-bit integers.  n = 0 gives the identity.
 */
int pk_r255_prepare(const uint8_t *points, size_t n, uint64_t *out);
/* n one-way maps (n * 64 uniform bytes) straight into n prepared points. */
int pk_r255_from_uniform_batch(const uint8_t *in, size_t n, uint64_t *out);
/* One prepared point back to the decoded (extended) form. */
int pk_r255_unprepare(const uint64_t *prepared, uint8_t *out);
int pk_r255_msm(const uint8_t *scalars, const uint64_t *prepared, size_t n, uint8_t *out);
int pk_r255_msm_small(const int32_t *values, const uint64_t *prepared, size_t n, uint8_t *out);
/* END CDEF */

#endif /* PRIVKIT_H */
