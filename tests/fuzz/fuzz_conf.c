/*
 * tests/fuzz/fuzz_conf.c: the membership (CONFIG payload) decoder, and the
 * engine entry points that take membership bytes from a disk.
 *
 * Input: one mode byte, then the bytes. Mode bit 0 set: the CRC32C
 * trailer is recomputed first (so mutations reach the members); bit 1:
 * the version byte is forced to 1.
 *
 * Properties: no crash, no sanitizer report, only documented error codes;
 * an accepted membership passes craft_conf_check() and re-encodes to
 * exactly the input; craft_engine_load_snapshot() and
 * craft_engine_load_entry() of a CONFIG entry accept exactly the bytes
 * the decoder accepts, and then report exactly the decoded members and
 * their addresses.
 */
#include "fuzz.h"

#include "codec/conf.h"
#include "codec/crc32c.h"
#include "codec/le.h"

static int known_error(int rv)
{
    return rv == CRAFT_EMALFORMED || rv == CRAFT_ECHECKSUM ||
           rv == CRAFT_EVERSION || rv == CRAFT_ETOOBIG;
}

static craft_engine *new_engine(void)
{
    craft_engine_options o;
    craft_engine *e = NULL;
    craft_engine_options_init(&o);
    o.id = 1;
    o.max_inflight = 1;
    FUZZ_CHECK(craft_engine_create(&o, &e) == CRAFT_OK, "engine create");
    FUZZ_CHECK(craft_engine_load_hard_state(e, 5, 0) == CRAFT_OK,
               "load hard state");
    return e;
}

/* The engine's membership is exactly c. */
static void same_members(const craft_engine *e, const struct craft_conf *c,
                         const char *how)
{
    FUZZ_CHECK(craft_engine_member_count(e) == c->n,
               "%s: %zu members, decoded %u", how,
               craft_engine_member_count(e), c->n);
    for (uint32_t k = 0; k < c->n; k++) {
        uint64_t id;
        int role;
        FUZZ_CHECK(craft_engine_member(e, k, &id, &role) == CRAFT_OK,
                   "%s: member %u", how, k);
        FUZZ_CHECK(id == c->m[k].id && (uint32_t)role == c->m[k].role,
                   "%s: member %u differs", how, k);
        const void *addr;
        size_t alen;
        FUZZ_CHECK(craft_engine_member_addr(e, k, &addr, &alen) == CRAFT_OK &&
                       alen == c->m[k].addr_len &&
                       (alen == 0 || memcmp(addr, c->m[k].addr, alen) == 0),
                   "%s: member %u's address differs", how, k);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) {
        return 0;
    }
    unsigned mode = data[0];
    size_t len = size - 1;
    uint8_t *buf = malloc(len ? len : 1);
    if (buf == NULL) {
        return 0;
    }
    if (len > 0) {
        memcpy(buf, data + 1, len);
    }
    if ((mode & 2u) && len >= 1) {
        buf[0] = CRAFT_CONF_VERSION;
    }
    if ((mode & 1u) && len >= 4) {
        craft_put_u32(buf + len - 4, craft_crc32c(0, buf, len - 4));
    }

    struct craft_conf c;
    int rv = craft_conf_decode(buf, len, &c);
    if (rv == CRAFT_OK) {
        FUZZ_CHECK(craft_conf_check(&c) == CRAFT_OK, "decoded conf fails check");
        size_t n = craft_conf_encoded_size(&c);
        FUZZ_CHECK(n == len, "re-encoded size %zu != %zu", n, len);
        uint8_t out[CRAFT_CONF_MAX_BYTES];
        FUZZ_CHECK(craft_conf_encode(&c, out) == n, "encode size");
        FUZZ_CHECK(memcmp(out, buf, len) == 0,
                   "conf does not re-encode to its bytes");
    } else {
        FUZZ_CHECK(known_error(rv), "conf decode returned %d", rv);
    }

    /* The same bytes as the membership of a snapshot on disk. */
    craft_engine *e = new_engine();
    int lrv = craft_engine_load_snapshot(e, 7, 3, buf, len);
    FUZZ_CHECK(lrv == rv, "load_snapshot returned %d, decode %d", lrv, rv);
    if (lrv == CRAFT_OK) {
        same_members(e, &c, "load_snapshot");
        FUZZ_CHECK(craft_engine_commit_index(e) == 7, "snapshot commit");
    } else {
        FUZZ_CHECK(craft_engine_member_count(e) == 0 &&
                       craft_engine_snapshot_index(e) == 0,
                   "a refused snapshot changed the engine");
    }
    craft_engine_free(e);

    /* ... and as a CONFIG entry of a log on disk. */
    e = new_engine();
    lrv = craft_engine_load_entry(e, 1, 2, CRAFT_ENTRY_CONFIG, buf, len);
    FUZZ_CHECK(lrv == rv, "load_entry returned %d, decode %d", lrv, rv);
    if (lrv == CRAFT_OK) {
        same_members(e, &c, "load_entry");
    } else {
        FUZZ_CHECK(craft_engine_last_index(e) == 0 &&
                       craft_engine_member_count(e) == 0,
                   "a refused entry changed the engine");
    }
    craft_engine_free(e);
    free(buf);
    return 0;
}
