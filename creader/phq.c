/*
 * phq.c - independent C99 reader for the phq format v1.x (spec/format-v1.0.md and the 1.1
 * delta spec/format-v1.1.md; -DPHQ_MAX_MINOR=0 builds a strict 1.0 reader, see phq.h).
 * See phq.h for the design (no malloc, no global mutable state, bounds-safe).
 * Every check cites the spec step it implements (10.1 step N, 10.2 item N, 10.3).
 */
#include "phq.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

typedef unsigned char u8;

#define NONE32 0xFFFFFFFFu
#define MODEL_MAGIC 0x70687131u /* "phq1" */

/* section kinds (4.1) */
#define K_META 0x0001u
#define K_TENSOR 0x0002u
#define K_TABLE 0x0010u
#define K_PARTITIONS 0x0011u
#define K_LEVELS 0x0012u
#define K_BITMAP 0x0013u
#define K_RANK 0x0014u
#define K_FALLBACK 0x0015u
#define K_FINGERPRINTS 0x0016u
#define K_SCALES 0x0017u
#define K_ROWS 0x0018u
#define K_ROW_INDEX 0x0019u
#define K_COLUMNS 0x001Au
#define K_CODEBOOK 0x001Bu /* 1.1 §2 */
#define K_ROW_BASES 0x001Cu /* 1.2 §2 */
#define K_ROW_DELTAS 0x001Du
#define K_COLUMN_LOW 0x001Eu
#define K_COLUMN_HIGH 0x001Fu

/* format versions: PHQ_MAX_MINOR=0 builds a strict 1.0 reader (phq.h) */
#ifndef PHQ_MAX_MINOR
#define PHQ_MAX_MINOR 2
#endif
#if PHQ_MAX_MINOR != 0 && PHQ_MAX_MINOR != 1 && PHQ_MAX_MINOR != 2
#error "PHQ_MAX_MINOR must be 0, 1 or 2"
#endif
#if PHQ_MAX_MINOR >= 2
#define KNOWN_REQUIRED (PHQ_FEATURE_LINEAR4 | PHQ_FEATURE_CODEBOOK | PHQ_FEATURE_COMPACT_SPARSE) /* 1.2 §1 */
#define MAX_QUANT 5u
#define K_LAST_PART K_COLUMN_HIGH /* 1.2 §2 */
#elif PHQ_MAX_MINOR >= 1
#define KNOWN_REQUIRED (PHQ_FEATURE_LINEAR4 | PHQ_FEATURE_CODEBOOK) /* 1.1 §1 */
#define MAX_QUANT 5u                                              /* 1.1 §3 */
#define K_LAST_PART K_CODEBOOK                                    /* 1.1 §2 */
#else
#define KNOWN_REQUIRED ((uint64_t)0)
#define MAX_QUANT 2u
#define K_LAST_PART K_COLUMNS
#endif

/* limits (12) */
#define LIM_SECTIONS 65536u
#define LIM_META 16777216u
#define LIM_JSON_DEPTH 64
#define LIM_NAME 255u
#define LIM_NDIM 8u
#define LIM_KEYS (((uint64_t)1) << 40)
#define LIM_DIM (((uint64_t)1) << 24)
#define LIM_PARTITIONS (((uint64_t)1) << 20)
#define LIM_LEVELS 64u
#define LIM_LEVEL_WORDS ((((uint64_t)1) << 26) - 1)

/* entries (16 bytes each) of the on-stack workspace for duplicate detection (see phq.h) */
#ifndef PHQ_STACK_WORKSPACE
#define PHQ_STACK_WORKSPACE 256
#endif
#if PHQ_STACK_WORKSPACE < 2
#error "PHQ_STACK_WORKSPACE must be at least 2"
#endif

/* A list of names (JSON members of one object, tensor or table names) longer than the
 * caller's or the stack workspace gets a temporary heap workspace of exactly its length,
 * freed before phq_open returns, so that every duplicate check is O(k log k) (see phq.h).
 * -DPHQ_NO_MALLOC builds never allocate: such lists then cost O(k^2 / capacity). */
#ifndef PHQ_NO_MALLOC
#include <stdlib.h>
#define ws_alloc_bytes(n) malloc(n)
#define ws_free(p) free(p)
#else
#define ws_alloc_bytes(n) ((void)(n), (void *)0)
#define ws_free(p) ((void)(p))
#endif

#ifdef PHQ_TEST_COUNTERS /* test builds only (creader/Makefile): name comparisons of duplicate checks */
unsigned long long phq_test_name_compares;
#define COUNT_COMPARE() (phq_test_name_compares++)
#else
#define COUNT_COMPARE() ((void)0)
#endif

/* ---- little-endian reads (any alignment, any host) ------------------------------- */

static inline uint16_t rd16(const u8 *p) { return (uint16_t)(p[0] | (p[1] << 8)); }
static inline uint32_t rd32(const u8 *p)
{
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}
static inline uint64_t rd64(const u8 *p) { return (uint64_t)rd32(p) | ((uint64_t)rd32(p + 4) << 32); }
static inline float bits_f32(uint32_t b)
{
    float f;
    memcpy(&f, &b, sizeof f);
    return f;
}

/* ---- overflow-checked arithmetic: every size computed from file data goes here ------ */

static int add_ok(uint64_t a, uint64_t b, uint64_t *r)
{
    if (a > UINT64_MAX - b) return 0;
    *r = a + b;
    return 1;
}
static int mul_ok(uint64_t a, uint64_t b, uint64_t *r)
{
    if (a != 0 && b > UINT64_MAX / a) return 0;
    *r = a * b;
    return 1;
}
static int align_ok(uint64_t a, uint64_t unit, uint64_t *r) /* unit: power of two */
{
    if (a > UINT64_MAX - (unit - 1)) return 0;
    *r = (a + (unit - 1)) & ~(unit - 1);
    return 1;
}
/* a * b == want, computed exactly (a product that overflows cannot equal want) */
static int mul_eq(uint64_t a, uint64_t b, uint64_t want)
{
    uint64_t r;
    return mul_ok(a, b, &r) && r == want;
}

/* The builtin only where it is one instruction (-mpopcnt, -march=native...): without it GCC
 * calls libgcc's __popcountdi2, slower than the inline SWAR count below. */
static inline int popcount64(uint64_t x)
{
#if defined(__POPCNT__) && (defined(__GNUC__) || defined(__clang__))
    return __builtin_popcountll(x);
#else
    x = x - ((x >> 1) & 0x5555555555555555ULL);
    x = (x & 0x3333333333333333ULL) + ((x >> 2) & 0x3333333333333333ULL);
    x = (x + (x >> 4)) & 0x0F0F0F0F0F0F0F0FULL;
    return (int)((x * 0x0101010101010101ULL) >> 56);
#endif
}

/* ---- errors ----------------------------------------------------------------------- */

static const char *const code_names[] = {
    "OK", "E_TRUNCATED", "E_SIGNATURE", "E_TEXT_MODE", "E_VERSION", "E_HEADER_SIZE",
    "E_HEADER_CHECKSUM", "E_RESERVED", "E_FEATURE", "E_FILE_SIZE", "E_LIMIT", "E_OVERFLOW",
    "E_SECTION_TABLE", "E_SECTION_ALIGN", "E_SECTION_OVERLAP", "E_SECTION_GAP",
    "E_SECTION_BOUNDS", "E_PADDING", "E_UNKNOWN_SECTION", "E_SECTION_ORDER", "E_SECTION_SIZE",
    "E_ENUM", "E_NAME", "E_DUPLICATE_NAME", "E_DUPLICATE_SECTION", "E_METADATA", "E_MPH",
    "E_RANK", "E_FALLBACK", "E_SCALE", "E_SPARSE", "E_VALUE", "E_CHECKSUM"};

const char *phq_error_name(int code)
{
    if (code >= 0 && code < (int)(sizeof code_names / sizeof code_names[0])) return code_names[code];
    if (code == PHQ_E_USAGE) return "UsageError";
    return "E_UNKNOWN";
}

static phq_code fail(phq_error *err, phq_code code, uint32_t section, uint64_t offset,
                     const char *fmt, ...)
{
    if (err) {
        va_list ap;
        err->code = code;
        err->section = section;
        err->offset = offset;
        va_start(ap, fmt);
        vsnprintf(err->msg, sizeof err->msg, fmt, ap);
        va_end(ap);
    }
    return code;
}

static void clear_err(phq_error *err)
{
    if (err) {
        err->code = PHQ_OK;
        err->section = PHQ_NO_SECTION;
        err->offset = PHQ_NO_OFFSET;
        err->msg[0] = 0;
    }
}

/* ---- MurmurHash3_x64_128 (6) ----------------------------------------------------------- */

static uint64_t rotl64(uint64_t x, int r) { return (x << r) | (x >> (64 - r)); }

uint64_t phq_fmix64(uint64_t k)
{
    k ^= k >> 33;
    k *= 0xff51afd7ed558ccdULL;
    k ^= k >> 33;
    k *= 0xc4ceb9fe1a85ec53ULL;
    k ^= k >> 33;
    return k;
}

void phq_murmur3_x64_128(const void *key, size_t len, uint32_t seed, uint64_t out[2])
{
    const uint64_t c1 = 0x87c37b91114253d5ULL, c2 = 0x4cf5ad432745937fULL;
    uint64_t h1 = seed, h2 = seed, k1 = 0, k2 = 0;
    if (len > 0) {
        const u8 *data = (const u8 *)key;
        size_t nblocks = len / 16, i, rest = len & 15;
        const u8 *tail = data + nblocks * 16;
        for (i = 0; i < nblocks; i++) {
            k1 = rd64(data + 16 * i);
            k2 = rd64(data + 16 * i + 8);
            k1 *= c1; k1 = rotl64(k1, 31); k1 *= c2; h1 ^= k1;
            h1 = rotl64(h1, 27); h1 += h2; h1 = h1 * 5 + 0x52dce729;
            k2 *= c2; k2 = rotl64(k2, 33); k2 *= c1; h2 ^= k2;
            h2 = rotl64(h2, 31); h2 += h1; h2 = h2 * 5 + 0x38495ab5;
        }
        k1 = 0;
        k2 = 0;
        if (rest > 8) {
            for (i = rest; i > 8; i--) k2 ^= (uint64_t)tail[i - 1] << (8 * (i - 9));
            k2 *= c2; k2 = rotl64(k2, 33); k2 *= c1; h2 ^= k2;
        }
        if (rest > 0) {
            size_t top = rest > 8 ? 8 : rest;
            for (i = top; i > 0; i--) k1 ^= (uint64_t)tail[i - 1] << (8 * (i - 1));
            k1 *= c1; k1 = rotl64(k1, 31); k1 *= c2; h1 ^= k1;
        }
    }
    h1 ^= (uint64_t)len;
    h2 ^= (uint64_t)len;
    h1 += h2;
    h2 += h1;
    h1 = phq_fmix64(h1);
    h2 = phq_fmix64(h2);
    h1 += h2;
    h2 += h1;
    out[0] = h1;
    out[1] = h2;
}

/* ---- CRC32C (3), slicing-by-8 over a constant table ---------------------------------- */

