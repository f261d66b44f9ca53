/*
 * bench_c_lookup.c - ns per lookup of the C reader (creader/phq.c).
 *   bench_c_lookup MODEL KEYS_FILE TABLE REPEATS
 * KEYS_FILE: newline-separated keys (all of them in the table). Prints one JSON object:
 *   open_ns, validate_ns, and the best of REPEATS passes over all keys of
 *   key_to_row_ns    key bytes -> MurmurHash3 -> MPH slot -> fingerprint -> f32 row
 *   key_to_slot_ns   the same without the row
 *   hash_to_slot_ns  from precomputed (h1, h2) (hashing untimed), like BBHash lookups
 *   hash_only_ns     MurmurHash3_x64_128 of the key alone
 *   batch_key_to_row_ns  key -> row with phq_get_f32_many (16 keys at a time, overlapping
 *                    memory accesses), 4096 keys per call
 *   batch_hash_to_slot_ns  phq_lookup_hash_many from precomputed (h1, h2), 4096 per call
 * Built by bench_c_lookup.py with -O2 against creader/phq.c.
 */
#define _POSIX_C_SOURCE 200809L
#include "../creader/phq.h"
#include "../creader/phq_posix.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

int main(int argc, char **argv)
{
    phq_mapping model, keys;
    phq_model m;
    phq_error err;
    phq_table t;
    size_t n = 0, i, *start, *len, pos;
    const char *kb;
    uint64_t *h, found = 0, slot;
    float *row, *brow;
    const void **kptr;
    signed char *bstat;
    uint64_t *bslot;
    double t0, best_bhash = 1e300, best_batch = 1e300, best_row = 1e300, best_slot = 1e300, best_hash = 1e300, best_only = 1e300, open_ns, val_ns;
    volatile double sink = 0;
    int rep, repeats;
    if (argc != 5) {
        fprintf(stderr, "usage: %s MODEL KEYS_FILE TABLE REPEATS\n", argv[0]);
        return 2;
    }
    repeats = atoi(argv[4]);
    if (phq_map_file(argv[1], &model) || phq_map_file(argv[2], &keys)) {
        perror("map");
        return 2;
    }
    t0 = now_ns();
    if (phq_open(model.data, model.len, &m, &err) != PHQ_OK) {
        fprintf(stderr, "open: %s %s\n", phq_error_name(err.code), err.msg);
        return 1;
    }
    open_ns = now_ns() - t0;
    t0 = now_ns();
    if (phq_validate(&m, &err) != PHQ_OK) {
        fprintf(stderr, "validate: %s %s\n", phq_error_name(err.code), err.msg);
        return 1;
    }
    val_ns = now_ns() - t0;
    if (!phq_find_table(&m, argv[3], strlen(argv[3]), &t)) {
        fprintf(stderr, "no table %s\n", argv[3]);
        return 1;
    }
    kb = (const char *)keys.data;
    for (pos = 0; pos < keys.len; pos++)
        if (kb[pos] == '\n') n++;
    if (keys.len && kb[keys.len - 1] != '\n') n++;
    start = (size_t *)malloc(sizeof *start * (n + 1));
    len = (size_t *)malloc(sizeof *len * (n + 1));
    h = (uint64_t *)malloc(2 * sizeof *h * (n + 1));
    row = (float *)malloc(sizeof *row * (t.dim + 1));
    if (!start || !len || !h || !row) return 2;
    kptr = (const void **)malloc(sizeof *kptr * (n + 1));
    brow = (float *)malloc(sizeof *brow * 4096 * (t.dim + 1));
    bstat = (signed char *)malloc(4096);
    bslot = (uint64_t *)malloc(sizeof *bslot * 4096);
    if (!kptr || !brow || !bstat) return 2;
    for (i = 0, pos = 0; i < n; i++) {
        size_t e = pos;
        while (e < keys.len && kb[e] != '\n') e++;
        start[i] = pos;
        len[i] = e - pos;
        kptr[i] = kb + pos;
        pos = e + 1;
    }
    for (i = 0; i < n; i++) phq_murmur3_x64_128(kb + start[i], len[i], t.seed, h + 2 * i);
    for (rep = 0; rep < repeats; rep++) {
        double dt;
        found = 0;
        t0 = now_ns();
        for (i = 0; i < n; i++)
            if (phq_get_f32(&t, kb + start[i], len[i], row, &err) == PHQ_FOUND) {
                found++;
                sink += row[0];
            }
        dt = (now_ns() - t0) / (double)n;
        if (dt < best_row) best_row = dt;
        t0 = now_ns();
        for (i = 0; i < n; i += 4096) {
            size_t c = n - i < 4096 ? n - i : 4096;
            if (phq_get_f32_many(&t, kptr + i, len + i, c, brow, bstat, &err) != c) {
                fprintf(stderr, "batch lookup missed keys\n");
                return 1;
            }
            sink += brow[0];
        }
        dt = (now_ns() - t0) / (double)n;
        if (dt < best_batch) best_batch = dt;
        t0 = now_ns();
        for (i = 0; i < n; i += 4096) {
            size_t c = n - i < 4096 ? n - i : 4096;
            if (phq_lookup_hash_many(&t, h + 2 * i, c, bslot, bstat, &err) != c) {
                fprintf(stderr, "batch hash lookup missed keys\n");
                return 1;
            }
            sink += (double)bslot[0];
        }
        dt = (now_ns() - t0) / (double)n;
        if (dt < best_bhash) best_bhash = dt;
        t0 = now_ns();
        for (i = 0; i < n; i++)
            if (phq_lookup(&t, kb + start[i], len[i], &slot, &err) == PHQ_FOUND) sink += (double)slot;
        dt = (now_ns() - t0) / (double)n;
        if (dt < best_slot) best_slot = dt;
        t0 = now_ns();
        for (i = 0; i < n; i++)
            if (phq_lookup_hash(&t, h[2 * i], h[2 * i + 1], &slot, &err) == PHQ_FOUND) sink += (double)slot;
        dt = (now_ns() - t0) / (double)n;
        if (dt < best_hash) best_hash = dt;
        t0 = now_ns();
        for (i = 0; i < n; i++) {
            uint64_t hh[2];
            phq_murmur3_x64_128(kb + start[i], len[i], t.seed, hh);
            sink += (double)(hh[0] & 1);
        }
        dt = (now_ns() - t0) / (double)n;
        if (dt < best_only) best_only = dt;
    }
    printf("{\"n\": %lu, \"found\": %llu, \"dim\": %u, \"quant\": \"%s\", \"open_ns\": %.0f, \"validate_ns\": %.0f, "
           "\"key_to_row_ns\": %.2f, \"batch_key_to_row_ns\": %.2f, \"key_to_slot_ns\": %.2f, \"hash_to_slot_ns\": %.2f, \"batch_hash_to_slot_ns\": %.2f, \"hash_only_ns\": %.2f}\n",
           (unsigned long)n, (unsigned long long)found, t.dim, phq_quant_name(t.quant), open_ns, val_ns, best_row,
           best_batch, best_slot, best_hash, best_bhash, best_only);
    (void)sink;
    free(start);
    free(len);
    free(h);
    free(row);
    free(brow);
    free(bstat);
    free(bslot);
    free(kptr);
    phq_unmap_file(&keys);
    phq_unmap_file(&model);
    return found == n ? 0 : 1;
}
