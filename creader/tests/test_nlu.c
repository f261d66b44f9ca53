/*
 * test_nlu.c - unit tests of the NLU runtime (spec/nlu-profile-v2.md), run by `make -C creader test`
 * as build/test_nlu DIR, DIR made by tests/gen_nlu_testdata.py.
 *
 * One translation unit with phq.c and every NLU source (as pyreader/_accel.c can build it), so the
 * internal steps (decoding, preprocessing) are tested directly:
 *   - decoding: every class of ill-formed UTF-8 (maximal subparts, Unicode Table 3-8), strict /
 *     replace / ignore, the byte order mark;
 *   - lowercasing with Final_Sigma, accent stripping with Hangul, the 6-per-byte expansion bound
 *     over every code point;
 *   - the known-answer vectors of §14 and derived cases (vectors.phq / vectors.expect);
 *   - decision values bit-exact against values computed by hand in the §8.1 order (score.expect),
 *     and a two-featurizer model; argmax, top k, probabilities, labels as JSON;
 *   - every profile error code (err_<CODE>_*.phq), profile 1;
 *   - workspace: too small gives E_NOSPACE, the bound covers the size; cost: a 1 MB text and a
 *     10,000-token text run, and the work (term occurrences, hash-table probes) grows linearly.
 */
#include "../phq.c"
#include "../phq_nlu.c"
#include "../phq_nlu_json.c"
#include "../phq_nlu_open.c"
#include "../phq_nlu_tagger.c"
#include "../phq_nlu_tagger_open.c"
#include "../phq_posix.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int failures, checks;

#define CHECK(cond, ...)                                                  \
    do {                                                                  \
        checks++;                                                         \
        if (!(cond)) {                                                    \
            failures++;                                                   \
            fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__);          \
            fprintf(stderr, __VA_ARGS__);                                 \
            fputc('\n', stderr);                                          \
        }                                                                 \
    } while (0)

static const char *dir;

/* ---- helpers ------------------------------------------------------------------------------- */

typedef struct {
    phq_mapping map;
    phq_model m;
    phq_nlu *nlu;
} loaded;

static int load(const char *name, loaded *l, phq_nlu_error *err)
{
    char path[1024];
    phq_error e;
    snprintf(path, sizeof path, "%s/%s", dir, name);
    memset(l, 0, sizeof *l);
    if (phq_map_file(path, &l->map) != 0) {
        fprintf(stderr, "cannot map %s\n", path);
        exit(2);
    }
    if (phq_open(l->map.data, l->map.len, &l->m, &e) != PHQ_OK) {
        err->code = e.code;
        snprintf(err->msg, sizeof err->msg, "%s", e.msg);
        return e.code;
    }
    return phq_nlu_open(&l->m, &l->nlu, err);
}

static void unload(loaded *l)
{
    phq_nlu_close(l->nlu);
    phq_unmap_file(&l->map);
}

static size_t unhex(const char *h, unsigned char *out, size_t cap)
{
    size_t n = 0;
    if (strcmp(h, "-") == 0) return 0;
    while (h[0] && h[1] && n < cap) {
        unsigned v;
        sscanf(h, "%2x", &v);
        out[n++] = (unsigned char)v;
        h += 2;
    }
    return n;
}

/* ---- decoding (§4) --------------------------------------------------------------------------- */

static void check_decode(const char *what, const char *bytes, size_t n, int mode, const uint32_t *want, long long nwant)
{
    uint32_t out[64];
    long long got = nlu_decode((const unsigned char *)bytes, n, mode, out);
    int ok = got == nwant;
    long long i;
    for (i = 0; ok && i < got; i++) ok = out[i] == want[i];
    CHECK(ok, "decode %s (mode %d): got %lld code points", what, mode, got);
}

#define D(s) s, sizeof(s) - 1
#define F 0xFFFD

