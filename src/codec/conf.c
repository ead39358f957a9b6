/*
 * codec/conf.c: a cluster membership and its encoding.
 *
 * Format version 1, little-endian:
 *
 *   offset  size   field
 *   0       1      version (CRAFT_CONF_VERSION)
 *   1       4      count n (<= CRAFT_MAX_MEMBERS)
 *   5       9*n    n x { u64 id (non-zero, distinct), u8 role }
 *   5+9n    4      CRC32C of bytes [0, 5+9n)
 *
 * The bytes are the payload of a CONFIG entry and the membership carried
 * with a snapshot, both of which already sit inside a checksummed frame;
 * the conf keeps its own CRC anyway because it is also stored on its own
 * (snapshot metadata) and a wrong membership is a safety bug, not a
 * glitch. The decoder checks the CRC first, then the version, so any
 * corruption reads as CRAFT_ECHECKSUM and only an intact conf from a newer
 * build reads as CRAFT_EVERSION.
 */
#include "codec/conf.h"

#include "codec/crc32c.h"
#include "codec/le.h"

#define CONF_HEADER 5u  /* version + count */
#define CONF_MEMBER 9u  /* id + role */
#define CONF_TRAILER 4u /* crc */

int craft_conf_find(const struct craft_conf *c, uint64_t id)
{
    if (c == NULL) {
        return -1;
    }
    for (uint32_t i = 0; i < c->n && i < CRAFT_MAX_MEMBERS; i++) {
        if (c->m[i].id == id) {
            return (int)i;
        }
    }
    return -1;
}

uint32_t craft_conf_voters(const struct craft_conf *c)
{
    uint32_t voters = 0;
    if (c == NULL) {
        return 0;
    }
    for (uint32_t i = 0; i < c->n && i < CRAFT_MAX_MEMBERS; i++) {
        voters += c->m[i].role == CRAFT_MEMBER_VOTER;
    }
    return voters;
}

static int role_known(uint32_t role)
{
    return role == CRAFT_MEMBER_VOTER || role == CRAFT_MEMBER_LEARNER;
}

int craft_conf_check(const struct craft_conf *c)
{
    if (c == NULL) {
        return CRAFT_EINVAL;
    }
    if (c->n > CRAFT_MAX_MEMBERS) {
        return CRAFT_ETOOBIG;
    }
    /* Quadratic, but n <= 64 and memberships change rarely. */
    for (uint32_t i = 0; i < c->n; i++) {
        if (c->m[i].id == CRAFT_NONE || !role_known(c->m[i].role)) {
            return CRAFT_EMALFORMED;
        }
        for (uint32_t j = 0; j < i; j++) {
            if (c->m[j].id == c->m[i].id) {
                return CRAFT_EMALFORMED;
            }
        }
    }
    return CRAFT_OK;
}

size_t craft_conf_encoded_size(const struct craft_conf *c)
{
    if (craft_conf_check(c) != CRAFT_OK) {
        return 0;
    }
    return CONF_HEADER + CONF_MEMBER * (size_t)c->n + CONF_TRAILER;
}

size_t craft_conf_encode(const struct craft_conf *c, uint8_t *buf)
{
    size_t size = craft_conf_encoded_size(c);
    if (size == 0 || buf == NULL) {
        return 0;
    }
    uint8_t *p = craft_put_u8(buf, CRAFT_CONF_VERSION);
    p = craft_put_u32(p, c->n);
    for (uint32_t i = 0; i < c->n; i++) {
        p = craft_put_u64(p, c->m[i].id);
        p = craft_put_u8(p, (uint8_t)c->m[i].role);
    }
    craft_put_u32(p, craft_crc32c(0, buf, size - CONF_TRAILER));
    return size;
}

/* Length, checksum and version: everything before the members are read. */
static int check_frame(const uint8_t *buf, size_t len)
{
    if (len > CRAFT_CONF_MAX_BYTES) {
        return CRAFT_ETOOBIG;
    }
    if (len < CONF_HEADER + CONF_TRAILER) {
        return CRAFT_EMALFORMED;
    }
    size_t body = len - CONF_TRAILER;
    if (craft_crc32c(0, buf, body) != craft_get_u32(buf + body)) {
        return CRAFT_ECHECKSUM;
    }
    if (buf[0] != CRAFT_CONF_VERSION) {
        return CRAFT_EVERSION;
    }
    return CRAFT_OK;
}

int craft_conf_decode(const uint8_t *buf, size_t len, struct craft_conf *c)
{
    if (buf == NULL || c == NULL) {
        return CRAFT_EINVAL;
    }
    int rv = check_frame(buf, len);
    if (rv != CRAFT_OK) {
        return rv;
    }
    uint32_t n = craft_get_u32(buf + 1);
    if (n > CRAFT_MAX_MEMBERS) {
        return CRAFT_ETOOBIG;
    }
    if (len != CONF_HEADER + CONF_MEMBER * (size_t)n + CONF_TRAILER) {
        return CRAFT_EMALFORMED;
    }
    const uint8_t *p = buf + CONF_HEADER;
    c->n = n;
    for (uint32_t i = 0; i < n; i++, p += CONF_MEMBER) {
        c->m[i].id = craft_get_u64(p);
        c->m[i].role = p[8];
    }
    return craft_conf_check(c);
}
