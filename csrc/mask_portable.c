/* Mask kernel, portable variant: 4 lanes in 128-bit generic vectors (SSE2 on x86-64). */
#define PK_LANES 4
#define PK_TARGET
#define PK_SHUFFLE_ROT 0
#define PK_NAME(T) pk_mask_##T##_portable_impl
#include "mask_kernel.h"

void pk_mask_u32_portable(uint32_t *acc, size_t n, uint32_t g0, const uint8_t *seeds, const int8_t *signs,
                          size_t k, const uint8_t *nonce) {
    pk_mask_uint32_portable_impl(acc, n, g0, seeds, signs, k, nonce);
}
void pk_mask_u64_portable(uint64_t *acc, size_t n, uint32_t g0, const uint8_t *seeds, const int8_t *signs,
                          size_t k, const uint8_t *nonce) {
    pk_mask_uint64_portable_impl(acc, n, g0, seeds, signs, k, nonce);
}
