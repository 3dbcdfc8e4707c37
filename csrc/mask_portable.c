/* Mask kernel, portable variant: 4 lanes in 128-bit generic vectors (SSE2 on x86-64). */
#define PK_LANES 4
#define PK_TARGET 
#define PK_SHUFFLE_ROT 0
#define PK_NAME(T) pk_mask_##T##_portable
#include "mask_kernel.h"
