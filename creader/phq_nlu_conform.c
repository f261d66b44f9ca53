/*
 * phq_nlu_conform.c - the C runtime's adapter for the NLU conformance suite
 * (conformance/README.md, "NLU adapter protocol").
 *
 *   phq-nlu-conform MODEL < requests > answer
 *
 * Requests, one per line: "score HEX", "terms F HEX", and for profile 3 "parse HEX", "tokens HEX",
 * "features I HEX" (the text's bytes in hex, "-" if empty).
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

/* code points as a JSON string (UTF-8) */
static void put_cps(FILE *out, const uint32_t *cp, size_t n) {
    unsigned char buf[4];
    fputc('"', out);
    for (size_t i = 0; i < n; i++) {
        uint32_t c = cp[i];
        size_t k;
        if (c == '"' || c == '\\') {
            fprintf(out, "\\%c", (int)c);
            continue;
        }
        if (c < 0x20) {
            fprintf(out, "\\u%04x", (unsigned)c);
            continue;
        }
        if (c < 0x80) { buf[0] = (unsigned char)c; k = 1; }
        else if (c < 0x800) { buf[0] = (unsigned char)(0xC0 | c >> 6); buf[1] = (unsigned char)(0x80 | (c & 63)); k = 2; }
        else if (c < 0x10000) {
            buf[0] = (unsigned char)(0xE0 | c >> 12); buf[1] = (unsigned char)(0x80 | (c >> 6 & 63));
            buf[2] = (unsigned char)(0x80 | (c & 63)); k = 3;
        } else {
            buf[0] = (unsigned char)(0xF0 | c >> 18); buf[1] = (unsigned char)(0x80 | (c >> 12 & 63));
            buf[2] = (unsigned char)(0x80 | (c >> 6 & 63)); buf[3] = (unsigned char)(0x80 | (c & 63)); k = 4;
        }
        fwrite(buf, 1, k, out);
    }
    fputc('"', out);
}

static void on_feature(void *ctx, const unsigned char *f, size_t len) {
    terms_out *t = ctx;
    if (!t->first) fputc(',', t->out);
    t->first = 0;
    put_json_string(t->out, f, len);
}

/* the parse result of spec nlu-profile-v3 §7.2 as one JSON object */
static void put_parse(const phq_nlu *nlu, const phq_nlu_parse_result *r) {
    fputs("{\"intent\":", stdout);
    if (r->has_intent) {
        size_t n;
        const char *j = phq_nlu_class_json(nlu, r->intent, &n);
        fputs("{\"name\":", stdout);
        fwrite(j, 1, n, stdout);
        fputs(",\"score\":", stdout);
        put_double(stdout, r->score);
        fputc('}', stdout);
    } else {
        fputs("null", stdout);
    }
    fputs(",\"slots\":[", stdout);
    for (size_t i = 0; i < r->n_slots; i++) {
        size_t n;
        const char *lab = phq_nlu_label(nlu, r->slots[i].label, &n);
        if (i) fputc(',', stdout);
        fputs("{\"slot\":", stdout);
        put_json_string(stdout, (const unsigned char *)lab + 2, n - 2);
        fputs(",\"value\":", stdout);
        put_cps(stdout, r->text + r->slots[i].start, r->slots[i].end - r->slots[i].start);
        printf(",\"start\":%u,\"end\":%u}", (unsigned)r->slots[i].start, (unsigned)r->slots[i].end);
    }
    puts("]}");
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
        int op = 0; /* 0 score, 1 terms, 2 parse, 3 tokens, 4 features */
        if (strncmp(line, "score ", 6) == 0) {
            text = line + 6;
        } else if (strncmp(line, "parse ", 6) == 0) {
            text = line + 6;
            op = 2;
        } else if (strncmp(line, "tokens ", 7) == 0) {
            text = line + 7;
            op = 3;
        } else if (strncmp(line, "features ", 9) == 0) {
            char *end;
            f = strtol(line + 9, &end, 10);
            if (*end != ' ' || f < 0) return 2;
            text = end + 1;
            op = 4;
        } else if (strncmp(line, "terms ", 6) == 0) {
            char *end;
            f = strtol(line + 6, &end, 10);
            if (*end != ' ') return 2;
            text = end + 1;
            op = 1;
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
        if (op == 2 || op == 3) {
            phq_nlu_parse_result res;
            int rc = op == 2 ? phq_nlu_parse(nlu, text, (size_t)n, ws, ws_cap, &res, &nerr)
                             : phq_nlu_tokens(nlu, text, (size_t)n, ws, ws_cap, &res, &nerr);
            if (rc != PHQ_NLU_OK) {
                put_error(&nerr);
            } else if (op == 2) {
                put_parse(nlu, &res);
            } else {
                fputs("{\"tokens\":[", stdout);
                for (size_t i = 0; i < res.n_tokens; i++) {
                    if (i) fputc(',', stdout);
                    fputc('[', stdout);
                    put_cps(stdout, res.text + res.tokens[i].start, res.tokens[i].end - res.tokens[i].start);
                    printf(",%u,%u]", (unsigned)res.tokens[i].start, (unsigned)res.tokens[i].end);
                }
                puts("]}");
            }
            continue;
        }
        if (op == 4) {
            char *buf = NULL;
            size_t buf_len = 0;
            terms_out t = {open_memstream(&buf, &buf_len), 1};
            int rc = phq_nlu_features(nlu, text, (size_t)n, (size_t)f, ws, ws_cap, on_feature, &t, &nerr);
            fclose(t.out);
            if (rc != PHQ_NLU_OK) {
                put_error(&nerr);
            } else {
                fputs("{\"features\":[", stdout);
                fwrite(buf, 1, buf_len, stdout);
                puts("]}");
            }
            free(buf);
            continue;
        }
        if (op == 1) {
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
