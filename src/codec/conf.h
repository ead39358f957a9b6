/*
 * codec/conf.h: a cluster membership and its encoding (the payload of
 * CONFIG entries and the membership carried with snapshots).
 */
#ifndef CRAFT_CODEC_CONF_H
#define CRAFT_CODEC_CONF_H

#include <stddef.h>
#include <stdint.h>

#include "craft.h"

/* The public roles of engine.h (enum craft_member_role_public), under
 * the codec's names: one set of values, on the wire and in the API. */
enum craft_member_role {
    CRAFT_MEMBER_VOTER = CRAFT_VOTER,
    CRAFT_MEMBER_LEARNER = CRAFT_LEARNER /* replicated to, never counted
                                            (§4.2.1) */
};

/* A member: its id, role and address. The address is the host's opaque
 * bytes (e.g. "10.0.0.5:7001"): the engine stores and replicates it with
 * the membership and never reads it. */
struct craft_member {
    uint64_t id;
    uint32_t role;
    uint32_t addr_len; /* <= CRAFT_MAX_ADDR_BYTES */
    uint8_t addr[CRAFT_MAX_ADDR_BYTES];
};

struct craft_conf {
    uint32_t n;
    struct craft_member m[CRAFT_MAX_MEMBERS];
};

/* Index of id in c, or -1. */
int craft_conf_find(const struct craft_conf *c, uint64_t id);
/* Number of voters. */
uint32_t craft_conf_voters(const struct craft_conf *c);
/* Sets member k's address (len <= CRAFT_MAX_ADDR_BYTES; NULL/0: none). */
void craft_member_set_addr(struct craft_member *m, const void *addr,
                           size_t len);

/*
 * Encoding (format in conf.c). Version 1 has no addresses:
 * [u8 1][u32 count] count x [u64 id][u8 role], [u32 crc32c]: 9 + 9n bytes.
 * Version 2 adds one: [u8 2][u32 count] count x [u64 id][u8 role]
 * [u8 addr_len][addr], [u32 crc32c]. The encoder writes version 1 when no
 * member has an address, version 2 otherwise, so the encoding is
 * canonical and a cluster that uses no addresses stays readable by builds
 * that know only version 1.
 */
#define CRAFT_CONF_VERSION_V1 1
#define CRAFT_CONF_VERSION 2 /* the newest this build writes and reads */
#define CRAFT_CONF_MAX_BYTES                                                  \
    (9u + (10u + CRAFT_MAX_ADDR_BYTES) * CRAFT_MAX_MEMBERS)

/* CRAFT_OK when c is a membership the decoder accepts: n <=
 * CRAFT_MAX_MEMBERS (else CRAFT_ETOOBIG), ids non-zero and distinct,
 * roles known and address lengths <= CRAFT_MAX_ADDR_BYTES (else
 * CRAFT_EMALFORMED). CRAFT_EINVAL on NULL. */
int craft_conf_check(const struct craft_conf *c);

/* Exact size craft_conf_encode() writes; 0 when craft_conf_check() fails,
 * so whatever the encoder writes, the decoder accepts. */
size_t craft_conf_encoded_size(const struct craft_conf *c);
/* Writes craft_conf_encoded_size(c) bytes to buf and returns that
 * number (0, writing nothing, when it is 0). */
size_t craft_conf_encode(const struct craft_conf *c, uint8_t *buf);
/* Validates everything: version, count <= CRAFT_MAX_MEMBERS, non-zero and
 * distinct ids, known roles, exact length, checksum, and (version 2) at
 * least one address, so that decoding and encoding again gives the same
 * bytes. Members of a version 1 membership have no address.
 * Errors: CRAFT_EINVAL (NULL), CRAFT_EMALFORMED, CRAFT_ECHECKSUM,
 * CRAFT_EVERSION, CRAFT_ETOOBIG (count or length over the limit).
 * On error *c is unspecified. */
int craft_conf_decode(const uint8_t *buf, size_t len, struct craft_conf *c);

#endif /* CRAFT_CODEC_CONF_H */
