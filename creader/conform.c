/*
 * conform.c - conformance adapter for the C reader (conformance/README.md protocol).
 *   phq-c-conform FILE < probes
 * Opens FILE (spec 10.1), validates it fully (10.2), then answers: "ok", "meta ...",
 * "tensor ...", "table ...", one "found ..."/"absent" per probe line, "end"; or a single
 * "error E_CODE message" line. A test tool: it may use malloc and stdio.
 */
#include "phq.h"
#include "phq_posix.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    char *p;
    size_t n, cap;
} sbuf;

static void sb_need(sbuf *b, size_t extra)
{
    if (b->n + extra + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->n + extra + 1) cap *= 2;
        b->p = (char *)realloc(b->p, cap);
        if (!b->p) {
            fputs("error UsageError out of memory\n", stdout);
            exit(2);
        }
        b->cap = cap;
    }
}

static void sb_str(sbuf *b, const char *s)
{
    size_t l = strlen(s);
    sb_need(b, l);
    memcpy(b->p + b->n, s, l);
    b->n += l;
}

static void sb_hex(sbuf *b, const unsigned char *d, size_t n)
{
    static const char hx[] = "0123456789abcdef";
    size_t i;
    if (n == 0) {
        sb_str(b, "-");
        return;
    }
    sb_need(b, 2 * n);
    for (i = 0; i < n; i++) {
        b->p[b->n++] = hx[d[i] >> 4];
        b->p[b->n++] = hx[d[i] & 15];
    }
}

static void sb_u64(sbuf *b, unsigned long long v)
{
    char tmp[32];
    sprintf(tmp, "%llu", v);
    sb_str(b, tmp);
}

static void print_error(const phq_error *e)
{
    char msg[sizeof e->msg];
    size_t i;
    for (i = 0; i < sizeof msg - 1 && e->msg[i]; i++) {
        unsigned char c = (unsigned char)e->msg[i];
        msg[i] = (c >= 0x20 && c < 0x7f) ? (char)c : '?';
    }
    msg[i] = 0;
    if (msg[0]) printf("error %s %s\n", phq_error_name(e->code), msg);
    else printf("error %s\n", phq_error_name(e->code));
}

static int unhex(const char *s, size_t n, unsigned char *out, size_t *outn)
{
    size_t i;
    if (n == 1 && s[0] == '-') {
        *outn = 0;
        return 1;
    }
    if (n % 2) return 0;
    for (i = 0; i < n; i += 2) {
        int v = 0, k;
        for (k = 0; k < 2; k++) {
            char c = s[i + k];
            int d = (c >= '0' && c <= '9') ? c - '0' : (c >= 'a' && c <= 'f') ? c - 'a' + 10
                    : (c >= 'A' && c <= 'F') ? c - 'A' + 10 : -1;
            if (d < 0) return 0;
            v = v * 16 + d;
        }
        out[i / 2] = (unsigned char)v;
    }
    *outn = n / 2;
    return 1;
}

static char *read_all(FILE *f, size_t *len)
{
    size_t cap = 4096, n = 0, r;
    char *p = (char *)malloc(cap);
    if (!p) return NULL;
    while ((r = fread(p + n, 1, cap - n, f)) > 0) {
        n += r;
        if (n == cap) {
            char *q = (char *)realloc(p, cap * 2);
            if (!q) {
                free(p);
                return NULL;
            }
            p = q;
            cap *= 2;
        }
    }
    *len = n;
    return p;
}

