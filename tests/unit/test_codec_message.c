/*
 * tests/unit/test_codec_message.c: wire format version 1 of Raft messages
 * (src/codec/message.c): round trips, a golden encoding, and every kind
 * of malformed input the decoder must refuse without crashing.
 */
#include <string.h>

#include "harness.h"
#include "codec/conf.h"
#include "codec/message.h"
#include "codec_util.h"

/* Offsets of the version 1 layout (see the comment atop message.c). */
#define OFF_LEN 0
#define OFF_VERSION 4
#define OFF_TYPE 5
#define OFF_FLAGS 6
#define OFF_RESERVED 7
#define OFF_FROM 8
#define OFF_TO 16
#define OFF_BODY 32
/* In an APPEND: count after index, log_term, commit; then entry 0. */
#define OFF_APPEND_COUNT (OFF_BODY + 24)
#define OFF_ENTRY0 (OFF_APPEND_COUNT + 4)
#define OFF_ENTRY0_TYPE (OFF_ENTRY0 + 8)
#define OFF_ENTRY0_LEN (OFF_ENTRY0 + 9)
/* In a SNAPSHOT: conf_len after index, log_term, offset. */
#define OFF_SNAP_CONF_LEN (OFF_BODY + 24)

static const uint8_t payload_a[] = "first entry payload";
static const uint8_t payload_b[64] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10};
static const uint8_t conf_bytes[] = {1, 1, 0, 0, 0, 5, 0, 0, 0, 0, 0, 0, 0, 1,
                                     0xaa, 0xbb, 0xcc, 0xdd};
static const uint8_t snap_data[] = "snapshot chunk bytes";

static const struct craft_entry sample_entries[] = {
    {5, CRAFT_ENTRY_NORMAL, sizeof(payload_a), payload_a, NULL},
    {5, CRAFT_ENTRY_NOOP, 0, NULL, NULL},
    {6, CRAFT_ENTRY_CONFIG, sizeof(conf_bytes), conf_bytes, NULL},
    {6, CRAFT_ENTRY_NORMAL, sizeof(payload_b), payload_b, NULL},
};
#define N_SAMPLE_ENTRIES (sizeof(sample_entries) / sizeof(sample_entries[0]))

/* A message of the given type with every field the type uses set to a
 * distinct non-zero value and every other field 0. */
static struct craft_msg sample(uint32_t type)
{
    struct craft_msg m;
    memset(&m, 0, sizeof(m));
    m.type = type;
    m.from = 0x0102030405060708ULL;
    m.to = 2;
    m.term = 0x1122334455667788ULL;
    switch (type) {
    case CRAFT_MSG_APPEND:
        m.index = 100, m.log_term = 4, m.commit = 99;
        m.entries = sample_entries;
        m.n_entries = N_SAMPLE_ENTRIES;
        break;
    case CRAFT_MSG_APPEND_RESP:
        m.flags = CRAFT_MSG_F_REJECT;
        m.index = 100, m.hint_index = 50, m.hint_term = 3;
        break;
    case CRAFT_MSG_VOTE:
        m.flags = CRAFT_MSG_F_TRANSFER;
        m.index = 77, m.log_term = 6;
        break;
    case CRAFT_MSG_PREVOTE:
        m.index = 78, m.log_term = 7;
        break;
    case CRAFT_MSG_VOTE_RESP:
    case CRAFT_MSG_PREVOTE_RESP:
        m.flags = CRAFT_MSG_F_REJECT;
        break;
    case CRAFT_MSG_HEARTBEAT:
        m.commit = 1234, m.ctx = 0xfeedfacecafebeefULL;
        break;
    case CRAFT_MSG_HEARTBEAT_RESP:
        m.ctx = 0xfeedfacecafebeefULL;
        break;
    case CRAFT_MSG_SNAPSHOT:
        m.flags = CRAFT_MSG_F_LAST;
        m.index = 500, m.log_term = 9, m.offset = 4096;
        m.data = snap_data, m.len = sizeof(snap_data);
        m.conf = conf_bytes, m.conf_len = sizeof(conf_bytes);
        break;
    case CRAFT_MSG_SNAPSHOT_RESP:
        m.flags = CRAFT_MSG_F_LAST;
        m.index = 500, m.offset = 8192;
        break;
    case CRAFT_MSG_TIMEOUT_NOW:
        break;
    case CRAFT_MSG_READ_INDEX:
        m.ctx = 31337;
        break;
    case CRAFT_MSG_READ_INDEX_RESP:
        m.flags = CRAFT_MSG_F_REJECT;
        m.ctx = 31337, m.index = 600, m.hint_index = 3;
        break;
    }
    return m;
}

static int bytes_eq(const uint8_t *a, size_t na, const uint8_t *b, size_t nb)
{
    return na == nb && (na == 0 || memcmp(a, b, na) == 0);
}

