/*
 * phq_nlu_cli.c - build/phq-nlu: classify one utterance per line of stdin with an NLU model
 * (spec nlu-profile-v2; README "NLU runtime").
 *
 *   phq-nlu MODEL [--top K] [--proba]   one JSON object per line:
 *       {"label": L, "decision": [d0, ...]} (+ "top": [{"label": .., "score"|"probability": ..}, ...],
 *       + "proba": [p0, ...] with --proba); a line that is not UTF-8 under decode_error "strict":
 *       {"error": "E_INPUT", "message": "..."}, and the tool goes on.
 *   phq-nlu --terms F MODEL             per line, featurizer F's distinct terms: [["term", tf], ...]
 *   phq-nlu MODEL                       for a profile 3 model with a tagger (spec nlu-profile-v3 §7.2):
 *       {"intent": {"name": L, "score": s} or null, "slots": [{"slot": X, "value": V, "start": S,
 *       "end": E}, ...]} (start/end in code points of the decoded line)
 *
 * Lines: a trailing "\n" and one "\r" before it are removed; any length (the tool grows its own
 * buffer and workspace; the library never allocates). Exit 0 on success, 1 on a FormatError or
 * ProfileError (message on stderr with the code's name), 2 on a usage error.
 */
#define _POSIX_C_SOURCE 200809L
#include "phq.h"
#include "phq_nlu.h"
#include "phq_posix.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void usage(void)
{
    fprintf(stderr, "usage: phq-nlu MODEL [--top K] [--proba]\n       phq-nlu --terms F MODEL\n");
}

static void put_double(double v)
{
    if (isfinite(v)) printf("%.17g", v);
    else fputs("null", stdout);
}

static void put_string(const unsigned char *s, size_t n)
{
    size_t i;
    putchar('"');
    for (i = 0; i < n; i++) {
        unsigned char c = s[i];
        if (c == '"') fputs("\\\"", stdout);
        else if (c == '\\') fputs("\\\\", stdout);
        else if (c == '\n') fputs("\\n", stdout);
        else if (c == '\r') fputs("\\r", stdout);
        else if (c == '\t') fputs("\\t", stdout);
        else if (c == '\b') fputs("\\b", stdout);
        else if (c == '\f') fputs("\\f", stdout);
        else if (c < 0x20) printf("\\u%04x", c);
        else putchar(c);
    }
    putchar('"');
}

static void put_label(const phq_nlu *nlu, uint32_t i)
{
    size_t n;
    const char *j = phq_nlu_class_json(nlu, i, &n);
    fwrite(j, 1, n, stdout);
}

static void term_cb(void *ctx, const unsigned char *term, size_t len, double tf)
{
    int *first = (int *)ctx;
    fputs(*first ? "[" : ", ", stdout);
    *first = 0;
    putchar('[');
    put_string(term, len);
    fputs(", ", stdout);
    put_double(tf);
    putchar(']');
}

/* code points as a JSON string */
static void put_cps(const uint32_t *cp, size_t n)
{
    size_t i;
    putchar('"');
    for (i = 0; i < n; i++) {
        unsigned char b[4];
        uint32_t c = cp[i];
        size_t k;
        if (c < 0x80) {
            b[0] = (unsigned char)c;
            if (c == '"' || c == '\\' || c < 0x20) {
                /* one byte through put_string's escapes, without its quotes */
                if (c == '"') fputs("\\\"", stdout);
                else if (c == '\\') fputs("\\\\", stdout);
                else printf("\\u%04x", (unsigned)c);
                continue;
            }
            k = 1;
        } else if (c < 0x800) { b[0] = (unsigned char)(0xC0 | c >> 6); b[1] = (unsigned char)(0x80 | (c & 63)); k = 2; }
        else if (c < 0x10000) {
            b[0] = (unsigned char)(0xE0 | c >> 12); b[1] = (unsigned char)(0x80 | (c >> 6 & 63)); b[2] = (unsigned char)(0x80 | (c & 63)); k = 3;
        } else {
            b[0] = (unsigned char)(0xF0 | c >> 18); b[1] = (unsigned char)(0x80 | (c >> 12 & 63));
            b[2] = (unsigned char)(0x80 | (c >> 6 & 63)); b[3] = (unsigned char)(0x80 | (c & 63)); k = 4;
        }
        fwrite(b, 1, k, stdout);
    }
    putchar('"');
}

