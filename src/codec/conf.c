/*
 * codec/conf.c: a cluster membership and its encoding.
 *
 * Little-endian. Version 1 (members without addresses):
 *
 *   offset  size   field
 *   0       1      version (1)
 *   1       4      count n (<= CRAFT_MAX_MEMBERS)
 *   5       9*n    n x { u64 id (non-zero, distinct), u8 role }
 *   5+9n    4      CRC32C of bytes [0, 5+9n)
 *
 * Version 2 (at least one member has an address):
 *
 *   0       1      version (2)
 *   1       4      count n (<= CRAFT_MAX_MEMBERS)
 *   5       ...    n x { u64 id, u8 role, u8 addr_len, addr_len bytes }
 *   end-4   4      CRC32C of every byte before it
 *
 * The encoder picks the oldest version that can express the membership,
 * so the encoding is canonical (the decoder refuses a version 2 without
 * any address) and a cluster that uses no addresses writes exactly what
 * builds knowing only version 1 read, which keeps mixed-version clusters
 * working during an upgrade.
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

#include <string.h>

#include "codec/crc32c.h"
#include "codec/le.h"

#define CONF_HEADER 5u  /* version + count */
#define CONF_MEMBER 9u  /* id + role */
#define CONF_ADDR_LEN 1u /* version 2: the address length byte */
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

void craft_member_set_addr(struct craft_member *m, const void *addr,
                           size_t len)
{
    if (addr == NULL || len > CRAFT_MAX_ADDR_BYTES) {
        len = 0;
    }
    if (len > 0) {
        memcpy(m->addr, addr, len);
    }
    m->addr_len = (uint32_t)len;
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
        if (c->m[i].id == CRAFT_NONE || !role_known(c->m[i].role) ||
            c->m[i].addr_len > CRAFT_MAX_ADDR_BYTES) {
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

/* Address bytes of c: 0 means version 1 is enough. */
static size_t addr_bytes(const struct craft_conf *c)
{
    size_t sum = 0;
    for (uint32_t i = 0; i < c->n; i++) {
        sum += c->m[i].addr_len;
    }
    return sum;
}

size_t craft_conf_encoded_size(const struct craft_conf *c)
{
    if (craft_conf_check(c) != CRAFT_OK) {
        return 0;
    }
    size_t addrs = addr_bytes(c);
    size_t member = CONF_MEMBER + (addrs > 0 ? CONF_ADDR_LEN : 0);
    return CONF_HEADER + member * (size_t)c->n + addrs + CONF_TRAILER;
}

size_t craft_conf_encode(const struct craft_conf *c, uint8_t *buf)
{
    size_t size = craft_conf_encoded_size(c);
    if (size == 0 || buf == NULL) {
        return 0;
    }
    int v2 = addr_bytes(c) > 0;
    uint8_t *p = craft_put_u8(buf, v2 ? CRAFT_CONF_VERSION
                                      : CRAFT_CONF_VERSION_V1);
    p = craft_put_u32(p, c->n);
    for (uint32_t i = 0; i < c->n; i++) {
        p = craft_put_u64(p, c->m[i].id);
        p = craft_put_u8(p, (uint8_t)c->m[i].role);
        if (v2) {
            p = craft_put_u8(p, (uint8_t)c->m[i].addr_len);
            memcpy(p, c->m[i].addr, c->m[i].addr_len);
            p += c->m[i].addr_len;
        }
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
    if (buf[0] != CRAFT_CONF_VERSION_V1 && buf[0] != CRAFT_CONF_VERSION) {
        return CRAFT_EVERSION;
    }
    return CRAFT_OK;
}

/* Version 2 members: every length is checked against the bytes left. */
static int decode_v2(const uint8_t *buf, size_t len, uint32_t n,
                     struct craft_conf *c)
{
    const uint8_t *p = buf + CONF_HEADER;
    const uint8_t *end = buf + len - CONF_TRAILER;
    size_t addrs = 0;
    for (uint32_t i = 0; i < n; i++) {
        if ((size_t)(end - p) < CONF_MEMBER + CONF_ADDR_LEN) {
            return CRAFT_EMALFORMED;
        }
        struct craft_member *m = &c->m[i];
        m->id = craft_get_u64(p);
        m->role = p[8];
        m->addr_len = p[9];
        p += CONF_MEMBER + CONF_ADDR_LEN;
        if ((size_t)(end - p) < m->addr_len) {
            return CRAFT_EMALFORMED;
        }
        memcpy(m->addr, p, m->addr_len);
        p += m->addr_len;
        addrs += m->addr_len;
    }
    if (p != end || addrs == 0) {
        return CRAFT_EMALFORMED; /* trailing bytes, or not canonical */
    }
    c->n = n;
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
    if (buf[0] == CRAFT_CONF_VERSION) {
        rv = decode_v2(buf, len, n, c);
        return rv == CRAFT_OK ? craft_conf_check(c) : rv;
    }
    if (len != CONF_HEADER + CONF_MEMBER * (size_t)n + CONF_TRAILER) {
        return CRAFT_EMALFORMED;
    }
    const uint8_t *p = buf + CONF_HEADER;
    c->n = n;
    for (uint32_t i = 0; i < n; i++, p += CONF_MEMBER) {
        c->m[i].id = craft_get_u64(p);
        c->m[i].role = p[8];
        c->m[i].addr_len = 0;
    }
    return craft_conf_check(c);
}