static void assert_msg_eq(const struct craft_msg *a, const struct craft_msg *b)
{
    ck_assert_uint_eq(a->type, b->type);
    ck_assert_uint_eq(a->flags, b->flags);
    ck_assert_uint_eq(a->from, b->from);
    ck_assert_uint_eq(a->to, b->to);
    ck_assert_uint_eq(a->term, b->term);
    ck_assert_uint_eq(a->index, b->index);
    ck_assert_uint_eq(a->log_term, b->log_term);
    ck_assert_uint_eq(a->commit, b->commit);
    ck_assert_uint_eq(a->hint_index, b->hint_index);
    ck_assert_uint_eq(a->hint_term, b->hint_term);
    ck_assert_uint_eq(a->ctx, b->ctx);
    ck_assert_uint_eq(a->offset, b->offset);
    ck_assert_uint_eq(a->n_entries, b->n_entries);
    for (size_t i = 0; i < a->n_entries; i++) {
        const struct craft_entry *x = &a->entries[i], *y = &b->entries[i];
        ck_assert_uint_eq(x->term, y->term);
        ck_assert_uint_eq(x->type, y->type);
        ck_assert(bytes_eq(x->data, x->len, y->data, y->len));
    }
    ck_assert(bytes_eq(a->data, a->len, b->data, b->len));
    ck_assert(bytes_eq(a->conf, a->conf_len, b->conf, b->conf_len));
}

/* Encodes m into a malloc'd buffer of exactly its size. */
static uint8_t *encode_new(const struct craft_msg *m, size_t *len)
{
    *len = craft_msg_encoded_size(m);
    ck_assert_uint_gt(*len, 0);
    uint8_t *buf = malloc(*len);
    ck_assert_ptr_nonnull(buf);
    ck_assert_uint_eq(craft_msg_encode(m, buf), *len);
    return buf;
}

/* Decodes with a fresh scratch (released before returning). */
static int decode_once(const uint8_t *buf, size_t len)
{
    struct craft_alloc a;
    craft_alloc_default(&a);
    struct craft_entry_vec scratch = {NULL, 0};
    struct craft_msg m;
    int rv = craft_msg_decode(buf, len, &m, &a, &scratch);
    craft_entry_vec_free(&a, &scratch);
    return rv;
}

/* A copy of a valid message of the type, patched by the caller; after the
 * patch, reseal() makes the CRC right again so the check behind it runs. */
static uint8_t *valid(uint32_t type, size_t *len)
{
    struct craft_msg m = sample(type);
    return encode_new(&m, len);
}

/* ---- round trips ------------------------------------------------------- */

START_TEST(test_roundtrip_every_type)
{
    struct craft_alloc a;
    craft_alloc_default(&a);
    struct craft_entry_vec scratch = {NULL, 0};
    for (uint32_t type = 1; type <= CRAFT_MSG_TYPE_MAX; type++) {
        struct craft_msg in = sample(type), out;
        size_t len;
        uint8_t *buf = encode_new(&in, &len);
        ck_assert_uint_eq(craft_msg_check(&in), CRAFT_OK);
        ck_assert_int_eq(craft_msg_decode(buf, len, &out, &a, &scratch),
                         CRAFT_OK);
        assert_msg_eq(&in, &out);
        /* Decoded entries are borrowed from buf. */
        for (size_t i = 0; i < out.n_entries; i++) {
            ck_assert_ptr_null(out.entries[i].ref);
            ck_assert(out.entries[i].data >= buf &&
                      out.entries[i].data + out.entries[i].len <= buf + len);
        }
        free(buf);
    }
    craft_entry_vec_free(&a, &scratch);
    ck_assert_ptr_null(scratch.v);
}
END_TEST

/* Fields a type does not carry are not sent and decode as 0. */
START_TEST(test_unused_fields_not_sent)
{
    struct craft_alloc a;
    craft_alloc_default(&a);
    struct craft_entry_vec scratch = {NULL, 0};
    struct craft_msg in = sample(CRAFT_MSG_HEARTBEAT), out;
    size_t base = craft_msg_encoded_size(&in);
    in.index = 9, in.log_term = 9, in.hint_index = 9, in.hint_term = 9;
    in.offset = 9, in.data = snap_data, in.len = sizeof(snap_data);
    in.entries = sample_entries, in.n_entries = N_SAMPLE_ENTRIES;
    size_t len;
    uint8_t *buf = encode_new(&in, &len);
    ck_assert_uint_eq(len, base);
    ck_assert_int_eq(craft_msg_decode(buf, len, &out, &a, &scratch),
                     CRAFT_OK);
    struct craft_msg expect = sample(CRAFT_MSG_HEARTBEAT);
    assert_msg_eq(&expect, &out);
    ck_assert_ptr_null(out.entries);
    ck_assert_ptr_null(out.data);
    ck_assert_ptr_null(out.conf);
    free(buf);
    craft_entry_vec_free(&a, &scratch);
}
END_TEST

/* Messages are small: sizes of the fixed-size types. */
START_TEST(test_sizes)
{
    struct craft_msg m = sample(CRAFT_MSG_HEARTBEAT);
    ck_assert_uint_eq(craft_msg_encoded_size(&m), 52);
    m = sample(CRAFT_MSG_VOTE_RESP);
    ck_assert_uint_eq(craft_msg_encoded_size(&m), 36);
    m = sample(CRAFT_MSG_APPEND);
    m.n_entries = 0;
    ck_assert_uint_eq(craft_msg_encoded_size(&m), 64);
    m.n_entries = 1;
    ck_assert_uint_eq(craft_msg_encoded_size(&m),
                      64 + 13 + sizeof(payload_a));
}
END_TEST

