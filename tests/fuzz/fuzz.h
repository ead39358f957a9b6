/*
 * tests/fuzz/fuzz.h: what every fuzz target shares.
 *
 * A target is one function, LLVMFuzzerTestOneInput(), built two ways:
 * with clang -fsanitize=fuzzer,address,undefined into a libFuzzer program
 * (make fuzz, make fuzz-smoke), and with any compiler, linked with
 * replay.c, into a program that runs the inputs of the seed corpus and
 * the regression directory once each (make fuzz-replay, part of make
 * check). A broken property calls fuzz_fail(), which aborts: libFuzzer
 * keeps the input as a crash, the replay program exits non-zero.
 */
#ifndef CRAFT_TESTS_FUZZ_H
#define CRAFT_TESTS_FUZZ_H

#include <stddef.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#if defined(__GNUC__)
#define FUZZ_NORETURN __attribute__((noreturn, format(printf, 3, 4)))
#else
#define FUZZ_NORETURN
#endif

static inline FUZZ_NORETURN void fuzz_fail_at(const char *file, int line,
                                             const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "%s:%d: property violated: ", file, line);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    fflush(stderr);
    abort();
}

#define fuzz_fail(...) fuzz_fail_at(__FILE__, __LINE__, __VA_ARGS__)

/* Checks a property; the message says what it was. */
#define FUZZ_CHECK(cond, ...)                                                 \
    do {                                                                      \
        if (!(cond)) {                                                        \
            fuzz_fail(__VA_ARGS__);                                           \
        }                                                                     \
    } while (0)

/* A cursor over the input. Reads past the end give zeros, so every
 * prefix of an input is itself a valid input (libFuzzer shrinks well). */
struct fuzz_in {
    const uint8_t *p;
    size_t n;
};

static inline int fuzz_more(const struct fuzz_in *in)
{
    return in->n > 0;
}

static inline uint8_t fuzz_u8(struct fuzz_in *in)
{
    if (in->n == 0) {
        return 0;
    }
    in->n--;
    return *in->p++;
}

static inline uint16_t fuzz_u16(struct fuzz_in *in)
{
    uint16_t v = fuzz_u8(in);
    return (uint16_t)(v | (uint16_t)fuzz_u8(in) << 8);
}

static inline uint32_t fuzz_u32(struct fuzz_in *in)
{
    uint32_t v = fuzz_u16(in);
    return v | (uint32_t)fuzz_u16(in) << 16;
}

static inline uint64_t fuzz_u64(struct fuzz_in *in)
{
    uint64_t v = fuzz_u32(in);
    return v | (uint64_t)fuzz_u32(in) << 32;
}

/* Up to max bytes of the input, borrowed; *len is how many. */
static inline const uint8_t *fuzz_bytes(struct fuzz_in *in, size_t max,
                                        size_t *len)
{
    size_t n = max < in->n ? max : in->n;
    const uint8_t *p = in->p;
    in->p += n;
    in->n -= n;
    *len = n;
    return p;
}

#endif /* CRAFT_TESTS_FUZZ_H */