static void test_decode(void)
{
    /* Unicode Table 3-8: maximal subparts */
    {
        static const uint32_t w[] = {'a', F, F, F, 'b', F, 'c', F, F, 'd'};
        check_decode("table 3-8", D("a\xF1\x80\x80\xE1\x80\xC2" "b\x80" "c\x80\xBF" "d"), NLU_DEC_REPLACE, w, 10);
    }
    {
        static const uint32_t w[] = {'a', 'b', 'c', 'd'};
        check_decode("table 3-8 ignore", D("a\xF1\x80\x80\xE1\x80\xC2" "b\x80" "c\x80\xBF" "d"), NLU_DEC_IGNORE, w, 4);
        check_decode("strict", D("a\xF1\x80\x80"), NLU_DEC_STRICT, w, -1);
    }
    {
        static const uint32_t w[] = {F, F};
        check_decode("C0 AF overlong", D("\xC0\xAF"), NLU_DEC_REPLACE, w, 2);
        check_decode("C1 BF overlong", D("\xC1\xBF"), NLU_DEC_REPLACE, w, 2);
        check_decode("two lone continuations", D("\x80\xBF"), NLU_DEC_REPLACE, w, 2);
    }
    {
        static const uint32_t w[] = {F, F, F};
        check_decode("E0 80 80 overlong", D("\xE0\x80\x80"), NLU_DEC_REPLACE, w, 3);
        check_decode("ED A0 80 surrogate", D("\xED\xA0\x80"), NLU_DEC_REPLACE, w, 3);
        check_decode("ED BF BF surrogate", D("\xED\xBF\xBF"), NLU_DEC_REPLACE, w, 3);
        check_decode("F5 80 80", D("\xF5\x80\x80"), NLU_DEC_REPLACE, w, 3);
    }
    {
        static const uint32_t w[] = {F, F, F, F};
        check_decode("F4 90 80 80 > U+10FFFF", D("\xF4\x90\x80\x80"), NLU_DEC_REPLACE, w, 4);
        check_decode("F0 80 80 80 overlong", D("\xF0\x80\x80\x80"), NLU_DEC_REPLACE, w, 4);
        check_decode("FE FF C0 C1", D("\xFE\xFF\xC0\xC1"), NLU_DEC_REPLACE, w, 4);
    }
    {
        static const uint32_t w[] = {F};
        check_decode("truncated 2 of 3", D("\xE2\x82"), NLU_DEC_REPLACE, w, 1);
        check_decode("truncated 3 of 4", D("\xF0\x9F\x98"), NLU_DEC_REPLACE, w, 1);
        check_decode("truncated 1 of 2", D("\xC3"), NLU_DEC_REPLACE, w, 1);
        check_decode("lone FF", D("\xFF"), NLU_DEC_REPLACE, w, 1);
    }
    {
        static const uint32_t w[] = {F, 'x'};
        check_decode("E1 80 then ASCII", D("\xE1\x80x"), NLU_DEC_REPLACE, w, 2);
        check_decode("F0 9F 98 then ASCII", D("\xF0\x9F\x98x"), NLU_DEC_REPLACE, w, 2);
    }
    {
        static const uint32_t w[] = {F, 0x20AC};
        check_decode("E2 then a full sequence", D("\xE2\xE2\x82\xAC"), NLU_DEC_REPLACE, w, 2);
    }
    {
        static const uint32_t w[] = {0xFEFF, 0x1F600, 0x10FFFF, 0xD7FF, 0xE000, 0x80, 0x7FF, 0x800, 0xFFFF, 0x10000, 0};
        check_decode("well-formed boundaries",
                     D("\xEF\xBB\xBF\xF0\x9F\x98\x80\xF4\x8F\xBF\xBF\xED\x9F\xBF\xEE\x80\x80\xC2\x80\xDF\xBF\xE0\xA0\x80\xEF\xBF\xBF\xF0\x90\x80\x80\x00"),
                     NLU_DEC_STRICT, w, 11);
    }
}

/* ---- preprocessing (§5) ---------------------------------------------------------------------- */

static void check_pre(const char *what, int lower, int strip, const uint32_t *in, size_t n, const uint32_t *want, size_t nwant)
{
    nlu_feat ft;
    uint32_t out[128];
    size_t got, i, cnt;
    int ok;
    memset(&ft, 0, sizeof ft);
    ft.lowercase = (uint8_t)lower;
    ft.strip = (uint8_t)strip;
    got = nlu_preprocess(&ft, in, n, out);
    cnt = nlu_preprocess(&ft, in, n, NULL);
    ok = got == nwant && cnt == got;
    for (i = 0; ok && i < got; i++) ok = out[i] == want[i];
    CHECK(ok, "preprocess %s: got %zu code points", what, got);
    if (!ok)
        for (i = 0; i < got; i++) fprintf(stderr, "  %04X\n", (unsigned)out[i]);
}