static const uint32_t crc32c_tab[8][256] = {
    {
        0x00000000u, 0xf26b8303u, 0xe13b70f7u, 0x1350f3f4u, 0xc79a971fu, 0x35f1141cu,
        0x26a1e7e8u, 0xd4ca64ebu, 0x8ad958cfu, 0x78b2dbccu, 0x6be22838u, 0x9989ab3bu,
        0x4d43cfd0u, 0xbf284cd3u, 0xac78bf27u, 0x5e133c24u, 0x105ec76fu, 0xe235446cu,
        0xf165b798u, 0x030e349bu, 0xd7c45070u, 0x25afd373u, 0x36ff2087u, 0xc494a384u,
        0x9a879fa0u, 0x68ec1ca3u, 0x7bbcef57u, 0x89d76c54u, 0x5d1d08bfu, 0xaf768bbcu,
        0xbc267848u, 0x4e4dfb4bu, 0x20bd8edeu, 0xd2d60dddu, 0xc186fe29u, 0x33ed7d2au,
        0xe72719c1u, 0x154c9ac2u, 0x061c6936u, 0xf477ea35u, 0xaa64d611u, 0x580f5512u,
        0x4b5fa6e6u, 0xb93425e5u, 0x6dfe410eu, 0x9f95c20du, 0x8cc531f9u, 0x7eaeb2fau,
        0x30e349b1u, 0xc288cab2u, 0xd1d83946u, 0x23b3ba45u, 0xf779deaeu, 0x05125dadu,
        0x1642ae59u, 0xe4292d5au, 0xba3a117eu, 0x4851927du, 0x5b016189u, 0xa96ae28au,
        0x7da08661u, 0x8fcb0562u, 0x9c9bf696u, 0x6ef07595u, 0x417b1dbcu, 0xb3109ebfu,
        0xa0406d4bu, 0x522bee48u, 0x86e18aa3u, 0x748a09a0u, 0x67dafa54u, 0x95b17957u,
        0xcba24573u, 0x39c9c670u, 0x2a993584u, 0xd8f2b687u, 0x0c38d26cu, 0xfe53516fu,
        0xed03a29bu, 0x1f682198u, 0x5125dad3u, 0xa34e59d0u, 0xb01eaa24u, 0x42752927u,
        0x96bf4dccu, 0x64d4cecfu, 0x77843d3bu, 0x85efbe38u, 0xdbfc821cu, 0x2997011fu,
        0x3ac7f2ebu, 0xc8ac71e8u, 0x1c661503u, 0xee0d9600u, 0xfd5d65f4u, 0x0f36e6f7u,
        0x61c69362u, 0x93ad1061u, 0x80fde395u, 0x72966096u, 0xa65c047du, 0x5437877eu,
        0x4767748au, 0xb50cf789u, 0xeb1fcbadu, 0x197448aeu, 0x0a24bb5au, 0xf84f3859u,
        0x2c855cb2u, 0xdeeedfb1u, 0xcdbe2c45u, 0x3fd5af46u, 0x7198540du, 0x83f3d70eu,
        0x90a324fau, 0x62c8a7f9u, 0xb602c312u, 0x44694011u, 0x5739b3e5u, 0xa55230e6u,
        0xfb410cc2u, 0x092a8fc1u, 0x1a7a7c35u, 0xe811ff36u, 0x3cdb9bddu, 0xceb018deu,
        0xdde0eb2au, 0x2f8b6829u, 0x82f63b78u, 0x709db87bu, 0x63cd4b8fu, 0x91a6c88cu,
        0x456cac67u, 0xb7072f64u, 0xa457dc90u, 0x563c5f93u, 0x082f63b7u, 0xfa44e0b4u,
        0xe9141340u, 0x1b7f9043u, 0xcfb5f4a8u, 0x3dde77abu, 0x2e8e845fu, 0xdce5075cu,
        0x92a8fc17u, 0x60c37f14u, 0x73938ce0u, 0x81f80fe3u, 0x55326b08u, 0xa759e80bu,
        0xb4091bffu, 0x466298fcu, 0x1871a4d8u, 0xea1a27dbu, 0xf94ad42fu, 0x0b21572cu,
        0xdfeb33c7u, 0x2d80b0c4u, 0x3ed04330u, 0xccbbc033u, 0xa24bb5a6u, 0x502036a5u,
        0x4370c551u, 0xb11b4652u, 0x65d122b9u, 0x97baa1bau, 0x84ea524eu, 0x7681d14du,
        0x2892ed69u, 0xdaf96e6au, 0xc9a99d9eu, 0x3bc21e9du, 0xef087a76u, 0x1d63f975u,
        0x0e330a81u, 0xfc588982u, 0xb21572c9u, 0x407ef1cau, 0x532e023eu, 0xa145813du,
        0x758fe5d6u, 0x87e466d5u, 0x94b49521u, 0x66df1622u, 0x38cc2a06u, 0xcaa7a905u,
        0xd9f75af1u, 0x2b9cd9f2u, 0xff56bd19u, 0x0d3d3e1au, 0x1e6dcdeeu, 0xec064eedu,
        0xc38d26c4u, 0x31e6a5c7u, 0x22b65633u, 0xd0ddd530u, 0x0417b1dbu, 0xf67c32d8u,
        0xe52cc12cu, 0x1747422fu, 0x49547e0bu, 0xbb3ffd08u, 0xa86f0efcu, 0x5a048dffu,
        0x8ecee914u, 0x7ca56a17u, 0x6ff599e3u, 0x9d9e1ae0u, 0xd3d3e1abu, 0x21b862a8u,
        0x32e8915cu, 0xc083125fu, 0x144976b4u, 0xe622f5b7u, 0xf5720643u, 0x07198540u,
        0x590ab964u, 0xab613a67u, 0xb831c993u, 0x4a5a4a90u, 0x9e902e7bu, 0x6cfbad78u,
        0x7fab5e8cu, 0x8dc0dd8fu, 0xe330a81au, 0x115b2b19u, 0x020bd8edu, 0xf0605beeu,
        0x24aa3f05u, 0xd6c1bc06u, 0xc5914ff2u, 0x37faccf1u, 0x69e9f0d5u, 0x9b8273d6u,
        0x88d28022u, 0x7ab90321u, 0xae7367cau, 0x5c18e4c9u, 0x4f48173du, 0xbd23943eu,
        0xf36e6f75u, 0x0105ec76u, 0x12551f82u, 0xe03e9c81u, 0x34f4f86au, 0xc69f7b69u,
        0xd5cf889du, 0x27a40b9eu, 0x79b737bau, 0x8bdcb4b9u, 0x988c474du, 0x6ae7c44eu,
        0xbe2da0a5u, 0x4c4623a6u, 0x5f16d052u, 0xad7d5351u,
    },
    {
        0x00000000u, 0x13a29877u, 0x274530eeu, 0x34e7a899u, 0x4e8a61dcu, 0x5d28f9abu,
        0x69cf5132u, 0x7a6dc945u, 0x9d14c3b8u, 0x8eb65bcfu, 0xba51f356u, 0xa9f36b21u,
        0xd39ea264u, 0xc03c3a13u, 0xf4db928au, 0xe7790afdu, 0x3fc5f181u, 0x2c6769f6u,
        0x1880c16fu, 0x0b225918u, 0x714f905du, 0x62ed082au, 0x560aa0b3u, 0x45a838c4u,
        0xa2d13239u, 0xb173aa4eu, 0x859402d7u, 0x96369aa0u, 0xec5b53e5u, 0xfff9cb92u,
        0xcb1e630bu, 0xd8bcfb7cu, 0x7f8be302u, 0x6c297b75u, 0x58ced3ecu, 0x4b6c4b9bu,
        0x310182deu, 0x22a31aa9u, 0x1644b230u, 0x05e62a47u, 0xe29f20bau, 0xf13db8cdu,
        0xc5da1054u, 0xd6788823u, 0xac154166u, 0xbfb7d911u, 0x8b507188u, 0x98f2e9ffu,
        0x404e1283u, 0x53ec8af4u, 0x670b226du, 0x74a9ba1au, 0x0ec4735fu, 0x1d66eb28u,
        0x298143b1u, 0x3a23dbc6u, 0xdd5ad13bu, 0xcef8494cu, 0xfa1fe1d5u, 0xe9bd79a2u,
        0x93d0b0e7u, 0x80722890u, 0xb4958009u, 0xa737187eu, 0xff17c604u, 0xecb55e73u,
        0xd852f6eau, 0xcbf06e9du, 0xb19da7d8u, 0xa23f3fafu, 0x96d89736u, 0x857a0f41u,
        0x620305bcu, 0x71a19dcbu, 0x45463552u, 0x56e4ad25u, 0x2c896460u, 0x3f2bfc17u,
        0x0bcc548eu, 0x186eccf9u, 0xc0d23785u, 0xd370aff2u, 0xe797076bu, 0xf4359f1cu,
        0x8e585659u, 0x9dface2eu, 0xa91d66b7u, 0xbabffec0u, 0x5dc6f43du, 0x4e646c4au,
        0x7a83c4d3u, 0x69215ca4u, 0x134c95e1u, 0x00ee0d96u, 0x3409a50fu, 0x27ab3d78u,
        0x809c2506u, 0x933ebd71u, 0xa7d915e8u, 0xb47b8d9fu, 0xce1644dau, 0xddb4dcadu,
        0xe9537434u, 0xfaf1ec43u, 0x1d88e6beu, 0x0e2a7ec9u, 0x3acdd650u, 0x296f4e27u,
        0x53028762u, 0x40a01f15u, 0x7447b78cu, 0x67e52ffbu, 0xbf59d487u, 0xacfb4cf0u,
        0x981ce469u, 0x8bbe7c1eu, 0xf1d3b55bu, 0xe2712d2cu, 0xd69685b5u, 0xc5341dc2u,
        0x224d173fu, 0x31ef8f48u, 0x050827d1u, 0x16aabfa6u, 0x6cc776e3u, 0x7f65ee94u,
        0x4b82460du, 0x5820de7au, 0xfbc3faf9u, 0xe861628eu, 0xdc86ca17u, 0xcf245260u,
        0xb5499b25u, 0xa6eb0352u, 0x920cabcbu, 0x81ae33bcu, 0x66d73941u, 0x7575a136u,
        0x419209afu, 0x523091d8u, 0x285d589du, 0x3bffc0eau, 0x0f186873u, 0x1cbaf004u,
        0xc4060b78u, 0xd7a4930fu, 0xe3433b96u, 0xf0e1a3e1u, 0x8a8c6aa4u, 0x992ef2d3u,
        0xadc95a4au, 0xbe6bc23du, 0x5912c8c0u, 0x4ab050b7u, 0x7e57f82eu, 0x6df56059u,
        0x1798a91cu, 0x043a316bu, 0x30dd99f2u, 0x237f0185u, 0x844819fbu, 0x97ea818cu,
        0xa30d2915u, 0xb0afb162u, 0xcac27827u, 0xd960e050u, 0xed8748c9u, 0xfe25d0beu,
        0x195cda43u, 0x0afe4234u, 0x3e19eaadu, 0x2dbb72dau, 0x57d6bb9fu, 0x447423e8u,
        0x70938b71u, 0x63311306u, 0xbb8de87au, 0xa82f700du, 0x9cc8d894u, 0x8f6a40e3u,
        0xf50789a6u, 0xe6a511d1u, 0xd242b948u, 0xc1e0213fu, 0x26992bc2u, 0x353bb3b5u,
        0x01dc1b2cu, 0x127e835bu, 0x68134a1eu, 0x7bb1d269u, 0x4f567af0u, 0x5cf4e287u,
        0x04d43cfdu, 0x1776a48au, 0x23910c13u, 0x30339464u, 0x4a5e5d21u, 0x59fcc556u,
        0x6d1b6dcfu, 0x7eb9f5b8u, 0x99c0ff45u, 0x8a626732u, 0xbe85cfabu, 0xad2757dcu,
        0xd74a9e99u, 0xc4e806eeu, 0xf00fae77u, 0xe3ad3600u, 0x3b11cd7cu, 0x28b3550bu,
        0x1c54fd92u, 0x0ff665e5u, 0x759baca0u, 0x663934d7u, 0x52de9c4eu, 0x417c0439u,
        0xa6050ec4u, 0xb5a796b3u, 0x81403e2au, 0x92e2a65du, 0xe88f6f18u, 0xfb2df76fu,
        0xcfca5ff6u, 0xdc68c781u, 0x7b5fdfffu, 0x68fd4788u, 0x5c1aef11u, 0x4fb87766u,
        0x35d5be23u, 0x26772654u, 0x12908ecdu, 0x013216bau, 0xe64b1c47u, 0xf5e98430u,
        0xc10e2ca9u, 0xd2acb4deu, 0xa8c17d9bu, 0xbb63e5ecu, 0x8f844d75u, 0x9c26d502u,
        0x449a2e7eu, 0x5738b609u, 0x63df1e90u, 0x707d86e7u, 0x0a104fa2u, 0x19b2d7d5u,
        0x2d557f4cu, 0x3ef7e73bu, 0xd98eedc6u, 0xca2c75b1u, 0xfecbdd28u, 0xed69455fu,
        0x97048c1au, 0x84a6146du, 0xb041bcf4u, 0xa3e32483u,
    },
    {
        0x00000000u, 0xa541927eu, 0x4f6f520du, 0xea2ec073u, 0x9edea41au, 0x3b9f3664u,
        0xd1b1f617u, 0x74f06469u, 0x38513ec5u, 0x9d10acbbu, 0x773e6cc8u, 0xd27ffeb6u,
        0xa68f9adfu, 0x03ce08a1u, 0xe9e0c8d2u, 0x4ca15aacu, 0x70a27d8au, 0xd5e3eff4u,
        0x3fcd2f87u, 0x9a8cbdf9u, 0xee7cd990u, 0x4b3d4beeu, 0xa1138b9du, 0x045219e3u,
        0x48f3434fu, 0xedb2d131u, 0x079c1142u, 0xa2dd833cu, 0xd62de755u, 0x736c752bu,
        0x9942b558u, 0x3c032726u, 0xe144fb14u, 0x4405696au, 0xae2ba919u, 0x0b6a3b67u,
        0x7f9a5f0eu, 0xdadbcd70u, 0x30f50d03u, 0x95b49f7du, 0xd915c5d1u, 0x7c5457afu,
        0x967a97dcu, 0x333b05a2u, 0x47cb61cbu, 0xe28af3b5u, 0x08a433c6u, 0xade5a1b8u,
        0x91e6869eu, 0x34a714e0u, 0xde89d493u, 0x7bc846edu, 0x0f382284u, 0xaa79b0fau,
        0x40577089u, 0xe516e2f7u, 0xa9b7b85bu, 0x0cf62a25u, 0xe6d8ea56u, 0x43997828u,
        0x37691c41u, 0x92288e3fu, 0x78064e4cu, 0xdd47dc32u, 0xc76580d9u, 0x622412a7u,
        0x880ad2d4u, 0x2d4b40aau, 0x59bb24c3u, 0xfcfab6bdu, 0x16d476ceu, 0xb395e4b0u,
        0xff34be1cu, 0x5a752c62u, 0xb05bec11u, 0x151a7e6fu, 0x61ea1a06u, 0xc4ab8878u,
        0x2e85480bu, 0x8bc4da75u, 0xb7c7fd53u, 0x12866f2du, 0xf8a8af5eu, 0x5de93d20u,
        0x29195949u, 0x8c58cb37u, 0x66760b44u, 0xc337993au, 0x8f96c396u, 0x2ad751e8u,
        0xc0f9919bu, 0x65b803e5u, 0x1148678cu, 0xb409f5f2u, 0x5e273581u, 0xfb66a7ffu,
        0x26217bcdu, 0x8360e9b3u, 0x694e29c0u, 0xcc0fbbbeu, 0xb8ffdfd7u, 0x1dbe4da9u,
        0xf7908ddau, 0x52d11fa4u, 0x1e704508u, 0xbb31d776u, 0x511f1705u, 0xf45e857bu,
        0x80aee112u, 0x25ef736cu, 0xcfc1b31fu, 0x6a802161u, 0x56830647u, 0xf3c29439u,
        0x19ec544au, 0xbcadc634u, 0xc85da25du, 0x6d1c3023u, 0x8732f050u, 0x2273622eu,
        0x6ed23882u, 0xcb93aafcu, 0x21bd6a8fu, 0x84fcf8f1u, 0xf00c9c98u, 0x554d0ee6u,
        0xbf63ce95u, 0x1a225cebu, 0x8b277743u, 0x2e66e53du, 0xc448254eu, 0x6109b730u,
        0x15f9d359u, 0xb0b84127u, 0x5a968154u, 0xffd7132au, 0xb3764986u, 0x1637dbf8u,
        0xfc191b8bu, 0x595889f5u, 0x2da8ed9cu, 0x88e97fe2u, 0x62c7bf91u, 0xc7862defu,
        0xfb850ac9u, 0x5ec498b7u, 0xb4ea58c4u, 0x11abcabau, 0x655baed3u, 0xc01a3cadu,
        0x2a34fcdeu, 0x8f756ea0u, 0xc3d4340cu, 0x6695a672u, 0x8cbb6601u, 0x29faf47fu,
        0x5d0a9016u, 0xf84b0268u, 0x1265c21bu, 0xb7245065u, 0x6a638c57u, 0xcf221e29u,
        0x250cde5au, 0x804d4c24u, 0xf4bd284du, 0x51fcba33u, 0xbbd27a40u, 0x1e93e83eu,
        0x5232b292u, 0xf77320ecu, 0x1d5de09fu, 0xb81c72e1u, 0xccec1688u, 0x69ad84f6u,
        0x83834485u, 0x26c2d6fbu, 0x1ac1f1ddu, 0xbf8063a3u, 0x55aea3d0u, 0xf0ef31aeu,
        0x841f55c7u, 0x215ec7b9u, 0xcb7007cau, 0x6e3195b4u, 0x2290cf18u, 0x87d15d66u,
        0x6dff9d15u, 0xc8be0f6bu, 0xbc4e6b02u, 0x190ff97cu, 0xf321390fu, 0x5660ab71u,
        0x4c42f79au, 0xe90365e4u, 0x032da597u, 0xa66c37e9u, 0xd29c5380u, 0x77ddc1feu,
        0x9df3018du, 0x38b293f3u, 0x7413c95fu, 0xd1525b21u, 0x3b7c9b52u, 0x9e3d092cu,
        0xeacd6d45u, 0x4f8cff3bu, 0xa5a23f48u, 0x00e3ad36u, 0x3ce08a10u, 0x99a1186eu,
        0x738fd81du, 0xd6ce4a63u, 0xa23e2e0au, 0x077fbc74u, 0xed517c07u, 0x4810ee79u,
        0x04b1b4d5u, 0xa1f026abu, 0x4bdee6d8u, 0xee9f74a6u, 0x9a6f10cfu, 0x3f2e82b1u,
        0xd50042c2u, 0x7041d0bcu, 0xad060c8eu, 0x08479ef0u, 0xe2695e83u, 0x4728ccfdu,
        0x33d8a894u, 0x96993aeau, 0x7cb7fa99u, 0xd9f668e7u, 0x9557324bu, 0x3016a035u,
        0xda386046u, 0x7f79f238u, 0x0b899651u, 0xaec8042fu, 0x44e6c45cu, 0xe1a75622u,
        0xdda47104u, 0x78e5e37au, 0x92cb2309u, 0x378ab177u, 0x437ad51eu, 0xe63b4760u,
        0x0c158713u, 0xa954156du, 0xe5f54fc1u, 0x40b4ddbfu, 0xaa9a1dccu, 0x0fdb8fb2u,
        0x7b2bebdbu, 0xde6a79a5u, 0x3444b9d6u, 0x91052ba8u,
    },
    {
        0x00000000u, 0xdd45aab8u, 0xbf672381u, 0x62228939u, 0x7b2231f3u, 0xa6679b4bu,
        0xc4451272u, 0x1900b8cau, 0xf64463e6u, 0x2b01c95eu, 0x49234067u, 0x9466eadfu,
        0x8d665215u, 0x5023f8adu, 0x32017194u, 0xef44db2cu, 0xe964b13du, 0x34211b85u,
        0x560392bcu, 0x8b463804u, 0x924680ceu, 0x4f032a76u, 0x2d21a34fu, 0xf06409f7u,
        0x1f20d2dbu, 0xc2657863u, 0xa047f15au, 0x7d025be2u, 0x6402e328u, 0xb9474990u,
        0xdb65c0a9u, 0x06206a11u, 0xd725148bu, 0x0a60be33u, 0x6842370au, 0xb5079db2u,
        0xac072578u, 0x71428fc0u, 0x136006f9u, 0xce25ac41u, 0x2161776du, 0xfc24ddd5u,
        0x9e0654ecu, 0x4343fe54u, 0x5a43469eu, 0x8706ec26u, 0xe524651fu, 0x3861cfa7u,
        0x3e41a5b6u, 0xe3040f0eu, 0x81268637u, 0x5c632c8fu, 0x45639445u, 0x98263efdu,
        0xfa04b7c4u, 0x27411d7cu, 0xc805c650u, 0x15406ce8u, 0x7762e5d1u, 0xaa274f69u,
        0xb327f7a3u, 0x6e625d1bu, 0x0c40d422u, 0xd1057e9au, 0xaba65fe7u, 0x76e3f55fu,
        0x14c17c66u, 0xc984d6deu, 0xd0846e14u, 0x0dc1c4acu, 0x6fe34d95u, 0xb2a6e72du,
        0x5de23c01u, 0x80a796b9u, 0xe2851f80u, 0x3fc0b538u, 0x26c00df2u, 0xfb85a74au,
        0x99a72e73u, 0x44e284cbu, 0x42c2eedau, 0x9f874462u, 0xfda5cd5bu, 0x20e067e3u,
        0x39e0df29u, 0xe4a57591u, 0x8687fca8u, 0x5bc25610u, 0xb4868d3cu, 0x69c32784u,
        0x0be1aebdu, 0xd6a40405u, 0xcfa4bccfu, 0x12e11677u, 0x70c39f4eu, 0xad8635f6u,
        0x7c834b6cu, 0xa1c6e1d4u, 0xc3e468edu, 0x1ea1c255u, 0x07a17a9fu, 0xdae4d027u,
        0xb8c6591eu, 0x6583f3a6u, 0x8ac7288au, 0x57828232u, 0x35a00b0bu, 0xe8e5a1b3u,
        0xf1e51979u, 0x2ca0b3c1u, 0x4e823af8u, 0x93c79040u, 0x95e7fa51u, 0x48a250e9u,
        0x2a80d9d0u, 0xf7c57368u, 0xeec5cba2u, 0x3380611au, 0x51a2e823u, 0x8ce7429bu,
        0x63a399b7u, 0xbee6330fu, 0xdcc4ba36u, 0x0181108eu, 0x1881a844u, 0xc5c402fcu,
        0xa7e68bc5u, 0x7aa3217du, 0x52a0c93fu, 0x8fe56387u, 0xedc7eabeu, 0x30824006u,
        0x2982f8ccu, 0xf4c75274u, 0x96e5db4du, 0x4ba071f5u, 0xa4e4aad9u, 0x79a10061u,
        0x1b838958u, 0xc6c623e0u, 0xdfc69b2au, 0x02833192u, 0x60a1b8abu, 0xbde41213u,
        0xbbc47802u, 0x6681d2bau, 0x04a35b83u, 0xd9e6f13bu, 0xc0e649f1u, 0x1da3e349u,
        0x7f816a70u, 0xa2c4c0c8u, 0x4d801be4u, 0x90c5b15cu, 0xf2e73865u, 0x2fa292ddu,
        0x36a22a17u, 0xebe780afu, 0x89c50996u, 0x5480a32eu, 0x8585ddb4u, 0x58c0770cu,
        0x3ae2fe35u, 0xe7a7548du, 0xfea7ec47u, 0x23e246ffu, 0x41c0cfc6u, 0x9c85657eu,
        0x73c1be52u, 0xae8414eau, 0xcca69dd3u, 0x11e3376bu, 0x08e38fa1u, 0xd5a62519u,
        0xb784ac20u, 0x6ac10698u, 0x6ce16c89u, 0xb1a4c631u, 0xd3864f08u, 0x0ec3e5b0u,
        0x17c35d7au, 0xca86f7c2u, 0xa8a47efbu, 0x75e1d443u, 0x9aa50f6fu, 0x47e0a5d7u,
        0x25c22ceeu, 0xf8878656u, 0xe1873e9cu, 0x3cc29424u, 0x5ee01d1du, 0x83a5b7a5u,
        0xf90696d8u, 0x24433c60u, 0x4661b559u, 0x9b241fe1u, 0x8224a72bu, 0x5f610d93u,
        0x3d4384aau, 0xe0062e12u, 0x0f42f53eu, 0xd2075f86u, 0xb025d6bfu, 0x6d607c07u,
        0x7460c4cdu, 0xa9256e75u, 0xcb07e74cu, 0x16424df4u, 0x106227e5u, 0xcd278d5du,
        0xaf050464u, 0x7240aedcu, 0x6b401616u, 0xb605bcaeu, 0xd4273597u, 0x09629f2fu,
        0xe6264403u, 0x3b63eebbu, 0x59416782u, 0x8404cd3au, 0x9d0475f0u, 0x4041df48u,
        0x22635671u, 0xff26fcc9u, 0x2e238253u, 0xf36628ebu, 0x9144a1d2u, 0x4c010b6au,
        0x5501b3a0u, 0x88441918u, 0xea669021u, 0x37233a99u, 0xd867e1b5u, 0x05224b0du,
        0x6700c234u, 0xba45688cu, 0xa345d046u, 0x7e007afeu, 0x1c22f3c7u, 0xc167597fu,
        0xc747336eu, 0x1a0299d6u, 0x782010efu, 0xa565ba57u, 0xbc65029du, 0x6120a825u,
        0x0302211cu, 0xde478ba4u, 0x31035088u, 0xec46fa30u, 0x8e647309u, 0x5321d9b1u,
        0x4a21617bu, 0x9764cbc3u, 0xf54642fau, 0x2803e842u,
    },
    {
        0x00000000u, 0x38116facu, 0x7022df58u, 0x4833b0f4u, 0xe045beb0u, 0xd854d11cu,
        0x906761e8u, 0xa8760e44u, 0xc5670b91u, 0xfd76643du, 0xb545d4c9u, 0x8d54bb65u,
        0x2522b521u, 0x1d33da8du, 0x55006a79u, 0x6d1105d5u, 0x8f2261d3u, 0xb7330e7fu,
        0xff00be8bu, 0xc711d127u, 0x6f67df63u, 0x5776b0cfu, 0x1f45003bu, 0x27546f97u,
        0x4a456a42u, 0x725405eeu, 0x3a67b51au, 0x0276dab6u, 0xaa00d4f2u, 0x9211bb5eu,
        0xda220baau, 0xe2336406u, 0x1ba8b557u, 0x23b9dafbu, 0x6b8a6a0fu, 0x539b05a3u,
        0xfbed0be7u, 0xc3fc644bu, 0x8bcfd4bfu, 0xb3debb13u, 0xdecfbec6u, 0xe6ded16au,
        0xaeed619eu, 0x96fc0e32u, 0x3e8a0076u, 0x069b6fdau, 0x4ea8df2eu, 0x76b9b082u,
        0x948ad484u, 0xac9bbb28u, 0xe4a80bdcu, 0xdcb96470u, 0x74cf6a34u, 0x4cde0598u,
        0x04edb56cu, 0x3cfcdac0u, 0x51eddf15u, 0x69fcb0b9u, 0x21cf004du, 0x19de6fe1u,
        0xb1a861a5u, 0x89b90e09u, 0xc18abefdu, 0xf99bd151u, 0x37516aaeu, 0x0f400502u,
        0x4773b5f6u, 0x7f62da5au, 0xd714d41eu, 0xef05bbb2u, 0xa7360b46u, 0x9f2764eau,
        0xf236613fu, 0xca270e93u, 0x8214be67u, 0xba05d1cbu, 0x1273df8fu, 0x2a62b023u,
        0x625100d7u, 0x5a406f7bu, 0xb8730b7du, 0x806264d1u, 0xc851d425u, 0xf040bb89u,
        0x5836b5cdu, 0x6027da61u, 0x28146a95u, 0x10050539u, 0x7d1400ecu, 0x45056f40u,
        0x0d36dfb4u, 0x3527b018u, 0x9d51be5cu, 0xa540d1f0u, 0xed736104u, 0xd5620ea8u,
        0x2cf9dff9u, 0x14e8b055u, 0x5cdb00a1u, 0x64ca6f0du, 0xccbc6149u, 0xf4ad0ee5u,
        0xbc9ebe11u, 0x848fd1bdu, 0xe99ed468u, 0xd18fbbc4u, 0x99bc0b30u, 0xa1ad649cu,
        0x09db6ad8u, 0x31ca0574u, 0x79f9b580u, 0x41e8da2cu, 0xa3dbbe2au, 0x9bcad186u,
        0xd3f96172u, 0xebe80edeu, 0x439e009au, 0x7b8f6f36u, 0x33bcdfc2u, 0x0badb06eu,
        0x66bcb5bbu, 0x5eadda17u, 0x169e6ae3u, 0x2e8f054fu, 0x86f90b0bu, 0xbee864a7u,
        0xf6dbd453u, 0xcecabbffu, 0x6ea2d55cu, 0x56b3baf0u, 0x1e800a04u, 0x269165a8u,
        0x8ee76becu, 0xb6f60440u, 0xfec5b4b4u, 0xc6d4db18u, 0xabc5decdu, 0x93d4b161u,
        0xdbe70195u, 0xe3f66e39u, 0x4b80607du, 0x73910fd1u, 0x3ba2bf25u, 0x03b3d089u,
        0xe180b48fu, 0xd991db23u, 0x91a26bd7u, 0xa9b3047bu, 0x01c50a3fu, 0x39d46593u,
        0x71e7d567u, 0x49f6bacbu, 0x24e7bf1eu, 0x1cf6d0b2u, 0x54c56046u, 0x6cd40feau,
        0xc4a201aeu, 0xfcb36e02u, 0xb480def6u, 0x8c91b15au, 0x750a600bu, 0x4d1b0fa7u,
        0x0528bf53u, 0x3d39d0ffu, 0x954fdebbu, 0xad5eb117u, 0xe56d01e3u, 0xdd7c6e4fu,
        0xb06d6b9au, 0x887c0436u, 0xc04fb4c2u, 0xf85edb6eu, 0x5028d52au, 0x6839ba86u,
        0x200a0a72u, 0x181b65deu, 0xfa2801d8u, 0xc2396e74u, 0x8a0ade80u, 0xb21bb12cu,
        0x1a6dbf68u, 0x227cd0c4u, 0x6a4f6030u, 0x525e0f9cu, 0x3f4f0a49u, 0x075e65e5u,
        0x4f6dd511u, 0x777cbabdu, 0xdf0ab4f9u, 0xe71bdb55u, 0xaf286ba1u, 0x9739040du,
        0x59f3bff2u, 0x61e2d05eu, 0x29d160aau, 0x11c00f06u, 0xb9b60142u, 0x81a76eeeu,
        0xc994de1au, 0xf185b1b6u, 0x9c94b463u, 0xa485dbcfu, 0xecb66b3bu, 0xd4a70497u,
        0x7cd10ad3u, 0x44c0657fu, 0x0cf3d58bu, 0x34e2ba27u, 0xd6d1de21u, 0xeec0b18du,
        0xa6f30179u, 0x9ee26ed5u, 0x36946091u, 0x0e850f3du, 0x46b6bfc9u, 0x7ea7d065u,
        0x13b6d5b0u, 0x2ba7ba1cu, 0x63940ae8u, 0x5b856544u, 0xf3f36b00u, 0xcbe204acu,
        0x83d1b458u, 0xbbc0dbf4u, 0x425b0aa5u, 0x7a4a6509u, 0x3279d5fdu, 0x0a68ba51u,
        0xa21eb415u, 0x9a0fdbb9u, 0xd23c6b4du, 0xea2d04e1u, 0x873c0134u, 0xbf2d6e98u,
        0xf71ede6cu, 0xcf0fb1c0u, 0x6779bf84u, 0x5f68d028u, 0x175b60dcu, 0x2f4a0f70u,
        0xcd796b76u, 0xf56804dau, 0xbd5bb42eu, 0x854adb82u, 0x2d3cd5c6u, 0x152dba6au,
        0x5d1e0a9eu, 0x650f6532u, 0x081e60e7u, 0x300f0f4bu, 0x783cbfbfu, 0x402dd013u,
        0xe85bde57u, 0xd04ab1fbu, 0x9879010fu, 0xa0686ea3u,
    },
    {
        0x00000000u, 0xef306b19u, 0xdb8ca0c3u, 0x34bccbdau, 0xb2f53777u, 0x5dc55c6eu,
        0x697997b4u, 0x8649fcadu, 0x6006181fu, 0x8f367306u, 0xbb8ab8dcu, 0x54bad3c5u,
        0xd2f32f68u, 0x3dc34471u, 0x097f8fabu, 0xe64fe4b2u, 0xc00c303eu, 0x2f3c5b27u,
        0x1b8090fdu, 0xf4b0fbe4u, 0x72f90749u, 0x9dc96c50u, 0xa975a78au, 0x4645cc93u,
        0xa00a2821u, 0x4f3a4338u, 0x7b8688e2u, 0x94b6e3fbu, 0x12ff1f56u, 0xfdcf744fu,
        0xc973bf95u, 0x2643d48cu, 0x85f4168du, 0x6ac47d94u, 0x5e78b64eu, 0xb148dd57u,
        0x370121fau, 0xd8314ae3u, 0xec8d8139u, 0x03bdea20u, 0xe5f20e92u, 0x0ac2658bu,
        0x3e7eae51u, 0xd14ec548u, 0x570739e5u, 0xb83752fcu, 0x8c8b9926u, 0x63bbf23fu,
        0x45f826b3u, 0xaac84daau, 0x9e748670u, 0x7144ed69u, 0xf70d11c4u, 0x183d7addu,
        0x2c81b107u, 0xc3b1da1eu, 0x25fe3eacu, 0xcace55b5u, 0xfe729e6fu, 0x1142f576u,
        0x970b09dbu, 0x783b62c2u, 0x4c87a918u, 0xa3b7c201u, 0x0e045bebu, 0xe13430f2u,
        0xd588fb28u, 0x3ab89031u, 0xbcf16c9cu, 0x53c10785u, 0x677dcc5fu, 0x884da746u,
        0x6e0243f4u, 0x813228edu, 0xb58ee337u, 0x5abe882eu, 0xdcf77483u, 0x33c71f9au,
        0x077bd440u, 0xe84bbf59u, 0xce086bd5u, 0x213800ccu, 0x1584cb16u, 0xfab4a00fu,
        0x7cfd5ca2u, 0x93cd37bbu, 0xa771fc61u, 0x48419778u, 0xae0e73cau, 0x413e18d3u,
        0x7582d309u, 0x9ab2b810u, 0x1cfb44bdu, 0xf3cb2fa4u, 0xc777e47eu, 0x28478f67u,
        0x8bf04d66u, 0x64c0267fu, 0x507ceda5u, 0xbf4c86bcu, 0x39057a11u, 0xd6351108u,
        0xe289dad2u, 0x0db9b1cbu, 0xebf65579u, 0x04c63e60u, 0x307af5bau, 0xdf4a9ea3u,
        0x5903620eu, 0xb6330917u, 0x828fc2cdu, 0x6dbfa9d4u, 0x4bfc7d58u, 0xa4cc1641u,
        0x9070dd9bu, 0x7f40b682u, 0xf9094a2fu, 0x16392136u, 0x2285eaecu, 0xcdb581f5u,
        0x2bfa6547u, 0xc4ca0e5eu, 0xf076c584u, 0x1f46ae9du, 0x990f5230u, 0x763f3929u,
        0x4283f2f3u, 0xadb399eau, 0x1c08b7d6u, 0xf338dccfu, 0xc7841715u, 0x28b47c0cu,
        0xaefd80a1u, 0x41cdebb8u, 0x75712062u, 0x9a414b7bu, 0x7c0eafc9u, 0x933ec4d0u,
        0xa7820f0au, 0x48b26413u, 0xcefb98beu, 0x21cbf3a7u, 0x1577387du, 0xfa475364u,
        0xdc0487e8u, 0x3334ecf1u, 0x0788272bu, 0xe8b84c32u, 0x6ef1b09fu, 0x81c1db86u,
        0xb57d105cu, 0x5a4d7b45u, 0xbc029ff7u, 0x5332f4eeu, 0x678e3f34u, 0x88be542du,
        0x0ef7a880u, 0xe1c7c399u, 0xd57b0843u, 0x3a4b635au, 0x99fca15bu, 0x76ccca42u,
        0x42700198u, 0xad406a81u, 0x2b09962cu, 0xc439fd35u, 0xf08536efu, 0x1fb55df6u,
        0xf9fab944u, 0x16cad25du, 0x22761987u, 0xcd46729eu, 0x4b0f8e33u, 0xa43fe52au,
        0x90832ef0u, 0x7fb345e9u, 0x59f09165u, 0xb6c0fa7cu, 0x827c31a6u, 0x6d4c5abfu,
        0xeb05a612u, 0x0435cd0bu, 0x308906d1u, 0xdfb96dc8u, 0x39f6897au, 0xd6c6e263u,
        0xe27a29b9u, 0x0d4a42a0u, 0x8b03be0du, 0x6433d514u, 0x508f1eceu, 0xbfbf75d7u,
        0x120cec3du, 0xfd3c8724u, 0xc9804cfeu, 0x26b027e7u, 0xa0f9db4au, 0x4fc9b053u,
        0x7b757b89u, 0x94451090u, 0x720af422u, 0x9d3a9f3bu, 0xa98654e1u, 0x46b63ff8u,
        0xc0ffc355u, 0x2fcfa84cu, 0x1b736396u, 0xf443088fu, 0xd200dc03u, 0x3d30b71au,
        0x098c7cc0u, 0xe6bc17d9u, 0x60f5eb74u, 0x8fc5806du, 0xbb794bb7u, 0x544920aeu,
        0xb206c41cu, 0x5d36af05u, 0x698a64dfu, 0x86ba0fc6u, 0x00f3f36bu, 0xefc39872u,
        0xdb7f53a8u, 0x344f38b1u, 0x97f8fab0u, 0x78c891a9u, 0x4c745a73u, 0xa344316au,
        0x250dcdc7u, 0xca3da6deu, 0xfe816d04u, 0x11b1061du, 0xf7fee2afu, 0x18ce89b6u,
        0x2c72426cu, 0xc3422975u, 0x450bd5d8u, 0xaa3bbec1u, 0x9e87751bu, 0x71b71e02u,
        0x57f4ca8eu, 0xb8c4a197u, 0x8c786a4du, 0x63480154u, 0xe501fdf9u, 0x0a3196e0u,
        0x3e8d5d3au, 0xd1bd3623u, 0x37f2d291u, 0xd8c2b988u, 0xec7e7252u, 0x034e194bu,
        0x8507e5e6u, 0x6a378effu, 0x5e8b4525u, 0xb1bb2e3cu,
    },
    {
        0x00000000u, 0x68032cc8u, 0xd0065990u, 0xb8057558u, 0xa5e0c5d1u, 0xcde3e919u,
        0x75e69c41u, 0x1de5b089u, 0x4e2dfd53u, 0x262ed19bu, 0x9e2ba4c3u, 0xf628880bu,
        0xebcd3882u, 0x83ce144au, 0x3bcb6112u, 0x53c84ddau, 0x9c5bfaa6u, 0xf458d66eu,
        0x4c5da336u, 0x245e8ffeu, 0x39bb3f77u, 0x51b813bfu, 0xe9bd66e7u, 0x81be4a2fu,
        0xd27607f5u, 0xba752b3du, 0x02705e65u, 0x6a7372adu, 0x7796c224u, 0x1f95eeecu,
        0xa7909bb4u, 0xcf93b77cu, 0x3d5b83bdu, 0x5558af75u, 0xed5dda2du, 0x855ef6e5u,
        0x98bb466cu, 0xf0b86aa4u, 0x48bd1ffcu, 0x20be3334u, 0x73767eeeu, 0x1b755226u,
        0xa370277eu, 0xcb730bb6u, 0xd696bb3fu, 0xbe9597f7u, 0x0690e2afu, 0x6e93ce67u,
        0xa100791bu, 0xc90355d3u, 0x7106208bu, 0x19050c43u, 0x04e0bccau, 0x6ce39002u,
        0xd4e6e55au, 0xbce5c992u, 0xef2d8448u, 0x872ea880u, 0x3f2bddd8u, 0x5728f110u,
        0x4acd4199u, 0x22ce6d51u, 0x9acb1809u, 0xf2c834c1u, 0x7ab7077au, 0x12b42bb2u,
        0xaab15eeau, 0xc2b27222u, 0xdf57c2abu, 0xb754ee63u, 0x0f519b3bu, 0x6752b7f3u,
        0x349afa29u, 0x5c99d6e1u, 0xe49ca3b9u, 0x8c9f8f71u, 0x917a3ff8u, 0xf9791330u,
        0x417c6668u, 0x297f4aa0u, 0xe6ecfddcu, 0x8eefd114u, 0x36eaa44cu, 0x5ee98884u,
        0x430c380du, 0x2b0f14c5u, 0x930a619du, 0xfb094d55u, 0xa8c1008fu, 0xc0c22c47u,
        0x78c7591fu, 0x10c475d7u, 0x0d21c55eu, 0x6522e996u, 0xdd279cceu, 0xb524b006u,
        0x47ec84c7u, 0x2fefa80fu, 0x97eadd57u, 0xffe9f19fu, 0xe20c4116u, 0x8a0f6ddeu,
        0x320a1886u, 0x5a09344eu, 0x09c17994u, 0x61c2555cu, 0xd9c72004u, 0xb1c40cccu,
        0xac21bc45u, 0xc422908du, 0x7c27e5d5u, 0x1424c91du, 0xdbb77e61u, 0xb3b452a9u,
        0x0bb127f1u, 0x63b20b39u, 0x7e57bbb0u, 0x16549778u, 0xae51e220u, 0xc652cee8u,
        0x959a8332u, 0xfd99affau, 0x459cdaa2u, 0x2d9ff66au, 0x307a46e3u, 0x58796a2bu,
        0xe07c1f73u, 0x887f33bbu, 0xf56e0ef4u, 0x9d6d223cu, 0x25685764u, 0x4d6b7bacu,
        0x508ecb25u, 0x388de7edu, 0x808892b5u, 0xe88bbe7du, 0xbb43f3a7u, 0xd340df6fu,
        0x6b45aa37u, 0x034686ffu, 0x1ea33676u, 0x76a01abeu, 0xcea56fe6u, 0xa6a6432eu,
        0x6935f452u, 0x0136d89au, 0xb933adc2u, 0xd130810au, 0xccd53183u, 0xa4d61d4bu,
        0x1cd36813u, 0x74d044dbu, 0x27180901u, 0x4f1b25c9u, 0xf71e5091u, 0x9f1d7c59u,
        0x82f8ccd0u, 0xeafbe018u, 0x52fe9540u, 0x3afdb988u, 0xc8358d49u, 0xa036a181u,
        0x1833d4d9u, 0x7030f811u, 0x6dd54898u, 0x05d66450u, 0xbdd31108u, 0xd5d03dc0u,
        0x8618701au, 0xee1b5cd2u, 0x561e298au, 0x3e1d0542u, 0x23f8b5cbu, 0x4bfb9903u,
        0xf3feec5bu, 0x9bfdc093u, 0x546e77efu, 0x3c6d5b27u, 0x84682e7fu, 0xec6b02b7u,
        0xf18eb23eu, 0x998d9ef6u, 0x2188ebaeu, 0x498bc766u, 0x1a438abcu, 0x7240a674u,
        0xca45d32cu, 0xa246ffe4u, 0xbfa34f6du, 0xd7a063a5u, 0x6fa516fdu, 0x07a63a35u,
        0x8fd9098eu, 0xe7da2546u, 0x5fdf501eu, 0x37dc7cd6u, 0x2a39cc5fu, 0x423ae097u,
        0xfa3f95cfu, 0x923cb907u, 0xc1f4f4ddu, 0xa9f7d815u, 0x11f2ad4du, 0x79f18185u,
        0x6414310cu, 0x0c171dc4u, 0xb412689cu, 0xdc114454u, 0x1382f328u, 0x7b81dfe0u,
        0xc384aab8u, 0xab878670u, 0xb66236f9u, 0xde611a31u, 0x66646f69u, 0x0e6743a1u,
        0x5daf0e7bu, 0x35ac22b3u, 0x8da957ebu, 0xe5aa7b23u, 0xf84fcbaau, 0x904ce762u,
        0x2849923au, 0x404abef2u, 0xb2828a33u, 0xda81a6fbu, 0x6284d3a3u, 0x0a87ff6bu,
        0x17624fe2u, 0x7f61632au, 0xc7641672u, 0xaf673abau, 0xfcaf7760u, 0x94ac5ba8u,
        0x2ca92ef0u, 0x44aa0238u, 0x594fb2b1u, 0x314c9e79u, 0x8949eb21u, 0xe14ac7e9u,
        0x2ed97095u, 0x46da5c5du, 0xfedf2905u, 0x96dc05cdu, 0x8b39b544u, 0xe33a998cu,
        0x5b3fecd4u, 0x333cc01cu, 0x60f48dc6u, 0x08f7a10eu, 0xb0f2d456u, 0xd8f1f89eu,
        0xc5144817u, 0xad1764dfu, 0x15121187u, 0x7d113d4fu,
    },
    {
        0x00000000u, 0x493c7d27u, 0x9278fa4eu, 0xdb448769u, 0x211d826du, 0x6821ff4au,
        0xb3657823u, 0xfa590504u, 0x423b04dau, 0x0b0779fdu, 0xd043fe94u, 0x997f83b3u,
        0x632686b7u, 0x2a1afb90u, 0xf15e7cf9u, 0xb86201deu, 0x847609b4u, 0xcd4a7493u,
        0x160ef3fau, 0x5f328eddu, 0xa56b8bd9u, 0xec57f6feu, 0x37137197u, 0x7e2f0cb0u,
        0xc64d0d6eu, 0x8f717049u, 0x5435f720u, 0x1d098a07u, 0xe7508f03u, 0xae6cf224u,
        0x7528754du, 0x3c14086au, 0x0d006599u, 0x443c18beu, 0x9f789fd7u, 0xd644e2f0u,
        0x2c1de7f4u, 0x65219ad3u, 0xbe651dbau, 0xf759609du, 0x4f3b6143u, 0x06071c64u,
        0xdd439b0du, 0x947fe62au, 0x6e26e32eu, 0x271a9e09u, 0xfc5e1960u, 0xb5626447u,
        0x89766c2du, 0xc04a110au, 0x1b0e9663u, 0x5232eb44u, 0xa86bee40u, 0xe1579367u,
        0x3a13140eu, 0x732f6929u, 0xcb4d68f7u, 0x827115d0u, 0x593592b9u, 0x1009ef9eu,
        0xea50ea9au, 0xa36c97bdu, 0x782810d4u, 0x31146df3u, 0x1a00cb32u, 0x533cb615u,
        0x8878317cu, 0xc1444c5bu, 0x3b1d495fu, 0x72213478u, 0xa965b311u, 0xe059ce36u,
        0x583bcfe8u, 0x1107b2cfu, 0xca4335a6u, 0x837f4881u, 0x79264d85u, 0x301a30a2u,
        0xeb5eb7cbu, 0xa262caecu, 0x9e76c286u, 0xd74abfa1u, 0x0c0e38c8u, 0x453245efu,
        0xbf6b40ebu, 0xf6573dccu, 0x2d13baa5u, 0x642fc782u, 0xdc4dc65cu, 0x9571bb7bu,
        0x4e353c12u, 0x07094135u, 0xfd504431u, 0xb46c3916u, 0x6f28be7fu, 0x2614c358u,
        0x1700aeabu, 0x5e3cd38cu, 0x857854e5u, 0xcc4429c2u, 0x361d2cc6u, 0x7f2151e1u,
        0xa465d688u, 0xed59abafu, 0x553baa71u, 0x1c07d756u, 0xc743503fu, 0x8e7f2d18u,
        0x7426281cu, 0x3d1a553bu, 0xe65ed252u, 0xaf62af75u, 0x9376a71fu, 0xda4ada38u,
        0x010e5d51u, 0x48322076u, 0xb26b2572u, 0xfb575855u, 0x2013df3cu, 0x692fa21bu,
        0xd14da3c5u, 0x9871dee2u, 0x4335598bu, 0x0a0924acu, 0xf05021a8u, 0xb96c5c8fu,
        0x6228dbe6u, 0x2b14a6c1u, 0x34019664u, 0x7d3deb43u, 0xa6796c2au, 0xef45110du,
        0x151c1409u, 0x5c20692eu, 0x8764ee47u, 0xce589360u, 0x763a92beu, 0x3f06ef99u,
        0xe44268f0u, 0xad7e15d7u, 0x572710d3u, 0x1e1b6df4u, 0xc55fea9du, 0x8c6397bau,
        0xb0779fd0u, 0xf94be2f7u, 0x220f659eu, 0x6b3318b9u, 0x916a1dbdu, 0xd856609au,
        0x0312e7f3u, 0x4a2e9ad4u, 0xf24c9b0au, 0xbb70e62du, 0x60346144u, 0x29081c63u,
        0xd3511967u, 0x9a6d6440u, 0x4129e329u, 0x08159e0eu, 0x3901f3fdu, 0x703d8edau,
        0xab7909b3u, 0xe2457494u, 0x181c7190u, 0x51200cb7u, 0x8a648bdeu, 0xc358f6f9u,
        0x7b3af727u, 0x32068a00u, 0xe9420d69u, 0xa07e704eu, 0x5a27754au, 0x131b086du,
        0xc85f8f04u, 0x8163f223u, 0xbd77fa49u, 0xf44b876eu, 0x2f0f0007u, 0x66337d20u,
        0x9c6a7824u, 0xd5560503u, 0x0e12826au, 0x472eff4du, 0xff4cfe93u, 0xb67083b4u,
        0x6d3404ddu, 0x240879fau, 0xde517cfeu, 0x976d01d9u, 0x4c2986b0u, 0x0515fb97u,
        0x2e015d56u, 0x673d2071u, 0xbc79a718u, 0xf545da3fu, 0x0f1cdf3bu, 0x4620a21cu,
        0x9d642575u, 0xd4585852u, 0x6c3a598cu, 0x250624abu, 0xfe42a3c2u, 0xb77edee5u,
        0x4d27dbe1u, 0x041ba6c6u, 0xdf5f21afu, 0x96635c88u, 0xaa7754e2u, 0xe34b29c5u,
        0x380faeacu, 0x7133d38bu, 0x8b6ad68fu, 0xc256aba8u, 0x19122cc1u, 0x502e51e6u,
        0xe84c5038u, 0xa1702d1fu, 0x7a34aa76u, 0x3308d751u, 0xc951d255u, 0x806daf72u,
        0x5b29281bu, 0x1215553cu, 0x230138cfu, 0x6a3d45e8u, 0xb179c281u, 0xf845bfa6u,
        0x021cbaa2u, 0x4b20c785u, 0x906440ecu, 0xd9583dcbu, 0x613a3c15u, 0x28064132u,
        0xf342c65bu, 0xba7ebb7cu, 0x4027be78u, 0x091bc35fu, 0xd25f4436u, 0x9b633911u,
        0xa777317bu, 0xee4b4c5cu, 0x350fcb35u, 0x7c33b612u, 0x866ab316u, 0xcf56ce31u,
        0x14124958u, 0x5d2e347fu, 0xe54c35a1u, 0xac704886u, 0x7734cfefu, 0x3e08b2c8u,
        0xc451b7ccu, 0x8d6dcaebu, 0x56294d82u, 0x1f1530a5u,
    },
};

