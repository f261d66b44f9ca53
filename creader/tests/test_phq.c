/*
 * test_phq.c - unit tests of the C reader.
 *   test_phq DATADIR      (DATADIR: files made by tests/gen_testdata.py)
 * Known-answer vectors of spec 15 (MurmurHash3_x64_128, fmix64, hash scheme 1, linear8,
 * CRC32C), f16, UTF-8 and JSON validators; then, for every DATADIR/NAME.phq, lookups and
 * rows compared with NAME.keys (the Python reader's answers), every slot read, and
 * hostile variants (every truncation, byte flips, flips with re-sealed CRCs) that must be
 * refused or, for re-sealed payload damage, answered without reading outside the file.
 * Format 1.1: its known-answer vectors, nibble unpacking at every odd/even start and end,
 * and small files assembled here (every linear4/codebook granularity and layout, and each
 * new rule broken: feature bits, granularities, CODEBOOK order and size, ROWS sizes, zero
 * points, the pad nibble, codebook levels). Built with -DPHQ_MAX_MINOR=0 it checks that a
 * 1.0 reader refuses every 1.1 file with E_FEATURE.
 * Prints "N passed, N failed".
 */
#define _POSIX_C_SOURCE 200809L
#include "../phq.h"
#include "../phq_posix.h"

#include <dirent.h>
#include <errno.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int passed, failed;
static int v11; /* phq_supported_minor() >= 1: a 1.1 build (else -DPHQ_MAX_MINOR=0) */

#define CHECK(cond, ...)                                   \
    do {                                                   \
        if (cond) {                                        \
            passed++;                                      \
        } else {                                           \
            failed++;                                      \
            fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__); \
            fprintf(stderr, __VA_ARGS__);                  \
            fputc('\n', stderr);                           \
        }                                                  \
    } while (0)

static size_t unhex(const char *s, unsigned char *out)
{
    size_t n = 0;
    if (strcmp(s, "-") == 0) return 0;
    while (s[0] && s[1]) {
        unsigned v;
        sscanf(s, "%2x", &v);
        out[n++] = (unsigned char)v;
        s += 2;
    }
    return n;
}

static uint32_t f2b(float f)
{
    uint32_t b;
    memcpy(&b, &f, 4);
    return b;
}
static float b2f(uint32_t b)
{
    float f;
    memcpy(&f, &b, 4);
    return f;
}

/* ---- spec 15.1 ---- */
static void test_hash_kat(void)
{
    static const struct {
        const char *key;
        uint32_t seed;
        uint64_t h1, h2;
        uint32_t part, pos0, pos1, fp16;
    } v[] = {
        {"-", 0, 0x0000000000000000ULL, 0x0000000000000000ULL, 0, 0, 0, 0x0000},
        {"-", 1, 0x4610abe56eff5cb5ULL, 0x51622daa78f83583ULL, 0, 120, 31, 0x3583},
        {"706c6179", 0, 0xa45a86b5871711aeULL, 0xaba81a260c134e02ULL, 2, 44, 40, 0x4e02},
        {"74686520626561746c6573", 0, 0x1edb658d5b366b98ULL, 0x890c8dc5570a7fadULL, 1, 33, 40, 0x7fad},
        {"773d706c61797c772b313d746865", 42, 0x084e28e12f38023fULL, 0xb9a7e3e3675bf91aULL, 2, 21, 53, 0xf91a},
        {"636166c3a9", 7, 0xf6fe80fead927326ULL, 0xccf6b778962991c7ULL, 2, 55, 26, 0x91c7},
        {"fffe00", 4294967295u, 0x47a8fe7b5b818c32ULL, 0x4e2501ae2f61e779ULL, 0, 11, 40, 0xe779},
        {"30313233343536373839616263646566", 0, 0x4be06d94cf4ad1a7ULL, 0x87c35b5c63a708daULL, 1, 55, 35, 0x08da},
        {"3031323334353637383961626364656658", 3, 0x064e7ff078415c2bULL, 0x9c4349899848b92aULL, 1, 80, 50, 0xb92a},
    };
    size_t i;
    for (i = 0; i < sizeof v / sizeof v[0]; i++) {
        unsigned char key[64];
        size_t n = unhex(v[i].key, key);
        uint64_t h[2], l0, l1;
        phq_murmur3_x64_128(n ? key : NULL, n, v[i].seed, h);
        CHECK(h[0] == v[i].h1 && h[1] == v[i].h2, "murmur3 vector %lu: %016llx %016llx", (unsigned long)i,
              (unsigned long long)h[0], (unsigned long long)h[1]);
        CHECK((uint32_t)(((h[1] >> 32) * 3) >> 32) == v[i].part, "partition(3) vector %lu", (unsigned long)i);
        l0 = phq_fmix64(h[0] + 0 * h[1]);
        l1 = phq_fmix64(h[0] + 1 * h[1]);
        CHECK((((l0 >> 32) * 128) >> 32) == v[i].pos0, "pos0 vector %lu", (unsigned long)i);
        CHECK((((l1 >> 32) * 64) >> 32) == v[i].pos1, "pos1 vector %lu", (unsigned long)i);
        CHECK((h[1] & 0xffff) == v[i].fp16, "fp16 vector %lu", (unsigned long)i);
    }
    CHECK(phq_fmix64(0) == 0, "fmix64(0)");
    CHECK(phq_fmix64(1) == 0xb456bcfc34c2cb2cULL, "fmix64(1)");
    CHECK(phq_fmix64(0x0123456789abcdefULL) == 0x87cbfbfe89022ceaULL, "fmix64(0x0123456789abcdef)");
    CHECK(phq_fmix64(0xffffffffffffffffULL) == 0x64b5720b4b825f21ULL, "fmix64(~0)");
    { /* every tail length against a bytewise re-hash of a longer buffer's prefix */
        unsigned char buf[40];
        uint64_t a[2], b[2];
        for (i = 0; i < sizeof buf; i++) buf[i] = (unsigned char)(i * 37 + 1);
        phq_murmur3_x64_128(buf, 33, 9, a);
        phq_murmur3_x64_128(buf, 33, 9, b);
        CHECK(a[0] == b[0] && a[1] == b[1], "murmur3 deterministic");
    }
}

/* ---- spec 15.2 ---- */
static void test_linear8_kat(void)
{
    struct {
        uint32_t scale;
        int32_t zp;
        int n;
        uint8_t codes[6];
        uint32_t deq[6];
    } v[] = {
        {0x3c40c0c1u, 85, 6, {0, 85, 127, 255, 85, 85}, {0xbf800000u, 0, 0x3efcfcfdu, 0x40000000u, 0, 0}},
        {0x3c40c0c1u, 0, 3, {21, 85, 255}, {0x3e7cfcfdu, 0x3f800000u, 0x40400000u}},
        {0x3cf0f0f1u, 255, 3, {0, 252, 255}, {0xc0f00000u, 0xbdb4b4b5u, 0x00000000u}},
        {0x3f800000u, 0, 2, {0, 0}, {0, 0}},
    };
    size_t i;
    int j;
    for (i = 0; i < sizeof v / sizeof v[0]; i++)
        for (j = 0; j < v[i].n; j++) {
            uint32_t got = f2b(phq_linear8(v[i].codes[j], b2f(v[i].scale), v[i].zp));
            CHECK(got == v[i].deq[j], "linear8 vector %lu.%d: %08x != %08x", (unsigned long)i, j, got, v[i].deq[j]);
        }
}

/* ---- spec 15.3 and 3 ---- */
static void test_crc(void)
{
    unsigned char big[1000];
    uint32_t a, b;
    size_t i;
    CHECK(phq_crc32c(0, "123456789", 9) == 0xE3069283u, "crc32c(123456789)");
    CHECK(phq_crc32c(0, "", 0) == 0, "crc32c(empty)");
    CHECK(phq_crc32c(0, NULL, 0) == 0, "crc32c(NULL, 0)");
    for (i = 0; i < sizeof big; i++) big[i] = (unsigned char)(i * 131 + 7);
    a = phq_crc32c(0, big, sizeof big);
    b = phq_crc32c(phq_crc32c(0, big, 333), big + 333, sizeof big - 333);
    CHECK(a == b, "crc32c chaining");
    { /* bitwise reference */
        uint32_t c = 0xFFFFFFFFu;
        for (i = 0; i < sizeof big; i++) {
            int k;
            c ^= big[i];
            for (k = 0; k < 8; k++) c = (c >> 1) ^ (0x82F63B78u & (0u - (c & 1u)));
        }
        CHECK(a == ~c, "crc32c matches the bitwise definition");
    }
}