static void test_preprocess(void)
{
    /* Final_Sigma */
    {
        static const uint32_t in[] = {0x39F, 0x394, 0x39F, 0x3A3, ' ', 0x3A3, 0x391};
        static const uint32_t w[] = {0x3BF, 0x3B4, 0x3BF, 0x3C2, ' ', 0x3C3, 0x3B1};
        check_pre("ΟΔΟΣ ΣΑ", 1, 0, in, 7, w, 7);
    }
    {
        static const uint32_t in[] = {0x3A3};
        static const uint32_t w[] = {0x3C3};
        check_pre("Σ alone", 1, 0, in, 1, w, 1);
    }
    {   /* ignorable between: A Σ ' (end) -> final; A ' Σ -> final (skips before) */
        static const uint32_t in[] = {'A', '\'', 0x3A3, '\'', 0x2E};
        static const uint32_t w[] = {'a', '\'', 0x3C2, '\'', 0x2E};
        check_pre("A'Σ'.", 1, 0, in, 5, w, 5);
    }
    {   /* cased after the ignorables: not final */
        static const uint32_t in[] = {'A', 0x3A3, 0x0301, 'b'};
        static const uint32_t w[] = {'a', 0x3C3, 0x0301, 'b'};
        check_pre("AΣ◌́b", 1, 0, in, 4, w, 4);
    }
    {   /* U+0345 is cased and case-ignorable: skipped by both scans */
        static const uint32_t in[] = {'A', 0x0345, 0x3A3, 0x0345};
        static const uint32_t w[] = {'a', 0x0345, 0x3C2, 0x0345};
        check_pre("A\\u0345Σ\\u0345", 1, 0, in, 4, w, 4);
    }
    {   /* the scans read the text before lowercasing: ΣΣ -> σς */
        static const uint32_t in[] = {0x3A3, 0x3A3};
        static const uint32_t w[] = {0x3C3, 0x3C2};
        check_pre("ΣΣ", 1, 0, in, 2, w, 2);
    }
    {   /* digits are not cased */
        static const uint32_t in[] = {'1', 0x3A3};
        static const uint32_t w[] = {'1', 0x3C3};
        check_pre("1Σ", 1, 0, in, 2, w, 2);
    }
    {   /* İ expands; strip removes the dot; ß stays (no lowercase change, no decomposition) */
        static const uint32_t in[] = {0x130, 0xDF, 0x1E9E};
        static const uint32_t w1[] = {'i', 0x307, 0xDF, 0xDF};
        static const uint32_t w2[] = {'i', 0xDF, 0xDF};
        check_pre("İßẞ lower", 1, 0, in, 3, w1, 4);
        check_pre("İßẞ lower+strip", 1, NLU_STRIP_UNICODE, in, 3, w2, 3);
    }
    {   /* Hangul: 가 각 힣 */
        static const uint32_t in[] = {0xAC00, 0xAC01, 0xD7A3};
        static const uint32_t w[] = {0x1100, 0x1161, 0x1100, 0x1161, 0x11A8, 0x1112, 0x1175, 0x11C2};
        static const uint32_t none[] = {0};
        check_pre("Hangul", 0, NLU_STRIP_UNICODE, in, 3, w, 8);
        check_pre("Hangul ascii", 0, NLU_STRIP_ASCII, in, 3, none, 0);
    }
    {   /* ascii: ½ -> 1 2 (U+2044 removed), ŀ -> l, é -> e, ﬁ -> fi, U+FDFA -> 18 code points, then only ASCII */
        static const uint32_t in[] = {0xBD, 0x140, 0xE9, 0xFB01};
        static const uint32_t w[] = {'1', '2', 'l', 'e', 'f', 'i'};
        check_pre("ascii", 0, NLU_STRIP_ASCII, in, 4, w, 6);
    }
    {   /* unassigned, private use, surrogate, noncharacter: unchanged */
        static const uint32_t in[] = {0x0378, 0xE000, 0xD800, 0xFFFF, 0x10FFFF, 0xFEFF};
        check_pre("unassigned", 1, NLU_STRIP_UNICODE, in, 6, in, 6);
    }
    /* the expansion bound of §13 over every code point: <= 6 per UTF-8 byte */
    {
        uint32_t cp, worst_cp = 0;
        size_t worst = 0;
        nlu_feat ft;
        memset(&ft, 0, sizeof ft);
        ft.lowercase = 1;
        ft.strip = NLU_STRIP_UNICODE;
        for (cp = 0; cp <= 0x10FFFF; cp++) {
            size_t bytes = cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
            size_t n = nlu_preprocess(&ft, &cp, 1, NULL);
            if (n * 1000 / bytes > worst) { worst = n * 1000 / bytes; worst_cp = cp; }
        }
        CHECK(worst <= NLU_EXPANSION * 1000, "expansion %zu/1000 at U+%04X", worst, (unsigned)worst_cp);
        CHECK(worst_cp == 0xFDFA, "largest expansion at U+%04X, spec says U+FDFA", (unsigned)worst_cp);
    }
}

