/*
 * test_accumulate.c - phq_row_accumulate (the NLU scoring step) against phq_row_f32.
 *   test_accumulate DIR...   every NAME.phq in the folders (the golden files of every
 *                            quantization scheme, dense and sparse)
 * For every table and slot, acc + u * row (row read by phq_row_f32, widened) must equal what
 * phq_row_accumulate adds, bit for bit, for several u; sums are compared as numbers (a sparse
 * row skips its omitted +0.0 values, which can change only the sign of a zero sum).
 * Prints "N passed, N failed".
 */
#define _POSIX_C_SOURCE 200809L
#include "../phq.h"
#include "../phq_posix.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int passed, failed;

static void check_file(const char *path)
{
    phq_mapping map;
    phq_model m;
    phq_error err;
    uint32_t i;
    static const double us[] = {1.0, 0.375, 2.5e-3, 17.0};
    if (phq_map_file(path, &map) != 0) return;
    if (phq_open(map.data, map.len, &m, &err) != PHQ_OK || phq_validate(&m, &err) != PHQ_OK) {
        phq_unmap_file(&map);
        return;
    }
    for (i = 0; i < phq_table_count(&m); i++) {
        phq_table t;
        uint64_t slot;
        float *row;
        double *want, *got;
        if (phq_table_at(&m, i, &t) != PHQ_OK) continue;
        row = malloc((t.dim + 1) * sizeof *row);
        want = malloc((t.dim + 1) * sizeof *want);
        got = malloc((t.dim + 1) * sizeof *got);
        for (slot = 0; slot < t.num_keys; slot++) {
            size_t c, u, bad = 0;
            if (phq_row_f32(&t, slot, row, &err) != PHQ_OK) continue;
            for (c = 0; c < t.dim; c++) want[c] = got[c] = (double)c * 0.125 - 1.0;
            for (u = 0; u < sizeof us / sizeof us[0]; u++) {
                for (c = 0; c < t.dim; c++) want[c] = want[c] + us[u] * (double)row[c];
                if (phq_row_accumulate(&t, slot, us[u], got, &err) != PHQ_OK) bad++;
            }
            for (c = 0; c < t.dim; c++) bad += want[c] != got[c];
            if (bad) {
                failed++;
                fprintf(stderr, "FAIL %s table %u slot %llu: %zu differences\n", path, i, (unsigned long long)slot, bad);
            } else {
                passed++;
            }
        }
        free(row);
        free(want);
        free(got);
    }
    phq_unmap_file(&map);
}

int main(int argc, char **argv)
{
    int a, files = 0;
    for (a = 1; a < argc; a++) {
        DIR *d = opendir(argv[a]);
        struct dirent *de;
        while (d && (de = readdir(d)) != NULL) {
            size_t n = strlen(de->d_name);
            char path[4096];
            if (n < 5 || strcmp(de->d_name + n - 4, ".phq") != 0) continue;
            snprintf(path, sizeof path, "%s/%s", argv[a], de->d_name);
            check_file(path);
            files++;
        }
        if (d) closedir(d);
    }
    if (files < 20) {
        failed++;
        fprintf(stderr, "FAIL only %d files found\n", files);
    }
    printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
