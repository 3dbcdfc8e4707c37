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

/* ------------------------------------------------------------------ ristretto255 */
/*
 * csrc/ristretto.c is included here (not linked) so the white-box checks below
 * can reach its static field and scalar routines.  Keep it out of the harness's
 * source list (tests/test_native_sanitizers.py), or its symbols would be defined twice.
 */
#include "../ristretto.c"

/* RFC 9496 Appendix A.1 (k * generator, k = 0..15) and A.2 (invalid encodings). */
static const char *const r255_multiples[16] = {
    "0000000000000000000000000000000000000000000000000000000000000000",
    "e2f2ae0a6abc4e71a884a961c500515f58e30b6aa582dd8db6a65945e08d2d76",
    "6a493210f7499cd17fecb510ae0cea23a110e8d5b901f8acadd3095c73a3b919",
    "94741f5d5d52755ece4f23f044ee27d5d1ea1e2bd196b462166b16152a9d0259",
    "da80862773358b466ffadfe0b3293ab3d9fd53c5ea6c955358f568322daf6a57",
    "e882b131016b52c1d3337080187cf768423efccbb517bb495ab812c4160ff44e",
    "f64746d3c92b13050ed8d80236a7f0007c3b3f962f5ba793d19a601ebb1df403",
    "44f53520926ec81fbd5a387845beb7df85a96a24ece18738bdcfa6a7822a176d",
    "903293d8f2287ebe10e2374dc1a53e0bc887e592699f02d077d5263cdd55601c",
    "02622ace8f7303a31cafc63f8fc48fdc16e1c8c8d234b2f0d6685282a9076031",
    "20706fd788b2720a1ed2a5dad4952b01f413bcf0e7564de8cdc816689e2db95f",
    "bce83f8ba5dd2fa572864c24ba1810f9522bc6004afe95877ac73241cafdab42",
    "e4549ee16b9aa03099ca208c67adafcafa4c3f3e4e5303de6026e3ca8ff84460",
    "aa52e000df2e16f55fb1032fc33bc42742dad6bd5a8fc0be0167436c5948501f",
    "46376b80f409b29dc2b5f6f0c52591990896e5716f41477cd30085ab7f10301e",
    "e0c418f7c8d9c4cdd7395b93ea124f3ad99021bb681dfc3302a9d99a2e53e64e"};
static const char *const r255_invalid[] = {
    "00ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",
    "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
    "f3ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
    "edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
    "0100000000000000000000000000000000000000000000000000000000000000",
    "01ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
    "ed57ffd8c914fb201471d1c3d245ce3c746fcbe63a3679d51b6a516ebebe0e20",
    "c34c4e1826e5d403b78e246e88aa051c36ccf0aafebffe137d148a2bf9104562",
    "c940e5a4404157cfb1628b108db051a8d439e1a421394ec4ebccb9ec92a8ac78",
    "47cfc5497c53dc8e61c91d17fd626ffb1c49e2bca94eed052281b510b1117a24",
    "f1c6165d33367351b0da8f6e4511010c68174a03b6581212c71c0e1d026c3c72",
    "87260f7a2f12495118360f02c26a470f450dadf34a413d21042b43b9d93e1309",
    "26948d35ca62e643e26a83177332e6b6afeb9d08e4268b650f1f5bbd8d81d371",
    "4eac077a713c57b4f4397629a4145982c661f48044dd3f96427d40b147d9742f",
    "de6a7b00deadc788eb6b6c8d20c0ae96c2f2019078fa604fee5b87d6e989ad7b",
    "bcab477be20861e01e4a0e295284146a510150d9817763caf1a6f4b422d67042",
    "2a292df7e32cababbd9de088d1d1abec9fc0440f637ed2fba145094dc14bea08",
    "f4a9e534fc0d216c44b218fa0c42d99635a0127ee2e53c712f70609649fdff22",
    "8268436f8c4126196cf64b3c7ddbda90746a378625f9813dd9b8457077256731",
    "2810e5cbc2cc4d4eece54f61c6f69758e289aa7ab440b3cbeaa21995c2f4232b",
    "3eb858e78f5a7254d8c9731174a94f76755fd3941c0ac93735c07ba14579630e",
    "a45fdc55c76448c049a1ab33f17023edfb2be3581e9c7aade8a6125215e04220",
    "d483fe813c6ba647ebbfd3ec41adca1c6130c2beeee9d9bf065c8d151c5f396e",
    "8a2e1d30050198c65a54483123960ccc38aef6848e1ec8f5f780e8523769ba32",
    "32888462f8b486c68ad7dd9610be5192bbeaf3b443951ac1a8118419d9fa097b",
    "227142501b9d4355ccba290404bde41575b037693cef1f438c47f8fbf35d1165",
    "5c37cc491da847cfeb9281d407efc41e15144c876e0170b499a96a22ed31e01e",
    "445425117cb8c90edcbc7c1cc0e74f747f2c1efa5630a967c64f287792a48a4b",
    "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f"};

