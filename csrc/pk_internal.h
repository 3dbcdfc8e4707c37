/* Internal declarations shared between privkit's C files (not part of the cffi API). */
#ifndef PK_INTERNAL_H
#define PK_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

/* "expand 32-byte k" */
#define PK_CHACHA_C0 0x61707865u
#define PK_CHACHA_C1 0x3320646eu
#define PK_CHACHA_C2 0x79622d32u
#define PK_CHACHA_C3 0x6b206574u

/* Mask word order: 16 ChaCha20 blocks (256 u32 words) form one group. */
#define PK_GROUP_BLOCKS 16
#define PK_GROUP_WORDS 256

void pk_chacha20_setup(uint32_t state[16], const uint8_t *key, const uint8_t *nonce);
void pk_chacha20_block_words(const uint32_t in[16], uint32_t out[16]);
void pk_secure_zero(void *p, size_t n);

/* One instantiation of the vectorised mask kernel per instruction set
   (mask_kernel.h, instantiated by mask_<isa>.c). */
/* g0: index of the group that acc[0] starts (the element offset / group size). */
typedef void (*pk_mask_u32_fn)(uint32_t *acc, size_t n, uint32_t g0, const uint8_t *seeds,
                               const int8_t *signs, size_t k, const uint8_t *nonce);
typedef void (*pk_mask_u64_fn)(uint64_t *acc, size_t n, uint32_t g0, const uint8_t *seeds,
                               const int8_t *signs, size_t k, const uint8_t *nonce);

void pk_mask_uint32_portable(uint32_t *, size_t, uint32_t, const uint8_t *, const int8_t *, size_t, const uint8_t *);
void pk_mask_uint64_portable(uint64_t *, size_t, uint32_t, const uint8_t *, const int8_t *, size_t, const uint8_t *);
#if defined(__x86_64__) && defined(__GNUC__)
#define PK_HAVE_X86_VARIANTS 1
void pk_mask_uint32_avx2(uint32_t *, size_t, uint32_t, const uint8_t *, const int8_t *, size_t, const uint8_t *);
void pk_mask_uint64_avx2(uint64_t *, size_t, uint32_t, const uint8_t *, const int8_t *, size_t, const uint8_t *);
void pk_mask_uint32_avx512(uint32_t *, size_t, uint32_t, const uint8_t *, const int8_t *, size_t, const uint8_t *);
void pk_mask_uint64_avx512(uint64_t *, size_t, uint32_t, const uint8_t *, const int8_t *, size_t, const uint8_t *);
#endif

#endif /* PK_INTERNAL_H */
