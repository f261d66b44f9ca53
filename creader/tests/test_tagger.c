/*
 * test_tagger.c - unit tests of the C runtime's profile 3 tagger (spec/nlu-profile-v3.md) over the
 * files of gen_tagger_testdata.py (the profile 3 error files are checked by test_nlu.c's err_* scan):
 *   - §13 known answers: tokens and offsets (word_punct, nonspace_runs, replace, ignore), attribute
 *     values, the feature lists of "Play THE Beatles" and "7:30pm", the four Viterbi vectors and spans;
 *   - Viterbi against brute force over every label path on 30 random small models (f32 and f64
 *     transitions), 200 random utterances of 0..6 tokens each;
 *   - the vectorized Viterbi step bit for bit against the spec's literal scan (L 1..300, ties,
 *     signed zeros, NaN, infinities);
 *   - invalid transitions (an I-x at the start or after O begins a span), the empty utterance,
 *     a joint model's intent, input errors (E_INPUT, E_NOSPACE), a 10,000-token utterance (its
 *     workspace grows linearly with the text; no timing), and linear cost counted: Viterbi steps,
 *     cells, feature strings and key bytes double when the utterance doubles (-DNLU3T_TEST_COUNTERS).
 *
 *   test_tagger DIR
 */
#define NLU3T_TEST_COUNTERS 1
#include "../phq.c"
#include "../phq_nlu.c"
#include "../phq_nlu_json.c"
#include "../phq_nlu_open.c"
#include "../phq_nlu_tagger.c"
#include "../phq_nlu_tagger_open.c"
#include "../phq_posix.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int failures, checks;

#define CHECK(cond, ...)                                         \
    do {                                                         \
        checks++;                                                \
        if (!(cond)) {                                           \
            failures++;                                          \
            fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__); \
            fprintf(stderr, __VA_ARGS__);                        \
            fputc('\n', stderr);                                 \
        }                                                        \
    } while (0)

static const char *dir;

typedef struct {
    phq_mapping map;
    phq_model m;
    phq_nlu *nlu;
} loaded;

static void load(const char *name, loaded *l)
{
    char path[1024];
    phq_error e;
    phq_nlu_error err;
    snprintf(path, sizeof path, "%s/%s", dir, name);
    memset(l, 0, sizeof *l);
    if (phq_map_file(path, &l->map) != 0 || phq_open(l->map.data, l->map.len, &l->m, &e) != PHQ_OK ||
        phq_nlu_open(&l->m, &l->nlu, &err) != 0) {
        fprintf(stderr, "cannot open %s\n", path);
        exit(2);
    }
}

static void unload(loaded *l)
{
    phq_nlu_close(l->nlu);
    phq_unmap_file(&l->map);
}

static unsigned char *ws;
static size_t ws_cap;

static void *need_ws(const phq_nlu *nlu, const char *text, size_t len)
{
    size_t need = phq_nlu_workspace_size(nlu, text, len);
    if (need > ws_cap) {
        free(ws);
        ws = malloc(need);
        ws_cap = need;
    }
    return ws;
}

/* the capacity after need_ws (evaluated in either order beside it in a call's arguments) */
static size_t need_cap(const phq_nlu *nlu, const char *text, size_t len)
{
    need_ws(nlu, text, len);
    return ws_cap;
}

/* UTF-8 of code points [a, b) of the decoded text */
static size_t cps_utf8(const uint32_t *cp, size_t a, size_t b, char *out)
{
    size_t k = 0;
    for (; a < b; a++) k += nlu_utf8_put(cp[a], (unsigned char *)out + k);
    out[k] = 0;
    return k;
}

/* tokens as "tok,start,end;" */
static void tokens_str(const char *model, const char *text, size_t len, char *out)
{
    loaded l;
    phq_nlu_parse_result r;
    phq_nlu_error err;
    size_t i;
    load(model, &l);
    out[0] = 0;
    if (phq_nlu_tokens(l.nlu, text, len, need_ws(l.nlu, text, len), need_cap(l.nlu, text, len), &r, &err) != 0) {
        strcpy(out, "error");
    } else {
        for (i = 0; i < r.n_tokens; i++) {
            char tok[256];
            cps_utf8(r.text, r.tokens[i].start, r.tokens[i].end, tok);
            sprintf(out + strlen(out), "%s,%u,%u;", tok, (unsigned)r.tokens[i].start, (unsigned)r.tokens[i].end);
        }
    }
    unload(&l);
}

