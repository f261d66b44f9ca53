/*
 * test_batch.c - the batched lookups (phq_lookup_many, phq_lookup_hash_many,
 * phq_get_f32_many, phq_get_f32_hash_many, phq_get_raw_many, phq_get_raw_hash_many) answer
 * exactly what the single-key calls answer.
 *   test_batch DIR...     every DIR/NAME.phq (the golden files of conformance/v1.0/valid,
 *                         v1.1/valid,
 *                         the files of tests/gen_testdata.py), and for each of them the same
 *                         file with bytes flipped inside its sections and the CRCs re-sealed
 * For every table: its probe keys (NAME.probes or NAME.keys when present), keys seeded from
 * the file name (mostly absent), random bytes and the empty key, in batches of 1, 63, 64,
 * 65 and all keys (the group boundaries of the engine), with and without a partition index:
 * statuses, slots, found counts, every row byte (float32 rows compared bit for bit, rows of
 * keys not found untouched) and the error code of the lowest-indexed failing key.
 * Prints "N passed, N failed".
 */
#define _POSIX_C_SOURCE 200809L
#include "../phq.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int passed, failed;

#define CHECK(cond, ...)                                         \
    do {                                                         \
        if (cond) {                                              \
            passed++;                                            \
        } else {                                                 \
            if (failed++ < 50) {                                 \
                fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__); \
                fprintf(stderr, __VA_ARGS__);                    \
                fputc('\n', stderr);                             \
            }                                                    \
        }                                                        \
    } while (0)

#define MAXK 700
#define SENT 0xA5

static unsigned char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    unsigned char *b;
    long n;
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    n = ftell(f);
    fseek(f, 0, SEEK_SET);
    b = (unsigned char *)malloc((size_t)n + 1);
    if (b && fread(b, 1, (size_t)n, f) != (size_t)n) {
        free(b);
        b = NULL;
    }
    fclose(f);
    *len = (size_t)n;
    return b;
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

static int hexval(int c) { return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1; }
static size_t unhex(const char *s, unsigned char *out, size_t cap)
{
    size_t n = 0;
    if (strcmp(s, "-") == 0) return 0;
    while (s[0] && s[1] && hexval(s[0]) >= 0 && hexval(s[1]) >= 0 && n < cap) {
        out[n++] = (unsigned char)(hexval(s[0]) * 16 + hexval(s[1]));
        s += 2;
    }
    return n;
}

static uint64_t rng_state;
static uint64_t rnd(void)
{
    rng_state += 0x9E3779B97F4A7C15ULL;
    return phq_fmix64(rng_state);
}

/* the keys of one table */
typedef struct {
    size_t n;
    unsigned char *data; /* MAXK x 64 bytes */
    const void *ptr[MAXK];
    size_t len[MAXK];
} keyset;

static void add_key(keyset *ks, const void *k, size_t len)
{
    if (ks->n >= MAXK || len > 64) return;
    memcpy(ks->data + 64 * ks->n, k, len);
    ks->ptr[ks->n] = ks->data + 64 * ks->n;
    ks->len[ks->n] = len;
    ks->n++;
}

/* probe keys of table `tname` from NAME.probes (TABLE_HEX KEY_HEX) or NAME.keys (TABLE_HEX KEY_HEX ...) */
static void probe_keys(const char *dir, const char *base, const unsigned char *tname, size_t tlen, keyset *ks)
{
    static const char *const ext[2] = {"probes", "keys"};
    char path[1024], line[1 << 16];
    int x;
    for (x = 0; x < 2; x++) {
        FILE *f;
        snprintf(path, sizeof path, "%s/%s.%s", dir, base, ext[x]);
        f = fopen(path, "r");
        if (!f) continue;
        while (fgets(line, sizeof line, f)) {
            unsigned char tn[300], key[64];
            char *a = strtok(line, " \n"), *b = a ? strtok(NULL, " \n") : NULL;
            size_t nl, kl;
            if (!a || !b || strlen(b) > 128) continue;
            nl = unhex(a, tn, sizeof tn);
            if (nl != tlen || memcmp(tn, tname, tlen) != 0) continue;
            kl = unhex(b, key, sizeof key);
            add_key(ks, key, kl);
        }
        fclose(f);
    }
}

