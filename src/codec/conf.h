/*
 * codec/conf.h: a cluster membership and its encoding (the payload of
 * CONFIG entries and the membership carried with snapshots).
 */
#ifndef CRAFT_CODEC_CONF_H
#define CRAFT_CODEC_CONF_H

#include <stddef.h>
#include <stdint.h>

#include "craft.h"

enum craft_member_role {
    CRAFT_MEMBER_VOTER = 1,
    CRAFT_MEMBER_LEARNER = 2 /* replicated to, never counted (§4.2.1) */
};

struct craft_member {
    uint64_t id;
    uint32_t role;
};

struct craft_conf {
    uint32_t n;
    struct craft_member m[CRAFT_MAX_MEMBERS];
};

/* Index of id in c, or -1. */
int craft_conf_find(const struct craft_conf *c, uint64_t id);
/* Number of voters. */
uint32_t craft_conf_voters(const struct craft_conf *c);

/*
 * Encoding (format in conf.c): [u8 version][u32 count]
 * count x [u64 id][u8 role], [u32 crc32c]. 9 + 9 * n bytes.
 */
#define CRAFT_CONF_VERSION 1
#define CRAFT_CONF_MAX_BYTES (9u + 9u * CRAFT_MAX_MEMBERS)

/* CRAFT_OK when c is a membership the decoder accepts: n <=
 * CRAFT_MAX_MEMBERS (else CRAFT_ETOOBIG), ids non-zero and distinct and
 * roles known (else CRAFT_EMALFORMED). CRAFT_EINVAL on NULL. */
int craft_conf_check(const struct craft_conf *c);

/* Exact size craft_conf_encode() writes; 0 when craft_conf_check() fails,
 * so whatever the encoder writes, the decoder accepts. */
size_t craft_conf_encoded_size(const struct craft_conf *c);
/* Writes craft_conf_encoded_size(c) bytes to buf and returns that
 * number (0, writing nothing, when it is 0). */
size_t craft_conf_encode(const struct craft_conf *c, uint8_t *buf);
/* Validates everything: version, count <= CRAFT_MAX_MEMBERS, non-zero and
 * distinct ids, known roles, exact length, checksum.
 * Errors: CRAFT_EINVAL (NULL), CRAFT_EMALFORMED, CRAFT_ECHECKSUM,
 * CRAFT_EVERSION, CRAFT_ETOOBIG (count or length over the limit).
 * On error *c is unspecified. */
int craft_conf_decode(const uint8_t *buf, size_t len, struct craft_conf *c);

#endif /* CRAFT_CODEC_CONF_H */
