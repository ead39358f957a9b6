/*
 * tests/unit/codec_util.h: helpers shared by the codec tests: a
 * deterministic PRNG, a counting (and failing) allocator, and resealing a
 * patched buffer so a test reaches the check behind the CRC.
 */
#ifndef CRAFT_TEST_CODEC_UTIL_H
#define CRAFT_TEST_CODEC_UTIL_H

#include <stdint.h>
#include <stdlib.h>

#include "codec/crc32c.h"
#include "util/alloc.h"

/* xorshift64*: reproducible across runs and platforms. */
static inline uint64_t test_rand(uint64_t *s)
{
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    return *s * 0x2545F4914F6CDD1DULL;
}

static inline size_t test_rand_below(uint64_t *s, size_t n)
{
    return n == 0 ? 0 : (size_t)(test_rand(s) % n);
}

static inline void test_fill(uint64_t *s, uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        p[i] = (uint8_t)test_rand(s);
    }
}

static inline void test_put_u32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

/* Rewrites the CRC32C trailer of the len-byte frame at buf. */
static inline void test_reseal(uint8_t *buf, size_t len)
{
    test_put_u32(buf + len - 4, craft_crc32c(0, buf, len - 4));
}

/* Counts calls; fails every call once fail_after successful ones ran
 * (fail_after < 0: never fails). */
struct test_alloc_state {
    long allocs;
    long frees;
    long fail_after;
};

static inline void *test_malloc(void *user, size_t size)
{
    struct test_alloc_state *st = user;
    if (st->fail_after >= 0 && st->allocs >= st->fail_after) {
        return NULL;
    }
    st->allocs++;
    return malloc(size);
}

static inline void *test_realloc(void *user, void *p, size_t size)
{
    struct test_alloc_state *st = user;
    if (st->fail_after >= 0 && st->allocs >= st->fail_after) {
        return NULL;
    }
    st->allocs++;
    if (p != NULL) {
        st->frees++;
    }
    return realloc(p, size);
}

static inline void test_free(void *user, void *p)
{
    struct test_alloc_state *st = user;
    if (p != NULL) {
        st->frees++;
    }
    free(p);
}

static inline struct craft_alloc test_alloc(struct test_alloc_state *st)
{
    struct craft_alloc a = {st, test_malloc, test_realloc, test_free};
    return a;
}

#endif /* CRAFT_TEST_CODEC_UTIL_H */