static void more_keys(keyset *ks, const char *base)
{
    size_t i;
    char k[64];
    add_key(ks, "", 0);
    for (i = 0; ks->n < MAXK; i++) {
        if (i % 3 == 2) { /* random bytes */
            unsigned char r[24];
            size_t l = (size_t)(rnd() % 24), j;
            for (j = 0; j < l; j++) r[j] = (unsigned char)rnd();
            add_key(ks, r, l);
        } else {
            int l;
            if (i % 3) l = sprintf(k, "k=%lu|w+1=%lu", (unsigned long)(i / 3), (unsigned long)(rnd() % 1000));
            else l = sprintf(k, "%.40s#%lu", base, (unsigned long)i);
            add_key(ks, k, (size_t)l);
        }
    }
}

/* single-key answers */
typedef struct {
    signed char st_slot[MAXK], st_f32[MAXK], st_raw[MAXK];
    uint64_t slot[MAXK];
    phq_code code_slot[MAXK], code_f32[MAXK], code_raw[MAXK];
    char msg_slot[MAXK][160], msg_f32[MAXK][160], msg_raw[MAXK][160];
} expect;

static void check_batch(const phq_table *t, const keyset *ks, size_t lo, size_t hi, const expect *x, float *rows,
                        unsigned char *raw, const char *what)
{
    size_t n = hi - lo, i, nf, want, rb = (size_t)t->dim * t->itemsize, fb = (size_t)t->dim * 4;
    uint64_t hs[2 * MAXK], slots[MAXK];
    signed char st[MAXK];
    phq_error e;
    int fn;
    for (i = 0; i < n; i++) phq_murmur3_x64_128(ks->ptr[lo + i], ks->len[lo + i], t->seed, hs + 2 * i);
    for (fn = 0; fn < 6; fn++) {
        const signed char *ws = fn < 2 ? x->st_slot + lo : fn < 4 ? x->st_f32 + lo : x->st_raw + lo;
        const phq_code *wc = fn < 2 ? x->code_slot + lo : fn < 4 ? x->code_f32 + lo : x->code_raw + lo;
        const char(*wm)[160] = fn < 2 ? x->msg_slot + lo : fn < 4 ? x->msg_f32 + lo : x->msg_raw + lo;
        size_t first_err = (size_t)-1;
        memset(st, 0x55, sizeof st);
        memset(slots, 0xEE, sizeof slots);
        if (fn >= 2 && fn < 4) memset(rows, SENT, fb * n + 4);
        if (fn >= 4) memset(raw, SENT, rb * n + 4);
        switch (fn) {
        case 0: nf = phq_lookup_many(t, ks->ptr + lo, ks->len + lo, n, slots, st, &e); break;
        case 1: nf = phq_lookup_hash_many(t, hs, n, slots, st, &e); break;
        case 2: nf = phq_get_f32_many(t, ks->ptr + lo, ks->len + lo, n, rows, st, &e); break;
        case 3: nf = phq_get_f32_hash_many(t, hs, n, rows, st, &e); break;
        case 4: nf = phq_get_raw_many(t, ks->ptr + lo, ks->len + lo, n, raw, st, &e); break;
        default: nf = phq_get_raw_hash_many(t, hs, n, raw, st, &e); break;
        }
        want = 0;
        for (i = 0; i < n; i++) {
            CHECK(st[i] == ws[i], "%s fn %d key %lu: status %d, single %d", what, fn, (unsigned long)(lo + i), st[i], ws[i]);
            if (ws[i] == PHQ_FOUND) want++;
            if (ws[i] == PHQ_ERROR && first_err == (size_t)-1) first_err = i;
            if (fn < 2 && ws[i] == PHQ_FOUND)
                CHECK(slots[i] == x->slot[lo + i], "%s fn %d key %lu: slot", what, fn, (unsigned long)(lo + i));
            if (fn >= 2 && fn < 4) {
                unsigned char *o = (unsigned char *)(rows + i * t->dim);
                if (ws[i] == PHQ_FOUND && t->dim) {
                    float one[2048];
                    phq_error e2;
                    if (t->dim <= 2048 && phq_row_f32(t, x->slot[lo + i], one, &e2) == PHQ_OK)
                        CHECK(memcmp(one, o, fb) == 0, "%s fn %d key %lu: f32 row differs", what, fn, (unsigned long)(lo + i));
                } else if (ws[i] != PHQ_ERROR && fb) {
                    size_t b;
                    for (b = 0; b < fb && o[b] == SENT; b++) {}
                    CHECK(b == fb, "%s fn %d key %lu: row of a key not found written", what, fn, (unsigned long)(lo + i));
                }
            }
            if (fn >= 4) {
                unsigned char *o = raw + i * rb;
                if (ws[i] == PHQ_FOUND && rb) {
                    unsigned char one[8192];
                    phq_error e2;
                    if (rb <= sizeof one && phq_row_raw(t, x->slot[lo + i], one, &e2) == PHQ_OK)
                        CHECK(memcmp(one, o, rb) == 0, "%s fn %d key %lu: raw row differs", what, fn, (unsigned long)(lo + i));
                } else if (ws[i] != PHQ_ERROR && rb) {
                    size_t b;
                    for (b = 0; b < rb && o[b] == SENT; b++) {}
                    CHECK(b == rb, "%s fn %d key %lu: raw row of a key not found written", what, fn, (unsigned long)(lo + i));
                }
            }
        }
        if (fn >= 2 && fn < 4) CHECK(((unsigned char *)rows)[fb * n] == SENT, "%s: f32 rows overrun", what);
        if (fn >= 4) CHECK(raw[rb * n] == SENT, "%s: raw rows overrun", what);
        CHECK(nf == want, "%s fn %d: found %lu, single %lu", what, fn, (unsigned long)nf, (unsigned long)want);
        if (first_err == (size_t)-1)
            CHECK(e.code == PHQ_OK, "%s fn %d: error %s without a failing key", what, fn, phq_error_name(e.code));
        else
            CHECK(e.code == wc[first_err] && strcmp(e.msg, wm[first_err]) == 0, "%s fn %d: error %s %s, first failing key's %s %s",
                  what, fn, phq_error_name(e.code), e.msg, phq_error_name(wc[first_err]), wm[first_err]);
    }
}