uint32_t phq_crc32c(uint32_t crc, const void *data, size_t len)
{
    const u8 *p = (const u8 *)data;
    crc = ~crc;
    if (len == 0) return ~crc;
    while (len >= 8) {
        uint32_t lo = rd32(p) ^ crc, hi = rd32(p + 4);
        crc = crc32c_tab[7][lo & 0xff] ^ crc32c_tab[6][(lo >> 8) & 0xff] ^
              crc32c_tab[5][(lo >> 16) & 0xff] ^ crc32c_tab[4][lo >> 24] ^
              crc32c_tab[3][hi & 0xff] ^ crc32c_tab[2][(hi >> 8) & 0xff] ^
              crc32c_tab[1][(hi >> 16) & 0xff] ^ crc32c_tab[0][hi >> 24];
        p += 8;
        len -= 8;
    }
    while (len--) crc = (crc >> 8) ^ crc32c_tab[0][(crc ^ *p++) & 0xff];
    return ~crc;
}

/* ---- floats ----------------------------------------------------------------------------- */

float phq_f16_to_f32(uint16_t h)
{
    uint32_t sign = ((uint32_t)h & 0x8000u) << 16, exp = ((uint32_t)h >> 10) & 0x1fu,
             mant = (uint32_t)h & 0x3ffu, bits;
    if (exp == 0) {
        if (mant == 0) {
            bits = sign;
        } else { /* subnormal: mant * 2^-24, normalized */
            uint32_t e = 0;
            while (!(mant & 0x400u)) {
                mant <<= 1;
                e++;
            }
            mant &= 0x3ffu;
            bits = sign | ((uint32_t)(127 - 14 - e) << 23) | (mant << 13);
        }
    } else if (exp == 31) {
        bits = sign | 0x7f800000u | (mant << 13);
    } else {
        bits = sign | ((exp + 112u) << 23) | (mant << 13);
    }
    return bits_f32(bits);
}

float phq_linear8(uint8_t q, float scale, int32_t zero_point)
{
    /* 8.1: q - zero_point is exact in binary32; the product is rounded once. The casts
     * force binary32 rounding even where FLT_EVAL_METHOD != 0. */
    float d = (float)((int32_t)q - zero_point);
    return (float)(d * scale);
}

/* 1.1 §4.3: code i of a nibble stream is in byte i/2, low nibble when i is even */
uint8_t phq_nibble(const void *packed, uint64_t i)
{
    u8 b = ((const u8 *)packed)[(size_t)(i / 2)];
    return (uint8_t)((i & 1) ? b >> 4 : b & 0x0Fu);
}

void phq_unpack_nibbles(const void *packed, uint64_t first, size_t count, uint8_t *out)
{
    const u8 *p = (const u8 *)packed + (size_t)(first / 2);
    size_t j = 0;
    if (count && (first & 1)) {
        out[j++] = (uint8_t)(*p++ >> 4);
    }
    for (; j + 2 <= count; j += 2, p++) {
        out[j] = (uint8_t)(*p & 0x0Fu);
        out[j + 1] = (uint8_t)(*p >> 4);
    }
    if (j < count) out[j] = (uint8_t)(*p & 0x0Fu);
}

unsigned phq_supported_minor(void) { return PHQ_MAX_MINOR; }

static int f32_finite(uint32_t b) { return (b & 0x7f800000u) != 0x7f800000u; }
static int f16_finite(uint16_t b) { return (b & 0x7c00u) != 0x7c00u; }
static int f64_finite(uint64_t b) { return (b & 0x7ff0000000000000ULL) != 0x7ff0000000000000ULL; }

/* ---- strict UTF-8 (5.1, 5.2) ---------------------------------------------------------- */

/* Length of the valid UTF-8 sequence at s[0..n), or 0 if invalid. */
static size_t utf8_seq(const u8 *s, size_t n)
{
    u8 c = s[0];
    if (c < 0x80) return 1;
    if (c >= 0xC2 && c <= 0xDF) return (n >= 2 && (s[1] & 0xC0) == 0x80) ? 2 : 0;
    if (c >= 0xE0 && c <= 0xEF) {
        u8 lo = 0x80, hi = 0xBF;
        if (c == 0xE0) lo = 0xA0;
        if (c == 0xED) hi = 0x9F; /* no surrogates */
        if (n < 3 || s[1] < lo || s[1] > hi || (s[2] & 0xC0) != 0x80) return 0;
        return 3;
    }
    if (c >= 0xF0 && c <= 0xF4) {
        u8 lo = 0x80, hi = 0xBF;
        if (c == 0xF0) lo = 0x90;
        if (c == 0xF4) hi = 0x8F; /* <= U+10FFFF */
        if (n < 4 || s[1] < lo || s[1] > hi || (s[2] & 0xC0) != 0x80 || (s[3] & 0xC0) != 0x80)
            return 0;
        return 4;
    }
    return 0;
}

int phq_utf8_valid(const unsigned char *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        size_t k;
        if (s[i] < 0x80) {
            i++;
            continue;
        }
        k = utf8_seq(s + i, n - i);
        if (k == 0) return 0;
        i += k;
    }
    return 1;
}

/* ---- strict RFC 8259 JSON validator (5.2), no malloc ------------------------------------
 * Recursive descent with the depth capped at 64 (so at most 64 nested frames). Duplicate
 * member names are detected when an object closes: its member names are hashed over their
 * decoded code points (escapes and surrogate pairs decoded), sorted by hash in a workspace,
 * and equal hashes are compared code point by code point. Objects with more members than
 * the workspace holds are processed in blocks (each block sorted, every later member
 * binary-searched in it). */

typedef struct {
    uint64_t hash;
    uint64_t off; /* offset of the name's opening quote */
} jent;

typedef struct {
    const u8 *s;
    size_t n;
    jent *ws;
    size_t ws_cap;
    jent *heap; /* a temporary workspace for objects larger than ws (freed at the end) */
    size_t heap_cap;
    size_t err_pos;
    const char *why;
} jctx;

static int jfail(jctx *c, size_t pos, const char *why)
{
    c->err_pos = pos;
    c->why = why;
    return 0;
}

static void jws(const jctx *c, size_t *pos)
{
    size_t p = *pos;
    while (p < c->n && (c->s[p] == ' ' || c->s[p] == '\t' || c->s[p] == '\n' || c->s[p] == '\r')) p++;
    *pos = p;
}

static int hexval(u8 ch)
{
    if (ch >= '0' && ch <= '9') return ch - '0';
    if (ch >= 'a' && ch <= 'f') return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F') return ch - 'A' + 10;
    return -1;
}

static int jstring(jctx *c, size_t *pos)
{
    size_t p = *pos + 1; /* s[*pos] == '"' */
    for (;;) {
        u8 ch;
        if (p >= c->n) return jfail(c, p, "unterminated string");
        ch = c->s[p];
        if (ch == '"') {
            *pos = p + 1;
            return 1;
        }
        if (ch < 0x20) return jfail(c, p, "unescaped control character in string");
        if (ch == '\\') {
            u8 e;
            if (p + 1 >= c->n) return jfail(c, p, "unterminated escape");
            e = c->s[p + 1];
            if (e == '"' || e == '\\' || e == '/' || e == 'b' || e == 'f' || e == 'n' || e == 'r' ||
                e == 't') {
                p += 2;
            } else if (e == 'u') {
                int k;
                if (c->n - p < 6) return jfail(c, p, "truncated \\u escape");
                for (k = 2; k < 6; k++)
                    if (hexval(c->s[p + k]) < 0) return jfail(c, p, "bad \\u escape");
                p += 6;
            } else {
                return jfail(c, p, "invalid escape");
            }
        } else {
            p++; /* UTF-8 was validated beforehand */
        }
    }
}

static int jdigits(const jctx *c, size_t *p)
{
    size_t s = *p;
    while (*p < c->n && c->s[*p] >= '0' && c->s[*p] <= '9') (*p)++;
    return *p > s;
}

static int jnumber(jctx *c, size_t *pos)
{
    size_t p = *pos;
    if (p < c->n && c->s[p] == '-') p++;
    if (p >= c->n) return jfail(c, p, "truncated number");
    if (c->s[p] == '0') {
        p++;
    } else if (c->s[p] >= '1' && c->s[p] <= '9') {
        jdigits(c, &p);
    } else {
        return jfail(c, p, "invalid number");
    }
    if (p < c->n && c->s[p] == '.') {
        p++;
        if (!jdigits(c, &p)) return jfail(c, p, "invalid number fraction");
    }
    if (p < c->n && (c->s[p] == 'e' || c->s[p] == 'E')) {
        p++;
        if (p < c->n && (c->s[p] == '+' || c->s[p] == '-')) p++;
        if (!jdigits(c, &p)) return jfail(c, p, "invalid number exponent");
    }
    *pos = p;
    return 1;
}

static int jlit(jctx *c, size_t *pos, const char *lit)
{
    size_t k = strlen(lit);
    if (c->n - *pos < k || memcmp(c->s + *pos, lit, k) != 0) return jfail(c, *pos, "invalid literal");
    *pos += k;
    return 1;
}

/* Decoded code point of the string content at *i (inside a validated string), advancing
 * *i; -1 at the closing quote. */
static long jnext_cp(const u8 *s, size_t *i)
{
    size_t p = *i;
    u8 ch = s[p];
    if (ch == '"') return -1;
    if (ch == '\\') {
        u8 e = s[p + 1];
        long u;
        switch (e) {
        case 'b': *i = p + 2; return 8;
        case 'f': *i = p + 2; return 12;
        case 'n': *i = p + 2; return 10;
        case 'r': *i = p + 2; return 13;
        case 't': *i = p + 2; return 9;
        case 'u': break;
        default: *i = p + 2; return e; /* " \ / */
        }
        u = (long)((hexval(s[p + 2]) << 12) | (hexval(s[p + 3]) << 8) | (hexval(s[p + 4]) << 4) |
                   hexval(s[p + 5]));
        p += 6;
        if (u >= 0xD800 && u <= 0xDBFF && s[p] == '\\' && s[p + 1] == 'u') {
            long lo = (long)((hexval(s[p + 2]) << 12) | (hexval(s[p + 3]) << 8) |
                             (hexval(s[p + 4]) << 4) | hexval(s[p + 5]));
            if (lo >= 0xDC00 && lo <= 0xDFFF) {
                u = 0x10000 + ((u - 0xD800) << 10) + (lo - 0xDC00);
                p += 6;
            }
        }
        *i = p;
        return u;
    }
    if (ch < 0x80) {
        *i = p + 1;
        return ch;
    }
    if (ch < 0xE0) {
        *i = p + 2;
        return ((long)(ch & 0x1F) << 6) | (s[p + 1] & 0x3F);
    }
    if (ch < 0xF0) {
        *i = p + 3;
        return ((long)(ch & 0x0F) << 12) | ((long)(s[p + 1] & 0x3F) << 6) | (s[p + 2] & 0x3F);
    }
    *i = p + 4;
    return ((long)(ch & 0x07) << 18) | ((long)(s[p + 1] & 0x3F) << 12) |
           ((long)(s[p + 2] & 0x3F) << 6) | (s[p + 3] & 0x3F);
}

