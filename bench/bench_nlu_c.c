/*
 * bench_nlu_c.c - the C NLU runtime (creader/phq_nlu.h) on a file of utterances, single thread.
 *
 *   bench_nlu_c MODEL TEXTS [REPS]
 *
 * TEXTS: one utterance per line. Prints one JSON object: batch throughput (best of REPS passes
 * over every utterance: featurize, score, argmax), single-utterance latency p50/p99/mean (each
 * utterance timed alone, over REPS passes), the model's arena and the largest workspace, and a
 * checksum of the predicted class indices (so the work cannot be optimized away and runs can be
 * compared). A model with a tagger (profile 3) is timed on phq_nlu_parse (tokens, features,
 * Viterbi, spans, and the intent when the model has a classifier) instead of the classifier alone.
 * Built by bench/bench_nlu.py and bench/bench_tagger.py with the same flags as the library.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "phq.h"
#include "phq_nlu.h"
#include "phq_posix.h"

static double now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts); /* CPU time: other jobs do not inflate it */
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: %s MODEL TEXTS [REPS]\n", argv[0]);
        return 2;
    }
    int reps = argc > 3 ? atoi(argv[3]) : 5;
    if (reps < 1) reps = 1;
    phq_mapping mf;
    phq_error err;
    if (phq_map_file(argv[1], &mf) != 0) {
        perror(argv[1]);
        return 1;
    }
    phq_model model;
    if (phq_open(mf.data, mf.len, &model, &err) != PHQ_OK) {
        fprintf(stderr, "%s: %s\n", phq_error_name(err.code), err.msg);
        return 1;
    }
    phq_nlu *nlu = NULL;
    phq_nlu_error nerr;
    double t0 = now_ns();
    if (phq_nlu_open(&model, &nlu, &nerr) != PHQ_NLU_OK) {
        fprintf(stderr, "%s: %s\n", phq_nlu_error_name(nerr.code), nerr.msg);
        return 1;
    }
    double open_ns = now_ns() - t0;

    FILE *f = fopen(argv[2], "rb");
    if (!f) {
        perror(argv[2]);
        return 2;
    }
    size_t cap = 1024, n = 0;
    char **texts = malloc(cap * sizeof *texts);
    size_t *lens = malloc(cap * sizeof *lens);
    char *line = NULL;
    size_t line_cap = 0;
    ssize_t got;
    while ((got = getline(&line, &line_cap, f)) >= 0) {
        size_t len = (size_t)got;
        if (len && line[len - 1] == '\n') len--;
        if (len && line[len - 1] == '\r') len--;
        if (n == cap) {
            cap *= 2;
            texts = realloc(texts, cap * sizeof *texts);
            lens = realloc(lens, cap * sizeof *lens);
        }
        texts[n] = malloc(len + 1);
        memcpy(texts[n], line, len);
        lens[n] = len;
        n++;
    }
    free(line);
    fclose(f);

    size_t ws_size = 0;
    for (size_t i = 0; i < n; i++) {
        size_t need = phq_nlu_workspace_size(nlu, texts[i], lens[i]);
        if (need > ws_size) ws_size = need;
    }
    void *ws = malloc(ws_size ? ws_size : 1);
    uint32_t k = phq_nlu_output_count(nlu);
    int parse = phq_nlu_has_tagger(nlu);
    phq_nlu_parse_result pr;
    double *dec = malloc(k * sizeof *dec);
    double *lat = malloc(n * (size_t)reps * sizeof *lat);

    double best = 1e300;
    uint64_t checksum = 0;
    for (int r = 0; r < reps; r++) {
        uint64_t sum = 0;
        double start = now_ns();
        for (size_t i = 0; i < n; i++) {
            if (parse) {
                if (phq_nlu_parse(nlu, texts[i], lens[i], ws, ws_size, &pr, &nerr) != PHQ_NLU_OK) {
                    fprintf(stderr, "%s: %s\n", phq_nlu_error_name(nerr.code), nerr.msg);
                    return 1;
                }
                sum = sum * 31 + pr.n_slots + (pr.n_slots ? pr.slots[0].start : 0);
                continue;
            }
            if (phq_nlu_decision(nlu, texts[i], lens[i], ws, ws_size, dec, &nerr) != PHQ_NLU_OK) {
                fprintf(stderr, "%s: %s\n", phq_nlu_error_name(nerr.code), nerr.msg);
                return 1;
            }
            sum = sum * 31 + phq_nlu_argmax(nlu, dec);
        }
        double t = now_ns() - start;
        if (t < best) best = t;
        checksum = sum;
    }
    for (int r = 0; r < reps; r++) {
        for (size_t i = 0; i < n; i++) {
            double start = now_ns();
            if (parse) {
                phq_nlu_parse(nlu, texts[i], lens[i], ws, ws_size, &pr, &nerr);
            } else {
                phq_nlu_decision(nlu, texts[i], lens[i], ws, ws_size, dec, &nerr);
                (void)phq_nlu_argmax(nlu, dec);
            }
            lat[(size_t)r * n + i] = now_ns() - start;
        }
    }
    size_t m = n * (size_t)reps;
    double mean = 0;
    for (size_t i = 0; i < m; i++) mean += lat[i];
    mean = m ? mean / (double)m : 0;
    qsort(lat, m, sizeof *lat, cmp_double);
    double p50 = m ? lat[m / 2] : 0, p99 = m ? lat[(size_t)((double)(m - 1) * 0.99)] : 0;

    printf("{\"utterances\": %zu, \"reps\": %d, \"batch_seconds\": %.9f, \"batch_per_s\": %.3f, "
           "\"single_p50_us\": %.4f, \"single_p99_us\": %.4f, \"single_mean_us\": %.4f, \"open_us\": %.3f, "
           "\"arena_bytes\": %zu, \"max_workspace_bytes\": %zu, \"checksum\": %llu}\n",
           n, reps, best / 1e9, n / (best / 1e9), p50 / 1e3, p99 / 1e3, mean / 1e3, open_ns / 1e3,
           phq_nlu_memory(nlu), ws_size, (unsigned long long)checksum);
    for (size_t i = 0; i < n; i++) free(texts[i]);
    free(texts);
    free(lens);
    free(ws);
    free(dec);
    free(lat);
    phq_nlu_close(nlu);
    phq_unmap_file(&mf);
    return 0;
}