static void test_tokens(void)
{
    char got[2048];
    tokens_str("tg_feat.phq", "Play Yesterday by the Beatles", 29, got);
    CHECK(strcmp(got, "Play,0,4;Yesterday,5,14;by,15,17;the,18,21;Beatles,22,29;") == 0, "%s", got);
    tokens_str("tg_feat.phq", "7:30pm \xc4\xb0stanbul!", 17, got);
    CHECK(strcmp(got, "7,0,1;:,1,2;30pm,2,6;\xc4\xb0stanbul,7,15;!,15,16;") == 0, "%s", got);
    tokens_str("tg_feat.phq", "don't  STOP-me", 14, got);
    CHECK(strcmp(got, "don,0,3;',3,4;t,4,5;STOP,7,11;-,11,12;me,12,14;") == 0, "%s", got);
    tokens_str("tg_feat.phq", "  ", 2, got);
    CHECK(strcmp(got, "") == 0, "%s", got);
    tokens_str("tg_np.phq", "don't  STOP-me", 14, got);
    CHECK(strcmp(got, "don't,0,5;STOP-me,7,14;") == 0, "%s", got);
    tokens_str("tg_replace.phq", "a\xff" "b c", 5, got);
    CHECK(strcmp(got, "a,0,1;\xef\xbf\xbd,1,2;b,2,3;c,4,5;") == 0, "%s", got);
    tokens_str("tg_ignore.phq", "a\xff" "b c", 5, got);
    CHECK(strcmp(got, "ab,0,2;c,3,4;") == 0, "%s", got);
    tokens_str("tg_feat.phq", "a\xff" "b c", 5, got); /* strict */
    CHECK(strcmp(got, "error") == 0, "%s", got);
}

typedef struct {
    char buf[4096];
} feats;

static void on_feat(void *ctx, const unsigned char *f, size_t len)
{
    feats *x = (feats *)ctx;
    size_t n = strlen(x->buf);
    if (n) x->buf[n++] = ',';
    memcpy(x->buf + n, f, len);
    x->buf[n + len] = 0;
}

static const char *features(const loaded *l, const char *text, size_t i, feats *x)
{
    phq_nlu_error err;
    size_t len = strlen(text);
    x->buf[0] = 0;
    if (phq_nlu_features(l->nlu, text, len, i, need_ws(l->nlu, text, len), need_cap(l->nlu, text, len), on_feat, x, &err) != 0) return "error";
    return x->buf;
}

static void test_features(void)
{
    loaded l;
    feats x;
    const char *g;
    load("tg_feat.phq", &l);
    g = features(&l, "Play THE Beatles", 0, &x);
    CHECK(strcmp(g, "bias,bos,w=play,p2=pl,s3=lay,shape=Xxxx,sshape=Xx,digit=0,upper=0,title=1,w=play|w+1=the") == 0, "%s", g);
    g = features(&l, "Play THE Beatles", 1, &x);
    CHECK(strcmp(g, "bias,w=the,w-1=play,p2=th,s3=the,shape=XXX,sshape=X,digit=0,upper=1,title=0,w=the|w+1=beatles") == 0, "%s", g);
    g = features(&l, "Play THE Beatles", 2, &x);
    CHECK(strcmp(g, "bias,eos,w=beatles,w-1=the,p2=be,s3=les,shape=Xxxxxxx,sshape=Xx,digit=0,upper=0,title=1") == 0, "%s", g);
    g = features(&l, "7:30pm", 2, &x);
    CHECK(strcmp(g, "bias,eos,w=30pm,w-1=:,p2=30,s3=0pm,shape=ddxx,sshape=dx,digit=0,upper=0,title=0") == 0, "%s", g);
    g = features(&l, "42", 0, &x); /* one token: bos and eos both */
    CHECK(strcmp(g, "bias,bos,eos,w=42,p2=42,s3=42,shape=dd,sshape=d,digit=1,upper=0,title=0") == 0, "%s", g);
    g = features(&l, "Play", 1, &x);
    CHECK(strcmp(g, "error") == 0, "no token 1: %s", g);
    unload(&l);
    load("tg_attr.phq", &l); /* shape, w, title, sshape, raw on nonspace_runs tokens */
    g = features(&l, "Ab9_\xc3\xa9\xe4\xb8\xad\xc7\x85\xc4\xb0-", 0, &x);
    CHECK(strcmp(g, "shape=XxdwxwXX-,w=ab9_\xc3\xa9\xe4\xb8\xad\xc7\x86i\xcc\x87-,title=0,sshape=XxdwxwX-,"
                    "raw=Ab9_\xc3\xa9\xe4\xb8\xad\xc7\x85\xc4\xb0-") == 0, "%s", g);
    g = features(&l, "\xc4\xb0", 0, &x); /* w("İ") = i U+0307 */
    CHECK(strcmp(g, "shape=X,w=i\xcc\x87,title=1,sshape=X,raw=\xc4\xb0") == 0, "%s", g);
    g = features(&l, "\xce\x9f\xce\x94\xce\x9f\xce\xa3", 0, &x); /* w("ΟΔΟΣ") = "οδος" (final sigma) */
    CHECK(strstr(g, "w=\xce\xbf\xce\xb4\xce\xbf\xcf\x82,") != NULL, "%s", g);
    g = features(&l, "\xc7\x85ungla", 0, &x); /* title("ǅungla") = 1 */
    CHECK(strstr(g, "title=1") != NULL, "%s", g);
    unload(&l);
}

