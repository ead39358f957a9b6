/*
 * codec/crc32c.c: CRC32C, reflected polynomial 0x82F63B78, pre- and
 * post-inverted (so craft_crc32c(0, "123456789", 9) == 0xE3069283, the
 * standard check value, and CRCs chain across calls).
 *
 * Two paths with identical results: the SSE4.2 crc32 instruction on
 * x86-64 CPUs that have it, chosen per call with __builtin_cpu_supports
 * (libgcc fills its CPU model in a constructor, so the check is a load
 * and a test, and craft keeps no state of its own); and slicing-by-8 over
 * written-out tables everywhere else.
 *
 * The instruction has a latency of 3 cycles but a throughput of 1, so one
 * dependent chain runs at a third of its speed. Long buffers are cut into
 * three blocks that run as three independent chains, joined at the end
 * by multiplying the earlier chains' registers by x^(8 * block length)
 * modulo the polynomial (the CRC of a block of zeros is that shift). The
 * CRC is most of the cost of encoding and decoding a message: for
 * messages of tens of kilobytes this about halves both
 * (tests/bench/bench_codec.c).
 */
#include "codec/crc32c.h"

#include <string.h>

#include "codec/crc32c_table.h"
#include "codec/le.h"

/* -DCRAFT_CRC32C_HAVE_HW=0 forces the portable path (to test it on
 * x86-64, or for a compiler without the target attribute). */
#ifndef CRAFT_CRC32C_HAVE_HW
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define CRAFT_CRC32C_HAVE_HW 1
#else
#define CRAFT_CRC32C_HAVE_HW 0
#endif
#endif
#if CRAFT_CRC32C_HAVE_HW
#include <nmmintrin.h>
#endif

/* One step of slicing-by-8: the register xored with the next 8 bytes is
 * looked up one byte per table, table k holding "byte, then k zeros". */
static uint32_t sw_step8(uint32_t crc, const uint8_t *p)
{
    uint32_t lo = crc ^ craft_get_u32(p);
    uint32_t hi = craft_get_u32(p + 4);
    return crc32c_table[7][lo & 0xff] ^ crc32c_table[6][(lo >> 8) & 0xff] ^
           crc32c_table[5][(lo >> 16) & 0xff] ^ crc32c_table[4][lo >> 24] ^
           crc32c_table[3][hi & 0xff] ^ crc32c_table[2][(hi >> 8) & 0xff] ^
           crc32c_table[1][(hi >> 16) & 0xff] ^ crc32c_table[0][hi >> 24];
}

uint32_t craft_crc32c_sw(uint32_t crc, const void *buf, size_t len)
{
    const uint8_t *p = buf;
    uint32_t c = ~crc;
    for (; len >= 8; len -= 8, p += 8) {
        c = sw_step8(c, p);
    }
    for (; len > 0; len--, p++) {
        c = crc32c_table[0][(c ^ *p) & 0xff] ^ (c >> 8);
    }
    return ~c;
}

#if CRAFT_CRC32C_HAVE_HW
/* a * b modulo the polynomial, both in the reflected representation
 * (bit 31 is x^0). Branch-free: which bits are set is data. */
static uint32_t gf2_mulmod(uint32_t a, uint32_t b)
{
    uint32_t p = 0;
    for (int i = 31; i >= 0; i--) {
        p ^= b & (0u - ((a >> i) & 1u));
        b = (b >> 1) ^ (0x82F63B78u & (0u - (b & 1u)));
    }
    return p;
}

/* x^(8 * len) and x^(16 * len) modulo the polynomial: shifting a register
 * over one and two blocks of len zero bytes. Computed offline (a loop of
 * b = (b >> 1) ^ (b & 1 ? 0x82F63B78 : 0) from 0x80000000); the tests
 * check the result against the table path around every block size. */
struct crc_block {
    size_t len;
    uint32_t shift1;
    uint32_t shift2;
};
static const struct crc_block crc_blocks[] = {
    {4096, 0x35d73a62u, 0x28461564u},
    {512, 0x74c360a4u, 0xe4172b16u},
};

static uint64_t load_u64(const uint8_t *p)
{
    uint64_t v;
    memcpy(&v, p, sizeof(v)); /* any alignment; compiles to one mov */
    return v;
}

/* Consumes 3 * blk->len bytes at a time while there are that many. */
__attribute__((target("sse4.2"))) static uint32_t
hw_three_way(uint32_t crc, const uint8_t **pp, size_t *lenp,
             const struct crc_block *blk)
{
    const uint8_t *p = *pp;
    size_t len = *lenp, n = blk->len;
    uint64_t c0 = crc;
    for (; len >= 3 * n; len -= 3 * n, p += 3 * n) {
        uint64_t c1 = 0, c2 = 0;
        for (size_t i = 0; i < n; i += 8) {
            c0 = _mm_crc32_u64(c0, load_u64(p + i));
            c1 = _mm_crc32_u64(c1, load_u64(p + n + i));
            c2 = _mm_crc32_u64(c2, load_u64(p + 2 * n + i));
        }
        c0 = gf2_mulmod(blk->shift2, (uint32_t)c0) ^
             gf2_mulmod(blk->shift1, (uint32_t)c1) ^ (uint32_t)c2;
    }
    *pp = p;
    *lenp = len;
    return (uint32_t)c0;
}

/* The crc32 instruction computes exactly this CRC on the non-inverted
 * register. */
__attribute__((target("sse4.2"))) static uint32_t
hw_crc32c(uint32_t crc, const uint8_t *p, size_t len)
{
    uint32_t c = ~crc;
    if (len >= 3 * crc_blocks[sizeof(crc_blocks) / sizeof(crc_blocks[0]) - 1]
                       .len) {
        for (size_t i = 0; i < sizeof(crc_blocks) / sizeof(crc_blocks[0]);
             i++) {
            c = hw_three_way(c, &p, &len, &crc_blocks[i]);
        }
    }
    uint64_t c64 = c;
    /* Messages are short (a heartbeat is 52 bytes): four words per turn
     * keep the loop's own instructions off the critical path. */
    for (; len >= 32; len -= 32, p += 32) {
        c64 = _mm_crc32_u64(c64, load_u64(p));
        c64 = _mm_crc32_u64(c64, load_u64(p + 8));
        c64 = _mm_crc32_u64(c64, load_u64(p + 16));
        c64 = _mm_crc32_u64(c64, load_u64(p + 24));
    }
    for (; len >= 8; len -= 8, p += 8) {
        c64 = _mm_crc32_u64(c64, load_u64(p));
    }
    c = (uint32_t)c64;
    if (len >= 4) {
        uint32_t w;
        memcpy(&w, p, sizeof(w));
        c = _mm_crc32_u32(c, w);
        p += 4;
        len -= 4;
    }
    for (; len > 0; len--, p++) {
        c = _mm_crc32_u8(c, *p);
    }
    return ~c;
}
#endif

int craft_crc32c_hw_available(void)
{
#if CRAFT_CRC32C_HAVE_HW
    return __builtin_cpu_supports("sse4.2") ? 1 : 0;
#else
    return 0;
#endif
}

uint32_t craft_crc32c(uint32_t crc, const void *buf, size_t len)
{
#if CRAFT_CRC32C_HAVE_HW
    if (__builtin_cpu_supports("sse4.2")) {
        return hw_crc32c(crc, buf, len);
    }
#endif
    return craft_crc32c_sw(crc, buf, len);
}
