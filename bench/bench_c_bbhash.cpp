/*
 * bench_c_bbhash.cpp - like-for-like lookups: phq's C reader against BBHash's own C++ (BooPHF.h).
 *   bench_c_bbhash MODEL KEYS_FILE TABLE REPEATS BATCH
 * Built by bench_c_bbhash.py: phq.c compiled as C99 and this file as C++11 with the same
 * optimization flags, BooPHF.h fetched from the bbhash sdist on PyPI (never committed).
 *
 * Both peers hold everything in anonymous memory: the phq file is read into a malloc'd
 * buffer (phq works over any buffer), BBHash's MPH and payload arrays are std::vectors.
 * Member keys: the KEYS_FILE lines (every key of the table); non-member keys: each member
 * key with "/x" appended (no key of the file contains '/').
 *
 * (a) pre-hashed key -> slot
 *   phq     phq_lookup_hash_many over the precomputed (h1, h2) of each key, BATCH keys a call
 *           (the answer includes phq's fingerprint check: phq does more work than BBHash here)
 *   bbhash  mphf::lookup(h1) in a loop
 * (b) string key -> row
 *   phq     phq_get_f32_many: MurmurHash3_x64_128 -> MPH slot -> 16-bit fingerprint check ->
 *           150 linear8 codes dequantized with column scales to float32
 *   bbhash  the same work: phq_murmur3_x64_128 of the key, mphf::lookup(h1), a stored 16-bit
 *           fingerprint (low 16 bits of h2) compared, the same 150 linear8 codes (copied from
 *           the phq file into BBHash's slot order) dequantized with the same column scales
 *   Also single-key loops of phq (phq_lookup_hash, phq_get_f32) for reference.
 * Timing: every call of BATCH keys is timed (clock_gettime of CLOCK_THREAD_CPUTIME_ID: the
 * thread's CPU time, so that time descheduled on a shared machine is not counted); the loops of
 * single-key calls and BBHash are timed per BATCH keys the same way. A pass covers every
 * key once; of REPEATS passes the one with the lowest mean counts. Reported per key: mean
 * (pass time / keys), p50 and p99 of the per-batch means (ns per key within one batch).
 * Prints one JSON object.
 */
#include "BooPHF.h"
extern "C" {
#include "../creader/phq.h"
}

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <time.h>
#include <vector>

typedef boomphf::SingleHashFunctor<uint64_t> hasher_t;
typedef boomphf::mphf<uint64_t, hasher_t> mphf_t;

/* CPU time of this thread: on a machine shared with other jobs, time spent descheduled is
 * not counted (their cache and memory-bandwidth interference still is) */
static double now_ns()
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

struct Stat {
    double mean = 1e300, p50 = 0, p99 = 0;
    void take(double total_ns, size_t n, std::vector<double> &per_batch)
    {
        double m = total_ns / (double)n;
        if (m >= mean) return;
        mean = m;
        std::sort(per_batch.begin(), per_batch.end());
        p50 = per_batch[per_batch.size() / 2];
        p99 = per_batch[std::min(per_batch.size() - 1, (size_t)(0.99 * (double)per_batch.size()))];
    }
    std::string json() const
    {
        char b[160];
        snprintf(b, sizeof b, "{\"mean\": %.2f, \"p50\": %.2f, \"p99\": %.2f}", mean, p50, p99);
        return b;
    }
};

struct Keys {
    std::vector<const void *> ptr;
    std::vector<size_t> len;
    std::vector<uint64_t> h; /* h1, h2 of key i at 2i, 2i + 1 */
};

static volatile double sink;

