/* Mask kernel, AVX2 variant: 8 lanes in 256-bit registers, byte-shuffle rotations. */
#include "pk_internal.h"
#ifdef PK_HAVE_X86_VARIANTS
#define PK_LANES 8
#define PK_TARGET __attribute__((target("avx2")))
#define PK_SHUFFLE_ROT 1
#define PK_NAME(T) pk_mask_##T##_avx2
#include "mask_kernel.h"
#else
/* Not x86-64: this variant does not exist (ISO C forbids an empty unit). */
typedef int pk_mask_avx2_unused;
#endif
