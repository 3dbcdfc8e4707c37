/* Mask kernel, AVX-512 variant: 16 lanes in 512-bit registers (vprold rotations). */
#include "pk_internal.h"
#ifdef PK_HAVE_X86_VARIANTS
#define PK_LANES 16
#define PK_TARGET __attribute__((target("avx512f")))
#define PK_SHUFFLE_ROT 0
#define PK_NAME(T) pk_mask_##T##_avx512
#include "mask_kernel.h"
#else
/* Not x86-64: this variant does not exist (ISO C forbids an empty unit). */
typedef int pk_mask_avx512_unused;
#endif