int main(int argc, char **argv)
{
    phq_mapping map;
    phq_model m;
    phq_error err;
    phq_open_options opt;
    sbuf out = {NULL, 0, 0};
    char *probes;
    size_t plen = 0, pos, scratch_size;
    const unsigned char *meta;
    size_t meta_len;
    uint32_t i;
    unsigned char *key = NULL, *name = NULL, *raw = NULL;
    float *deq = NULL;
    size_t maxrow = 0;
    int status = 0;

    if (argc != 2) {
        fprintf(stderr, "usage: %s FILE < probes\n", argv[0]);
        return 2;
    }
    probes = read_all(stdin, &plen);
    if (!probes) {
        puts("error UsageError cannot read stdin");
        return 2;
    }
    if (phq_map_file(argv[1], &map) != 0) {
        if (errno == EINVAL) /* spec 10: a FIFO, device, socket or directory */
            printf("error UsageError %s is not a regular file\n", argv[1]);
        else
            printf("error UsageError cannot open %s: %s\n", argv[1], strerror(errno));
        free(probes);
        return 2;
    }
    /* a workspace that keeps metadata duplicate detection O(k log k): one 16-byte entry per
     * possible member (a member takes at least 4 bytes of text) */
    scratch_size = (map.len < (16u << 20) ? map.len : (16u << 20)) / 4 * 16 + 64;
    opt.scratch = malloc(scratch_size);
    opt.scratch_size = opt.scratch ? scratch_size : 0;
    if (phq_open_ex(map.data, map.len, &opt, &m, &err) != PHQ_OK || phq_validate(&m, &err) != PHQ_OK) {
        print_error(&err);
        free(opt.scratch);
        status = 1;
        goto done;
    }
    free(opt.scratch);

    sb_str(&out, "ok\nmeta ");
    if (phq_metadata(&m, &meta, &meta_len)) sb_hex(&out, meta, meta_len);
    else sb_str(&out, "-");
    sb_str(&out, "\n");
    for (i = 0; i < phq_tensor_count(&m); i++) {
        phq_tensor t;
        unsigned d;
        phq_tensor_at(&m, i, &t);
        sb_str(&out, "tensor ");
        sb_hex(&out, t.name, t.name_len);
        sb_str(&out, " ");
        sb_str(&out, phq_dtype_name(t.dtype));
        sb_str(&out, " ");
        if (t.ndim == 0) sb_str(&out, "-");
        for (d = 0; d < t.ndim; d++) {
            if (d) sb_str(&out, ",");
            sb_u64(&out, (unsigned long long)t.shape[d]);
        }
        sb_str(&out, " ");
        sb_hex(&out, t.data, (size_t)t.nbytes);
        sb_str(&out, "\n");
    }
    for (i = 0; i < phq_table_count(&m); i++) {
        phq_table t;
        phq_table_at(&m, i, &t);
        sb_str(&out, "table ");
        sb_hex(&out, t.name, t.name_len);
        sb_str(&out, " ");
        sb_u64(&out, (unsigned long long)t.num_keys);
        sb_str(&out, " ");
        sb_u64(&out, t.dim);
        sb_str(&out, " ");
        sb_str(&out, phq_quant_name(t.quant));
        sb_str(&out, "\n");
        if (t.dim > maxrow) maxrow = t.dim;
    }
    raw = (unsigned char *)malloc(4 * maxrow + 4);
    deq = (float *)malloc(sizeof(float) * (maxrow + 1));
    key = (unsigned char *)malloc(plen / 2 + 1);
    name = (unsigned char *)malloc(plen / 2 + 1);
    if (!raw || !deq || !key || !name) {
        puts("error UsageError out of memory");
        status = 2;
        goto done;
    }
    for (pos = 0; pos < plen;) {
        size_t eol = pos, sp, klen, nlen;
        phq_table t;
        uint64_t slot;
        int rc;
        while (eol < plen && probes[eol] != '\n') eol++;
        if (eol > pos && probes[eol - 1] == '\r') eol--; /* tolerate CRLF */
        if (eol == pos) {                                  /* blank line */
            pos = eol + 1;
            continue;
        }
        for (sp = pos; sp < eol && probes[sp] != ' '; sp++) {
        }
        if (sp >= eol || !unhex(probes + pos, sp - pos, name, &nlen) ||
            !unhex(probes + sp + 1, eol - sp - 1, key, &klen)) {
            printf("error UsageError bad probe line\n");
            status = 2;
            goto done;
        }
        while (eol < plen && probes[eol] != '\n') eol++;
        pos = eol + 1;
        if (!phq_find_table(&m, name, nlen, &t)) {
            printf("error UsageError probe names an unknown table\n");
            status = 2;
            goto done;
        }
        rc = phq_lookup(&t, key, klen, &slot, &err);
        if (rc == PHQ_ERROR) {
            print_error(&err);
            status = 1;
            goto done;
        }
        if (rc == PHQ_ABSENT) {
            sb_str(&out, "absent\n");
            continue;
        }
        if (phq_row_raw(&t, slot, raw, &err) != PHQ_OK || phq_row_f32(&t, slot, deq, &err) != PHQ_OK) {
            print_error(&err);
            status = 1;
            goto done;
        }
        sb_str(&out, "found ");
        sb_u64(&out, (unsigned long long)slot);
        sb_str(&out, " ");
        sb_hex(&out, raw, t.dim * t.itemsize);
        sb_str(&out, " ");
        if (t.dim == 0) {
            sb_str(&out, "-");
        } else {
            uint32_t c;
            unsigned char le[4];
            sb_need(&out, 8 * (size_t)t.dim);
            for (c = 0; c < t.dim; c++) {
                uint32_t bits;
                memcpy(&bits, &deq[c], 4);
                le[0] = (unsigned char)bits;
                le[1] = (unsigned char)(bits >> 8);
                le[2] = (unsigned char)(bits >> 16);
                le[3] = (unsigned char)(bits >> 24);
                sb_hex(&out, le, 4);
            }
        }
        sb_str(&out, "\n");
    }
    sb_str(&out, "end\n");
    fwrite(out.p, 1, out.n, stdout);
done:
    fflush(stdout);
    free(out.p);
    free(probes);
    free(key);
    free(name);
    free(raw);
    free(deq);
    phq_unmap_file(&map);
    return status;
}
