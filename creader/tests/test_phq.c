/*
 * test_phq.c - unit tests of the C reader.
 *   test_phq DATADIR      (DATADIR: files made by tests/gen_testdata.py)
 * Known-answer vectors of spec 15 (MurmurHash3_x64_128, fmix64, hash scheme 1, linear8,
 * CRC32C), f16, UTF-8 and JSON validators; then, for every DATADIR/NAME.phq, lookups and
 * rows compared with NAME.keys (the Python reader's answers), every slot read, and
 * hostile variants (every truncation, byte flips, flips with re-sealed CRCs) that must be
 * refused or, for re-sealed payload damage, answered without reading outside the file.
 * Prints "N passed, N failed".
 */
#define _POSIX_C_SOURCE 200809L
#include "../phq.h"
#include "../phq_posix.h"

#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int passed, failed;

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

int main(int argc, char **argv)
{
    test_hash_kat();
    test_linear8_kat();
    test_crc();
    test_f16();
    test_utf8_json();
    test_api_misuse();
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
