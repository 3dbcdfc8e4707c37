/* Mask kernel, AVX2 variant: 8 lanes in 256-bit registers, byte-shuffle rotations. */
#include "pk_internal.h"
#ifdef PK_HAVE_X86_VARIANTS
#define PK_LANES 8
#define PK_TARGET __attribute__((target("avx2")))
#define PK_SHUFFLE_ROT 1
#define PK_NAME(T) pk_mask_##T##_avx2_impl
#include "mask_kernel.h"

void pk_mask_u32_avx2(uint32_t *acc, size_t n, uint32_t g0, const uint8_t *seeds, const int8_t *signs,
                      size_t k, const uint8_t *nonce) {
    pk_mask_uint32_avx2_impl(acc, n, g0, seeds, signs, k, nonce);
}
void pk_mask_u64_avx2(uint64_t *acc, size_t n, uint32_t g0, const uint8_t *seeds, const int8_t *signs,
                      size_t k, const uint8_t *nonce) {
    pk_mask_uint64_avx2_impl(acc, n, g0, seeds, signs, k, nonce);
}
#else
/* Not x86-64: this variant does not exist (ISO C forbids an empty unit). */
typedef int pk_mask_avx2_unused;
#endif
