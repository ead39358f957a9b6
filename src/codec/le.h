/*
 * codec/le.h: explicit little-endian loads and stores, codec-private.
 *
 * Fields are written byte by byte so the wire format does not depend on
 * the host's byte order or alignment; gcc and clang merge these into
 * single loads and stores on little-endian targets. Each put returns the
 * position after what it wrote so encoders read as a sequence.
 */
#ifndef CRAFT_CODEC_LE_H
#define CRAFT_CODEC_LE_H

#include <stdint.h>

static inline uint8_t *craft_put_u8(uint8_t *p, uint8_t v)
{
    p[0] = v;
    return p + 1;
}

static inline uint8_t *craft_put_u16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    return p + 2;
}

static inline uint8_t *craft_put_u32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
    return p + 4;
}

static inline uint8_t *craft_put_u64(uint8_t *p, uint64_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
    p[4] = (uint8_t)(v >> 32);
    p[5] = (uint8_t)(v >> 40);
    p[6] = (uint8_t)(v >> 48);
    p[7] = (uint8_t)(v >> 56);
    return p + 8;
}

static inline uint16_t craft_get_u16(const uint8_t *p)
{
    return (uint16_t)(p[0] | p[1] << 8);
}

static inline uint32_t craft_get_u32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
           (uint32_t)p[3] << 24;
}

static inline uint64_t craft_get_u64(const uint8_t *p)
{
    return (uint64_t)craft_get_u32(p) | (uint64_t)craft_get_u32(p + 4) << 32;
}

#endif /* CRAFT_CODEC_LE_H */
