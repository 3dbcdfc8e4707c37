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
 * Then the GF(2^61 - 1) field kernels against a slow reference (products
 * reduced with the compiler's 128-bit %, powers computed one by one), for
 * random sizes, edge values and all-(p-1) inputs, and their argument checks.
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

/* ------------------------------------------------------------------ GF(2^61 - 1) */

#define FP ((uint64_t)PK_FIELD_PRIME)
__extension__ typedef unsigned __int128 u128;

/* The slow reference: exact products reduced with %, no Mersenne tricks. */
static uint64_t ref_mul(uint64_t a, uint64_t b) { return (uint64_t)(((u128)a * b) % FP); }
static uint64_t ref_add(uint64_t a, uint64_t b) { return (uint64_t)(((u128)a + b) % FP); }

static const uint64_t field_edges[] = {0, 1, 2, FP - 1, FP - 2, (uint64_t)1 << 60,
                                       ((uint64_t)1 << 60) - 1, (uint64_t)1 << 32, 12345};

/* kind 0: uniform, 1: edge values, 2: all p-1, 3: all zero. */
static uint64_t *field_buf(size_t n, int kind) {
    uint64_t *v = malloc(n ? n * sizeof(uint64_t) : 1);
    for (size_t i = 0; i < n; i++) {
        switch (kind) {
        case 0: v[i] = rnd() % FP; break;
        case 1: v[i] = field_edges[rnd() % (sizeof(field_edges) / sizeof(field_edges[0]))]; break;
        case 2: v[i] = FP - 1; break;
        default: v[i] = 0;
        }
    }
    return v;
}

static void test_field_poly_eval(size_t t, size_t m, size_t n, int kc, int kx) {
    uint64_t *coeffs = field_buf(t * m, kc), *xs = field_buf(n, kx);
    uint64_t *out = field_buf(n * m, 0);
    int rc = pk_field_poly_eval(coeffs, t, m, xs, n, out);
    CHECK(rc == PK_OK, "poly_eval rc=%d", rc);
    int bad = 0;
    for (size_t j = 0; j < n; j++) {
        for (size_t c = 0; c < m; c++) {
            uint64_t want = 0, power = 1;
            for (size_t k = 0; k < t; k++) {
                want = ref_add(want, ref_mul(coeffs[k * m + c], power));
                power = ref_mul(power, xs[j]);
            }
            bad |= out[j * m + c] != want;
        }
    }
    CHECK(!bad, "poly_eval t=%zu m=%zu n=%zu kinds=%d,%d", t, m, n, kc, kx);
    free(coeffs), free(xs), free(out);
}

static void test_field_matmul(size_t r, size_t t, size_t m, int kw, int kr) {
    uint64_t *w = field_buf(r * t, kw), *rows = field_buf(t * m, kr);
    uint64_t *out = field_buf(r * m, 0);
    int rc = pk_field_matmul(w, r, rows, t, m, out);
    CHECK(rc == PK_OK, "matmul rc=%d", rc);
    int bad = 0;
    for (size_t q = 0; q < r; q++) {
        for (size_t c = 0; c < m; c++) {
            uint64_t want = 0;
            for (size_t i = 0; i < t; i++) want = ref_add(want, ref_mul(w[q * t + i], rows[i * m + c]));
            bad |= out[q * m + c] != want;
        }
    }
    CHECK(!bad, "matmul r=%zu t=%zu m=%zu kinds=%d,%d", r, t, m, kw, kr);
    if (r == 1) {
        uint64_t *out2 = field_buf(m, 0);
        CHECK(pk_field_lincomb(rows, w, t, m, out2) == PK_OK, "lincomb rc");
        CHECK(m == 0 || memcmp(out, out2, m * sizeof(uint64_t)) == 0, "lincomb = matmul r=1");
        free(out2);
    }
    free(w), free(rows), free(out);
}

static void test_field_arguments(void) {
    uint64_t a[4] = {1, 2, 3, 4}, x[2] = {1, 2}, out[4] = {9, 9, 9, 9};
    const uint64_t nine[4] = {9, 9, 9, 9};
    CHECK(pk_field_poly_eval(NULL, 0, 0, NULL, 0, NULL) == PK_OK, "empty poly_eval");
    CHECK(pk_field_matmul(NULL, 0, NULL, 0, 0, NULL) == PK_OK, "empty matmul");
    CHECK(pk_field_poly_eval(NULL, 2, 2, x, 2, out) == PK_ERR_ARG, "null coeffs");
    CHECK(pk_field_poly_eval(a, 2, 2, NULL, 2, out) == PK_ERR_ARG, "null xs");
    CHECK(pk_field_poly_eval(a, 2, 2, x, 2, NULL) == PK_ERR_ARG, "null out");
    CHECK(pk_field_lincomb(NULL, x, 2, 2, out) == PK_ERR_ARG, "null rows");
    CHECK(pk_field_lincomb(a, NULL, 2, 2, out) == PK_ERR_ARG, "null weights");
    CHECK(pk_field_poly_eval(a, 2, 2, x, 2, a) == PK_ERR_ARG, "out overlaps coeffs");
    CHECK(pk_field_poly_eval(x, 1, 2, a + 2, 2, a) == PK_ERR_ARG, "out overlaps xs");
    CHECK(pk_field_matmul(a, 1, a, 2, 2, a + 2) == PK_ERR_ARG, "out overlaps rows");
    CHECK(pk_field_poly_eval(a, SIZE_MAX / 2, 4, x, 2, out) == PK_ERR_RANGE, "t*m overflow");
    CHECK(pk_field_poly_eval(a, 1, 2, x, SIZE_MAX / 4, out) == PK_ERR_RANGE, "n*m overflow");
    CHECK(pk_field_matmul(a, SIZE_MAX / 8 + 1, a, 1, 1, out) == PK_ERR_RANGE, "r*t bytes overflow");
    /* Zero sizes with null pointers are fine; t = 0 gives zeros. */
    CHECK(pk_field_poly_eval(NULL, 0, 2, x, 2, out) == PK_OK && out[0] == 0 && out[3] == 0,
          "t = 0 gives zeros");
    /* Out-of-range elements: PK_ERR_RANGE and nothing written. */
    uint64_t big[4] = {1, FP, 3, 4}, xbad[2] = {1, UINT64_MAX};
    memcpy(out, nine, sizeof(out));
    CHECK(pk_field_poly_eval(big, 2, 2, x, 2, out) == PK_ERR_RANGE, "coeff = p");
    CHECK(pk_field_poly_eval(a, 2, 2, xbad, 2, out) == PK_ERR_RANGE, "x = 2^64 - 1");
    CHECK(pk_field_lincomb(big, x, 2, 2, out) == PK_ERR_RANGE, "row = p");
    CHECK(pk_field_lincomb(a, xbad, 2, 2, out) == PK_ERR_RANGE, "weight = 2^64 - 1");
    CHECK(memcmp(out, nine, sizeof(out)) == 0, "nothing written on error");
}

static void test_field(void) {
    test_field_arguments();
    static const size_t ms[] = {0, 1, 2, 63, 64, 65, 129, 300};
    for (size_t mi = 0; mi < sizeof(ms) / sizeof(ms[0]); mi++) {
        for (size_t t = 0; t <= 9; t++) {
            test_field_poly_eval(t, ms[mi], 1 + t % 4, (int)(rnd() % 4), (int)(rnd() % 4));
            test_field_matmul(1 + t % 3, t, ms[mi], (int)(rnd() % 4), (int)(rnd() % 4));
        }
        test_field_poly_eval(3, ms[mi], 0, 0, 0);
        /* Many rows: the 32-product lazy reduction blocks, at their worst (all p-1). */
        test_field_matmul(2, 31, ms[mi], 2, 2);
        test_field_matmul(2, 65, ms[mi], 2, 2);
        test_field_matmul(1, 200, ms[mi], 2, 2);
        test_field_matmul(3, 97, ms[mi], 0, 1);
        test_field_poly_eval(60, ms[mi], 5, 2, 2);
        test_field_poly_eval(51, ms[mi], 7, 0, 1);
    }
    for (int i = 0; i < 40; i++)
        test_field_poly_eval(rnd() % 12, rnd() % 150, rnd() % 6, (int)(rnd() % 4), (int)(rnd() % 4));
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
    test_field();
    printf("isas tested: %d\n", n_isa);
    printf("%d failures\n", failures);
    return failures == 0 ? 0 : 1;
}