/* parse: path as label indices "0,1,2" and spans "slot:start-end;" */
static void parse_str(const loaded *l, const char *text, char *path, char *spans, int *rc)
{
    phq_nlu_parse_result r;
    phq_nlu_error err;
    size_t i, len = strlen(text);
    path[0] = spans[0] = 0;
    *rc = phq_nlu_parse(l->nlu, text, len, need_ws(l->nlu, text, len), need_cap(l->nlu, text, len), &r, &err);
    if (*rc) return;
    for (i = 0; i < r.n_tokens; i++) sprintf(path + strlen(path), i ? ",%u" : "%u", (unsigned)r.path[i]);
    for (i = 0; i < r.n_slots; i++) {
        size_t n;
        const char *lab = phq_nlu_label(l->nlu, r.slots[i].label, &n);
        sprintf(spans + strlen(spans), "%.*s:%u-%u;", (int)(n - 2), lab + 2, (unsigned)r.slots[i].start, (unsigned)r.slots[i].end);
    }
}

static void test_viterbi_kat(void)
{
    loaded l;
    char path[256], spans[256];
    int rc;
    load("tg_kat.phq", &l);
    CHECK(phq_nlu_label_count(l.nlu) == 3 && phq_nlu_class_count(l.nlu) == 0, "L, K");
    parse_str(&l, "x1 x2 x3", path, spans, &rc);
    CHECK(rc == 0 && strcmp(path, "0,1,2") == 0 && strcmp(spans, "a:3-8;") == 0, "v1 %s %s", path, spans);
    parse_str(&l, "z z", path, spans, &rc);
    CHECK(rc == 0 && strcmp(path, "0,0") == 0 && strcmp(spans, "") == 0, "v2 %s %s", path, spans);
    parse_str(&l, "y1 y2", path, spans, &rc);
    CHECK(rc == 0 && strcmp(path, "0,2") == 0 && strcmp(spans, "a:3-5;") == 0, "v3 %s %s", path, spans);
    parse_str(&l, "w1 w2 w1 w2", path, spans, &rc);
    CHECK(rc == 0 && strcmp(path, "1,2,1,2") == 0 && strcmp(spans, "a:0-5;a:6-11;") == 0, "v4 %s %s", path, spans);
    /* invalid transitions: I-a at the start begins a span; the path is not repaired */
    parse_str(&l, "y2", path, spans, &rc);
    CHECK(rc == 0 && strcmp(path, "2") == 0 && strcmp(spans, "a:0-2;") == 0, "I-a first %s %s", path, spans);
    /* inner whitespace kept in the value's offsets */
    parse_str(&l, "w1 \t w2", path, spans, &rc);
    CHECK(rc == 0 && strcmp(spans, "a:0-7;") == 0, "inner ws %s", spans);
    /* empty and whitespace-only */
    parse_str(&l, "", path, spans, &rc);
    CHECK(rc == 0 && path[0] == 0 && spans[0] == 0, "empty");
    parse_str(&l, " \t ", path, spans, &rc);
    CHECK(rc == 0 && path[0] == 0 && spans[0] == 0, "blank");
    {
        phq_nlu_parse_result r;
        phq_nlu_error err;
        unsigned char small[64];
        double d[3];
        CHECK(phq_nlu_parse(l.nlu, "x1 x2", 5, small, sizeof small, &r, &err) == PHQ_NLU_E_NOSPACE, "nospace");
        CHECK(phq_nlu_parse(l.nlu, "x1 \xff", 4, need_ws(l.nlu, "x1 \xff", 4), need_cap(l.nlu, "x1 \xff", 4), &r, &err) == PHQ_NLU_E_INPUT, "strict");
        CHECK(phq_nlu_decision(l.nlu, "x1", 2, ws, ws_cap, d, &err) == PHQ_E_USAGE, "no classifier");
        CHECK(phq_nlu_workspace_bound(l.nlu, 100) >= phq_nlu_workspace_size(l.nlu, "x1 x2 x3", 8), "bound");
    }
    unload(&l);
}