static uint64_t jname_hash(const u8 *s, size_t q)
{
    size_t i = q + 1;
    uint64_t h = 0x9E3779B97F4A7C15ULL;
    long cp;
    while ((cp = jnext_cp(s, &i)) >= 0) h = (h ^ (uint64_t)cp) * 0x100000001B3ULL + 0x2545F4914F6CDD1DULL;
    return phq_fmix64(h);
}

/* order of two decoded member names (code point sequences) */
static int jname_cmp(const u8 *s, size_t a, size_t b)
{
    size_t i = a + 1, j = b + 1;
    for (;;) {
        long x = jnext_cp(s, &i), y = jnext_cp(s, &j);
        if (x != y) return x < y ? -1 : 1;
        if (x < 0) return 0;
    }
}

/* skip a validated value starting at p */
static size_t jskip_string(const u8 *s, size_t p)
{
    p++;
    while (s[p] != '"') p += (s[p] == '\\') ? 2 : 1;
    return p + 1;
}

static size_t jskip_value(const u8 *s, size_t p)
{
    u8 ch = s[p];
    if (ch == '"') return jskip_string(s, p);
    if (ch == '{' || ch == '[') {
        size_t depth = 0;
        for (;;) {
            ch = s[p];
            if (ch == '"') {
                p = jskip_string(s, p);
                continue;
            }
            if (ch == '{' || ch == '[') depth++;
            else if (ch == '}' || ch == ']') {
                depth--;
                if (depth == 0) return p + 1;
            }
            p++;
        }
    }
    while (ch != ',' && ch != '}' && ch != ']' && ch != ' ' && ch != '\t' && ch != '\n' && ch != '\r') {
        p++;
        ch = s[p]; /* a scalar is always followed by something inside an object */
    }
    return p;
}

static size_t jskip_ws(const u8 *s, size_t p)
{
    while (s[p] == ' ' || s[p] == '\t' || s[p] == '\n' || s[p] == '\r') p++;
    return p;
}

#define JNONE ((size_t)-1)

static size_t jfirst_member(const u8 *s, size_t obj)
{
    size_t p = jskip_ws(s, obj + 1);
    return s[p] == '"' ? p : JNONE;
}

static size_t jnext_member(const u8 *s, size_t name)
{
    size_t p = jskip_ws(s, jskip_string(s, name)); /* at ':' */
    p = jskip_value(s, jskip_ws(s, p + 1));
    p = jskip_ws(s, p);
    if (s[p] != ',') return JNONE;
    return jskip_ws(s, p + 1);
}

/* Heapsort of workspace entries (no recursion, no allocation, O(n log n) compares). */
typedef int (*ent_cmp_fn)(const void *ctx, const jent *x, const jent *y);

static void esift(jent *a, size_t root, size_t end, ent_cmp_fn cmp, const void *ctx)
{
    while (2 * root + 1 < end) {
        size_t child = 2 * root + 1, sw = root;
        if (cmp(ctx, &a[sw], &a[child]) < 0) sw = child;
        if (child + 1 < end && cmp(ctx, &a[sw], &a[child + 1]) < 0) sw = child + 1;
        if (sw == root) return;
        {
            jent t = a[root];
            a[root] = a[sw];
            a[sw] = t;
        }
        root = sw;
    }
}

static void esort(jent *a, size_t n, ent_cmp_fn cmp, const void *ctx)
{
    size_t i;
    if (n < 2) return;
    for (i = n / 2; i-- > 0;) esift(a, i, n, cmp, ctx);
    for (i = n - 1; i > 0; i--) {
        jent t = a[0];
        a[0] = a[i];
        a[i] = t;
        esift(a, 0, i, cmp, ctx);
    }
}

/* index of the first entry of sorted a[0..n) not less than *key */
static size_t elower(const jent *a, size_t n, const jent *key, ent_cmp_fn cmp, const void *ctx)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (cmp(ctx, &a[mid], key) < 0) lo = mid + 1;
        else hi = mid;
    }
    return lo;
}

/* JSON member names: by hash, then by decoded name (equal names are adjacent) */
static int jent_cmp(const void *ctx, const jent *x, const jent *y)
{
    COUNT_COMPARE();
    if (x->hash != y->hash) return x->hash < y->hash ? -1 : 1;
    return jname_cmp((const u8 *)ctx, (size_t)x->off, (size_t)y->off);
}

/* A workspace of at least `need` entries for a list longer than the caller's: the context's
 * heap workspace, grown when needed; NULL when it cannot be had (PHQ_NO_MALLOC, no memory). */
static jent *ws_grow(jent **heap, size_t *heap_cap, size_t need)
{
    if (need > *heap_cap) {
        jent *h = need <= SIZE_MAX / sizeof(jent) ? (jent *)ws_alloc_bytes(need * sizeof(jent)) : NULL;
        if (!h) return NULL;
        ws_free(*heap);
        *heap = h;
        *heap_cap = need;
    }
    return *heap;
}

/* Duplicate member names of the object at obj: members are taken in blocks as large as
 * the workspace; each block is sorted (duplicates inside it are then adjacent) and every
 * later member is binary-searched in it. One block (O(k log k)) when the workspace holds
 * all k members, which a heap workspace of k entries guarantees unless PHQ_NO_MALLOC (or no
 * memory): then O(k^2 / capacity). */
static int jdupcheck(jctx *c, size_t obj)
{
    const u8 *s = c->s;
    size_t blk = jfirst_member(s, obj), cap = c->ws_cap, total = 0, it = blk;
    jent *ws = c->ws;
    while (it != JNONE && total <= cap) { /* more members than the workspace holds? */
        total++;
        it = jnext_member(s, it);
    }
    if (total > cap) {
        jent *h;
        for (; it != JNONE; it = jnext_member(s, it)) total++;
        h = ws_grow(&c->heap, &c->heap_cap, total);
        if (h) {
            ws = h;
            cap = c->heap_cap;
        }
    }
    while (blk != JNONE) {
        size_t cnt = 0, i;
        it = blk;
        while (it != JNONE && cnt < cap) {
            ws[cnt].hash = jname_hash(s, it);
            ws[cnt].off = it;
            cnt++;
            it = jnext_member(s, it);
        }
        esort(ws, cnt, jent_cmp, s);
        for (i = 1; i < cnt; i++)
            if (jent_cmp(s, &ws[i - 1], &ws[i]) == 0)
                return jfail(c, (size_t)(ws[i - 1].off > ws[i].off ? ws[i - 1].off : ws[i].off),
                             "duplicate member name");
        blk = it;
        for (; it != JNONE; it = jnext_member(s, it)) {
            jent key;
            size_t lo;
            key.hash = jname_hash(s, it);
            key.off = it;
            lo = elower(ws, cnt, &key, jent_cmp, s);
            if (lo < cnt && jent_cmp(s, &ws[lo], &key) == 0) return jfail(c, it, "duplicate member name");
        }
    }
    return 1;
}

static int jvalue(jctx *c, size_t *pos, int depth);

static int jobject(jctx *c, size_t *pos, int depth)
{
    size_t p = *pos, obj = *pos;
    if (depth > LIM_JSON_DEPTH) return jfail(c, p, "nesting deeper than 64");
    p++;
    jws(c, &p);
    if (p < c->n && c->s[p] == '}') {
        *pos = p + 1;
        return 1;
    }
    for (;;) {
        if (p >= c->n || c->s[p] != '"') return jfail(c, p, "expected member name");
        if (!jstring(c, &p)) return 0;
        jws(c, &p);
        if (p >= c->n || c->s[p] != ':') return jfail(c, p, "expected ':'");
        p++;
        jws(c, &p);
        if (!jvalue(c, &p, depth + 1)) return 0;
        jws(c, &p);
        if (p >= c->n) return jfail(c, p, "unterminated object");
        if (c->s[p] == ',') {
            p++;
            jws(c, &p);
            continue;
        }
        if (c->s[p] == '}') break;
        return jfail(c, p, "expected ',' or '}'");
    }
    *pos = p + 1;
    return jdupcheck(c, obj);
}

static int jarray(jctx *c, size_t *pos, int depth)
{
    size_t p = *pos;
    if (depth > LIM_JSON_DEPTH) return jfail(c, p, "nesting deeper than 64");
    p++;
    jws(c, &p);
    if (p < c->n && c->s[p] == ']') {
        *pos = p + 1;
        return 1;
    }
    for (;;) {
        if (!jvalue(c, &p, depth + 1)) return 0;
        jws(c, &p);
        if (p >= c->n) return jfail(c, p, "unterminated array");
        if (c->s[p] == ',') {
            p++;
            jws(c, &p);
            continue;
        }
        if (c->s[p] == ']') break;
        return jfail(c, p, "expected ',' or ']'");
    }
    *pos = p + 1;
    return 1;
}

/* depth: the level a container starting here would have */
static int jvalue(jctx *c, size_t *pos, int depth)
{
    u8 ch;
    if (*pos >= c->n) return jfail(c, *pos, "expected a value");
    ch = c->s[*pos];
    switch (ch) {
    case '{': return jobject(c, pos, depth);
    case '[': return jarray(c, pos, depth);
    case '"': return jstring(c, pos);
    case 't': return jlit(c, pos, "true");
    case 'f': return jlit(c, pos, "false");
    case 'n': return jlit(c, pos, "null");
    default:
        if (ch == '-' || (ch >= '0' && ch <= '9')) return jnumber(c, pos);
        return jfail(c, *pos, "invalid value (NaN/Infinity are not JSON)");
    }
}

int phq_json_object_valid(const unsigned char *s, size_t n, void *scratch, size_t scratch_size,
                          size_t *err_pos, const char **why)
{
    jent local[PHQ_STACK_WORKSPACE];
    jctx c;
    size_t pos = 0, i;
    int ok;
    c.s = s;
    c.n = n;
    c.heap = NULL;
    c.heap_cap = 0;
    c.err_pos = 0;
    c.why = "";
    if (scratch && scratch_size / sizeof(jent) >= PHQ_STACK_WORKSPACE) {
        /* align the caller's workspace */
        uintptr_t a = (uintptr_t)scratch, al = (a + 7u) & ~(uintptr_t)7u;
        c.ws = (jent *)(void *)al;
        c.ws_cap = (scratch_size - (size_t)(al - a)) / sizeof(jent);
    } else {
        c.ws = local;
        c.ws_cap = sizeof local / sizeof local[0];
    }
    ok = 1;
    for (i = 0; i < n; ) { /* strict UTF-8 first */
        size_t k;
        if (s[i] < 0x80) {
            i++;
            continue;
        }
        k = utf8_seq(s + i, n - i);
        if (k == 0) {
            ok = jfail(&c, i, "invalid UTF-8");
            break;
        }
        i += k;
    }
    if (ok) {
        jws(&c, &pos);
        if (pos >= n || s[pos] != '{') ok = jfail(&c, pos, "top-level value is not an object");
        else if ((ok = jobject(&c, &pos, 1)) != 0) {
            jws(&c, &pos);
            if (pos != n) ok = jfail(&c, pos, "data after the top-level object");
        }
    }
    ws_free(c.heap);
    if (!ok) {
        if (err_pos) *err_pos = c.err_pos;
        if (why) *why = c.why;
    }
    return ok;
}

/* ---- section table --------------------------------------------------------------------- */

typedef struct {
    uint16_t kind, flags;
    uint32_t owner;
    uint64_t off, size;
    uint32_t crc, reserved;
} sect;

static void sect_at(const u8 *b, uint32_t k, sect *s)
{
    const u8 *e = b + 64 + 32 * (size_t)k;
    s->kind = rd16(e);
    s->flags = rd16(e + 2);
    s->owner = rd32(e + 4);
    s->off = rd64(e + 8);
    s->size = rd64(e + 16);
    s->crc = rd32(e + 24);
    s->reserved = rd32(e + 28);
}

static int kind_known(unsigned k) { return k == K_META || k == K_TENSOR || (k >= K_TABLE && k <= K_LAST_PART); }
static int kind_part(unsigned k) { return k >= K_PARTITIONS && k <= K_LAST_PART; }

static const char *kind_name(unsigned k)
{
    static const char *const parts[] = {"TABLE", "MPH_PARTITIONS", "MPH_LEVELS", "MPH_BITMAP",
                                        "MPH_RANK", "MPH_FALLBACK", "FINGERPRINTS", "SCALES",
                                        "ROWS", "ROW_INDEX", "COLUMNS", "CODEBOOK",
                                        "ROW_BASES", "ROW_DELTAS", "COLUMN_LOW", "COLUMN_HIGH"};
    if (k == K_META) return "META";
    if (k == K_TENSOR) return "TENSOR";
    if (k >= K_TABLE && k <= K_COLUMN_HIGH) return parts[k - K_TABLE];
    return "unknown";
}

static int zero_bytes(const u8 *p, uint64_t n)
{
    uint64_t i;
    for (i = 0; i < n; i++)
        if (p[i]) return 0;
    return 1;
}

static int name_ok(const u8 *p, uint64_t n) { return n >= 1 && n <= LIM_NAME && phq_utf8_valid(p, (size_t)n); }

size_t phq_dtype_size(int dtype)
{
    static const u8 sz[12] = {0, 4, 2, 8, 1, 2, 4, 8, 1, 2, 4, 8};
    return (dtype >= 1 && dtype <= 11) ? sz[dtype] : 0;
}

const char *phq_dtype_name(int dtype)
{
    static const char *const nm[12] = {"?", "f32", "f16", "f64", "i8", "i16", "i32", "i64",
                                       "u8", "u16", "u32", "u64"};
    return (dtype >= 1 && dtype <= 11) ? nm[dtype] : "?";
}

const char *phq_quant_name(int quant)
{
    static const char *const nm[6] = {"f32", "f16", "linear8", "linear4", "codebook4", "codebook8"};
    return (quant >= 0 && (unsigned)quant <= MAX_QUANT) ? nm[quant] : "?";
}

/* bytes per value of a raw row (4-bit codes are unpacked to one byte) */
static size_t quant_size(int quant) { return quant == 0 ? 4 : quant == 1 ? 2 : 1; }
/* bits per stored value in ROWS (1.1 §3) */
static unsigned quant_code_bits(int quant) { return quant == 0 ? 32 : quant == 1 ? 16 : (quant == 3 || quant == 4) ? 4 : 8; }
/* codebook levels per group K (1.1 §4.2), 0 for the other schemes */
static uint32_t quant_levels(int quant) { return quant == 4 ? 16 : quant == 5 ? 256 : 0; }
/* linear8 / linear4: scale records, zero code = zero_point */
static int quant_linear(int quant) { return quant == PHQ_QUANT_LINEAR8 || quant == PHQ_QUANT_LINEAR4; }
/* the required feature bit a quant needs (1.1 §1) */
static uint64_t quant_feature(unsigned quant)
{
    return quant == 3 ? PHQ_FEATURE_LINEAR4 : (quant == 4 || quant == 5) ? PHQ_FEATURE_CODEBOOK : 0;
}

/* ---- open (10.1) ------------------------------------------------------------------------- */

typedef struct {
    const u8 *b;
    uint64_t fsize;
    uint32_t nsec;
    phq_error *err;
    void *scratch;
    size_t scratch_size;
    uint32_t dup_tensor, dup_table; /* first duplicate-name section of each kind, or NONE32 */
    uint64_t req;                   /* the file's required_features (1.1 §1: quant needs its bit) */
} octx;

/* name of a TENSOR or TABLE section that already passed its checks */
static void sect_name(const u8 *b, const sect *s, const u8 **name, size_t *len)
{
    const u8 *d = b + s->off;
    if (s->kind == K_TENSOR) {
        *len = rd16(d + 2);
        *name = d + 8 + 8 * (size_t)d[1];
    } else {
        *len = rd16(d + 44);
        *name = d + 64;
    }
}

/* 1 when section k is an owner-less section of `kind` whose name lies inside it (after
 * steps 12-13 every section lies inside the file); only such names can take part in a
 * duplicate that the in-order checks reach. */
static int name_candidate(const u8 *b, uint32_t k, unsigned kind, const u8 **name, size_t *len)
{
    sect s;
    const u8 *d;
    sect_at(b, k, &s);
    if (s.kind != kind || s.owner != NONE32) return 0;
    d = b + s.off;
    if (kind == K_TENSOR) {
        if (s.size < 8 || d[1] > LIM_NDIM || 8 + 8 * (uint64_t)d[1] + rd16(d + 2) > s.size) return 0;
    } else {
        if (s.size < 64 || 64 + (uint64_t)rd16(d + 44) > s.size) return 0;
    }
    sect_name(b, &s, name, len);
    return *len >= 1;
}

/* entries hold (hash of the name, section index): order by hash, then name bytes */
static int name_cmp_noidx(const void *ctx, const jent *x, const jent *y)
{
    const u8 *b = (const u8 *)ctx, *nx, *ny;
    size_t lx, ly;
    sect s;
    int c;
    COUNT_COMPARE();
    if (x->hash != y->hash) return x->hash < y->hash ? -1 : 1;
    sect_at(b, (uint32_t)x->off, &s);
    sect_name(b, &s, &nx, &lx);
    sect_at(b, (uint32_t)y->off, &s);
    sect_name(b, &s, &ny, &ly);
    c = memcmp(nx, ny, lx < ly ? lx : ly);
    if (c) return c < 0 ? -1 : 1;
    return lx < ly ? -1 : lx > ly ? 1 : 0;
}

/* ... then by section index, so equal names sort in file order */
static int name_cmp(const void *ctx, const jent *x, const jent *y)
{
    int c = name_cmp_noidx(ctx, x, y);
    if (c) return c;
    return x->off < y->off ? -1 : x->off > y->off ? 1 : 0;
}

static uint64_t name_hash(const u8 *name, size_t len)
{
    uint64_t h[2];
    phq_murmur3_x64_128(name, len, 0x70687100u, h);
    return h[0];
}

/* The smallest index k of an owner-less section of `kind` whose name equals that of an
 * earlier one (NONE32 if none). Hash-sort in blocks of the workspace, ties broken by the
 * name bytes (so crafted hash collisions cost nothing): O(n log n) when the workspace
 * holds every name, O(n^2 / capacity) comparisons otherwise. The in-order checks of step
 * 14/15 report E_DUPLICATE_NAME when they reach this section: every section before it
 * then passed its checks, so it is exactly the first section a pairwise check flags. */
static uint32_t first_duplicate(const octx *o, unsigned kind, jent *ws, size_t cap)
{
    uint32_t best = NONE32, k = 0, k2;
    const u8 *name;
    size_t len;
    while (k < o->nsec && k < best) {
        size_t cnt = 0, i;
        for (; k < o->nsec && cnt < cap; k++) {
            if (!name_candidate(o->b, k, kind, &name, &len)) continue;
            ws[cnt].hash = name_hash(name, len);
            ws[cnt].off = k;
            cnt++;
        }
        esort(ws, cnt, name_cmp, o->b);
        for (i = 1; i < cnt; i++) /* equal names are adjacent, the later section second */
            if (name_cmp_noidx(o->b, &ws[i - 1], &ws[i]) == 0 && ws[i].off < best) best = (uint32_t)ws[i].off;
        for (k2 = k; k2 < o->nsec && k2 < best; k2++) {
            jent key;
            size_t lo;
            if (!name_candidate(o->b, k2, kind, &name, &len)) continue;
            key.hash = name_hash(name, len);
            key.off = k2;
            lo = elower(ws, cnt, &key, name_cmp_noidx, o->b);
            if (lo < cnt && name_cmp_noidx(o->b, &ws[lo], &key) == 0) best = k2;
        }
    }
    return best;
}

static phq_code check_meta(octx *o, uint32_t k, const sect *s)
{
    size_t pos = 0;
    const char *why = "";
    if (!phq_json_object_valid(o->b + s->off, (size_t)s->size, o->scratch, o->scratch_size, &pos, &why))
        return fail(o->err, PHQ_E_METADATA, k, s->off + pos, "section %u: metadata byte %llu: %s", k,
                    (unsigned long long)pos, why);
    return PHQ_OK;
}

static phq_code check_tensor(octx *o, uint32_t k, const sect *s)
{
    const u8 *d = o->b + s->off;
    unsigned dtype, ndim, name_len, i;
    uint64_t hdr, data_off, span, nbytes, total;
    int zero_dim = 0;
    if (s->size < 8)
        return fail(o->err, PHQ_E_SECTION_SIZE, k, s->off, "section %u: TENSOR shorter than 8 bytes", k);
    dtype = d[0];
    ndim = d[1];
    name_len = rd16(d + 2);
    if (rd32(d + 4) != 0)
        return fail(o->err, PHQ_E_RESERVED, k, s->off + 4, "section %u: TENSOR reserved field not 0", k);
    if (dtype < 1 || dtype > 11)
        return fail(o->err, PHQ_E_ENUM, k, s->off, "section %u: TENSOR dtype %u undefined", k, dtype);
    if (ndim > LIM_NDIM)
        return fail(o->err, PHQ_E_LIMIT, k, s->off + 1, "section %u: TENSOR ndim %u > 8", k, ndim);
    hdr = 8 + 8 * (uint64_t)ndim + name_len;
    if (hdr > s->size)
        return fail(o->err, PHQ_E_SECTION_SIZE, k, s->off, "section %u: TENSOR header and name run past the section", k);
    if (!name_ok(d + 8 + 8 * ndim, name_len))
        return fail(o->err, PHQ_E_NAME, k, s->off + 8 + 8 * ndim,
                    "section %u: TENSOR name empty, longer than 255 bytes or not UTF-8", k);
    /* 5.3: span = itemsize x the product of the non-zero dimensions; span >= 2^63 is
     * E_OVERFLOW even when a dimension is 0. nbytes = product(shape) x itemsize. */
    span = phq_dtype_size((int)dtype);
    for (i = 0; i < ndim; i++) {
        uint64_t dm = rd64(d + 8 + 8 * i);
        if (dm == 0) {
            zero_dim = 1;
            continue;
        }
        if (!mul_ok(span, dm, &span) || span >= (((uint64_t)1) << 63))
            return fail(o->err, PHQ_E_OVERFLOW, k, s->off + 8 + 8 * i,
                        "section %u: TENSOR size overflows 63 bits", k);
    }
    nbytes = zero_dim ? 0 : span;
    data_off = (hdr + 63) & ~(uint64_t)63; /* hdr < 2^17 */
    if (!add_ok(data_off, nbytes, &total) || total != s->size)
        return fail(o->err, PHQ_E_SECTION_SIZE, k, s->off,
                    "section %u: TENSOR size %llu, expected data_offset + nbytes", k,
                    (unsigned long long)s->size);
    if (!zero_bytes(d + hdr, data_off - hdr))
        return fail(o->err, PHQ_E_PADDING, k, s->off + hdr, "section %u: TENSOR padding not zero", k);
    if (k == o->dup_tensor)
        return fail(o->err, PHQ_E_DUPLICATE_NAME, k, s->off + 8 + 8 * ndim,
                    "section %u: a previous tensor has the same name", k);
    return PHQ_OK;
}

/* 5.5.7: scale > 0, not NaN, 255 x scale <= FLT_MAX computed exactly. In binary64 the
 * product 255 x scale is exact (8 + 24 significant bits), so the comparison is exact. */
static int scale_ok(uint32_t sb)
{
    double v;
    if (sb & 0x80000000u) return 0;              /* negative or -0 */
    if (sb == 0 || !f32_finite(sb)) return 0;    /* +0, inf, NaN */
    v = (double)bits_f32(sb);
    return 255.0 * v <= 3.4028234663852886e38;   /* FLT_MAX, exact in binary64 */
}

/* 15: the parts of a closed table group, in order (1.1 §2: CODEBOOK after SCALES exactly
 * for codebook tables; ROW_INDEX and COLUMNS only for sparse ones) */
static const uint16_t part_order[7] = {K_PARTITIONS, K_LEVELS, K_BITMAP, K_RANK, K_FALLBACK,
                                       K_FINGERPRINTS, K_SCALES};

/* 10.1 step 15: close and check the table group of TABLE section ti, whose owned sections
 * are (ti, end). */
