/* Public entry points of the mask kernels: argument checks and ISA dispatch. */
#include "privkit.h"
#include "pk_internal.h"

int pk_abi_version(void) { return PK_ABI_VERSION; }

int pk_isa_available(int isa) {
    switch (isa) {
    case PK_ISA_PORTABLE:
        return 1;
#ifdef PK_HAVE_X86_VARIANTS
    case PK_ISA_AVX2:
        return __builtin_cpu_supports("avx2") ? 1 : 0;
    case PK_ISA_AVX512:
        return __builtin_cpu_supports("avx512f") ? 1 : 0;
#endif
    default:
        return 0;
    }
}

int pk_isa_best(void) {
    if (pk_isa_available(PK_ISA_AVX512)) return PK_ISA_AVX512;
    if (pk_isa_available(PK_ISA_AVX2)) return PK_ISA_AVX2;
    return PK_ISA_PORTABLE;
}

/* One 32-bit block-counter space: 2^32 blocks of 16 u32 words (or 8 u64). */
#define PK_MAX_U32 ((uint64_t)1 << 36)
#define PK_MAX_U64 ((uint64_t)1 << 35)

static int check_args(const void *acc, size_t n, uint64_t offset, uint64_t group,
                      const uint8_t *seeds, const int8_t *signs, size_t k,
                      const uint8_t *nonce, uint64_t max_n) {
    if (nonce == NULL) return PK_ERR_ARG;
    if (n != 0 && acc == NULL) return PK_ERR_ARG;
    if (k != 0 && (seeds == NULL || signs == NULL)) return PK_ERR_ARG;
    if (offset % group != 0) return PK_ERR_ARG;
    if ((uint64_t)n > max_n || offset > max_n - (uint64_t)n) return PK_ERR_RANGE;
    for (size_t s = 0; s < k; s++) {
        if (signs[s] != 1 && signs[s] != -1) return PK_ERR_ARG;
    }
    return PK_OK;
}

/* Check, pick the ISA variant, run.  acc is uint32_t* or uint64_t* per is64. */
static int mask_add(void *acc, size_t n, uint64_t offset, const uint8_t *seeds,
                    const int8_t *signs, size_t k, const uint8_t *nonce, int isa, int is64) {
    int rc = check_args(acc, n, offset, is64 ? PK_GROUP_U64 : PK_GROUP_U32, seeds, signs, k,
                        nonce, is64 ? PK_MAX_U64 : PK_MAX_U32);
    if (rc != PK_OK) return rc;
    if (!pk_isa_available(isa)) return PK_ERR_ISA;
    if (n == 0 || k == 0) return PK_OK;
    const uint32_t g0 = (uint32_t)(offset / (is64 ? PK_GROUP_U64 : PK_GROUP_U32));
    pk_mask_u32_fn fn32 = pk_mask_uint32_portable;
    pk_mask_u64_fn fn64 = pk_mask_uint64_portable;
#ifdef PK_HAVE_X86_VARIANTS
    if (isa == PK_ISA_AVX512) {
        fn32 = pk_mask_uint32_avx512;
        fn64 = pk_mask_uint64_avx512;
    } else if (isa == PK_ISA_AVX2) {
        fn32 = pk_mask_uint32_avx2;
        fn64 = pk_mask_uint64_avx2;
    }
#endif
    if (is64)
        fn64((uint64_t *)acc, n, g0, seeds, signs, k, nonce);
    else
        fn32((uint32_t *)acc, n, g0, seeds, signs, k, nonce);
    return PK_OK;
}

int pk_mask_add_u32(uint32_t *acc, size_t n, uint64_t offset, const uint8_t *seeds,
                    const int8_t *signs, size_t k, const uint8_t *nonce, int isa) {
    return mask_add(acc, n, offset, seeds, signs, k, nonce, isa, 0);
}

int pk_mask_add_u64(uint64_t *acc, size_t n, uint64_t offset, const uint8_t *seeds,
                    const int8_t *signs, size_t k, const uint8_t *nonce, int isa) {
    return mask_add(acc, n, offset, seeds, signs, k, nonce, isa, 1);
}