int main(int argc, char **argv)
{
    if (argc != 6) {
        fprintf(stderr, "usage: %s MODEL KEYS_FILE TABLE REPEATS BATCH\n", argv[0]);
        return 2;
    }
    int repeats = atoi(argv[4]);
    size_t B = (size_t)atol(argv[5]);
    /* the model, in anonymous memory */
    FILE *f = fopen(argv[1], "rb");
    if (!f) return perror("model"), 2;
    fseek(f, 0, SEEK_END);
    size_t mlen = (size_t)ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *mbuf = (unsigned char *)aligned_alloc(4096, (mlen + 4095) / 4096 * 4096);
    if (!mbuf || fread(mbuf, 1, mlen, f) != mlen) return perror("read model"), 2;
    fclose(f);
    phq_model m;
    phq_error err;
    phq_table t;
    if (phq_open(mbuf, mlen, &m, &err) != PHQ_OK) return fprintf(stderr, "open: %s %s\n", phq_error_name(err.code), err.msg), 1;
    if (!phq_find_table(&m, argv[3], strlen(argv[3]), &t)) return fprintf(stderr, "no table %s\n", argv[3]), 1;
    if (t.quant != PHQ_QUANT_LINEAR8 || t.layout != PHQ_LAYOUT_DENSE || t.scale_granularity != PHQ_SCALE_COLUMN ||
        t.fingerprint_bits != 16)
        return fprintf(stderr, "the benchmark wants a dense linear8 table with column scales and 16-bit fingerprints\n"), 1;
    std::vector<phq_part_info> pidx(t.num_partitions);
    if (t.num_partitions > 1) phq_table_set_index(&t, pidx.data(), pidx.size());
    const size_t dim = t.dim, n = t.num_keys;
    /* keys */
    f = fopen(argv[2], "rb");
    if (!f) return perror("keys"), 2;
    std::string kb;
    {
        char buf[1 << 16];
        size_t r;
        while ((r = fread(buf, 1, sizeof buf, f)) > 0) kb.append(buf, r);
        fclose(f);
    }
    std::vector<size_t> start;
    start.reserve(n + 1);
    start.push_back(0);
    for (size_t i = 0; i < kb.size(); i++)
        if (kb[i] == '\n') start.push_back(i + 1);
    if (kb.empty() || kb.back() != '\n') start.push_back(kb.size() + 1);
    if (start.size() - 1 != n) return fprintf(stderr, "%zu keys in the file, %zu in the table\n", start.size() - 1, n), 1;
    std::string nb; /* non-members: key + "/x" */
    nb.reserve(kb.size() + 3 * n);
    std::vector<size_t> nstart(n);
    for (size_t i = 0; i < n; i++) {
        nstart[i] = nb.size();
        nb.append(kb, start[i], start[i + 1] - 1 - start[i]);
        nb.append("/x");
    }
    Keys mem, non;
    for (Keys *k : {&mem, &non}) {
        k->ptr.resize(n);
        k->len.resize(n);
        k->h.resize(2 * n);
    }
    for (size_t i = 0; i < n; i++) {
        mem.ptr[i] = kb.data() + start[i];
        mem.len[i] = start[i + 1] - 1 - start[i];
        non.ptr[i] = nb.data() + nstart[i];
        non.len[i] = mem.len[i] + 2;
        phq_murmur3_x64_128(mem.ptr[i], mem.len[i], t.seed, &mem.h[2 * i]);
        phq_murmur3_x64_128(non.ptr[i], non.len[i], t.seed, &non.h[2 * i]);
    }
    /* BBHash over h1 of the members, 1 thread, the table's gamma */
    double gamma = t.gamma_milli / 1000.0;
    std::vector<uint64_t> h1s(n);
    for (size_t i = 0; i < n; i++) h1s[i] = mem.h[2 * i];
    double t0 = now_ns();
    mphf_t bb(n, h1s, 1, gamma, false, false);
    double bb_build_s = (now_ns() - t0) / 1e9;
    std::vector<uint64_t>().swap(h1s);
    /* BBHash's payload: fingerprints and codes in its slot order, the phq file's column scales */
    std::vector<uint16_t> bfp(n);
    std::vector<uint8_t> brows(n * dim);
    std::vector<float> sc(dim);
    std::vector<int32_t> zp(dim);
    for (size_t c = 0; c < dim; c++) {
        uint32_t b = t.scales[8 * c] | t.scales[8 * c + 1] << 8 | t.scales[8 * c + 2] << 16 | (uint32_t)t.scales[8 * c + 3] << 24;
        memcpy(&sc[c], &b, 4);
        zp[c] = (int32_t)(t.scales[8 * c + 4] | t.scales[8 * c + 5] << 8 | t.scales[8 * c + 6] << 16 | (uint32_t)t.scales[8 * c + 7] << 24);
    }
    bool perm_ok = true;
    {
        std::vector<uint8_t> seen(n, 0);
        for (size_t i = 0; i < n; i++) {
            uint64_t s = bb.lookup(mem.h[2 * i]), ps;
            if (s >= n || seen[s] || phq_lookup_hash(&t, mem.h[2 * i], mem.h[2 * i + 1], &ps, &err) != PHQ_FOUND) {
                perm_ok = false;
                break;
            }
            seen[s] = 1;
            bfp[s] = (uint16_t)mem.h[2 * i + 1];
            phq_row_raw(&t, ps, &brows[s * dim], &err);
        }
    }
    if (!perm_ok) return fprintf(stderr, "BBHash or phq did not map every member to its own slot\n"), 1;

    std::vector<float> out(B * dim), out2(B * dim);
    std::vector<uint64_t> slots(B);
    std::vector<signed char> st(B);
    const uint64_t NONE = ~(uint64_t)0;

    /* one key through BBHash: (b)'s work; returns 1 when found and writes the row */
    auto bb_row = [&](const void *key, size_t len, float *o) -> int {
        uint64_t h[2];
        phq_murmur3_x64_128(key, len, t.seed, h);
        uint64_t s = bb.lookup(h[0]);
        if (s == NONE || s >= n || bfp[s] != (uint16_t)h[1]) return 0;
        const uint8_t *q = &brows[s * dim];
        for (size_t c = 0; c < dim; c++) o[c] = (float)((float)((int32_t)q[c] - zp[c]) * sc[c]);
        return 1;
    };

    /* sanity: the same rows from both, members found, non-members (mostly) not */
    size_t rows_differ = 0, phq_non_found = 0, bb_non_found = 0, phq_mem_found = 0, bb_mem_found = 0;
    for (size_t i0 = 0; i0 < n; i0 += B) {
        size_t c = std::min(B, n - i0);
        phq_mem_found += phq_get_f32_many(&t, &mem.ptr[i0], &mem.len[i0], c, out.data(), st.data(), &err);
        for (size_t j = 0; j < c; j++) {
            bb_mem_found += (size_t)bb_row(mem.ptr[i0 + j], mem.len[i0 + j], &out2[j * dim]);
        }
        if (memcmp(out.data(), out2.data(), c * dim * 4) != 0) rows_differ++;
        phq_non_found += phq_get_f32_many(&t, &non.ptr[i0], &non.len[i0], c, out.data(), st.data(), &err);
        for (size_t j = 0; j < c; j++) bb_non_found += (size_t)bb_row(non.ptr[i0 + j], non.len[i0 + j], &out2[0]);
    }

    enum { PHQ_SLOT, PHQ_SLOT_SINGLE, BB_SLOT, PHQ_ROW, PHQ_ROW_SINGLE, BB_ROW, NM };
    static const char *const names[NM] = {"phq_slot", "phq_slot_single", "bbhash_slot", "phq_row", "phq_row_single", "bbhash_row"};
    Stat stat[NM][2];
    std::vector<double> per_batch;
    for (int rep = 0; rep < repeats; rep++) {
        for (int k = 0; k < NM; k++) {
            for (int w = 0; w < 2; w++) {
                Keys &K = w ? non : mem;
                double total = 0;
                per_batch.clear();
                for (size_t i0 = 0; i0 < n; i0 += B) {
                    size_t c = std::min(B, n - i0), j;
                    double a = now_ns();
                    switch (k) {
                    case PHQ_SLOT:
                        phq_lookup_hash_many(&t, &K.h[2 * i0], c, slots.data(), st.data(), &err);
                        break;
                    case PHQ_SLOT_SINGLE:
                        for (j = 0; j < c; j++) {
                            uint64_t s = 0;
                            phq_lookup_hash(&t, K.h[2 * (i0 + j)], K.h[2 * (i0 + j) + 1], &s, &err);
                            slots[j] = s;
                        }
                        break;
                    case BB_SLOT:
                        for (j = 0; j < c; j++) slots[j] = bb.lookup(K.h[2 * (i0 + j)]);
                        break;
                    case PHQ_ROW:
                        phq_get_f32_many(&t, &K.ptr[i0], &K.len[i0], c, out.data(), st.data(), &err);
                        break;
                    case PHQ_ROW_SINGLE:
                        for (j = 0; j < c; j++) phq_get_f32(&t, K.ptr[i0 + j], K.len[i0 + j], &out[j * dim], &err);
                        break;
                    default:
                        for (j = 0; j < c; j++) bb_row(K.ptr[i0 + j], K.len[i0 + j], &out[j * dim]);
                        break;
                    }
                    double d = now_ns() - a;
                    total += d;
                    per_batch.push_back(d / (double)c);
                    sink = sink + (double)slots[0] + (double)out[0];
                }
                stat[k][w].take(total, n, per_batch);
            }
        }
    }
    printf("{\"n\": %zu, \"dim\": %zu, \"gamma\": %.3f, \"partitions\": %u, \"batch\": %zu, \"repeats\": %d, "
           "\"bbhash_build_s\": %.3f, \"bbhash_bits_per_key\": %.4f, \"model_bytes\": %zu, "
           "\"sanity\": {\"slot_permutation_ok\": %s, \"row_batches_differing\": %zu, \"phq_members_found\": %zu, "
           "\"bbhash_members_found\": %zu, \"phq_nonmembers_found\": %zu, \"bbhash_nonmembers_found\": %zu}",
           n, dim, gamma, t.num_partitions, B, repeats, bb_build_s, (double)bb.totalBitSize() / (double)n, mlen,
           perm_ok ? "true" : "false", rows_differ, phq_mem_found, bb_mem_found, phq_non_found, bb_non_found);
    for (int k = 0; k < NM; k++)
        printf(", \"%s\": {\"member\": %s, \"nonmember\": %s}", names[k], stat[k][0].json().c_str(), stat[k][1].json().c_str());
    printf("}\n");
    free(mbuf);
    return 0;
}