/* ---- known-answer vectors (§14) -------------------------------------------------------------- */

typedef struct {
    unsigned char buf[4096];
    size_t len;
    double tf[64];
    int n;
} term_list;

static void collect(void *ctx, const unsigned char *term, size_t len, double tf)
{
    term_list *t = (term_list *)ctx;
    if (t->len + len + 1 > sizeof t->buf || t->n >= 64) return;
    memcpy(t->buf + t->len, term, len);
    t->len += len;
    t->buf[t->len++] = 0xFF; /* separator (never in UTF-8) */
    t->tf[t->n++] = tf;
}

static void test_vectors(void)
{
    loaded l;
    phq_nlu_error err;
    char path[1024], line[8192];
    FILE *fp;
    unsigned char ws[1 << 16];
    int nvec = 0;
    CHECK(load("vectors.phq", &l, &err) == 0, "vectors.phq: %s", err.msg);
    snprintf(path, sizeof path, "%s/vectors.expect", dir);
    fp = fopen(path, "r");
    CHECK(fp != NULL, "no vectors.expect");
    if (!fp || !l.nlu) return;
    while (fgets(line, sizeof line, fp)) {
        char *tok = strtok(line, " \n");
        unsigned f = (unsigned)atoi(tok), i;
        unsigned char text[512], want[4096];
        size_t tlen, wlen = 0;
        term_list got;
        int r;
        tlen = unhex(strtok(NULL, " \n"), text, sizeof text);
        while ((tok = strtok(NULL, " \n")) != NULL) {
            wlen += unhex(tok, want + wlen, sizeof want - wlen);
            want[wlen++] = 0xFF;
        }
        memset(&got, 0, sizeof got);
        r = phq_nlu_terms(l.nlu, f, text, tlen, ws, sizeof ws, collect, &got, &err);
        CHECK(r == 0, "vector %u: %s", f, err.msg);
        CHECK(got.len == wlen && memcmp(got.buf, want, wlen) == 0, "vector %u (%s): terms differ: got [%.*s]", f,
              "see vectors.expect", (int)got.len, (const char *)got.buf);
        /* tf of the derived cases "binary_dups" (x, y: 1, 1) and "sublinear" (x: 1 + ln 3, y: 1) */
        if (l.nlu->feat[f].binary) CHECK(got.n == 2 && got.tf[0] == 1.0 && got.tf[1] == 1.0, "binary tf");
        if (l.nlu->feat[f].sublinear)
            CHECK(got.n == 2 && got.tf[0] == 1.0 + log(3.0) && got.tf[1] == 1.0, "sublinear tf %g", got.tf[0]);
        if (!l.nlu->feat[f].binary && !l.nlu->feat[f].sublinear)
            for (i = 0; i < (unsigned)got.n; i++) CHECK(got.tf[i] >= 1.0 && got.tf[i] == floor(got.tf[i]), "tf");
        nvec++;
    }
    fclose(fp);
    CHECK(nvec == (int)l.nlu->nfeat, "%d vectors for %u featurizers", nvec, (unsigned)l.nlu->nfeat);
    /* strict: refused; the stop-word featurizer's terms of "The the" (stop words are not lowercased
     * but tokens are: "the" removed twice) */
    {
        term_list got;
        memset(&got, 0, sizeof got);
        CHECK(phq_nlu_terms(l.nlu, 0, "a\xff", 2, ws, sizeof ws, collect, &got, &err) == PHQ_NLU_E_INPUT, "strict");
        CHECK(strcmp(phq_nlu_error_name(err.code), "E_INPUT") == 0, "E_INPUT name");
        CHECK(phq_nlu_terms(l.nlu, 3, "The THE the", 11, ws, sizeof ws, collect, &got, &err) == 0 && got.n == 0,
              "stop words");
        CHECK(phq_nlu_terms(l.nlu, 99, "x", 1, ws, sizeof ws, collect, &got, &err) == PHQ_E_USAGE, "featurizer index");
    }
    unload(&l);
}

/* ---- scoring (§8) ------------------------------------------------------------------------------ */