/* every batched call against the single-key calls, for one table */
static void table_agrees(const phq_table *t, const keyset *ks, const char *what, int *nfound)
{
    static expect x;
    size_t i, dim = t->dim, sizes[5] = {1, 63, 64, 65, 0};
    float *rows, *one;
    unsigned char *raw, *oneraw;
    int s;
    if (dim > 4096) return; /* y_dim65537_sparse: covered by the single-key tests */
    rows = (float *)malloc(4 * dim * MAXK + 8);
    raw = (unsigned char *)malloc(dim * t->itemsize * MAXK + 8);
    one = (float *)malloc(4 * dim + 4);
    oneraw = (unsigned char *)malloc(dim * t->itemsize + 4);
    for (i = 0; i < ks->n; i++) {
        phq_error e;
        uint64_t slot = 0;
        int rc = phq_lookup(t, ks->ptr[i], ks->len[i], &slot, &e);
        x.st_slot[i] = x.st_f32[i] = x.st_raw[i] = (signed char)rc;
        x.slot[i] = slot;
        x.code_slot[i] = x.code_f32[i] = x.code_raw[i] = rc == PHQ_ERROR ? e.code : PHQ_OK;
        x.msg_slot[i][0] = 0;
        if (rc == PHQ_ERROR) strcpy(x.msg_slot[i], e.msg);
        strcpy(x.msg_f32[i], x.msg_slot[i]);
        strcpy(x.msg_raw[i], x.msg_slot[i]);
        if (rc != PHQ_FOUND) continue;
        (*nfound)++;
        if (phq_row_f32(t, slot, one, &e) != PHQ_OK) {
            x.st_f32[i] = PHQ_ERROR;
            x.code_f32[i] = e.code;
            strcpy(x.msg_f32[i], e.msg);
        }
        if (phq_row_raw(t, slot, oneraw, &e) != PHQ_OK) {
            x.st_raw[i] = PHQ_ERROR;
            x.code_raw[i] = e.code;
            strcpy(x.msg_raw[i], e.msg);
        }
    }
    sizes[4] = ks->n;
    for (s = 0; s < 5; s++) {
        size_t lo = 0, n = sizes[s];
        if (n > ks->n) continue;
        if (s < 4 && ks->n > n) lo = (size_t)(rnd() % (ks->n - n + 1));
        check_batch(t, ks, lo, lo + n, &x, rows, raw, what);
    }
    free(rows);
    free(raw);
    free(one);
    free(oneraw);
}