static phq_code close_table(octx *o, uint32_t ti, uint32_t end)
{
    const u8 *b = o->b;
    sect t, ps[13], s;
    const sect *prow, *pcb;
    const u8 *d, *pr, *lv;
    uint16_t want[13];
    uint32_t k, nparts = 0, nexp, dim, P, sbr, p, K;
    unsigned name_len, hs, quant, layout, fpb, sg, iw, cw, bits4, dw = 0, rbl = 0, lowb = 0;
    int32_t zmax;
    uint64_t n, nnz, sum, L, W, F, G, lvl, itemsize, x, nsc;
    phq_error *err = o->err;

    sect_at(b, ti, &t);
    d = b + t.off;
    if (t.size < 64)
        return fail(err, PHQ_E_SECTION_SIZE, ti, t.off, "section %u: TABLE shorter than 64 bytes", ti);
    /* 1.2 §3: bytes 39, 46 and 47 are the compact layout's fields in files that set
     * COMPACT_SPARSE (checked with the enums below), reserved otherwise */
    if (((o->req & PHQ_FEATURE_COMPACT_SPARSE) == 0 && (d[39] != 0 || rd16(d + 46) != 0)) || rd64(d + 48) != 0 ||
        rd64(d + 56) != 0)
        return fail(err, PHQ_E_RESERVED, ti, t.off, "section %u: TABLE reserved field not 0", ti);
    name_len = rd16(d + 44);
    if (t.size != 64 + (uint64_t)name_len)
        return fail(err, PHQ_E_SECTION_SIZE, ti, t.off, "section %u: TABLE size %llu != 64 + name_len %u", ti,
                    (unsigned long long)t.size, name_len);
    if (!name_ok(d + 64, name_len))
        return fail(err, PHQ_E_NAME, ti, t.off + 64, "section %u: table name empty, longer than 255 bytes or not UTF-8", ti);
    n = rd64(d);
    dim = rd32(d + 8);
    P = rd32(d + 16);
    nnz = rd64(d + 24);
    hs = d[32];
    quant = d[33];
    layout = d[34];
    fpb = d[35];
    sg = d[36];
    iw = d[37];
    cw = d[38];
    sbr = rd32(d + 40);
    if (hs != 1) return fail(err, PHQ_E_ENUM, ti, t.off + 32, "section %u: hash_scheme %u undefined", ti, hs);
    if (quant > MAX_QUANT) return fail(err, PHQ_E_ENUM, ti, t.off + 33, "section %u: quant %u undefined", ti, quant);
    if (quant_feature(quant) & ~o->req) /* 1.1 §1: undefined in a file without the bit */
        return fail(err, PHQ_E_ENUM, ti, t.off + 33, "section %u: quant %u (%s) needs required feature bit %s, not set",
                    ti, quant, phq_quant_name((int)quant), quant == 3 ? "LINEAR4" : "CODEBOOK");
    K = quant_levels((int)quant);
    bits4 = quant_code_bits((int)quant) == 4;
    if (layout > 2 || (layout == 2 && !(o->req & PHQ_FEATURE_COMPACT_SPARSE)))
        return fail(err, PHQ_E_ENUM, ti, t.off + 34, "section %u: layout %u undefined%s", ti, layout,
                    layout == 2 ? " in a file that does not set COMPACT_SPARSE" : "");
    if (fpb != 0 && fpb != 8 && fpb != 16 && fpb != 32)
        return fail(err, PHQ_E_ENUM, ti, t.off + 35, "section %u: fingerprint_bits %u undefined", ti, fpb);
    /* linear8/linear4: 1-3; codebook: 1 or 2 (1.1 §3); f32/f16: 0 */
    if (sg > 3 || (sg == 0) != (quant < 2) || (K && sg == 3))
        return fail(err, PHQ_E_ENUM, ti, t.off + 36, "section %u: scale_granularity %u inconsistent with quant %u", ti, sg, quant);
    if ((sbr > 0) != (sg == 3))
        return fail(err, PHQ_E_ENUM, ti, t.off + 40, "section %u: scale_block_rows %u inconsistent with granularity %u", ti, sbr, sg);
    if (layout == 0 ? (iw != 0 || cw != 0)
                    : layout == 2 ? ((iw != 4 && iw != 8) || cw != 0)
                                  : ((iw != 4 && iw != 8) || (cw != 1 && cw != 2 && cw != 4)))
        return fail(err, PHQ_E_ENUM, ti, t.off + 37, "section %u: index_width %u / column_width %u invalid for layout %u", ti, iw, cw, layout);
    dw = d[39];
    rbl = d[46];
    lowb = d[47];
    if (layout == 2 ? ((dw != 1 && dw != 2 && dw != 4) || rbl > 15 || lowb > 24) : (dw | rbl | lowb) != 0)
        return fail(err, PHQ_E_ENUM, ti, t.off + 39,
                    "section %u: delta_width %u / row_block_log2 %u / column_low_bits %u invalid for layout %u", ti, dw, rbl,
                    lowb, layout);
    if (n > LIM_KEYS) return fail(err, PHQ_E_LIMIT, ti, t.off, "section %u: num_keys > 2^40", ti);
    if (dim > LIM_DIM) return fail(err, PHQ_E_LIMIT, ti, t.off + 8, "section %u: dim > 2^24", ti);
    if (P < 1 || P > LIM_PARTITIONS)
        return fail(err, PHQ_E_LIMIT, ti, t.off + 16, "section %u: num_partitions %u not in [1, 2^20]", ti, P);

    /* the parts list (4.3) */
    for (nexp = 0; nexp < 7; nexp++) want[nexp] = part_order[nexp];
    if (K) want[nexp++] = K_CODEBOOK;
    want[nexp++] = K_ROWS;
    if (layout == 1) {
        want[nexp++] = K_ROW_INDEX;
        want[nexp++] = K_COLUMNS;
    } else if (layout == 2) { /* 1.2 §2 */
        want[nexp++] = K_ROW_BASES;
        want[nexp++] = K_ROW_DELTAS;
        want[nexp++] = K_COLUMN_LOW;
        want[nexp++] = K_COLUMN_HIGH;
    }
    for (k = ti + 1; k < end; k++) {
        sect_at(b, k, &s);
        if (!kind_known(s.kind)) continue; /* unknown ancillary: skipped */
        if (nparts >= nexp || s.kind != want[nparts])
            return fail(err, PHQ_E_SECTION_ORDER, k, 64 + 32 * (uint64_t)k,
                        "section %u: %s where the table's %s part was expected", k, kind_name(s.kind),
                        nparts < nexp ? kind_name(want[nparts]) : "(no further)");
        ps[nparts++] = s;
    }
    if (nparts != nexp)
        return fail(err, PHQ_E_SECTION_ORDER, ti, t.off, "section %u: table group lacks its %s part", ti,
                    kind_name(want[nparts]));
    pcb = K ? &ps[7] : NULL;
    prow = &ps[K ? 8 : 7]; /* ROWS, then (sparse) ROW_INDEX, COLUMNS */

    /* MPH_PARTITIONS (5.5.1) */
    if (!mul_eq(16, P, ps[0].size))
        return fail(err, PHQ_E_SECTION_SIZE, ti + 1, ps[0].off, "MPH_PARTITIONS size %llu != 16 x %u",
                    (unsigned long long)ps[0].size, P);
    pr = b + ps[0].off;
    for (p = 0; p < P; p++)
        if (rd32(pr + 16 * (size_t)p + 12) != 0)
            return fail(err, PHQ_E_RESERVED, PHQ_NO_SECTION, ps[0].off + 16 * (uint64_t)p + 12,
                        "partition %u: reserved field not 0", p);
    sum = 0;
    for (p = 0; p < P; p++) sum += rd32(pr + 16 * (size_t)p); /* <= 2^52 */
    if (sum != n)
        return fail(err, PHQ_E_MPH, PHQ_NO_SECTION, ps[0].off, "sum of key_count %llu != num_keys %llu",
                    (unsigned long long)sum, (unsigned long long)n);
    for (p = 0; p < P; p++)
        if (rd32(pr + 16 * (size_t)p + 4) > rd32(pr + 16 * (size_t)p))
            return fail(err, PHQ_E_MPH, PHQ_NO_SECTION, ps[0].off + 16 * (uint64_t)p + 4,
                        "partition %u: fallback_count > key_count", p);
    L = 0;
    F = 0;
    for (p = 0; p < P; p++) {
        uint32_t lc = rd32(pr + 16 * (size_t)p + 8);
        if (lc > LIM_LEVELS)
            return fail(err, PHQ_E_LIMIT, PHQ_NO_SECTION, ps[0].off + 16 * (uint64_t)p + 8,
                        "partition %u: level_count %u > 64", p, lc);
        L += lc;                                 /* <= 2^26 */
        F += rd32(pr + 16 * (size_t)p + 4);      /* <= 2^52 */
    }
    /* MPH_LEVELS (5.5.2) */
    if (!mul_eq(4, L, ps[1].size))
        return fail(err, PHQ_E_SECTION_SIZE, PHQ_NO_SECTION, ps[1].off, "MPH_LEVELS size %llu != 4 x %llu",
                    (unsigned long long)ps[1].size, (unsigned long long)L);
    lv = b + ps[1].off;
    for (lvl = 0; lvl < L; lvl++) {
        uint32_t w = rd32(lv + 4 * (size_t)lvl);
        if (w < 1 || w > LIM_LEVEL_WORDS)
            return fail(err, PHQ_E_MPH, PHQ_NO_SECTION, ps[1].off + 4 * lvl, "level %llu: %u words not in [1, 2^26-1]",
                        (unsigned long long)lvl, w);
    }
    /* ones[p] <= 64 x (sum of level words of p); W = sum of align32(words of p) */
    W = 0;
    lvl = 0;
    for (p = 0; p < P; p++) {
        uint32_t lc = rd32(pr + 16 * (size_t)p + 8), i;
        uint64_t words = 0, ones = (uint64_t)rd32(pr + 16 * (size_t)p) - rd32(pr + 16 * (size_t)p + 4);
        for (i = 0; i < lc; i++) words += rd32(lv + 4 * (size_t)(lvl + i)); /* <= 2^32 */
        lvl += lc;
        if (ones > 64 * words)
            return fail(err, PHQ_E_MPH, PHQ_NO_SECTION, ps[0].off + 16 * (uint64_t)p,
                        "partition %u: %llu keys in levels do not fit %llu bits", p,
                        (unsigned long long)ones, (unsigned long long)(64 * words));
        W += (words + 31) & ~(uint64_t)31; /* <= 2^52 */
    }
    if (!mul_eq(8, W, ps[2].size))
        return fail(err, PHQ_E_SECTION_SIZE, PHQ_NO_SECTION, ps[2].off, "MPH_BITMAP size %llu != 8 x %llu",
                    (unsigned long long)ps[2].size, (unsigned long long)W);
    if (!mul_eq(8, W / 32, ps[3].size))
        return fail(err, PHQ_E_SECTION_SIZE, PHQ_NO_SECTION, ps[3].off, "MPH_RANK size %llu != 8 x %llu",
                    (unsigned long long)ps[3].size, (unsigned long long)(W / 32));
    if (!mul_eq(16, F, ps[4].size))
        return fail(err, PHQ_E_SECTION_SIZE, PHQ_NO_SECTION, ps[4].off, "MPH_FALLBACK size %llu != 16 x %llu",
                    (unsigned long long)ps[4].size, (unsigned long long)F);
    if (!mul_eq(n, fpb / 8, ps[5].size))
        return fail(err, PHQ_E_SECTION_SIZE, PHQ_NO_SECTION, ps[5].off, "FINGERPRINTS size %llu != %llu x %u",
                    (unsigned long long)ps[5].size, (unsigned long long)n, fpb / 8);
    /* SCALES (5.5.7, 8.2): G records for linear8/linear4, none for codebooks (1.1 §3) */
    G = sg == 0 ? 0 : sg == 1 ? 1 : sg == 2 ? dim : (n / sbr + (n % sbr != 0));
    nsc = K ? 0 : G;
    if (!mul_eq(8, nsc, ps[6].size))
        return fail(err, PHQ_E_SECTION_SIZE, PHQ_NO_SECTION, ps[6].off, "SCALES size %llu != 8 x %llu",
                    (unsigned long long)ps[6].size, (unsigned long long)nsc);
    zmax = quant == PHQ_QUANT_LINEAR4 ? 15 : 255; /* 1.1 §4.1 */
    for (x = 0; x < nsc; x++) {
        const u8 *r = b + ps[6].off + 8 * x;
        uint32_t sb = rd32(r);
        int32_t zp = (int32_t)rd32(r + 4);
        if (!scale_ok(sb) || zp < 0 || zp > zmax)
            return fail(err, PHQ_E_SCALE, PHQ_NO_SECTION, ps[6].off + 8 * x,
                        "scale record %llu: scale not in (0, FLT_MAX/255] or zero_point outside 0-%d",
                        (unsigned long long)x, (int)zmax);
    }
    /* CODEBOOK (1.1 §4.2): 4 x G x K bytes; its levels are checked by validators only */
    if (pcb) {
        uint64_t nlev;
        if (!mul_ok(G, K, &nlev) || !mul_eq(4, nlev, pcb->size))
            return fail(err, PHQ_E_SECTION_SIZE, PHQ_NO_SECTION, pcb->off, "CODEBOOK size %llu != 4 x %llu groups x %u levels",
                        (unsigned long long)pcb->size, (unsigned long long)G, K);
    }
    itemsize = quant_size((int)quant);
    if (layout == 2) { /* 1.2 §4: sizes, then row_index(0) = 0 and row_index(n) = nnz */
        uint64_t H = ((uint64_t)dim + (((uint64_t)1) << lowb) - 1) >> lowb, nb = (n >> rbl) + 1, lowbits, nh, hb, r0, rn;
        const u8 *bb, *db;
        if (iw == 4 && nnz >= (((uint64_t)1) << 32))
            return fail(err, PHQ_E_SPARSE, ti, t.off + 24, "section %u: nnz >= 2^32 with 4-byte row bases", ti);
        if (bits4 ? prow[0].size != nnz / 2 + (nnz & 1) : !mul_eq(nnz, itemsize, prow[0].size))
            return fail(err, PHQ_E_SECTION_SIZE, PHQ_NO_SECTION, prow[0].off, "ROWS size %llu != %s of nnz %llu",
                        (unsigned long long)prow[0].size, bits4 ? "4 bits" : itemsize == 1 ? "1 byte" : itemsize == 2 ? "2 bytes" : "4 bytes",
                        (unsigned long long)nnz);
        if (!mul_eq(nb, iw, prow[1].size))
            return fail(err, PHQ_E_SECTION_SIZE, PHQ_NO_SECTION, prow[1].off, "ROW_BASES size %llu != ((n >> %u) + 1) x %u",
                        (unsigned long long)prow[1].size, rbl, iw);
        if (!mul_eq(n + 1, dw, prow[2].size))
            return fail(err, PHQ_E_SECTION_SIZE, PHQ_NO_SECTION, prow[2].off, "ROW_DELTAS size %llu != (n+1) x %u",
                        (unsigned long long)prow[2].size, dw);
        /* ceil(nnz l / 8) and ceil((nnz + n H) / 8): nnz < 2^64, l <= 24, n <= 2^40, H <= 2^24 */
        if (!mul_ok(nnz, lowb, &lowbits) || prow[3].size != lowbits / 8 + ((lowbits & 7) != 0))
            return fail(err, PHQ_E_SECTION_SIZE, PHQ_NO_SECTION, prow[3].off, "COLUMN_LOW size %llu != ceil(nnz x %u / 8)",
                        (unsigned long long)prow[3].size, lowb);
        hb = 0;
        if (mul_ok(n, H, &nh) && nh <= UINT64_MAX - nnz) hb = nnz + nh;
        if (!mul_ok(n, H, &nh) || nh > UINT64_MAX - nnz || prow[4].size != hb / 8 + ((hb & 7) != 0))
            return fail(err, PHQ_E_SECTION_SIZE, PHQ_NO_SECTION, prow[4].off, "COLUMN_HIGH size %llu != ceil((nnz + n x %llu) / 8)",
                        (unsigned long long)prow[4].size, (unsigned long long)H);
        bb = b + prow[1].off;
        db = b + prow[2].off;
        r0 = (iw == 4 ? rd32(bb) : rd64(bb));
        r0 = r0 > nnz ? UINT64_MAX : r0 + (dw == 1 ? db[0] : dw == 2 ? rd16(db) : rd32(db));
        rn = (iw == 4 ? rd32(bb + 4 * (size_t)(n >> rbl)) : rd64(bb + 8 * (size_t)(n >> rbl)));
        rn = rn > nnz ? UINT64_MAX
                      : rn + (dw == 1 ? db[n] : dw == 2 ? rd16(db + 2 * (size_t)n) : rd32(db + 4 * (size_t)n));
        if (r0 != 0 || rn != nnz)
            return fail(err, PHQ_E_SPARSE, PHQ_NO_SECTION, prow[1].off, "row_index(0) = %llu, row_index(n) = %llu, nnz = %llu",
                        (unsigned long long)r0, (unsigned long long)rn, (unsigned long long)nnz);
    } else if (layout == 1) {
        const u8 *ri;
        uint64_t r0, rn;
        if (iw == 4 && nnz >= (((uint64_t)1) << 32))
            return fail(err, PHQ_E_SPARSE, ti, t.off + 24, "section %u: nnz >= 2^32 with 4-byte row index", ti);
        if (bits4 ? prow[0].size != nnz / 2 + (nnz & 1) : !mul_eq(nnz, itemsize, prow[0].size))
            return fail(err, PHQ_E_SECTION_SIZE, PHQ_NO_SECTION, prow[0].off, "ROWS size %llu != %s of nnz %llu",
                        (unsigned long long)prow[0].size, bits4 ? "4 bits" : itemsize == 1 ? "1 byte" : itemsize == 2 ? "2 bytes" : "4 bytes",
                        (unsigned long long)nnz);
        if (!mul_eq(n + 1, iw, prow[1].size))
            return fail(err, PHQ_E_SECTION_SIZE, PHQ_NO_SECTION, prow[1].off, "ROW_INDEX size %llu != (n+1) x %u",
                        (unsigned long long)prow[1].size, iw);
        if (!mul_eq(nnz, cw, prow[2].size))
            return fail(err, PHQ_E_SECTION_SIZE, PHQ_NO_SECTION, prow[2].off, "COLUMNS size %llu != nnz x %u",
                        (unsigned long long)prow[2].size, cw);
        ri = b + prow[1].off;
        r0 = iw == 4 ? rd32(ri) : rd64(ri);
        rn = iw == 4 ? rd32(ri + 4 * n) : rd64(ri + 8 * n);
        if (r0 != 0 || rn != nnz)
            return fail(err, PHQ_E_SPARSE, PHQ_NO_SECTION, prow[1].off, "row_index[0] = %llu, row_index[n] = %llu, nnz = %llu",
                        (unsigned long long)r0, (unsigned long long)rn, (unsigned long long)nnz);
    } else {
        uint64_t nd, bytes;
        if (!mul_ok(n, dim, &nd) || !mul_ok(nd, itemsize, &bytes))
            return fail(err, PHQ_E_OVERFLOW, ti, t.off, "section %u: n x dim x itemsize overflows 64 bits", ti);
        if (nnz != nd)
            return fail(err, PHQ_E_SECTION_SIZE, ti, t.off + 24, "section %u: nnz %llu != n x dim %llu", ti,
                        (unsigned long long)nnz, (unsigned long long)nd);
        if (bits4) bytes = nd / 2 + (nd & 1); /* 1.1 §4.3: ceil(nnz / 2) */
        if (prow[0].size != bytes)
            return fail(err, PHQ_E_SECTION_SIZE, PHQ_NO_SECTION, prow[0].off, "ROWS size %llu != %llu",
                        (unsigned long long)prow[0].size, (unsigned long long)bytes);
    }
    if (ti == o->dup_table)
        return fail(err, PHQ_E_DUPLICATE_NAME, ti, t.off + 64, "section %u: a previous table has the same name", ti);
    return PHQ_OK;
}

static const u8 SIGNATURE[8] = {0x89, 'P', 'H', 'Q', 0x0D, 0x0A, 0x1A, 0x0A};