static void test_score(void)
{
    loaded l;
    phq_nlu_error err;
    char path[1024], line[4096];
    FILE *fp;
    static unsigned char ws[1 << 16];
    int n = 0;
    CHECK(load("score.phq", &l, &err) == 0, "score.phq: %s", err.msg);
    snprintf(path, sizeof path, "%s/score.expect", dir);
    fp = fopen(path, "r");
    if (!fp || !l.nlu) { CHECK(0, "score files"); return; }
    while (fgets(line, sizeof line, fp)) {
        unsigned char text[512];
        char *sp = strchr(line, ' ');
        size_t tlen;
        double d[3], want[3];
        int c;
        if (!sp) continue;
        *sp = 0;
        tlen = line[0] == 0 ? 0 : unhex(line, text, sizeof text);
        sscanf(sp + 1, "%la %la %la", &want[0], &want[1], &want[2]);
        CHECK(phq_nlu_decision(l.nlu, text, tlen, ws, sizeof ws, d, &err) == 0, "decision: %s", err.msg);
        for (c = 0; c < 3; c++) CHECK(d[c] == want[c], "case %d column %d: %a != %a (bit-exact, §8.1)", n, c, d[c], want[c]);
        n++;
    }
    fclose(fp);
    CHECK(n == 3, "3 score cases");
    CHECK(phq_nlu_proba_rule(l.nlu) == PHQ_NLU_PROBA_SOFTMAX, "softmax");
    {
        double d[3] = {1.0, 3.0, 2.0}, p[3], v[3];
        uint32_t idx[3];
        CHECK(phq_nlu_proba(l.nlu, d, p, &err) == 0, "proba");
        CHECK(fabs(p[0] + p[1] + p[2] - 1.0) < 1e-15 && p[1] > p[2] && p[2] > p[0], "softmax values");
        CHECK(phq_nlu_top(l.nlu, d, NULL, 2, idx, v) == 2 && idx[0] == 1 && idx[1] == 2 && v[0] == 3.0, "top 2");
        CHECK(phq_nlu_top(l.nlu, d, p, 10, idx, v) == 3 && idx[2] == 0 && v[0] == p[1], "top with proba");
    }
    {   /* ties go to the lower index; NaN wins, the first NaN */
        double t[3] = {2.0, 2.0, 1.0}, nn[3] = {1.0, NAN, NAN};
        uint32_t idx[3];
        CHECK(phq_nlu_argmax(l.nlu, t) == 0, "tie");
        CHECK(phq_nlu_top(l.nlu, t, NULL, 3, idx, NULL) == 3 && idx[0] == 0 && idx[1] == 1 && idx[2] == 2, "top ties");
        CHECK(phq_nlu_argmax(l.nlu, nn) == 1, "NaN");
        CHECK(phq_nlu_top(l.nlu, nn, NULL, 3, idx, NULL) == 3 && idx[0] == 1 && idx[1] == 2 && idx[2] == 0, "top NaN");
    }
    /* workspace: one byte short gives E_NOSPACE; the bound covers the size */
    {
        const char *t = "play the beatles play";
        size_t need = phq_nlu_workspace_size(l.nlu, t, strlen(t));
        double d[3];
        CHECK(need > 0 && need <= phq_nlu_workspace_bound(l.nlu, strlen(t)), "bound");
        CHECK(phq_nlu_decision(l.nlu, t, strlen(t), ws, need - 1, d, &err) == PHQ_NLU_E_NOSPACE, "nospace");
        CHECK(strcmp(phq_nlu_error_name(err.code), "E_NOSPACE") == 0, "E_NOSPACE name");
        CHECK(phq_nlu_decision(l.nlu, t, strlen(t), ws + 3, need, d, &err) == 0, "exact size, unaligned");
        CHECK(phq_nlu_decision(l.nlu, t, strlen(t), NULL, 0, d, &err) == PHQ_NLU_E_NOSPACE, "no workspace");
    }
    unload(&l);
}

