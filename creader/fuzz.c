/*
 * fuzz.c - libFuzzer harness for the C reader (make -C creader fuzz).
 * Each input is a whole file image: open (10.1), validate (10.2), then - whether or not
 * validation passed, to exercise the 10.3 lookup-time guarantees - every table: lookups
 * of keys that look present (the fallback list's own hashes, keys built from the input,
 * common key shapes) and random hashes, rows of found slots and of a few fixed slots;
 * every tensor's data and the metadata are touched. The JSON validator is also fed the
 * raw input. ASan/UBSan report any read outside the buffer.
 * Each input runs twice: as is (checksum paths), and "re-sealed" - a copy whose header,
 * section-table and section CRC32Cs are recomputed - so that mutations reach the checks
 * and lookups behind the checksums.
 * Seeds: the golden files of every format version (conformance/v1.*, Makefile), so format
 * 1.1's linear4 / codebook tables and CODEBOOK parts are mutated too. A raw row of 4-bit
 * codes must hold codes 0..15 only (checked here: abort otherwise).
 */
#include "phq.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_DIM 4096
static unsigned char raw_buf[4 * MAX_DIM];
static float f32_buf[MAX_DIM];
static volatile unsigned sink;

static void read_rows(const phq_table *t, uint64_t slot)
{
    phq_error e;
    if (t->dim > MAX_DIM) return;
    if (phq_row_raw(t, slot, raw_buf, &e) == PHQ_OK && t->dim) {
        uint32_t c;
        sink += raw_buf[0];
        if (t->code_bits == 4)
            for (c = 0; c < t->dim; c++)
                if (raw_buf[c] > 15) abort(); /* unpacked nibbles (1.1 §4.3) */
    }
    if (phq_row_f32(t, slot, f32_buf, &e) == PHQ_OK && t->dim) sink += (unsigned)(f32_buf[t->dim - 1] != 0.0f);
}

static void probe_hash(const phq_table *t, uint64_t h1, uint64_t h2)
{
    uint64_t slot;
    phq_error e;
    if (phq_lookup_hash(t, h1, h2, &slot, &e) == PHQ_FOUND) read_rows(t, slot);
}

static void probe_key(const phq_table *t, const void *k, size_t n)
{
    uint64_t slot;
    phq_error e;
    if (phq_lookup(t, k, n, &slot, &e) == PHQ_FOUND) read_rows(t, slot);
}

static void run(const uint8_t *data, size_t size);

static uint32_t rd32(const unsigned char *p) { return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24; }
static uint64_t rd64(const unsigned char *p) { return rd32(p) | (uint64_t)rd32(p + 4) << 32; }
static void wr32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)v;
    p[1] = (unsigned char)(v >> 8);
    p[2] = (unsigned char)(v >> 16);
    p[3] = (unsigned char)(v >> 24);
}

static unsigned char sealed[1 << 20];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    run(data, size);
    if (size >= 64 && size <= sizeof sealed) {
        uint64_t nsec, k;
        memcpy(sealed, data, size);
        nsec = rd32(sealed + 48);
        if (64 + 32 * nsec <= size) {
            for (k = 0; k < nsec; k++) {
                unsigned char *ent = sealed + 64 + 32 * k;
                uint64_t off = rd64(ent + 8), sz = rd64(ent + 16);
                if (off <= size && sz <= size - off) wr32(ent + 24, phq_crc32c(0, sealed + off, (size_t)sz));
            }
            wr32(sealed + 52, phq_crc32c(0, sealed + 64, (size_t)(32 * nsec)));
        }
        wr32(sealed + 60, phq_crc32c(0, sealed, 60));
        run(sealed, size);
    }
    return 0;
}