START_TEST(test_roundtrip_append_shapes)
{
    static struct craft_entry many[1000];
    static uint8_t big[100000];
    uint64_t s = 99;
    test_fill(&s, big, sizeof(big));
    for (size_t i = 0; i < 1000; i++) {
        many[i].term = i / 10 + 1;
        many[i].type = (uint32_t)(i % 3) + 1;
        many[i].len = (uint32_t)(i % 97);
        many[i].data = big + i;
        many[i].ref = &many[i]; /* ignored by the codec */
    }
    struct craft_alloc a;
    craft_alloc_default(&a);
    struct craft_entry_vec scratch = {NULL, 0};
    const size_t counts[] = {0, 1, 2, 9, 1000};
    for (size_t c = 0; c < sizeof(counts) / sizeof(counts[0]); c++) {
        struct craft_msg in = sample(CRAFT_MSG_APPEND), out;
        in.entries = counts[c] ? many : NULL;
        in.n_entries = counts[c];
        size_t len;
        uint8_t *buf = encode_new(&in, &len);
        ck_assert_int_eq(craft_msg_decode(buf, len, &out, &a, &scratch),
                         CRAFT_OK);
        assert_msg_eq(&in, &out);
        if (counts[c] == 0) {
            ck_assert_ptr_null(out.entries);
        }
        free(buf);
    }
    /* One large entry. */
    struct craft_entry one = {3, CRAFT_ENTRY_NORMAL, sizeof(big), big, NULL};
    struct craft_msg in = sample(CRAFT_MSG_APPEND), out;
    in.entries = &one, in.n_entries = 1;
    size_t len;
    uint8_t *buf = encode_new(&in, &len);
    ck_assert_int_eq(craft_msg_decode(buf, len, &out, &a, &scratch),
                     CRAFT_OK);
    assert_msg_eq(&in, &out);
    free(buf);
    craft_entry_vec_free(&a, &scratch);
}
END_TEST

START_TEST(test_roundtrip_snapshot_empty_parts)
{
    struct craft_alloc a;
    craft_alloc_default(&a);
    struct craft_entry_vec scratch = {NULL, 0};
    struct craft_msg in = sample(CRAFT_MSG_SNAPSHOT), out;
    in.conf = NULL, in.conf_len = 0, in.data = NULL, in.len = 0;
    in.flags = 0;
    size_t len;
    uint8_t *buf = encode_new(&in, &len);
    ck_assert_int_eq(craft_msg_decode(buf, len, &out, &a, &scratch),
                     CRAFT_OK);
    assert_msg_eq(&in, &out);
    free(buf);
    craft_entry_vec_free(&a, &scratch);
}
END_TEST

/* ---- golden bytes ------------------------------------------------------ */

START_TEST(test_golden_heartbeat)
{
    struct craft_msg m;
    memset(&m, 0, sizeof(m));
    m.type = CRAFT_MSG_HEARTBEAT;
    m.from = 1;
    m.to = 2;
    m.term = 3;
    m.commit = 0x0102030405060708ULL;
    m.ctx = 0xfedcba9876543210ULL;
    static const uint8_t golden[52] = {
        0x34, 0x00, 0x00, 0x00,                         /* length 52 */
        0x01,                                           /* version 1 */
        0x07,                                           /* HEARTBEAT */
        0x00,                                           /* flags */
        0x00,                                           /* reserved */
        0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, /* from 1 */
        0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, /* to 2 */
        0x03, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, /* term 3 */
        0x08, 0x07, 0x06, 0x05, 0x04, 0x03, 0x02, 0x01, /* commit */
        0x10, 0x32, 0x54, 0x76, 0x98, 0xba, 0xdc, 0xfe, /* ctx */
        0xae, 0x3b, 0xc3, 0x6f,                         /* crc32c */
    };
    uint8_t buf[64];
    memset(buf, 0xee, sizeof(buf));
    ck_assert_uint_eq(craft_msg_encoded_size(&m), sizeof(golden));
    ck_assert_uint_eq(craft_msg_encode(&m, buf), sizeof(golden));
    for (size_t i = 0; i < sizeof(golden); i++) {
        ck_assert_msg(buf[i] == golden[i], "byte %zu: %02x, want %02x", i,
                      buf[i], golden[i]);
    }
    ck_assert_uint_eq(buf[sizeof(golden)], 0xee); /* nothing past the end */
    ck_assert_int_eq(decode_once(golden, sizeof(golden)), CRAFT_OK);
}
END_TEST

/* ---- what the encoder refuses ------------------------------------------ */