static void test_f16(void)
{
    CHECK(f2b(phq_f16_to_f32(0x3c00)) == 0x3f800000u, "f16 1.0");
    CHECK(f2b(phq_f16_to_f32(0xc000)) == 0xc0000000u, "f16 -2.0");
    CHECK(f2b(phq_f16_to_f32(0x7bff)) == f2b(65504.0f), "f16 max");
    CHECK(f2b(phq_f16_to_f32(0x0001)) == f2b(5.9604644775390625e-08f), "f16 min subnormal");
    CHECK(f2b(phq_f16_to_f32(0x03ff)) == f2b(6.097555160522461e-05f), "f16 max subnormal");
    CHECK(f2b(phq_f16_to_f32(0x8000)) == 0x80000000u, "f16 -0");
    CHECK(f2b(phq_f16_to_f32(0x7c00)) == 0x7f800000u, "f16 inf");
    CHECK(phq_f16_to_f32(0x7e00) != phq_f16_to_f32(0x7e00), "f16 nan");
    CHECK(f2b(phq_f16_to_f32(0x3555)) == f2b(0.333251953125f), "f16 1/3");
}

static void test_utf8_json(void)
{
    static const char *const good[] = {
        "{}", " {} ", "\t{\n}\r", "{\"a\":1}", "{\"a\":[1,2,{\"b\":null}],\"c\":true,\"d\":false}",
        "{\"a\":-0.5e+10,\"b\":0,\"c\":-0,\"d\":1E5,\"e\":12.25}", "{\"\\u00e9\":\"\\ud83d\\ude00\"}",
        "{\"a\":\"\\\"\\\\\\/\\b\\f\\n\\r\\t\"}", "{\"caf\xc3\xa9\":\"\xf0\x9f\x98\x80\"}", "{\"a\":{\"a\":1}}",
        "{\"a\":1,\"A\":2}", "{\"\\ud800\":1}", "{\"a\":\"\x7f\"}", "{\"x\":1e400}",
        "{\"\\ud800\":1,\"\\ud800\\u0041\":2}",
    };
    static const char *const bad[] = {
        "", "[]", "1", "\"a\"", "{", "}", "{\"a\"}", "{\"a\":}", "{\"a\":1,}", "{,}", "{\"a\":1}x", "{}{}",
        "\xef\xbb\xbf{}", "{\"a\":NaN}", "{\"a\":Infinity}", "{\"a\":-Infinity}", "{\"a\":01}", "{\"a\":1.}",
        "{\"a\":.5}", "{\"a\":+1}", "{\"a\":1e}", "{\"a\":tru}", "{\"a\":\"\x01\"}", "{\"a\":\"\\x\"}",
        "{\"a\":\"\\u12\"}", "{'a':1}", "{\"a\":1,\"a\":2}", "{\"a\":1,\"\\u0061\":2}",
        "{\"\xc3\xa9\":1,\"\\u00e9\":2}", "{\"\xf0\x9f\x98\x80\":1,\"\\ud83d\\ude00\":2}", "{\"a\":\"\xc3\"}",
        "{\"a\":\"\xed\xa0\x80\"}", "{\"a\":\"\xc0\xaf\"}", "{\"a\":\"\xf4\x90\x80\x80\"}", "{\"a\":1\f}",
        "{\"a\":[1,2,]}", "{\"b\":{\"x\":1,\"y\":2,\"x\":3}}", "{\"a\":\"\\/\",\"\\u0061\":0}",
        "{\"\\ud800\":1,\"\\uD800\":2}",
    };
    size_t i;
    char deep[200];
    for (i = 0; i < sizeof good / sizeof good[0]; i++)
        CHECK(phq_json_object_valid((const unsigned char *)good[i], strlen(good[i]), NULL, 0, NULL, NULL),
              "json should be valid: %s", good[i]);
    for (i = 0; i < sizeof bad / sizeof bad[0]; i++)
        CHECK(!phq_json_object_valid((const unsigned char *)bad[i], strlen(bad[i]), NULL, 0, NULL, NULL),
              "json should be invalid: %s", bad[i]);
    /* depth: 64 levels ok, 65 not (top-level object is level 1) */
    {
        size_t n = 0;
        int d;
        deep[n++] = '{';
        deep[n++] = '"';
        deep[n++] = 'a';
        deep[n++] = '"';
        deep[n++] = ':';
        for (d = 2; d <= 64; d++) deep[n++] = '[';
        for (d = 2; d <= 64; d++) deep[n++] = ']';
        deep[n++] = '}';
        CHECK(phq_json_object_valid((unsigned char *)deep, n, NULL, 0, NULL, NULL), "depth 64 valid");
        n = 0;
        deep[n++] = '{';
        deep[n++] = '"';
        deep[n++] = 'a';
        deep[n++] = '"';
        deep[n++] = ':';
        for (d = 2; d <= 65; d++) deep[n++] = '[';
        for (d = 2; d <= 65; d++) deep[n++] = ']';
        deep[n++] = '}';
        CHECK(!phq_json_object_valid((unsigned char *)deep, n, NULL, 0, NULL, NULL), "depth 65 invalid");
    }
    /* many members: block path (stack workspace of 256) and caller workspace */
    {
        size_t cap = 64 + 3000 * 16, n = 0, k;
        char *big = (char *)malloc(cap);
        void *ws = malloc(3000 * 16 + 64);
        big[n++] = '{';
        for (k = 0; k < 3000; k++) n += (size_t)sprintf(big + n, "%s\"m%lu\":%lu", k ? "," : "", (unsigned long)k, (unsigned long)k);
        big[n++] = '}';
        CHECK(phq_json_object_valid((unsigned char *)big, n, NULL, 0, NULL, NULL), "3000 distinct members");
        CHECK(phq_json_object_valid((unsigned char *)big, n, ws, 3000 * 16 + 64, NULL, NULL), "3000 members, workspace");
        n--;
        n += (size_t)sprintf(big + n, ",\"m\\u0031777\":0}");
        CHECK(!phq_json_object_valid((unsigned char *)big, n, NULL, 0, NULL, NULL), "3000 members + late duplicate");
        CHECK(!phq_json_object_valid((unsigned char *)big, n, ws, 3000 * 16 + 64, NULL, NULL), "late duplicate, workspace");
        free(big);
        free(ws);
    }
    CHECK(phq_utf8_valid((const unsigned char *)"\xe2\x82\xac\xf4\x8f\xbf\xbf", 7), "utf8 valid");
    CHECK(!phq_utf8_valid((const unsigned char *)"\xe0\x80\x80", 3), "utf8 overlong 3");
    CHECK(!phq_utf8_valid((const unsigned char *)"\xf8\x88\x80\x80\x80", 5), "utf8 5-byte");
    CHECK(!phq_utf8_valid((const unsigned char *)"\x80", 1), "utf8 lone continuation");
    CHECK(!phq_utf8_valid((const unsigned char *)"\xe2\x82", 2), "utf8 truncated");
}

/* ---- files from the Python writer ---- */

static unsigned char *slurp(const char *path, size_t *len)
{
    phq_mapping mp;
    unsigned char *p;
    if (phq_map_file(path, &mp) != 0) return NULL;
    p = (unsigned char *)malloc(mp.len + 1);
    if (mp.len) memcpy(p, mp.data, mp.len);
    *len = mp.len;
    phq_unmap_file(&mp);
    return p;
}

static uint32_t rd32(const unsigned char *p) { return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24; }
static uint64_t rd64(const unsigned char *p) { return rd32(p) | (uint64_t)rd32(p + 4) << 32; }
static void wr32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)v;
    p[1] = (unsigned char)(v >> 8);
    p[2] = (unsigned char)(v >> 16);
    p[3] = (unsigned char)(v >> 24);
}

