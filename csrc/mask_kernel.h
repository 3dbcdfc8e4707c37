/*
 * Keyed mask expansion kernel, written once and instantiated per instruction
 * set by mask_portable.c, mask_avx2.c and mask_avx512.c.
 *
 * Before including this file, the instantiating file defines:
 *   PK_LANES       ChaCha20 blocks computed side by side (4, 8 or 16)
 *   PK_TARGET      a function attribute selecting the ISA (may be empty)
 *   PK_NAME(x)     the exported name of kernel x for this ISA
 *   PK_SHUFFLE_ROT 1 to rotate by 8/16 with byte shuffles (pshufb), 0 for shifts
 *
 * GCC vector extensions keep the code ISA-neutral: the compiler maps a
 * PK_LANES x 32-bit vector onto SSE2, AVX2 or AVX-512 registers according to
 * PK_TARGET, and onto whatever the machine has elsewhere.
 *
 * Mask word order (normative, see docs/native.md).  Blocks are numbered from
 * counter 0; a group is 16 consecutive blocks g*16 .. g*16+15, i.e. 256 words.
 * With W[j][i] the i-th little-endian word of block g*16+j:
 *   u32 element 256*g + 16*i + j          = W[j][i]                (i < 16)
 *   u64 element 128*g + 16*i + j          = W[j][i] | W[j][i+8] << 32   (i < 8)
 * Every ISA produces exactly this order, so clients and servers on different
 * CPUs agree; it is what lets 16 lanes be added straight into the accumulator
 * without a transpose.
 */
#include <string.h>

#include "privkit.h"
#include "pk_internal.h"

#if PK_LANES != 4 && PK_LANES != 8 && PK_LANES != 16
#error "PK_LANES must be 4, 8 or 16"
#endif

typedef uint32_t vec_t __attribute__((vector_size(PK_LANES * 4)));
typedef uint32_t hvec_t __attribute__((vector_size(PK_LANES * 2)));
typedef uint64_t wvec_t __attribute__((vector_size(PK_LANES * 4)));
typedef uint8_t bvec_t __attribute__((vector_size(PK_LANES * 4)));

#define PK_HALVES (PK_GROUP_BLOCKS / PK_LANES)
/* Accumulator tile: 16 groups = 16 KiB of u32 (or 32 KiB of u64) stays in L1
   while every seed is applied to it. */
#define PK_TILE_GROUPS 16

#define PK_INLINE static inline __attribute__((always_inline)) PK_TARGET

#if PK_SHUFFLE_ROT
/* Byte-shuffle masks rotating every 32-bit lane left by 16 and by 8. */
#define PK_R16_BYTES(b) b + 2, b + 3, b + 0, b + 1
#define PK_R8_BYTES(b) b + 3, b + 0, b + 1, b + 2
#if PK_LANES == 8
#define PK_RMASK(M) {M(0), M(4), M(8), M(12), M(16), M(20), M(24), M(28)}
#elif PK_LANES == 16
#define PK_RMASK(M)                                                                            \
    {M(0),  M(4),  M(8),  M(12), M(16), M(20), M(24), M(28),                                   \
     M(32), M(36), M(40), M(44), M(48), M(52), M(56), M(60)}
#else
#error "byte-shuffle rotations are only wired for 8 and 16 lanes"
#endif
PK_INLINE vec_t rot16(vec_t v) {
    const bvec_t m = PK_RMASK(PK_R16_BYTES);
    return (vec_t)__builtin_shuffle((bvec_t)v, m);
}
PK_INLINE vec_t rot8(vec_t v) {
    const bvec_t m = PK_RMASK(PK_R8_BYTES);
    return (vec_t)__builtin_shuffle((bvec_t)v, m);
}
#else
PK_INLINE vec_t rot16(vec_t v) { return (v << 16) | (v >> 16); }
PK_INLINE vec_t rot8(vec_t v) { return (v << 8) | (v >> 24); }
#endif
PK_INLINE vec_t rot12(vec_t v) { return (v << 12) | (v >> 20); }
PK_INLINE vec_t rot7(vec_t v) { return (v << 7) | (v >> 25); }

#define VQR(a, b, c, d)                                                                        \
    do {                                                                                       \
        a += b; d ^= a; d = rot16(d);                                                          \
        c += d; b ^= c; b = rot12(b);                                                          \
        a += b; d ^= a; d = rot8(d);                                                           \
        c += d; b ^= c; b = rot7(b);                                                           \
    } while (0)

/* PK_LANES blocks with counters ctr, ctr+1, ...: x[i] holds word i of each.
   The input words are re-broadcast for the final addition rather than kept in
   registers: 16 state vectors plus 16 inputs would not fit and would spill. */
PK_INLINE void lanes_blocks(const uint32_t in[16], uint32_t ctr, vec_t x[16]) {
    vec_t lane;
    for (int j = 0; j < PK_LANES; j++) lane[j] = (uint32_t)j;
    for (int i = 0; i < 16; i++) x[i] = (vec_t){0} + in[i];
    x[12] = ctr + lane;
    for (int r = 0; r < 10; r++) {
        VQR(x[0], x[4], x[8], x[12]);
        VQR(x[1], x[5], x[9], x[13]);
        VQR(x[2], x[6], x[10], x[14]);
        VQR(x[3], x[7], x[11], x[15]);
        VQR(x[0], x[5], x[10], x[15]);
        VQR(x[1], x[6], x[11], x[12]);
        VQR(x[2], x[7], x[8], x[13]);
        VQR(x[3], x[4], x[9], x[14]);
    }
    for (int i = 0; i < 16; i++) x[i] += in[i];
    x[12] += ctr + lane - in[12];
}