START_TEST(test_encoder_refuses_invalid)
{
    uint8_t buf[256];
    struct craft_msg m = sample(CRAFT_MSG_HEARTBEAT);
    ck_assert_uint_eq(craft_msg_encoded_size(NULL), 0);
    ck_assert_uint_eq(craft_msg_encode(NULL, buf), 0);
    ck_assert_uint_eq(craft_msg_encode(&m, NULL), 0);
    ck_assert_int_eq(craft_msg_check(NULL), CRAFT_EINVAL);

    const uint32_t bad_types[] = {0, CRAFT_MSG_TYPE_MAX + 1, 255, 256};
    for (size_t i = 0; i < 4; i++) {
        m = sample(CRAFT_MSG_HEARTBEAT);
        m.type = bad_types[i];
        ck_assert_uint_eq(craft_msg_encoded_size(&m), 0);
        ck_assert_uint_eq(craft_msg_encode(&m, buf), 0);
        ck_assert_int_eq(craft_msg_check(&m), CRAFT_EMALFORMED);
    }
    m = sample(CRAFT_MSG_HEARTBEAT);
    m.flags = CRAFT_MSG_F_LAST; /* valid flag, not on this type */
    ck_assert_uint_eq(craft_msg_encoded_size(&m), 0);
    m.flags = 0x8;
    ck_assert_uint_eq(craft_msg_encoded_size(&m), 0);
    m = sample(CRAFT_MSG_HEARTBEAT);
    m.from = 0;
    ck_assert_uint_eq(craft_msg_encoded_size(&m), 0);
    m = sample(CRAFT_MSG_HEARTBEAT);
    m.to = 0;
    ck_assert_uint_eq(craft_msg_encoded_size(&m), 0);

    struct craft_entry e = {1, CRAFT_ENTRY_NORMAL, 4, payload_a, NULL};
    m = sample(CRAFT_MSG_APPEND);
    m.entries = &e, m.n_entries = 1;
    ck_assert_uint_gt(craft_msg_encoded_size(&m), 0);
    e.type = 0;
    ck_assert_uint_eq(craft_msg_encoded_size(&m), 0);
    e.type = 4;
    ck_assert_uint_eq(craft_msg_encoded_size(&m), 0);
    e.type = CRAFT_ENTRY_NORMAL;
    e.data = NULL;
    ck_assert_uint_eq(craft_msg_encoded_size(&m), 0);
    /* Sizes only: the payload is never read when the size is refused. */
    e.data = payload_a;
    e.len = CRAFT_MAX_ENTRY_BYTES + 1;
    ck_assert_uint_eq(craft_msg_encoded_size(&m), 0);
    m.entries = NULL;
    ck_assert_uint_eq(craft_msg_encoded_size(&m), 0);

    /* Five maximal entries exceed the message limit. */
    struct craft_entry big[5];
    for (int i = 0; i < 5; i++) {
        big[i] = (struct craft_entry){1, CRAFT_ENTRY_NORMAL,
                                      CRAFT_MAX_ENTRY_BYTES, payload_a, NULL};
    }
    m = sample(CRAFT_MSG_APPEND);
    m.entries = big, m.n_entries = 3;
    ck_assert_uint_gt(craft_msg_encoded_size(&m), 0);
    m.n_entries = 5;
    ck_assert_uint_eq(craft_msg_encoded_size(&m), 0);
    m.n_entries = (size_t)-1;
    ck_assert_uint_eq(craft_msg_encoded_size(&m), 0);

    m = sample(CRAFT_MSG_SNAPSHOT);
    m.conf_len = CRAFT_CONF_MAX_BYTES + 1;
    ck_assert_uint_eq(craft_msg_encoded_size(&m), 0);
    m = sample(CRAFT_MSG_SNAPSHOT);
    m.len = CRAFT_MAX_MESSAGE_BYTES;
    ck_assert_uint_eq(craft_msg_encoded_size(&m), 0);
    m.len = (size_t)-1;
    ck_assert_uint_eq(craft_msg_encoded_size(&m), 0);
    m = sample(CRAFT_MSG_SNAPSHOT);
    m.data = NULL;
    ck_assert_uint_eq(craft_msg_encoded_size(&m), 0);
    m = sample(CRAFT_MSG_SNAPSHOT);
    m.conf = NULL;
    ck_assert_uint_eq(craft_msg_encoded_size(&m), 0);
}
END_TEST

/* ---- malformed input --------------------------------------------------- */

START_TEST(test_null_args)
{
    size_t len;
    uint8_t *buf = valid(CRAFT_MSG_HEARTBEAT, &len);
    struct craft_alloc a;
    craft_alloc_default(&a);
    struct craft_entry_vec scratch = {NULL, 0};
    struct craft_msg m;
    ck_assert_int_eq(craft_msg_decode(NULL, len, &m, &a, &scratch),
                     CRAFT_EINVAL);
    ck_assert_int_eq(craft_msg_decode(buf, len, NULL, &a, &scratch),
                     CRAFT_EINVAL);
    ck_assert_int_eq(craft_msg_decode(buf, len, &m, NULL, &scratch),
                     CRAFT_EINVAL);
    ck_assert_int_eq(craft_msg_decode(buf, len, &m, &a, NULL), CRAFT_EINVAL);
    craft_entry_vec_free(NULL, &scratch);
    craft_entry_vec_free(&a, NULL);
    free(buf);
}
END_TEST

/* Every prefix of a valid message is refused, each from a buffer of
 * exactly that size so ASan sees any read past it. */
START_TEST(test_every_truncation)
{
    for (uint32_t type = 1; type <= CRAFT_MSG_TYPE_MAX; type++) {
        size_t len;
        uint8_t *buf = valid(type, &len);
        for (size_t k = 0; k < len; k++) {
            uint8_t *cut = malloc(k ? k : 1);
            memcpy(cut, buf, k);
            int rv = decode_once(cut, k);
            ck_assert_msg(rv == CRAFT_EMALFORMED, "type %u len %zu: %d",
                          type, k, rv);
            free(cut);
        }
        free(buf);
    }
}
END_TEST

/* CRC32C catches every single-bit error; a flip in the length word makes
 * the length wrong. Either way: an error, never OK. */