/* open + validate; then read every table's every slot and a few lookups (never crash) */
static phq_code exercise(const unsigned char *buf, size_t len, int validate)
{
    phq_model m;
    phq_error e;
    phq_code rc = phq_open(buf, len, &m, &e);
    uint32_t i;
    if (rc != PHQ_OK) {
        CHECK(e.code == rc && rc != PHQ_E_USAGE, "error struct filled");
        return rc;
    }
    if (validate && (rc = phq_validate(&m, &e)) != PHQ_OK) return rc;
    for (i = 0; i < phq_table_count(&m); i++) {
        phq_table t;
        uint64_t s, slot;
        static unsigned char raw[4 * 400];
        static float row[400];
        char key[32];
        int k;
        phq_table_at(&m, i, &t);
        if (t.dim > 400) continue;
        for (s = 0; s < t.num_keys; s++) {
            phq_row_raw(&t, s, raw, &e);
            phq_row_f32(&t, s, row, &e);
        }
        for (k = 0; k < 50; k++) {
            sprintf(key, "k=%d|w+1=%d", k, k * 7);
            if (phq_lookup(&t, key, strlen(key), &slot, &e) == PHQ_FOUND) {
                CHECK(slot < t.num_keys, "slot in range");
                phq_row_f32(&t, slot, row, &e);
            }
        }
    }
    for (i = 0; i < phq_tensor_count(&m); i++) {
        phq_tensor t;
        phq_tensor_at(&m, i, &t);
        if (t.nbytes) CHECK(t.data[0] == t.data[0] && t.data[t.nbytes - 1] == t.data[t.nbytes - 1], "tensor data");
    }
    return PHQ_OK;
}

static void test_file(const char *dir, const char *base)
{
    char path[1024], kpath[1024], line[65536];
    unsigned char *buf, *copy;
    size_t len, i;
    phq_model m;
    phq_error e;
    FILE *kf;
    unsigned char tname[512], key[4096], want_raw[8192], got_raw[8192];
    float deq[2048];
    int nlines = 0;

    snprintf(path, sizeof path, "%s/%s.phq", dir, base);
    snprintf(kpath, sizeof kpath, "%s/%s.keys", dir, base);
    buf = slurp(path, &len);
    CHECK(buf != NULL, "read %s", path);
    if (!buf) return;
    /* a file using a later minor's feature bit (1.1: bits 0-1, 1.2: bit 2): refused at once */
    if (len >= 64 && (rd64(buf + 16) & (phq_supported_minor() == 0 ? 7u : phq_supported_minor() == 1 ? 4u : 0u))) {
        CHECK(phq_open(buf, len, &m, &e) == PHQ_E_FEATURE, "%s: a 1.%u reader must refuse a later file with E_FEATURE, got %s",
              base, phq_supported_minor(), phq_error_name(e.code));
        free(buf);
        return;
    }
    CHECK(phq_open(buf, len, &m, &e) == PHQ_OK, "%s: open: %s %s", base, phq_error_name(e.code), e.msg);
    CHECK(phq_validate(&m, &e) == PHQ_OK, "%s: validate: %s %s", base, phq_error_name(e.code), e.msg);
    kf = fopen(kpath, "r");
    CHECK(kf != NULL, "open %s", kpath);
    while (kf && fgets(line, sizeof line, kf)) {
        char *tok[5];
        int nt = 0;
        char *p = strtok(line, " \n");
        phq_table t;
        uint64_t slot;
        size_t nl, kl;
        int rc;
        while (p && nt < 5) {
            tok[nt++] = p;
            p = strtok(NULL, " \n");
        }
        if (nt < 3) continue;
        nlines++;
        nl = unhex(tok[0], tname);
        kl = unhex(tok[1], key);
        if (!phq_find_table(&m, tname, nl, &t)) {
            CHECK(0, "%s: table %s not found", base, tok[0]);
            continue;
        }
        rc = phq_lookup(&t, key, kl, &slot, &e);
        if (strcmp(tok[2], "absent") == 0) {
            CHECK(rc == PHQ_ABSENT, "%s: key %s should be absent (rc %d)", base, tok[1], rc);
            continue;
        }
        CHECK(rc == PHQ_FOUND && slot == strtoull(tok[2], NULL, 10), "%s: key %s slot %llu want %s (rc %d)", base, tok[1],
              (unsigned long long)slot, tok[2], rc);
        if (rc != PHQ_FOUND || nt < 5) continue;
        {
            size_t rl = unhex(tok[3], want_raw), dl;
            CHECK(phq_row_raw(&t, slot, got_raw, &e) == PHQ_OK, "row_raw");
            CHECK(rl == t.dim * t.itemsize && memcmp(got_raw, want_raw, rl) == 0, "%s: key %s raw row differs", base, tok[1]);
            CHECK(phq_row_f32(&t, slot, deq, &e) == PHQ_OK, "row_f32");
            dl = unhex(tok[4], want_raw);
            CHECK(dl == 4 * (size_t)t.dim, "deq length");
            for (i = 0; i < t.dim && i < 2048; i++)
                if (f2b(deq[i]) != rd32(want_raw + 4 * i)) break;
            CHECK(i == t.dim, "%s: key %s dequantized value %lu differs", base, tok[1], (unsigned long)i);
            CHECK(phq_get_f32(&t, key, kl, deq, &e) == PHQ_FOUND, "get_f32");
        }
    }
    if (kf) fclose(kf);
    /* slots of a table are a permutation: every key found in the .keys has its own slot
     * (checked above against Python); every partition index path works with an index too */
    {
        uint32_t ti;
        for (ti = 0; ti < phq_table_count(&m); ti++) {
            phq_table t, ti_t;
            phq_part_info *idx;
            uint64_t s1, s2;
            int r1, r2, k;
            char kk[64];
            phq_table_at(&m, ti, &t);
            ti_t = t;
            idx = (phq_part_info *)malloc(sizeof *idx * t.num_partitions);
            CHECK(phq_table_set_index(&ti_t, idx, t.num_partitions) == PHQ_OK, "set_index");
            for (k = 0; k < 500; k++) {
                sprintf(kk, "k=%d|w+1=%d", k, k % 1000);
                r1 = phq_lookup(&t, kk, strlen(kk), &s1, &e);
                r2 = phq_lookup(&ti_t, kk, strlen(kk), &s2, &e);
                CHECK(r1 == r2 && (r1 != PHQ_FOUND || s1 == s2), "indexed lookup agrees");
            }
            free(idx);
        }
    }
    (void)nlines;
    /* batched lookups agree with single ones (keys of the .keys file and unknown keys) */
    {
        uint32_t ti;
        for (ti = 0; ti < phq_table_count(&m); ti++) {
            phq_table t;
            enum { NB = 300 };
            static char kbuf[NB][40];
            const void *kp[NB];
            size_t kl[NB], j, nf;
            uint64_t bs[NB], hs[2 * NB], s1;
            signed char st[NB], st2[NB];
            float *rows, one[512];
            phq_table_at(&m, ti, &t);
            if (t.dim > 512) continue;
            rows = (float *)malloc(sizeof(float) * NB * (t.dim + 1));
            for (j = 0; j < NB; j++) {
                kl[j] = (size_t)sprintf(kbuf[j], j % 3 ? "k=%lu|w+1=%lu" : "zz%lu", (unsigned long)j, (unsigned long)(j * 3 % 1000));
                kp[j] = kbuf[j];
                phq_murmur3_x64_128(kbuf[j], kl[j], t.seed, hs + 2 * j);
            }
            nf = phq_get_f32_many(&t, kp, kl, NB, rows, st, &e);
            CHECK(phq_lookup_hash_many(&t, hs, NB, bs, st2, &e) == nf, "batch counts agree");
            for (j = 0; j < NB; j++) {
                int rc = phq_lookup(&t, kp[j], kl[j], &s1, &e);
                CHECK(rc == st[j] && rc == st2[j] && (rc != PHQ_FOUND || s1 == bs[j]), "%s: batch key %lu", base, (unsigned long)j);
                if (rc == PHQ_FOUND && t.dim) {
                    phq_row_f32(&t, s1, one, &e);
                    CHECK(memcmp(one, rows + j * t.dim, 4 * t.dim) == 0, "batch row %lu", (unsigned long)j);
                }
            }
            free(rows);
        }
    }
    CHECK(exercise(buf, len, 1) == PHQ_OK, "%s: exercise", base);

    /* hostile variants (spec 17): never crash; structural damage refused */
    copy = (unsigned char *)malloc(len + 64);
    for (i = 0; i < len; i++) { /* every truncation: E_TRUNCATED */
        phq_code rc;
        if (len > 8192 && i % 61 != 0 && i > 256) continue;
        memcpy(copy, buf, i);
        rc = phq_open(copy, i, &m, &e);
        CHECK(rc == PHQ_E_TRUNCATED, "%s truncated to %lu: %s", base, (unsigned long)i, phq_error_name(rc));
    }
    memcpy(copy, buf, len);
    copy[len] = 0;
    CHECK(phq_open(copy, len + 1, &m, &e) == PHQ_E_FILE_SIZE, "%s + 1 byte: E_FILE_SIZE", base);
    for (i = 0; i < len; i++) { /* every byte flip: some error from open or validate */
        phq_code rc;
        if (len > 8192 && i % 37 != 0) continue;
        memcpy(copy, buf, len);
        copy[i] ^= (unsigned char)(1u << (i % 8));
        rc = exercise(copy, len, 1);
        CHECK(rc != PHQ_OK, "%s: flip at %lu undetected", base, (unsigned long)i);
    }
    /* flips inside sections with the section CRC re-sealed: open (10.1) then lookups without
     * validation (10.3) must stay inside the buffer; validate reports something or OK */
    {
        uint32_t nsec = rd32(buf + 48), k;
        for (k = 0; k < nsec; k++) {
            const unsigned char *ent = buf + 64 + 32 * k;
            uint64_t off = rd64(ent + 8), size = rd64(ent + 16), j;
            if (nsec > 100 && k % 13 != 0) continue;
            for (j = 0; j < size; j++) {
                if (size > 512 && j % 17 != 0) continue;
                memcpy(copy, buf, len);
                copy[off + j] ^= (unsigned char)(0x81u << (j % 2));
                wr32(copy + 64 + 32 * k + 24, phq_crc32c(0, copy + off, (size_t)size));
                wr32(copy + 52, phq_crc32c(0, copy + 64, 32 * (size_t)nsec));
                wr32(copy + 60, phq_crc32c(0, copy, 60));
                exercise(copy, len, 0);
                exercise(copy, len, 1);
            }
        }
    }
    free(copy);
    free(buf);
}