/* Add (neg = 0) or subtract (neg = 1) one group of seed `in` into acc32[0..255]. */
PK_INLINE void group_u32(uint32_t *acc, const uint32_t in[16], uint32_t g, const int neg) {
    for (int h = 0; h < PK_HALVES; h++) {
        vec_t x[16];
        lanes_blocks(in, g * PK_GROUP_BLOCKS + (uint32_t)(h * PK_LANES), x);
        for (int i = 0; i < 16; i++) {
            uint32_t *p = acc + 16 * i + h * PK_LANES;
            vec_t a;
            memcpy(&a, p, sizeof(a));
            a = neg ? a - x[i] : a + x[i];
            memcpy(p, &a, sizeof(a));
        }
    }
}

/* The same for one group of 128 u64 elements. */
PK_INLINE void group_u64(uint64_t *acc, const uint32_t in[16], uint32_t g, const int neg) {
    for (int h = 0; h < PK_HALVES; h++) {
        vec_t x[16];
        lanes_blocks(in, g * PK_GROUP_BLOCKS + (uint32_t)(h * PK_LANES), x);
        for (int i = 0; i < 8; i++) {
            uint64_t *p = acc + 16 * i + h * PK_LANES;
            for (size_t half = 0; half < 2; half++) {
                hvec_t lo, hi;
                memcpy(&lo, (const char *)&x[i] + half * sizeof(hvec_t), sizeof(lo));
                memcpy(&hi, (const char *)&x[i + 8] + half * sizeof(hvec_t), sizeof(hi));
                wvec_t e = __builtin_convertvector(lo, wvec_t) |
                           (__builtin_convertvector(hi, wvec_t) << 32);
                wvec_t a;
                memcpy(&a, p + half * (PK_LANES / 2), sizeof(a));
                a = neg ? a - e : a + e;
                memcpy(p + half * (PK_LANES / 2), &a, sizeof(a));
            }
        }
    }
}

PK_INLINE void seed_state(uint32_t in[16], const uint8_t *seed, const uint8_t *nonce) {
    pk_chacha20_setup(in, seed, nonce);
}

/*
 * Shared driver: walk the output once in tiles; apply every seed to a tile
 * before moving on; finish a partial last group through a stack buffer.
 */
#define PK_DEFINE_DRIVER(T, GROUP_FN, GROUP_ELEMS)                                            \
    PK_TARGET void PK_NAME(T)(T##_t * acc, size_t n, uint32_t g0, const uint8_t *seeds,        \
                              const int8_t *signs, size_t k, const uint8_t *nonce) {           \
        const size_t full = n / (GROUP_ELEMS);                                                 \
        uint32_t in[16];                                                                       \
        for (size_t t0 = 0; t0 < full; t0 += PK_TILE_GROUPS) {                                 \
            const size_t t1 = full - t0 < PK_TILE_GROUPS ? full : t0 + PK_TILE_GROUPS;        \
            for (size_t s = 0; s < k; s++) {                                                   \
                seed_state(in, seeds + 32 * s, nonce);                                         \
                if (signs[s] < 0) {                                                            \
                    for (size_t g = t0; g < t1; g++)                                           \
                        GROUP_FN(acc + g * (GROUP_ELEMS), in, g0 + (uint32_t)g, 1);                 \
                } else {                                                                       \
                    for (size_t g = t0; g < t1; g++)                                           \
                        GROUP_FN(acc + g * (GROUP_ELEMS), in, g0 + (uint32_t)g, 0);                 \
                }                                                                              \
            }                                                                                  \
        }                                                                                      \
        const size_t rem = n - full * (GROUP_ELEMS);                                           \
        if (rem != 0) {                                                                        \
            T##_t tmp[GROUP_ELEMS];                                                            \
            T##_t *out = acc + full * (GROUP_ELEMS);                                           \
            for (size_t s = 0; s < k; s++) {                                                   \
                seed_state(in, seeds + 32 * s, nonce);                                         \
                memset(tmp, 0, sizeof(tmp));                                                   \
                GROUP_FN(tmp, in, g0 + (uint32_t)full, 0);                                          \
                if (signs[s] < 0) {                                                            \
                    for (size_t e = 0; e < rem; e++) out[e] -= tmp[e];                         \
                } else {                                                                       \
                    for (size_t e = 0; e < rem; e++) out[e] += tmp[e];                         \
                }                                                                              \
            }                                                                                  \
            pk_secure_zero(tmp, sizeof(tmp));                                                  \
        }                                                                                      \
        pk_secure_zero(in, sizeof(in));                                                        \
    }

PK_DEFINE_DRIVER(uint32, group_u32, PK_GROUP_WORDS)
PK_DEFINE_DRIVER(uint64, group_u64, PK_GROUP_WORDS / 2)