static void hex32(const char *hex, uint8_t out[32]) {
    for (int i = 0; i < 32; i++) {
        unsigned v = 0;
        for (int k = 0; k < 2; k++) {
            char c = hex[2 * i + k];
            v = v * 16 + (unsigned)(c <= '9' ? c - '0' : c - 'a' + 10);
        }
        out[i] = (uint8_t)v;
    }
}

static void rnd_bytes(uint8_t *out, size_t n) {
    for (size_t i = 0; i < n; i++) out[i] = (uint8_t)rnd();
}

static void rnd_scalar(uint8_t out[32]) {
    uint8_t wide[64];
    rnd_bytes(wide, 64);
    CHECK(pk_r255_scalar_reduce(wide, 64, out) == PK_OK, "scalar reduce 64");
}

static int point_eq(const uint8_t *a, const uint8_t *b) {
    int eq = -1;
    CHECK(pk_r255_equal(a, b, &eq) == PK_OK, "equal rc");
    return eq == 1;
}

static void test_r255_field(void) {
    for (int it = 0; it < 200; it++) {
        uint8_t bytes[32];
        rnd_bytes(bytes, 32);
        fe a, b, c, d;
        fe_frombytes(a, bytes);
        fe_sq(b, a);
        fe_mul(c, a, a);
        CHECK(fe_eq_mask(b, c) == ~(uint64_t)0, "square equals product");
        fe_invert(b, a);
        fe_mul(c, a, b);
        CHECK(fe_eq_mask(c, FE_ONE) == ~(uint64_t)0 || fe_is_zero_mask(a), "a * 1/a = 1");
        fe_sub(d, a, a);
        CHECK(fe_is_zero_mask(d) == ~(uint64_t)0, "a - a = 0");
        fe_add(d, a, b);
        fe_sub(d, d, b);
        CHECK(fe_eq_mask(d, a) == ~(uint64_t)0, "(a + b) - b = a");
        /* sqrt_ratio_m1(a^2, 1) finds the non-negative root. */
        fe_sq(b, a);
        uint64_t sq = fe_sqrt_ratio_m1(c, b, FE_ONE);
        fe_abs(d, a);
        CHECK(sq == ~(uint64_t)0 && fe_eq_mask(c, d) == ~(uint64_t)0, "sqrt of a square");
    }
    /* Canonical encoding of values >= p: p, p + 1, 2^255 - 1 reduce to 0, 1, 18. */
    uint8_t in[32], out[32];
    fe a;
    memset(in, 0xff, 32);
    in[0] = 0xed;
    in[31] = 0x7f;
    fe_frombytes(a, in);
    fe_tobytes(out, a);
    CHECK(out[0] == 0 && out[31] == 0, "p encodes as 0");
    in[0] = 0xee;
    fe_frombytes(a, in);
    fe_tobytes(out, a);
    CHECK(out[0] == 1 && out[1] == 0, "p + 1 encodes as 1");
    in[0] = 0xff;
    fe_frombytes(a, in);
    fe_tobytes(out, a);
    CHECK(out[0] == 18 && out[31] == 0, "2^255 - 1 encodes as 18");
    /* sqrt(-1)^2 = -1 and SQRT_RATIO_M1 of a non-square reports it. */
    fe m1, b;
    fe_sq(b, FE_SQRT_M1);
    fe_neg(m1, FE_ONE);
    CHECK(fe_eq_mask(b, m1) == ~(uint64_t)0, "SQRT_M1^2 = -1");
    fe two = {2, 0, 0, 0, 0};
    CHECK(fe_sqrt_ratio_m1(b, two, FE_ONE) == 0, "2 is not a square mod p");
}