/* rename the owner-less section `from` (kind TENSOR or TABLE) to the name of `to` (same
 * length), re-seal the CRCs, and expect E_DUPLICATE_NAME for section max(from, to) */
static void reseal(unsigned char *b)
{
    uint32_t nsec = rd32(b + 48), k;
    for (k = 0; k < nsec; k++) {
        unsigned char *e = b + 64 + 32 * k;
        wr32(e + 24, phq_crc32c(0, b + rd64(e + 8), (size_t)rd64(e + 16)));
    }
    wr32(b + 52, phq_crc32c(0, b + 64, 32 * (size_t)nsec));
    wr32(b + 60, phq_crc32c(0, b, 60));
}

static unsigned char *sect_name_ptr(unsigned char *b, uint32_t k, size_t *len)
{
    unsigned char *e = b + 64 + 32 * k, *d = b + rd64(e + 8);
    if ((e[0] | e[1] << 8) == 2) {
        *len = (size_t)(d[2] | d[3] << 8);
        return d + 8 + 8 * d[1];
    }
    *len = (size_t)(d[44] | d[45] << 8);
    return d + 64;
}

static void test_duplicates(const char *dir)
{
    char path[1024];
    unsigned char *buf, *copy;
    size_t len, l1, l2;
    uint32_t nsec, k, tensors[800], tables[64], nt = 0, nb = 0;
    phq_model m;
    phq_error e;
    static const uint32_t pairs[][2] = {{3, 650}, {650, 3}, {0, 1}, {698, 699}, {100, 600}, {255, 256}, {256, 512}};
    size_t i;
    snprintf(path, sizeof path, "%s/many_sections.phq", dir);
    buf = slurp(path, &len);
    if (!buf) {
        CHECK(0, "many_sections.phq missing");
        return;
    }
    nsec = rd32(buf + 48);
    for (k = 0; k < nsec; k++) {
        const unsigned char *ent = buf + 64 + 32 * k;
        unsigned kind = ent[0] | ent[1] << 8;
        if (kind == 2 && nt < 800) tensors[nt++] = k;
        if (kind == 0x10 && nb < 64) tables[nb++] = k;
    }
    CHECK(nt == 700 && nb == 40, "many_sections layout: %u tensors %u tables", nt, nb);
    copy = (unsigned char *)malloc(len);
    for (i = 0; i < sizeof pairs / sizeof pairs[0]; i++) {
        unsigned char *n1, *n2;
        uint32_t a = tensors[pairs[i][0]], b = tensors[pairs[i][1]];
        memcpy(copy, buf, len);
        n1 = sect_name_ptr(copy, a, &l1);
        n2 = sect_name_ptr(copy, b, &l2);
        memcpy(n1, n2, l1);
        reseal(copy);
        CHECK(phq_open(copy, len, &m, &e) == PHQ_E_DUPLICATE_NAME && e.section == (a > b ? a : b),
              "duplicate tensor names %u/%u: %s at section %u", a, b, phq_error_name(e.code), e.section);
        {
            size_t wsz = 16 * 1000;
            void *ws = malloc(wsz);
            phq_open_options opt;
            opt.scratch = ws;
            opt.scratch_size = wsz;
            CHECK(phq_open_ex(copy, len, &opt, &m, &e) == PHQ_E_DUPLICATE_NAME && e.section == (a > b ? a : b),
                  "duplicate tensor names with workspace");
            free(ws);
        }
    }
    for (i = 0; i + 1 < nb; i += 7) {
        unsigned char *n1, *n2;
        uint32_t a = tables[i + 1], b = tables[i];
        memcpy(copy, buf, len);
        n1 = sect_name_ptr(copy, a, &l1);
        n2 = sect_name_ptr(copy, b, &l2);
        memcpy(n1, n2, l1);
        reseal(copy);
        CHECK(phq_open(copy, len, &m, &e) == PHQ_E_DUPLICATE_NAME && e.section == a, "duplicate table names: %s",
              phq_error_name(e.code));
    }
    free(copy);
    free(buf);
}

static void test_api_misuse(void)
{
    phq_model m;
    phq_error e;
    static const unsigned char sig[8] = {0x89, 'P', 'H', 'Q', 0x0D, 0x0A, 0x1A, 0x0A};
    unsigned char b[80];
    CHECK(phq_open("", 0, &m, &e) == PHQ_E_TRUNCATED, "empty file");
    CHECK(phq_open(NULL, 0, &m, &e) == PHQ_E_TRUNCATED, "NULL empty file");
    CHECK(phq_open(sig, 5, &m, &e) == PHQ_E_TRUNCATED, "prefix of signature");
    memcpy(b, sig, 8);
    b[4] = '\n';
    b[5] = 0x1a;
    CHECK(phq_open(b, 7, &m, &e) == PHQ_E_TEXT_MODE, "CRLF->LF");
    b[0] = 0x09;
    CHECK(phq_open(b, 7, &m, &e) == PHQ_E_TEXT_MODE, "high bit stripped");
    CHECK(phq_open("version https://git-lfs.github.com/spec/v1\n", 43, &m, &e) == PHQ_E_SIGNATURE &&
              strstr(e.msg, "LFS") != NULL, "LFS pointer");
    CHECK(phq_open("hello world, not phq", 20, &m, &e) == PHQ_E_SIGNATURE, "bad signature");
    memset(&m, 0, sizeof m);
    CHECK(phq_validate(&m, &e) == PHQ_E_USAGE, "validate unopened");
    CHECK(strcmp(phq_error_name(PHQ_E_CHECKSUM), "E_CHECKSUM") == 0, "error name");
    CHECK(strcmp(phq_error_name(PHQ_E_TRUNCATED), "E_TRUNCATED") == 0, "error name 1");
    CHECK(strcmp(phq_error_name(PHQ_E_USAGE), "UsageError") == 0, "usage name");
}

/* ---- format 1.1 (spec/format-v1.1.md) ------------------------------------------------------ */

static void wr16(unsigned char *p, uint16_t v)
{
    p[0] = (unsigned char)v;
    p[1] = (unsigned char)(v >> 8);
}
static void wr64(unsigned char *p, uint64_t v)
{
    wr32(p, (uint32_t)v);
    wr32(p + 4, (uint32_t)(v >> 32));
}