static void test_models(void)
{
    loaded l;
    phq_nlu_error err;
    static unsigned char ws[1 << 16];
    double d[4], p[4];
    size_t len;
    const char *j;
    /* two featurizers: w (word_runs_min1, sublinear) + c (char_wb [2, 3], l1 norm, dim-0 norm table) */
    CHECK(load("multi.phq", &l, &err) == 0, "multi.phq: %s", err.msg);
    if (l.nlu) {
        double tf = 1.0 + log(2.0), s = 1.0 / 10.0, u = 2.0 * s, want[4];
        const double rw[4] = {1.0, 2.0, 3.0, 4.0}, rh[4] = {0.5, 0.25, 0.125, 1.0}, rlo[4] = {-1.0, 0.0, 1.0, 0.5};
        int c;
        for (c = 0; c < 4; c++) {
            double pw = 0.0 + tf * rw[c], pc = 0.0;
            pc = pc + u * rh[c];
            pc = pc + u * rlo[c];
            want[c] = (0.0 + pw) + pc;
        }
        CHECK(phq_nlu_decision(l.nlu, "Hello hello", 11, ws, sizeof ws, d, &err) == 0, "multi: %s", err.msg);
        for (c = 0; c < 4; c++) CHECK(d[c] == want[c], "multi column %d: %a != %a", c, d[c], want[c]);
        CHECK(phq_nlu_argmax(l.nlu, d) == 3, "multi argmax");
        CHECK(phq_nlu_proba(l.nlu, d, p, &err) == PHQ_E_USAGE, "proba null is a usage error");
        CHECK(phq_nlu_featurizer_count(l.nlu) == 2 && phq_nlu_class_count(l.nlu) == 4 && phq_nlu_output_count(l.nlu) == 4, "counts");
    }
    unload(&l);
    /* two classes: k = 1, int labels, logistic */
    CHECK(load("binary.phq", &l, &err) == 0, "binary.phq: %s", err.msg);
    if (l.nlu) {
        uint32_t idx[2];
        double v[2];
        CHECK(phq_nlu_output_count(l.nlu) == 1, "k = 1");
        CHECK(phq_nlu_decision(l.nlu, "good", 4, ws, sizeof ws, d, &err) == 0 && d[0] == 2.25, "good %g", d[0]);
        CHECK(phq_nlu_argmax(l.nlu, d) == 1, "positive -> classes[1]");
        j = phq_nlu_class_json(l.nlu, 1, &len);
        CHECK(len == 1 && memcmp(j, "7", 1) == 0, "int label");
        CHECK(phq_nlu_proba(l.nlu, d, p, &err) == 0 && p[1] == 1.0 / (1.0 + exp(-2.25)) && p[0] == 1.0 - p[1], "logistic");
        CHECK(phq_nlu_top(l.nlu, d, NULL, 2, idx, v) == 2 && idx[0] == 1 && v[0] == 2.25 && v[1] == -2.25, "top k=1");
        CHECK(phq_nlu_decision(l.nlu, "bad", 3, ws, sizeof ws, d, &err) == 0 && d[0] == -2.75, "bad");
        CHECK(phq_nlu_argmax(l.nlu, d) == 0, "negative -> classes[0]");
        d[0] = 0.0;
        CHECK(phq_nlu_argmax(l.nlu, d) == 0, "zero -> classes[0]");
    }
    unload(&l);
    CHECK(load("softmax.phq", &l, &err) == 0, "softmax.phq: %s", err.msg);
    if (l.nlu) {
        j = phq_nlu_class_json(l.nlu, 1, &len);
        CHECK(len == 3 && memcmp(j, "1.0", 3) == 0, "float label as written");
    }
    unload(&l);
    CHECK(load("modified_huber.phq", &l, &err) == 0, "modified_huber.phq: %s", err.msg);
    if (l.nlu) {
        CHECK(phq_nlu_decision(l.nlu, "good good", 9, ws, sizeof ws, d, &err) == 0 && d[0] == 0.75, "mh %g", d[0]);
        CHECK(phq_nlu_proba(l.nlu, d, p, &err) == 0 && p[1] == 0.875 && p[0] == 0.125, "modified_huber");
        d[0] = 5.0;
        CHECK(phq_nlu_proba(l.nlu, d, p, &err) == 0 && p[1] == 1.0 && p[0] == 0.0, "modified_huber clip");
        j = phq_nlu_class_json(l.nlu, 0, &len);
        CHECK(len == 5 && memcmp(j, "false", 5) == 0, "bool label");
    }
    unload(&l);
    CHECK(load("labels.phq", &l, &err) == 0, "labels.phq: %s", err.msg);
    if (l.nlu) {
        static const char *const want[] = {"\"a\\\"b\"", "\"tab\\there\"", "\"\xc3\xa9\\u0001\"", "\"\xf0\x9f\x98\x80\""};
        uint32_t i;
        for (i = 0; i < 4; i++) {
            j = phq_nlu_class_json(l.nlu, i, &len);
            CHECK(len == strlen(want[i]) && memcmp(j, want[i], len) == 0, "label %u: %.*s", (unsigned)i, (int)len, j);
        }
        j = phq_nlu_class_json(l.nlu, 4, &len);
        CHECK(len == 0, "label out of range");
    }
    unload(&l);
    /* profile 1 (§12) */
    CHECK(load("v1.phq", &l, &err) == 0, "v1.phq: %s", err.msg);
    if (l.nlu) {
        CHECK(l.nlu->profile == 1 && l.nlu->feat[0].tokenizer == NLU_TOK_MIN2, "profile 1 mapped");
        CHECK(phq_nlu_decision(l.nlu, "PLAY it", 7, ws, sizeof ws, d, &err) == 0 && d[0] == 1.0 && d[1] == 0.5 && d[2] == -1.0,
              "v1 decision");
    }
    unload(&l);
}