static void run(const uint8_t *data, size_t size)
{
    phq_model m;
    phq_error e;
    const unsigned char *meta;
    size_t meta_len, i;
    uint32_t k;

    phq_json_object_valid(data, size, NULL, 0, NULL, NULL);
    if (phq_open(data, size, &m, &e) != PHQ_OK) return;
    phq_validate(&m, &e);
    if (phq_metadata(&m, &meta, &meta_len) && meta_len) sink += meta[0] + meta[meta_len - 1];
    for (k = 0; k < phq_tensor_count(&m); k++) {
        phq_tensor t;
        if (phq_tensor_at(&m, k, &t) == PHQ_OK && t.nbytes) sink += t.data[0] + t.data[t.nbytes - 1] + t.name[0];
    }
    for (k = 0; k < phq_table_count(&m) && k < 16; k++) {
        phq_table t, found;
        uint64_t j, x = 0x9E3779B97F4A7C15ULL;
        char key[64];
        phq_part_info idx[64];
        if (phq_table_at(&m, k, &t) != PHQ_OK) continue;
        if (phq_find_table(&m, t.name, t.name_len, &found)) sink += (unsigned)found.dim;
        /* present-looking: the fallback list's own hashes */
        for (j = 0; j < t.num_fallback && j < 64; j++) {
            const unsigned char *f = t.fallback + 16 * j;
            uint64_t h1 = 0, h2 = 0;
            int b;
            for (b = 7; b >= 0; b--) {
                h1 = (h1 << 8) | f[b];
                h2 = (h2 << 8) | f[8 + b];
            }
            probe_hash(&t, h1, h2);
        }
        /* keys: common shapes, the empty key, slices of the input, random hashes */
        probe_key(&t, "", 0);
        for (j = 0; j < 32; j++) {
            int n = snprintf(key, sizeof key, j % 2 ? "k=%u|w+1=%u" : "w=%u", (unsigned)j, (unsigned)(j * 7));
            probe_key(&t, key, (size_t)n);
        }
        for (i = 0; i + 8 <= size && i < 512; i += 37) probe_key(&t, data + i, 8 + i % 9);
        for (j = 0; j < 64; j++) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            probe_hash(&t, x, x * 0xff51afd7ed558ccdULL);
        }
        /* a few fixed slots */
        if (t.num_keys) {
            read_rows(&t, 0);
            read_rows(&t, t.num_keys - 1);
            read_rows(&t, t.num_keys / 2);
        }
        /* batched lookups (same answers, prefetching path) */
        {
            uint64_t hs[2 * 20], sl[20];
            signed char st[20];
            const void *kp[8];
            size_t kl[8];
            for (j = 0; j < 20; j++) {
                hs[2 * j] = x * (j + 1);
                hs[2 * j + 1] = x ^ (j * 0x9E3779B97F4A7C15ULL);
            }
            for (j = 0; j < t.num_fallback && j < 10; j++) { /* a few present-looking ones */
                const unsigned char *f = t.fallback + 16 * j;
                memcpy(&hs[2 * j], f, 8); /* host order; fine on little-endian fuzz hosts */
                memcpy(&hs[2 * j + 1], f + 8, 8);
            }
            phq_lookup_hash_many(&t, hs, 20, sl, st, &e);
            for (j = 0; j < 8; j++) {
                kp[j] = data + (j * 7 < size ? j * 7 : 0);
                kl[j] = size > j * 7 + 5 ? 5 : 0;
            }
            if ((uint64_t)t.dim * 8 <= MAX_DIM) {
                phq_get_f32_many(&t, kp, kl, 8, f32_buf, st, &e);
                phq_get_f32_hash_many(&t, hs, 8, f32_buf, st, &e);
            }
            if ((uint64_t)t.dim * t.itemsize * 8 <= 4 * MAX_DIM) {
                phq_get_raw_many(&t, kp, kl, 8, raw_buf, st, &e);
                phq_get_raw_hash_many(&t, hs, 8, raw_buf, st, &e);
            }
        }
        /* the partition index path */
        if (t.num_partitions <= 64 && phq_table_set_index(&t, idx, 64) == PHQ_OK)
            for (j = 0; j < 16; j++) probe_key(&t, key, (size_t)(j % 12));
    }
}
