/*
 * ChaCha20 (RFC 8439), scalar: the block function and the byte-order keystream.
 *
 * This is the reference-shaped path used for the raw keystream API and for the
 * tails of the vectorised mask kernels.  It is constant-time by construction
 * (only additions, rotations and xors on secret data, no secret-dependent
 * branches or indices).
 */
#include <string.h>

#include "privkit.h"
#include "pk_internal.h"

static inline uint32_t rotl32(uint32_t x, int n) { return (x << n) | (x >> (32 - n)); }

static inline uint32_t load32_le(const uint8_t *p) {
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}

static inline void store32_le(uint8_t *p, uint32_t v) {
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

#define QR(a, b, c, d)                                                                         \
    do {                                                                                       \
        a += b; d ^= a; d = rotl32(d, 16);                                                     \
        c += d; b ^= c; b = rotl32(b, 12);                                                     \
        a += b; d ^= a; d = rotl32(d, 8);                                                      \
        c += d; b ^= c; b = rotl32(b, 7);                                                      \
    } while (0)

void pk_chacha20_setup(uint32_t state[16], const uint8_t *key, const uint8_t *nonce) {
    state[0] = PK_CHACHA_C0;
    state[1] = PK_CHACHA_C1;
    state[2] = PK_CHACHA_C2;
    state[3] = PK_CHACHA_C3;
    for (int i = 0; i < 8; i++) state[4 + i] = load32_le(key + 4 * i);
    state[12] = 0;
    for (int i = 0; i < 3; i++) state[13 + i] = load32_le(nonce + 4 * i);
}

void pk_chacha20_block_words(const uint32_t in[16], uint32_t out[16]) {
    uint32_t x[16];
    memcpy(x, in, sizeof(x));
    for (int r = 0; r < 10; r++) {
        QR(x[0], x[4], x[8], x[12]);
        QR(x[1], x[5], x[9], x[13]);
        QR(x[2], x[6], x[10], x[14]);
        QR(x[3], x[7], x[11], x[15]);
        QR(x[0], x[5], x[10], x[15]);
        QR(x[1], x[6], x[11], x[12]);
        QR(x[2], x[7], x[8], x[13]);
        QR(x[3], x[4], x[9], x[14]);
    }
    for (int i = 0; i < 16; i++) out[i] = x[i] + in[i];
}

int pk_chacha20_keystream(const uint8_t *key, const uint8_t *nonce, uint32_t counter,
                          uint8_t *out, size_t len) {
    if (key == NULL || nonce == NULL || (out == NULL && len != 0)) return PK_ERR_ARG;
    /* Blocks available from `counter` to the end of the 32-bit counter space. */
    const uint64_t blocks_left = ((uint64_t)1 << 32) - counter;
    if ((uint64_t)(len / 64) + (len % 64 != 0) > blocks_left) return PK_ERR_RANGE;
    uint32_t state[16], block[16];
    uint8_t bytes[64];
    pk_chacha20_setup(state, key, nonce);
    state[12] = counter;
    while (len > 0) {
        pk_chacha20_block_words(state, block);
        size_t take = len < 64 ? len : 64;
        if (take == 64) {
            for (int i = 0; i < 16; i++) store32_le(out + 4 * i, block[i]);
        } else {
            for (int i = 0; i < 16; i++) store32_le(bytes + 4 * i, block[i]);
            memcpy(out, bytes, take);
        }
        out += take;
        len -= take;
        state[12] += 1; /* cannot wrap while bytes remain: checked above */
    }
    /* Keystream is secret: do not leave copies on the stack. */
    pk_secure_zero(block, sizeof(block));
    pk_secure_zero(bytes, sizeof(bytes));
    pk_secure_zero(state, sizeof(state));
    return PK_OK;
}

void pk_secure_zero(void *p, size_t n) {
    volatile uint8_t *v = (volatile uint8_t *)p;
    while (n--) *v++ = 0;
}