START_TEST(test_every_bit_flip)
{
    for (uint32_t type = 1; type <= CRAFT_MSG_TYPE_MAX; type++) {
        size_t len;
        uint8_t *buf = valid(type, &len);
        for (size_t bit = 0; bit < len * 8; bit++) {
            buf[bit / 8] ^= (uint8_t)(1u << (bit % 8));
            int rv = decode_once(buf, len);
            if (bit >= 32) {
                ck_assert_msg(rv == CRAFT_ECHECKSUM, "type %u bit %zu: %d",
                              type, bit, rv);
            } else {
                ck_assert_msg(rv == CRAFT_EMALFORMED || rv == CRAFT_ETOOBIG,
                              "type %u bit %zu: %d", type, bit, rv);
            }
            buf[bit / 8] ^= (uint8_t)(1u << (bit % 8));
        }
        ck_assert_int_eq(decode_once(buf, len), CRAFT_OK);
        free(buf);
    }
}
END_TEST

START_TEST(test_bad_crc)
{
    size_t len;
    uint8_t *buf = valid(CRAFT_MSG_APPEND, &len);
    buf[len - 1] ^= 0xff;
    ck_assert_int_eq(decode_once(buf, len), CRAFT_ECHECKSUM);
    buf[len - 1] ^= 0xff;
    buf[OFF_ENTRY0 + 20] ^= 0x40; /* a payload byte */
    ck_assert_int_eq(decode_once(buf, len), CRAFT_ECHECKSUM);
    free(buf);
}
END_TEST

START_TEST(test_wrong_version)
{
    size_t len;
    uint8_t *buf = valid(CRAFT_MSG_HEARTBEAT, &len);
    const uint8_t versions[] = {0, 2, 0xff};
    for (size_t i = 0; i < sizeof(versions); i++) {
        buf[OFF_VERSION] = versions[i];
        test_reseal(buf, len);
        ck_assert_int_eq(decode_once(buf, len), CRAFT_EVERSION);
    }
    /* A newer version's message may be shorter than a v1 header: the
     * frame alone decides it is a version problem. */
    uint8_t tiny[9] = {9, 0, 0, 0, 2};
    test_reseal(tiny, sizeof(tiny));
    ck_assert_int_eq(decode_once(tiny, sizeof(tiny)), CRAFT_EVERSION);
    tiny[4] = 1;
    test_reseal(tiny, sizeof(tiny));
    ck_assert_int_eq(decode_once(tiny, sizeof(tiny)), CRAFT_EMALFORMED);
    free(buf);
}
END_TEST

START_TEST(test_unknown_type)
{
    size_t len;
    uint8_t *buf = valid(CRAFT_MSG_HEARTBEAT, &len);
    const uint8_t types[] = {0, CRAFT_MSG_TYPE_MAX + 1, 0x80, 0xff};
    for (size_t i = 0; i < sizeof(types); i++) {
        buf[OFF_TYPE] = types[i];
        test_reseal(buf, len);
        ck_assert_int_eq(decode_once(buf, len), CRAFT_EMALFORMED);
    }
    free(buf);
}
END_TEST

/* Unknown flags, flags the type does not allow, the reserved byte. */
START_TEST(test_bad_flags)
{
    size_t len;
    uint8_t *buf = valid(CRAFT_MSG_HEARTBEAT, &len);
    const uint8_t flags[] = {0x8, 0x80, CRAFT_MSG_F_REJECT, CRAFT_MSG_F_LAST,
                             CRAFT_MSG_F_TRANSFER};
    for (size_t i = 0; i < sizeof(flags); i++) {
        buf[OFF_FLAGS] = flags[i];
        test_reseal(buf, len);
        ck_assert_int_eq(decode_once(buf, len), CRAFT_EMALFORMED);
    }
    buf[OFF_FLAGS] = 0;
    buf[OFF_RESERVED] = 1;
    test_reseal(buf, len);
    ck_assert_int_eq(decode_once(buf, len), CRAFT_EMALFORMED);
    free(buf);

    /* Each type accepts exactly its own flags. */
    for (uint32_t type = 1; type <= CRAFT_MSG_TYPE_MAX; type++) {
        buf = valid(type, &len);
        for (unsigned f = 0; f < 256; f++) {
            buf[OFF_FLAGS] = (uint8_t)f;
            test_reseal(buf, len);
            struct craft_msg m = sample(type);
            m.flags = f;
            int ok = craft_msg_encoded_size(&m) != 0;
            ck_assert_int_eq(decode_once(buf, len),
                             ok ? CRAFT_OK : CRAFT_EMALFORMED);
            ck_assert(!ok || (f & ~CRAFT_MSG_F_ALL) == 0);
        }
        free(buf);
    }
}
END_TEST

START_TEST(test_zero_from_to)
{
    size_t len;
    uint8_t *buf = valid(CRAFT_MSG_VOTE, &len);
    memset(buf + OFF_FROM, 0, 8);
    test_reseal(buf, len);
    ck_assert_int_eq(decode_once(buf, len), CRAFT_EMALFORMED);
    free(buf);
    buf = valid(CRAFT_MSG_VOTE, &len);
    memset(buf + OFF_TO, 0, 8);
    test_reseal(buf, len);
    ck_assert_int_eq(decode_once(buf, len), CRAFT_EMALFORMED);
    free(buf);
}
END_TEST