phq_code phq_open_ex(const void *buf, size_t len, const phq_open_options *opt, phq_model *m,
                     phq_error *err)
{
    const u8 *b = (const u8 *)buf;
    octx o;
    uint64_t fsize, expect, end, pos;
    uint32_t nsec, k, group = NONE32, tables = 0, tensors = 0, meta = NONE32;
    phq_code rc;

    clear_err(err);
    if (!m || (!b && len > 0)) return fail(err, PHQ_E_USAGE, PHQ_NO_SECTION, PHQ_NO_OFFSET, "NULL model or buffer");
    memset(m, 0, sizeof *m);
    /* step 1: signature (3.1) */
    if (len < 8 || memcmp(b, SIGNATURE, 8) != 0) {
        if (len < 8 && (len == 0 || memcmp(b, SIGNATURE, len) == 0))
            return fail(err, PHQ_E_TRUNCATED, PHQ_NO_SECTION, 0, "file of %lu bytes ends inside the signature",
                        (unsigned long)len);
        if (len >= 4 && b[1] == 'P' && b[2] == 'H' && b[3] == 'Q')
            return fail(err, PHQ_E_TEXT_MODE, PHQ_NO_SECTION, 0,
                        "signature damaged by a text-mode transfer (CR/LF conversion or high bit stripped)");
        if (len >= 23 && memcmp(b, "version https://git-lfs", 23) == 0)
            return fail(err, PHQ_E_SIGNATURE, PHQ_NO_SECTION, 0,
                        "not a phq file: this is a Git LFS pointer (run git lfs pull)");
        return fail(err, PHQ_E_SIGNATURE, PHQ_NO_SECTION, 0, "not a phq file (bad signature)");
    }
    /* step 2 */
    if (len < 64) return fail(err, PHQ_E_TRUNCATED, PHQ_NO_SECTION, len, "file of %lu bytes is shorter than the 64-byte header", (unsigned long)len);
    /* steps 3-7 */
    if (rd16(b + 8) != 1) return fail(err, PHQ_E_VERSION, PHQ_NO_SECTION, 8, "major version %u not supported (this reader reads 1)", rd16(b + 8));
    if (rd32(b + 12) != 64) return fail(err, PHQ_E_HEADER_SIZE, PHQ_NO_SECTION, 12, "header_size %u != 64", rd32(b + 12));
    if (phq_crc32c(0, b, 60) != rd32(b + 60)) return fail(err, PHQ_E_HEADER_CHECKSUM, PHQ_NO_SECTION, 60, "header CRC32C mismatch");
    if (rd32(b + 56) != 0) return fail(err, PHQ_E_RESERVED, PHQ_NO_SECTION, 56, "header reserved field not 0");
    if (rd64(b + 16) & ~KNOWN_REQUIRED)
        return fail(err, PHQ_E_FEATURE, PHQ_NO_SECTION, 16, "unknown required feature bits 0x%llx (this reader reads 1.%d)",
                    (unsigned long long)(rd64(b + 16) & ~KNOWN_REQUIRED), PHQ_MAX_MINOR);
    /* step 8 */
    fsize = rd64(b + 32);
    if (fsize > (uint64_t)len)
        return fail(err, PHQ_E_TRUNCATED, PHQ_NO_SECTION, len, "file is %lu bytes, header says %llu",
                    (unsigned long)len, (unsigned long long)fsize);
    if (fsize < (uint64_t)len)
        return fail(err, PHQ_E_FILE_SIZE, PHQ_NO_SECTION, 32, "file is %lu bytes, header says %llu (data appended?)",
                    (unsigned long)len, (unsigned long long)fsize);
    /* steps 9-11 */
    if (rd64(b + 40) != 64) return fail(err, PHQ_E_SECTION_TABLE, PHQ_NO_SECTION, 40, "section_table_offset != 64");
    nsec = rd32(b + 48);
    if (nsec > LIM_SECTIONS) return fail(err, PHQ_E_LIMIT, PHQ_NO_SECTION, 48, "section_count %u > 65536", nsec);
    if (64 + 32 * (uint64_t)nsec > fsize)
        return fail(err, PHQ_E_TRUNCATED, PHQ_NO_SECTION, len, "section table of %u entries runs past the end", nsec);
    if (phq_crc32c(0, b + 64, 32 * (size_t)nsec) != rd32(b + 52))
        return fail(err, PHQ_E_HEADER_CHECKSUM, PHQ_NO_SECTION, 52, "section table CRC32C mismatch");
    /* step 12: layout (2) */
    end = 64 + 32 * (uint64_t)nsec;
    for (k = 0; k < nsec; k++) {
        sect s;
        sect_at(b, k, &s);
        if ((s.flags & 0xFFFEu) != 0 || s.reserved != 0)
            return fail(err, PHQ_E_RESERVED, k, 64 + 32 * (uint64_t)k, "section %u: reserved flag bits or field not 0", k);
        if (s.kind == K_META && s.size > LIM_META) /* 5.2: checked with the section table */
            return fail(err, PHQ_E_LIMIT, k, 64 + 32 * (uint64_t)k + 16, "section %u: META of %llu bytes exceeds 16 MiB",
                        k, (unsigned long long)s.size);
        if (s.off % 64 != 0)
            return fail(err, PHQ_E_SECTION_ALIGN, k, 64 + 32 * (uint64_t)k + 8, "section %u: offset %llu not a multiple of 64",
                        k, (unsigned long long)s.off);
        if (!align_ok(end, 64, &expect))
            return fail(err, PHQ_E_OVERFLOW, k, 64 + 32 * (uint64_t)k + 8, "section %u: position overflows", k);
        if (s.off < expect)
            return fail(err, PHQ_E_SECTION_OVERLAP, k, 64 + 32 * (uint64_t)k + 8,
                        "section %u: offset %llu before the end of the previous one (%llu)", k,
                        (unsigned long long)s.off, (unsigned long long)expect);
        if (s.off > expect)
            return fail(err, PHQ_E_SECTION_GAP, k, 64 + 32 * (uint64_t)k + 8,
                        "section %u: offset %llu leaves a hole (expected %llu)", k, (unsigned long long)s.off,
                        (unsigned long long)expect);
        if (s.off > fsize || s.size > fsize - s.off)
            return fail(err, PHQ_E_SECTION_BOUNDS, k, 64 + 32 * (uint64_t)k + 16,
                        "section %u: [%llu, +%llu) extends past the end of the file", k, (unsigned long long)s.off,
                        (unsigned long long)s.size);
        end = s.off + s.size; /* padding is checked by phq_validate (10.2 item 1) */
    }
    /* step 13 */
    if (!align_ok(end, 64, &pos) || pos != fsize)
        return fail(err, PHQ_E_SECTION_GAP, PHQ_NO_SECTION, end, "file_size %llu != align64(end of last section %llu)",
                    (unsigned long long)fsize, (unsigned long long)end);

    /* step 14: kinds, owners, groups */
    o.b = b;
    o.fsize = fsize;
    o.nsec = nsec;
    o.err = err;
    o.scratch = opt ? opt->scratch : NULL;
    o.scratch_size = opt ? opt->scratch_size : 0;
    o.req = rd64(b + 16);
    {
        jent local[PHQ_STACK_WORKSPACE], *ws = local, *heap = NULL;
        size_t cap = sizeof local / sizeof local[0], heap_cap = 0;
        if (o.scratch && o.scratch_size / sizeof(jent) >= PHQ_STACK_WORKSPACE) {
            uintptr_t a = (uintptr_t)o.scratch, al = (a + 7u) & ~(uintptr_t)7u;
            ws = (jent *)(void *)al;
            cap = (o.scratch_size - (size_t)(al - a)) / sizeof(jent);
        }
        if (nsec > cap && ws_grow(&heap, &heap_cap, nsec)) { /* room for every name at once */
            ws = heap;
            cap = heap_cap;
        }
        o.dup_tensor = first_duplicate(&o, K_TENSOR, ws, cap);
        o.dup_table = first_duplicate(&o, K_TABLE, ws, cap);
        ws_free(heap);
    }
    for (k = 0; k < nsec; k++) {
        sect s;
        int known;
        sect_at(b, k, &s);
        known = kind_known(s.kind);
        if (known && (s.flags & 1u))
            return fail(err, PHQ_E_RESERVED, k, 64 + 32 * (uint64_t)k + 2, "section %u: %s flagged ancillary", k,
                        kind_name(s.kind));
        if (s.owner != NONE32) {
            if (s.kind == K_META || s.kind == K_TENSOR || s.kind == K_TABLE)
                return fail(err, PHQ_E_SECTION_ORDER, k, 64 + 32 * (uint64_t)k + 4, "section %u: %s cannot have an owner",
                            k, kind_name(s.kind));
            if (group == NONE32 || s.owner != group)
                return fail(err, PHQ_E_SECTION_ORDER, k, 64 + 32 * (uint64_t)k + 4,
                            "section %u: owner %u is not the TABLE of the open group", k, s.owner);
            if (!known && !(s.flags & 1u))
                return fail(err, PHQ_E_UNKNOWN_SECTION, k, 64 + 32 * (uint64_t)k,
                            "section %u: unknown critical section kind 0x%04x", k, s.kind);
            continue; /* unknown ancillary: skipped; a known part joins the group */
        }
        if (group != NONE32) {
            rc = close_table(&o, group, k);
            if (rc) return rc;
            group = NONE32;
        }
        if (!known) {
            if (!(s.flags & 1u))
                return fail(err, PHQ_E_UNKNOWN_SECTION, k, 64 + 32 * (uint64_t)k,
                            "section %u: unknown critical section kind 0x%04x", k, s.kind);
            continue;
        }
        if (kind_part(s.kind))
            return fail(err, PHQ_E_SECTION_ORDER, k, 64 + 32 * (uint64_t)k + 4, "section %u: %s outside a table group", k,
                        kind_name(s.kind));
        if (s.kind == K_META) {
            if (meta != NONE32)
                return fail(err, PHQ_E_DUPLICATE_SECTION, k, 64 + 32 * (uint64_t)k, "section %u: second META section", k);
            rc = check_meta(&o, k, &s);
            if (rc) return rc;
            meta = k;
            m->meta_offset = s.off;
            m->meta_size = s.size;
        } else if (s.kind == K_TENSOR) {
            rc = check_tensor(&o, k, &s);
            if (rc) return rc;
            tensors++;
        } else { /* TABLE */
            group = k;
            tables++;
        }
    }
    if (group != NONE32) {
        rc = close_table(&o, group, nsec);
        if (rc) return rc;
    }
    m->buf = b;
    m->len = len;
    m->major = rd16(b + 8);
    m->minor = rd16(b + 10);
    m->required_features = rd64(b + 16);
    m->optional_features = rd64(b + 24);
    m->section_count = nsec;
    m->table_count = tables;
    m->tensor_count = tensors;
    m->meta_section = meta;
    m->magic_ = MODEL_MAGIC;
    return PHQ_OK;
}

phq_code phq_open(const void *buf, size_t len, phq_model *m, phq_error *err)
{
    return phq_open_ex(buf, len, NULL, m, err);
}

/* ---- model accessors ---------------------------------------------------------------------- */

static int model_ok(const phq_model *m) { return m && m->magic_ == MODEL_MAGIC; }

int phq_metadata(const phq_model *m, const unsigned char **data, size_t *len)
{
    static const u8 empty[] = "{}";
    if (model_ok(m) && m->meta_section != NONE32) {
        *data = m->buf + m->meta_offset;
        *len = (size_t)m->meta_size;
        return 1;
    }
    *data = empty;
    *len = 2;
    return 0;
}

uint32_t phq_tensor_count(const phq_model *m) { return model_ok(m) ? m->tensor_count : 0; }
uint32_t phq_table_count(const phq_model *m) { return model_ok(m) ? m->table_count : 0; }

static void load_tensor(const phq_model *m, uint32_t k, phq_tensor *t)
{
    sect s;
    const u8 *d;
    unsigned i;
    uint64_t hdr;
    sect_at(m->buf, k, &s);
    d = m->buf + s.off;
    memset(t, 0, sizeof *t);
    t->dtype = d[0];
    t->ndim = d[1];
    t->name_len = rd16(d + 2);
    t->name = d + 8 + 8 * (size_t)t->ndim;
    for (i = 0; i < t->ndim; i++) t->shape[i] = rd64(d + 8 + 8 * i);
    hdr = 8 + 8 * (uint64_t)t->ndim + t->name_len;
    hdr = (hdr + 63) & ~(uint64_t)63;
    t->data = d + hdr;
    t->nbytes = s.size - hdr;
    t->section = k;
}

/* index of the i-th top-level section of a kind, or NONE32 */
static uint32_t nth_section(const phq_model *m, uint16_t kind, uint32_t i)
{
    uint32_t k, seen = 0;
    for (k = 0; k < m->section_count; k++) {
        sect s;
        sect_at(m->buf, k, &s);
        if (s.kind == kind && s.owner == NONE32 && seen++ == i) return k;
    }
    return NONE32;
}

/* index of the top-level section of a kind with this name, or NONE32 */
static uint32_t named_section(const phq_model *m, uint16_t kind, const void *name, size_t name_len)
{
    uint32_t k;
    for (k = 0; k < m->section_count; k++) {
        sect s;
        const u8 *nm;
        size_t nl;
        sect_at(m->buf, k, &s);
        if (s.kind != kind || s.owner != NONE32) continue;
        sect_name(m->buf, &s, &nm, &nl);
        if (nl == name_len && memcmp(nm, name, nl) == 0) return k;
    }
    return NONE32;
}

phq_code phq_tensor_at(const phq_model *m, uint32_t i, phq_tensor *t)
{
    uint32_t k;
    if (!model_ok(m) || !t || i >= m->tensor_count) return PHQ_E_USAGE;
    if ((k = nth_section(m, K_TENSOR, i)) == NONE32) return PHQ_E_USAGE;
    load_tensor(m, k, t);
    return PHQ_OK;
}

int phq_find_tensor(const phq_model *m, const void *name, size_t name_len, phq_tensor *t)
{
    uint32_t k;
    if (!model_ok(m) || !t || (!name && name_len)) return 0;
    if ((k = named_section(m, K_TENSOR, name, name_len)) == NONE32) return 0;
    load_tensor(m, k, t);
    return 1;
}

static void load_table(const phq_model *m, uint32_t ti, phq_table *t)
{
    const u8 *b = m->buf, *d;
    const u8 **slot[15];
    sect s;
    uint32_t k, np = 0;
    sect_at(b, ti, &s);
    d = b + s.off;
    memset(t, 0, sizeof *t);
    t->section = ti;
    t->num_keys = rd64(d);
    t->dim = rd32(d + 8);
    t->seed = rd32(d + 12);
    t->num_partitions = rd32(d + 16);
    t->gamma_milli = rd32(d + 20);
    t->nnz = rd64(d + 24);
    t->hash_scheme = d[32];
    t->quant = d[33];
    t->layout = d[34];
    t->fingerprint_bits = d[35];
    t->scale_granularity = d[36];
    t->index_width = d[37];
    t->column_width = d[38];
    t->scale_block_rows = rd32(d + 40);
    t->name_len = rd16(d + 44);
    t->name = d + 64;
    t->itemsize = quant_size(t->quant);
    t->code_bits = (uint8_t)quant_code_bits(t->quant);
    t->codebook_levels = quant_levels(t->quant);
    slot[0] = &t->partitions;
    slot[1] = &t->levels;
    slot[2] = &t->bitmap;
    slot[3] = &t->rank;
    slot[4] = &t->fallback;
    slot[5] = &t->fingerprints;
    slot[6] = &t->scales;
    slot[7] = &t->rows;
    slot[8] = &t->row_index;
    slot[9] = &t->columns;
    slot[10] = &t->codebook; /* K_CODEBOOK - K_PARTITIONS */
    slot[11] = &t->row_bases; /* 1.2 §2 */
    slot[12] = &t->row_deltas;
    slot[13] = &t->column_low;
    slot[14] = &t->column_high;
    if (t->layout == PHQ_LAYOUT_COMPACT) {
        t->delta_width = d[39];
        t->row_block_log2 = d[46];
        t->column_low_bits = d[47];
        t->column_high_zeros = (uint32_t)(((uint64_t)t->dim + (((uint64_t)1) << t->column_low_bits) - 1) >> t->column_low_bits);
    }
    for (k = ti + 1; k < m->section_count && np < 15; k++) {
        sect_at(b, k, &s);
        if (s.owner != ti) break;
        if (!kind_part(s.kind)) continue;
        *slot[s.kind - K_PARTITIONS] = b + s.off;
        if (s.kind == K_LEVELS) t->num_levels = s.size / 4;
        if (s.kind == K_BITMAP) t->bitmap_words = s.size / 8;
        if (s.kind == K_FALLBACK) t->num_fallback = s.size / 16;
        if (s.kind == K_SCALES) t->num_scales = s.size / 8;
        np++;
    }
}

phq_code phq_table_at(const phq_model *m, uint32_t i, phq_table *t)
{
    uint32_t k;
    if (!model_ok(m) || !t || i >= m->table_count) return PHQ_E_USAGE;
    if ((k = nth_section(m, K_TABLE, i)) == NONE32) return PHQ_E_USAGE;
    load_table(m, k, t);
    return PHQ_OK;
}

int phq_find_table(const phq_model *m, const void *name, size_t name_len, phq_table *t)
{
    uint32_t k;
    if (!model_ok(m) || !t || (!name && name_len)) return 0;
    if ((k = named_section(m, K_TABLE, name, name_len)) == NONE32) return 0;
    load_table(m, k, t);
    return 1;
}

/* ---- partitions, lookup (7) --------------------------------------------------------------- */

/* words of partition p's levels; lvl0 = first_level[p] */
static uint64_t part_words(const phq_table *t, uint64_t lvl0, uint32_t lc)
{
    uint64_t w = 0;
    uint32_t i;
    for (i = 0; i < lc; i++) w += rd32(t->levels + 4 * (size_t)(lvl0 + i));
    return w;
}

static void part_info(const phq_table *t, uint32_t p, phq_part_info *pi)
{
    uint32_t q;
    if (t->index_) {
        *pi = t->index_[p];
        return;
    }
    memset(pi, 0, sizeof *pi);
    for (q = 0; q < p; q++) {
        const u8 *r = t->partitions + 16 * (size_t)q;
        uint32_t lc = rd32(r + 8);
        pi->first_slot += rd32(r);
        pi->first_fallback += rd32(r + 4);
        pi->first_word += (part_words(t, pi->first_level, lc) + 31) & ~(uint64_t)31;
        pi->first_level += lc;
    }
}

phq_code phq_table_set_index(phq_table *t, phq_part_info *arr, size_t n)
{
    uint32_t p;
    phq_part_info acc;
    if (!t || !arr || n < t->num_partitions) return PHQ_E_USAGE;
    memset(&acc, 0, sizeof acc);
    for (p = 0; p < t->num_partitions; p++) {
        const u8 *r = t->partitions + 16 * (size_t)p;
        uint32_t lc = rd32(r + 8);
        arr[p] = acc;
        acc.first_slot += rd32(r);
        acc.first_fallback += rd32(r + 4);
        acc.first_word += (part_words(t, acc.first_level, lc) + 31) & ~(uint64_t)31;
        acc.first_level += lc;
    }
    t->index_ = arr;
    return PHQ_OK;
}

/* 7.2 up to the fingerprint check: the slot a digest leads to, PHQ_ABSENT, or PHQ_ERROR */
static int slot_of(const phq_table *t, uint64_t h1, uint64_t h2, uint64_t *slot, phq_error *err)
{
    uint32_t p = 0, kc, fc, lc, i;
    const u8 *rec;
    phq_part_info pi;
    uint64_t ones, base = 0, s;
    if (t->num_partitions > 1) p = (uint32_t)(((h2 >> 32) * t->num_partitions) >> 32);
    rec = t->partitions + 16 * (size_t)p;
    kc = rd32(rec);
    fc = rd32(rec + 4);
    lc = rd32(rec + 8);
    ones = (uint64_t)kc - fc;
    if (p == 0) memset(&pi, 0, sizeof pi);
    else part_info(t, p, &pi);
    for (i = 0; i < lc; i++) {
        uint64_t m = 64 * (uint64_t)rd32(t->levels + 4 * (size_t)(pi.first_level + i));
        uint64_t pos = ((phq_fmix64(h1 + (uint64_t)i * h2) >> 32) * m) >> 32;
        uint64_t bit = base + pos;
        const u8 *wp = t->bitmap + 8 * (size_t)(pi.first_word + bit / 64);
        uint64_t word = rd64(wp);
        if ((word >> (bit % 64)) & 1u) {
            /* rank (7.3) */
            uint64_t e = rd64(t->rank + 8 * (size_t)(pi.first_word / 32 + bit / 2048));
            uint64_t r = e & 0xFFFFFFFFu, w, wend = pi.first_word + bit / 64;
            unsigned sb = (unsigned)((bit / 512) % 4), j;
            for (j = 0; j < sb; j++) r += (e >> (32 + 10 * j)) & 0x3FFu;
            for (w = pi.first_word + 8 * (bit / 512); w < wend; w++) r += (uint64_t)popcount64(rd64(t->bitmap + 8 * (size_t)w));
            r += (uint64_t)popcount64(word & ((((uint64_t)1) << (bit % 64)) - 1));
            if (r >= ones) {
                fail(err, PHQ_E_RANK, t->section, PHQ_NO_OFFSET, "rank %llu >= ones %llu in partition %u",
                     (unsigned long long)r, (unsigned long long)ones, p);
                return PHQ_ERROR;
            }
            s = pi.first_slot + r;
            goto check_fp;
        }
        base += m;
    }
    { /* fallback list (7.4): binary search on (h1, h2) */
        uint64_t lo = 0, hi = fc;
        const u8 *fb = t->fallback + 16 * (size_t)pi.first_fallback;
        while (lo < hi) {
            uint64_t mid = lo + (hi - lo) / 2;
            uint64_t a1 = rd64(fb + 16 * (size_t)mid), a2 = rd64(fb + 16 * (size_t)mid + 8);
            if (a1 == h1 && a2 == h2) {
                s = pi.first_slot + ones + mid;
                goto check_fp;
            }
            if (a1 < h1 || (a1 == h1 && a2 < h2)) lo = mid + 1;
            else hi = mid;
        }
        return PHQ_ABSENT;
    }
check_fp:
    *slot = s;
    return PHQ_FOUND;
}

/* 7.5: 1 when the fingerprint stored for slot s is that of h2 (always with 0 bits) */
static inline int fp_match(const phq_table *t, uint64_t s, uint64_t h2)
{
    switch (t->fingerprint_bits) {
    case 8: return t->fingerprints[s] == (u8)h2;
    case 16: return rd16(t->fingerprints + 2 * (size_t)s) == (uint16_t)h2;
    case 32: return rd32(t->fingerprints + 4 * (size_t)s) == (uint32_t)h2;
    default: return 1;
    }
}

int phq_lookup_hash(const phq_table *t, uint64_t h1, uint64_t h2, uint64_t *slot, phq_error *err)
{
    uint64_t s;
    int rc = slot_of(t, h1, h2, &s, err);
    if (rc != PHQ_FOUND) return rc;
    if (!fp_match(t, s, h2)) return PHQ_ABSENT;
    *slot = s;
    return PHQ_FOUND;
}

int phq_lookup(const phq_table *t, const void *key, size_t key_len, uint64_t *slot, phq_error *err)
{
    uint64_t h[2];
    phq_murmur3_x64_128(key, key_len, t->seed, h);
    return phq_lookup_hash(t, h[0], h[1], slot, err);
}

/* ---- rows (8, 9) ----------------------------------------------------------------------------- */

static void scale_of(const phq_table *t, uint64_t slot, uint32_t col, float *scale, int32_t *zp)
{
    uint64_t g = t->scale_granularity == 1 ? 0 : t->scale_granularity == 2 ? col : slot / t->scale_block_rows;
    const u8 *r = t->scales + 8 * (size_t)g;
    *scale = bits_f32(rd32(r));
    *zp = (int32_t)rd32(r + 4);
}

/* the stored values [lo, hi) of a sparse row, checked as in 10.3 */
/* 1.2 §4.2: row_index(s) = ROW_BASES[s >> row_block_log2] + ROW_DELTAS[s], exactly: a base
 * above nnz gives UINT64_MAX (nnz < 2^63 in a file that passed open: ROWS holds it) */
static uint64_t compact_row_index(const phq_table *t, uint64_t s)
{
    uint64_t j = s >> t->row_block_log2, base;
    base = t->index_width == 4 ? rd32(t->row_bases + 4 * (size_t)j) : rd64(t->row_bases + 8 * (size_t)j);
    if (base > t->nnz) return UINT64_MAX;
    switch (t->delta_width) {
    case 1: return base + t->row_deltas[(size_t)s];
    case 2: return base + rd16(t->row_deltas + 2 * (size_t)s);
    default: return base + rd32(t->row_deltas + 4 * (size_t)s);
    }
}

static phq_code sparse_range(const phq_table *t, uint64_t slot, uint64_t *lo, uint64_t *hi, phq_error *err)
{
    if (t->layout == PHQ_LAYOUT_COMPACT) {
        *lo = compact_row_index(t, slot);
        *hi = compact_row_index(t, slot + 1);
    } else if (t->index_width == 4) {
        *lo = rd32(t->row_index + 4 * (size_t)slot);
        *hi = rd32(t->row_index + 4 * (size_t)slot + 4);
    } else {
        *lo = rd64(t->row_index + 8 * (size_t)slot);
        *hi = rd64(t->row_index + 8 * (size_t)slot + 8);
    }
    if (*lo > *hi || *hi > t->nnz)
        return fail(err, PHQ_E_SPARSE, t->section, PHQ_NO_OFFSET, "slot %llu: row [%llu, %llu) not within [0, nnz %llu]",
                    (unsigned long long)slot, (unsigned long long)*lo, (unsigned long long)*hi,
                    (unsigned long long)t->nnz);
    return PHQ_OK;
}

/* Reading a row's columns in order: column_at(k) for the 1.0 sparse layout; for the compact
 * layout (1.2 §4.4) a cursor over the row's COLUMN_HIGH region, which holds one 1 bit per
 * value and H zero bits: the j-th 1 bit, after z zero bits, gives the high part z, and
 * COLUMN_LOW's bits [k l, (k + 1) l) the low part of value k. Cost: the region's k + H bits
 * (zero bytes skipped 8 bits at a time) plus k reads of at most 4 bytes. */
typedef struct {
    uint64_t bit, end; /* the next bit of the region not yet in buf, and the region's end */
    uint64_t zeros;    /* zero bits passed: the high part of the next value */
    uint64_t buf;      /* the region's next nbuf bits (bit 0 first), read ahead */
    unsigned nbuf;
} colcur;

/* count of trailing zero bits of x != 0 */
static unsigned ctz64(uint64_t x)
{
#if defined(__GNUC__) || defined(__clang__)
    return (unsigned)__builtin_ctzll(x);
#else
    unsigned n = 0;
    while (!(x & 1)) { x >>= 1; n++; }
    return n;
#endif
}

/* read ahead the region's next bits (up to 57): bytes of COLUMN_HIGH up to the region's last */
static void col_refill(const phq_table *t, colcur *c)
{
    uint64_t b0 = c->bit >> 3, last = (c->end - 1) >> 3, w = 0, left = c->end - c->bit;
    unsigned sh = (unsigned)(c->bit & 7), nb = last - b0 + 1 < 8 ? (unsigned)(last - b0 + 1) : 8, i, n;
    for (i = 0; i < nb; i++) w |= (uint64_t)t->column_high[(size_t)(b0 + i)] << (8 * i);
    n = nb * 8 - sh;
    if (n > left) n = (unsigned)left;
    w >>= sh;
    if (n < 64) w &= (((uint64_t)1) << n) - 1;
    c->buf = w;
    c->nbuf = n;
    c->bit += n;
}

static void col_begin(const phq_table *t, uint64_t slot, uint64_t lo, uint64_t hi, colcur *c)
{
    if (t->layout != PHQ_LAYOUT_COMPACT) return;
    c->bit = lo + slot * t->column_high_zeros; /* <= nnz + n H: within COLUMN_HIGH (sizes checked at open) */
    c->end = hi + (slot + 1) * t->column_high_zeros;
    c->zeros = 0;
    c->buf = 0;
    c->nbuf = 0;
}

/* the column of value k (the next of the row), or UINT32_MAX when the region has no 1 bit
 * left (a corrupt region: fewer 1 bits than values); a column >= dim is the caller's check */
static uint32_t col_next(const phq_table *t, colcur *c, uint64_t k);

/* 1 when the rest of the region holds no 1 bit (so that it held exactly one per value) */
static int col_done(const phq_table *t, const colcur *c)
{
    uint64_t bit = c->bit;
    if (t->layout != PHQ_LAYOUT_COMPACT) return 1;
    if (c->buf) return 0;
    while (bit < c->end) {
        if ((bit & 7) == 0 && c->end - bit >= 8) {
            if (t->column_high[(size_t)(bit >> 3)]) return 0;
            bit += 8;
        } else {
            if ((t->column_high[(size_t)(bit >> 3)] >> (bit & 7)) & 1) return 0;
            bit++;
        }
    }
    return 1;
}

static uint32_t column_at(const phq_table *t, uint64_t k)
{
    switch (t->column_width) {
    case 1: return t->columns[k];
    case 2: return rd16(t->columns + 2 * (size_t)k);
    default: return rd32(t->columns + 4 * (size_t)k);
    }
}