static void put_parse(const phq_nlu *nlu, const phq_nlu_parse_result *r)
{
    size_t i;
    fputs("{\"intent\": ", stdout);
    if (r->has_intent) {
        fputs("{\"name\": ", stdout);
        put_label(nlu, r->intent);
        fputs(", \"score\": ", stdout);
        put_double(r->score);
        putchar('}');
    } else {
        fputs("null", stdout);
    }
    fputs(", \"slots\": [", stdout);
    for (i = 0; i < r->n_slots; i++) {
        size_t n;
        const char *lab = phq_nlu_label(nlu, r->slots[i].label, &n);
        if (i) fputs(", ", stdout);
        fputs("{\"slot\": ", stdout);
        put_string((const unsigned char *)lab + 2, n - 2);
        fputs(", \"value\": ", stdout);
        put_cps(r->text + r->slots[i].start, r->slots[i].end - r->slots[i].start);
        printf(", \"start\": %u, \"end\": %u}", (unsigned)r->slots[i].start, (unsigned)r->slots[i].end);
    }
    fputs("]}\n", stdout);
}

static int parse_count(const char *s, long *out)
{
    char *end;
    long v;
    errno = 0;
    v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < 0) return -1;
    *out = v;
    return 0;
}

int main(int argc, char **argv)
{
    const char *path = NULL;
    long top = -1, terms = -1;
    int want_proba = 0, i, rc = 0;
    phq_mapping map;
    phq_model m;
    phq_error perr;
    phq_nlu *nlu = NULL;
    phq_nlu_error err;
    char *line = NULL;
    size_t cap = 0, ws_size = 0;
    ssize_t got;
    void *ws = NULL;
    double *decision = NULL, *proba = NULL, *value = NULL;
    uint32_t *index = NULL, K, k;

    for (i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--top") == 0 && i + 1 < argc) {
            if (parse_count(argv[++i], &top) != 0) { usage(); return 2; }
        } else if (strcmp(argv[i], "--terms") == 0 && i + 1 < argc) {
            if (parse_count(argv[++i], &terms) != 0) { usage(); return 2; }
        } else if (strcmp(argv[i], "--proba") == 0) {
            want_proba = 1;
        } else if (argv[i][0] == '-' && argv[i][1]) {
            usage();
            return 2;
        } else if (!path) {
            path = argv[i];
        } else {
            usage();
            return 2;
        }
    }
    if (!path || (terms >= 0 && (top >= 0 || want_proba))) { usage(); return 2; }
    if (phq_map_file(path, &map) != 0) {
        fprintf(stderr, "phq-nlu: UsageError: cannot open %s: %s\n", path, strerror(errno));
        return 2;
    }
    if (phq_open(map.data, map.len, &m, &perr) != PHQ_OK) {
        fprintf(stderr, "phq-nlu: %s: %s\n", phq_error_name(perr.code), perr.msg);
        phq_unmap_file(&map);
        return 1;
    }
    if (phq_nlu_open(&m, &nlu, &err) != 0) {
        fprintf(stderr, "phq-nlu: %s: %s\n", phq_nlu_error_name(err.code), err.msg);
        phq_unmap_file(&map);
        return err.code == PHQ_E_USAGE || err.code == PHQ_NLU_E_NOMEM ? 2 : 1;
    }
    K = phq_nlu_class_count(nlu);
    k = phq_nlu_output_count(nlu);
    if (terms >= 0 && (unsigned long)terms >= phq_nlu_featurizer_count(nlu)) {
        fprintf(stderr, "phq-nlu: UsageError: the model has %u featurizers\n", (unsigned)phq_nlu_featurizer_count(nlu));
        rc = 2;
        goto done;
    }
    if (phq_nlu_has_tagger(nlu) && terms < 0 && (top >= 0 || want_proba)) {
        fprintf(stderr, "phq-nlu: UsageError: --top and --proba are for classifier models; a tagger model prints its parse\n");
        rc = 2;
        goto done;
    }
    if (want_proba && phq_nlu_proba_rule(nlu) == PHQ_NLU_PROBA_NONE) {
        fprintf(stderr, "phq-nlu: UsageError: the model defines no probabilities (proba is null)\n");
        rc = 2;
        goto done;
    }
    decision = (double *)malloc(sizeof(double) * (k + 1));
    proba = (double *)malloc(sizeof(double) * (K + 1));
    value = (double *)malloc(sizeof(double) * (K + 1));
    index = (uint32_t *)malloc(sizeof(uint32_t) * (K + 1));
    if (!decision || !proba || !value || !index) {
        fprintf(stderr, "phq-nlu: out of memory\n");
        rc = 2;
        goto done;
    }
    while ((got = getline(&line, &cap, stdin)) >= 0) {
        size_t len = (size_t)got, need;
        if (len && line[len - 1] == '\n') {
            len--;
            if (len && line[len - 1] == '\r') len--;
        }
        need = phq_nlu_workspace_size(nlu, line, len);
        if (need != SIZE_MAX && need > ws_size) {
            void *nw = realloc(ws, need);
            if (!nw) {
                fprintf(stderr, "phq-nlu: out of memory (workspace of %zu bytes)\n", need);
                rc = 2;
                goto done;
            }
            ws = nw;
            ws_size = need;
        }
        if (terms >= 0) {
            int first = 1;
            rc = phq_nlu_terms(nlu, (uint32_t)terms, line, len, ws, ws_size, term_cb, &first, &err);
            if (rc == 0) {
                fputs(first ? "[]\n" : "]\n", stdout);
                continue;
            }
        } else if (phq_nlu_has_tagger(nlu)) {
            phq_nlu_parse_result res;
            rc = phq_nlu_parse(nlu, line, len, ws, ws_size, &res, &err);
            if (rc == 0) {
                put_parse(nlu, &res);
                continue;
            }
        } else {
            rc = phq_nlu_decision(nlu, line, len, ws, ws_size, decision, &err);
        }
        if (rc == PHQ_NLU_E_INPUT || rc == PHQ_NLU_E_NOSPACE) {
            fputs("{\"error\": ", stdout);
            put_string((const unsigned char *)phq_nlu_error_name(rc), strlen(phq_nlu_error_name(rc)));
            fputs(", \"message\": ", stdout);
            put_string((const unsigned char *)err.msg, strlen(err.msg));
            fputs("}\n", stdout);
            rc = 0;
            continue;
        }
        if (rc) {
            fprintf(stderr, "phq-nlu: %s: %s\n", phq_nlu_error_name(rc), err.msg);
            rc = rc == PHQ_E_USAGE ? 2 : 1;
            goto done;
        }
        fputs("{\"label\": ", stdout);
        put_label(nlu, phq_nlu_argmax(nlu, decision));
        fputs(", \"decision\": [", stdout);
        for (i = 0; i < (int)k; i++) {
            if (i) fputs(", ", stdout);
            put_double(decision[i]);
        }
        putchar(']');
        if (want_proba) {
            if (phq_nlu_proba(nlu, decision, proba, &err) != 0) {
                fprintf(stderr, "phq-nlu: %s: %s\n", phq_nlu_error_name(err.code), err.msg);
                rc = 2;
                goto done;
            }
        }
        if (top >= 0) {
            size_t n = phq_nlu_top(nlu, decision, want_proba ? proba : NULL, (size_t)top, index, value), j;
            fputs(", \"top\": [", stdout);
            for (j = 0; j < n; j++) {
                if (j) fputs(", ", stdout);
                fputs("{\"label\": ", stdout);
                put_label(nlu, index[j]);
                fputs(want_proba ? ", \"probability\": " : ", \"score\": ", stdout);
                put_double(value[j]);
                putchar('}');
            }
            putchar(']');
        }
        if (want_proba) {
            fputs(", \"proba\": [", stdout);
            for (i = 0; i < (int)K; i++) {
                if (i) fputs(", ", stdout);
                put_double(proba[i]);
            }
            putchar(']');
        }
        fputs("}\n", stdout);
    }
    if (ferror(stdin)) {
        fprintf(stderr, "phq-nlu: error reading stdin\n");
        rc = 2;
    }
done:
    free(line);
    free(ws);
    free(decision);
    free(proba);
    free(value);
    free(index);
    phq_nlu_close(nlu);
    phq_unmap_file(&map);
    if (fflush(stdout) != 0) return rc ? rc : 2;
    return rc;
}