static void test_joint(void)
{
    loaded l;
    phq_nlu_parse_result r;
    phq_nlu_error err;
    double d[3], p[3];
    const char *text = "play x1 x2 x3 stop stop";
    size_t n;
    load("tg_joint.phq", &l);
    CHECK(phq_nlu_class_count(l.nlu) == 3 && phq_nlu_has_tagger(l.nlu), "joint");
    CHECK(phq_nlu_parse(l.nlu, text, strlen(text), need_ws(l.nlu, text, strlen(text)), ws_cap, &r, &err) == 0, "parse");
    CHECK(phq_nlu_decision(l.nlu, text, strlen(text), ws, ws_cap, d, &err) == 0, "decision");
    phq_nlu_proba(l.nlu, d, p, &err);
    CHECK(r.has_intent && r.intent == 2 && r.score == p[2], "intent %u %g", (unsigned)r.intent, r.score);
    CHECK(r.n_slots == 1 && r.slots[0].start == 8 && r.slots[0].end == 13, "slots");
    CHECK(strcmp(phq_nlu_class_json(l.nlu, r.intent, &n), "\"stop\"") == 0 || n == 6, "label");
    /* phq_nlu_tag: the tagger's part alone, the same tokens, path and spans, no intent */
    {
        phq_nlu_parse_result t;
        size_t i, nt = r.n_tokens, ns = r.n_slots;
        uint16_t path[16];
        phq_nlu_token toks[16];
        phq_nlu_slot slots[16];
        memcpy(path, r.path, nt * sizeof *path);
        memcpy(toks, r.tokens, nt * sizeof *toks);
        memcpy(slots, r.slots, ns * sizeof *slots);
        CHECK(phq_nlu_tag(l.nlu, text, strlen(text), ws, ws_cap, &t, &err) == 0 && !t.has_intent, "tag");
        CHECK(t.n_tokens == nt && t.n_slots == ns && nt == 6, "tag: %zu tokens, %zu slots", t.n_tokens, t.n_slots);
        for (i = 0; i < nt && i < t.n_tokens; i++)
            CHECK(t.path[i] == path[i] && t.tokens[i].start == toks[i].start && t.tokens[i].end == toks[i].end, "tag token %zu", i);
        for (i = 0; i < ns && i < t.n_slots; i++)
            CHECK(t.slots[i].label == slots[i].label && t.slots[i].start == slots[i].start && t.slots[i].end == slots[i].end, "tag slot %zu", i);
    }
    /* empty: the intercept's answer, no slots */
    CHECK(phq_nlu_parse(l.nlu, "", 0, need_ws(l.nlu, "", 0), need_cap(l.nlu, "", 0), &r, &err) == 0 && r.has_intent && r.intent == 0 && r.n_slots == 0,
          "empty joint");
    unload(&l);
}

/* brute force over all L^n paths: S(y) = sum state + sum T */
static uint64_t rng_state = 88172645463325252ull;
static uint32_t rnd(uint32_t n)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (uint32_t)(rng_state % n);
}