static void test_r255_scalars(void) {
    uint8_t a[32], b[32], c[32], d[32], wide[64];
    static const uint8_t zero[32] = {0};
    uint8_t one[32] = {1};
    uint8_t l[32], exp[32];
    sc_store(l, SC_L);
    CHECK(pk_r255_scalar_check(l) == PK_ERR_RANGE, "l is not canonical");
    l[0]--;
    CHECK(pk_r255_scalar_check(l) == PK_OK, "l - 1 is canonical");
    CHECK(pk_r255_scalar_op(PK_R255_SC_ADD, l, one, c) == PK_OK && memcmp(c, zero, 32) == 0,
          "(l - 1) + 1 = 0");
    CHECK(pk_r255_scalar_op(PK_R255_SC_SUB, zero, one, c) == PK_OK && memcmp(c, l, 32) == 0,
          "0 - 1 = l - 1");
    CHECK(pk_r255_scalar_op(PK_R255_SC_MUL, l, l, c) == PK_OK && memcmp(c, one, 32) == 0,
          "(l - 1)^2 = 1");
    CHECK(pk_r255_scalar_op(PK_R255_SC_INV, zero, NULL, c) == PK_ERR_RANGE, "1/0 refused");
    memset(wide, 0xff, 64);
    hex32("000f9c44e31106a447938568a71b0ed065bef517d273ecce3d9a307c1b419903", exp);
    CHECK(pk_r255_scalar_reduce(wide, 64, c) == PK_OK && memcmp(c, exp, 32) == 0,
          "(2^512 - 1) mod l");
    hex32("1c95988d7431ecd670cf7d73f45befc6feffffffffffffffffffffffffffff0f", exp);
    CHECK(pk_r255_scalar_reduce(wide, 32, c) == PK_OK && memcmp(c, exp, 32) == 0,
          "(2^256 - 1) mod l");
    CHECK(pk_r255_scalar_reduce(wide, 33, c) == PK_ERR_RANGE, "reduce length 33");
    memset(a, 0xff, 32);
    CHECK(pk_r255_scalar_op(PK_R255_SC_ADD, a, one, c) == PK_ERR_RANGE, "non-canonical operand");
    for (int it = 0; it < 100; it++) {
        rnd_scalar(a);
        rnd_scalar(b);
        CHECK(pk_r255_scalar_op(PK_R255_SC_MUL, a, b, c) == PK_OK, "mul");
        CHECK(pk_r255_scalar_op(PK_R255_SC_INV, b, NULL, d) == PK_OK, "inv");
        CHECK(pk_r255_scalar_op(PK_R255_SC_MUL, c, d, c) == PK_OK, "mul by inverse");
        CHECK(memcmp(c, a, 32) == 0, "(a b) / b = a");
        CHECK(pk_r255_scalar_op(PK_R255_SC_NEG, a, NULL, d) == PK_OK, "neg");
        CHECK(pk_r255_scalar_op(PK_R255_SC_ADD, a, d, c) == PK_OK && memcmp(c, zero, 32) == 0,
              "a + (-a) = 0");
        CHECK(pk_r255_scalar_op(PK_R255_SC_SUB, a, b, c) == PK_OK, "sub");
        CHECK(pk_r255_scalar_op(PK_R255_SC_ADD, c, b, c) == PK_OK && memcmp(c, a, 32) == 0,
              "(a - b) + b = a");
    }
}