/* A count that the bytes cannot hold is refused before any allocation. */
START_TEST(test_lying_entry_count)
{
    struct test_alloc_state st = {0, 0, -1};
    struct craft_alloc a = test_alloc(&st);
    struct craft_entry_vec scratch = {NULL, 0};
    struct craft_msg m;
    size_t len;
    uint8_t *buf = valid(CRAFT_MSG_APPEND, &len);
    const uint32_t counts[] = {0xffffffffu, 0x10000000u, 1000,
                               (uint32_t)N_SAMPLE_ENTRIES * 20};
    for (size_t i = 0; i < sizeof(counts) / sizeof(counts[0]); i++) {
        test_put_u32(buf + OFF_APPEND_COUNT, counts[i]);
        test_reseal(buf, len);
        ck_assert_int_eq(craft_msg_decode(buf, len, &m, &a, &scratch),
                         CRAFT_EMALFORMED);
        ck_assert_int_eq(st.allocs, 0);
    }
    /* Within the bound but more than there are: found while parsing. */
    test_put_u32(buf + OFF_APPEND_COUNT, N_SAMPLE_ENTRIES + 1);
    test_reseal(buf, len);
    ck_assert_int_eq(craft_msg_decode(buf, len, &m, &a, &scratch),
                     CRAFT_EMALFORMED);
    /* Fewer than there are: bytes left over. */
    test_put_u32(buf + OFF_APPEND_COUNT, N_SAMPLE_ENTRIES - 1);
    test_reseal(buf, len);
    ck_assert_int_eq(craft_msg_decode(buf, len, &m, &a, &scratch),
                     CRAFT_EMALFORMED);
    craft_entry_vec_free(&a, &scratch);
    ck_assert_int_eq(st.allocs, st.frees);
    free(buf);
}
END_TEST

START_TEST(test_bad_entry)
{
    size_t len;
    uint8_t *buf = valid(CRAFT_MSG_APPEND, &len);
    uint8_t *orig = malloc(len);
    memcpy(orig, buf, len);

    const uint8_t types[] = {0, 4, 0xff};
    for (size_t i = 0; i < sizeof(types); i++) {
        buf[OFF_ENTRY0_TYPE] = types[i];
        test_reseal(buf, len);
        ck_assert_int_eq(decode_once(buf, len), CRAFT_EMALFORMED);
    }
    memcpy(buf, orig, len);
    /* Over the limit: too big, whatever the bytes left. */
    const uint32_t big[] = {CRAFT_MAX_ENTRY_BYTES + 1, 0xffffffffu};
    for (size_t i = 0; i < 2; i++) {
        test_put_u32(buf + OFF_ENTRY0_LEN, big[i]);
        test_reseal(buf, len);
        ck_assert_int_eq(decode_once(buf, len), CRAFT_ETOOBIG);
    }
    /* Within the limit but past the end of the message. */
    test_put_u32(buf + OFF_ENTRY0_LEN, (uint32_t)len);
    test_reseal(buf, len);
    ck_assert_int_eq(decode_once(buf, len), CRAFT_EMALFORMED);
    test_put_u32(buf + OFF_ENTRY0_LEN, CRAFT_MAX_ENTRY_BYTES);
    test_reseal(buf, len);
    ck_assert_int_eq(decode_once(buf, len), CRAFT_EMALFORMED);
    free(orig);
    free(buf);
}
END_TEST

START_TEST(test_bad_snapshot_lengths)
{
    size_t len;
    uint8_t *buf = valid(CRAFT_MSG_SNAPSHOT, &len);
    test_put_u32(buf + OFF_SNAP_CONF_LEN, CRAFT_CONF_MAX_BYTES + 1);
    test_reseal(buf, len);
    ck_assert_int_eq(decode_once(buf, len), CRAFT_ETOOBIG);
    test_put_u32(buf + OFF_SNAP_CONF_LEN, CRAFT_CONF_MAX_BYTES);
    test_reseal(buf, len);
    ck_assert_int_eq(decode_once(buf, len), CRAFT_EMALFORMED);
    /* data_len past the end */
    free(buf);
    buf = valid(CRAFT_MSG_SNAPSHOT, &len);
    size_t off_data_len = OFF_SNAP_CONF_LEN + 4 + sizeof(conf_bytes);
    test_put_u32(buf + off_data_len, (uint32_t)sizeof(snap_data) + 1);
    test_reseal(buf, len);
    ck_assert_int_eq(decode_once(buf, len), CRAFT_EMALFORMED);
    test_put_u32(buf + off_data_len, 0xffffffffu);
    test_reseal(buf, len);
    ck_assert_int_eq(decode_once(buf, len), CRAFT_ETOOBIG);
    free(buf);
}
END_TEST

START_TEST(test_trailing_bytes)
{
    size_t len;
    uint8_t *buf = valid(CRAFT_MSG_HEARTBEAT, &len);
    /* After the frame: the buffer is longer than the length word says. */
    uint8_t *longer = malloc(len + 1);
    memcpy(longer, buf, len);
    longer[len] = 0;
    ck_assert_int_eq(decode_once(longer, len + 1), CRAFT_EMALFORMED);
    /* Inside the frame: a byte the type cannot account for, with the
     * length word and the CRC made to agree. */
    memcpy(longer, buf, len - 4);
    longer[len - 4] = 0;
    test_put_u32(longer, (uint32_t)len + 1);
    test_reseal(longer, len + 1);
    ck_assert_int_eq(decode_once(longer, len + 1), CRAFT_EMALFORMED);
    free(longer);
    free(buf);
}
END_TEST