static void test_brute_force(void)
{
    int f, q, agree = 0, total = 0;
    for (f = 0; f < 30; f++) {
        char name[64];
        loaded l;
        const nlu_tagger *t;
        snprintf(name, sizeof name, "tg_rand_%d.phq", f);
        load(name, &l);
        t = l.nlu->tagger;
        for (q = 0; q < 200; q++) {
            char text[128] = "";
            uint32_t n = rnd(7), i, L = t->L, y[8], best[8], j;
            double st[8][8], bs = -INFINITY, second = -INFINITY;
            uint64_t paths = 1, pi;
            char path[64], spans[256];
            int rc;
            for (i = 0; i < n; i++) {
                uint32_t v = rnd(10); /* t8, t9: absent keys */
                char key[16];
                uint64_t slot;
                phq_error e;
                sprintf(text + strlen(text), i ? " t%u" : "t%u", (unsigned)v);
                for (j = 0; j < L; j++) st[i][j] = 0;
                if (phq_lookup(&t->state, "bias", 4, &slot, &e) == PHQ_FOUND) phq_row_accumulate(&t->state, slot, 1.0, st[i], &e);
                sprintf(key, "raw=t%u", (unsigned)v);
                if (phq_lookup(&t->state, key, strlen(key), &slot, &e) == PHQ_FOUND) phq_row_accumulate(&t->state, slot, 1.0, st[i], &e);
            }
            for (i = 0; i < n; i++) paths *= L;
            for (pi = 0; pi < paths; pi++) {
                uint64_t x = pi;
                double s = 0;
                for (i = n; i-- > 0;) { y[i] = (uint32_t)(x % L); x /= L; }
                for (i = 0; i < n; i++) s += st[i][y[i]] + (i ? t->trans[(size_t)y[i - 1] * L + y[i]] : 0.0);
                if (s > bs) { second = bs; bs = s; memcpy(best, y, sizeof y); }
                else if (s > second) second = s;
            }
            parse_str(&l, text, path, spans, &rc);
            {
                char want[64] = "";
                for (i = 0; i < n; i++) sprintf(want + strlen(want), i ? ",%u" : "%u", (unsigned)best[i]);
                if (n == 0 || bs - second > 1e-9) {
                    total++;
                    agree += rc == 0 && strcmp(path, want) == 0;
                    CHECK(rc == 0 && strcmp(path, want) == 0, "%s %s: viterbi %s, brute force %s", name, text, path, want);
                }
            }
        }
        unload(&l);
    }
    CHECK(total > 5000, "%d compared", total);
    printf("viterbi = brute force on %d/%d utterances of 30 random models\n", agree, total);
}

static void test_long(void)
{
    loaded l;
    size_t n = 10000, i, len;
    char *text = malloc(3 * n + 1);
    phq_nlu_parse_result r;
    phq_nlu_error err;
    size_t w1, w2;
    for (i = 0; i < n; i++) memcpy(text + 3 * i, i % 3 == 0 ? "x1 " : i % 3 == 1 ? "x2 " : "x3 ", 3);
    len = 3 * n;
    text[len] = 0;
    load("tg_kat.phq", &l);
    CHECK(phq_nlu_parse(l.nlu, text, len, need_ws(l.nlu, text, len), need_cap(l.nlu, text, len), &r, &err) == 0, "10,000 tokens");
    CHECK(r.n_tokens == n && r.n_slots == n / 3, "%zu tokens, %zu slots", r.n_tokens, r.n_slots);
    w1 = phq_nlu_workspace_size(l.nlu, text, len / 2);
    w2 = phq_nlu_workspace_size(l.nlu, text, len);
    CHECK(w2 <= 2 * w1 + 1024 && w2 < 200 * len, "workspace linear: %zu, %zu", w1, w2);
    unload(&l);
    free(text);
}

/* linear cost (spec 11), counted: the SNIPS-like templates of tg_feat.phq on 5,000, 10,000 and
 * 20,000 tokens. Viterbi does one L x L step per token after the first, every feature string is
 * built and looked up once, so doubling the tokens doubles each count (up to the utterance ends) */
