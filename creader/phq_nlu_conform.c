/*
 * phq_nlu_conform.c - the C runtime's adapter for the NLU conformance suite
 * (conformance/README.md, "NLU adapter protocol").
 *
 *   phq-nlu-conform MODEL < requests > answer
 *
 * Requests, one per line: "score HEX" or "terms F HEX" (the text's bytes in hex, "-" if empty).
 * Answer: "error CODE message" when the model is refused, else "ok", one JSON object per
 * request, "end".
 */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "phq.h"
#include "phq_nlu.h"
#include "phq_posix.h"

static int hexval(int c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* Decode hex in place; returns the byte count or -1. "-" is the empty text. */
static long unhex(char *s) {
    size_t n = strlen(s);
    if (n == 1 && s[0] == '-') return 0;
    if (n % 2) return -1;
    for (size_t i = 0; i < n / 2; i++) {
        int hi = hexval((unsigned char)s[2 * i]), lo = hexval((unsigned char)s[2 * i + 1]);
        if (hi < 0 || lo < 0) return -1;
        s[i] = (char)(hi * 16 + lo);
    }
    return (long)(n / 2);
}

static void put_double(FILE *out, double x) {
    if (isfinite(x))
        fprintf(out, "%.17g", x);
    else
        fputs("null", out);
}

/* A JSON string of UTF-8 bytes: escapes '"', '\\' and control characters. */
static void put_json_string(FILE *out, const unsigned char *s, size_t n) {
    fputc('"', out);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = s[i];
        if (c == '"' || c == '\\')
            fprintf(out, "\\%c", c);
        else if (c < 0x20)
            fprintf(out, "\\u%04x", c);
        else
            fputc(c, out);
    }
    fputc('"', out);
}

typedef struct terms_out {
    FILE *out;
    int first;
} terms_out;

static void on_term(void *ctx, const unsigned char *term, size_t len, double tf) {
    terms_out *t = ctx;
    if (!t->first) fputc(',', t->out);
    t->first = 0;
    fputc('[', t->out);
    put_json_string(t->out, term, len);
    fputc(',', t->out);
    put_double(t->out, tf);
    fputc(']', t->out);
}

static void put_error(const phq_nlu_error *e) {
    printf("{\"error\":\"%s\",\"message\":", phq_nlu_error_name(e->code));
    put_json_string(stdout, (const unsigned char *)e->msg, strlen(e->msg));
    puts("}");
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: %s MODEL < requests\n", argv[0]);
        return 2;
    }
    phq_mapping mf;
    if (phq_map_file(argv[1], &mf) != 0) {
        printf("error UsageError cannot open %s\n", argv[1]);
        return 0;
    }
    phq_model model;
    phq_error err;
    phq_nlu_error nerr;
    phq_nlu *nlu = NULL;
    if (phq_open(mf.data, mf.len, &model, &err) != PHQ_OK || phq_validate(&model, &err) != PHQ_OK) {
        printf("error %s %s\n", phq_error_name(err.code), err.msg);
        return 0;
    }
    if (phq_nlu_open(&model, &nlu, &nerr) != PHQ_NLU_OK) {
        printf("error %s %s\n", phq_nlu_error_name(nerr.code), nerr.msg);
        return 0;
    }
    puts("ok");
    uint32_t k = phq_nlu_output_count(nlu), classes = phq_nlu_class_count(nlu);
    double *dec = malloc((k + classes) * sizeof *dec), *proba = dec + k;
    void *ws = NULL;
    size_t ws_cap = 0;
    char *line = NULL;
    size_t line_cap = 0;
    ssize_t got;
    while ((got = getline(&line, &line_cap, stdin)) >= 0) {
        while (got > 0 && (line[got - 1] == '\n' || line[got - 1] == '\r')) line[--got] = 0;
        if (got == 0) continue;
        char *text;
        long f = -1;
        if (strncmp(line, "score ", 6) == 0) {
            text = line + 6;
        } else if (strncmp(line, "terms ", 6) == 0) {
            char *end;
            f = strtol(line + 6, &end, 10);
            if (*end != ' ') return 2;
            text = end + 1;
        } else {
            return 2;
        }
        long n = unhex(text);
        if (n < 0) return 2;
        size_t need = phq_nlu_workspace_size(nlu, text, (size_t)n);
        if (need > ws_cap) {
            free(ws);
            ws_cap = need;
            ws = malloc(ws_cap ? ws_cap : 1);
        }
        if (f >= 0) {
            /* the terms go to memory first: an input error prints only the error object */
            char *buf = NULL;
            size_t buf_len = 0;
            terms_out t = {open_memstream(&buf, &buf_len), 1};
            int rc = phq_nlu_terms(nlu, (uint32_t)f, text, (size_t)n, ws, ws_cap, on_term, &t, &nerr);
            fclose(t.out);
            if (rc != PHQ_NLU_OK) {
                put_error(&nerr);
            } else {
                fputs("{\"terms\":[", stdout);
                fwrite(buf, 1, buf_len, stdout);
                puts("]}");
            }
            free(buf);
            continue;
        }
        if (phq_nlu_decision(nlu, text, (size_t)n, ws, ws_cap, dec, &nerr) != PHQ_NLU_OK) {
            put_error(&nerr);
            continue;
        }
        size_t label_len;
        const char *label = phq_nlu_class_json(nlu, phq_nlu_argmax(nlu, dec), &label_len);
        fputs("{\"label\":", stdout);
        fwrite(label, 1, label_len, stdout);
        fputs(",\"decision\":[", stdout);
        for (uint32_t i = 0; i < k; i++) {
            if (i) putchar(',');
            put_double(stdout, dec[i]);
        }
        putchar(']');
        if (phq_nlu_proba_rule(nlu) != PHQ_NLU_PROBA_NONE && phq_nlu_proba(nlu, dec, proba, &nerr) == PHQ_NLU_OK) {
            fputs(",\"proba\":[", stdout);
            for (uint32_t i = 0; i < classes; i++) {
                if (i) putchar(',');
                put_double(stdout, proba[i]);
            }
            putchar(']');
        }
        puts("}");
    }
    puts("end");
    free(line);
    free(ws);
    free(dec);
    phq_nlu_close(nlu);
    phq_unmap_file(&mf);
    return 0;
}