START_TEST(test_too_big)
{
    size_t len;
    uint8_t *buf = valid(CRAFT_MSG_HEARTBEAT, &len);
    test_put_u32(buf + OFF_LEN, CRAFT_MAX_MESSAGE_BYTES + 1);
    ck_assert_int_eq(decode_once(buf, len), CRAFT_ETOOBIG);
    test_put_u32(buf + OFF_LEN, 0xffffffffu);
    ck_assert_int_eq(decode_once(buf, len), CRAFT_ETOOBIG);
    /* A buffer over the limit is refused before a byte of it is read. */
    ck_assert_int_eq(decode_once(buf, (size_t)CRAFT_MAX_MESSAGE_BYTES + 1),
                     CRAFT_ETOOBIG);
    free(buf);
}
END_TEST

START_TEST(test_frame_size)
{
    size_t len, size = 0;
    uint8_t *buf = valid(CRAFT_MSG_APPEND, &len);
    ck_assert_int_eq(craft_msg_frame_size(buf, CRAFT_MSG_PREFIX_BYTES, &size),
                     CRAFT_OK);
    ck_assert_uint_eq(size, len);
    ck_assert_int_eq(craft_msg_frame_size(buf, 3, &size), CRAFT_EINVAL);
    ck_assert_int_eq(craft_msg_frame_size(NULL, 4, &size), CRAFT_EINVAL);
    ck_assert_int_eq(craft_msg_frame_size(buf, 4, NULL), CRAFT_EINVAL);
    test_put_u32(buf, CRAFT_MAX_MESSAGE_BYTES + 1);
    ck_assert_int_eq(craft_msg_frame_size(buf, 4, &size), CRAFT_ETOOBIG);
    test_put_u32(buf, 8);
    ck_assert_int_eq(craft_msg_frame_size(buf, 4, &size), CRAFT_EMALFORMED);
    free(buf);
}
END_TEST

/* ---- allocation -------------------------------------------------------- */

/* Scratch grows once; decoding again allocates nothing. */
START_TEST(test_scratch_steady_state)
{
    struct test_alloc_state st = {0, 0, -1};
    struct craft_alloc a = test_alloc(&st);
    struct craft_entry_vec scratch = {NULL, 0};
    struct craft_msg m;
    size_t len;
    uint8_t *buf = valid(CRAFT_MSG_APPEND, &len);
    ck_assert_int_eq(craft_msg_decode(buf, len, &m, &a, &scratch), CRAFT_OK);
    ck_assert_int_eq(st.allocs, 1);
    for (int i = 0; i < 100; i++) {
        ck_assert_int_eq(craft_msg_decode(buf, len, &m, &a, &scratch),
                         CRAFT_OK);
    }
    ck_assert_int_eq(st.allocs, 1);
    ck_assert_ptr_eq(m.entries, scratch.v);
    craft_entry_vec_free(&a, &scratch);
    ck_assert_int_eq(st.frees, 1);
    free(buf);
}
END_TEST

START_TEST(test_enomem)
{
    struct test_alloc_state st = {0, 0, 0};
    struct craft_alloc a = test_alloc(&st);
    struct craft_entry_vec scratch = {NULL, 0};
    struct craft_msg m;
    size_t len;
    uint8_t *buf = valid(CRAFT_MSG_APPEND, &len);
    ck_assert_int_eq(craft_msg_decode(buf, len, &m, &a, &scratch),
                     CRAFT_ENOMEM);
    ck_assert_ptr_null(scratch.v);
    ck_assert_uint_eq(scratch.cap, 0);
    /* Messages without entries need no memory at all. */
    free(buf);
    buf = valid(CRAFT_MSG_SNAPSHOT, &len);
    ck_assert_int_eq(craft_msg_decode(buf, len, &m, &a, &scratch), CRAFT_OK);
    free(buf);
}
END_TEST

/* ---- random mutation --------------------------------------------------- */

static struct craft_msg random_msg(uint64_t *s, struct craft_entry *ents,
                                   size_t max_ents, const uint8_t *pool,
                                   size_t pool_len)
{
    uint32_t type = (uint32_t)test_rand_below(s, CRAFT_MSG_TYPE_MAX) + 1;
    struct craft_msg m = sample(type);
    if (type == CRAFT_MSG_APPEND) {
        m.n_entries = test_rand_below(s, max_ents + 1);
        for (size_t i = 0; i < m.n_entries; i++) {
            ents[i].term = test_rand_below(s, 5);
            ents[i].type = (uint32_t)test_rand_below(s, 3) + 1;
            ents[i].len = (uint32_t)test_rand_below(s, 40);
            ents[i].data = pool + test_rand_below(s, pool_len - 40);
        }
        m.entries = ents;
    }
    return m;
}

