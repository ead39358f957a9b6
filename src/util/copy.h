/*
 * util/copy.h: copying the small buffers of the hot path (an entry's
 * payload, an encoded message of a few hundred bytes) without a call.
 *
 * A step of bench_engine (a) copies a 64-byte payload or a message of
 * about 150 bytes a dozen times per commit, and memcpy of a length known
 * only at run time is a call through the PLT into libc's size dispatch:
 * about 8% of the cycles. A memcpy of a constant size compiles to vector
 * moves, and two overlapping ones cover every length of a range, so up to
 * 256 bytes craft_copy takes a few moves and no call; longer copies go to
 * memcpy, which is faster there.
 */
#ifndef CRAFT_UTIL_COPY_H
#define CRAFT_UTIL_COPY_H

#include <stddef.h>
#include <string.h>

/* memcpy(dst, src, n) for buffers that do not overlap; n may be 0 (then
 * neither pointer is touched, and either may be NULL). */
static inline void craft_copy(void *dst, const void *src, size_t n)
{
    unsigned char *d = dst;
    const unsigned char *s = src;
    if (n >= 32) {
        if (n > 256) {
            memcpy(d, s, n);
            return;
        }
        for (size_t i = 0; i + 32 < n; i += 32) {
            memcpy(d + i, s + i, 32);
        }
        memcpy(d + n - 32, s + n - 32, 32); /* the rest, overlapping */
    } else if (n >= 16) {
        memcpy(d, s, 16);
        memcpy(d + n - 16, s + n - 16, 16);
    } else if (n >= 8) {
        memcpy(d, s, 8);
        memcpy(d + n - 8, s + n - 8, 8);
    } else if (n >= 4) {
        memcpy(d, s, 4);
        memcpy(d + n - 4, s + n - 4, 4);
    } else {
        for (size_t i = 0; i < n; i++) {
            d[i] = s[i];
        }
    }
}

#endif /* CRAFT_UTIL_COPY_H */
