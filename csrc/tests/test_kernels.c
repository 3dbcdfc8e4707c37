/*
 * Standalone tests of privkit's C kernels, built and run under
 * AddressSanitizer + UndefinedBehaviorSanitizer by tests/test_native_sanitizers.py.
 *
 * Usage: test_kernels [KEY NONCE COUNTER KEYSTREAM]...
 *   Each quadruple of hex/decimal arguments is a known-answer vector (the
 *   pytest driver passes the RFC 8439 vectors from tests/vectors/rfc8439.json).
 * Then it checks, for every available ISA, the mask kernels against a scalar
 * reference built on pk_chacha20_keystream, over many lengths (tails),
 * offsets, seed counts and signs, and the argument checks of the public API.
 * Every buffer is heap-allocated to its exact size so ASan sees overruns.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "privkit.h"

static int failures = 0;

#define CHECK(cond, ...)                                                                       \
    do {                                                                                       \
        if (!(cond)) {                                                                         \
            failures++;                                                                        \
            fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__);                               \
            fprintf(stderr, __VA_ARGS__);                                                      \
            fprintf(stderr, "\n");                                                             \
        }                                                                                      \
    } while (0)

/* xorshift64*: deterministic test data, not for anything secret. */
static uint64_t rng_state = 0x9E3779B97F4A7C15ull;
static uint64_t rnd(void) {
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 0x2545F4914F6CDD1Dull;
}

static size_t unhex(const char *hex, uint8_t **out) {
    size_t len = strlen(hex) / 2;
    uint8_t *buf = malloc(len ? len : 1);
    for (size_t i = 0; i < len; i++) {
        unsigned v;
        sscanf(hex + 2 * i, "%2x", &v);
        buf[i] = (uint8_t)v;
    }
    *out = buf;
    return len;
}

static void test_vector(const char *key_hex, const char *nonce_hex, const char *ctr,
                        const char *ks_hex) {
    uint8_t *key, *nonce, *expect;
    size_t klen = unhex(key_hex, &key), nlen = unhex(nonce_hex, &nonce);
    size_t len = unhex(ks_hex, &expect);
    CHECK(klen == 32 && nlen == 12, "vector sizes");
    uint8_t *got = malloc(len);
    int rc = pk_chacha20_keystream(key, nonce, (uint32_t)strtoul(ctr, NULL, 10), got, len);
    CHECK(rc == PK_OK && memcmp(got, expect, len) == 0, "known-answer vector counter=%s", ctr);
    /* Every prefix length, to cover partial final blocks. */
    for (size_t cut = 0; cut <= len; cut += 7) {
        uint8_t *part = malloc(cut ? cut : 1);
        rc = pk_chacha20_keystream(key, nonce, (uint32_t)strtoul(ctr, NULL, 10), part, cut);
        CHECK(rc == PK_OK && memcmp(part, expect, cut) == 0, "prefix %zu", cut);
        free(part);
    }
    free(key), free(nonce), free(expect), free(got);
}

/* The mask word order from docs/native.md, computed from the RFC-order keystream. */
static void reference_mask(int is64, void *acc, size_t n, uint64_t offset, const uint8_t *seed,
                           int sign, const uint8_t *nonce) {
    size_t per_group = is64 ? 128 : 256;
    uint64_t g_first = offset / per_group;
    uint64_t g_last = (offset + n + per_group - 1) / per_group;
    uint8_t *ks = malloc(1024);
    for (uint64_t g = g_first; g < g_last; g++) {
        pk_chacha20_keystream(seed, nonce, (uint32_t)(g * 16), ks, 1024);
        for (size_t p = 0; p < per_group; p++) {
            uint64_t e = g * per_group + p;
            if (e < offset || e >= offset + n) continue;
            size_t i = p / 16, j = p % 16;
            uint32_t lo, hi;
            memcpy(&lo, ks + 64 * j + 4 * i, 4);
            if (is64) {
                memcpy(&hi, ks + 64 * j + 4 * (i + 8), 4);
                uint64_t v = (uint64_t)lo | ((uint64_t)hi << 32);
                uint64_t *a = (uint64_t *)acc + (e - offset);
                *a = sign > 0 ? *a + v : *a - v;
            } else {
                uint32_t *a = (uint32_t *)acc + (e - offset);
                *a = sign > 0 ? *a + lo : *a - lo;
            }
        }
    }
    free(ks);
}

static void test_mask(int isa, int is64, size_t n, uint64_t offset, size_t k) {
    size_t width = is64 ? 8 : 4;
    uint8_t *seeds = malloc(32 * k + 1);
    int8_t *signs = malloc(k + 1);
    uint8_t nonce[12];
    for (size_t i = 0; i < 32 * k; i++) seeds[i] = (uint8_t)rnd();
    for (size_t i = 0; i < k; i++) signs[i] = (rnd() & 1) ? 1 : -1;
    for (size_t i = 0; i < 12; i++) nonce[i] = (uint8_t)rnd();
    void *got = malloc(n * width + 1), *want = malloc(n * width + 1);
    for (size_t i = 0; i < n * width; i++) ((uint8_t *)got)[i] = (uint8_t)rnd();
    memcpy(want, got, n * width);
    for (size_t s = 0; s < k; s++) reference_mask(is64, want, n, offset, seeds + 32 * s, signs[s], nonce);
    int rc = is64 ? pk_mask_add_u64(got, n, offset, seeds, signs, k, nonce, isa)
                  : pk_mask_add_u32(got, n, offset, seeds, signs, k, nonce, isa);
    CHECK(rc == PK_OK, "mask rc=%d", rc);
    CHECK(memcmp(got, want, n * width) == 0, "mask isa=%d u%d n=%zu offset=%llu k=%zu", isa,
          is64 ? 64 : 32, n, (unsigned long long)offset, k);
    free(seeds), free(signs), free(got), free(want);
}