static int model_agrees(const unsigned char *buf, size_t len, const char *dir, const char *base, int with_probes)
{
    phq_model m;
    phq_error e;
    uint32_t ti;
    int nfound = 0;
    static keyset ks;
    static unsigned char kdata[MAXK * 64];
    if (phq_open(buf, len, &m, &e) != PHQ_OK) return -1;
    for (ti = 0; ti < phq_table_count(&m); ti++) {
        phq_table t;
        char what[600];
        if (phq_table_at(&m, ti, &t) != PHQ_OK) continue;
        ks.n = 0;
        ks.data = kdata;
        if (with_probes) probe_keys(dir, base, t.name, t.name_len, &ks);
        more_keys(&ks, base);
        snprintf(what, sizeof what, "%s/%s table %u", dir, base, ti);
        table_agrees(&t, &ks, what, &nfound);
        if (t.num_partitions > 1) { /* the same through a partition index */
            phq_part_info *idx = (phq_part_info *)malloc(sizeof *idx * t.num_partitions);
            CHECK(phq_table_set_index(&t, idx, t.num_partitions) == PHQ_OK, "set_index");
            strcat(what, " (indexed)");
            table_agrees(&t, &ks, what, &nfound);
            free(idx);
        }
    }
    return nfound;
}

static void test_file(const char *dir, const char *base, int *files, int *found)
{
    char path[1024];
    size_t len, i;
    unsigned char *buf, *copy;
    uint32_t nsec, k;
    int nf;
    snprintf(path, sizeof path, "%s/%s.phq", dir, base);
    buf = slurp(path, &len);
    CHECK(buf != NULL, "read %s", path);
    if (!buf) return;
    nf = model_agrees(buf, len, dir, base, 1);
    if (nf < 0) { /* a file this build refuses (a 1.1 file, a 1.0-only build) */
        free(buf);
        return;
    }
    (*files)++;
    *found += nf;
    /* payload damage behind re-sealed CRCs: lookups may fail (E_RANK, E_SPARSE) or answer
     * other slots, and the batched calls must still answer as the single ones */
    copy = (unsigned char *)malloc(len + 1);
    nsec = len >= 64 ? rd32(buf + 48) : 0;
    for (k = 0; k < nsec && len > 64 + 32 * (size_t)nsec; k++) {
        const unsigned char *ent = buf + 64 + 32 * k;
        uint64_t off = rd64(ent + 8), size = rd64(ent + 16), j, step = size / 6 + 1;
        if (nsec > 40 && k % 7 != 0) continue;
        if (off + size > len) continue;
        for (j = rnd() % step; j < size; j += step) {
            memcpy(copy, buf, len);
            copy[off + j] ^= (unsigned char)(1u << (rnd() % 8));
            wr32(copy + 64 + 32 * k + 24, phq_crc32c(0, copy + off, (size_t)size));
            wr32(copy + 52, phq_crc32c(0, copy + 64, 32 * (size_t)nsec));
            wr32(copy + 60, phq_crc32c(0, copy, 60));
            model_agrees(copy, len, dir, base, 0);
        }
    }
    (void)i;
    free(copy);
    free(buf);
}

int main(int argc, char **argv)
{
    int a, files = 0, found = 0;
    rng_state = 12345;
    for (a = 1; a < argc; a++) {
        DIR *d = opendir(argv[a]);
        struct dirent *de;
        CHECK(d != NULL, "open data dir %s", argv[a]);
        while (d && (de = readdir(d)) != NULL) {
            size_t n = strlen(de->d_name);
            char base[512];
            if (n < 5 || n >= sizeof base || strcmp(de->d_name + n - 4, ".phq") != 0) continue;
            memcpy(base, de->d_name, n - 4);
            base[n - 4] = 0;
            test_file(argv[a], base, &files, &found);
        }
        if (d) closedir(d);
    }
    CHECK(argc < 2 || files >= 20, "files read: %d", files);
    CHECK(argc < 2 || found >= 1000, "keys found: %d (the comparison must cover present keys)", found);
    printf("test_batch: %d files, %d found keys; %d passed, %d failed\n", files, found, passed, failed);
    return failed ? 1 : 0;
}