static uint32_t col_next(const phq_table *t, colcur *c, uint64_t k)
{
    uint64_t low = 0, col;
    unsigned tz;
    if (t->layout != PHQ_LAYOUT_COMPACT) return column_at(t, k);
    for (;;) {
        if (c->nbuf == 0) {
            if (c->bit >= c->end) return UINT32_MAX;
            col_refill(t, c);
        }
        if (c->buf == 0) {
            c->zeros += c->nbuf;
            c->nbuf = 0;
            continue;
        }
        tz = ctz64(c->buf);
        c->zeros += tz;
        c->buf = (c->buf >> tz) >> 1;
        c->nbuf -= tz + 1;
        break;
    }
    if (t->column_low_bits) {
        uint64_t pos = k * t->column_low_bits; /* < nnz x 24: the value's bits are within COLUMN_LOW */
        unsigned sh = (unsigned)(pos & 7), need = (sh + t->column_low_bits + 7) / 8, i;
        for (i = 0; i < need; i++) low |= (uint64_t)t->column_low[(size_t)(pos >> 3) + i] << (8 * i);
        low = (low >> sh) & ((((uint64_t)1) << t->column_low_bits) - 1);
    }
    col = (c->zeros << t->column_low_bits) | low; /* zeros <= H <= 2^24: no overflow */
    return col > 0xFFFFFFFEu ? 0xFFFFFFFEu : (uint32_t)col;
}

/* 1.1 §5: level q of the codebook group of column col (q < K: a 4-bit code indexes 16
 * levels, an 8-bit one 256) */
static float level_of(const phq_table *t, uint32_t col, unsigned q)
{
    size_t g = t->scale_granularity == PHQ_SCALE_COLUMN ? col : 0;
    return bits_f32(rd32(t->codebook + 4 * (g * t->codebook_levels + q)));
}

/* stored code i of ROWS (code schemes: linear8/4, codebook4/8) */
static unsigned code_at(const phq_table *t, uint64_t i)
{
    return t->code_bits == 4 ? phq_nibble(t->rows, i) : t->rows[(size_t)i];
}

phq_code phq_row_raw(const phq_table *t, uint64_t slot, void *out, phq_error *err)
{
    u8 *o = (u8 *)out;
    size_t is = t->itemsize, dim = t->dim;
    clear_err(err);
    if (slot >= t->num_keys)
        return fail(err, PHQ_E_USAGE, t->section, PHQ_NO_OFFSET, "slot %llu >= num_keys", (unsigned long long)slot);
    if (dim == 0 && t->layout == PHQ_LAYOUT_DENSE) return PHQ_OK; /* sparse: span and columns checked (10.3) */
    if (t->layout == 0) {
        if (t->code_bits == 4) phq_unpack_nibbles(t->rows, slot * dim, dim, o); /* 1.1 §5: one code a byte */
        else memcpy(o, t->rows + (size_t)slot * dim * is, dim * is);
        return PHQ_OK;
    } else {
        uint64_t lo, hi, k;
        colcur cc;
        phq_code rc = sparse_range(t, slot, &lo, &hi, err);
        size_t c;
        if (rc) return rc;
        col_begin(t, slot, lo, hi, &cc);
        if (quant_linear(t->quant)) { /* zero code: the group's zero point (9.2) */
            float sc;
            int32_t zp;
            if (t->scale_granularity == PHQ_SCALE_COLUMN) {
                for (c = 0; c < dim; c++) {
                    scale_of(t, slot, (uint32_t)c, &sc, &zp);
                    o[c] = (u8)zp;
                }
            } else {
                scale_of(t, slot, 0, &sc, &zp);
                memset(o, (int)zp, dim);
            }
        } else { /* f32/f16 0.0, codebook code 0 (1.1 §5) */
            memset(o, 0, dim * is);
        }
        for (k = lo; k < hi; k++) {
            uint32_t col = col_next(t, &cc, k);
            if (col >= t->dim)
                return fail(err, PHQ_E_SPARSE, t->section, PHQ_NO_OFFSET, "slot %llu: column %u >= dim %u",
                            (unsigned long long)slot, col, t->dim);
            if (t->code_bits == 4) o[col] = phq_nibble(t->rows, k);
            else memcpy(o + (size_t)col * is, t->rows + (size_t)k * is, is);
        }
        if (!col_done(t, &cc))
            return fail(err, PHQ_E_SPARSE, t->section, PHQ_NO_OFFSET, "slot %llu: the row's COLUMN_HIGH region holds more 1 bits than values",
                        (unsigned long long)slot);
        return PHQ_OK;
    }
}

phq_code phq_row_f32(const phq_table *t, uint64_t slot, float *out, phq_error *err)
{
    size_t is = t->itemsize, dim = t->dim, c;
    float sc = 1.0f;
    int32_t zp = 0;
    clear_err(err);
    if (slot >= t->num_keys)
        return fail(err, PHQ_E_USAGE, t->section, PHQ_NO_OFFSET, "slot %llu >= num_keys", (unsigned long long)slot);
    if (dim == 0 && t->layout == PHQ_LAYOUT_DENSE) return PHQ_OK; /* sparse: span and columns checked (10.3) */
    if (quant_linear(t->quant) && t->scale_granularity != PHQ_SCALE_COLUMN) scale_of(t, slot, 0, &sc, &zp);
    if (t->layout == 0) {
        uint64_t base = slot * dim; /* index of the row's first value */
        const u8 *r = t->rows + (t->code_bits == 4 ? 0 : (size_t)base * is); /* not used for 4-bit codes */
        switch (t->quant) {
        case PHQ_QUANT_F32:
            for (c = 0; c < dim; c++) out[c] = bits_f32(rd32(r + 4 * c));
            break;
        case PHQ_QUANT_F16:
            for (c = 0; c < dim; c++) out[c] = phq_f16_to_f32(rd16(r + 2 * c));
            break;
        case PHQ_QUANT_LINEAR8:
            if (t->scale_granularity == PHQ_SCALE_COLUMN) {
                for (c = 0; c < dim; c++) {
                    scale_of(t, slot, (uint32_t)c, &sc, &zp);
                    out[c] = phq_linear8(r[c], sc, zp);
                }
            } else {
                for (c = 0; c < dim; c++) out[c] = phq_linear8(r[c], sc, zp);
            }
            break;
        case PHQ_QUANT_LINEAR4: /* 1.1 §5: as linear8, one binary32 rounding */
            for (c = 0; c < dim; c++) {
                if (t->scale_granularity == PHQ_SCALE_COLUMN) scale_of(t, slot, (uint32_t)c, &sc, &zp);
                out[c] = phq_linear8((uint8_t)phq_nibble(t->rows, base + c), sc, zp);
            }
            break;
        default: /* codebook4 / codebook8: levels[g][q] */
            for (c = 0; c < dim; c++) out[c] = level_of(t, (uint32_t)c, code_at(t, base + c));
            break;
        }
        return PHQ_OK;
    } else {
        uint64_t lo, hi, k;
        colcur cc;
        phq_code rc = sparse_range(t, slot, &lo, &hi, err);
        if (rc) return rc;
        col_begin(t, slot, lo, hi, &cc);
        /* the zero code reads back as +0.0 (8.1, 9.2); for a codebook it is level 0 of the
         * group, +0.0 in a valid file (1.1 §4.2), decoded like any code (the raw row's value) */
        if (t->codebook_levels)
            for (c = 0; c < dim; c++) out[c] = level_of(t, (uint32_t)c, 0);
        else
            for (c = 0; c < dim; c++) out[c] = 0.0f;
        for (k = lo; k < hi; k++) {
            uint32_t col = col_next(t, &cc, k);
            const u8 *v = t->rows + (t->code_bits == 4 ? 0 : (size_t)k * is); /* not used for 4-bit codes */
            if (col >= t->dim)
                return fail(err, PHQ_E_SPARSE, t->section, PHQ_NO_OFFSET, "slot %llu: column %u >= dim %u",
                            (unsigned long long)slot, col, t->dim);
            switch (t->quant) {
            case PHQ_QUANT_F32: out[col] = bits_f32(rd32(v)); break;
            case PHQ_QUANT_F16: out[col] = phq_f16_to_f32(rd16(v)); break;
            case PHQ_QUANT_LINEAR8:
            case PHQ_QUANT_LINEAR4:
                if (t->scale_granularity == PHQ_SCALE_COLUMN) scale_of(t, slot, col, &sc, &zp);
                out[col] = phq_linear8((uint8_t)code_at(t, k), sc, zp);
                break;
            default: out[col] = level_of(t, col, code_at(t, k)); break;
            }
        }
        if (!col_done(t, &cc))
            return fail(err, PHQ_E_SPARSE, t->section, PHQ_NO_OFFSET, "slot %llu: the row's COLUMN_HIGH region holds more 1 bits than values",
                        (unsigned long long)slot);
        return PHQ_OK;
    }
}

phq_code phq_row_accumulate(const phq_table *t, uint64_t slot, double u, double *acc, phq_error *err)
{
    size_t is = t->itemsize, dim = t->dim, c;
    float sc = 1.0f;
    int32_t zp = 0;
    clear_err(err);
    if (slot >= t->num_keys)
        return fail(err, PHQ_E_USAGE, t->section, PHQ_NO_OFFSET, "slot %llu >= num_keys", (unsigned long long)slot);
    if (dim == 0 && t->layout == PHQ_LAYOUT_DENSE) return PHQ_OK; /* sparse: span and columns checked (10.3) */
    if (quant_linear(t->quant) && t->scale_granularity != PHQ_SCALE_COLUMN) scale_of(t, slot, 0, &sc, &zp);
    if (t->layout == 0) {
        uint64_t base = slot * dim;
        const u8 *r = t->rows + (t->code_bits == 4 ? 0 : (size_t)base * is);
        switch (t->quant) {
        case PHQ_QUANT_F32:
            for (c = 0; c < dim; c++) acc[c] = acc[c] + u * (double)bits_f32(rd32(r + 4 * c));
            break;
        case PHQ_QUANT_F16:
            for (c = 0; c < dim; c++) acc[c] = acc[c] + u * (double)phq_f16_to_f32(rd16(r + 2 * c));
            break;
        case PHQ_QUANT_LINEAR8:
            if (t->scale_granularity == PHQ_SCALE_COLUMN) {
                const u8 *g = t->scales; /* one (scale, zero point) record per column, in order */
                for (c = 0; c < dim; c++, g += 8) {
                    float d = (float)((int32_t)r[c] - (int32_t)rd32(g + 4));
                    acc[c] = acc[c] + u * (double)(float)(d * bits_f32(rd32(g)));
                }
            } else {
                for (c = 0; c < dim; c++) acc[c] = acc[c] + u * (double)phq_linear8(r[c], sc, zp);
            }
            break;
        case PHQ_QUANT_LINEAR4:
            for (c = 0; c < dim; c++) {
                if (t->scale_granularity == PHQ_SCALE_COLUMN) scale_of(t, slot, (uint32_t)c, &sc, &zp);
                acc[c] = acc[c] + u * (double)phq_linear8((uint8_t)phq_nibble(t->rows, base + c), sc, zp);
            }
            break;
        default:
            for (c = 0; c < dim; c++) acc[c] = acc[c] + u * (double)level_of(t, (uint32_t)c, code_at(t, base + c));
            break;
        }
        return PHQ_OK;
    } else {
        uint64_t lo, hi, k;
        colcur cc;
        phq_code rc = sparse_range(t, slot, &lo, &hi, err);
        if (rc) return rc;
        col_begin(t, slot, lo, hi, &cc);
        /* an omitted value is +0.0 (8.1, 9.2; a codebook's level 0 is +0.0 in a valid file):
         * adding u * +0.0 leaves every non-zero sum as it is, so only stored values are added */
        if (t->quant == PHQ_QUANT_LINEAR8 && t->scale_granularity == PHQ_SCALE_COLUMN && t->column_width == 1) {
            /* the common NLU layout (linear8, one scale per output column, 1-byte columns) */
            for (k = lo; k < hi; k++) {
                uint32_t col = t->columns[k];
                const u8 *g = t->scales + 8 * (size_t)col;
                float d;
                if (col >= t->dim)
                    return fail(err, PHQ_E_SPARSE, t->section, PHQ_NO_OFFSET, "slot %llu: column %u >= dim %u",
                                (unsigned long long)slot, col, t->dim);
                d = (float)((int32_t)t->rows[k] - (int32_t)rd32(g + 4));
                acc[col] = acc[col] + u * (double)(float)(d * bits_f32(rd32(g)));
            }
            return PHQ_OK;
        }
        if (t->quant == PHQ_QUANT_LINEAR8 && t->scale_granularity == PHQ_SCALE_COLUMN) {
            /* the same NLU layout with the compact index (1.2): columns from the row's cursor */
            for (k = lo; k < hi; k++) {
                uint32_t col = col_next(t, &cc, k);
                const u8 *g;
                float d;
                if (col >= t->dim)
                    return fail(err, PHQ_E_SPARSE, t->section, PHQ_NO_OFFSET, "slot %llu: column %u >= dim %u",
                                (unsigned long long)slot, col, t->dim);
                g = t->scales + 8 * (size_t)col;
                d = (float)((int32_t)t->rows[k] - (int32_t)rd32(g + 4));
                acc[col] = acc[col] + u * (double)(float)(d * bits_f32(rd32(g)));
            }
            if (!col_done(t, &cc))
                return fail(err, PHQ_E_SPARSE, t->section, PHQ_NO_OFFSET, "slot %llu: the row's COLUMN_HIGH region holds more 1 bits than values",
                            (unsigned long long)slot);
            return PHQ_OK;
        }
        for (k = lo; k < hi; k++) {
            uint32_t col = col_next(t, &cc, k);
            const u8 *v = t->rows + (t->code_bits == 4 ? 0 : (size_t)k * is);
            float x;
            if (col >= t->dim)
                return fail(err, PHQ_E_SPARSE, t->section, PHQ_NO_OFFSET, "slot %llu: column %u >= dim %u",
                            (unsigned long long)slot, col, t->dim);
            switch (t->quant) {
            case PHQ_QUANT_F32: x = bits_f32(rd32(v)); break;
            case PHQ_QUANT_F16: x = phq_f16_to_f32(rd16(v)); break;
            case PHQ_QUANT_LINEAR8:
            case PHQ_QUANT_LINEAR4:
                if (t->scale_granularity == PHQ_SCALE_COLUMN) scale_of(t, slot, col, &sc, &zp);
                x = phq_linear8((uint8_t)code_at(t, k), sc, zp);
                break;
            default: x = level_of(t, col, code_at(t, k)); break;
            }
            acc[col] = acc[col] + u * (double)x;
        }
        if (!col_done(t, &cc))
            return fail(err, PHQ_E_SPARSE, t->section, PHQ_NO_OFFSET, "slot %llu: the row's COLUMN_HIGH region holds more 1 bits than values",
                        (unsigned long long)slot);
        return PHQ_OK;
    }
}

int phq_get_f32(const phq_table *t, const void *key, size_t key_len, float *out, phq_error *err)
{
    uint64_t slot;
    int rc = phq_lookup(t, key, key_len, &slot, err);
    if (rc != PHQ_FOUND) return rc;
    return phq_row_f32(t, slot, out, err) == PHQ_OK ? PHQ_FOUND : PHQ_ERROR;
}

/* ---- batched lookups ---------------------------------------------------------------------
 * The same answers as phq_lookup / phq_lookup_hash / phq_row_f32 / phq_row_raw key by key,
 * computed in groups of PHQ_GROUP keys whose memory accesses overlap. Each stage of a group
 * issues a prefetch of the next access of every key of the group before any key of the
 * group needs it:
 *   1. digests (or the caller's), partition, level-0 position: prefetch the level-0 bitmap word;
 *   2. level by level, for the keys still unresolved: test the bit; on a hit prefetch the
 *      rank entry, on a miss go to the next level and prefetch its word; keys that miss every
 *      level go to the fallback list (7.4, a binary search: rare, not prefetched);
 *   3. ranks (7.3) -> slots: prefetch the fingerprints (7.5);
 *   4. fingerprint checks: prefetch the rows (every cache line of a dense row; the row index
 *      entry of a sparse one);
 *   5. rows: dense linear8 rows are dequantized here with the group's scale records read once
 *      per block of columns (vectorizable loops, bit-exact: the same binary32 operations as
 *      phq_linear8); every other layout and scheme goes through phq_row_f32 / phq_row_raw.
 * Prefetching is a hint (GCC/Clang builtin, nothing elsewhere): results never depend on it. */

#if defined(__GNUC__) || defined(__clang__)
#define PHQ_PREFETCH(p) __builtin_prefetch((const void *)(p))
#else
#define PHQ_PREFETCH(p) ((void)(p))
#endif
#ifndef PHQ_GROUP
#define PHQ_GROUP 64 /* keys in flight, 1..256 (group indexes are bytes) */
#endif
#define PHQ_COLS 64 /* columns of scale records staged at a time (column scales) */

#if PHQ_GROUP < 1 || PHQ_GROUP > 256
#error "PHQ_GROUP must be within 1..256"
#endif

enum { OUT_SLOTS, OUT_F32, OUT_RAW };

typedef struct {
    uint64_t h1, h2;
    uint64_t fl, fw, fs, ff; /* the partition's first level, word, slot, fallback (5.5.1) */
    uint64_t base, m, bit;   /* bits of the levels before this one, bits of this level, bit */
    uint64_t ones, slot;
    uint32_t lvl, lc, fc, p;
} bkey;

typedef struct {
    const phq_table *t;
    phq_error *err;
    size_t err_at; /* index of the key whose error *err holds, (size_t)-1 if none */
} bctx;

/* keep the error of the lowest-indexed key */
static void batch_fail(bctx *c, size_t i, const phq_error *e)
{
    if (i < c->err_at) {
        c->err_at = i;
        if (c->err) *c->err = *e;
    }
}

/* the address of the bitmap word holding a key's current bit */
static inline const u8 *bword(const phq_table *t, const bkey *k) { return t->bitmap + 8 * (size_t)(k->fw + k->bit / 64); }

/* position of level k->lvl (7.2) */
static inline void blevel(const phq_table *t, bkey *k)
{
    k->m = 64 * (uint64_t)rd32(t->levels + 4 * (size_t)(k->fl + k->lvl));
    k->bit = k->base + (((phq_fmix64(k->h1 + (uint64_t)k->lvl * k->h2) >> 32) * k->m) >> 32);
}

/* one group of keys [i0, i0 + cnt) */
typedef struct {
    bkey k[PHQ_GROUP];
    unsigned char act[PHQ_GROUP], fb[PHQ_GROUP]; /* keys at a level / bound for the fallback list */
    size_t i0, cnt, na, nf;
} bgroup;

/* 1. digests, partitions, level-0 positions, prefetch of the level-0 words */
static void batch_begin(bctx *c, bgroup *gr, size_t i0, size_t cnt, const void *const *keys, const size_t *lens,
                        const uint64_t *hashes)
{
    const phq_table *t = c->t;
    bkey *st = gr->k;
    unsigned char *act = gr->act, *fb = gr->fb;
    size_t j, na = 0, nf = 0;
    gr->i0 = i0;
    gr->cnt = cnt;
    for (j = 0; j < cnt; j++) { /* 1. digests, partitions, level 0 */
        bkey *k = &st[j];
        const u8 *rec;
        uint32_t kc;
        if (hashes) {
            k->h1 = hashes[2 * (i0 + j)];
            k->h2 = hashes[2 * (i0 + j) + 1];
        } else {
            uint64_t h[2];
            phq_murmur3_x64_128(keys[i0 + j], lens[i0 + j], t->seed, h);
            k->h1 = h[0];
            k->h2 = h[1];
        }
        k->p = t->num_partitions > 1 ? (uint32_t)(((k->h2 >> 32) * t->num_partitions) >> 32) : 0;
        rec = t->partitions + 16 * (size_t)k->p;
        kc = rd32(rec);
        k->fc = rd32(rec + 4);
        k->lc = rd32(rec + 8);
        k->ones = (uint64_t)kc - k->fc;
        if (k->p == 0) {
            k->fl = k->fw = k->fs = k->ff = 0;
        } else {
            phq_part_info pi;
            part_info(t, k->p, &pi);
            k->fl = pi.first_level;
            k->fw = pi.first_word;
            k->fs = pi.first_slot;
            k->ff = pi.first_fallback;
        }
        k->lvl = 0;
        k->base = 0;
        if (k->lc) {
            blevel(t, k);
            PHQ_PREFETCH(bword(t, k));
            act[na++] = (unsigned char)j;
        } else {
            fb[nf++] = (unsigned char)j;
        }
    }
    gr->na = na;
    gr->nf = nf;
}

/* 2-4. levels, ranks, fingerprints: status[i] PHQ_FOUND (fingerprint checked) / ABSENT /
 * ERROR, gr->k[j].slot */
static void batch_finish(bctx *c, bgroup *gr, signed char *status)
{
    const phq_table *t = c->t;
    bkey *st = gr->k;
    unsigned char *act = gr->act, *fb = gr->fb, hit[PHQ_GROUP];
    signed char sg[PHQ_GROUP]; /* statuses: a local array, whose stores cannot alias *t */
    size_t j, a, na = gr->na, nh = 0, nf = gr->nf, i0 = gr->i0, cnt = gr->cnt;
    for (j = 0; j < cnt; j++) sg[j] = PHQ_ABSENT;
    while (na) { /* 2. levels: one round per level, unresolved keys only */
        size_t nn = 0;
        for (a = 0; a < na; a++) {
            bkey *k = &st[act[a]];
            if ((rd64(bword(t, k)) >> (k->bit % 64)) & 1u) {
                PHQ_PREFETCH(t->rank + 8 * (size_t)(k->fw / 32 + k->bit / 2048));
                hit[nh++] = act[a];
                continue;
            }
            k->base += k->m;
            if (++k->lvl == k->lc) {
                fb[nf++] = act[a];
                continue;
            }
            blevel(t, k);
            PHQ_PREFETCH(bword(t, k));
            act[nn++] = act[a];
        }
        na = nn;
    }
    for (a = 0; a < nh; a++) { /* 3. ranks (7.3) */
        size_t jj = hit[a];
        bkey *k = &st[jj];
        /* 7.3 without data-dependent branches: the sub-block counts before this one, then
         * the bits before `bit` in its 512-bit block, every word of the block masked (the
         * block is inside MPH_BITMAP: partitions are padded to 32 words, checked at open) */
        uint64_t bit = k->bit, e = rd64(t->rank + 8 * (size_t)(k->fw / 32 + bit / 2048));
        uint64_t r = e & 0xFFFFFFFFu, low = (((uint64_t)1) << (bit % 64)) - 1;
        const u8 *blk = t->bitmap + 8 * (size_t)(k->fw + 8 * (bit / 512));
        unsigned sb = (unsigned)((bit / 512) % 4), wi = (unsigned)((bit / 64) % 8), q;
        r += ((e >> 32) & 0x3FFu) & -(uint64_t)(sb > 0);
        r += ((e >> 42) & 0x3FFu) & -(uint64_t)(sb > 1);
        r += ((e >> 52) & 0x3FFu) & -(uint64_t)(sb > 2);
        for (q = 0; q < 8; q++)
            r += (uint64_t)popcount64(rd64(blk + 8 * q) & (-(uint64_t)(q < wi) | (low & -(uint64_t)(q == wi))));
        if (r >= k->ones) {
            phq_error e2;
            fail(&e2, PHQ_E_RANK, t->section, PHQ_NO_OFFSET, "rank %llu >= ones %llu in partition %u",
                 (unsigned long long)r, (unsigned long long)k->ones, k->p);
            batch_fail(c, i0 + jj, &e2);
            sg[jj] = PHQ_ERROR;
            continue;
        }
        k->slot = k->fs + r;
        sg[jj] = PHQ_FOUND;
        if (t->fingerprint_bits) PHQ_PREFETCH(t->fingerprints + (size_t)k->slot * (t->fingerprint_bits / 8));
    }
    for (a = 0; a < nf; a++) { /* fallback list (7.4): binary search on (h1, h2) */
        size_t jj = fb[a];
        bkey *k = &st[jj];
        uint64_t lo = 0, hi = k->fc;
        const u8 *f = t->fallback + 16 * (size_t)k->ff;
        while (lo < hi) {
            uint64_t mid = lo + (hi - lo) / 2;
            uint64_t a1 = rd64(f + 16 * (size_t)mid), a2 = rd64(f + 16 * (size_t)mid + 8);
            if (a1 == k->h1 && a2 == k->h2) {
                k->slot = k->fs + k->ones + mid;
                sg[jj] = PHQ_FOUND;
                break;
            }
            if (a1 < k->h1 || (a1 == k->h1 && a2 < k->h2)) lo = mid + 1;
            else hi = mid;
        }
    }
    for (j = 0; j < cnt; j++) /* 4. fingerprints (7.5) */
        if (sg[j] == PHQ_FOUND && !fp_match(t, st[j].slot, st[j].h2)) sg[j] = PHQ_ABSENT;
    memcpy(status + i0, sg, cnt);
}