/* 1.1 §8 known-answer vectors and nibble streams (exact-size heap buffers: ASan sees overreads) */
static void test_v11_kat(void)
{
    static const uint8_t codes[4] = {0, 3, 4, 15};
    static const uint32_t want[4] = {0xbfc00000u /* -1.5 */, 0x00000000u, 0x3f000000u /* 0.5 */, 0x40c00000u /* 6.0 */};
    int i;
    size_t n, first, count;
    for (i = 0; i < 4; i++)
        CHECK(f2b(phq_linear8(codes[i], 0.5f, 3)) == want[i], "linear4 vector %d: %08x", i, f2b(phq_linear8(codes[i], 0.5f, 3)));
    { /* codes 1, 2, 3 -> bytes 21 03 */
        unsigned char *p = (unsigned char *)malloc(2);
        uint8_t out[3];
        p[0] = 0x21;
        p[1] = 0x03;
        CHECK(phq_nibble(p, 0) == 1 && phq_nibble(p, 1) == 2 && phq_nibble(p, 2) == 3, "nibble stream 21 03");
        phq_unpack_nibbles(p, 0, 3, out);
        CHECK(out[0] == 1 && out[1] == 2 && out[2] == 3, "unpack 21 03");
        free(p);
    }
    /* every (first, count) over streams of every length up to 9 codes, the packed buffer
     * exactly ceil(len / 2) bytes: starts and ends at odd and even positions */
    for (n = 0; n <= 9; n++) {
        size_t nb = (n + 1) / 2, k;
        unsigned char *p = (unsigned char *)malloc(nb ? nb : 1);
        uint8_t ref[9], out[10];
        for (k = 0; k < n; k++) ref[k] = (uint8_t)((k * 7 + 5) & 15);
        memset(p, 0, nb ? nb : 1);
        for (k = 0; k < n; k++) p[k / 2] |= (unsigned char)(ref[k] << (4 * (k & 1)));
        for (first = 0; first <= n; first++)
            for (count = 0; first + count <= n; count++) {
                memset(out, 0xee, sizeof out);
                phq_unpack_nibbles(p, first, count, out);
                CHECK(memcmp(out, ref + first, count) == 0 && out[count] == 0xee, "unpack_nibbles n=%lu first=%lu count=%lu",
                      (unsigned long)n, (unsigned long)first, (unsigned long)count);
                for (k = 0; k < count; k++)
                    if (phq_nibble(p, first + k) != ref[first + k]) break;
                CHECK(k == count, "phq_nibble n=%lu first=%lu", (unsigned long)n, (unsigned long)first);
            }
        free(p);
    }
    CHECK(strcmp(phq_quant_name(PHQ_QUANT_LINEAR8), "linear8") == 0, "quant name linear8");
    CHECK(strcmp(phq_quant_name(6), "?") == 0 && strcmp(phq_quant_name(-1), "?") == 0, "quant name ?");
    if (v11)
        CHECK(strcmp(phq_quant_name(PHQ_QUANT_LINEAR4), "linear4") == 0 &&
                  strcmp(phq_quant_name(PHQ_QUANT_CODEBOOK4), "codebook4") == 0 &&
                  strcmp(phq_quant_name(PHQ_QUANT_CODEBOOK8), "codebook8") == 0,
              "quant names of 1.1");
    else
        CHECK(strcmp(phq_quant_name(PHQ_QUANT_LINEAR4), "?") == 0, "a 1.0 build does not name quant 3");
}

/* A file assembled here: sections laid out as spec 2 requires, every CRC sealed. */
typedef struct {
    uint16_t kind, flags;
    uint32_t owner;
    const unsigned char *data;
    size_t size;
} xsec;

static size_t assemble(unsigned char *out, size_t cap, uint16_t minor, uint64_t req, const xsec *s, uint32_t ns)
{
    static const unsigned char sig[8] = {0x89, 'P', 'H', 'Q', 0x0D, 0x0A, 0x1A, 0x0A};
    size_t pos = (64 + 32 * (size_t)ns + 63) & ~(size_t)63;
    uint32_t k;
    memset(out, 0, cap);
    for (k = 0; k < ns; k++) {
        unsigned char *e = out + 64 + 32 * k;
        if (pos + s[k].size > cap) return 0;
        if (s[k].size) memcpy(out + pos, s[k].data, s[k].size);
        wr16(e, s[k].kind);
        wr16(e + 2, s[k].flags);
        wr32(e + 4, s[k].owner);
        wr64(e + 8, pos);
        wr64(e + 16, s[k].size);
        wr32(e + 24, phq_crc32c(0, out + pos, s[k].size));
        pos = (pos + s[k].size + 63) & ~(size_t)63;
    }
    memcpy(out, sig, 8);
    wr16(out + 8, 1);
    wr16(out + 10, minor);
    wr32(out + 12, 64);
    wr64(out + 16, req);
    wr64(out + 32, pos);
    wr64(out + 40, 64);
    wr32(out + 48, ns);
    wr32(out + 52, phq_crc32c(0, out + 64, 32 * (size_t)ns));
    wr32(out + 60, phq_crc32c(0, out, 60));
    return pos;
}

enum { X_OK, X_NO_CODEBOOK, X_CODEBOOK_AFTER_ROWS, X_CODEBOOK_TWICE, X_CODEBOOK_ANCILLARY, X_EXTRA_CODEBOOK,
       X_ROWS_PLUS1, X_ROWS_MINUS1, X_CODEBOOK_SHORT, X_CODEBOOK_UNKNOWN_ANCILLARY };

/* One table "t" of n keys "k0".."k{n-1}" (seed 0, every key in the fallback list: no
 * levels), codes[slot * dim + c] (slot = rank of the key's digest), in the given scheme.
 * Sparse tables omit the zero codes (zero_point of the group, or codebook code 0).
 * Returns the file size; *slot_of_key[i] gets key i's slot. */
typedef struct {
    unsigned quant, layout, sg;
    uint32_t sbr, n, dim;
    const uint8_t *codes;
    const float *scales;   /* G (linear) */
    const int32_t *zps;    /* G (linear) */
    const float *levels;   /* G x K (codebook) */
    uint64_t req;          /* required_features */
    int variant;           /* X_* */
} xtab;

#define XMAX_N 8
#define XMAX_DIM 8
static unsigned char xfile[16384];