static void test_r255_points(void) {
    uint8_t g[160], acc[160], p[160], q[160], enc[32], exp[32], k[32] = {0};
    CHECK(pk_r255_generator(g) == PK_OK && pk_r255_identity(acc) == PK_OK, "constants");
    for (int i = 0; i < 16; i++) {
        hex32(r255_multiples[i], exp);
        CHECK(pk_r255_encode(acc, enc) == PK_OK && memcmp(enc, exp, 32) == 0, "k * B by adds");
        CHECK(pk_r255_decode(exp, p) == PK_OK && point_eq(p, acc), "decode k * B");
        k[0] = (uint8_t)i;
        CHECK(pk_r255_scalarmult_base(k, q) == PK_OK && pk_r255_encode(q, enc) == PK_OK &&
                  memcmp(enc, exp, 32) == 0, "k * B fixed base");
        CHECK(pk_r255_scalarmult(k, g, q) == PK_OK && pk_r255_encode(q, enc) == PK_OK &&
                  memcmp(enc, exp, 32) == 0, "k * B variable base");
        CHECK(pk_r255_add(acc, g, acc) == PK_OK, "add");
    }
    for (size_t i = 0; i < sizeof(r255_invalid) / sizeof(r255_invalid[0]); i++) {
        hex32(r255_invalid[i], exp);
        CHECK(pk_r255_decode(exp, p) == PK_ERR_RANGE, "invalid encoding rejected");
    }
    /* Random points: group laws and the round trip through the encoding. */
    for (int it = 0; it < 20; it++) {
        uint8_t u[64], a[32], b[32], ab[32], r1[160], r2[160];
        rnd_bytes(u, 64);
        CHECK(pk_r255_from_uniform(u, p) == PK_OK, "from_uniform");
        CHECK(pk_r255_encode(p, enc) == PK_OK && pk_r255_decode(enc, q) == PK_OK &&
                  point_eq(p, q), "encode/decode round trip");
        rnd_scalar(a);
        rnd_scalar(b);
        CHECK(pk_r255_scalar_op(PK_R255_SC_MUL, a, b, ab) == PK_OK, "mul");
        CHECK(pk_r255_scalarmult(a, p, r1) == PK_OK && pk_r255_scalarmult(b, r1, r1) == PK_OK,
              "b (a P)");
        CHECK(pk_r255_scalarmult(ab, p, r2) == PK_OK && point_eq(r1, r2), "b (a P) = (ab) P");
        CHECK(pk_r255_scalarmult_base(a, r1) == PK_OK && pk_r255_scalarmult(a, g, r2) == PK_OK &&
                  point_eq(r1, r2), "fixed base = variable base");
        CHECK(pk_r255_neg(p, q) == PK_OK && pk_r255_add(p, q, r1) == PK_OK &&
                  pk_r255_identity(r2) == PK_OK && point_eq(r1, r2), "P + (-P) = 0");
        CHECK(pk_r255_sub(p, p, r1) == PK_OK && point_eq(r1, r2), "P - P = 0");
        CHECK(!point_eq(p, g) || it > 100, "random point is not the generator");
    }
    /* Arguments. */
    CHECK(pk_r255_decode(NULL, p) == PK_ERR_ARG && pk_r255_encode(g, NULL) == PK_ERR_ARG,
          "null point arguments");
    CHECK(pk_r255_scalarmult(NULL, g, p) == PK_ERR_ARG, "null scalar");
}