static void test_linear_counts(void)
{
    static const size_t sizes[] = {5000, 10000, 20000};
    unsigned long long steps[3], cells[3], feats[3], bytes[3];
    loaded l;
    size_t k, i;
    load("tg_feat.phq", &l);
    for (k = 0; k < 3; k++) {
        size_t n = sizes[k], len;
        char *text = malloc(8 * n + 1);
        phq_nlu_parse_result r;
        phq_nlu_error err;
        for (i = 0, len = 0; i < n; i++) {
            static const char *words[] = {"Play ", "the ", "BEATLES ", "7:30 "};
            const char *wd = words[i % 4];
            memcpy(text + len, wd, strlen(wd));
            len += strlen(wd);
        }
        nlu3t_count_steps = nlu3t_count_cells = nlu3t_count_features = nlu3t_count_key_bytes = 0;
        CHECK(phq_nlu_parse(l.nlu, text, len, need_ws(l.nlu, text, len), need_cap(l.nlu, text, len), &r, &err) == 0, "long parse");
        /* "7:30" is 3 tokens: 6 tokens per 4 words */
        CHECK(r.n_tokens == n / 4 * 6, "%zu tokens for %zu words", r.n_tokens, n);
        steps[k] = nlu3t_count_steps;
        cells[k] = nlu3t_count_cells;
        feats[k] = nlu3t_count_features;
        bytes[k] = nlu3t_count_key_bytes;
        CHECK(steps[k] == r.n_tokens - 1, "%llu Viterbi steps for %zu tokens", steps[k], r.n_tokens);
        CHECK(feats[k] <= r.n_tokens * l.nlu->tagger->ntemplates, "%llu feature strings", feats[k]);
        free(text);
    }
    for (k = 1; k < 3; k++) {
        CHECK(steps[k] == 2 * steps[k - 1] + 1 && cells[k] == 2 * cells[k - 1] + cells[0] / steps[0],
              "Viterbi work doubles: %llu -> %llu steps", steps[k - 1], steps[k]);
        CHECK(feats[k] <= 2 * feats[k - 1] + 64 && feats[k] >= 2 * feats[k - 1] - 64 &&
              bytes[k] <= 2 * bytes[k - 1] + 1024 && bytes[k] >= 2 * bytes[k - 1] - 1024,
              "feature work doubles: %llu -> %llu strings, %llu -> %llu bytes", feats[k - 1], feats[k], bytes[k - 1], bytes[k]);
    }
    printf("linear cost: %llu / %llu / %llu Viterbi steps, %llu / %llu / %llu feature strings for 5k / 10k / 20k words\n",
           steps[0], steps[1], steps[2], feats[0], feats[1], feats[2]);
    unload(&l);
}

/* the blocked, vectorized Viterbi step (nlu3t_step) against the spec 6.2 scan written literally,
 * bit for bit (values and back-pointers), for L = 1..40 and a few large L, on values with many
 * ties (small integers), signed zeros, NaN in the previous deltas and in the state scores, and
 * +-infinity in the previous deltas (a -inf delta comes from a -inf row value of an f32 table) */
static double tie_value(void)
{
    switch (rnd(12)) {
    case 0: return 0.0;
    case 1: return -0.0;
    case 2: return NAN;
    case 3: return -INFINITY;
    case 4: return INFINITY;
    default: return (double)((int)rnd(7) - 3) * 0.5;
    }
}

static void test_step_equals_spec_scan(void)
{
    static const uint32_t big[] = {63, 64, 65, 79, 127, 300};
    static double trans[300 * 300], dprev[300], state[300], v[300], bidx[300], want_v[300];
    static uint16_t back[300], want_back[300];
    uint32_t round, L, a, j;
    int bad = 0, cases = 0;
    for (round = 0; round < 40 + 6 * 8; round++) {
        L = round < 40 ? round % 40 + 1 : big[(round - 40) / 8];
        for (a = 0; a < L * L; a++) trans[a] = (double)((int)rnd(5) - 2) * (rnd(4) ? 1.0 : 0.25); /* finite (spec 8) */
        for (a = 0; a < L; a++) {
            dprev[a] = rnd(3) ? tie_value() : (double)rnd(1000) / 7.0;
            state[a] = rnd(5) ? (double)((int)rnd(9) - 4) : tie_value();
        }
        /* spec 6.2, literally */
        for (j = 0; j < L; j++) {
            uint32_t best = 0;
            double x = dprev[0] + trans[j];
            for (a = 1; a < L; a++) {
                double c = dprev[a] + trans[(size_t)a * L + j];
                if (c > x) { best = a; x = c; }
            }
            want_back[j] = (uint16_t)best;
            want_v[j] = x + state[j];
        }
        nlu3t_step(trans, L, dprev, state, v, bidx, back);
        cases++;
        if (memcmp(back, want_back, L * sizeof *back) != 0 || memcmp(v, want_v, L * sizeof *v) != 0) bad++;
    }
    CHECK(bad == 0, "vectorized Viterbi step differs from the spec's scan in %d of %d cases", bad, cases);
    printf("viterbi step = spec scan, bit for bit, on %d random cases (L 1..300; ties, signed zeros, NaN, inf)\n", cases);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: test_tagger DIR\n");
        return 2;
    }
    dir = argv[1];
    test_tokens();
    test_features();
    test_viterbi_kat();
    test_joint();
    test_brute_force();
    test_step_equals_spec_scan();
    test_long();
    test_linear_counts();
    free(ws);
    printf("test_tagger: %d checks, %d failures\n", checks, failures);
    return failures ? 1 : 0;
}