static void mutate(uint64_t *s, uint8_t *buf, size_t *len, size_t cap)
{
    int n = (int)test_rand_below(s, 3) + 1;
    for (int i = 0; i < n; i++) {
        switch (test_rand_below(s, 6)) {
        case 0: /* flip a bit */
            if (*len > 0) {
                size_t b = test_rand_below(s, *len * 8);
                buf[b / 8] ^= (uint8_t)(1u << (b % 8));
            }
            break;
        case 1: /* set a byte */
            if (*len > 0) {
                buf[test_rand_below(s, *len)] = (uint8_t)test_rand(s);
            }
            break;
        case 2: /* truncate */
            *len = test_rand_below(s, *len + 1);
            break;
        case 3: /* extend */
        {
            size_t add = test_rand_below(s, 16);
            if (*len + add <= cap) {
                test_fill(s, buf + *len, add);
                *len += add;
            }
            break;
        }
        default: /* plant a nasty u32 somewhere */
            if (*len >= 4) {
                static const uint32_t nasty[] = {
                    0, 1, 12, 13, 0x7fffffffu, 0xffffffffu,
                    CRAFT_MAX_ENTRY_BYTES, CRAFT_MAX_ENTRY_BYTES + 1,
                    CRAFT_CONF_MAX_BYTES + 1};
                test_put_u32(buf + test_rand_below(s, *len - 3),
                             nasty[test_rand_below(s, 9)]);
            }
            break;
        }
    }
}

static int known_code(int rv)
{
    return rv == CRAFT_OK || rv == CRAFT_EMALFORMED ||
           rv == CRAFT_ECHECKSUM || rv == CRAFT_EVERSION ||
           rv == CRAFT_ETOOBIG;
}

/* ~100k mutated messages: no crash, a known code, and whatever decodes
 * re-encodes to the same bytes (the encoding is canonical). Most
 * mutations get their length word and CRC fixed so they reach the body
 * checks instead of all stopping at the CRC. */
START_TEST(test_random_mutations)
{
    uint64_t s = 0xC0FFEE;
    static uint8_t pool[4096];
    static struct craft_entry ents[8];
    test_fill(&s, pool, sizeof(pool));
    struct craft_alloc a;
    craft_alloc_default(&a);
    struct craft_entry_vec scratch = {NULL, 0};
    long ok = 0, reached_body = 0;
    for (int iter = 0; iter < 100000; iter++) {
        struct craft_msg in = random_msg(&s, ents, 8, pool, sizeof(pool));
        size_t len = craft_msg_encoded_size(&in);
        size_t cap = len + 16;
        uint8_t *buf = malloc(cap);
        ck_assert_uint_eq(craft_msg_encode(&in, buf), len);
        mutate(&s, buf, &len, cap);
        if (len >= 9 && test_rand_below(&s, 4) != 0) {
            test_put_u32(buf, (uint32_t)len);
            test_reseal(buf, len);
        }
        /* Decode from a buffer of exactly len bytes, so ASan catches any
         * read past the end. */
        uint8_t *exact = malloc(len ? len : 1);
        memcpy(exact, buf, len);
        struct craft_msg out;
        int rv = craft_msg_decode(exact, len, &out, &a, &scratch);
        ck_assert_msg(known_code(rv), "iteration %d: %d", iter, rv);
        reached_body += rv != CRAFT_ECHECKSUM;
        if (rv == CRAFT_OK) {
            ok++;
            ck_assert_uint_eq(craft_msg_encoded_size(&out), len);
            ck_assert_uint_eq(craft_msg_encode(&out, buf), len);
            ck_assert(memcmp(buf, exact, len) == 0);
        }
        free(exact);
        free(buf);
    }
    craft_entry_vec_free(&a, &scratch);
    /* The loop must exercise both sides, or it proves little. */
    ck_assert_int_gt(ok, 1000);
    ck_assert_int_gt(reached_body, 50000);
}
END_TEST

static Suite *codec_message_suite(void)
{
    Suite *s = suite_create("codec_message");
    TCase *tc = tcase_create("roundtrip");
    tcase_add_test(tc, test_roundtrip_every_type);
    tcase_add_test(tc, test_unused_fields_not_sent);
    tcase_add_test(tc, test_sizes);
    tcase_add_test(tc, test_roundtrip_append_shapes);
    tcase_add_test(tc, test_roundtrip_snapshot_empty_parts);
    tcase_add_test(tc, test_golden_heartbeat);
    tcase_add_test(tc, test_encoder_refuses_invalid);
    suite_add_tcase(s, tc);

    tc = tcase_create("malformed");
    tcase_add_test(tc, test_null_args);
    tcase_add_test(tc, test_every_truncation);
    tcase_add_test(tc, test_every_bit_flip);
    tcase_add_test(tc, test_bad_crc);
    tcase_add_test(tc, test_wrong_version);
    tcase_add_test(tc, test_unknown_type);
    tcase_add_test(tc, test_bad_flags);
    tcase_add_test(tc, test_zero_from_to);
    tcase_add_test(tc, test_lying_entry_count);
    tcase_add_test(tc, test_bad_entry);
    tcase_add_test(tc, test_bad_snapshot_lengths);
    tcase_add_test(tc, test_trailing_bytes);
    tcase_add_test(tc, test_too_big);
    tcase_add_test(tc, test_frame_size);
    suite_add_tcase(s, tc);

    tc = tcase_create("alloc");
    tcase_add_test(tc, test_scratch_steady_state);
    tcase_add_test(tc, test_enomem);
    suite_add_tcase(s, tc);

    tc = tcase_create("fuzz");
    /* Generous: the loop runs under valgrind and sanitizers too. */
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, test_random_mutations);
    suite_add_tcase(s, tc);
    return s;
}

CRAFT_TEST_MAIN(codec_message_suite)
