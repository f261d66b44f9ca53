/*
 * bench_fp_placement.c - would fingerprints next to the rows pay? (issue 19; bench/README.md)
 *   bench_fp_placement N DIM REPEATS
 * The last two accesses of a lookup, batched and prefetched as phq_get_f32_many does them
 * (groups of 64 slots: prefetch every fingerprint, check them, prefetch every row, read the
 * rows): random slots of a table of N rows of DIM linear8 codes with 16-bit fingerprints, in
 * two layouts held in anonymous memory:
 *   split        today's format: FINGERPRINTS (2N bytes) and ROWS (N x DIM bytes) apart: a
 *                member costs the fingerprint's line and the row's lines
 *   interleaved  a fingerprint in front of each row (N x (2 + DIM) bytes): a member costs the
 *                row's lines only (the fingerprint is on the row's first line)
 * Members (the fingerprint matches: the row is read and summed, as a dequantization would read
 * it) and non-members (it does not: nothing else is read) separately. The MPH part of a
 * lookup is the same in both layouts and is not run. Fingerprints next to the rank entries
 * cannot share one line: a rank entry covers 2048 bitmap bits, hundreds of keys, whose
 * fingerprints (2 bytes each) span many lines. Prints one JSON object: ns per key (thread
 * CPU time), the best of REPEATS passes.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define G 64

static double now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static uint64_t mix(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ULL;
    return x ^ (x >> 33);
}

#define PF(p) __builtin_prefetch((const void *)(p))

/* one pass over the probes; mode 0 split, 1 interleaved; returns a checksum */
static uint64_t pass(int mode, const uint8_t *fps, const uint8_t *rows, const uint8_t *recs, size_t dim,
                     const uint64_t *slot, const uint16_t *want, size_t m)
{
    size_t i0, j, c, rec = dim + 2;
    uint64_t acc = 0;
    for (i0 = 0; i0 < m; i0 += G) {
        size_t cnt = m - i0 < G ? m - i0 : G;
        int hit[G];
        for (j = 0; j < cnt; j++) {
            if (mode == 0) PF(fps + 2 * slot[i0 + j]);
            else PF(recs + rec * slot[i0 + j]);
            acc += j; /* keeps the loop (a loop of prefetches alone may be deleted) */
        }
        for (j = 0; j < cnt; j++) {
            const uint8_t *f = mode == 0 ? fps + 2 * slot[i0 + j] : recs + rec * slot[i0 + j];
            uint16_t fp = (uint16_t)(f[0] | f[1] << 8);
            hit[j] = fp == want[i0 + j];
            if (hit[j]) {
                const uint8_t *r = mode == 0 ? rows + dim * slot[i0 + j] : f + 2;
                for (c = 0; c < dim + 2; c += 64) {
                    PF(r + c);
                    acc += c; /* see above */
                }
                PF(r + dim - 1);
            }
        }
        for (j = 0; j < cnt; j++) {
            const uint8_t *r;
            if (!hit[j]) continue;
            r = mode == 0 ? rows + dim * slot[i0 + j] : recs + rec * slot[i0 + j] + 2;
            for (c = 0; c < dim; c++) acc += r[c];
        }
    }
    return acc;
}

int main(int argc, char **argv)
{
    size_t n, dim, m, i;
    int repeats, mode, who, r;
    uint8_t *fps, *rows, *recs;
    uint64_t *slot, sink = 0;
    uint16_t *want[2];
    double best[2][2];
    if (argc != 4) {
        fprintf(stderr, "usage: %s N DIM REPEATS\n", argv[0]);
        return 2;
    }
    n = (size_t)atol(argv[1]);
    dim = (size_t)atol(argv[2]);
    repeats = atoi(argv[3]);
    m = n < 4000000 ? n : 4000000; /* probes per pass */
    fps = malloc(2 * n);
    rows = malloc(n * dim);
    recs = malloc(n * (dim + 2));
    slot = malloc(8 * m);
    want[0] = malloc(2 * m);
    want[1] = malloc(2 * m);
    if (!fps || !rows || !recs || !slot || !want[0] || !want[1]) return 2;
    for (i = 0; i < n; i++) {
        uint16_t fp = (uint16_t)mix(i);
        fps[2 * i] = (uint8_t)fp;
        fps[2 * i + 1] = (uint8_t)(fp >> 8);
        memcpy(recs + (dim + 2) * i, fps + 2 * i, 2);
    }
    for (i = 0; i < n * dim; i++) rows[i] = (uint8_t)i;
    for (i = 0; i < n; i++) memcpy(recs + (dim + 2) * i + 2, rows + dim * i, dim);
    for (i = 0; i < m; i++) {
        slot[i] = mix(i + 77) % n;
        want[0][i] = (uint16_t)mix(slot[i]);      /* members: the stored fingerprint */
        want[1][i] = (uint16_t)(want[0][i] ^ 1u); /* non-members: another one */
    }
    for (mode = 0; mode < 2; mode++)
        for (who = 0; who < 2; who++) best[mode][who] = 1e300;
    for (r = 0; r < repeats; r++)
        for (mode = 0; mode < 2; mode++)
            for (who = 0; who < 2; who++) {
                double t0 = now_ns(), dt;
                sink += pass(mode, fps, rows, recs, dim, slot, want[who], m);
                dt = (now_ns() - t0) / (double)m;
                if (dt < best[mode][who]) best[mode][who] = dt;
            }
    printf("{\"n\": %zu, \"dim\": %zu, \"probes\": %zu, \"repeats\": %d, \"group\": %d, "
           "\"split_member_ns\": %.2f, \"split_nonmember_ns\": %.2f, "
           "\"interleaved_member_ns\": %.2f, \"interleaved_nonmember_ns\": %.2f, \"checksum\": %llu}\n",
           n, dim, m, repeats, G, best[0][0], best[0][1], best[1][0], best[1][1], (unsigned long long)(sink & 0xffff));
    free(fps);
    free(rows);
    free(recs);
    free(slot);
    free(want[0]);
    free(want[1]);
    return 0;
}