/* Prefetch what reading the row of slot s needs first: the lines of a dense row (its first
 * 1 KiB; the rest streams), the row index entry of a sparse one. A macro, not a function:
 * GCC finds a function of prefetches alone free of side effects and deletes its calls. */
#define PHQ_PF_LINE(p, bytes, k) \
    if ((bytes) > 64 * (k)) PHQ_PREFETCH((p) + 64 * (k))
#define PHQ_PREFETCH_ROW(t, s)                                                                  \
    do {                                                                                        \
        if ((t)->layout == PHQ_LAYOUT_DENSE) {                                                  \
            size_t pf_bytes = (size_t)(t)->dim * (t)->code_bits / 8;                            \
            const u8 *pf_p = (t)->rows + (size_t)((s) * (t)->dim * (t)->code_bits / 8);         \
            if (pf_bytes) PHQ_PREFETCH(pf_p + pf_bytes - 1);                                    \
            PHQ_PF_LINE(pf_p, pf_bytes, 0); PHQ_PF_LINE(pf_p, pf_bytes, 1);                     \
            PHQ_PF_LINE(pf_p, pf_bytes, 2); PHQ_PF_LINE(pf_p, pf_bytes, 3);                     \
            PHQ_PF_LINE(pf_p, pf_bytes, 4); PHQ_PF_LINE(pf_p, pf_bytes, 5);                     \
            PHQ_PF_LINE(pf_p, pf_bytes, 6); PHQ_PF_LINE(pf_p, pf_bytes, 7);                     \
            PHQ_PF_LINE(pf_p, pf_bytes, 8); PHQ_PF_LINE(pf_p, pf_bytes, 9);                     \
            PHQ_PF_LINE(pf_p, pf_bytes, 10); PHQ_PF_LINE(pf_p, pf_bytes, 11);                   \
            PHQ_PF_LINE(pf_p, pf_bytes, 12); PHQ_PF_LINE(pf_p, pf_bytes, 13);                   \
            PHQ_PF_LINE(pf_p, pf_bytes, 14); PHQ_PF_LINE(pf_p, pf_bytes, 15);                   \
        } else if ((t)->layout == PHQ_LAYOUT_COMPACT) {                                         \
            PHQ_PREFETCH((t)->row_deltas + (size_t)(s) * (t)->delta_width);                     \
            PHQ_PREFETCH((t)->row_bases + (size_t)((s) >> (t)->row_block_log2) * (t)->index_width); \
        } else {                                                                                \
            PHQ_PREFETCH((t)->row_index + (size_t)(s) * (t)->index_width);                      \
        }                                                                                       \
    } while (0)

/* 8 linear8 values (spec 8.1, as phq_linear8): the codes are read before any value is
 * written (out may alias anything as far as the compiler knows), straight-line code that
 * compilers turn into vector instructions at -O2 */
static inline void deq8(float *o, const u8 *q, const int32_t *zp, const float *sc)
{
    int32_t a0 = (int32_t)q[0] - zp[0], a1 = (int32_t)q[1] - zp[1], a2 = (int32_t)q[2] - zp[2], a3 = (int32_t)q[3] - zp[3];
    int32_t a4 = (int32_t)q[4] - zp[4], a5 = (int32_t)q[5] - zp[5], a6 = (int32_t)q[6] - zp[6], a7 = (int32_t)q[7] - zp[7];
    float f0 = (float)((float)a0 * sc[0]), f1 = (float)((float)a1 * sc[1]), f2 = (float)((float)a2 * sc[2]);
    float f3 = (float)((float)a3 * sc[3]), f4 = (float)((float)a4 * sc[4]), f5 = (float)((float)a5 * sc[5]);
    float f6 = (float)((float)a6 * sc[6]), f7 = (float)((float)a7 * sc[7]);
    o[0] = f0;
    o[1] = f1;
    o[2] = f2;
    o[3] = f3;
    o[4] = f4;
    o[5] = f5;
    o[6] = f6;
    o[7] = f7;
}

/* 5. rows of the found keys of a group: dense linear8 here, anything else per row */
static void bgroup_rows(bctx *c, const bkey *st, size_t i0, size_t cnt, void *out, int what, signed char *status)
{
    const phq_table *t = c->t;
    size_t dim = t->dim, j, c0, cc;
    phq_error e2;
    if (dim == 0 && t->layout == PHQ_LAYOUT_DENSE) return; /* sparse rows: span and columns checked (10.3) */
    if (what == OUT_RAW) {
        size_t rb = dim * t->itemsize;
        for (j = 0; j < cnt; j++) {
            u8 *o = (u8 *)out + (i0 + j) * rb;
            if (status[i0 + j] != PHQ_FOUND) continue;
            if (t->layout == PHQ_LAYOUT_DENSE && t->code_bits != 4 && st[j].slot < t->num_keys) {
                memcpy(o, t->rows + (size_t)st[j].slot * rb, rb);
            } else if (phq_row_raw(t, st[j].slot, o, &e2) != PHQ_OK) {
                status[i0 + j] = PHQ_ERROR;
                batch_fail(c, i0 + j, &e2);
            }
        }
        return;
    }
    if (t->layout != PHQ_LAYOUT_DENSE || t->quant != PHQ_QUANT_LINEAR8) {
        for (j = 0; j < cnt; j++)
            if (status[i0 + j] == PHQ_FOUND && phq_row_f32(t, st[j].slot, (float *)out + (i0 + j) * dim, &e2) != PHQ_OK) {
                status[i0 + j] = PHQ_ERROR;
                batch_fail(c, i0 + j, &e2);
            }
        return;
    }
    for (j = 0; j < cnt; j++) /* slots come from the MPH, < num_keys in an opened file; checked anyway */
        if (status[i0 + j] == PHQ_FOUND && st[j].slot >= t->num_keys) {
            phq_row_f32(t, st[j].slot, NULL, &e2); /* the single-row call's error (slot >= num_keys) */
            status[i0 + j] = PHQ_ERROR;
            batch_fail(c, i0 + j, &e2);
        }
    if (t->scale_granularity == PHQ_SCALE_COLUMN) {
        float sc[PHQ_COLS];
        int32_t zp[PHQ_COLS];
        for (c0 = 0; c0 < dim; c0 += cc) { /* a block of columns' scale records, then every row's block */
            cc = dim - c0 < PHQ_COLS ? dim - c0 : PHQ_COLS;
            for (j = 0; j < cc; j++) {
                const u8 *r = t->scales + 8 * (c0 + j);
                sc[j] = bits_f32(rd32(r));
                zp[j] = (int32_t)rd32(r + 4);
            }
            for (j = 0; j < cnt; j++) {
                const u8 *q;
                float *o;
                size_t x;
                if (status[i0 + j] != PHQ_FOUND) continue;
                q = t->rows + (size_t)st[j].slot * dim + c0;
                o = (float *)out + (i0 + j) * dim + c0;
                for (x = 0; x + 8 <= cc; x += 8) deq8(o + x, q + x, zp + x, sc + x);
                for (; x < cc; x++) o[x] = (float)((float)((int32_t)q[x] - zp[x]) * sc[x]);
            }
        }
    } else {
        float sc[8];
        int32_t zp[8];
        for (j = 0; j < cnt; j++) {
            const u8 *q;
            float *o, s1;
            int32_t z1;
            size_t x;
            if (status[i0 + j] != PHQ_FOUND) continue;
            scale_of(t, st[j].slot, 0, &s1, &z1);
            q = t->rows + (size_t)st[j].slot * dim;
            o = (float *)out + (i0 + j) * dim;
            for (x = 0; x < 8; x++) {
                sc[x] = s1;
                zp[x] = z1;
            }
            for (x = 0; x + 8 <= dim; x += 8) deq8(o + x, q + x, zp, sc);
            for (; x < dim; x++) o[x] = (float)((float)((int32_t)q[x] - z1) * s1);
        }
    }
}

/* Groups are pipelined: the digests of group g + 1 are computed (and its level-0 words
 * prefetched) before the levels of group g are walked, and the rows of group g are read
 * after the slots of group g + 1 are found, so that every prefetch has a whole stage of
 * another group to arrive. */
static size_t batch_run(const phq_table *t, const void *const *keys, const size_t *lens, const uint64_t *hashes,
                        size_t n, uint64_t *slots, void *out, int what, signed char *status, phq_error *err)
{
    bgroup gr[3]; /* rotating: rows pending (g - 1), slots (g), begun (g + 1) */
    bctx c;
    size_t i0, j, found = 0;
    unsigned g = 0, pending = 0; /* pending: gr[(g + 2) % 3] holds rows to read */
    clear_err(err);
    c.t = t;
    c.err = err;
    c.err_at = (size_t)-1;
    if (n) batch_begin(&c, &gr[0], 0, n < PHQ_GROUP ? n : PHQ_GROUP, keys, lens, hashes);
    for (i0 = 0; i0 < n; i0 += PHQ_GROUP, g = (g + 1) % 3) {
        bgroup *cur = &gr[g], *prev = &gr[(g + 2) % 3];
        size_t cnt = cur->cnt, i1 = i0 + PHQ_GROUP;
        if (i1 < n) batch_begin(&c, &gr[(g + 1) % 3], i1, n - i1 < PHQ_GROUP ? n - i1 : PHQ_GROUP, keys, lens, hashes);
        batch_finish(&c, cur, status);
        for (j = 0; j < cnt; j++)
            if (status[i0 + j] == PHQ_FOUND) {
                if (what != OUT_SLOTS) PHQ_PREFETCH_ROW(t, cur->k[j].slot);
                if (slots) slots[i0 + j] = cur->k[j].slot;
            }
        if (what == OUT_SLOTS) continue;
        if (pending) bgroup_rows(&c, prev->k, prev->i0, prev->cnt, out, what, status);
        pending = 1;
    }
    if (pending) bgroup_rows(&c, gr[(g + 2) % 3].k, gr[(g + 2) % 3].i0, gr[(g + 2) % 3].cnt, out, what, status);
    for (j = 0; j < n; j++) found += status[j] == PHQ_FOUND;
    return found;
}

size_t phq_lookup_many(const phq_table *t, const void *const *keys, const size_t *lens, size_t n,
                       uint64_t *slots, signed char *status, phq_error *err)
{
    return batch_run(t, keys, lens, NULL, n, slots, NULL, OUT_SLOTS, status, err);
}

size_t phq_lookup_hash_many(const phq_table *t, const uint64_t *hashes, size_t n, uint64_t *slots,
                            signed char *status, phq_error *err)
{
    return batch_run(t, NULL, NULL, hashes, n, slots, NULL, OUT_SLOTS, status, err);
}

size_t phq_get_f32_many(const phq_table *t, const void *const *keys, const size_t *lens, size_t n,
                        float *out, signed char *status, phq_error *err)
{
    return batch_run(t, keys, lens, NULL, n, NULL, out, OUT_F32, status, err);
}

size_t phq_get_f32_hash_many(const phq_table *t, const uint64_t *hashes, size_t n, float *out,
                             signed char *status, phq_error *err)
{
    return batch_run(t, NULL, NULL, hashes, n, NULL, out, OUT_F32, status, err);
}

size_t phq_get_raw_many(const phq_table *t, const void *const *keys, const size_t *lens, size_t n,
                        void *out, signed char *status, phq_error *err)
{
    return batch_run(t, keys, lens, NULL, n, NULL, out, OUT_RAW, status, err);
}

size_t phq_get_raw_hash_many(const phq_table *t, const uint64_t *hashes, size_t n, void *out,
                             signed char *status, phq_error *err)
{
    return batch_run(t, NULL, NULL, hashes, n, NULL, out, OUT_RAW, status, err);
}

/* ---- validation (10.2) ------------------------------------------------------------------------ */

static phq_code validate_table(const phq_table *t, phq_error *err)
{
    uint64_t fw = 0, lvl = 0, ff = 0, n = t->num_keys, i;
    uint32_t p;
    for (p = 0; p < t->num_partitions; p++) {
        const u8 *rec = t->partitions + 16 * (size_t)p;
        uint32_t kc = rd32(rec), fc = rd32(rec + 4), lc = rd32(rec + 8);
        uint64_t ones = (uint64_t)kc - fc, words = part_words(t, lvl, lc), Wp = (words + 31) & ~(uint64_t)31;
        uint64_t cnt = 0, w, j;
        for (w = words; w < Wp; w++)
            if (rd64(t->bitmap + 8 * (size_t)(fw + w)) != 0)
                return fail(err, PHQ_E_PADDING, t->section, PHQ_NO_OFFSET,
                            "table '%.*s' partition %u: bitmap padding word %llu not zero", (int)t->name_len,
                            (const char *)t->name, p, (unsigned long long)w);
        for (w = 0; w < words; w++) cnt += (uint64_t)popcount64(rd64(t->bitmap + 8 * (size_t)(fw + w)));
        if (cnt != ones)
            return fail(err, PHQ_E_MPH, t->section, PHQ_NO_OFFSET,
                        "table '%.*s' partition %u: bitmap has %llu one bits, expected %llu", (int)t->name_len,
                        (const char *)t->name, p, (unsigned long long)cnt, (unsigned long long)ones);
        cnt = 0;
        for (j = 0; j < Wp / 32; j++) {
            uint64_t e = cnt, sub;
            unsigned sbk, q;
            for (sbk = 0; sbk < 4; sbk++) {
                sub = 0;
                for (q = 0; q < 8; q++) sub += (uint64_t)popcount64(rd64(t->bitmap + 8 * (size_t)(fw + 32 * j + 8 * sbk + q)));
                if (sbk < 3) e |= sub << (32 + 10 * sbk);
                cnt += sub;
            }
            if (rd64(t->rank + 8 * (size_t)(fw / 32 + j)) != e)
                return fail(err, PHQ_E_RANK, t->section, PHQ_NO_OFFSET,
                            "table '%.*s' partition %u: rank entry %llu disagrees with the bitmap", (int)t->name_len,
                            (const char *)t->name, p, (unsigned long long)j);
        }
        for (j = 0; j < fc; j++) {
            const u8 *f = t->fallback + 16 * (size_t)(ff + j);
            uint64_t h1 = rd64(f), h2 = rd64(f + 8);
            if (j > 0) {
                uint64_t a1 = rd64(f - 16), a2 = rd64(f - 8);
                if (!(a1 < h1 || (a1 == h1 && a2 < h2)))
                    return fail(err, PHQ_E_FALLBACK, t->section, PHQ_NO_OFFSET,
                                "table '%.*s' partition %u: fallback pair %llu out of order", (int)t->name_len,
                                (const char *)t->name, p, (unsigned long long)j);
            }
            if ((uint32_t)(((h2 >> 32) * t->num_partitions) >> 32) != p)
                return fail(err, PHQ_E_FALLBACK, t->section, PHQ_NO_OFFSET,
                            "table '%.*s' partition %u: fallback pair %llu belongs to another partition",
                            (int)t->name_len, (const char *)t->name, p, (unsigned long long)j);
        }
        fw += Wp;
        lvl += lc;
        ff += fc;
    }
    if (t->layout == PHQ_LAYOUT_SPARSE) {
        uint64_t s, k, prev, cur;
        prev = 0;
        for (s = 0; s <= n; s++) {
            cur = t->index_width == 4 ? rd32(t->row_index + 4 * (size_t)s) : rd64(t->row_index + 8 * (size_t)s);
            if (cur < prev)
                return fail(err, PHQ_E_SPARSE, t->section, PHQ_NO_OFFSET, "table '%.*s': row_index decreases at slot %llu",
                            (int)t->name_len, (const char *)t->name, (unsigned long long)s);
            prev = cur;
        }
        for (s = 0; s < n; s++) {
            uint64_t lo, hi;
            phq_code rc = sparse_range(t, s, &lo, &hi, err);
            if (rc) return rc;
            for (k = lo; k < hi; k++) {
                uint32_t col = column_at(t, k);
                if (col >= t->dim || (k > lo && col <= column_at(t, k - 1)))
                    return fail(err, PHQ_E_SPARSE, t->section, PHQ_NO_OFFSET,
                                "table '%.*s' slot %llu: columns not ascending or >= dim", (int)t->name_len,
                                (const char *)t->name, (unsigned long long)s);
            }
        }
    }
    if (t->layout == PHQ_LAYOUT_COMPACT) { /* 1.2 §6, in order */
        uint64_t s, k, prev = 0, cur, used;
        for (s = 0; s <= n; s++) {
            cur = compact_row_index(t, s);
            if (cur < prev || cur > t->nnz)
                return fail(err, PHQ_E_SPARSE, t->section, PHQ_NO_OFFSET, "table '%.*s': row_index decreases at slot %llu",
                            (int)t->name_len, (const char *)t->name, (unsigned long long)s);
            prev = cur;
        }
        for (s = 0; s <= n; s += ((uint64_t)1) << t->row_block_log2) {
            uint64_t d = t->delta_width == 1 ? t->row_deltas[(size_t)s]
                                             : t->delta_width == 2 ? rd16(t->row_deltas + 2 * (size_t)s) : rd32(t->row_deltas + 4 * (size_t)s);
            if (d != 0)
                return fail(err, PHQ_E_SPARSE, t->section, PHQ_NO_OFFSET, "table '%.*s': the delta of block row %llu is not 0",
                            (int)t->name_len, (const char *)t->name, (unsigned long long)s);
        }
        used = t->nnz * t->column_low_bits; /* checked at open */
        if ((used & 7) && (t->column_low[(size_t)(used / 8)] >> (used & 7)) != 0)
            return fail(err, PHQ_E_PADDING, t->section, PHQ_NO_OFFSET, "table '%.*s': COLUMN_LOW padding bits not 0",
                        (int)t->name_len, (const char *)t->name);
        used = t->nnz + n * t->column_high_zeros;
        if ((used & 7) && (t->column_high[(size_t)(used / 8)] >> (used & 7)) != 0)
            return fail(err, PHQ_E_PADDING, t->section, PHQ_NO_OFFSET, "table '%.*s': COLUMN_HIGH padding bits not 0",
                        (int)t->name_len, (const char *)t->name);
        for (s = 0; s < n; s++) {
            uint64_t lo, hi;
            uint32_t last = 0;
            colcur cc;
            phq_code rc = sparse_range(t, s, &lo, &hi, err);
            if (rc) return rc;
            col_begin(t, s, lo, hi, &cc);
            for (k = lo; k < hi; k++) {
                uint32_t col = col_next(t, &cc, k);
                if (col == UINT32_MAX)
                    return fail(err, PHQ_E_SPARSE, t->section, PHQ_NO_OFFSET,
                                "table '%.*s' slot %llu: COLUMN_HIGH region holds fewer 1 bits than values", (int)t->name_len,
                                (const char *)t->name, (unsigned long long)s);
                if (col >= t->dim || (k > lo && col <= last))
                    return fail(err, PHQ_E_SPARSE, t->section, PHQ_NO_OFFSET,
                                "table '%.*s' slot %llu: columns not ascending or >= dim", (int)t->name_len,
                                (const char *)t->name, (unsigned long long)s);
                last = col;
            }
            if (!col_done(t, &cc))
                return fail(err, PHQ_E_SPARSE, t->section, PHQ_NO_OFFSET,
                            "table '%.*s' slot %llu: COLUMN_HIGH region holds more 1 bits than values", (int)t->name_len,
                            (const char *)t->name, (unsigned long long)s);
        }
    }
    if (t->quant == PHQ_QUANT_F32 || t->quant == PHQ_QUANT_F16) {
        uint64_t count = t->layout != PHQ_LAYOUT_DENSE ? t->nnz : n * t->dim;
        for (i = 0; i < count; i++) {
            int ok = t->quant == PHQ_QUANT_F32 ? f32_finite(rd32(t->rows + 4 * (size_t)i))
                                               : f16_finite(rd16(t->rows + 2 * (size_t)i));
            if (!ok)
                return fail(err, PHQ_E_VALUE, t->section, PHQ_NO_OFFSET, "table '%.*s': value %llu is NaN or infinite",
                            (int)t->name_len, (const char *)t->name, (unsigned long long)i);
        }
    }
    /* 1.1 §5.3: the pad nibble of an odd 4-bit stream (nnz = n x dim when dense, checked at
     * open; ROWS holds ceil(nnz / 2) bytes) */
    if (t->code_bits == 4 && (t->nnz & 1) && (t->rows[(size_t)(t->nnz / 2)] >> 4) != 0)
        return fail(err, PHQ_E_PADDING, t->section, PHQ_NO_OFFSET,
                    "table '%.*s': the pad nibble after the last 4-bit code is not zero", (int)t->name_len,
                    (const char *)t->name);
    /* 1.1 §4.2: every codebook level finite, then level 0 of every group +0.0 */
    if (t->codebook_levels) {
        uint64_t G = t->scale_granularity == PHQ_SCALE_COLUMN ? t->dim : 1, cnt = G * t->codebook_levels, g;
        for (i = 0; i < cnt; i++)
            if (!f32_finite(rd32(t->codebook + 4 * (size_t)i)))
                return fail(err, PHQ_E_VALUE, t->section, PHQ_NO_OFFSET,
                            "table '%.*s': codebook level %llu of group %llu is NaN or infinite", (int)t->name_len,
                            (const char *)t->name, (unsigned long long)(i % t->codebook_levels),
                            (unsigned long long)(i / t->codebook_levels));
        for (g = 0; g < G; g++)
            if (rd32(t->codebook + 4 * (size_t)(g * t->codebook_levels)) != 0)
                return fail(err, PHQ_E_SCALE, t->section, PHQ_NO_OFFSET,
                            "table '%.*s': level 0 of codebook group %llu is not +0.0", (int)t->name_len,
                            (const char *)t->name, (unsigned long long)g);
    }
    return PHQ_OK;
}

phq_code phq_validate(const phq_model *m, phq_error *err)
{
    uint32_t k;
    clear_err(err);
    if (!model_ok(m)) return fail(err, PHQ_E_USAGE, PHQ_NO_SECTION, PHQ_NO_OFFSET, "model not open");
    { /* 1: padding (after the section table, between sections, after the last one) */
        uint64_t end = 64 + 32 * (uint64_t)m->section_count;
        for (k = 0; k < m->section_count; k++) {
            sect s;
            sect_at(m->buf, k, &s);
            if (!zero_bytes(m->buf + end, s.off - end))
                return fail(err, PHQ_E_PADDING, k, end, "padding before section %u not zero", k);
            end = s.off + s.size;
        }
        if (!zero_bytes(m->buf + end, (uint64_t)m->len - end))
            return fail(err, PHQ_E_PADDING, PHQ_NO_SECTION, end, "padding after the last section not zero");
    }
    for (k = 0; k < m->section_count; k++) { /* 2: checksums */
        sect s;
        sect_at(m->buf, k, &s);
        if (phq_crc32c(0, m->buf + s.off, (size_t)s.size) != s.crc)
            return fail(err, PHQ_E_CHECKSUM, k, s.off, "section %u (%s): CRC32C mismatch", k, kind_name(s.kind));
    }
    for (k = 0; k < m->section_count; k++) { /* 3: float tensors */
        sect s;
        phq_tensor t;
        uint64_t i, cnt;
        sect_at(m->buf, k, &s);
        if (s.kind != K_TENSOR || s.owner != NONE32) continue;
        load_tensor(m, k, &t);
        if (t.dtype != PHQ_DT_F32 && t.dtype != PHQ_DT_F16 && t.dtype != PHQ_DT_F64) continue;
        cnt = t.nbytes / phq_dtype_size(t.dtype);
        for (i = 0; i < cnt; i++) {
            int ok = t.dtype == PHQ_DT_F32   ? f32_finite(rd32(t.data + 4 * (size_t)i))
                     : t.dtype == PHQ_DT_F16 ? f16_finite(rd16(t.data + 2 * (size_t)i))
                                             : f64_finite(rd64(t.data + 8 * (size_t)i));
            if (!ok)
                return fail(err, PHQ_E_VALUE, k, (uint64_t)(t.data - m->buf) + i * phq_dtype_size(t.dtype),
                            "tensor '%.*s': element %llu is NaN or infinite", (int)t.name_len, (const char *)t.name,
                            (unsigned long long)i);
        }
    }
    for (k = 0; k < m->section_count; k++) { /* 4: tables */
        sect s;
        phq_table t;
        phq_code rc;
        sect_at(m->buf, k, &s);
        if (s.kind != K_TABLE || s.owner != NONE32) continue;
        load_table(m, k, &t);
        rc = validate_table(&t, err);
        if (rc) return rc;
    }
    return PHQ_OK;
}