static size_t build_table(const xtab *x, uint32_t *slot_of_key)
{
    static unsigned char desc[65], part[16], fb[16 * XMAX_N], sc[8 * 64], cb[4 * 256 * XMAX_DIM];
    static unsigned char rows[XMAX_N * XMAX_DIM], ri[4 * (XMAX_N + 1)], cols[XMAX_N * XMAX_DIM];
    uint64_t h[XMAX_N][2];
    uint32_t order[XMAX_N], i, j, c, K = x->quant == 4 ? 16 : x->quant == 5 ? 256 : 0, G, nnz = 0, ns = 0;
    int bits4 = x->quant == 3 || x->quant == 4, cbq = K != 0;
    size_t rows_size;
    xsec s[16];
    G = x->sg == 1 ? 1 : x->sg == 2 ? x->dim : x->sg == 3 ? (x->n + x->sbr - 1) / x->sbr : 0;
    for (i = 0; i < x->n; i++) {
        char key[16];
        sprintf(key, "k%u", i);
        phq_murmur3_x64_128(key, strlen(key), 0, h[i]);
        order[i] = i;
    }
    for (i = 1; i < x->n; i++) /* sort keys by digest: slot = rank */
        for (j = i; j > 0 && (h[order[j - 1]][0] > h[order[j]][0] ||
                              (h[order[j - 1]][0] == h[order[j]][0] && h[order[j - 1]][1] > h[order[j]][1])); j--) {
            uint32_t t = order[j];
            order[j] = order[j - 1];
            order[j - 1] = t;
        }
    for (i = 0; i < x->n; i++) {
        slot_of_key[order[i]] = i;
        wr64(fb + 16 * i, h[order[i]][0]);
        wr64(fb + 16 * i + 8, h[order[i]][1]);
    }
    memset(rows, 0, sizeof rows);
    wr32(ri, 0);
    for (i = 0; i < x->n; i++) {
        for (c = 0; c < x->dim; c++) {
            uint8_t q = x->codes[i * x->dim + c];
            uint32_t g = x->sg == 2 ? c : x->sg == 3 ? i / x->sbr : 0;
            uint8_t zero = cbq ? 0 : (uint8_t)x->zps[g];
            if (x->layout == 1 && q == zero) continue;
            if (x->layout == 1) cols[nnz] = (unsigned char)c;
            if (bits4) rows[nnz / 2] |= (unsigned char)(q << (4 * (nnz & 1)));
            else rows[nnz] = q;
            nnz++;
        }
        wr32(ri + 4 * (i + 1), nnz);
    }
    rows_size = bits4 ? (nnz + 1) / 2 : nnz;
    if (x->variant == X_ROWS_PLUS1) rows_size++;
    if (x->variant == X_ROWS_MINUS1) rows_size--;
    memset(desc, 0, sizeof desc);
    wr64(desc, x->n);
    wr32(desc + 8, x->dim);
    wr32(desc + 16, 1);
    wr32(desc + 20, 1000);
    wr64(desc + 24, nnz);
    desc[32] = 1;
    desc[33] = (unsigned char)x->quant;
    desc[34] = (unsigned char)x->layout;
    desc[36] = (unsigned char)x->sg;
    desc[37] = x->layout ? 4 : 0;
    desc[38] = x->layout ? 1 : 0;
    wr32(desc + 40, x->sbr);
    wr16(desc + 44, 1);
    desc[64] = 't';
    wr32(part, x->n);
    wr32(part + 4, x->n);
    wr32(part + 8, 0);
    wr32(part + 12, 0);
    for (i = 0; !cbq && i < G; i++) {
        wr32(sc + 8 * i, f2b(x->scales[i]));
        wr32(sc + 8 * i + 4, (uint32_t)x->zps[i]);
    }
    for (i = 0; cbq && i < G * K; i++) wr32(cb + 4 * i, f2b(x->levels[i]));
#define ADD(k, fl, ow, d, sz) (s[ns].kind = (k), s[ns].flags = (fl), s[ns].owner = (ow), s[ns].data = (d), s[ns].size = (sz), ns++)
    ADD(0x10, 0, 0xFFFFFFFFu, desc, 65);
    ADD(0x11, 0, 0, part, 16);
    ADD(0x12, 0, 0, NULL, 0);
    ADD(0x13, 0, 0, NULL, 0);
    ADD(0x14, 0, 0, NULL, 0);
    ADD(0x15, 0, 0, fb, 16 * (size_t)x->n);
    ADD(0x16, 0, 0, NULL, 0);
    ADD(0x17, 0, 0, sc, cbq ? 0 : 8 * (size_t)G);
    if ((cbq && x->variant != X_NO_CODEBOOK && x->variant != X_CODEBOOK_AFTER_ROWS) || x->variant == X_EXTRA_CODEBOOK)
        ADD(0x1B, x->variant == X_CODEBOOK_ANCILLARY ? 1 : 0, 0, cb,
            4 * (size_t)G * (K ? K : 16) - (x->variant == X_CODEBOOK_SHORT ? 4 : 0));
    if (x->variant == X_CODEBOOK_TWICE) ADD(0x1B, 0, 0, cb, 4 * (size_t)G * K);
    if (x->variant == X_CODEBOOK_UNKNOWN_ANCILLARY) ADD(0x1B, 1, 0, cb, 4);
    ADD(0x18, 0, 0, rows, rows_size);
    if (x->variant == X_CODEBOOK_AFTER_ROWS) ADD(0x1B, 0, 0, cb, 4 * (size_t)G * K);
    if (x->layout == 1) {
        ADD(0x19, 0, 0, ri, 4 * ((size_t)x->n + 1));
        ADD(0x1A, 0, 0, cols, nnz);
    }
#undef ADD
    return assemble(xfile, sizeof xfile, x->req ? 1 : 0, x->req, s, ns);
}

/* open + validate: the first error, or PHQ_OK */
static phq_code open_validate(size_t len, phq_model *m, phq_error *e)
{
    phq_code rc = phq_open(xfile, len, m, e);
    if (rc == PHQ_OK) rc = phq_validate(m, e);
    return rc;
}

#define EXPECT(x, code, what)                                                                          \
    do {                                                                                               \
        uint32_t sk_[XMAX_N];                                                                          \
        phq_model m_;                                                                                  \
        phq_error e_;                                                                                  \
        size_t l_ = build_table((x), sk_);                                                             \
        phq_code rc_ = open_validate(l_, &m_, &e_);                                                    \
        CHECK(l_ > 0 && rc_ == (code), "%s: got %s (%s), want %s", what, phq_error_name(rc_), e_.msg, \
              phq_error_name(code));                                                                   \
    } while (0)

/* rows of every slot, raw (unpacked) and dequantized, against the codes */
static void check_rows(const xtab *x, const char *what)
{
    uint32_t sk[XMAX_N], i, c;
    phq_model m;
    phq_error e;
    phq_table t;
    size_t len = build_table(x, sk);
    int cbq = x->quant >= 4;
    CHECK(open_validate(len, &m, &e) == PHQ_OK, "%s: %s %s", what, phq_error_name(e.code), e.msg);
    if (e.code != PHQ_OK || !phq_find_table(&m, "t", 1, &t)) return;
    CHECK(t.quant == x->quant && t.itemsize == 1 && t.code_bits == ((x->quant == 5) ? 8 : 4) &&
              t.codebook_levels == (x->quant == 4 ? 16u : x->quant == 5 ? 256u : 0u) && (t.codebook != NULL) == cbq,
          "%s: table fields", what);
    for (i = 0; i < x->n; i++) {
        uint8_t raw[XMAX_DIM + 1];
        float deq[XMAX_DIM + 1], one[XMAX_DIM + 1];
        uint64_t slot;
        char key[16];
        sprintf(key, "k%u", i);
        CHECK(phq_lookup(&t, key, strlen(key), &slot, &e) == PHQ_FOUND && slot == sk[i], "%s: lookup k%u", what, i);
        raw[x->dim] = 0xee;
        CHECK(phq_row_raw(&t, slot, raw, &e) == PHQ_OK && raw[x->dim] == 0xee, "%s: row_raw", what);
        CHECK(phq_row_f32(&t, slot, deq, &e) == PHQ_OK, "%s: row_f32", what);
        CHECK(phq_get_f32(&t, key, strlen(key), one, &e) == PHQ_FOUND && memcmp(one, deq, 4 * x->dim) == 0, "%s: get_f32", what);
        for (c = 0; c < x->dim; c++) {
            uint8_t q = x->codes[slot * x->dim + c];
            uint32_t g = x->sg == 2 ? c : x->sg == 3 ? (uint32_t)slot / x->sbr : 0;
            float v = cbq ? x->levels[g * (x->quant == 4 ? 16 : 256) + q] : phq_linear8(q, x->scales[g], x->zps[g]);
            CHECK(raw[c] == q, "%s: slot %llu col %u raw %u want %u", what, (unsigned long long)slot, c, raw[c], q);
            CHECK(f2b(deq[c]) == f2b(v), "%s: slot %llu col %u deq %08x want %08x", what, (unsigned long long)slot, c,
                  f2b(deq[c]), f2b(v));
        }
    }
}