static void test_r255_msm_case(size_t n, int small) {
    uint8_t *pts = malloc(n * 160 + 1), *sc = malloc(n * 32 + 1);
    int32_t *vals = malloc(n * sizeof(int32_t) + 4);
    uint64_t *prep = malloc(n * PK_R255_PREPARED_WORDS * sizeof(uint64_t) + 8);
    uint8_t ref[160], term[160], got[160];
    CHECK(pts && sc && vals && prep, "alloc");
    if (!pts || !sc || !vals || !prep) return;
    static const int32_t edges[] = {0, 1, -1, INT32_MAX, INT32_MIN, 32767, -32768, 65536};
    pk_r255_identity(ref);
    for (size_t i = 0; i < n; i++) {
        uint8_t u[64];
        rnd_bytes(u, 64);
        if (i > 0 && i % 5 == 0)
            memcpy(pts + 160 * i, pts + 160 * (i - 1), 160); /* repeated point */
        else if (i > 0 && i % 7 == 0)
            pk_r255_neg(pts + 160 * (i - 1), pts + 160 * i); /* P and -P */
        else
            pk_r255_from_uniform(u, pts + 160 * i);
        if (small) {
            vals[i] = (i % 3 == 0) ? edges[rnd() % 8] : (int32_t)(int16_t)rnd();
            uint8_t s[32];
            int64_t v = vals[i];
            uint64_t m = (uint64_t)(v < 0 ? -v : v);
            memset(s, 0, 32);
            for (int b = 0; b < 8; b++) s[b] = (uint8_t)(m >> (8 * b));
            pk_r255_scalarmult(s, pts + 160 * i, term);
            if (v < 0) pk_r255_neg(term, term);
        } else {
            if (i % 4 == 1) { /* edge scalars: 0, l - 1, 2^252 */
                memset(sc + 32 * i, 0, 32);
                if (rnd() % 2) sc_store(sc + 32 * i, SC_L), sc[32 * i] = (uint8_t)(sc[32 * i] - 1);
            } else {
                rnd_scalar(sc + 32 * i);
            }
            pk_r255_scalarmult(sc + 32 * i, pts + 160 * i, term);
        }
        pk_r255_add(ref, term, ref);
    }
    CHECK(pk_r255_prepare(pts, n, prep) == PK_OK, "prepare");
    int rc = small ? pk_r255_msm_small(vals, prep, n, got) : pk_r255_msm(sc, prep, n, got);
    CHECK(rc == PK_OK && point_eq(got, ref), small ? "msm_small = sum" : "msm = sum");
    free(pts);
    free(sc);
    free(vals);
    free(prep);
}

static void test_r255_batch(size_t n) {
    uint8_t *u = malloc(64 * n + 1), pt[160], back[160];
    uint64_t *tab = malloc(n * PK_R255_PREPARED_WORDS * sizeof(uint64_t) + 8);
    uint64_t one[PK_R255_PREPARED_WORDS];
    CHECK(u && tab, "alloc");
    if (!u || !tab) return;
    rnd_bytes(u, 64 * n);
    CHECK(pk_r255_from_uniform_batch(u, n, tab) == PK_OK, "from_uniform_batch");
    for (size_t i = 0; i < n; i++) {
        CHECK(pk_r255_from_uniform(u + 64 * i, pt) == PK_OK && pk_r255_prepare(pt, 1, one) == PK_OK,
              "single map");
        CHECK(pk_r255_unprepare(tab + PK_R255_PREPARED_WORDS * i, back) == PK_OK &&
                  point_eq(back, pt), "batch map = single map");
    }
    free(u);
    free(tab);
}

static void test_ristretto(void) {
    test_r255_batch(0);
    test_r255_batch(1);
    test_r255_batch(300);
    CHECK(pk_r255_unprepare(NULL, NULL) == PK_ERR_ARG, "null unprepare");
    test_r255_field();
    test_r255_scalars();
    test_r255_points();
    static const size_t sizes[] = {0, 1, 2, 3, 9, 33, 70, 300};
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        test_r255_msm_case(sizes[i], 0);
        test_r255_msm_case(sizes[i], 1);
    }
    uint8_t out[160];
    CHECK(pk_r255_msm(NULL, NULL, 0, out) == PK_OK, "empty msm");
    CHECK(pk_r255_msm(NULL, NULL, 2, out) == PK_ERR_ARG, "null msm inputs");
    printf("ristretto255 tested\n");
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
    test_ristretto();
    printf("isas tested: %d\n", n_isa);
    printf("%d failures\n", failures);
    return failures == 0 ? 0 : 1;
}