static void test_arguments(void) {
    uint32_t acc[4] = {0};
    uint64_t acc64[4] = {0};
    uint8_t seed[32] = {0}, nonce[12] = {0}, out[8];
    int8_t plus = 1, bad = 0;
    CHECK(pk_abi_version() == PK_ABI_VERSION, "abi");
    CHECK(pk_isa_available(PK_ISA_PORTABLE) == 1, "portable always available");
    CHECK(pk_isa_available(99) == 0 && pk_isa_available(-1) == 0, "unknown isa");
    CHECK(pk_isa_available(pk_isa_best()) == 1, "best is available");
    CHECK(pk_chacha20_keystream(NULL, nonce, 0, out, 8) == PK_ERR_ARG, "null key");
    CHECK(pk_chacha20_keystream(seed, NULL, 0, out, 8) == PK_ERR_ARG, "null nonce");
    CHECK(pk_chacha20_keystream(seed, nonce, 0, NULL, 8) == PK_ERR_ARG, "null out");
    CHECK(pk_chacha20_keystream(seed, nonce, 0, NULL, 0) == PK_OK, "empty");
    CHECK(pk_chacha20_keystream(seed, nonce, UINT32_MAX, out, 8) == PK_OK, "last block");
    {
        uint8_t two[65];
        CHECK(pk_chacha20_keystream(seed, nonce, UINT32_MAX, two, 65) == PK_ERR_RANGE,
              "counter wrap refused");
    }
    CHECK(pk_mask_add_u32(acc, 4, 0, seed, &bad, 1, nonce, 0) == PK_ERR_ARG, "sign 0");
    CHECK(pk_mask_add_u32(NULL, 4, 0, seed, &plus, 1, nonce, 0) == PK_ERR_ARG, "null acc");
    CHECK(pk_mask_add_u32(acc, 4, 0, NULL, &plus, 1, nonce, 0) == PK_ERR_ARG, "null seeds");
    CHECK(pk_mask_add_u32(acc, 4, 0, seed, &plus, 1, NULL, 0) == PK_ERR_ARG, "null nonce");
    CHECK(pk_mask_add_u32(acc, 4, 3, seed, &plus, 1, nonce, 0) == PK_ERR_ARG, "unaligned offset");
    CHECK(pk_mask_add_u64(acc64, 4, 64, seed, &plus, 1, nonce, 0) == PK_ERR_ARG, "u64 offset");
    CHECK(pk_mask_add_u32(acc, 4, (uint64_t)1 << 36, seed, &plus, 1, nonce, 0) == PK_ERR_RANGE,
          "past the counter space");
    CHECK(pk_mask_add_u32(acc, 4, UINT64_MAX - 255, seed, &plus, 1, nonce, 0) == PK_ERR_RANGE,
          "offset overflow");
    CHECK(pk_mask_add_u32(acc, 4, 0, seed, &plus, 1, nonce, 99) == PK_ERR_ISA, "bad isa");
    CHECK(pk_mask_add_u32(NULL, 0, 0, NULL, NULL, 0, nonce, 0) == PK_OK, "empty mask");
    /* The last group of the counter space is reachable and stays in range. */
    CHECK(pk_mask_add_u32(acc, 4, ((uint64_t)1 << 36) - 256, seed, &plus, 1, nonce, 0) == PK_OK,
          "last group");
}

int main(int argc, char **argv) {
    for (int a = 1; a + 3 < argc; a += 4) test_vector(argv[a], argv[a + 1], argv[a + 2], argv[a + 3]);
    test_arguments();
    static const size_t lengths[] = {0, 1, 2, 15, 16, 17, 127, 128, 129, 255, 256, 257,
                                     511, 4095, 4096, 4097, 8192 + 300, 70001};
    int isas[3], n_isa = 0;
    for (int isa = PK_ISA_PORTABLE; isa <= PK_ISA_AVX512; isa++)
        if (pk_isa_available(isa)) isas[n_isa++] = isa;
    for (int ii = 0; ii < n_isa; ii++) {
        for (int is64 = 0; is64 <= 1; is64++) {
            for (size_t li = 0; li < sizeof(lengths) / sizeof(lengths[0]); li++) {
                size_t group = is64 ? 128 : 256;
                test_mask(isas[ii], is64, lengths[li], 0, 1 + (size_t)(rnd() % 4));
                test_mask(isas[ii], is64, lengths[li], group * (1 + rnd() % 40), 2);
            }
            test_mask(isas[ii], is64, 5000, 0, 0);
            test_mask(isas[ii], is64, 3000, 0, 37);
        }
    }
    printf("isas tested: %d\n", n_isa);
    printf("%d failures\n", failures);
    return failures == 0 ? 0 : 1;
}