static void test_v11_files(void)
{
    /* 3 keys x 3 columns: nnz 9 (odd) dense; the linear4 vector of 1.1 §8 in group 0 */
    static const uint8_t l4codes[9] = {0, 3, 4, 15, 3, 3, 1, 2, 3};
    static const float l4sc[3] = {0.5f, 0.25f, 1.5f};
    static const int32_t l4zp[3] = {3, 0, 15};
    static const uint8_t cbcodes[12] = {0, 1, 3, 15, 2, 0, 0, 0, 14, 3, 1, 0};
    static float lv4[XMAX_DIM * 16], lv8[XMAX_DIM * 256];
    xtab x;
    unsigned layout, sg;
    int i;
    char what[80];
    uint64_t L4 = 1, CB = 2;
    for (i = 0; i < XMAX_DIM * 16; i++) lv4[i] = (i % 16 == 0 || i < 16) ? 0.0f : (float)((i % 16) * 0.375 - 2.0 - i / 16);
    for (i = 0; i < XMAX_DIM * 256; i++) lv8[i] = (i % 256 == 0) ? 0.0f : (float)((i % 256) * -0.0625 + 3.0 + i / 256);
    lv4[1] = lv8[1] = -1.0f; /* 1.1 §8: levels [0.0, -1.0, 0.25, 2.0, 0...] */
    lv4[2] = lv8[2] = 0.25f;
    lv4[3] = lv8[3] = 2.0f;

    for (layout = 0; layout < 2; layout++) /* linear4: every granularity and layout */
        for (sg = 1; sg <= 3; sg++) {
            memset(&x, 0, sizeof x);
            x.quant = 3;
            x.layout = layout;
            x.sg = sg;
            x.sbr = sg == 3 ? 2 : 0;
            x.n = 3;
            x.dim = 3;
            x.codes = l4codes;
            x.scales = l4sc;
            x.zps = l4zp;
            x.req = L4;
            sprintf(what, "linear4 sg %u layout %u", sg, layout);
            if (v11) check_rows(&x, what);
            else EXPECT(&x, PHQ_E_FEATURE, what);
        }
    for (layout = 0; layout < 2; layout++) /* codebook4 and codebook8: table and column */
        for (sg = 1; sg <= 2; sg++) {
            unsigned q;
            for (q = 4; q <= 5; q++) {
                memset(&x, 0, sizeof x);
                x.quant = q;
                x.layout = layout;
                x.sg = sg;
                x.n = 3;
                x.dim = 4; /* nnz 12 dense; sparse nnz 8 (even) */
                x.codes = cbcodes;
                x.req = CB;
                x.levels = q == 4 ? lv4 : lv8;
                sprintf(what, "codebook%u sg %u layout %u", q == 4 ? 4 : 8, sg, layout);
                if (v11) check_rows(&x, what);
                else EXPECT(&x, PHQ_E_FEATURE, what);
            }
        }
    if (!v11) { /* a 1.0 reader: the bits refused first; a 1.0 file with quant 3 or kind 0x1B */
        memset(&x, 0, sizeof x);
        x.quant = 2;
        x.sg = 1;
        x.n = 3;
        x.dim = 3;
        x.codes = l4codes;
        x.scales = l4sc;
        x.zps = l4zp;
        EXPECT(&x, PHQ_OK, "v10: plain linear8");
        x.req = L4;
        EXPECT(&x, PHQ_E_FEATURE, "v10: LINEAR4 bit on a linear8 file");
        x.req = 0;
        x.variant = X_EXTRA_CODEBOOK;
        EXPECT(&x, PHQ_E_UNKNOWN_SECTION, "v10: critical kind 0x1B unknown");
        x.variant = X_CODEBOOK_UNKNOWN_ANCILLARY;
        EXPECT(&x, PHQ_OK, "v10: ancillary kind 0x1B skipped");
        x.variant = X_OK;
        x.quant = 3;
        EXPECT(&x, PHQ_E_ENUM, "v10: quant 3 undefined");
        return;
    }

    /* linear4 hostile cases */
    memset(&x, 0, sizeof x);
    x.quant = 3;
    x.sg = 1;
    x.n = 3;
    x.dim = 3;
    x.codes = l4codes;
    x.scales = l4sc;
    x.zps = l4zp;
    x.req = L4;
    EXPECT(&x, PHQ_OK, "linear4 base");
    x.req = L4 | CB;
    EXPECT(&x, PHQ_OK, "linear4 with an unused CODEBOOK bit (harmless, 1.1 §1)");
    x.req = L4 | 8;
    EXPECT(&x, PHQ_E_FEATURE, "unknown required bit 3");
    x.req = L4 | 4; /* COMPACT_SPARSE (1.2 §1): known to a 1.2 build, harmless when unused */
    EXPECT(&x, phq_supported_minor() >= 2 ? PHQ_OK : PHQ_E_FEATURE, "required bit 2 (COMPACT_SPARSE) without a compact table");
    x.req = CB;
    EXPECT(&x, PHQ_E_ENUM, "linear4 without its feature bit");
    x.req = 0;
    EXPECT(&x, PHQ_E_ENUM, "linear4 in a file without feature bits");
    x.req = L4;
    x.variant = X_ROWS_PLUS1;
    EXPECT(&x, PHQ_E_SECTION_SIZE, "linear4 ROWS ceil(9/2) + 1");
    x.variant = X_ROWS_MINUS1;
    EXPECT(&x, PHQ_E_SECTION_SIZE, "linear4 ROWS floor(9/2)");
    x.variant = X_EXTRA_CODEBOOK;
    EXPECT(&x, PHQ_E_SECTION_ORDER, "CODEBOOK in a linear4 table");
    x.variant = X_CODEBOOK_UNKNOWN_ANCILLARY;
    EXPECT(&x, PHQ_E_RESERVED, "CODEBOOK flagged ancillary is known (E_RESERVED)");
    x.variant = X_OK;
    x.sg = 0;
    EXPECT(&x, PHQ_E_ENUM, "linear4 with granularity 0");
    x.sg = 1;
    {
        int32_t zp16[3] = {16, 0, 0}, zp15[3] = {15, 0, 0};
        uint8_t c15[9] = {15, 15, 15, 15, 15, 15, 15, 15, 15};
        x.zps = zp16;
        x.codes = c15;
        EXPECT(&x, PHQ_E_SCALE, "linear4 zero point 16");
        x.zps = zp15;
        EXPECT(&x, PHQ_OK, "linear4 zero point 15");
        x.zps = l4zp;
        x.codes = l4codes;
    }
    { /* the pad nibble: validator only (open accepts the file) */
        uint32_t sk[XMAX_N];
        phq_model m;
        phq_error e;
        size_t len = build_table(&x, sk);
        uint32_t k, nsec = rd32(xfile + 48);
        for (k = 0; k < nsec; k++) {
            unsigned char *ent = xfile + 64 + 32 * k;
            if ((ent[0] | ent[1] << 8) == 0x18) {
                xfile[rd64(ent + 8) + 4] |= 0x10; /* nnz 9: byte 4's high nibble */
                break;
            }
        }
        reseal(xfile);
        CHECK(phq_open(xfile, len, &m, &e) == PHQ_OK, "pad nibble set: open accepts");
        CHECK(phq_validate(&m, &e) == PHQ_E_PADDING, "pad nibble set: E_PADDING, got %s", phq_error_name(e.code));
    }
    x.layout = 1; /* sparse: nnz 6 of 9 (zero point 3 omitted) - even; then odd */
    EXPECT(&x, PHQ_OK, "linear4 sparse");
    x.variant = X_ROWS_PLUS1;
    EXPECT(&x, PHQ_E_SECTION_SIZE, "linear4 sparse ROWS + 1");
    x.variant = X_OK;

    /* codebook hostile cases */
    memset(&x, 0, sizeof x);
    x.quant = 4;
    x.sg = 2;
    x.n = 3;
    x.dim = 4;
    x.codes = cbcodes;
    x.levels = lv4;
    x.req = CB;
    EXPECT(&x, PHQ_OK, "codebook4 base");
    x.req = L4;
    EXPECT(&x, PHQ_E_ENUM, "codebook4 without its feature bit");
    x.req = CB;
    x.sg = 3;
    x.sbr = 1;
    EXPECT(&x, PHQ_E_ENUM, "codebook4 with row-block granularity");
    x.sg = 0;
    x.sbr = 0;
    EXPECT(&x, PHQ_E_ENUM, "codebook4 with granularity 0");
    x.sg = 2;
    x.variant = X_NO_CODEBOOK;
    EXPECT(&x, PHQ_E_SECTION_ORDER, "CODEBOOK missing");
    x.variant = X_CODEBOOK_AFTER_ROWS;
    EXPECT(&x, PHQ_E_SECTION_ORDER, "CODEBOOK after ROWS");
    x.variant = X_CODEBOOK_TWICE;
    EXPECT(&x, PHQ_E_SECTION_ORDER, "CODEBOOK twice");
    x.variant = X_CODEBOOK_ANCILLARY;
    EXPECT(&x, PHQ_E_RESERVED, "CODEBOOK flagged ancillary");
    x.variant = X_CODEBOOK_SHORT;
    EXPECT(&x, PHQ_E_SECTION_SIZE, "CODEBOOK one level short");
    x.variant = X_ROWS_MINUS1;
    EXPECT(&x, PHQ_E_SECTION_SIZE, "codebook4 ROWS short");
    x.variant = X_OK;
    x.quant = 5;
    x.levels = lv8;
    x.variant = X_ROWS_PLUS1;
    EXPECT(&x, PHQ_E_SECTION_SIZE, "codebook8 ROWS long");
    x.variant = X_OK;
    lv8[3 * 256] = -0.0f; /* group 3, level 0 */
    EXPECT(&x, PHQ_E_SCALE, "codebook8 level 0 = -0.0");
    lv8[3 * 256] = 0.0f;
    x.quant = 4;
    x.levels = lv4;
    lv4[16] = -0.0f; /* group 1, level 0 */
    EXPECT(&x, PHQ_E_SCALE, "codebook level 0 = -0.0");
    lv4[16] = 0.0f;
    lv4[16 + 5] = 1e-30f; /* group 1, level 5 */
    EXPECT(&x, PHQ_OK, "codebook tiny level");
    {
        uint32_t nanb = 0x7fc00000u, infb = 0xff800000u;
        memcpy(&lv4[16 + 5], &nanb, 4);
        EXPECT(&x, PHQ_E_VALUE, "codebook level NaN");
        lv4[32] = 1.0f; /* also level 0 of group 2 not zero: E_VALUE comes first (1.1 §5.3) */
        EXPECT(&x, PHQ_E_VALUE, "NaN level before level 0 check");
        lv4[32] = 0.0f;
        memcpy(&lv4[16 + 5], &infb, 4);
        EXPECT(&x, PHQ_E_VALUE, "codebook level -inf");
        lv4[16 + 5] = 0.5f;
        lv4[32] = 2.0f; /* group 2, level 0 */
        EXPECT(&x, PHQ_E_SCALE, "codebook level 0 not zero");
        lv4[32] = 0.0f;
    }
    x.layout = 1;
    EXPECT(&x, PHQ_OK, "codebook4 sparse");
    { /* sparse codebook rows: omitted values read back as level 0 = +0.0 */
        sprintf(what, "codebook4 column sparse");
        check_rows(&x, what);
    }
    { /* G x K x 4 for dim 2^24 codebook8 columns (2^34 bytes): refused by size, nothing read */
        uint32_t sk[XMAX_N];
        phq_model m;
        phq_error e;
        size_t len;
        memset(&x, 0, sizeof x);
        x.quant = 5;
        x.sg = 2;
        x.n = 0;
        x.dim = 1;
        x.levels = lv8;
        x.req = CB;
        len = build_table(&x, sk);
        CHECK(open_validate(len, &m, &e) == PHQ_OK, "empty codebook8 table: %s", e.msg);
        wr32(xfile + rd64(xfile + 64 + 8) + 8, 1u << 24); /* dim of the descriptor (section 0) */
        reseal(xfile);
        CHECK(phq_open(xfile, len, &m, &e) == PHQ_E_SECTION_SIZE, "dim 2^24 codebook8: %s", phq_error_name(e.code));
    }
}