/* ---- profile errors (§9) ------------------------------------------------------------------------ */

static void test_errors(void)
{
    DIR *dp = opendir(dir);
    struct dirent *e;
    int seen[5] = {0, 0, 0, 0, 0}, n = 0, c;
    if (!dp) { CHECK(0, "opendir"); return; }
    while ((e = readdir(dp)) != NULL) {
        loaded l;
        phq_nlu_error err;
        char code[32];
        const char *p;
        int r;
        size_t k;
        if (strncmp(e->d_name, "err_", 4) != 0) continue;
        p = e->d_name + 4;
        k = 0;
        /* code = up to the first '_' after "E_NLU_" */
        while (p[k] && k < sizeof code - 1 && !(k > 6 && p[k] == '_')) { code[k] = p[k]; k++; }
        code[k] = 0;
        r = load(e->d_name, &l, &err);
        CHECK(r != 0 && l.nlu == NULL, "%s opened", e->d_name);
        CHECK(strcmp(phq_nlu_error_name(r), code) == 0, "%s: got %s (%s)", e->d_name, phq_nlu_error_name(r), err.msg);
        CHECK(err.code == r && err.msg[0], "%s: error filled", e->d_name);
        if (r >= 200 && r <= 204) seen[r - 200]++;
        unload(&l);
        n++;
    }
    closedir(dp);
    for (c = 0; c < 5; c++) CHECK(seen[c] > 0, "no file for code %d", 200 + c);
    CHECK(n > 60, "%d error files", n);
    {
        phq_nlu *out = (phq_nlu *)1;
        phq_nlu_error err;
        phq_model m;
        memset(&m, 0, sizeof m);
        CHECK(phq_nlu_open(&m, &out, &err) == PHQ_E_USAGE && out == NULL, "unopened model");
        CHECK(phq_nlu_open(NULL, &out, &err) == PHQ_E_USAGE, "NULL model");
    }
}

/* ---- cost: 1 MB, 10,000 tokens, linear work -------------------------------------------------------- */

typedef struct {
    size_t occurrences, distinct, probes;
} work;

/* featurize feat f of a text through the internal steps and count the work */
static int measure(const phq_nlu *nlu, uint32_t f, const unsigned char *t, size_t n, void *ws, size_t wsz, work *w)
{
    nlu_ws x;
    phq_nlu_error err;
    int r = nlu_prepare(nlu, f, f + 1, t, n, ws, wsz, &x, &err);
    if (!r) r = nlu_featurize(nlu, f, t, n, &x, &err);
    if (r) return r;
    w->distinct = x.nterms;
    w->occurrences = 0;
    {
        size_t i;
        for (i = 0; i < x.nterms; i++) w->occurrences += x.terms[i].count;
    }
    w->probes = x.probes;
    return 0;
}

