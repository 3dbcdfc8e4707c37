/* Mask kernel, AVX-512 variant: 16 lanes in 512-bit registers (vprold rotations). */
#include "pk_internal.h"
#ifdef PK_HAVE_X86_VARIANTS
#define PK_LANES 16
#define PK_TARGET __attribute__((target("avx512f")))
#define PK_SHUFFLE_ROT 0
#define PK_NAME(T) pk_mask_##T##_avx512_impl
#include "mask_kernel.h"

void pk_mask_u32_avx512(uint32_t *acc, size_t n, uint32_t g0, const uint8_t *seeds, const int8_t *signs,
                        size_t k, const uint8_t *nonce) {
    pk_mask_uint32_avx512_impl(acc, n, g0, seeds, signs, k, nonce);
}
void pk_mask_u64_avx512(uint64_t *acc, size_t n, uint32_t g0, const uint8_t *seeds, const int8_t *signs,
                        size_t k, const uint8_t *nonce) {
    pk_mask_uint64_avx512_impl(acc, n, g0, seeds, signs, k, nonce);
}
#else
typedef int pk_mask_avx512_unused;
#endif