/* Issue 15 item 7 (spec 10): phq_map_file refuses a FIFO (whose plain open would wait for
 * a writer forever), a device and a directory with EINVAL, before reading and without
 * blocking (an alarm ends the test instead of letting it hang). */
static void test_special_files(void)
{
    char dir[] = "/tmp/phq-test-XXXXXX", fifo[64];
    phq_mapping mp;
    int rc;
    struct itimerval limit = {{0, 0}, {20, 0}}, off = {{0, 0}, {0, 0}};
    setitimer(ITIMER_REAL, &limit, NULL); /* SIGALRM ends the process if a call blocks */
    CHECK(mkdtemp(dir) != NULL, "mkdtemp");
    snprintf(fifo, sizeof fifo, "%s/model.phq", dir);
    CHECK(mkfifo(fifo, 0600) == 0, "mkfifo");
    errno = 0;
    rc = phq_map_file(fifo, &mp);
    CHECK(rc == -1 && errno == EINVAL && mp.data == NULL, "a FIFO is refused with EINVAL (rc %d, errno %d)", rc, errno);
    errno = 0;
    rc = phq_map_file("/dev/null", &mp);
    CHECK(rc == -1 && errno == EINVAL, "a character device is refused with EINVAL");
    errno = 0;
    rc = phq_map_file(dir, &mp);
    CHECK(rc == -1 && errno == EINVAL, "a directory is refused with EINVAL");
    remove(fifo);
    remove(dir);
    setitimer(ITIMER_REAL, &off, NULL);
}

#ifdef PHQ_TEST_COUNTERS
extern unsigned long long phq_test_name_compares; /* phq.c, -DPHQ_TEST_COUNTERS builds */

static double log2_of(double x) { return log(x) / log(2.0); }

/* Issue 15 item 1: phq_open without a workspace (the default path) finds duplicate metadata
 * members and duplicate tensor names with O(k log k) name comparisons, however many there
 * are (it used to take them 256 at a time: O(k^2 / 256)), and still finds a duplicate. */
static void test_open_cost(void)
{
    const size_t K = 300000, T = 20000;
    size_t k, n = 0, len, cap;
    char *meta = (char *)malloc(16 * K + 64);
    unsigned char *file, (*tens)[80];
    xsec *s;
    phq_model m;
    phq_error e;
    unsigned long long used;
    meta[n++] = '{';
    for (k = 0; k < K; k++) n += (size_t)sprintf(meta + n, "%s\"m%lu\":0", k ? "," : "", (unsigned long)k);
    meta[n++] = '}';
    cap = n + 4096;
    file = (unsigned char *)malloc(cap);
    s = (xsec *)malloc(sizeof *s * (T + 1));
    s[0].kind = 1, s[0].flags = 0, s[0].owner = 0xFFFFFFFFu, s[0].data = (unsigned char *)meta, s[0].size = n;
    len = assemble(file, cap, 0, 0, s, 1);
    phq_test_name_compares = 0;
    CHECK(len && phq_open(file, len, &m, &e) == PHQ_OK, "META of %lu members opens: %s", (unsigned long)K, e.msg);
    used = phq_test_name_compares;
    CHECK((double)used <= 4.0 * (double)K * log2_of((double)K), "%lu members: %llu name comparisons, more than 4 k log2 k",
          (unsigned long)K, used);
    memcpy(meta + n - 1, ",\"m\\u0031\":1}", 13); /* "m1" again, escaped */
    s[0].size = n + 12;
    len = assemble(file, cap, 0, 0, s, 1);
    CHECK(len && phq_open(file, len, &m, &e) == PHQ_E_METADATA, "a late duplicate member among %lu: %s", (unsigned long)K,
          phq_error_name(e.code));
    free(file);
    /* T scalar u8 tensors "t0".."t{T-1}" */
    tens = (unsigned char (*)[80])calloc(T, sizeof *tens);
    for (k = 0; k < T; k++) {
        int nl = sprintf((char *)tens[k] + 8, "t%lu", (unsigned long)k);
        tens[k][0] = 8; /* u8, ndim 0 */
        tens[k][2] = (unsigned char)nl;
        tens[k][64] = (unsigned char)k;
        s[k].kind = 2, s[k].flags = 0, s[k].owner = 0xFFFFFFFFu, s[k].data = tens[k], s[k].size = 65;
    }
    cap = 64 + 32 * T + 128 * T + 64;
    file = (unsigned char *)malloc(cap);
    len = assemble(file, cap, 0, 0, s, (uint32_t)T);
    phq_test_name_compares = 0;
    CHECK(len && phq_open(file, len, &m, &e) == PHQ_OK && phq_tensor_count(&m) == T, "%lu tensors open: %s", (unsigned long)T, e.msg);
    used = phq_test_name_compares;
    CHECK((double)used <= 4.0 * (double)T * log2_of((double)T), "%lu tensor names: %llu name comparisons, more than 4 k log2 k",
          (unsigned long)T, used);
    memset(tens[T - 1] + 8, 0, 56);
    sprintf((char *)tens[T - 1] + 8, "t7");
    tens[T - 1][2] = 2;
    len = assemble(file, cap, 0, 0, s, (uint32_t)T);
    CHECK(len && phq_open(file, len, &m, &e) == PHQ_E_DUPLICATE_NAME && e.section == T - 1, "a late duplicate tensor name: %s",
          phq_error_name(e.code));
    free(file);
    free(tens);
    free(s);
    free(meta);
}
#else
static void test_open_cost(void) {}
#endif

int main(int argc, char **argv)
{
    test_hash_kat();
    test_linear8_kat();
    test_crc();
    test_f16();
    test_utf8_json();
    test_api_misuse();
    v11 = phq_supported_minor() >= 1;
    test_v11_kat();
    test_v11_files();
    test_open_cost();
    test_special_files();
    if (argc > 1) {
        DIR *d = opendir(argv[1]);
        struct dirent *de;
        int files = 0;
        CHECK(d != NULL, "open data dir %s", argv[1]);
        while (d && (de = readdir(d)) != NULL) {
            size_t n = strlen(de->d_name);
            char base[512];
            if (n < 5 || n >= sizeof base || strcmp(de->d_name + n - 4, ".phq") != 0) continue;
            memcpy(base, de->d_name, n - 4);
            base[n - 4] = 0;
            test_file(argv[1], base);
            files++;
        }
        if (d) closedir(d);
        CHECK(files >= 20, "data files found: %d", files);
        test_duplicates(argv[1]);
    }
    printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