static void test_cost(void)
{
    loaded l;
    phq_nlu_error err;
    size_t n = 1 << 20, i, need;
    unsigned char *text = (unsigned char *)malloc(2 * n);
    void *ws;
    double *d = (double *)malloc(150 * sizeof(double));
    CHECK(load("big.phq", &l, &err) == 0, "big.phq: %s", err.msg);
    if (!l.nlu || !text || !d) return;
    printf("memory per open model (big.phq: 150 classes, 20,000 terms, word [1, 2] + l2/idf): %zu bytes\n",
           phq_nlu_memory(l.nlu));
    /* 1 MB of words, some from the vocabulary */
    {
        uint64_t x = 88172645463325252ULL;
        size_t p = 0;
        while (p < 2 * n) {
            char wbuf[32];
            int k;
            x ^= x << 13; x ^= x >> 7; x ^= x << 17;
            k = snprintf(wbuf, sizeof wbuf, (x & 3) ? "term%u " : "Word%u\xc3\xa9 ", (unsigned)(x % 30000));
            if (p + (size_t)k > 2 * n) break;
            memcpy(text + p, wbuf, (size_t)k);
            p += (size_t)k;
        }
        while (p < 2 * n) text[p++] = ' ';
    }
    need = phq_nlu_workspace_size(l.nlu, text, 2 * n);
    ws = malloc(need);
    CHECK(ws != NULL, "workspace of %zu bytes", need);
    if (ws) {
        work w1, w2;
        CHECK(phq_nlu_decision(l.nlu, text, n, ws, need, d, &err) == 0, "1 MB: %s", err.msg);
        printf("1 MB text: workspace %zu bytes (%.1f per byte)\n", phq_nlu_workspace_size(l.nlu, text, n),
               (double)phq_nlu_workspace_size(l.nlu, text, n) / (double)n);
        /* linear: twice the text, about twice the work and workspace */
        CHECK(measure(l.nlu, 0, text, n, ws, need, &w1) == 0 && measure(l.nlu, 0, text, 2 * n, ws, need, &w2) == 0, "measure");
        CHECK(w2.occurrences <= 2 * w1.occurrences + w1.occurrences / 100 && w2.probes <= 2 * w1.probes + w1.probes / 4,
              "work not linear: %zu/%zu occurrences, %zu/%zu probes", w1.occurrences, w2.occurrences, w1.probes, w2.probes);
        CHECK(w1.probes <= 3 * w1.occurrences, "probes per term occurrence: %zu / %zu", w1.probes, w1.occurrences);
        /* the workspace is linear in the text: for this model (word [1, 2]) at most 64 bytes per byte */
        CHECK(phq_nlu_workspace_size(l.nlu, text, n) <= 64 * n + 4096 && phq_nlu_workspace_size(l.nlu, text, 2 * n) <= 128 * n + 4096,
              "workspace not linear: %zu, %zu", phq_nlu_workspace_size(l.nlu, text, n), phq_nlu_workspace_size(l.nlu, text, 2 * n));
        /* adversarial shapes: one repeated character (every n-gram equal), 1 MB of sigma/ignorables */
        memset(text, 'a', n);
        CHECK(measure(l.nlu, 0, text, n, ws, need, &w1) == 0 && w1.distinct == 1 && w1.probes <= 2, "one token");
        for (i = 0; i + 4 <= n; i += 4) memcpy(text + i, "\xce\xa3''", 4); /* Σ'' */
        CHECK(phq_nlu_decision(l.nlu, text, n, ws, need, d, &err) == 0, "sigmas: %s", err.msg);
        memset(text, ' ', n);
        for (i = 0; i + 3 <= n; i += 3) memcpy(text + i, "ab ", 3);
        CHECK(measure(l.nlu, 0, text, n, ws, need, &w1) == 0 && w1.distinct == 2 && w1.occurrences == 2 * (n / 3) - 1 &&
              w1.probes <= w1.occurrences + 2,
              "ab ab ab ...: %zu distinct, %zu occurrences, %zu probes", w1.distinct, w1.occurrences, w1.probes);
    }
    /* 10,000 tokens: 10,000 distinct unigrams + 9,999 bigrams */
    {
        size_t p = 0;
        work w;
        for (i = 0; i < 10000; i++) p += (size_t)sprintf((char *)text + p, "tok%zu ", i);
        CHECK(measure(l.nlu, 0, text, p, ws, need, &w) == 0 && w.distinct == 19999 && w.occurrences == 19999,
              "10,000 tokens: %zu distinct", w.distinct);
        CHECK(phq_nlu_decision(l.nlu, text, p, ws, need, d, &err) == 0, "10,000 tokens: %s", err.msg);
    }
    free(ws);
    free(text);
    free(d);
    unload(&l);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: test_nlu TESTDATA_DIR (made by tests/gen_nlu_testdata.py)\n");
        return 2;
    }
    dir = argv[1];
    test_decode();
    test_preprocess();
    test_vectors();
    test_score();
    test_models();
    test_errors();
    test_cost();
    printf("test_nlu: %d checks, %d failures\n", checks, failures);
    return failures ? 1 : 0;
}
